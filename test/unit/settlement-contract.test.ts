// The settlement contract (version 2, docs/certified-settlement.md) against a real anvil over JSON-RPC:
// EIP-712 and market ids equal to protocol/, every custom error triggered the way an outsider would (raw
// ABI calls, batches written byte by byte from the documented layout), the certification's first wrong
// value for mutated certificates, the three attacks that succeeded on version 1, challenge semantics,
// finalization and bonds. Each test makes its own market; time only moves forward.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import { applyCoverage, type Collateral } from "../../clearing/coverage.ts";
import {
  MAX_BATCH_ORDERS,
  MAX_KEPT_PER_SIDE,
  MAX_ORDERS_PER_TRADER_SIDE,
  MAX_UNION_ORDERS,
} from "../../clearing/limits.ts";
import { ORDER_TYPE_STRING, SECP256K1_N } from "../../protocol/constants.ts";
import {
  domainSeparator,
  makeDomain,
  ORDER_TYPEHASH,
  orderId,
  orderIdEthers,
} from "../../protocol/eip712.ts";
import { Interface, keccak256, toUtf8Bytes } from "../../protocol/ethers.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { marketId } from "../../protocol/market.ts";
import type { Order } from "../../protocol/order.ts";
import { latestTimestamp, mineBlock, startAnvil } from "../../settlement/anvil.ts";
import { smartMarketInterface, testTokenInterface } from "../../settlement/artifacts.ts";
import {
  type BatchHeader,
  NO_CUT,
  type SelectedBatch,
  selectBatch,
  selectChallenge,
} from "../../settlement/batch.ts";
import { CertificationError, certifyBatchBytes } from "../../settlement/certify.ts";
import { SettlementClient } from "../../settlement/client.ts";
import { decodeRevertData } from "../../settlement/errors.ts";
import {
  Asset,
  bondsOf,
  callFrom,
  certify,
  challenge,
  clientFor,
  commit,
  commitmentOf,
  createMarketRaw,
  type Env,
  encodeBatch,
  encodeUnion,
  escrowOf,
  finalize,
  fund,
  type IdentifiedOrder,
  lookupOf,
  type MarketV2,
  makeOrder,
  makeTraders,
  marketIdOf,
  moveToEpoch,
  newMarket,
  outsider,
  propose,
  readCollateral,
  recordOf,
  recordOnChain,
  revertOf,
  type SettlementRevertError,
  type Submission,
  selectTrading,
  signWith,
  sortById,
  startEnv,
  type Trader,
  txFrom,
} from "./settlement-fixture.ts";

let env: Env;
const seen = new Set<string>();
const iface = smartMarketInterface;
const ZERO: Hex = `0x${"00".repeat(20)}`;
const MAX_UINT256 = (1n << 256n) - 1n;

beforeAll(async () => {
  env = await startEnv();
});

afterAll(async () => {
  await env?.close();
});

/** Asserts that `p` reverts with custom error `name` (and exactly these arguments, when given). */
async function expectRevert(
  p: Promise<unknown>,
  name: string,
  args?: Record<string, unknown>,
): Promise<SettlementRevertError> {
  const err = await revertOf(p);
  seen.add(err.errorName);
  expect(err.errorName).toBe(name);
  if (args) expect(err.args).toEqual(args);
  return err;
}

const proposeData = (m: Hex, epoch: bigint, batch: Hex) =>
  iface.encodeFunctionData("propose", [m, epoch, batch]);
const challengeData = (m: Hex, epoch: bigint, standing: Hex, union: Hex) =>
  iface.encodeFunctionData("challenge", [m, epoch, standing, union]);

/** eth_call of propose from `from` with the market's bond (or `value`), after committing to it (mined). */
async function proposeCall(
  from: Hex,
  m: MarketV2,
  epoch: bigint,
  batch: Hex,
  value = m.bond,
): Promise<string> {
  await commit(env, from, m.id, epoch, batch);
  return callFrom(env, from, env.settlement, proposeData(m.id, epoch, batch), value);
}

async function challengeCall(
  from: Hex,
  m: MarketV2,
  epoch: bigint,
  standingSubmitter: Hex,
  union: Hex,
  value = m.bond,
): Promise<string> {
  await commit(env, from, m.id, epoch, union);
  return callFrom(env, from, env.settlement, challengeData(m.id, epoch, standingSubmitter, union), value);
}

function withPrice(h: BatchHeader, price: bigint): BatchHeader {
  return { ...h, price };
}

/** The header with one side's fields changed. */
function tweak(h: BatchHeader, side: "buy" | "sell", fields: Partial<BatchHeader["buy"]>): BatchHeader {
  return { ...h, [side]: { ...h[side], ...fields } };
}

/** Fund `traders` with both assets in `m`. */
async function fundAll(m: Hex, traders: readonly Trader[], base = 1_000_000n, quote = 1_000_000_000n) {
  await fund(
    env,
    m,
    traders.flatMap((t) => [
      { trader: t, asset: Asset.BASE, amount: base },
      { trader: t, asset: Asset.QUOTE, amount: quote },
    ]),
  );
}

const dev = (i: number): Hex => env.anvil.accounts[i]!.address;

// ================================================================ identities

describe("EIP-712 and market ids match protocol/", () => {
  it("has the same order type hash, domain separator and order digests", async () => {
    const call = async (fn: string, args: unknown[] = []) =>
      iface.decodeFunctionResult(
        fn,
        await callFrom(env, dev(0), env.settlement, iface.encodeFunctionData(fn, args)),
      );
    expect((await call("ORDER_TYPEHASH"))[0]).toBe(bytesToHex(ORDER_TYPEHASH));
    expect((await call("ORDER_TYPEHASH"))[0]).toBe(keccak256(toUtf8Bytes(ORDER_TYPE_STRING)));
    const domain = makeDomain(env.chainId, env.settlement);
    expect((await call("domainSeparator"))[0]).toBe(bytesToHex(domainSeparator(domain)));
    const eip5267 = await call("eip712Domain");
    expect([eip5267[1], eip5267[2], eip5267[3], (eip5267[4] as string).toLowerCase()]).toEqual([
      "smartmarket",
      "1",
      env.chainId,
      env.settlement,
    ]);
    const traders = makeTraders(3, "digest");
    for (let i = 0; i < 12; i++) {
      const order: Order = {
        market: keccak256(toUtf8Bytes(`m${i}`)).toLowerCase() as Hex,
        epoch: BigInt(i) * 0x1234567n + (i === 11 ? (1n << 64n) - 1n - 11n * 0x1234567n : 0n),
        side: i % 2 === 0 ? "buy" : "sell",
        quantity: i === 10 ? (1n << 128n) - 1n : BigInt(i + 1) * 1000n,
        limitPrice: i === 9 ? (1n << 128n) - 1n : BigInt(7 * i + 1),
        nonce: i === 8 ? (1n << 64n) - 1n : BigInt(i),
        trader: traders[i % 3]!.address,
      };
      const onChain = (
        await call("orderDigest", [
          order.market,
          order.epoch,
          order.side === "buy" ? 0 : 1,
          order.quantity,
          order.limitPrice,
          order.nonce,
          order.trader,
        ])
      )[0] as string;
      expect(onChain).toBe(orderId(order, domainSeparator(domain)));
      expect(onChain).toBe(orderIdEthers(order, domain));
    }
  });

  it("computes protocol/'s market id (seven parameters) and stores them, also a bond of 2^80 wei or more", async () => {
    // Genesis 1234, 60-second epochs, a 1-second challenge window: at second 10 of an epoch the previous
    // epoch's proposal window is open, and a proposal with the wrong value reverts WrongBond.
    const now = await latestTimestamp(env.provider);
    const at = now + 60n - ((now - 1234n) % 60n) + 10n;
    await mineBlock(env.provider, at);
    const epoch = (at - 1234n) / 60n - 1n;
    const minQuantities = [1n, 7n, 10n ** 18n, (1n << 128n) - 1n, 2n];
    for (const [k, bondWei] of [0n, 10n ** 16n, (1n << 80n) - 1n, 1n << 80n, (1n << 96n) - 1n].entries()) {
      const minQuantity = minQuantities[k]!;
      const params = {
        base: env.base,
        quote: env.quote,
        genesisTimeS: 1234n,
        epochLengthS: 60n,
        feeBps: 25n,
        bondWei,
        challengeWindowS: 1n,
        minQuantity,
      };
      const created = await env.admin.createMarket(params);
      expect(created.id).toBe(marketId(params));
      expect(created.id).toBe(marketIdOf(env.base, env.quote, params));
      const [viewId] = iface.decodeFunctionResult(
        "marketId",
        await callFrom(
          env,
          dev(0),
          env.settlement,
          iface.encodeFunctionData("marketId", [
            env.base,
            env.quote,
            1234n,
            60n,
            25n,
            bondWei,
            1n,
            minQuantity,
          ]),
        ),
      );
      expect(viewId).toBe(created.id);
      const fresh = clientFor(env, env.anvil.accounts[1]!.privateKey);
      expect(await fresh.getMarket(created.id)).toEqual(params);
      // The bond is what propose() asks for.
      const sent = bondWei === 0n ? 1n : 0n;
      await expectRevert(
        callFrom(env, dev(2), env.settlement, proposeData(created.id, epoch, "0x"), sent, "latest"),
        "WrongBond",
        { sent, required: bondWei },
      );
    }
  });
});

// ================================================================ markets and escrow

describe("createMarket rejects bad parameters", () => {
  const good = () => ({
    genesisTimeS: 1n,
    epochLengthS: 10n,
    feeBps: 0n,
    bondWei: 5n,
    challengeWindowS: 3n,
    minQuantity: 1n,
  });

  it("zero token, identical tokens, zero epoch length, fee too high, bad challenge window, existing market", async () => {
    await expectRevert(createMarketRaw(env, ZERO, env.quote, good()), "ZeroTokenAddress", {
      base: ZERO,
      quote: env.quote,
    });
    await expectRevert(createMarketRaw(env, env.base, ZERO, good()), "ZeroTokenAddress", {
      base: env.base,
      quote: ZERO,
    });
    await expectRevert(createMarketRaw(env, env.base, env.base, good()), "IdenticalTokens", {
      token: env.base,
    });
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), epochLengthS: 0n }),
      "ZeroEpochLength",
      {
        genesisTime: 1n,
      },
    );
    // Markets that would trap deposits (settlement-bounds.test.ts tests the bounds themselves).
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), epochLengthS: 2n ** 64n - 1n }),
      "EpochLengthTooLong",
      { epochLength: 2n ** 64n - 1n, maxEpochLength: 86_400n },
    );
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), genesisTimeS: 2n ** 64n - 1n }),
      "GenesisTooFar",
    );
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), feeBps: 1001n }),
      "FeeTooHigh",
      {
        feeBps: 1001n,
        maxFeeBps: 1000n,
      },
    );
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), challengeWindowS: 0n }),
      "BadChallengeWindow",
      { challengeWindow: 0n, epochLength: 10n },
    );
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), challengeWindowS: 10n }),
      "BadChallengeWindow",
      { challengeWindow: 10n, epochLength: 10n },
    );
    // Every market has a minimum order quantity of at least 1 (issue 10: dust).
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), minQuantity: 0n }),
      "ZeroMinQuantity",
      {},
    );
    await createMarketRaw(env, env.base, env.quote, { ...good(), feeBps: 1000n, challengeWindowS: 9n });
    await expectRevert(
      createMarketRaw(env, env.base, env.quote, { ...good(), feeBps: 1000n, challengeWindowS: 9n }),
      "MarketExists",
      { market: marketIdOf(env.base, env.quote, { ...good(), feeBps: 1000n, challengeWindowS: 9n }) },
    );
  });

  it("UnknownMarket for every market-scoped function", async () => {
    const unknown = keccak256(toUtf8Bytes("no such market")).toLowerCase() as Hex;
    const calls: [string, unknown[]][] = [
      ["getMarket", [unknown]],
      ["currentEpoch", [unknown]],
      ["deposit", [unknown, Asset.BASE, 1n]],
      ["requestWithdrawal", [unknown, Asset.BASE, 1n]],
      ["withdraw", [unknown, Asset.BASE]],
      ["collateralOf", [unknown, dev(0), Asset.BASE, 0n]],
      ["propose", [unknown, 0n, "0x"]],
      ["challenge", [unknown, 0n, dev(1), "0x"]],
      ["finalize", [unknown, []]],
      ["certify", [unknown, 0n, "0x"]],
    ];
    for (const [fn, args] of calls) {
      await expectRevert(
        callFrom(env, dev(0), env.settlement, iface.encodeFunctionData(fn, args)),
        "UnknownMarket",
        {
          market: unknown,
        },
      );
    }
  });
});

describe("escrow errors", () => {
  it("InvalidAsset, ZeroAmount, TokenTransferFailed, InsufficientBalance, NothingToWithdraw", async () => {
    const m = await newMarket(env);
    const me = dev(0);
    const deposit = (asset: number, amount: bigint) =>
      callFrom(env, me, env.settlement, iface.encodeFunctionData("deposit", [m.id, asset, amount]));
    await expectRevert(deposit(2, 1n), "InvalidAsset", { asset: 2n });
    await expectRevert(deposit(Asset.BASE, 0n), "ZeroAmount", { market: m.id, asset: 0n });
    await expectRevert(env.admin.requestWithdrawal(m.id, Asset.QUOTE, 0n), "ZeroAmount", {
      market: m.id,
      asset: 1n,
    });
    // No allowance: TestToken's transferFrom reverts, the escrow reports whose transfer failed.
    await expectRevert(deposit(Asset.BASE, 5n), "TokenTransferFailed", {
      token: env.base,
      from: me,
      to: env.settlement,
      amount: 5n,
    });
    await expectRevert(env.admin.requestWithdrawal(m.id, Asset.QUOTE, 1n), "InsufficientBalance", {
      trader: me,
      asset: 1n,
      requested: 1n,
      available: 0n,
    });
    await expectRevert(env.admin.withdraw(m.id, Asset.QUOTE), "NothingToWithdraw", {
      market: m.id,
      trader: me,
      asset: 1n,
    });
  });

  it("TokenTransferFailed for a token address without code (a call to it would 'succeed')", async () => {
    const codeless = `0x${"ab".repeat(20)}` as Hex;
    const spec = {
      genesisTimeS: 1n,
      epochLengthS: 10n,
      feeBps: 0n,
      bondWei: 0n,
      challengeWindowS: 5n,
      minQuantity: 1n,
    };
    const id = await createMarketRaw(env, codeless, env.quote, spec);
    const data = iface.encodeFunctionData("deposit", [id, Asset.BASE, 1n]);
    await expectRevert(callFrom(env, dev(0), env.settlement, data), "TokenTransferFailed", {
      token: codeless,
      from: dev(0),
      to: env.settlement,
      amount: 1n,
    });
  });

  it("WithdrawalNotReady, CollateralNoLongerKnown, EpochNotClosed (collateralOf)", async () => {
    const m = await newMarket(env);
    const [t] = makeTraders(1, "delay");
    await fund(env, m.id, [{ trader: t!, asset: Asset.BASE, amount: 50n }]);
    const c = clientFor(env, t!.privateKey);
    await expectRevert(c.collateralOf(m.id, t!.address, Asset.BASE, 0n), "EpochNotClosed", {
      epoch: 0n,
      currentEpoch: 0n,
    });
    await moveToEpoch(env, m, 1n);
    await c.requestWithdrawal(m.id, Asset.BASE, 20n);
    await expectRevert(c.withdraw(m.id, Asset.BASE), "WithdrawalNotReady", {
      currentEpoch: 1n,
      readyEpoch: 3n,
    });
    await moveToEpoch(env, m, 3n);
    await c.requestWithdrawal(m.id, Asset.BASE, 5n); // a change in epoch 3
    expect(await c.collateralOf(m.id, t!.address, Asset.BASE, 2n)).toBe(30n);
    await expectRevert(c.collateralOf(m.id, t!.address, Asset.BASE, 1n), "CollateralNoLongerKnown", {
      epoch: 1n,
      snapshotEpoch: 3n,
    });
  });

  it("AmountOverflow: balances are 112-bit (a deposit, and a seller's proceeds)", async () => {
    const m = await newMarket(env);
    const [t, buyer] = makeTraders(2, "overflow");
    const max = (1n << 112n) - 1n;
    await fund(env, m.id, [
      { trader: t!, asset: Asset.QUOTE, amount: max },
      { trader: t!, asset: Asset.BASE, amount: 20n }, // twice the sell: an order may need half the collateral
      { trader: buyer!, asset: Asset.QUOTE, amount: 1000n },
    ]);
    const c = clientFor(env, t!.privateKey);
    await c.mintTestToken(env.quote, t!.address, 1n);
    await expectRevert(c.deposit(m.id, Asset.QUOTE, 1n), "AmountOverflow", { amount: 1n });
    // The seller's QUOTE balance is full: crediting its proceeds cannot be done.
    const orders = [
      makeOrder(m.id, 0n, { trader: t!, side: "sell", quantity: 10n, limitPrice: 10n }, env.separator),
      makeOrder(m.id, 0n, { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 10n }, env.separator),
    ];
    await moveToEpoch(env, m, 1n);
    const s = selectTrading(env, m.id, 0n, orders, await readCollateral(env, m.id, 0n, orders));
    await expectRevert(proposeCall(dev(1), m, 0n, bytesToHex(s.bytes)), "AmountOverflow", { amount: 100n });
  });

  it("EpochOverflow: the 32-bit checkpoints end at epoch 2^32 - 2", async () => {
    // A chain at 2^33 + 100 s: 2-second epochs from genesis 0 are numbered >= 2^32 (a 1-second epoch admits
    // no challenge window).
    const far = await startAnvil({ accounts: 1, genesisTimestampS: (1n << 33n) + 100n });
    const c = new SettlementClient({ rpcUrl: far.rpcUrl, privateKey: far.accounts[0]!.privateKey });
    try {
      const d = await c.deployContracts({
        base: { name: "B", symbol: "B", decimals: 0 },
        quote: { name: "Q", symbol: "Q", decimals: 0 },
      });
      const { id } = await c.createMarket({
        base: d.base,
        quote: d.quote,
        genesisTimeS: 0n,
        epochLengthS: 2n,
        feeBps: 0n,
        bondWei: 0n,
        challengeWindowS: 1n,
      });
      expect(await c.currentEpoch(id)).toBeGreaterThanOrEqual((1n << 32n) - 1n);
      await c.mintTestToken(d.base, c.address, 10n);
      const err = await revertOf(c.deposit(id, Asset.BASE, 10n));
      seen.add(err.errorName);
      expect(err.errorName).toBe("EpochOverflow");
      expect(err.args.epoch as bigint).toBeGreaterThanOrEqual((1n << 32n) - 1n);
    } finally {
      c.close();
      await far.stop();
    }
  });
});

// ================================================================ proposals

describe("propose: window, bond, commitment, batch length", () => {
  let m: MarketV2;
  let traders: Trader[];
  const submitter = () => dev(2);

  beforeAll(async () => {
    m = await newMarket(env, { epochLengthS: 1000n, challengeWindowS: 400n, bondWei: 10n ** 15n });
    traders = makeTraders(2, "window");
    await fundAll(m.id, traders);
  });

  const book = (epoch: bigint, nonce = 1n) => [
    makeOrder(
      m.id,
      epoch,
      { trader: traders[0]!, side: "buy", quantity: 10n, limitPrice: 110n, nonce },
      env.separator,
    ),
    makeOrder(
      m.id,
      epoch,
      { trader: traders[1]!, side: "sell", quantity: 10n, limitPrice: 90n, nonce },
      env.separator,
    ),
  ];
  const batchOf = async (epoch: bigint, nonce = 1n) => {
    const orders = book(epoch, nonce);
    const collateral = new Map<Hex, Collateral>(
      traders.map((t) => [t.address, { base: 1_000_000n, quote: 1_000_000_000n }]),
    );
    return selectTrading(env, m.id, epoch, orders, collateral);
  };

  it("EpochNotClosed before the close of the epoch (propose, challenge, certify)", async () => {
    await moveToEpoch(env, m, 0n, 5n);
    const b = bytesToHex((await batchOf(0n)).bytes);
    await expectRevert(proposeCall(submitter(), m, 0n, b), "EpochNotClosed", { epoch: 0n, currentEpoch: 0n });
    await expectRevert(challengeCall(submitter(), m, 0n, dev(1), b), "EpochNotClosed", {
      epoch: 0n,
      currentEpoch: 0n,
    });
    await expectRevert(certify(env, m.id, 0n, b), "EpochNotClosed", { epoch: 0n, currentEpoch: 0n });
  });

  it("WrongBond, NotCommitted (none, other data, another sender), CommitmentTooRecent, AlreadyProposed", async () => {
    await moveToEpoch(env, m, 1n, 1n);
    const sel = await batchOf(0n);
    const b = bytesToHex(sel.bytes);
    const me = outsider(5); // has never committed
    await expectRevert(callFrom(env, me, env.settlement, proposeData(m.id, 0n, b), 0n), "WrongBond", {
      sent: 0n,
      required: m.bond,
    });
    // No commitment at all.
    await expectRevert(callFrom(env, me, env.settlement, proposeData(m.id, 0n, b), m.bond), "NotCommitted", {
      commitment: commitmentOf(m.id, 0n, b, me),
    });
    // A commitment to other data, then to another epoch: the commitment binds (market, epoch, data, sender).
    await commit(env, me, m.id, 0n, bytesToHex((await batchOf(0n, 2n)).bytes));
    await expectRevert(callFrom(env, me, env.settlement, proposeData(m.id, 0n, b), m.bond), "NotCommitted", {
      commitment: commitmentOf(m.id, 0n, b, me),
    });
    await commit(env, me, m.id, 1n, b);
    await expectRevert(callFrom(env, me, env.settlement, proposeData(m.id, 0n, b), m.bond), "NotCommitted");
    // Another sender's commitment does not count for me.
    await commit(env, outsider(6), m.id, 0n, b);
    await expectRevert(callFrom(env, me, env.settlement, proposeData(m.id, 0n, b), m.bond), "NotCommitted");

    // Commit and propose in the same block: the proposal reverts CommitmentTooRecent(block).
    await env.provider.send("evm_setAutomine", [false]);
    let commitTx: string;
    let proposeTx: string;
    try {
      const c = commitmentOf(m.id, 0n, b, me);
      commitTx = (await env.provider.send("eth_sendTransaction", [
        { from: me, to: env.settlement, data: iface.encodeFunctionData("commit", [m.id, c]), gas: "0x30000" },
      ])) as string;
      proposeTx = (await env.provider.send("eth_sendTransaction", [
        {
          from: me,
          to: env.settlement,
          data: proposeData(m.id, 0n, b),
          value: `0x${m.bond.toString(16)}`,
          gas: "0x1000000",
        },
      ])) as string;
      await env.provider.send("evm_mine", []);
    } finally {
      await env.provider.send("evm_setAutomine", [true]);
    }
    const [rc, rp] = await Promise.all([
      env.provider.getTransactionReceipt(commitTx),
      env.provider.getTransactionReceipt(proposeTx),
    ]);
    expect(rc!.status).toBe(1);
    expect(rp!.status).toBe(0);
    expect(rp!.blockNumber).toBe(rc!.blockNumber);
    const trace = (await env.provider.send("debug_traceTransaction", [
      proposeTx,
      { tracer: "callTracer" },
    ])) as {
      output: string;
    };
    const decoded = decodeRevertData(trace.output)!;
    seen.add(decoded.errorName);
    expect(decoded.errorName).toBe("CommitmentTooRecent");
    expect(decoded.args).toEqual({ blockNumber: BigInt(rc!.blockNumber) });

    // MalformedBatch: not 432 + 126 n bytes with n >= 1 (checked before the commitment).
    for (const bad of [b.slice(0, 2 + 2 * 432), b.slice(0, -2), `${b}00`, "0x"] as Hex[]) {
      await expectRevert(
        callFrom(env, me, env.settlement, proposeData(m.id, 0n, bad), m.bond),
        "MalformedBatch",
        { length: BigInt((bad.length - 2) / 2) },
      );
      await expectRevert(certify(env, m.id, 0n, bad), "MalformedBatch");
    }

    // The same commitment, a block later, is accepted; a second proposal of the epoch is not.
    const s = await propose(env, me, m, 0n, b);
    expect(s.resultHash).toBe(sel.clearing.resultHash);
    await expectRevert(proposeCall(outsider(6), m, 0n, b), "AlreadyProposed", { market: m.id, epoch: 0n });
  });

  it("ProposalWindowClosed from challengeWindow seconds before the close of epoch + 1", async () => {
    // Epoch 1 is proposed during epoch 2, until G + 3000 - 400.
    const b = bytesToHex((await batchOf(1n)).bytes);
    await moveToEpoch(env, m, 2n, 500n);
    await commit(env, submitter(), m.id, 1n, b);
    const deadline = m.genesis + 3000n - 400n;
    // Calls at the latest block run at its timestamp.
    await mineBlock(env.provider, deadline - 1n);
    await callFrom(env, submitter(), env.settlement, proposeData(m.id, 1n, b), m.bond, "latest"); // the last second
    await mineBlock(env.provider, deadline);
    await expectRevert(
      callFrom(env, submitter(), env.settlement, proposeData(m.id, 1n, b), m.bond, "latest"),
      "ProposalWindowClosed",
      { epoch: 1n, deadline },
    );
  });
});

// ================================================================ certification

/**
 * A book with rationing at the price on both sides, better and worse orders on both sides, a trader with
 * several orders and an order the coverage rule excludes. p = 100, V = 12:
 *   buys  b1 5@120 (t0), b2 4@110 (t1) better; b3 3@100 (t2), b4 3@100 (t3), b5 1@100 (t0) at p; b6 5@90 (t1)
 *         worse; b7 1000@100 (t3) not covered (t3 holds 300 QUOTE);
 *   sells s1 6@80 (t4), s2 4@95 (t5) better; s3 2@100 (t4) at p; s4 7@130 (t5) worse.
 * Buys at p: R = 3, L = 7: shares 1, 1, 0, leftover 1 to b5 (remainder 3). Sells at p: R = L = 2.
 */
describe("certification: clear()'s result, or the first wrong value", () => {
  let m: MarketV2;
  let traders: Trader[];
  let named: Record<string, IdentifiedOrder>;
  let sel: SelectedBatch;
  let orders: IdentifiedOrder[];
  const E = 0n;
  const idx = (name: string) => orders.findIndex((o) => o.id === named[name]!.id);
  const cert = (header: BatchHeader, list: readonly IdentifiedOrder[] = orders) =>
    certify(env, m.id, E, encodeBatch(header, list));

  beforeAll(async () => {
    m = await newMarket(env, { feeBps: 30n });
    traders = makeTraders(6, "certify");
    await fund(env, m.id, [
      ...traders.flatMap((t, i) => (i === 3 ? [] : [{ trader: t, asset: Asset.QUOTE, amount: 1_000_000n }])),
      // b4 needs 300: exactly half (an order may need at most half its trader's collateral); b7 needs more.
      { trader: traders[3]!, asset: Asset.QUOTE, amount: 600n },
      ...traders.map((t) => ({ trader: t, asset: Asset.BASE, amount: 1_000n })),
    ]);
    const o = (t: number, side: "buy" | "sell", q: bigint, l: bigint, nonce = 1n) =>
      makeOrder(m.id, E, { trader: traders[t]!, side, quantity: q, limitPrice: l, nonce }, env.separator);
    named = {
      b1: o(0, "buy", 5n, 120n),
      b2: o(1, "buy", 4n, 110n),
      b3: o(2, "buy", 3n, 100n),
      b4: o(3, "buy", 3n, 100n),
      b5: o(0, "buy", 1n, 100n, 2n),
      b6: o(1, "buy", 5n, 90n, 2n),
      b7: o(3, "buy", 1000n, 100n, 2n),
      s1: o(4, "sell", 6n, 80n),
      s2: o(5, "sell", 4n, 95n),
      s3: o(4, "sell", 2n, 100n, 2n),
      s4: o(5, "sell", 7n, 130n, 2n),
    };
    await moveToEpoch(env, m, 1n);
    const all = Object.values(named);
    sel = selectTrading(env, m.id, E, all, await readCollateral(env, m.id, E, all));
    orders = sortById(all); // the whole book: every order, b7 included (excluded by coverage on chain too)
  });

  it("an honest batch certifies to clear()'s result: price, volume, every fill, result hash, fee", async () => {
    expect(sel.header.price).toBe(100n);
    expect(sel.clearing.volume).toBe(12n);
    expect(sel.header.buy).toMatchObject({
      better: 9n,
      equal: 7n,
      betterEdge: 110n,
      worseEdge: 90n,
      remainder: 3n,
    });
    expect(sel.header.buy.id).toBe(named.b5!.id);
    expect(sel.header.sell).toMatchObject({ better: 10n, equal: 2n, betterEdge: 95n, worseEdge: 130n });
    const collateral = await readCollateral(env, m.id, E, orders);
    const { covered } = applyCoverage(
      orders.map((x) => ({ ...x.order, id: x.id })),
      (t) => collateral.get(t)!,
    );
    expect(covered.map((x) => x.id)).not.toContain(named.b7!.id);
    const expected = clear(covered, { market: m.id, epoch: E });
    const fillOf = new Map(expected.fills.map((f) => [f.id, f.quantity]));
    const feeOf = (list: readonly IdentifiedOrder[]) =>
      list.reduce(
        (s, x) => s + (x.order.side === "sell" ? ((fillOf.get(x.id) ?? 0n) * 100n * 30n) / 10_000n : 0n),
        0n,
      );
    // The selected batch (batch.ts) and the whole book give the same result.
    for (const list of [sel.orders, orders]) {
      const bytes = encodeBatch(sel.header, list);
      const c = await certify(env, m.id, E, bytes);
      expect(c.price).toBe(expected.price);
      expect(c.volume).toBe(expected.volume);
      expect(c.fills).toEqual(list.map((x) => fillOf.get(x.id) ?? 0n));
      expect(c.resultHash).toBe(expected.resultHash);
      expect(c.feeTotal).toBe(feeOf(list));
      expect(c.batchHash).toBe(keccak256(bytes));
    }
    expect(fillOf.get(named.b5!.id)).toBe(1n); // the leftover unit: largest remainder
    expect(fillOf.get(named.b3!.id)).toBe(1n);
  });

  it("propose applies the same checks (a mutated certificate reverts there too)", async () => {
    await expectRevert(
      proposeCall(dev(1), m, E, encodeBatch(tweak(sel.header, "sell", { worseEdge: 131n }), orders)),
      "AggregateMismatch",
      { field: 7n, claimed: 131n, actual: 130n },
    );
  });

  it("header: PriceOutOfRange, NoTrade, VolumeNotMaximal (each side)", async () => {
    const h = sel.header;
    await expectRevert(cert(withPrice(h, 0n)), "PriceOutOfRange", { price: 0n });
    const none = { better: 0n, equal: 0n };
    await expectRevert(cert(tweak(tweak(h, "buy", none), "sell", none)), "NoTrade", {});
    // buy.better 13 > V = min(20, 12): a higher price would trade as much.
    await expectRevert(cert(tweak(h, "buy", { better: 13n })), "VolumeNotMaximal", {
      side: 0n,
      better: 13n,
      volume: 12n,
    });
    await expectRevert(cert(tweak(h, "sell", { better: 17n })), "VolumeNotMaximal", {
      side: 1n,
      better: 17n,
      volume: 16n,
    });
  });

  it("neighbouring prices: their own sums disagree with the batch's", async () => {
    // With lo = hi = 100 the header's other fields pin nothing else: at 101 the marginal buys are worse
    // (buy.equal 7 claimed, 0 counted); at 99 they are better (buy.better 9 claimed, 16 counted).
    await expectRevert(cert(withPrice(sel.header, 101n)), "AggregateMismatch", {
      field: 1n,
      claimed: 7n,
      actual: 0n,
    });
    await expectRevert(cert(withPrice(sel.header, 99n)), "AggregateMismatch", {
      field: 0n,
      claimed: 9n,
      actual: 16n,
    });
  });

  it("WrongPrice: a price other than the midpoint of [lo, hi] (clearing.md example B)", async () => {
    // b = 20, 18, 12; a = 5, 6, 15 (quantity 1 each): V = 2, lo = 12, hi = 15, p = 13.
    const mb = await newMarket(env);
    const ts = makeTraders(6, "example-b");
    await fundAll(mb.id, ts);
    const limits = [20n, 18n, 12n, 5n, 6n, 15n];
    const book = ts.map((t, i) =>
      makeOrder(
        mb.id,
        0n,
        { trader: t, side: i < 3 ? "buy" : "sell", quantity: 1n, limitPrice: limits[i]! },
        env.separator,
      ),
    );
    await moveToEpoch(env, mb, 1n);
    const s = selectTrading(env, mb.id, 0n, book, await readCollateral(env, mb.id, 0n, book));
    expect(s.header.price).toBe(13n);
    for (const p of [12n, 14n, 15n]) {
      await expectRevert(
        certify(env, mb.id, 0n, encodeBatch(withPrice(s.header, p), s.orders)),
        "WrongPrice",
        {
          price: p,
          lo: 12n,
          hi: 15n,
        },
      );
    }
    // A worse edge claimed too high empties the interval: lo = max(6, 16) > hi = 15.
    await expectRevert(
      certify(env, mb.id, 0n, encodeBatch(tweak(s.header, "buy", { worseEdge: 16n }), s.orders)),
      "WrongPrice",
      { price: 13n, lo: 16n, hi: 15n },
    );
    const c = await certify(env, mb.id, 0n, bytesToHex(s.bytes));
    expect([c.price, c.volume, c.resultHash]).toEqual([13n, 2n, s.clearing.resultHash]);
  });

  it("orders: InvalidSide, MalformedOrder, OrdersNotAscending (reordered, twice)", async () => {
    const h = sel.header;
    const i = idx("b3");
    const raw = encodeBatch(h, orders);
    const at = (k: number) => 2 + 2 * (432 + 126 * k); // hex offset of order k
    const sideTwo = `${raw.slice(0, at(i))}02${raw.slice(at(i) + 2)}` as Hex;
    await expectRevert(certify(env, m.id, E, sideTwo), "InvalidSide", { index: BigInt(i), side: 2n });
    const zeroQuantity = `${raw.slice(0, at(i) + 2)}${"00".repeat(16)}${raw.slice(at(i) + 34)}` as Hex;
    await expectRevert(certify(env, m.id, E, zeroQuantity), "MalformedOrder", { index: BigInt(i) });
    const zeroLimit = `${raw.slice(0, at(i) + 34)}${"00".repeat(16)}${raw.slice(at(i) + 66)}` as Hex;
    await expectRevert(certify(env, m.id, E, zeroLimit), "MalformedOrder", { index: BigInt(i) });
    const swapped = [...orders];
    [swapped[4], swapped[5]] = [swapped[5]!, swapped[4]!];
    await expectRevert(cert(h, swapped), "OrdersNotAscending", {
      index: 5n,
      previousId: orders[5]!.id,
      id: orders[4]!.id,
    });
    const twice = [orders[0]!, orders[0]!, ...orders.slice(1)];
    await expectRevert(cert(h, twice), "OrdersNotAscending", {
      index: 1n,
      previousId: orders[0]!.id,
      id: orders[0]!.id,
    });
  });

  it("signatures: MalformedSignature (v, the high-s twin), InvalidSigner (another key, unrecoverable)", async () => {
    const h = sel.header;
    const i = idx("s3");
    const target = orders[i]!;
    const sig = target.order.signature;
    const r = `0x${sig.slice(2, 66)}` as Hex;
    const s = `0x${sig.slice(66, 130)}` as Hex;
    const v = Number.parseInt(sig.slice(130), 16);
    const withSig = (signature: Hex) =>
      orders.map((x, k) => (k === i ? { ...x, order: { ...x.order, signature } } : x));
    await expectRevert(cert(h, withSig(`${r}${s.slice(2)}1d` as Hex)), "MalformedSignature", {
      index: BigInt(i),
      v: 29n,
      s,
    });
    // The twin (r, n - s, v ^ 1) recovers the same key; EIP-2 low-s rejects it.
    const twinS = `0x${(SECP256K1_N - BigInt(s)).toString(16).padStart(64, "0")}` as Hex;
    const twinV = v === 27 ? 28 : 27;
    await expectRevert(
      cert(h, withSig(`${r}${twinS.slice(2)}${twinV.toString(16)}` as Hex)),
      "MalformedSignature",
      {
        index: BigInt(i),
        v: BigInt(twinV),
        s: twinS,
      },
    );
    const forged = signWith(target.order, traders[0]!.privateKey, env.separator).order.signature;
    await expectRevert(cert(h, withSig(forged)), "InvalidSigner", {
      index: BigInt(i),
      orderId: target.id,
      recovered: traders[0]!.address,
      trader: target.order.trader,
    });
    await expectRevert(
      cert(h, withSig(`0x${"00".repeat(32)}${s.slice(2)}${v.toString(16)}` as Hex)),
      "InvalidSigner",
      {
        index: BigInt(i),
        orderId: target.id,
        recovered: ZERO,
        trader: target.order.trader,
      },
    );
    // An order of trader 0 whose signature recovers nothing: recovered 0 = trader 0 is still rejected.
    const ghost = makeOrder(
      m.id,
      E,
      {
        trader: { address: ZERO, privateKey: traders[0]!.privateKey },
        side: "sell",
        quantity: 1n,
        limitPrice: 500n,
      },
      env.separator,
    );
    const unrecoverable = {
      ...ghost,
      order: { ...ghost.order, signature: `0x${"00".repeat(32)}${"11".repeat(32)}1b` as Hex },
    };
    const list = sortById([...orders, unrecoverable]);
    await expectRevert(cert(h, list), "InvalidSigner", {
      index: BigInt(list.indexOf(unrecoverable)),
      orderId: ghost.id,
      recovered: ZERO,
      trader: ZERO,
    });
  });

  it("sums and edges: AggregateMismatch names the first field that differs", async () => {
    const h = sel.header;
    const cases: [BatchHeader, bigint, bigint, bigint][] = [
      [tweak(h, "buy", { better: 10n, equal: 6n }), 0n, 10n, 9n],
      [tweak(h, "buy", { equal: 8n }), 1n, 8n, 7n],
      [tweak(h, "buy", { betterEdge: 111n }), 2n, 111n, 110n],
      [tweak(h, "buy", { worseEdge: 91n }), 3n, 91n, 90n],
      [tweak(h, "sell", { better: 11n, equal: 1n }), 4n, 11n, 10n],
      [tweak(h, "sell", { equal: 3n }), 5n, 3n, 2n],
      [tweak(h, "sell", { betterEdge: 96n }), 6n, 96n, 95n],
      [tweak(h, "sell", { worseEdge: 131n }), 7n, 131n, 130n],
    ];
    for (const [header, field, claimed, actual] of cases) {
      await expectRevert(cert(header), "AggregateMismatch", { field, claimed, actual });
    }
    // A marginal order left out: the level's sum differs (the header is the full set's).
    await expectRevert(
      cert(
        h,
        orders.filter((x) => x.id !== named.b3!.id),
      ),
      "AggregateMismatch",
      { field: 1n, claimed: 7n, actual: 4n },
    );
    // The order realising buy.worseEdge left out.
    await expectRevert(
      cert(
        h,
        orders.filter((x) => x.id !== named.b6!.id),
      ),
      "AggregateMismatch",
      { field: 3n, claimed: 90n, actual: 0n },
    );
  });

  it("bonus threshold: WrongBonusCount (none where one is due, every order where none is)", async () => {
    const h = sel.header;
    await expectRevert(
      cert(tweak(h, "buy", { remainder: MAX_UINT256, id: `0x${"00".repeat(32)}` })),
      "WrongBonusCount",
      {
        side: 0n,
        counted: 0n,
        expected: 1n,
      },
    );
    // Remainder 2 with b3's or b4's id selects two orders (remainders 3 and 2 ranked by id).
    const two = [named.b3!.id, named.b4!.id].sort().at(-1)!; // the larger id of the two
    await expectRevert(cert(tweak(h, "buy", { remainder: 2n, id: two })), "WrongBonusCount", {
      side: 0n,
      counted: 3n,
      expected: 1n,
    });
    await expectRevert(
      cert(tweak(h, "sell", { remainder: 0n, id: `0x${"ff".repeat(32)}` })),
      "WrongBonusCount",
      {
        side: 1n,
        counted: 1n,
        expected: 0n,
      },
    );
  });
});

// ================================================================ the attacks of version 1

describe("the three attacks that succeeded on version 1, and a forced trade", () => {
  it("censor: a 1-unit self-trade proposed first is replaced by an honest challenge; the attacker's bond goes to the challenger", async () => {
    const m = await newMarket(env, { feeBps: 10n, bondWei: 10n ** 16n });
    const honest = makeTraders(4, "censor-honest");
    const [a1, a2] = makeTraders(2, "censor-attacker");
    await fundAll(m.id, [...honest, a1!, a2!]);
    const o = (t: Trader, side: "buy" | "sell", q: bigint, l: bigint) =>
      makeOrder(m.id, 0n, { trader: t, side, quantity: q, limitPrice: l }, env.separator);
    const honestOrders = [
      o(honest[0]!, "buy", 50n, 105n),
      o(honest[1]!, "buy", 30n, 101n),
      o(honest[2]!, "sell", 40n, 98n),
      o(honest[3]!, "sell", 60n, 102n),
    ];
    const selfTrade = [o(a1!, "buy", 1n, 1000n), o(a2!, "sell", 1n, 1n)];
    await moveToEpoch(env, m, 1n);
    const attacker = dev(1);
    const node = clientFor(env, env.anvil.accounts[2]!.privateKey);
    const collateral = await readCollateral(env, m.id, 0n, [...honestOrders, ...selfTrade]);
    const attack = selectTrading(env, m.id, 0n, selfTrade, collateral);
    const standing = await propose(env, attacker, m, 0n, bytesToHex(attack.bytes));
    expect(standing.volume).toBe(1n);
    // Version 1's outcome: the honest settlement would now fail. Here the honest proposal fails too...
    const honestBatch = selectTrading(env, m.id, 0n, honestOrders, collateral);
    await expectRevert(proposeCall(node.address, m, 0n, bytesToHex(honestBatch.bytes)), "AlreadyProposed");
    // ...but the honest node challenges with the union of the standing orders and its own.
    const ch = selectChallenge(
      {
        market: m.id,
        epoch: 0n,
        domainSeparator: env.separator,
        orders: honestOrders.map((x) => x.order),
        collateral: lookupOf(collateral),
      },
      { header: attack.header, orders: attack.orders, resultHash: standing.resultHash },
    );
    expect(ch.outcome).toBe("challenge");
    if (ch.outcome !== "challenge") return;
    const bondsBefore = await node.bondsOf(node.address);
    const { challenge: c } = await node.submitChallenge(m.id, 0n, attacker, ch.bytes);
    expect(c.event.resultHash).toBe(ch.selection.clearing.resultHash);
    expect(c.event.replaced).toBe(attacker);
    // The union's clearing is the honest clearing of every order (the self-trade's orders are valid ones).
    const all = [...honestOrders, ...selfTrade];
    const { covered } = applyCoverage(
      all.map((x) => ({ ...x.order, id: x.id })),
      (t) => collateral.get(t)!,
    );
    expect(c.event.resultHash).toBe(clear(covered, { market: m.id, epoch: 0n }).resultHash);
    expect(await node.bondsOf(node.address)).toBe(bondsBefore + m.bond);
    expect(await bondsOf(env, attacker)).toBe(0n);
    // After the deadline the challenger, not the attacker, is paid the fee and its bond.
    await moveToEpoch(env, m, 2n);
    const quoteBefore = (await node.escrowOf(m.id, node.address, Asset.QUOTE)).free;
    await expectRevert(
      finalize(env, outsider(0), m.id, [
        { epoch: 0n, batchHash: standing.batchHash, submitter: attacker, feeTotal: standing.feeTotal },
      ]),
      "NothingToFinalize",
    );
    await node.finalize(m.id, [
      { epoch: 0n, batchHash: c.event.batchHash, submitter: node.address, feeTotal: c.event.feeTotal },
    ]);
    expect((await node.escrowOf(m.id, node.address, Asset.QUOTE)).free).toBe(quoteBefore + c.event.feeTotal);
    expect(await node.bondsOf(node.address)).toBe(bondsBefore + 2n * m.bond);
  });

  it("skim: a subset that raises the price is certified as what it is, and a challenge adding the left-out orders restores the honest clearing", async () => {
    const m = await newMarket(env, { bondWei: 10n ** 16n });
    const [b1, b2, b3, s1, s2] = makeTraders(5, "skim");
    const skimmer = makeTraders(1, "skimmer")[0]!;
    await fundAll(m.id, [b1!, b2!, b3!, s1!, s2!, skimmer]);
    const o = (t: Trader, side: "buy" | "sell", q: bigint, l: bigint) =>
      makeOrder(m.id, 0n, { trader: t, side, quantity: q, limitPrice: l }, env.separator);
    const book = [
      o(b1!, "buy", 10n, 120n),
      o(b2!, "buy", 10n, 110n),
      o(b3!, "buy", 10n, 100n),
      o(s1!, "sell", 10n, 90n),
      o(s2!, "sell", 10n, 95n),
      o(skimmer, "sell", 20n, 100n),
    ];
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, book);
    const honest = selectTrading(env, m.id, 0n, book, collateral);
    expect([honest.header.price, honest.clearing.volume]).toEqual([100n, 30n]);
    // Leave out the two cheap sells and the buy at 100: the pinned price of what is left is 105.
    const skim = selectTrading(env, m.id, 0n, [book[0]!, book[1]!, book[5]!], collateral);
    expect(skim.header.price).toBe(105n);
    const submitter = dev(1);
    const before = (await escrowOf(env, m.id, skimmer.address, Asset.QUOTE)).free;
    const standing = await propose(env, submitter, m, 0n, bytesToHex(skim.bytes));
    expect((await escrowOf(env, m.id, skimmer.address, Asset.QUOTE)).free).toBe(before + 20n * 105n); // 2100
    const ch = selectChallenge(
      {
        market: m.id,
        epoch: 0n,
        domainSeparator: env.separator,
        orders: book.map((x) => x.order),
        collateral: lookupOf(collateral),
      },
      { header: skim.header, orders: skim.orders, resultHash: standing.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.added).toBe(3);
    const c = await challenge(env, dev(2), m, 0n, submitter, bytesToHex(ch.bytes));
    expect(c.resultHash).toBe(honest.clearing.resultHash);
    // The skimmer's sell earns the honest 10 x 100, and it lost its bond to the challenger.
    expect((await escrowOf(env, m.id, skimmer.address, Asset.QUOTE)).free).toBe(before + 1000n);
    expect(await bondsOf(env, dev(2))).toBeGreaterThanOrEqual(m.bond);
  });

  it("fee theft: another account's copy of the pending propose (or of the commit too) reverts NotCommitted", async () => {
    const m = await newMarket(env, { feeBps: 50n });
    const [b, s] = makeTraders(2, "theft");
    await fundAll(m.id, [b!, s!]);
    const book = [
      makeOrder(m.id, 0n, { trader: b!, side: "buy", quantity: 10n, limitPrice: 110n }, env.separator),
      makeOrder(m.id, 0n, { trader: s!, side: "sell", quantity: 10n, limitPrice: 90n }, env.separator),
    ];
    await moveToEpoch(env, m, 1n);
    const batch = bytesToHex(
      selectTrading(env, m.id, 0n, book, await readCollateral(env, m.id, 0n, book)).bytes,
    );
    const node = dev(1);
    const thief = dev(3);
    const commitCall = iface.encodeFunctionData("commit", [m.id, commitmentOf(m.id, 0n, batch, node)]);
    await txFrom(env, node, env.settlement, commitCall);
    const pending = proposeData(m.id, 0n, batch);
    // The thief resends the node's propose calldata from its own account: version 1 paid it the fee.
    await expectRevert(callFrom(env, thief, env.settlement, pending, m.bond), "NotCommitted", {
      commitment: commitmentOf(m.id, 0n, batch, thief),
    });
    // Copying the node's commit as well does not help: the commitment binds the node's address.
    await txFrom(env, thief, env.settlement, commitCall);
    await expectRevert(
      txFrom(env, thief, env.settlement, pending, { value: m.bond, blind: true }),
      "NotCommitted",
      {
        commitment: commitmentOf(m.id, 0n, batch, thief),
      },
    );
    await txFrom(env, node, env.settlement, pending, { value: m.bond });
    expect(await recordOnChain(env, m.id, 0n)).not.toBe(`0x${"00".repeat(32)}`);
  });

  it("forced trade: a subset that trades where the whole set does not is undone by a no-trade union; its bond goes to the challenger", async () => {
    // The whole set: tee's buy at 1 (lower id) takes all of tee's quote, so coverage excludes tee's buy at
    // 20 and nothing crosses. Leaving the buy at 1 out makes the buy at 20 trade against the sell at 5.
    const m = await newMarket(env, { bondWei: 10n ** 16n });
    const [tee, seller] = makeTraders(2, "forced");
    await fund(env, m.id, [
      { trader: tee!, asset: Asset.QUOTE, amount: 40n },
      { trader: seller!, asset: Asset.BASE, amount: 2n },
    ]);
    const o = (t: Trader, side: "buy" | "sell", q: bigint, l: bigint, nonce = 1n) =>
      makeOrder(m.id, 0n, { trader: t, side, quantity: q, limitPrice: l, nonce }, env.separator);
    // Tee's buy at 20 is its third by id: in the whole set its two buys at 1 exclude it (trader-cap), and
    // nothing trades; without them it is kept and trades.
    const high = o(tee!, "buy", 1n, 20n);
    let nonce = 1n;
    const lows: IdentifiedOrder[] = [];
    while (lows.length < 2) {
      const low = o(tee!, "buy", 1n, 1n, nonce++);
      if (BigInt(low.id) < BigInt(high.id)) lows.push(low);
    }
    const sell = o(seller!, "sell", 1n, 5n);
    const book = [...lows, high, sell];
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, book);
    const input = {
      market: m.id,
      epoch: 0n,
      domainSeparator: env.separator,
      orders: book.map((x) => x.order),
      collateral: lookupOf(collateral),
    };
    expect(selectBatch(input).outcome).toBe("no-trade");
    // The attacker proposes the subset: a trade the full set of orders does not allow.
    const attacker = dev(1);
    const forced = selectTrading(env, m.id, 0n, [high, sell], collateral);
    const standing = await propose(env, attacker, m, 0n, bytesToHex(forced.bytes));
    expect([standing.price, standing.volume]).toEqual([12n, 1n]);
    expect((await escrowOf(env, m.id, seller!.address, Asset.QUOTE)).free).toBe(12n);
    const ch = selectChallenge(input, {
      header: forced.header,
      orders: forced.orders,
      resultHash: standing.resultHash,
    });
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.selection.outcome).toBe("no-trade");
    // The same bytes are no proposal: as a batch, a union that does not trade reverts NoTrade.
    await expectRevert(certify(env, m.id, 0n, encodeBatch(ch.header, sortById(book))), "NoTrade");
    const c = await challenge(env, dev(2), m, 0n, attacker, bytesToHex(ch.bytes));
    expect(c.replaced).toBe(attacker.toLowerCase());
    expect([c.price, c.volume, c.feeTotal]).toEqual([0n, 0n, 0n]);
    expect(c.resultHash).toBe(clear([], { market: m.id, epoch: 0n }).resultHash);
    // Every balance is back where it was; the attacker's bond went to the challenger.
    expect((await escrowOf(env, m.id, seller!.address, Asset.QUOTE)).free).toBe(0n);
    expect((await escrowOf(env, m.id, seller!.address, Asset.BASE)).free).toBe(2n);
    expect((await escrowOf(env, m.id, tee!.address, Asset.QUOTE)).free).toBe(40n);
    expect((await escrowOf(env, m.id, tee!.address, Asset.BASE)).free).toBe(0n);
    expect(await bondsOf(env, dev(2))).toBeGreaterThanOrEqual(m.bond);
    // A second challenge of the no-trade result with the same orders changes nothing.
    const again = selectChallenge(input, { header: ch.header, orders: ch.orders, resultHash: c.resultHash });
    expect(again.outcome).toBe("no-new-orders");
  });
});

// ================================================================ challenges

describe("challenges", () => {
  let m: MarketV2;
  let traders: Trader[];
  let book: IdentifiedOrder[];
  let collateral: Map<Hex, Collateral>;
  let standingSel: SelectedBatch;
  let standing: Submission;
  const proposer = () => dev(1);
  const challenger = () => dev(2);

  beforeAll(async () => {
    m = await newMarket(env, { feeBps: 20n, bondWei: 10n ** 16n });
    traders = makeTraders(6, "challenges");
    await fundAll(m.id, traders);
    const o = (t: number, side: "buy" | "sell", q: bigint, l: bigint, nonce = 1n) =>
      makeOrder(m.id, 0n, { trader: traders[t]!, side, quantity: q, limitPrice: l, nonce }, env.separator);
    book = [
      o(0, "buy", 10n, 120n),
      o(1, "buy", 10n, 110n),
      o(2, "buy", 10n, 100n),
      o(3, "sell", 10n, 90n),
      o(4, "sell", 10n, 95n),
      o(5, "sell", 20n, 100n),
    ];
  });

  const entriesOf = (s: SelectedBatch, standingIds: Set<Hex>) =>
    s.orders.map((x) => ({ order: x, standing: standingIds.has(x.id) }));

  it("NothingToChallenge, then a proposal of a subset", async () => {
    await moveToEpoch(env, m, 1n);
    collateral = await readCollateral(env, m.id, 0n, book);
    standingSel = selectTrading(env, m.id, 0n, [book[0]!, book[3]!], collateral);
    const union = encodeUnion(standingSel.header, standingSel.header, entriesOf(standingSel, new Set()));
    await expectRevert(challengeCall(challenger(), m, 0n, proposer(), union), "NothingToChallenge", {
      market: m.id,
      epoch: 0n,
    });
    standing = await propose(env, proposer(), m, 0n, bytesToHex(standingSel.bytes));
    expect(await recordOnChain(env, m.id, 0n)).toBe(
      recordOf(standing.batchHash, proposer(), standing.feeTotal),
    );
  });

  it("StandingMismatch: a replayed, truncated, reordered or altered standing batch, or the wrong submitter", async () => {
    const full = selectTrading(env, m.id, 0n, book, collateral, standingSel.orders);
    const ids = new Set(standingSel.orders.map((x) => x.id));
    const good = entriesOf(full, ids);
    const record = recordOf(standing.batchHash, proposer(), standing.feeTotal);
    const mismatch = (union: Hex, submitter = proposer()) =>
      expectRevert(challengeCall(challenger(), m, 0n, submitter, union), "StandingMismatch", { record });
    // Truncated: one standing order flagged as added.
    const truncated = good.map((e, k) =>
      e.standing && k === good.findIndex((x) => x.standing) ? { ...e, standing: false } : e,
    );
    await mismatch(encodeUnion(standingSel.header, full.header, truncated));
    // Altered: another standing header.
    await mismatch(
      encodeUnion(withPrice(standingSel.header, standingSel.header.price + 1n), full.header, good),
    );
    // Wrong submitter.
    await mismatch(encodeUnion(standingSel.header, full.header, good), challenger());
    // Reordered: the standing batch's orders swapped (the union is then not ascending either, but the
    // standing batch is checked first).
    const swapped = [...good];
    const k0 = swapped.findIndex((e) => e.standing);
    const k1 = swapped.findIndex((e, k) => e.standing && k > k0);
    [swapped[k0], swapped[k1]] = [swapped[k1]!, swapped[k0]!];
    await mismatch(encodeUnion(standingSel.header, full.header, swapped));
    // A subset of the standing batch (one of its orders left out entirely) plus added orders.
    await mismatch(
      encodeUnion(
        standingSel.header,
        full.header,
        good.filter((_e, k) => k !== k0),
      ),
    );
    // Replayed: a batch that certifies fine but is not the standing one (a different subset).
    const other = selectTrading(env, m.id, 0n, [book[1]!, book[4]!], collateral);
    const otherIds = new Set(other.orders.map((x) => x.id));
    const union2 = selectTrading(env, m.id, 0n, book, collateral, other.orders);
    await mismatch(encodeUnion(other.header, union2.header, entriesOf(union2, otherIds)));
  });

  it("NoNewOrders (identical), ResultUnchanged (an order that changes nothing, in the new batch or the union only), MalformedBatch (length, flag)", async () => {
    const ids = new Set(standingSel.orders.map((x) => x.id));
    const identical = encodeUnion(standingSel.header, standingSel.header, entriesOf(standingSel, ids));
    await expectRevert(challengeCall(challenger(), m, 0n, proposer(), identical), "NoNewOrders", {});
    // A buy far below the price, by a trader without collateral: not covered, the result is unchanged.
    const [poor] = makeTraders(1, "challenges-poor");
    const extra = makeOrder(
      m.id,
      0n,
      { trader: poor!, side: "buy", quantity: 5n, limitPrice: 1n },
      env.separator,
    );
    const table = new Map(collateral);
    table.set(poor!.address, { base: 0n, quote: 0n });
    const same = selectTrading(env, m.id, 0n, [extra], table, standingSel.orders);
    const entries = sortById([...standingSel.orders, extra]).map((x) => ({
      order: x,
      standing: ids.has(x.id),
    }));
    await expectRevert(
      challengeCall(challenger(), m, 0n, proposer(), encodeUnion(standingSel.header, same.header, entries)),
      "ResultUnchanged",
      { resultHash: standing.resultHash },
    );
    const good = encodeUnion(standingSel.header, same.header, entries);
    await expectRevert(challengeCall(challenger(), m, 0n, proposer(), `${good}00` as Hex), "MalformedBatch", {
      length: BigInt((good.length - 2) / 2 + 1),
    });
    await expectRevert(
      challengeCall(challenger(), m, 0n, proposer(), good.slice(0, 2 + 2 * 864) as Hex),
      "MalformedBatch",
      { length: 864n },
    );
    // Flags are 0 to 3 (bit 0 standing, bit 1 in the new batch): 4 to 255 are malformed.
    const flagAt = 2 + 2 * 864;
    for (const flag of ["04", "80", "ff"]) {
      const bad = `${good.slice(0, flagAt)}${flag}${good.slice(flagAt + 2)}` as Hex;
      await expectRevert(challengeCall(challenger(), m, 0n, proposer(), bad), "MalformedBatch", {
        length: BigInt((good.length - 2) / 2),
      });
    }
    // Flag 0 is valid: the added order in the union only (not in the new batch). It is an added order (no
    // NoNewOrders), and here it changes nothing either.
    const unionOnly = entries.map((e) => (e.standing ? e : { ...e, flag: 0 }));
    await expectRevert(
      challengeCall(challenger(), m, 0n, proposer(), encodeUnion(standingSel.header, same.header, unionOnly)),
      "ResultUnchanged",
      { resultHash: standing.resultHash },
    );
    // An added order with a bad signature is checked (standing ones are not checked again).
    const forged = {
      ...extra,
      order: {
        ...extra.order,
        signature: signWith(extra.order, traders[0]!.privateKey, env.separator).order.signature,
      },
    };
    const withForged = sortById([...standingSel.orders, forged]).map((x) => ({
      order: x,
      standing: ids.has(x.id),
    }));
    await expectRevert(
      challengeCall(
        challenger(),
        m,
        0n,
        proposer(),
        encodeUnion(standingSel.header, same.header, withForged),
      ),
      "InvalidSigner",
      {
        index: BigInt(withForged.findIndex((e) => e.order.id === extra.id)),
        orderId: extra.id,
        recovered: traders[0]!.address,
        trader: poor!.address,
      },
    );
  });

  it("a challenge of a challenge: each takes the replaced bond; the result is the union's clearing", async () => {
    const firstIds = new Set(standingSel.orders.map((x) => x.id));
    const step = selectTrading(env, m.id, 0n, [book[1]!, book[4]!], collateral, standingSel.orders);
    const before = await bondsOf(env, challenger());
    const c1 = await challenge(
      env,
      challenger(),
      m,
      0n,
      proposer(),
      encodeUnion(standingSel.header, step.header, entriesOf(step, firstIds)),
    );
    expect(c1.replaced).toBe(proposer());
    expect(c1.resultHash).toBe(step.clearing.resultHash);
    expect(await bondsOf(env, challenger())).toBe(before + m.bond);
    // The standing batch is now the first union (its header, all its orders).
    const stepIds = new Set(step.orders.map((x) => x.id));
    const full = selectTrading(env, m.id, 0n, book, collateral, step.orders);
    const third = dev(3);
    const thirdBefore = await bondsOf(env, third);
    const c2 = await challenge(
      env,
      third,
      m,
      0n,
      challenger(),
      encodeUnion(step.header, full.header, entriesOf(full, stepIds)),
    );
    expect(c2.resultHash).toBe(full.clearing.resultHash);
    expect(await bondsOf(env, third)).toBe(thirdBefore + m.bond);
    standing = c2;
    standingSel = full;
  });

  it("after the deadline the result is final: ChallengeWindowClosed, NotFinal before, finalize pays only the final submitter", async () => {
    const ids = new Set(standingSel.orders.map((x) => x.id));
    const union = encodeUnion(standingSel.header, standingSel.header, entriesOf(standingSel, ids));
    const item = {
      epoch: 0n,
      batchHash: standing.batchHash,
      submitter: standing.submitter,
      feeTotal: standing.feeTotal,
    };
    const deadline = m.genesis + 2n * m.epochLength;
    await expectRevert(finalize(env, outsider(0), m.id, [item]), "NotFinal", { epoch: 0n, deadline });
    await commit(env, challenger(), m.id, 0n, union);
    await mineBlock(env.provider, deadline - 1n);
    await expectRevert(
      callFrom(
        env,
        challenger(),
        env.settlement,
        challengeData(m.id, 0n, standing.submitter, union),
        m.bond,
        "latest",
      ),
      "NoNewOrders", // the last second: still open
    );
    await mineBlock(env.provider, deadline);
    await expectRevert(
      callFrom(
        env,
        challenger(),
        env.settlement,
        challengeData(m.id, 0n, standing.submitter, union),
        m.bond,
        "latest",
      ),
      "ChallengeWindowClosed",
      { epoch: 0n, deadline },
    );
    expect(standing.feeTotal).toBeGreaterThan(0n);
    // Neither the proposer nor the first challenger can finalize with their (replaced) results.
    await expectRevert(
      finalize(env, outsider(0), m.id, [{ ...item, submitter: proposer() }]),
      "NothingToFinalize",
      { market: m.id, epoch: 0n },
    );
    await expectRevert(
      finalize(env, outsider(0), m.id, [{ ...item, feeTotal: item.feeTotal + 1n }]),
      "NothingToFinalize",
    );
    const quote = (await escrowOf(env, m.id, standing.submitter, Asset.QUOTE)).free;
    const bonds = await bondsOf(env, standing.submitter);
    const r = await finalize(env, outsider(0), m.id, [item]);
    const fin = r.logs.map((l) => iface.parseLog(l)).find((e) => e?.name === "Finalized")!;
    expect([fin.args[1], (fin.args[2] as string).toLowerCase(), fin.args[3]]).toEqual([
      0n,
      standing.submitter,
      standing.feeTotal,
    ]);
    expect((await escrowOf(env, m.id, standing.submitter, Asset.QUOTE)).free).toBe(quote + standing.feeTotal);
    expect(await bondsOf(env, standing.submitter)).toBe(bonds + m.bond);
    expect(await recordOnChain(env, m.id, 0n)).toBe(`0x${"00".repeat(31)}01`);
    expect(await env.admin.isSettled(m.id, 0n)).toBe(true);
    expect(await env.admin.isSettled(m.id, 1n)).toBe(false);
    await expectRevert(finalize(env, outsider(0), m.id, [item]), "NothingToFinalize", {
      market: m.id,
      epoch: 0n,
    });
  });
});

// ================================================================ bonds

describe("bonds", () => {
  it("claimBonds pays them out once (BondsClaimed), NothingToClaim, BondTransferFailed for a contract that refuses ether", async () => {
    const m = await newMarket(env, { bondWei: 12345n });
    const [b, s] = makeTraders(2, "bonds");
    await fundAll(m.id, [b!, s!]);
    // A forwarder that relays any call with its value to the settlement contract and refuses plain ether
    // (empty calldata). Hand-assembled runtime:
    //   00 CALLDATASIZE PUSH1 08 JUMPI PUSH0 PUSH0 REVERT STOP
    //   08 JUMPDEST CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY
    //      PUSH0 PUSH0 CALLDATASIZE PUSH0 CALLVALUE PUSH20 <settlement> GAS CALL
    //      RETURNDATASIZE PUSH0 PUSH0 RETURNDATACOPY PUSH1 33 JUMPI RETURNDATASIZE PUSH0 REVERT
    //   33 JUMPDEST RETURNDATASIZE PUSH0 RETURN
    const target = env.settlement.slice(2);
    const runtime = `36600857${"5f5ffd00"}5b365f5f375f5f365f3473${target}5af13d5f5f3e6033573d5ffd5b3d5ff3`;
    const len = (runtime.length / 2).toString(16).padStart(2, "0");
    const init = `60${len}600a5f3960${len}5ff3`; // codecopy(0, 10, len); return(0, len)
    const deployer = outsider(1);
    const deploy = await txFrom(env, deployer, null, `0x${init}${runtime}`);
    const forwarder = deploy.contractAddress!.toLowerCase() as Hex;
    expect(await env.provider.getCode(forwarder)).toBe(`0x${runtime}`);
    const book = [
      makeOrder(m.id, 0n, { trader: b!, side: "buy", quantity: 10n, limitPrice: 110n }, env.separator),
      makeOrder(m.id, 0n, { trader: s!, side: "sell", quantity: 10n, limitPrice: 90n }, env.separator),
    ];
    await moveToEpoch(env, m, 1n);
    const batch = bytesToHex(
      selectTrading(env, m.id, 0n, book, await readCollateral(env, m.id, 0n, book)).bytes,
    );
    // The forwarder proposes (through calls relayed from dev 0): its commitment binds its own address.
    await txFrom(
      env,
      deployer,
      forwarder,
      iface.encodeFunctionData("commit", [m.id, commitmentOf(m.id, 0n, batch, forwarder)]),
    );
    const r = await txFrom(env, deployer, forwarder, proposeData(m.id, 0n, batch), { value: m.bond });
    const proposed = r.logs.map((l) => iface.parseLog(l)).find((e) => e?.name === "Proposed")!;
    await moveToEpoch(env, m, 2n);
    await finalize(env, outsider(0), m.id, [
      {
        epoch: 0n,
        batchHash: proposed.args[4] as Hex,
        submitter: forwarder,
        feeTotal: proposed.args[7] as bigint,
      },
    ]);
    expect(await bondsOf(env, forwarder)).toBe(m.bond);
    await expectRevert(
      callFrom(env, deployer, forwarder, iface.encodeFunctionData("claimBonds")),
      "BondTransferFailed",
      { to: forwarder, amount: m.bond },
    );
    expect(await bondsOf(env, forwarder)).toBe(m.bond); // the failed claim changed nothing
    // An account that accepts ether: paid once.
    const me = dev(3);
    const owed = await bondsOf(env, me);
    if (owed === 0n) {
      await expectRevert(
        callFrom(env, me, env.settlement, iface.encodeFunctionData("claimBonds")),
        "NothingToClaim",
        {
          account: me,
        },
      );
    } else {
      const rc = await txFrom(env, me, env.settlement, iface.encodeFunctionData("claimBonds"));
      const ev = rc.logs.map((l) => iface.parseLog(l)).find((e) => e?.name === "BondsClaimed")!;
      expect([(ev.args[0] as string).toLowerCase(), ev.args[1]]).toEqual([me, owed]);
      expect(await bondsOf(env, me)).toBe(0n);
      await expectRevert(
        callFrom(env, me, env.settlement, iface.encodeFunctionData("claimBonds")),
        "NothingToClaim",
        {
          account: me,
        },
      );
    }
  });
});

// ================================================================ defensive checks (harness)

describe("the effects' defensive checks (reachable only with injected collateral)", () => {
  it("InsufficientCollateral names the trader, asset, need and availability", async () => {
    const art = JSON.parse(
      readFileSync(new URL("../contracts/artifacts/CertifyHarness.json", import.meta.url), "utf8"),
    ) as { abi: unknown[]; bytecode: Hex };
    const harnessIface = new Interface(art.abi as never);
    const deployed = await txFrom(env, outsider(1), null, art.bytecode);
    const harness = deployed.contractAddress!.toLowerCase() as Hex;
    const now = await latestTimestamp(env.provider);
    const spec = {
      genesisTimeS: now + 1n,
      epochLengthS: 1000n,
      feeBps: 0n,
      bondWei: 0n,
      challengeWindowS: 400n,
      minQuantity: 1n,
    };
    await txFrom(
      env,
      outsider(1),
      harness,
      harnessIface.encodeFunctionData("createMarket", [
        env.base,
        env.quote,
        spec.genesisTimeS,
        1000n,
        0n,
        0n,
        400n,
        1n,
      ]),
    );
    const id = marketIdOf(env.base, env.quote, spec);
    const [buyer, seller] = makeTraders(2, "defensive");
    for (const [t, token, asset, amount] of [
      [buyer!, env.quote, Asset.QUOTE, 999n],
      [seller!, env.base, Asset.BASE, 10n],
    ] as const) {
      await txFrom(env, t.address, token, testTokenInterface.encodeFunctionData("mint", [t.address, amount]));
      await txFrom(
        env,
        t.address,
        token,
        testTokenInterface.encodeFunctionData("approve", [harness, amount]),
      );
      await txFrom(env, t.address, harness, harnessIface.encodeFunctionData("deposit", [id, asset, amount]));
    }
    const separator = domainSeparator(makeDomain(env.chainId, harness));
    const book = [
      makeOrder(id, 0n, { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 100n }, separator),
      makeOrder(id, 0n, { trader: seller!, side: "sell", quantity: 10n, limitPrice: 100n }, separator),
    ];
    // The buyer's collateral injected as 2000 (an order may need half of it, 1000; it holds 999): certified,
    // and the debit finds 999. The seller's as 20 (it holds 10, all its order needs).
    const injected = new Map<Hex, Collateral>([
      [buyer!.address, { base: 0n, quote: 2000n }],
      [seller!.address, { base: 20n, quote: 0n }],
    ]);
    const sel = selectBatch({
      market: id,
      epoch: 0n,
      domainSeparator: separator,
      orders: book.map((x) => x.order),
      collateral: lookupOf(injected),
    });
    if (sel.outcome !== "batch") throw new Error("no trade");
    await mineBlock(env.provider, spec.genesisTimeS + 1001n);
    const batch = bytesToHex(sel.bytes);
    const me = dev(1);
    await txFrom(env, me, harness, iface.encodeFunctionData("commit", [id, commitmentOf(id, 0n, batch, me)]));
    const data = harnessIface.encodeFunctionData("injectAndCall", [
      [buyer!.address, seller!.address],
      [0n, 20n],
      [2000n, 0n],
      proposeData(id, 0n, batch),
    ]);
    await expectRevert(callFrom(env, me, harness, data), "InsufficientCollateral", {
      trader: buyer!.address,
      asset: 1n,
      needed: 1000n,
      available: 999n,
    });
  });
});

// ================================================================ certification = clear(), at random

/**
 * Thousands of random books certified by the contract's own code (CertifyHarness: SmartMarket with the
 * coverage reads injected, one eth_call per book) against clearing/coverage.ts + clearing/clear.ts: ties,
 * amounts up to 2^111 (half a 112-bit collateral), traders with several orders of a side (trader-cap),
 * partial coverage. The whole book is the batch (with batch.ts's header), and every fourth book also
 * batch.ts's minimal selection; a neighbouring price must revert. SMARTMARKET_LONG_PROPERTIES=1 runs twenty times as many books.
 */
describe("certification equals clear() on random books (CertifyHarness, injected collateral)", () => {
  const LONG = process.env.SMARTMARKET_LONG_PROPERTIES === "1";
  const BOOKS = LONG ? 40_000 : 2_000;
  const MAX = (1n << 112n) - 1n;
  const HALF = MAX / 2n;
  const FEES = [0n, 7n, 1000n] as const;
  const TRADERS = makeTraders(6, "certify-clear");
  let harness: Hex;
  let hIface: Interface;
  let separator: Uint8Array;
  const markets = new Map<bigint, Hex>();

  beforeAll(async () => {
    const art = JSON.parse(
      readFileSync(new URL("../contracts/artifacts/CertifyHarness.json", import.meta.url), "utf8"),
    ) as { abi: unknown[]; bytecode: Hex };
    hIface = new Interface(art.abi as never);
    harness = (await txFrom(env, outsider(7), null, art.bytecode)).contractAddress!.toLowerCase() as Hex;
    separator = domainSeparator(makeDomain(env.chainId, harness));
    for (const feeBps of FEES) {
      const spec = {
        genesisTimeS: 1n,
        epochLengthS: 100n,
        feeBps,
        bondWei: 0n,
        challengeWindowS: 10n,
        minQuantity: 1n,
      };
      const data = hIface.encodeFunctionData("createMarket", [
        env.base,
        env.quote,
        1n,
        100n,
        feeBps,
        0n,
        10n,
        1n,
      ]);
      await txFrom(env, outsider(7), harness, data);
      markets.set(feeBps, marketIdOf(env.base, env.quote, spec));
    }
  });

  type Amounts = "ties" | "spread" | "huge";
  // An order's (quantity, limit). Buys' limits lean higher than sells' so that most books trade; huge
  // amounts reach 2^111, the most one order may need of a 112-bit collateral (half of it): a sell's quantity
  // (it needs that much BASE), a buy's quantity x limit (QUOTE).
  const orderArb = (kind: Amounts, buy: boolean): fc.Arbitrary<{ quantity: bigint; limit: bigint }> => {
    if (kind === "ties")
      return fc.record({
        quantity: fc.bigInt({ min: 1n, max: 4n }),
        limit: fc.bigInt({ min: 8n, max: 12n }),
      });
    if (kind === "spread") {
      return fc.record({
        quantity: fc.bigInt({ min: 1n, max: 1_000_000n }),
        limit: fc.bigInt({ min: buy ? 300n : 1n, max: buy ? 1000n : 700n }),
      });
    }
    const limit = fc.oneof(
      fc.bigInt({ min: 1n, max: 1n << 60n }),
      fc.bigInt({ min: 8n, max: 12n }).map((x) => x << 50n),
      fc.bigInt({ min: 1n, max: 3n }),
    );
    if (!buy)
      return fc.record({ quantity: fc.oneof(fc.bigInt({ min: 1n, max: HALF }), fc.constant(HALF)), limit });
    return limit.chain((l) =>
      fc.record({
        quantity: fc.oneof(fc.bigInt({ min: 1n, max: HALF / l }), fc.constant(HALF / l)),
        limit: fc.constant(l),
      }),
    );
  };
  const coverageArb = fc.oneof(
    { weight: 3, arbitrary: fc.constant(-1) },
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 1000 }) },
  );
  const bookArb = fc
    .record({
      amounts: fc.constantFrom<Amounts>("ties", "spread", "huge"),
      traders: fc.integer({ min: 1, max: TRADERS.length }),
    })
    .chain(({ amounts, traders }) =>
      fc.record({
        orders: fc.array(
          fc.boolean().chain((buy) =>
            fc.record({
              trader: fc.integer({ min: 0, max: traders - 1 }),
              buy: fc.constant(buy),
              amounts: orderArb(amounts, buy),
            }),
          ),
          { minLength: 2, maxLength: 16, size: "medium" },
        ),
        // Per trader and asset: plenty, none, or a per-mille fraction of twice what its largest order needs
        // (an order is covered by at most half the collateral).
        coverage: fc.array(fc.tuple(coverageArb, coverageArb), {
          minLength: TRADERS.length,
          maxLength: TRADERS.length,
        }),
        fee: fc.constantFrom(...FEES),
      }),
    );

  it(`${BOOKS} books: price, volume, every fill, result hash, fee and batch hash`, {
    timeout: LONG ? 3_600_000 : 120_000,
  }, async () => {
    const seenOutcomes = { trades: 0, noTrade: 0, partial: 0, rationed: 0 };
    await fc.assert(
      fc.asyncProperty(bookArb, async (book) => {
        const market = markets.get(book.fee)!;
        const signed = book.orders.map((o, i) =>
          makeOrder(
            market,
            3n,
            {
              trader: TRADERS[o.trader]!,
              side: o.buy ? "buy" : "sell",
              quantity: o.amounts.quantity,
              limitPrice: o.amounts.limit,
              nonce: BigInt(i),
            },
            separator,
          ),
        );
        const need = new Map<Hex, { base: bigint; quote: bigint }>();
        for (const { order } of signed) {
          const n = need.get(order.trader) ?? { base: 0n, quote: 0n };
          const x = 2n * (order.side === "buy" ? order.quantity * order.limitPrice : order.quantity);
          if (order.side === "buy" && x > n.quote) n.quote = x;
          if (order.side === "sell" && x > n.base) n.base = x;
          need.set(order.trader, n);
        }
        const table = new Map<Hex, Collateral>();
        const amount = (rule: number, total: bigint) => {
          const x = rule < 0 ? MAX : (total * BigInt(rule)) / 1000n;
          return x > MAX ? MAX : x;
        };
        for (const [i, t] of TRADERS.entries()) {
          const n = need.get(t.address) ?? { base: 0n, quote: 0n };
          const [b, q] = book.coverage[i]!;
          table.set(t.address, { base: amount(b, n.base), quote: amount(q, n.quote) });
        }
        const orders = sortById(signed);
        const { covered } = applyCoverage(
          orders.map((x) => ({ ...x.order, id: x.id })),
          (t) => table.get(t)!,
        );
        if (covered.length < orders.length) seenOutcomes.partial++;
        const expected = clear(covered, { market, epoch: 3n });
        const call = (bytes: Hex) =>
          callFrom(
            env,
            outsider(7),
            harness,
            hIface.encodeFunctionData("certifyWith", [
              market,
              3n,
              bytes,
              TRADERS.map((t) => t.address),
              TRADERS.map((t) => table.get(t.address)!.base),
              TRADERS.map((t) => table.get(t.address)!.quote),
            ]),
          );
        if (expected.price === null) {
          seenOutcomes.noTrade++;
          const zero = {
            better: 0n,
            equal: 0n,
            betterEdge: 0n,
            worseEdge: 0n,
            remainder: 0n,
            id: `0x${"00".repeat(32)}` as Hex,
          };
          const err = await revertOf(
            call(
              encodeBatch(
                { price: 1n, buy: { ...zero, ...NO_CUT.buy }, sell: { ...zero, ...NO_CUT.sell } },
                orders,
              ),
            ),
          );
          expect(err.errorName).toBe("NoTrade");
          return;
        }
        seenOutcomes.trades++;
        const sel = selectBatch({
          market,
          epoch: 3n,
          domainSeparator: separator,
          orders: signed.map((x) => x.order),
          collateral: lookupOf(table),
        });
        if (sel.outcome !== "batch") throw new Error("selectBatch disagrees with clear()");
        const fillOf = new Map(expected.fills.map((f) => [f.id, f.quantity]));
        const price = expected.price;
        if (sel.header.buy.equal > 0n || sel.header.sell.equal > 0n) seenOutcomes.rationed++;
        const lists = [orders, ...(seenOutcomes.trades % 4 === 0 ? [sel.orders as IdentifiedOrder[]] : [])];
        // A neighbouring price never certifies. The calls of a book go in one JSON-RPC batch.
        const neighbour = seenOutcomes.trades % 2 === 0 || price === 1n ? price + 1n : price - 1n;
        const [wrong, ...results] = await Promise.all([
          neighbour < 1n << 128n
            ? revertOf(call(encodeBatch(withPrice(sel.header, neighbour), orders)))
            : null,
          ...lists.map(async (list) => {
            const bytes = encodeBatch(sel.header, list);
            return { list, bytes, ret: await call(bytes) };
          }),
        ]);
        expect(wrong === null || wrong.errorName.length > 0).toBe(true);
        for (const { list, bytes, ret } of results) {
          const [p, v, fills, resultHash, feeTotal, batchHash] = hIface.decodeFunctionResult(
            "certifyWith",
            ret,
          );
          expect(p).toBe(price);
          expect(v).toBe(expected.volume);
          const want = list.map((x) => fillOf.get(x.id) ?? 0n);
          expect([...(fills as bigint[])]).toEqual(want);
          expect((resultHash as string).toLowerCase()).toBe(expected.resultHash);
          const fee = list.reduce(
            (sum, x, k) => (x.order.side === "sell" ? sum + (want[k]! * price * book.fee) / 10_000n : sum),
            0n,
          );
          expect(feeTotal).toBe(fee);
          expect((batchHash as string).toLowerCase()).toBe(keccak256(bytes));
        }
      }),
      { numRuns: BOOKS, seed: 20_260_201, endOnFailure: true },
    );
    // The generator reaches every case.
    expect(seenOutcomes.trades).toBeGreaterThan(BOOKS * 0.45);
    expect(seenOutcomes.noTrade).toBeGreaterThan(0);
    expect(seenOutcomes.partial).toBeGreaterThan(BOOKS / 10);
    expect(seenOutcomes.rationed).toBeGreaterThan(BOOKS / 10);
  });
});

// ================================================================ issue 10: dust (the bounds of docs/clearing.md)

describe("issue 10: minimum size, per-trader cap, side cap, batch bounds", () => {
  const o = (m: MarketV2, t: Trader, side: "buy" | "sell", q: bigint, l: bigint, nonce = 1n) =>
    makeOrder(m.id, 0n, { trader: t, side, quantity: q, limitPrice: l, nonce }, env.separator);
  /** The TS mirror of the contract's certify(), for the same batch. */
  const tsCertify = (
    m: MarketV2,
    collateral: ReadonlyMap<Hex, Collateral>,
    batch: Hex,
  ): ReturnType<typeof certifyBatchBytes> =>
    certifyBatchBytes(
      {
        market: m.id,
        epoch: 0n,
        domainSeparator: env.separator,
        collateral: lookupOf(collateral),
        feeBps: m.feeBps,
        minQuantity: m.minQuantity,
      },
      batch,
    );
  /** The contract's and certify.ts's failure of `batch`: the same error, the same arguments. */
  async function bothReject(
    m: MarketV2,
    collateral: ReadonlyMap<Hex, Collateral>,
    batch: Hex,
    name: string,
    args: Record<string, unknown>,
  ): Promise<void> {
    await expectRevert(certify(env, m.id, 0n, batch), name, args);
    let caught: unknown;
    try {
      tsCertify(m, collateral, batch);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CertificationError);
    expect((caught as CertificationError).code).toBe(name);
    expect((caught as CertificationError).args).toEqual(args);
  }
  const readMany = async (m: MarketV2, traders: readonly Trader[]): Promise<Map<Hex, Collateral>> => {
    const ret = await callFrom(
      env,
      outsider(9),
      env.settlement,
      iface.encodeFunctionData("collateralOfMany", [m.id, traders.map((t) => t.address), 0n]),
    );
    const [base, quote] = iface.decodeFunctionResult("collateralOfMany", ret) as unknown as [
      bigint[],
      bigint[],
    ];
    return new Map(traders.map((t, i) => [t.address, { base: base[i]!, quote: quote[i]! }]));
  };

  it("the bounds are the contract's public constants, the same as clearing/limits.ts", async () => {
    const read = async (fn: string) =>
      iface.decodeFunctionResult(
        fn,
        await callFrom(env, dev(0), env.settlement, iface.encodeFunctionData(fn, [])),
      )[0];
    expect(await read("MAX_ORDERS_PER_TRADER_SIDE")).toBe(MAX_ORDERS_PER_TRADER_SIDE);
    expect(await read("MAX_KEPT_PER_SIDE")).toBe(MAX_KEPT_PER_SIDE);
    expect(await read("MAX_BATCH_ORDERS")).toBe(MAX_BATCH_ORDERS);
    expect(await read("MAX_UNION_ORDERS")).toBe(MAX_UNION_ORDERS);
    expect([MAX_ORDERS_PER_TRADER_SIDE, MAX_KEPT_PER_SIDE, MAX_BATCH_ORDERS, MAX_UNION_ORDERS]).toEqual([
      2n,
      64n,
      128n,
      512n,
    ]);
    // The old per-trader constant is gone from the ABI.
    expect(iface.getFunction("MAX_KEPT_PER_TRADER")).toBeNull();
    // 512 entries and two headers: 65,888 bytes, half the 128 KiB a public mempool accepts.
    expect(512 * 127 + 2 * 432).toBe(65_888);
    expect(512 * 127 + 2 * 432).toBeLessThan(128 * 1024);
  });

  it("OrderBelowMinimum: an order below the market's minQuantity, in a proposal, certify() and a union", async () => {
    const m = await newMarket(env, { minQuantity: 5n });
    expect((await clientFor(env, env.anvil.accounts[1]!.privateKey).getMarket(m.id)).minQuantity).toBe(5n);
    const [b1, s1, b2] = makeTraders(3, "below-minimum");
    await fundAll(m.id, [b1!, s1!, b2!]);
    const good = [o(m, b1!, "buy", 5n, 10n), o(m, s1!, "sell", 5n, 8n)];
    const dust = o(m, b2!, "buy", 4n, 12n);
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, [...good, dust]);
    const honest = selectTrading(env, m.id, 0n, good, collateral);
    // The dust order, put in the honest batch at its id's place: the pass names it.
    const orders = sortById([...honest.orders, dust]);
    const index = BigInt(orders.findIndex((x) => x.id === dust.id));
    const batch = encodeBatch(honest.header, orders);
    await bothReject(m, collateral, batch, "OrderBelowMinimum", { index, quantity: 4n, minQuantity: 5n });
    await expectRevert(proposeCall(dev(1), m, 0n, batch), "OrderBelowMinimum", {
      index,
      quantity: 4n,
      minQuantity: 5n,
    });
    // After MalformedOrder: a quantity of 0 is MalformedOrder, not below the minimum.
    const zero = encodeBatch(honest.header, sortById([...honest.orders, o(m, b2!, "buy", 0n, 12n)]));
    expect((await revertOf(certify(env, m.id, 0n, zero))).errorName).toBe("MalformedOrder");
    // The honest batch stands; a union adding the dust order reverts with it too (index in the union).
    const standing = await propose(env, dev(1), m, 0n, bytesToHex(honest.bytes));
    const union = encodeUnion(
      honest.header,
      honest.header,
      orders.map((x) => ({ order: x, standing: x.id !== dust.id })),
    );
    await expectRevert(challengeCall(dev(2), m, 0n, standing.submitter, union), "OrderBelowMinimum", {
      index,
      quantity: 4n,
      minQuantity: 5n,
    });
  });

  // The per-(trader, side) rule (docs/clearing.md, "Bounds"; issue 10, "a standing batch that cannot be
  // challenged"). Attack it defeats: with a running total and a count of kept orders per trader, an order's
  // kept status depended on every smaller kept order of its trader, so a standing batch that carried, for
  // ~100 funded wallets, a large-id order without the wallet's smaller ones could only be challenged by a
  // union carrying all of those (> 512 orders): unchallengeable. Now only the first two orders of a (trader,
  // side) can be kept, funded or not, each with at most half the collateral.
  it("a trader's 3rd buy is excluded (trader-cap) even when its first two are unfunded: fill 0 though it crosses and is covered", async () => {
    const m = await newMarket(env);
    const [x, y, seller] = makeTraders(3, "third-buy");
    await fund(env, m.id, [
      { trader: x!, asset: Asset.QUOTE, amount: 200n },
      { trader: y!, asset: Asset.QUOTE, amount: 200n },
      { trader: seller!, asset: Asset.BASE, amount: 40n },
    ]);
    // X's first two buys (by id) need 1,000 QUOTE each, more than half its 200: excluded (collateral). Its
    // third needs 5 × 20 = 100, exactly half, and crosses: on the old contract (count of kept orders,
    // running total) it was kept and filled.
    const firsts = sortById([o(m, x!, "buy", 100n, 10n, 1n), o(m, x!, "buy", 100n, 10n, 2n)]);
    let third = o(m, x!, "buy", 5n, 20n, 3n);
    for (let n = 4n; third.id < firsts[1]!.id; n++) third = o(m, x!, "buy", 5n, 20n, n);
    const buy = o(m, y!, "buy", 5n, 15n);
    const sell = o(m, seller!, "sell", 10n, 10n);
    const all = [...firsts, third, buy, sell];
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, all);
    const honest = selectTrading(env, m.id, 0n, all, collateral);
    expect(honest.excluded.map((e) => [e.order.id, e.reason])).toEqual([
      [firsts[0]!.id, "collateral"],
      [firsts[1]!.id, "collateral"],
      [third.id, "trader-cap"],
    ]);
    expect(honest.clearing.volume).toBe(5n);
    expect(honest.clearing.fills.map((f) => f.id)).not.toContain(third.id);
    // Every order in one batch: the contract counts X's buys and leaves the third out.
    const batch = encodeBatch(honest.header, sortById(all));
    const c = await certify(env, m.id, 0n, batch);
    expect(c.fills[sortById(all).findIndex((q) => q.id === third.id)]).toBe(0n);
    expect(c.resultHash).toBe(honest.clearing.resultHash);
    expect(tsCertify(m, collateral, batch).resultHash).toBe(c.resultHash);
    // Without its two smaller siblings it is X's first buy: kept, and it fills.
    const alone = selectTrading(env, m.id, 0n, [third, buy, sell], collateral);
    const c2 = await certify(env, m.id, 0n, bytesToHex(alone.bytes));
    expect(c2.fills[alone.orders.findIndex((q) => q.id === third.id)]).toBe(5n);
    expect(c2.resultHash).toBe(alone.clearing.resultHash);
  });

  it("an order needing more than half its trader's collateral is excluded (collateral); two buys needing exactly half each are both kept", async () => {
    const m = await newMarket(env);
    const [z, w, s1, s2] = makeTraders(4, "half-collateral");
    // Odd collateral: the share is rounded down, 41 / 2 = 20 QUOTE and 9 / 2 = 4 BASE.
    await fund(env, m.id, [
      { trader: z!, asset: Asset.QUOTE, amount: 41n },
      { trader: w!, asset: Asset.QUOTE, amount: 41n },
      { trader: s1!, asset: Asset.BASE, amount: 9n },
      { trader: s2!, asset: Asset.BASE, amount: 20n },
    ]);
    const z1 = o(m, z!, "buy", 1n, 20n, 1n); // needs 20: kept
    const z2 = o(m, z!, "buy", 1n, 20n, 2n); // needs 20: kept too (40 <= 41 by construction)
    const w1 = o(m, w!, "buy", 1n, 21n); // needs 21 > 20: excluded (the old running total kept it)
    const big = o(m, s1!, "sell", 5n, 10n); // needs 5 BASE > 4: excluded
    const small = o(m, s2!, "sell", 4n, 10n); // needs 4 of 10: kept
    const all = [z1, z2, w1, big, small];
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, all);
    const honest = selectTrading(env, m.id, 0n, all, collateral);
    expect(honest.excluded.map((e) => [e.order.id, e.reason, e.needed])).toEqual(
      sortById([w1, big]).map((q) => [q.id, "collateral", q.id === w1.id ? 21n : 5n]),
    );
    expect(honest.kept.map((q) => q.id)).toEqual(sortById([z1, z2, small]).map((q) => q.id));
    expect(honest.clearing.volume).toBe(2n);
    const orders = sortById(all);
    const batch = encodeBatch(honest.header, orders);
    const c = await certify(env, m.id, 0n, batch);
    const fillOf = (q: IdentifiedOrder) => c.fills[orders.findIndex((x) => x.id === q.id)];
    expect([fillOf(z1), fillOf(z2), fillOf(w1), fillOf(big), fillOf(small)]).toEqual([1n, 1n, 0n, 0n, 2n]);
    expect(c.resultHash).toBe(honest.clearing.resultHash);
    expect(tsCertify(m, collateral, batch).resultHash).toBe(c.resultHash);
    // A proposal of the whole set applies the rule too, and its effects fit Z's collateral.
    const p = await propose(env, dev(1), m, 0n, batch);
    expect(p.resultHash).toBe(honest.clearing.resultHash);
    expect((await escrowOf(env, m.id, z!.address, Asset.QUOTE)).free).toBe(41n - 2n * p.price);
  });

  it("a challenge with flag-0 entries: a standing batch carrying a trader's 3rd buy without its two smaller ones is replaced; the 3rd buy no longer fills", async () => {
    const m = await newMarket(env, { bondWei: 10n ** 16n });
    const [t, b, w, seller] = makeTraders(4, "flag-zero");
    await fund(env, m.id, [
      { trader: t!, asset: Asset.QUOTE, amount: 200n },
      { trader: b!, asset: Asset.QUOTE, amount: 150n },
      { trader: w!, asset: Asset.QUOTE, amount: 100n },
      { trader: seller!, asset: Asset.BASE, amount: 20n },
    ]);
    // T's two smaller buys are kept (1 at 1 each: worse, far below the price; W's buy at 9 realises the
    // worse edge, so the honest certificate does not carry them). T's 3rd buy (largest id) crosses.
    const firsts = sortById([o(m, t!, "buy", 1n, 1n, 1n), o(m, t!, "buy", 1n, 1n, 2n)]);
    let third = o(m, t!, "buy", 5n, 20n, 3n);
    for (let n = 4n; third.id < firsts[1]!.id; n++) third = o(m, t!, "buy", 5n, 20n, n);
    const buy = o(m, b!, "buy", 5n, 15n);
    const edge = o(m, w!, "buy", 1n, 9n);
    const sell = o(m, seller!, "sell", 10n, 10n);
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, [...firsts, third, buy, edge, sell]);
    // The attacker's proposal: T's 3rd buy without its siblings is T's first: kept, it fills.
    const attack = selectTrading(env, m.id, 0n, [third, buy, edge, sell], collateral);
    expect(attack.clearing.fills.map((f) => f.id)).toContain(third.id);
    const standing = await propose(env, dev(1), m, 0n, bytesToHex(attack.bytes));
    const quoteAfterAttack = (await escrowOf(env, m.id, t!.address, Asset.QUOTE)).free;
    expect(quoteAfterAttack).toBe(200n - 5n * standing.price);
    // The honest clearing of every order: T's 3rd buy is excluded (trader-cap); its certificate is the
    // standing batch without it.
    const honest = selectTrading(env, m.id, 0n, [...firsts, third, buy, edge, sell], collateral);
    expect(honest.excluded.map((e) => [e.order.id, e.reason])).toEqual([[third.id, "trader-cap"]]);
    expect(honest.orders.map((q) => q.id)).toEqual(
      attack.orders.filter((q) => q.id !== third.id).map((q) => q.id),
    );
    // The union: the standing batch (T's 3rd buy dropped from the new batch: flag 1; the others flag 3) and
    // T's two smaller buys in the union only (flag 0), which exclude the 3rd. The new batch is the honest
    // certificate. (The old contract reverted MalformedBatch on the first flag 0.)
    const standingIds = new Set(attack.orders.map((q) => q.id));
    const entries = sortById([...attack.orders, ...firsts]).map((q) => ({
      order: q,
      standing: standingIds.has(q.id),
      flag: q.id === third.id ? 1 : standingIds.has(q.id) ? 3 : 0,
    }));
    expect(entries.filter((e) => e.flag === 0).length).toBe(2);
    const union = encodeUnion(attack.header, honest.header, entries);
    // A flag-0 entry's signature is checked in the union's pass, like an added order's (flag 2).
    const forged = { ...firsts[0]!, order: signWith(firsts[0]!.order, b!.privateKey, env.separator).order };
    const withForged = entries.map((e) => (e.order.id === forged.id ? { ...e, order: forged } : e));
    await expectRevert(
      challengeCall(dev(2), m, 0n, dev(1), encodeUnion(attack.header, honest.header, withForged)),
      "InvalidSigner",
      {
        index: BigInt(entries.findIndex((e) => e.order.id === forged.id)),
        orderId: forged.id,
        recovered: b!.address,
        trader: t!.address,
      },
    );
    // Found in review: with flags 0 and 1 only (every standing order dropped, the added ones in the union
    // only) the new batch has no order; it would stand as a record that no later challenge can present,
    // so an attacker who proposes and challenges in one block at the close froze the epoch's result. The
    // contract refuses it with the flags (MalformedBatch); it accepted it before.
    // (Checked with the flags, before any certification: the union header does not matter.)
    const emptyNew = encodeUnion(
      attack.header,
      honest.header,
      entries.map((e) => ({ ...e, flag: e.flag === 3 ? 1 : e.flag })),
    );
    await expectRevert(challengeCall(dev(2), m, 0n, dev(1), emptyNew), "MalformedBatch", {
      length: BigInt((emptyNew.length - 2) / 2),
    });
    const replaced = await challenge(env, dev(2), m, 0n, dev(1), union);
    expect(replaced.resultHash).toBe(honest.clearing.resultHash);
    expect(replaced.resultHash).not.toBe(standing.resultHash);
    expect(replaced.replaced).toBe(dev(1));
    // The new standing batch is the honest certificate (flags 2 and 3 under the union header).
    expect(replaced.batchHash).toBe(honest.batchHash);
    expect(await recordOnChain(env, m.id, 0n)).toBe(recordOf(honest.batchHash, dev(2), replaced.feeTotal));
    // T's 3rd buy no longer fills: its payment was undone, nothing else of T's fills.
    expect((await escrowOf(env, m.id, t!.address, Asset.QUOTE)).free).toBe(200n);
    expect((await escrowOf(env, m.id, t!.address, Asset.BASE)).free).toBe(0n);
    expect((await escrowOf(env, m.id, b!.address, Asset.BASE)).free).toBe(5n);
  });

  it("SideOverCap and CapNotTight: only the rule's threshold (exactly the top 64 of a cut side) certifies", async () => {
    const m = await newMarket(env);
    const buyers = makeTraders(33, "side-cap-buyers");
    const [seller] = makeTraders(1, "side-cap-seller");
    await fundAll(m.id, [...buyers, seller!]);
    // 65 kept buys (2 per trader at limits 101..132, and one at 100), one sell of 30 at 90: the buy side
    // is cut to 64, the buy at 100 is out.
    const buys = buyers.flatMap((t, i) =>
      i < 32 ? [0n, 1n].map((n) => o(m, t, "buy", 1n, 101n + BigInt(i), n)) : [o(m, t, "buy", 1n, 100n)],
    );
    const sell = o(m, seller!, "sell", 30n, 90n);
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, [...buys, sell]);
    const honest = selectTrading(env, m.id, 0n, [...buys, sell], collateral);
    expect(honest.cut.map((x) => x.order.limitPrice)).toEqual([100n]);
    expect(honest.header.buy.capLimit).toBe(101n); // the last in: the larger id of the two at 101
    expect(honest.header.sell).toMatchObject(NO_CUT.sell);
    const c = await certify(env, m.id, 0n, bytesToHex(honest.bytes));
    expect(c.resultHash).toBe(honest.clearing.resultHash);
    // Every kept buy with a threshold that cuts nothing: 65 in.
    const everything = sortById([...buys, sell]);
    await bothReject(
      m,
      collateral,
      encodeBatch(tweak(honest.header, "buy", NO_CUT.buy), everything),
      "SideOverCap",
      {
        side: 0n,
        count: 65n,
        max: 64n,
      },
    );
    // A threshold one order higher cuts an order that the rule keeps in: 63 in, one cut.
    const ranked = honest.orders
      .filter((q) => q.order.side === "buy")
      .sort((a, b) =>
        a.order.limitPrice !== b.order.limitPrice
          ? a.order.limitPrice > b.order.limitPrice
            ? -1
            : 1
          : a.id < b.id
            ? -1
            : 1,
      );
    const tighter = ranked[62]!;
    await bothReject(
      m,
      collateral,
      encodeBatch(
        tweak(honest.header, "buy", { capLimit: tighter.order.limitPrice, capId: tighter.id }),
        honest.orders,
      ),
      "CapNotTight",
      { side: 0n, count: 63n, max: 64n },
    );
    // A small book: a threshold that cuts its worst buy while 2 are in.
    const m2 = await newMarket(env);
    const [p, q, r, s] = makeTraders(4, "cap-not-tight");
    await fundAll(m2.id, [p!, q!, r!, s!]);
    const small = [
      o(m2, p!, "buy", 1n, 30n),
      o(m2, q!, "buy", 1n, 20n),
      o(m2, r!, "buy", 1n, 10n),
      o(m2, s!, "sell", 3n, 5n),
    ];
    await moveToEpoch(env, m2, 1n);
    const c2 = await readCollateral(env, m2.id, 0n, small);
    const sel = selectTrading(env, m2.id, 0n, small, c2);
    expect(sel.orders.length).toBe(4);
    await bothReject(
      m2,
      c2,
      encodeBatch(tweak(sel.header, "buy", { capLimit: 20n, capId: small[1]!.id }), sel.orders),
      "CapNotTight",
      { side: 0n, count: 2n, max: 64n },
    );
  });

  it("the dust flood: 900 + 900 crossing 1-unit orders certify to 64 a side; the node's proposal fits; BatchTooLarge past 128 and 512; challenges by priority", async () => {
    const m = await newMarket(env, { bondWei: 10n ** 16n });
    const buyers = makeTraders(225, "flood-buyers");
    const sellers = makeTraders(225, "flood-sellers");
    // Two more buyers the proposer does not hear from: one posts below the cut, one above the best.
    const [lowTrader, highTrader] = makeTraders(2, "flood-late");
    await fund(env, m.id, [
      ...[...buyers, lowTrader!, highTrader!].map((t) => ({ trader: t, asset: Asset.QUOTE, amount: 1000n })),
      ...sellers.map((t) => ({ trader: t, asset: Asset.BASE, amount: 10n })),
    ]);
    // Each trader posts 4 orders of one side: only its 2 smallest ids can be kept (the other 2: trader-cap).
    // The first 32 of each side post all four at the best limit (2 kept each: 64 a side at the best limit),
    // the others at poorer limits: every kept order is covered, the side cap cuts all but the 64 best.
    const flood: IdentifiedOrder[] = [];
    const post = (t: Trader, side: "buy" | "sell", i: number) => {
      const best = side === "buy" ? 200n : 50n;
      const poor = (j: number) =>
        side === "buy" ? 150n + BigInt((i * 7 + j) % 50) : 51n + BigInt((i * 7 + j) % 50);
      for (const j of [0, 1, 2, 3]) flood.push(o(m, t, side, 1n, i < 32 ? best : poor(j), BigInt(j)));
    };
    for (const [i, t] of buyers.entries()) post(t, "buy", i);
    for (const [i, t] of sellers.entries()) post(t, "sell", i);
    expect(flood.length).toBe(1800);
    const lowOrder = o(m, lowTrader!, "buy", 1n, 150n);
    const highOrder = o(m, highTrader!, "buy", 1n, 250n);
    await moveToEpoch(env, m, 1n);
    const collateral = await readMany(m, [...buyers, ...sellers, lowTrader!, highTrader!]);
    const sel = selectTrading(env, m.id, 0n, flood, collateral);
    expect(sel.kept.length).toBe(900);
    expect(sel.excluded.length).toBe(900);
    expect(sel.excluded.every((e) => e.reason === "trader-cap")).toBe(true);
    expect(sel.cut.length).toBe(900 - 128);
    expect(sel.clearing.fills.length).toBe(128);
    expect(sel.clearing.volume).toBe(64n);
    // The certificate is the in-orders: 64 + 64 = 128 orders, MAX_BATCH_ORDERS.
    expect(sel.orders.length).toBe(128);
    const c = await certify(env, m.id, 0n, bytesToHex(sel.bytes));
    expect(c.resultHash).toBe(sel.clearing.resultHash);
    expect(c.fills.filter((f) => f > 0n).length).toBe(128);
    expect(tsCertify(m, collateral, bytesToHex(sel.bytes)).resultHash).toBe(c.resultHash);
    // Past the bounds: checked with the length, before the commitment (no commit made for these).
    const zeros = (n: number) => `0x${"00".repeat(432 + 126 * n)}` as Hex;
    await expectRevert(
      callFrom(env, dev(3), env.settlement, proposeData(m.id, 0n, zeros(129)), m.bond),
      "BatchTooLarge",
      { orders: 129n, max: 128n },
    );
    await expectRevert(certify(env, m.id, 0n, zeros(129)), "BatchTooLarge", { orders: 129n, max: 128n });
    // 128 orders pass the length check (the zero header then fails its first check).
    await expectRevert(certify(env, m.id, 0n, zeros(128)), "PriceOutOfRange", { price: 0n });
    // The node's proposal: the whole 64 + 64 certificate, 128 orders.
    const proposal = await propose(env, dev(1), m, 0n, bytesToHex(sel.bytes));
    expect(proposal.resultHash).toBe(sel.clearing.resultHash);
    expect(proposal.gasUsed).toBeLessThan(5_000_000n);
    const unionOf = (n: number) => `0x${"00".repeat(2 * 432 + 127 * n)}` as Hex;
    const challengeRaw = (union: Hex) =>
      callFrom(env, dev(3), env.settlement, challengeData(m.id, 0n, dev(1), union), m.bond);
    await expectRevert(challengeRaw(unionOf(513)), "BatchTooLarge", { orders: 513n, max: 512n });
    expect((await revertOf(challengeRaw(unionOf(512)))).errorName).toBe("NotCommitted");

    // A lower-priority order added to the full standing batch: cut by the standing threshold, same result.
    const standing = { header: sel.header, orders: sel.orders, resultHash: proposal.resultHash };
    const nodeInput = (extra: readonly IdentifiedOrder[]) => ({
      market: m.id,
      epoch: 0n,
      domainSeparator: env.separator,
      orders: [...flood, ...extra].map((x) => x.order),
      collateral: lookupOf(collateral),
    });
    // The node does not even try: the cut order is no part of the union's certificate.
    expect(selectChallenge(nodeInput([lowOrder]), standing).outcome).toBe("no-new-orders");
    // (128 standing orders, and the added one in the union only, flag 0, so that the new batch stays at 128;
    // ResultUnchanged comes before the new batch is certified.)
    const low = encodeUnion(
      sel.header,
      sel.header,
      sortById([...sel.orders, lowOrder]).map((x) => ({
        order: x,
        standing: x.id !== lowOrder.id,
        flag: x.id === lowOrder.id ? 0 : 3,
      })),
    );
    await expectRevert(challengeCall(dev(2), m, 0n, dev(1), low), "ResultUnchanged", {
      resultHash: proposal.resultHash,
    });
    // A higher-priority one replaces it: it enters, the worst of the 64 buys at 200 is cut. The new batch is the
    // union set's own certificate (<= 128); the union is the standing batch and it.
    const ch = selectChallenge(nodeInput([lowOrder, highOrder]), standing);
    if (ch.outcome !== "challenge") throw new Error(`expected a challenge, got ${ch.outcome}`);
    expect(ch.added).toBe(1);
    expect(ch.header.buy.capLimit).toBe(200n);
    expect(ch.orders.length).toBeLessThanOrEqual(128);
    const union = bytesToHex(ch.bytes);
    const replaced = await challenge(env, dev(2), m, 0n, dev(1), union);
    expect(replaced.resultHash).toBe(ch.selection.clearing.resultHash);
    expect(replaced.resultHash).not.toBe(proposal.resultHash);
    expect(replaced.batchHash).toBe(ch.batchHash);
    expect(replaced.gasUsed).toBeLessThan(30_000_000n);
    console.log(
      `dust flood: proposal of 128 orders (64 + 64 in) ${proposal.gasUsed} gas, ${sel.bytes.length} bytes; ` +
        `challenge with a union of ${ch.union.entries.length} entries (new batch ${ch.orders.length}) ` +
        `${replaced.gasUsed} gas, ${ch.bytes.length} bytes`,
    );
  }, 240_000);

  // The padded union (docs/certified-settlement.md, "Attacks this defeats"): an attacker proposes a batch
  // that leaves out an honest order, then challenges its own proposal with a union padded with valid orders
  // of fresh unfunded wallets (excluded by coverage) and one order that changes the result. Before the fix
  // the whole union (up to MAX_UNION_ORDERS entries) became the standing batch, and no honest union could carry
  // it and add an order. Now the new standing batch is the union's entries flagged for it (bit 1), at most 128.
  // Everything below is built from the documented byte layout (settlement-fixture's encoder) and the ABI.
  it("the padded union: a new batch over 128 reverts BatchTooLarge; one of 128 stands and an honest challenge still fits and replaces it", async () => {
    const m = await newMarket(env, { bondWei: 10n ** 16n });
    const [a, b, h, z] = makeTraders(4, "padded-union");
    await fundAll(m.id, [a!, b!, h!, z!]);
    const o = (t: Trader, side: "buy" | "sell", q: bigint, l: bigint, nonce = 1n) =>
      makeOrder(m.id, 0n, { trader: t, side, quantity: q, limitPrice: l, nonce }, env.separator);
    const sell = o(a!, "sell", 10n, 10n);
    const buy = o(b!, "buy", 10n, 12n);
    const honest = o(h!, "buy", 10n, 15n); // the order the attacker leaves out
    const extra = o(z!, "buy", 1n, 13n); // the attacker's own order that changes the result
    // Padding: one valid order per fresh wallet, none funded: coverage excludes them all.
    const padding = makeTraders(512, "padded-union-padding").map((t) => o(t, "buy", 1n, 1n));
    await moveToEpoch(env, m, 1n);
    // The padding's wallets have no collateral (a lookup gives 0 for a trader it does not know).
    const collateral = await readCollateral(env, m.id, 0n, [sell, buy, honest, extra]);
    const attacker = dev(1);
    const s0 = selectTrading(env, m.id, 0n, [sell, buy], collateral);
    const proposal = await propose(env, attacker, m, 0n, bytesToHex(s0.bytes));
    // The attacker's union: the standing orders kept (3), its own order and the padding added (2).
    const withExtra = selectTrading(env, m.id, 0n, [sell, buy, extra], collateral);
    const standingIds = new Set(s0.orders.map((x) => x.id));
    const entriesWith = (pad: readonly IdentifiedOrder[]) =>
      sortById([...withExtra.orders, ...pad]).map((x) => ({ order: x, standing: standingIds.has(x.id) }));
    const full = entriesWith(padding.slice(0, 512 - withExtra.orders.length));
    expect(full.length).toBe(512);
    // Every entry flagged for the new batch, as the old contract would have stored them: refused.
    await expectRevert(
      challengeCall(attacker, m, 0n, attacker, encodeUnion(s0.header, withExtra.header, full)),
      "BatchTooLarge",
      { orders: 512n, max: 128n },
    );
    // A new batch of 128 (the most a standing batch can be now): it stands.
    const kept = entriesWith(padding.slice(0, 128 - withExtra.orders.length));
    expect(kept.length).toBe(128);
    const padded = encodeUnion(s0.header, withExtra.header, kept);
    const self = await challenge(env, attacker, m, 0n, attacker, padded);
    expect(self.resultHash).toBe(withExtra.clearing.resultHash);
    // The record and the event carry the new batch's hash: union header || the flag-2/3 orders.
    const newBatch = encodeBatch(
      withExtra.header,
      kept.map((e) => e.order),
    );
    expect(self.batchHash).toBe(keccak256(newBatch).toLowerCase());
    expect(await recordOnChain(env, m.id, 0n)).toBe(recordOf(self.batchHash, attacker, self.feeTotal));
    // A node rebuilds the standing batch from the Challenged transaction: the new batch, the event's hash.
    const rebuilt = await clientFor(env, env.anvil.accounts[1]!.privateKey).standingBatch(m.id, 0n);
    expect(rebuilt?.batchHash).toBe(self.batchHash);
    expect(bytesToHex(rebuilt!.bytes)).toBe(newBatch);

    // The honest challenge: the standing batch is the new batch (128 orders), and the union adds the left-out
    // order; the padding is dropped from the next new batch (flag 1). It fits, it passes StandingMismatch.
    const nodeInput = {
      market: m.id,
      epoch: 0n,
      domainSeparator: env.separator,
      orders: [sell, buy, extra, honest].map((x) => x.order),
      collateral: lookupOf(collateral),
    };
    const standing = {
      header: withExtra.header,
      orders: kept.map((e) => e.order),
      resultHash: self.resultHash,
    };
    const ch = selectChallenge(nodeInput, standing);
    if (ch.outcome !== "challenge") throw new Error(`expected a challenge, got ${ch.outcome}`);
    expect(ch.added).toBe(1);
    expect(ch.union.entries.length).toBe(129);
    expect(ch.orders.length).toBeLessThanOrEqual(4);
    const dropped = ch.union.entries.filter((e) => e.inNewBatch === false).length;
    expect(dropped).toBeGreaterThanOrEqual(124);
    const flagOf = (id: Hex) => {
      const e = ch.union.entries[sortById([...standing.orders, honest]).findIndex((x) => x.id === id)]!;
      return (e.standing ? 1 : 0) | (e.inNewBatch === false ? 0 : 2);
    };
    expect(flagOf(honest.id)).toBe(2);
    expect(flagOf(sell.id)).toBe(3);
    expect(flagOf(padding[0]!.id)).toBe(1);
    const honestUnion = bytesToHex(ch.bytes);
    // The largest challenge the bounds allow, measured (eth_estimateGas, not sent): the 128 standing orders
    // (the padding dropped, flag 1), the left-out order and 383 more fresh-wallet orders added, as many into the
    // new batch as fit (flag 2), the rest into the union only (flag 0): 512 entries, 384 signatures, a new
    // batch of 128.
    const keptIds = new Set(withExtra.orders.map((x) => x.id));
    const room = 128 - withExtra.orders.length - 1;
    const intoNew = new Set(padding.slice(128, 128 + room).map((x) => x.id));
    const worst = sortById([...standing.orders, honest, ...padding.slice(128, 511)]).map((x) => {
      const isStanding = standing.orders.some((y) => y.id === x.id);
      const flag = isStanding ? (keptIds.has(x.id) ? 3 : 1) : x.id === honest.id || intoNew.has(x.id) ? 2 : 0;
      return { order: x, standing: isStanding, flag };
    });
    expect(worst.length).toBe(512);
    expect(worst.filter((e) => e.flag >= 2).length).toBe(128);
    expect(worst.filter((e) => e.flag === 0).length).toBe(383 - room);
    const worstUnion = encodeUnion(withExtra.header, ch.header, worst);
    await commit(env, dev(2), m.id, 0n, worstUnion);
    const worstGas = await env.provider.estimateGas({
      from: dev(2),
      to: env.settlement,
      data: challengeData(m.id, 0n, attacker, worstUnion),
      value: m.bond,
    });
    expect(worstGas).toBeLessThan(30_000_000n);
    // Its new batch alone through certify() (every signature checked: an upper bound of the challenge's
    // third certification, which checks none).
    const worstNewBatch = encodeBatch(
      ch.header,
      worst.filter((e) => e.flag >= 2).map((e) => e.order),
    );
    const newBatchGas = await env.provider.estimateGas({
      from: dev(2),
      to: env.settlement,
      data: iface.encodeFunctionData("certify", [m.id, 0n, worstNewBatch]),
    });
    // The same union with a flag 4 or 255: MalformedBatch.
    const flagAt = 2 + 2 * 864;
    for (const flag of ["04", "ff"]) {
      const bad = `${honestUnion.slice(0, flagAt)}${flag}${honestUnion.slice(flagAt + 2)}` as Hex;
      await expectRevert(challengeCall(dev(2), m, 0n, attacker, bad), "MalformedBatch", {
        length: BigInt(ch.bytes.length),
      });
    }
    // Dropping a standing order that matters (the sell, which fills) from the new batch: the new batch does
    // not certify under the union's header, and reverts with its certification's own error.
    const entries = sortById([...standing.orders, honest]).map((x, k) => ({
      order: x,
      standing: x.id !== honest.id,
      flag:
        x.id === sell.id
          ? 1
          : (ch.union.entries[k]!.standing ? 1 : 0) | (ch.union.entries[k]!.inNewBatch === false ? 0 : 2),
    }));
    await expectRevert(
      challengeCall(dev(2), m, 0n, attacker, encodeUnion(withExtra.header, ch.header, entries)),
      "AggregateMismatch",
    );
    const replaced = await challenge(env, dev(2), m, 0n, attacker, honestUnion);
    const all = selectTrading(env, m.id, 0n, [sell, buy, extra, honest], collateral);
    expect(replaced.resultHash).toBe(all.clearing.resultHash);
    expect(replaced.batchHash).toBe(ch.batchHash);
    expect(replaced.batchHash).toBe(keccak256(encodeBatch(ch.header, ch.orders)).toLowerCase());
    expect(await bondsOf(env, dev(2))).toBeGreaterThanOrEqual(m.bond);
    console.log(
      `padded union: attacker's self-challenge (128 new-batch orders) ${self.gasUsed} gas; honest challenge ` +
        `(union of 129, 128 standing of which ${dropped} dropped, new batch ${ch.orders.length}) ${replaced.gasUsed} gas; ` +
        `proposal ${proposal.gasUsed}; the largest challenge (union of 512, new batch 128) ${worstGas} gas (estimate), ` +
        `${(worstUnion.length - 2) / 2} bytes; its new batch (128) through certify() ${newBatchGas} gas (estimate)`,
    );
  }, 240_000);

  it("NewBatchMismatch: a new batch that certifies under the union's header to another result", async () => {
    // Tee has three buys; in the union its 2 at 15 (largest id) is its third and excluded (trader-cap). A new
    // batch without tee's first buy (and without another buyer's 2 at 15) makes it tee's second: kept, it fills
    // instead, with the same sums and edges (tee's other buy at 5 and a fifth trader's realise the worse edge),
    // so other fills under the same header.
    const m = await newMarket(env, { bondWei: 10n ** 16n });
    const [a, u, tee, w, v] = makeTraders(5, "new-batch-mismatch");
    await fund(env, m.id, [
      { trader: a!, asset: Asset.BASE, amount: 8n },
      { trader: u!, asset: Asset.QUOTE, amount: 60n },
      { trader: tee!, asset: Asset.QUOTE, amount: 60n },
      { trader: w!, asset: Asset.QUOTE, amount: 48n },
      { trader: v!, asset: Asset.QUOTE, amount: 10n },
    ]);
    const o = (t: Trader, side: "buy" | "sell", q: bigint, l: bigint, nonce = 1n) =>
      makeOrder(m.id, 0n, { trader: t, side, quantity: q, limitPrice: l, nonce }, env.separator);
    const sellA = o(a!, "sell", 4n, 10n);
    const o1 = o(u!, "buy", 2n, 15n);
    const [t0, t1] = sortById([o(tee!, "buy", 1n, 5n, 1n), o(tee!, "buy", 1n, 5n, 2n)]);
    let t2 = o(tee!, "buy", 2n, 15n, 100n);
    for (let n = 101n; t2.id < t1!.id; n++) t2 = o(tee!, "buy", 2n, 15n, n);
    const bw = o(w!, "buy", 2n, 12n);
    const bv = o(v!, "buy", 1n, 5n);
    await moveToEpoch(env, m, 1n);
    const collateral = await readCollateral(env, m.id, 0n, [sellA, o1, t0!, t1!, t2, bw, bv]);
    // The standing batch: the certificate of (sellA, o1, t0, t1) with both of tee's buys at 5 in it.
    const s = selectTrading(env, m.id, 0n, [sellA, o1, t0!, t1!], collateral);
    const standingOrders = sortById([sellA, o1, t0!, t1!]);
    const standing = await propose(env, dev(1), m, 0n, encodeBatch(s.header, standingOrders));
    expect(standing.resultHash).toBe(s.clearing.resultHash);
    const u1 = selectTrading(env, m.id, 0n, [sellA, o1, t0!, t1!, t2, bw, bv], collateral);
    expect(u1.excluded.map((e) => [e.order.id, e.reason])).toEqual([[t2.id, "trader-cap"]]);
    const newIds = new Set([sellA.id, t1!.id, t2.id, bw.id, bv.id]);
    const standingIds = new Set(standingOrders.map((x) => x.id));
    const entries = sortById([sellA, o1, t0!, t1!, t2, bw, bv]).map((x) => ({
      order: x,
      standing: standingIds.has(x.id),
      flag: (standingIds.has(x.id) ? 1 : 0) | (newIds.has(x.id) ? 2 : 0),
    }));
    const union = encodeUnion(s.header, u1.header, entries);
    const other = clear(
      [sellA, t1!, t2, bw, bv].map((x) => ({
        id: x.id,
        side: x.order.side,
        limitPrice: x.order.limitPrice,
        quantity: x.order.quantity,
      })),
      { market: m.id, epoch: 0n },
    );
    expect(other.price).toBe(u1.clearing.price);
    expect(other.resultHash).not.toBe(u1.clearing.resultHash);
    await expectRevert(challengeCall(dev(2), m, 0n, dev(1), union), "NewBatchMismatch", {
      unionResultHash: u1.clearing.resultHash,
      newBatchResultHash: other.resultHash,
    });
    // With every standing order kept in the new batch (flag 3; added orders are always in it), it passes.
    const fixed = sortById([sellA, o1, t0!, t1!, t2, bw, bv]).map((x) => ({
      order: x,
      standing: standingIds.has(x.id),
    }));
    const ok = await challenge(env, dev(2), m, 0n, dev(1), encodeUnion(s.header, u1.header, fixed));
    expect(ok.resultHash).toBe(u1.clearing.resultHash);
    expect(standing.resultHash).not.toBe(ok.resultHash);
  }, 120_000);
});

// ================================================================ coverage of the errors

describe("coverage of custom errors", () => {
  it("every custom error of ISmartMarket was triggered by a test in this file", () => {
    const all = iface.fragments
      .filter((f) => f.type === "error")
      .map((f) => (f as unknown as { name: string }).name);
    expect(all.filter((n) => !seen.has(n))).toEqual([]);
  });
});
