// The settlement contract against a real anvil over JSON-RPC: EIP-712 equality with protocol/, market
// creation, every custom error (decoded, with its arguments), replays and malleability, and an
// end-to-end settlement with exact balances. Each test makes its own market; time only moves forward.
import { keccak256, toUtf8Bytes } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORDER_TYPE_STRING, SECP256K1_N } from "../../protocol/constants.ts";
import {
  domainSeparator,
  makeDomain,
  ORDER_TYPEHASH,
  orderId,
  orderIdEthers,
} from "../../protocol/eip712.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { marketId } from "../../protocol/market.ts";
import type { Order } from "../../protocol/order.ts";
import { mineBlock, startAnvil } from "../../settlement/anvil.ts";
import { smartMarketInterface, testTokenInterface } from "../../settlement/artifacts.ts";
import { SettlementClient } from "../../settlement/client.ts";
import {
  Asset,
  encodeSettleCall,
  type SettleCall,
  type SignedFillStruct,
  settlementResultHash,
  toSignedFill,
} from "../../settlement/encoding.ts";
import { SettlementRevertError, toSettlementError } from "../../settlement/errors.ts";
import {
  clientFor,
  type Env,
  fund,
  type IdentifiedOrder,
  makeOrder,
  makeTraders,
  moveToEpoch,
  newMarket,
  type OrderSpec,
  signWith,
  startEnv,
  type Trader,
} from "./settlement-fixture.ts";

let env: Env;
const seen = new Set<string>();

beforeAll(async () => {
  env = await startEnv();
});

afterAll(async () => {
  await env?.close();
});

async function revertOf(p: Promise<unknown>): Promise<SettlementRevertError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SettlementRevertError) return err;
    throw err;
  }
  throw new Error("expected a revert, the call succeeded");
}

/** Asserts that `p` reverts with custom error `name` (and exactly these arguments, when given). */
async function expectRevert(
  p: Promise<unknown>,
  name: string,
  args?: Record<string, unknown>,
): Promise<void> {
  const err = await revertOf(p);
  seen.add(err.errorName);
  expect(err.errorName).toBe(name);
  if (args) expect(err.args).toEqual(args);
}

/** eth_call of raw calldata from `from`, revert decoded like the client's. */
async function rawCall(to: Hex, data: string, from: Hex): Promise<string> {
  try {
    return await env.provider.call({ to, data, from });
  } catch (err) {
    throw toSettlementError("call", err);
  }
}

function call(
  market: Hex,
  epoch: bigint,
  price: bigint,
  entries: { o: IdentifiedOrder; fill: bigint }[],
): SettleCall {
  const sorted = [...entries].sort((a, b) => (a.o.id < b.o.id ? -1 : 1));
  return { market, epoch, price, fills: sorted.map((e) => toSignedFill(e.o.order, e.fill)) };
}

const ZERO: Hex = `0x${"00".repeat(20)}`;

describe("EIP-712 and market ids match protocol/", () => {
  it("has the same order type hash, domain separator and order digests", async () => {
    const [typehash] = await env.admin.provider
      .call({ to: env.settlement, data: smartMarketInterface.encodeFunctionData("ORDER_TYPEHASH") })
      .then((r) => smartMarketInterface.decodeFunctionResult("ORDER_TYPEHASH", r));
    expect(typehash).toBe(bytesToHex(ORDER_TYPEHASH));
    expect(typehash).toBe(keccak256(toUtf8Bytes(ORDER_TYPE_STRING)));

    const ret = await env.provider.call({
      to: env.settlement,
      data: smartMarketInterface.encodeFunctionData("domainSeparator"),
    });
    const domain = makeDomain(env.chainId, env.settlement);
    expect(smartMarketInterface.decodeFunctionResult("domainSeparator", ret)[0]).toBe(
      bytesToHex(domainSeparator(domain)),
    );

    const eip5267 = smartMarketInterface.decodeFunctionResult(
      "eip712Domain",
      await env.provider.call({
        to: env.settlement,
        data: smartMarketInterface.encodeFunctionData("eip712Domain"),
      }),
    );
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
      const onChain = smartMarketInterface.decodeFunctionResult(
        "orderDigest",
        await env.provider.call({
          to: env.settlement,
          data: smartMarketInterface.encodeFunctionData("orderDigest", [
            order.market,
            order.epoch,
            order.side === "buy" ? 0 : 1,
            order.quantity,
            order.limitPrice,
            order.nonce,
            order.trader,
          ]),
        }),
      )[0] as string;
      expect(onChain).toBe(orderId(order, domainSeparator(domain)));
      expect(onChain).toBe(orderIdEthers(order, domain));
    }
  });

  it("computes protocol/'s market id and stores the parameters", async () => {
    const params = { base: env.base, quote: env.quote, genesisTimeS: 1234n, epochLengthS: 60n, feeBps: 25n };
    const created = await env.admin.createMarket(params);
    expect(created.id).toBe(marketId(params));
    const fresh = clientFor(env, env.anvil.accounts[1]!.privateKey);
    expect(await fresh.getMarket(created.id)).toEqual(params);
  });
});

describe("createMarket rejects bad parameters", () => {
  const good = () => ({ base: env.base, quote: env.quote, genesisTimeS: 1n, epochLengthS: 10n, feeBps: 0n });

  it("zero token address, identical tokens, zero epoch length, fee too high, existing market", async () => {
    await expectRevert(env.admin.createMarket({ ...good(), base: ZERO }), "ZeroTokenAddress", {
      base: ZERO,
      quote: env.quote,
    });
    await expectRevert(env.admin.createMarket({ ...good(), quote: ZERO }), "ZeroTokenAddress", {
      base: env.base,
      quote: ZERO,
    });
    await expectRevert(env.admin.createMarket({ ...good(), quote: env.base }), "IdenticalTokens", {
      token: env.base,
    });
    await expectRevert(env.admin.createMarket({ ...good(), epochLengthS: 0n }), "ZeroEpochLength", {
      genesisTime: 1n,
    });
    await expectRevert(env.admin.createMarket({ ...good(), feeBps: 1001n }), "FeeTooHigh", {
      feeBps: 1001n,
      maxFeeBps: 1000n,
    });
    await env.admin.createMarket({ ...good(), feeBps: 1000n });
    await expectRevert(env.admin.createMarket({ ...good(), feeBps: 1000n }), "MarketExists", {
      market: marketId({ ...good(), feeBps: 1000n }),
    });
  });

  it("UnknownMarket for every market-scoped function", async () => {
    const unknown = keccak256(toUtf8Bytes("no such market")).toLowerCase() as Hex;
    await expectRevert(env.admin.getMarket(unknown), "UnknownMarket", { market: unknown });
    await expectRevert(env.admin.deposit(unknown, Asset.BASE, 1n), "UnknownMarket", { market: unknown });
    await expectRevert(
      env.admin.settleFills({ market: unknown, epoch: 0n, price: 1n, fills: [] }),
      "UnknownMarket",
      {
        market: unknown,
      },
    );
    await expectRevert(env.admin.collateralOf(unknown, env.admin.address, Asset.BASE, 0n), "UnknownMarket");
  });
});

describe("escrow errors", () => {
  it("InvalidAsset, ZeroAmount, TokenTransferFailed, InsufficientBalance, NothingToWithdraw", async () => {
    const m = await newMarket(env);
    const me = env.admin.address;
    const deposit = (asset: number, amount: bigint) =>
      rawCall(env.settlement, smartMarketInterface.encodeFunctionData("deposit", [m.id, asset, amount]), me);
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
    const { id } = await env.admin.createMarket({
      base: codeless,
      quote: env.quote,
      genesisTimeS: 1n,
      epochLengthS: 10n,
      feeBps: 0n,
    });
    const data = smartMarketInterface.encodeFunctionData("deposit", [id, Asset.BASE, 1n]);
    await expectRevert(rawCall(env.settlement, data, env.admin.address), "TokenTransferFailed", {
      token: codeless,
      from: env.admin.address,
      to: env.settlement,
      amount: 1n,
    });
  });

  it("WithdrawalNotReady, CollateralNoLongerKnown (in detail in settlement-collateral.test.ts)", async () => {
    const m = await newMarket(env);
    const [t] = makeTraders(1, "delay");
    await fund(env, m.id, [{ trader: t!, asset: Asset.BASE, amount: 50n }]);
    const c = clientFor(env, t!.privateKey);
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

  it("AmountOverflow: balances are 112-bit", async () => {
    const m = await newMarket(env);
    const [t] = makeTraders(1, "overflow");
    const max = (1n << 112n) - 1n;
    await fund(env, m.id, [{ trader: t!, asset: Asset.BASE, amount: max }]);
    const c = clientFor(env, t!.privateKey);
    await c.mintTestToken(env.base, t!.address, 1n);
    await expectRevert(c.deposit(m.id, Asset.BASE, 1n), "AmountOverflow", { amount: 1n });
  });

  it("EpochOverflow: the 32-bit checkpoints end in 2106 for 1-second epochs", async () => {
    const far = await startAnvil({ accounts: 1, genesisTimestampS: (1n << 32n) + 100n });
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
        epochLengthS: 1n,
        feeBps: 0n,
      });
      const epoch = await c.currentEpoch(id);
      expect(epoch).toBeGreaterThanOrEqual((1n << 32n) - 1n);
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

describe("settle: window, uniqueness and batch checks", () => {
  const price = 100n;
  let m: { id: Hex; genesis: bigint; epochLength: bigint };
  let traders: Trader[];
  let submitter: SettlementClient;

  beforeAll(async () => {
    m = await newMarket(env, 1000n, 0n);
    traders = makeTraders(4, "checks");
    await fund(
      env,
      m.id,
      traders.flatMap((t) => [
        { trader: t, asset: Asset.BASE, amount: 1_000_000n },
        { trader: t, asset: Asset.QUOTE, amount: 1_000_000_000n },
      ]),
    );
    submitter = clientFor(env, env.anvil.accounts[2]!.privateKey);
  });

  const order = (epoch: bigint, spec: Partial<OrderSpec> & { trader: Trader; side: "buy" | "sell" }) =>
    makeOrder(m.id, epoch, { quantity: 10n, limitPrice: price, ...spec }, env.separator);
  const pair = (epoch: bigint, nonce = 1n) => [
    { o: order(epoch, { trader: traders[0]!, side: "buy", limitPrice: 110n, nonce }), fill: 10n },
    { o: order(epoch, { trader: traders[1]!, side: "sell", limitPrice: 90n, nonce }), fill: 10n },
  ];

  it("EpochNotClosed before the epoch ends, SettlementWindowClosed after epoch + 1, AlreadySettled", async () => {
    await moveToEpoch(env, m, 0n, 5n);
    await expectRevert(submitter.settleFills(call(m.id, 0n, price, pair(0n))), "EpochNotClosed", {
      epoch: 0n,
      currentEpoch: 0n,
    });
    await expectRevert(submitter.settleFills(call(m.id, 1n, price, pair(1n))), "EpochNotClosed", {
      epoch: 1n,
      currentEpoch: 0n,
    });
    await moveToEpoch(env, m, 1n);
    const ok = await submitter.settleFills(call(m.id, 0n, price, pair(0n)));
    expect(ok.gasUsed).toBeGreaterThan(0n);
    expect(await submitter.isSettled(m.id, 0n)).toBe(true);
    expect(await submitter.isSettled(m.id, 1n)).toBe(false);
    await expectRevert(submitter.settleFills(call(m.id, 0n, price, pair(0n, 2n))), "AlreadySettled", {
      market: m.id,
      epoch: 0n,
    });
    // Epoch 1 was never settled; in epoch 3 its window (epoch 2) has passed.
    await moveToEpoch(env, m, 3n);
    await expectRevert(submitter.settleFills(call(m.id, 1n, price, pair(1n))), "SettlementWindowClosed", {
      epoch: 1n,
      currentEpoch: 3n,
    });
  });

  it("EmptySettlement, PriceOutOfRange", async () => {
    const e = (await submitter.currentEpoch(m.id)) - 1n;
    await expectRevert(
      submitter.settleFills({ market: m.id, epoch: e, price: 5n, fills: [] }),
      "EmptySettlement",
      { market: m.id, epoch: e },
    );
    await expectRevert(submitter.settleFills(call(m.id, e, 0n, pair(e))), "PriceOutOfRange", { price: 0n });
    await expectRevert(submitter.settleFills(call(m.id, e, 1n << 128n, pair(e))), "PriceOutOfRange", {
      price: 1n << 128n,
    });
  });

  it("InvalidSide, MalformedFill (words wider than their types)", async () => {
    const e = (await submitter.currentEpoch(m.id)) - 1n;
    const c = call(m.id, e, price, pair(e));
    const bad = { ...c, fills: [{ ...c.fills[0]!, side: 2 }, c.fills[1]!] };
    await expectRevert(submitter.settleFills(bad), "InvalidSide", { index: 0n, side: 2n });
    // selector | market | epoch | price | array offset | length | fill 0 = side, quantity, ...
    const data = encodeSettleCall(c);
    const fill0 = 2 + 2 * (4 + 5 * 32);
    for (const word of [1, 2, 3, 4, 5]) {
      const at = fill0 + 2 * 32 * word + 2; // second byte of the word: beyond every field's width
      const tampered = `${data.slice(0, at)}01${data.slice(at + 2)}`;
      await expectRevert(rawCall(env.settlement, tampered, submitter.address), "MalformedFill", {
        index: 0n,
      });
    }
  });

  it("FillsNotAscending (descending, duplicate), ZeroFill, FillExceedsQuantity", async () => {
    const e = (await submitter.currentEpoch(m.id)) - 1n;
    const c = call(m.id, e, price, pair(e));
    const [a, b] = c.fills as [SignedFillStruct, SignedFillStruct];
    const ids = [...pair(e)].map((x) => x.o.id).sort();
    await expectRevert(submitter.settleFills({ ...c, fills: [b, a] }), "FillsNotAscending", {
      index: 1n,
      previousId: ids[1],
      id: ids[0],
    });
    await expectRevert(submitter.settleFills({ ...c, fills: [a, a] }), "FillsNotAscending", {
      index: 1n,
      previousId: ids[0],
      id: ids[0],
    });
    await expectRevert(submitter.settleFills({ ...c, fills: [{ ...a, fill: 0n }, b] }), "ZeroFill", {
      index: 0n,
    });
    await expectRevert(
      submitter.settleFills({ ...c, fills: [a, { ...b, fill: 11n }] }),
      "FillExceedsQuantity",
      {
        index: 1n,
        fill: 11n,
        quantity: 10n,
      },
    );
  });

  it("LimitViolated on either side, VolumeMismatch", async () => {
    const e = (await submitter.currentEpoch(m.id)) - 1n;
    const buy = { o: order(e, { trader: traders[0]!, side: "buy", limitPrice: 99n, nonce: 7n }), fill: 10n };
    const sell = {
      o: order(e, { trader: traders[1]!, side: "sell", limitPrice: 101n, nonce: 7n }),
      fill: 10n,
    };
    const okBuy = {
      o: order(e, { trader: traders[0]!, side: "buy", limitPrice: 100n, nonce: 8n }),
      fill: 10n,
    };
    const okSell = {
      o: order(e, { trader: traders[1]!, side: "sell", limitPrice: 100n, nonce: 8n }),
      fill: 10n,
    };
    const c1 = call(m.id, e, price, [buy, okSell]);
    const i1 = c1.fills.findIndex((f) => f.side === 0);
    await expectRevert(submitter.settleFills(c1), "LimitViolated", {
      index: BigInt(i1),
      side: 0n,
      limitPrice: 99n,
      price,
    });
    const c2 = call(m.id, e, price, [okBuy, sell]);
    const i2 = c2.fills.findIndex((f) => f.side === 1);
    await expectRevert(submitter.settleFills(c2), "LimitViolated", {
      index: BigInt(i2),
      side: 1n,
      limitPrice: 101n,
      price,
    });
    await expectRevert(
      submitter.settleFills(call(m.id, e, price, [okBuy, { ...okSell, fill: 9n }])),
      "VolumeMismatch",
      {
        buyVolume: 10n,
        sellVolume: 9n,
      },
    );
  });

  it("MalformedSignature (v, and the (r, n - s) twin), InvalidSigner (other signer, unrecoverable)", async () => {
    const e = (await submitter.currentEpoch(m.id)) - 1n;
    const c = call(m.id, e, price, pair(e, 9n));
    const [a, b] = c.fills as [SignedFillStruct, SignedFillStruct];
    await expectRevert(submitter.settleFills({ ...c, fills: [{ ...a, v: 29 }, b] }), "MalformedSignature", {
      index: 0n,
      v: 29n,
      s: a.s,
    });
    // The malleable twin (r, n - s, v ^ 1) recovers the same key; EIP-2 low-s rejects it.
    const twinS = `0x${(SECP256K1_N - BigInt(a.s)).toString(16).padStart(64, "0")}` as Hex;
    const twin = { ...a, s: twinS, v: a.v === 27 ? 28 : 27 };
    await expectRevert(submitter.settleFills({ ...c, fills: [twin, b] }), "MalformedSignature", {
      index: 0n,
      v: BigInt(twin.v),
      s: twinS,
    });
    // Signed by someone else than the order's trader.
    const orders = pair(e, 9n).sort((x, y) => (x.o.id < y.o.id ? -1 : 1));
    const forged = signWith({ ...orders[0]!.o.order }, traders[3]!.privateKey, env.separator).order.signature;
    const f0 = toSignedFill({ ...orders[0]!.o.order, signature: forged }, 10n);
    await expectRevert(submitter.settleFills({ ...c, fills: [f0, b] }), "InvalidSigner", {
      index: 0n,
      orderId: orders[0]!.o.id,
      recovered: traders[3]!.address,
      trader: orders[0]!.o.order.trader,
    });
    // trader = 0 with a signature nothing recovers from (r = 0): recovered is 0 and still rejected.
    const ghost = makeOrder(
      m.id,
      e,
      {
        trader: { address: ZERO, privateKey: traders[0]!.privateKey },
        side: "sell",
        quantity: 10n,
        limitPrice: 1n,
      },
      env.separator,
    );
    const ghostFill: SignedFillStruct = {
      ...toSignedFill(ghost.order, 10n),
      r: `0x${"00".repeat(32)}` as Hex,
    };
    const withGhost = [
      {
        f: toSignedFill(orders.find((x) => x.o.order.side === "buy")!.o.order, 10n),
        id: orders.find((x) => x.o.order.side === "buy")!.o.id,
      },
      { f: ghostFill, id: ghost.id },
    ].sort((x, y) => (x.id < y.id ? -1 : 1));
    const ghostIndex = withGhost.findIndex((x) => x.id === ghost.id);
    await expectRevert(submitter.settleFills({ ...c, fills: withGhost.map((x) => x.f) }), "InvalidSigner", {
      index: BigInt(ghostIndex),
      orderId: ghost.id,
      recovered: ZERO,
      trader: ZERO,
    });
  });

  it("InsufficientCollateral names the trader, asset, need and availability", async () => {
    const e = (await submitter.currentEpoch(m.id)) - 1n;
    const [poor] = makeTraders(1, "poor");
    await fund(env, m.id, [{ trader: poor!, asset: Asset.QUOTE, amount: 999n }]);
    const buy = { o: order(e, { trader: poor!, side: "buy", limitPrice: 100n }), fill: 10n };
    const sell = {
      o: order(e, { trader: traders[1]!, side: "sell", limitPrice: 100n, nonce: 11n }),
      fill: 10n,
    };
    await expectRevert(submitter.settleFills(call(m.id, e, price, [buy, sell])), "InsufficientCollateral", {
      trader: poor!.address,
      asset: 1n,
      needed: 1000n,
      available: 999n,
    });
  });
});

describe("replays fail: another epoch, market, contract, chain", () => {
  it("orders signed for one (epoch, market, contract, chain) do not settle anywhere else", async () => {
    const m = await newMarket(env, 1000n, 0n);
    const other = await newMarket(env, 1000n, 5n);
    const traders = makeTraders(2, "replay");
    const fundings = traders.flatMap((t) => [
      { trader: t, asset: Asset.BASE, amount: 1000n },
      { trader: t, asset: Asset.QUOTE, amount: 100_000n },
    ]);
    await fund(env, m.id, fundings);
    await fund(env, other.id, fundings);
    const signed = [
      {
        o: makeOrder(
          m.id,
          0n,
          { trader: traders[0]!, side: "buy", quantity: 5n, limitPrice: 10n },
          env.separator,
        ),
        fill: 5n,
      },
      {
        o: makeOrder(
          m.id,
          0n,
          { trader: traders[1]!, side: "sell", quantity: 5n, limitPrice: 10n },
          env.separator,
        ),
        fill: 5n,
      },
    ];
    const base = call(m.id, 0n, 10n, signed);
    const submitter = clientFor(env, env.anvil.accounts[3]!.privateKey);
    await moveToEpoch(env, m, 1n);
    // Another market (its epoch 0 is closed too: both markets were created at about the same time).
    await expectRevert(submitter.settleFills({ ...base, market: other.id }), "InvalidSigner");
    await moveToEpoch(env, m, 2n);
    // Another epoch: the same signed fields submitted as epoch 1.
    await expectRevert(submitter.settleFills({ ...base, epoch: 1n }), "InvalidSigner");

    // Another contract on the same chain, with the same market.
    const second = clientFor(env, env.anvil.accounts[3]!.privateKey);
    const secondAddress = await second.deploySettlement();
    expect(secondAddress).not.toBe(env.settlement);
    const now = await second.provider.getBlock("latest");
    const { id } = await second.createMarket({
      base: env.base,
      quote: env.quote,
      genesisTimeS: BigInt(now!.timestamp) + 1n,
      epochLengthS: 1000n,
      feeBps: 0n,
    });
    await moveToEpoch(env, { genesis: BigInt(now!.timestamp) + 1n, epochLength: 1000n }, 0n, 10n);
    const signedHere = [
      {
        o: makeOrder(
          id,
          0n,
          { trader: traders[0]!, side: "buy", quantity: 5n, limitPrice: 10n },
          env.separator,
        ),
        fill: 5n,
      },
      {
        o: makeOrder(
          id,
          0n,
          { trader: traders[1]!, side: "sell", quantity: 5n, limitPrice: 10n },
          env.separator,
        ),
        fill: 5n,
      },
    ];
    await moveToEpoch(env, { genesis: BigInt(now!.timestamp) + 1n, epochLength: 1000n }, 1n);
    await expectRevert(second.settleFills(call(id, 0n, 10n, signedHere)), "InvalidSigner");
  });

  it("another chain: the same contract address and market on a chain with another id", async () => {
    const chains = await Promise.all([
      startAnvil({ accounts: 3, chainId: 5151 }),
      startAnvil({ accounts: 3, chainId: 6161 }),
    ]);
    const clients = chains.map(
      (a) => new SettlementClient({ rpcUrl: a.rpcUrl, privateKey: a.accounts[0]!.privateKey }),
    );
    try {
      const setups = [];
      for (const c of clients) {
        // Sequential deploys from the same key and nonces: the same addresses on both chains.
        const settlement = await c.deploySettlement();
        const base = await c.deployTestToken({ name: "B", symbol: "B", decimals: 0 });
        const quote = await c.deployTestToken({ name: "Q", symbol: "Q", decimals: 0 });
        setups.push({ settlement, base, quote, now: (await c.provider.getBlock("latest"))!.timestamp });
      }
      const genesis = BigInt(Math.max(...setups.map((x) => x.now))) + 10n;
      const ids: Hex[] = [];
      for (const [i, c] of clients.entries()) {
        const { base, quote } = setups[i]!;
        ids.push(
          (await c.createMarket({ base, quote, genesisTimeS: genesis, epochLengthS: 1000n, feeBps: 0n })).id,
        );
      }
      const [a, b] = setups as [(typeof setups)[0], (typeof setups)[0]];
      expect([a.settlement, a.base, a.quote, ids[0]]).toEqual([b.settlement, b.base, b.quote, ids[1]]);
      const id = ids[0]!;
      // Dev accounts 1 (buyer) and 2 (seller) sign for chain 5151's domain only.
      const devs = chains[0]!.accounts;
      const separatorA = domainSeparator(makeDomain(5151n, a.settlement));
      const signed = (market: Hex) => [
        signWith(
          {
            market,
            epoch: 0n,
            side: "buy",
            quantity: 5n,
            limitPrice: 10n,
            nonce: 1n,
            trader: devs[1]!.address,
          },
          devs[1]!.privateKey,
          separatorA,
        ),
        signWith(
          {
            market,
            epoch: 0n,
            side: "sell",
            quantity: 5n,
            limitPrice: 10n,
            nonce: 1n,
            trader: devs[2]!.address,
          },
          devs[2]!.privateKey,
          separatorA,
        ),
      ];
      const outcomes: (bigint | string)[] = [];
      for (const [i, c] of clients.entries()) {
        const s = { ...setups[i]!, id, genesis };
        for (const [j, asset] of [Asset.QUOTE, Asset.BASE].entries()) {
          const dev = new SettlementClient(
            { rpcUrl: chains[i]!.rpcUrl, privateKey: devs[1 + j]!.privateKey, contract: s.settlement },
            { provider: c.provider },
          );
          await dev.mintTestToken(asset === Asset.QUOTE ? s.quote : s.base, dev.address, 1000n);
          await dev.deposit(s.id, asset, 1000n);
        }
        await mineBlock(c.provider, s.genesis + 1001n);
        const settleCall = call(
          s.id,
          0n,
          10n,
          signed(s.id).map((o) => ({ o, fill: 5n })),
        );
        try {
          outcomes.push((await c.settleFills(settleCall)).gasUsed);
        } catch (err) {
          if (!(err instanceof SettlementRevertError)) throw err;
          seen.add(err.errorName);
          outcomes.push(err.errorName);
        }
      }
      expect(typeof outcomes[0]).toBe("bigint"); // chain 5151: the domain the orders were signed for
      expect(outcomes[1]).toBe("InvalidSigner"); // chain 6161: same contract, market and orders
    } finally {
      for (const c of clients) c.close();
      await Promise.all(chains.map((x) => x.stop()));
    }
  });
});

describe("a settlement moves escrow exactly", () => {
  it("pays fill x price, takes the fee (rounded down) from sellers and credits it to the submitter", async () => {
    const m = await newMarket(env, 1000n, 30n); // 0.3 %
    const [b1, b2, s1, s2] = makeTraders(4, "exact");
    await fund(env, m.id, [
      { trader: b1!, asset: Asset.QUOTE, amount: 100_000n },
      { trader: b2!, asset: Asset.QUOTE, amount: 100_000n },
      { trader: s1!, asset: Asset.BASE, amount: 500n },
      { trader: s2!, asset: Asset.BASE, amount: 500n },
    ]);
    const o = (t: Trader, side: "buy" | "sell", q: bigint, l: bigint) =>
      makeOrder(m.id, 0n, { trader: t, side, quantity: q, limitPrice: l }, env.separator);
    const entries = [
      { o: o(b1!, "buy", 40n, 120n), fill: 40n },
      { o: o(b2!, "buy", 30n, 101n), fill: 17n },
      { o: o(s1!, "sell", 33n, 95n), fill: 33n },
      { o: o(s2!, "sell", 50n, 101n), fill: 24n },
    ];
    const submitter = clientFor(env, env.anvil.accounts[1]!.privateKey);
    const before = await submitter.escrowOf(m.id, submitter.address, Asset.QUOTE);
    await moveToEpoch(env, m, 1n);
    const c = call(m.id, 0n, 101n, entries);
    const r = await submitter.settleFills(c);
    const fills = entries
      .map((e) => ({ id: e.o.id, quantity: e.fill }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(r.resultHash).toBe(settlementResultHash(m.id, 0n, 101n, 57n, fills));
    // Expected, by hand: fee = floor(fill * 101 * 30 / 10000) per sell fill.
    const fee1 = (33n * 101n * 30n) / 10_000n;
    const fee2 = (24n * 101n * 30n) / 10_000n;
    const bal = (t: Trader, a: Asset) => submitter.escrowOf(m.id, t.address, a).then((x) => x.free);
    expect(await bal(b1!, Asset.QUOTE)).toBe(100_000n - 40n * 101n);
    expect(await bal(b1!, Asset.BASE)).toBe(40n);
    expect(await bal(b2!, Asset.QUOTE)).toBe(100_000n - 17n * 101n);
    expect(await bal(b2!, Asset.BASE)).toBe(17n);
    expect(await bal(s1!, Asset.BASE)).toBe(500n - 33n);
    expect(await bal(s1!, Asset.QUOTE)).toBe(33n * 101n - fee1);
    expect(await bal(s2!, Asset.BASE)).toBe(500n - 24n);
    expect(await bal(s2!, Asset.QUOTE)).toBe(24n * 101n - fee2);
    expect((await submitter.escrowOf(m.id, submitter.address, Asset.QUOTE)).free).toBe(
      before.free + fee1 + fee2,
    );
    // The Settled event carries what the contract computed.
    const rec = await submitter.getSettlement(m.id, 0n);
    expect(rec).toMatchObject({
      price: 101n,
      volume: 57n,
      resultHash: r.resultHash,
      submitter: submitter.address,
    });
  });
});

describe("TestToken", () => {
  it("reverts with InsufficientBalance / InsufficientAllowance (its own errors, decoded)", async () => {
    const [a] = makeTraders(1, "token");
    const me = env.admin.address;
    await expectRevert(
      rawCall(env.base, testTokenInterface.encodeFunctionData("transfer", [a!.address, 1n]), a!.address),
      "InsufficientBalance",
      { account: a!.address, balance: 0n, needed: 1n },
    );
    await expectRevert(
      rawCall(env.base, testTokenInterface.encodeFunctionData("transferFrom", [a!.address, me, 1n]), me),
      "InsufficientAllowance",
      { spender: me, allowance: 0n, needed: 1n },
    );
  });
});

describe("coverage of custom errors", () => {
  it("every custom error of ISmartMarket was triggered by a test in this file", async () => {
    const all = smartMarketInterface.fragments
      .filter((f) => f.type === "error")
      .map((f) => (f as unknown as { name: string }).name);
    const missing = all.filter((n) => !seen.has(n));
    expect(missing).toEqual([]);
  });
});
