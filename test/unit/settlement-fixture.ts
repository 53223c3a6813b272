// Shared fixture of the settlement contract tests and benchmark: a local anvil with the contracts deployed,
// funded traders with deterministic keys, fast order signing, transactions from any address (anvil
// impersonation: no nonce bookkeeping, reverts decoded with the contract's ABI), markets of version 2, and
// batches built from clear() for the certified settlement (docs/certified-settlement.md): header, orders,
// unions, commitments.
import { readFileSync } from "node:fs";
import type { TransactionReceipt } from "ethers";
import type { ClearingResult } from "../../clearing/clear.ts";
import type { Collateral } from "../../clearing/coverage.ts";
import { orderDigestBytes } from "../../protocol/eip712.ts";
import {
  AbiCoder,
  Interface,
  JsonRpcProvider,
  keccak256,
  toUtf8Bytes,
  Wallet,
} from "../../protocol/ethers.ts";
import { bytesToHex, compareHex, type Hex } from "../../protocol/hex.ts";
import type { Order, Side, SignedOrder } from "../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../protocol/signature.ts";
import {
  type AnvilInstance,
  latestTimestamp,
  mineBlock,
  setBalance,
  startAnvil,
} from "../../settlement/anvil.ts";
import { smartMarketInterface, testTokenInterface } from "../../settlement/artifacts.ts";
import {
  type BatchHeader,
  type BatchSelection,
  type CollateralLookup,
  type SelectedBatch,
  type SideHeader,
  selectBatch,
} from "../../settlement/batch.ts";
import { SettlementClient, waitForReceipt } from "../../settlement/client.ts";
import { SettlementRevertError, toSettlementError } from "../../settlement/errors.ts";

/** Escrow assets, numbered as in the contract. */
export const Asset = { BASE: 0, QUOTE: 1 } as const;
export type Asset = (typeof Asset)[keyof typeof Asset];

export interface Trader {
  readonly privateKey: Hex;
  readonly address: Hex;
}

/** `count` traders with keys derived from `seed` (deterministic across runs). */
export function makeTraders(count: number, seed = "settlement-test"): Trader[] {
  const out: Trader[] = [];
  for (let i = 0; i < count; i++) {
    const privateKey = keccak256(toUtf8Bytes(`${seed}/${i}`)).toLowerCase() as Hex;
    out.push({ privateKey, address: addressOfPrivateKey(privateKey) });
  }
  return out;
}

export interface IdentifiedOrder {
  readonly id: Hex;
  readonly order: SignedOrder;
}

/** Signs an order with a raw key (native secp256k1, RFC 6979, low s) under `separator`. */
export function signWith(order: Order, privateKey: Hex, separator: Uint8Array): IdentifiedOrder {
  const digest = orderDigestBytes(order, separator);
  return { id: bytesToHex(digest), order: { ...order, signature: signDigest(digest, privateKey) } };
}

export interface OrderSpec {
  readonly trader: Trader;
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  readonly nonce?: bigint;
}

export function makeOrder(
  market: Hex,
  epoch: bigint,
  spec: OrderSpec,
  separator: Uint8Array,
): IdentifiedOrder {
  return signWith(
    {
      market,
      epoch,
      side: spec.side,
      quantity: spec.quantity,
      limitPrice: spec.limitPrice,
      nonce: spec.nonce ?? 1n,
      trader: spec.trader.address,
    },
    spec.trader.privateKey,
    separator,
  );
}

// ================================================================ chain

/** A local chain with SmartMarket and two TestTokens deployed by dev account 0. */
export interface Env {
  readonly anvil: AnvilInstance;
  readonly provider: JsonRpcProvider;
  readonly admin: SettlementClient;
  readonly settlement: Hex;
  readonly base: Hex;
  readonly quote: Hex;
  readonly chainId: bigint;
  readonly separator: Uint8Array;
  close(): Promise<void>;
}

export async function startEnv(options: { chainId?: number; extraArgs?: string[] } = {}): Promise<Env> {
  const anvil = await startAnvil({ accounts: 4, ...options });
  const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchStallTime: 0,
    pollingInterval: 50,
  });
  const admin = new SettlementClient(
    { rpcUrl: anvil.rpcUrl, privateKey: anvil.accounts[0]!.privateKey, pollingIntervalMs: 50 },
    { provider },
  );
  const deployed = await admin.deployContracts({
    base: { name: "Energy", symbol: "WH", decimals: 3 },
    quote: { name: "Dollar", symbol: "USD", decimals: 6 },
  });
  return {
    anvil,
    provider,
    admin,
    ...deployed,
    chainId: anvil.chainId,
    separator: await admin.domainSeparator(),
    close: async () => {
      provider.destroy();
      await anvil.stop();
    },
  };
}

/** A client for another key, sharing the env's provider. */
export function clientFor(env: Env, privateKey: Hex): SettlementClient {
  return new SettlementClient(
    { rpcUrl: env.anvil.rpcUrl, privateKey, contract: env.settlement, pollingIntervalMs: 50 },
    { provider: env.provider },
  );
}

/**
 * Addresses with no key, used through impersonation for the tests' raw transactions. The dev accounts have
 * SettlementClients whose nonce queues must not be raced by impersonated transactions of the same account.
 */
export function outsider(i: number): Hex {
  return `0x${(0xb0b00 + i).toString(16).padStart(40, "0")}` as Hex;
}

const impersonated = new WeakMap<JsonRpcProvider, Set<string>>();

async function impersonate(provider: JsonRpcProvider, from: Hex): Promise<void> {
  let set = impersonated.get(provider);
  if (!set) {
    set = new Set();
    impersonated.set(provider, set);
  }
  if (set.has(from)) return;
  await provider.send("anvil_impersonateAccount", [from]);
  await setBalance(provider, from, 10n ** 22n);
  set.add(from);
}

export interface TxOptions {
  readonly value?: bigint;
  /** Send without the eth_call pre-check (a revert then shows as a failed receipt, decoded by a replay). */
  readonly blind?: boolean;
}

/**
 * A transaction from any address (anvil impersonation), mined at once (automine). A revert is thrown as the
 * client's SettlementRevertError (decoded custom error), from the pre-check or from a replay of a failed tx.
 */
export async function txFrom(
  env: Env,
  from: Hex,
  to: Hex | null,
  data: string,
  options: TxOptions = {},
): Promise<TransactionReceipt> {
  await impersonate(env.provider, from);
  const value = options.value ?? 0n;
  const request = { from, to, data, value: `0x${value.toString(16)}` };
  if (!options.blind) {
    try {
      await env.provider.call({ from, to, data, value, blockTag: "pending" });
    } catch (err) {
      throw toSettlementError("tx", err);
    }
  }
  const hash = (await env.provider.send("eth_sendTransaction", [
    { ...request, gas: `0x${(29_000_000).toString(16)}` },
  ])) as string;
  const receipt = await waitForReceipt(env.provider, hash, { intervalMs: 2 });
  if (receipt.status !== 1) {
    try {
      await env.provider.call({ from, to, data, value, blockTag: receipt.blockNumber - 1 });
    } catch (err) {
      throw toSettlementError("tx", err);
    }
    throw new Error(`transaction ${hash} reverted without data`);
  }
  return receipt;
}

/** eth_call of raw calldata from `from` (at the pending block by default), revert decoded like the client's. */
export async function callFrom(
  env: Env,
  from: Hex,
  to: Hex,
  data: string,
  value = 0n,
  blockTag: "pending" | "latest" = "pending",
): Promise<string> {
  if (value > 0n) await impersonate(env.provider, from); // funds it
  try {
    return await env.provider.call({ from, to, data, value, blockTag });
  } catch (err) {
    throw toSettlementError("call", err);
  }
}

/** The decoded revert of `p` (throws if it does not revert with a custom error). */
export async function revertOf(p: Promise<unknown>): Promise<SettlementRevertError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SettlementRevertError) return err;
    throw err;
  }
  throw new Error("expected a revert, the call succeeded");
}

// ================================================================ markets, time, funding

export interface MarketV2 {
  readonly id: Hex;
  readonly genesis: bigint;
  readonly epochLength: bigint;
  readonly feeBps: bigint;
  readonly bond: bigint;
  readonly challengeWindow: bigint;
  readonly minQuantity: bigint;
}

export interface MarketSpec {
  readonly genesisTimeS: bigint;
  readonly epochLengthS: bigint;
  readonly feeBps: bigint;
  readonly bondWei: bigint;
  readonly challengeWindowS: bigint;
  /** Smallest order quantity, base units (≥ 1; 0 reverts ZeroMinQuantity). */
  readonly minQuantity: bigint;
}

/**
 * marketId of version 2, written from the documented encoding (not protocol/market.ts):
 * keccak256(abi.encode(base, quote, genesis, epochLength, feeBps, bond, window, minQuantity)).
 */
export function marketIdOf(base: Hex, quote: Hex, s: MarketSpec): Hex {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address", "address", "uint64", "uint64", "uint16", "uint96", "uint32", "uint128"],
    [base, quote, s.genesisTimeS, s.epochLengthS, s.feeBps, s.bondWei, s.challengeWindowS, s.minQuantity],
  );
  return keccak256(encoded).toLowerCase() as Hex;
}

/** createMarket with the v2 parameters, from an outsider. */
export async function createMarketRaw(env: Env, base: Hex, quote: Hex, s: MarketSpec): Promise<Hex> {
  const data = smartMarketInterface.encodeFunctionData("createMarket", [
    base,
    quote,
    s.genesisTimeS,
    s.epochLengthS,
    s.feeBps,
    s.bondWei,
    s.challengeWindowS,
    s.minQuantity,
  ]);
  await txFrom(env, outsider(0), env.settlement, data);
  return marketIdOf(base, quote, s);
}

let lastGenesis = 0n;

/**
 * Creates a market whose epoch 0 starts one second after the latest block (later if that genesis is taken).
 * Defaults: 1000 s epochs, no fee, bond 10^15 wei, challenge window 400 s, minQuantity 1. Created with a
 * raw createMarket transaction (the documented ABI), so it does not depend on the client's version of it.
 */
export async function newMarket(
  env: Env,
  options: Partial<{
    epochLengthS: bigint;
    feeBps: bigint;
    bondWei: bigint;
    challengeWindowS: bigint;
    minQuantity: bigint;
  }> = {},
): Promise<MarketV2> {
  const now = await latestTimestamp(env.provider);
  // Strictly increasing genesis: two markets created in the same second with the same parameters would
  // be the same market.
  const genesis = now + 1n > lastGenesis ? now + 1n : lastGenesis + 1n;
  lastGenesis = genesis;
  const spec: MarketSpec = {
    genesisTimeS: genesis,
    epochLengthS: options.epochLengthS ?? 1000n,
    feeBps: options.feeBps ?? 0n,
    bondWei: options.bondWei ?? 10n ** 15n,
    challengeWindowS: options.challengeWindowS ?? 400n,
    minQuantity: options.minQuantity ?? 1n,
  };
  const id = await createMarketRaw(env, env.base, env.quote, spec);
  return {
    id,
    genesis,
    epochLength: spec.epochLengthS,
    feeBps: spec.feeBps,
    bond: spec.bondWei,
    challengeWindow: spec.challengeWindowS,
    minQuantity: spec.minQuantity,
  };
}

/**
 * Mines a block at second `offsetS` of epoch `epoch` (it must be later than the latest block). The next
 * transactions land at or after that time.
 */
export async function moveToEpoch(
  env: Env,
  m: { genesis: bigint; epochLength: bigint },
  epoch: bigint,
  offsetS = 1n,
): Promise<void> {
  const target = m.genesis + epoch * m.epochLength + offsetS;
  const now = await latestTimestamp(env.provider);
  if (target <= now) throw new Error(`cannot move back in time to epoch ${epoch} (+${offsetS}s)`);
  await mineBlock(env.provider, target);
}

export interface Funding {
  readonly trader: Trader;
  readonly asset: Asset;
  readonly amount: bigint;
}

/**
 * Funds traders fast: ether by anvil_setBalance, then each trader mints, approves and deposits with
 * explicit nonces, fixed gas and fee fields, pre-signed and broadcast all at once.
 */
export async function fund(env: Env, market: Hex, fundings: readonly Funding[]): Promise<void> {
  const byTrader = new Map<Hex, Funding[]>();
  for (const f of fundings) byTrader.set(f.trader.address, [...(byTrader.get(f.trader.address) ?? []), f]);
  const block = await env.provider.getBlock("latest");
  const maxFeePerGas = (block?.baseFeePerGas ?? 1_000_000_000n) * 4n + 1_000_000_000n;
  const hashes = await Promise.all(
    [...byTrader].map(async ([address, list]) => {
      const [, nonce] = await Promise.all([
        setBalance(env.provider, address, 10n ** 20n),
        env.provider.getTransactionCount(address, "pending"),
      ]);
      const wallet = new Wallet(list[0]!.trader.privateKey);
      const txs = list.flatMap((f) => {
        const token = f.asset === 0 ? env.base : env.quote;
        return [
          { to: token, data: testTokenInterface.encodeFunctionData("mint", [address, f.amount]) },
          { to: token, data: testTokenInterface.encodeFunctionData("approve", [env.settlement, f.amount]) },
          {
            to: env.settlement,
            data: smartMarketInterface.encodeFunctionData("deposit", [market, f.asset, f.amount]),
          },
        ];
      });
      const signed = await Promise.all(
        txs.map((tx, i) =>
          wallet.signTransaction({
            ...tx,
            nonce: nonce + i,
            gasLimit: 200_000n,
            chainId: env.chainId,
            type: 2,
            maxFeePerGas,
            maxPriorityFeePerGas: 1_000_000_000n,
          }),
        ),
      );
      const out: string[] = [];
      for (const raw of signed) out.push((await env.provider.broadcastTransaction(raw)).hash);
      return out;
    }),
  );
  const receipts = await Promise.all(
    hashes.flat().map((h) => waitForReceipt(env.provider, h, { intervalMs: 20 })),
  );
  const failed = receipts.find((r) => r?.status !== 1);
  if (failed) throw new Error(`funding transaction ${failed.hash} failed`);
}

export interface EscrowWord {
  readonly free: bigint;
  readonly locked: bigint;
  readonly lockedEpoch: bigint;
}

export async function escrowOf(env: Env, market: Hex, trader: Hex, asset: Asset): Promise<EscrowWord> {
  const ret = await callFrom(
    env,
    trader,
    env.settlement,
    smartMarketInterface.encodeFunctionData("escrowOf", [market, trader, asset]),
  );
  const [free, locked, lockedEpoch] = smartMarketInterface.decodeFunctionResult(
    "escrowOf",
    ret,
  ) as unknown as [bigint, bigint, bigint];
  return { free, locked, lockedEpoch };
}

export async function collateralOf(
  env: Env,
  market: Hex,
  trader: Hex,
  asset: Asset,
  epoch: bigint,
): Promise<bigint> {
  const ret = await callFrom(
    env,
    trader,
    env.settlement,
    smartMarketInterface.encodeFunctionData("collateralOf", [market, trader, asset, epoch]),
  );
  return smartMarketInterface.decodeFunctionResult("collateralOf", ret)[0] as bigint;
}

// ================================================================ batches (docs/certified-settlement.md)

// Honest batches come from settlement/batch.ts (selectBatch, selectChallenge). The encoder below writes the
// documented byte layout independently of it, as an outsider would from docs/certified-settlement.md: the
// error tests build wrong certificates with it.

function be(value: bigint, bytes: number): string {
  if (value < 0n || value >= 1n << BigInt(8 * bytes)) {
    throw new Error(`${value} does not fit ${bytes} bytes`);
  }
  return value.toString(16).padStart(2 * bytes, "0");
}

function sideBytes(s: SideHeader): string {
  return (
    be(s.better, 32) +
    be(s.equal, 32) +
    be(s.betterEdge, 16) +
    be(s.worseEdge, 16) +
    be(s.remainder, 32) +
    be(BigInt(s.id), 32)
  );
}

/** A side's cap threshold: capLimit (16), capId (32). */
function capBytes(s: SideHeader): string {
  return be(s.capLimit, 16) + be(BigInt(s.capId), 32);
}

/** The 432-byte header, hex without 0x: price, buy and sell fields, then buy and sell cap thresholds. */
export function encodeHeader(h: BatchHeader): string {
  return be(h.price, 16) + sideBytes(h.buy) + sideBytes(h.sell) + capBytes(h.buy) + capBytes(h.sell);
}

/** One 126-byte order, hex without 0x: side, quantity, limitPrice, nonce, trader, v, r, s. */
export function encodeOrder(o: SignedOrder): string {
  const sig = o.signature.slice(2);
  return (
    be(o.side === "buy" ? 0n : 1n, 1) +
    be(o.quantity, 16) +
    be(o.limitPrice, 16) +
    be(o.nonce, 8) +
    o.trader.slice(2).toLowerCase() +
    sig.slice(128, 130) +
    sig.slice(0, 64) +
    sig.slice(64, 128)
  );
}

/** header || orders (in the given order). */
export function encodeBatch(header: BatchHeader, orders: readonly IdentifiedOrder[]): Hex {
  return `0x${encodeHeader(header)}${orders.map((o) => encodeOrder(o.order)).join("")}`;
}

/**
 * standing header || union header || (flag || order) per entry. The flag: bit 0 in the standing batch, bit 1
 * in the new batch; `flag` when given (any byte, to test the invalid ones), else 3 for a standing order and
 * 2 for an added one (every entry in the new batch).
 */
export function encodeUnion(
  standing: BatchHeader,
  union: BatchHeader,
  entries: readonly { readonly order: IdentifiedOrder; readonly standing: boolean; readonly flag?: number }[],
): Hex {
  const body = entries
    .map((e) => be(BigInt(e.flag ?? (e.standing ? 3 : 2)), 1) + encodeOrder(e.order.order))
    .join("");
  return `0x${encodeHeader(standing)}${encodeHeader(union)}${body}`;
}

export function sortById<T extends { readonly id: Hex }>(orders: readonly T[]): T[] {
  return [...orders].sort((a, b) => compareHex(a.id, b.id));
}

/** A collateral table (trader -> base, quote) as batch.ts's lookup. */
export function lookupOf(table: ReadonlyMap<Hex, Collateral>): CollateralLookup {
  return (trader, asset) => {
    const c = table.get(trader.toLowerCase() as Hex);
    return c ? (asset === Asset.BASE ? c.base : c.quote) : 0n;
  };
}

/** collateralOf(epoch) of every trader of `orders`, both assets (read during epoch + 1). */
export async function readCollateral(
  env: Env,
  market: Hex,
  epoch: bigint,
  orders: readonly IdentifiedOrder[],
): Promise<Map<Hex, Collateral>> {
  const traders = [...new Set(orders.map((o) => o.order.trader.toLowerCase() as Hex))];
  const entries = await Promise.all(
    traders.map(
      async (t) =>
        [
          t,
          {
            base: await collateralOf(env, market, t, Asset.BASE, epoch),
            quote: await collateralOf(env, market, t, Asset.QUOTE, epoch),
          },
        ] as const,
    ),
  );
  return new Map(entries);
}

/** batch.ts's selection of `orders` (the honest batch of the epoch). */
export function select(
  env: Env,
  market: Hex,
  epoch: bigint,
  orders: readonly IdentifiedOrder[],
  collateral: ReadonlyMap<Hex, Collateral>,
  mustInclude: readonly IdentifiedOrder[] = [],
): BatchSelection {
  return selectBatch({
    market,
    epoch,
    domainSeparator: env.separator,
    orders: orders.map((o) => o.order),
    collateral: lookupOf(collateral),
    mustInclude: mustInclude.map((o) => o.order),
  });
}

/** select() that must trade. */
export function selectTrading(
  env: Env,
  market: Hex,
  epoch: bigint,
  orders: readonly IdentifiedOrder[],
  collateral: ReadonlyMap<Hex, Collateral>,
  mustInclude: readonly IdentifiedOrder[] = [],
): SelectedBatch {
  const s = select(env, market, epoch, orders, collateral, mustInclude);
  if (s.outcome !== "batch") throw new Error("the book does not trade");
  return s;
}

/** Fill per id of a clearing result (absent: 0). */
export function fillsOf(result: ClearingResult): Map<Hex, bigint> {
  return new Map(result.fills.map((f) => [f.id, f.quantity]));
}

/** keccak256(abi.encode(bytes32 market, uint64 epoch, bytes32 keccak256(data), address sender)). */
export function commitmentOf(market: Hex, epoch: bigint, data: Hex, sender: Hex): Hex {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "uint64", "bytes32", "address"],
      [market, epoch, keccak256(data), sender],
    ),
  ).toLowerCase() as Hex;
}

/** keccak256(abi.encode(bytes32 batchHash, address submitter, uint256 feeTotal)). */
export function recordOf(batchHash: Hex, submitter: Hex, feeTotal: bigint): Hex {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["bytes32", "address", "uint256"], [batchHash, submitter, feeTotal]),
  ).toLowerCase() as Hex;
}

// ================================================================ settlement transactions

export interface Submission {
  readonly market: Hex;
  readonly epoch: bigint;
  readonly submitter: Hex;
  readonly resultHash: Hex;
  readonly batchHash: Hex;
  readonly price: bigint;
  readonly volume: bigint;
  readonly feeTotal: bigint;
  /** Challenged only: the replaced submitter. */
  readonly replaced?: Hex;
  readonly gasUsed: bigint;
  readonly commitGas: bigint;
}

function submissionOf(receipt: TransactionReceipt, commitGas: bigint): Submission {
  for (const log of receipt.logs) {
    const parsed = smartMarketInterface.parseLog(log);
    if (parsed?.name === "Proposed" || parsed?.name === "Challenged") {
      const a = parsed.args;
      const challenged = parsed.name === "Challenged";
      const o = challenged ? 1 : 0;
      return {
        market: (a[0] as string).toLowerCase() as Hex,
        epoch: a[1] as bigint,
        submitter: (a[2] as string).toLowerCase() as Hex,
        ...(challenged ? { replaced: (a[3] as string).toLowerCase() as Hex } : {}),
        resultHash: (a[3 + o] as string).toLowerCase() as Hex,
        batchHash: (a[4 + o] as string).toLowerCase() as Hex,
        price: a[5 + o] as bigint,
        volume: a[6 + o] as bigint,
        feeTotal: a[7 + o] as bigint,
        gasUsed: receipt.gasUsed,
        commitGas,
      };
    }
  }
  throw new Error(`no Proposed/Challenged event in ${receipt.hash}`);
}

export async function commit(env: Env, from: Hex, market: Hex, epoch: bigint, data: Hex): Promise<bigint> {
  const c = commitmentOf(market, epoch, data, from);
  const data_ = smartMarketInterface.encodeFunctionData("commit", [market, c]);
  const r = await txFrom(env, from, env.settlement, data_, { blind: true }); // commit never reverts
  return r.gasUsed;
}

/** commit, then (next block) propose with the market's bond. */
export async function propose(
  env: Env,
  from: Hex,
  m: MarketV2,
  epoch: bigint,
  batch: Hex,
  options: TxOptions = {},
): Promise<Submission> {
  const commitGas = await commit(env, from, m.id, epoch, batch);
  const data = smartMarketInterface.encodeFunctionData("propose", [m.id, epoch, batch]);
  const r = await txFrom(env, from, env.settlement, data, { value: m.bond, ...options });
  return submissionOf(r, commitGas);
}

/** commit, then (next block) challenge with the market's bond. */
export async function challenge(
  env: Env,
  from: Hex,
  m: MarketV2,
  epoch: bigint,
  standingSubmitter: Hex,
  union: Hex,
  options: TxOptions = {},
): Promise<Submission> {
  const commitGas = await commit(env, from, m.id, epoch, union);
  const data = smartMarketInterface.encodeFunctionData("challenge", [m.id, epoch, standingSubmitter, union]);
  const r = await txFrom(env, from, env.settlement, data, { value: m.bond, ...options });
  return submissionOf(r, commitGas);
}

export async function finalize(
  env: Env,
  from: Hex,
  market: Hex,
  items: readonly { epoch: bigint; batchHash: Hex; submitter: Hex; feeTotal: bigint }[],
): Promise<TransactionReceipt> {
  const data = smartMarketInterface.encodeFunctionData("finalize", [
    market,
    items.map((i) => [i.epoch, i.batchHash, i.submitter, i.feeTotal]),
  ]);
  return txFrom(env, from, env.settlement, data);
}

export interface Certified {
  readonly price: bigint;
  readonly volume: bigint;
  readonly fills: bigint[];
  readonly resultHash: Hex;
  readonly feeTotal: bigint;
  readonly batchHash: Hex;
}

export function decodeCertified(
  fn: "certify" | "certifyWith",
  iface: typeof smartMarketInterface,
  ret: string,
): Certified {
  const [price, volume, fills, resultHash, feeTotal, batchHash] = iface.decodeFunctionResult(
    fn,
    ret,
  ) as unknown as [bigint, bigint, bigint[], string, bigint, string];
  return {
    price,
    volume,
    fills: [...fills],
    resultHash: resultHash.toLowerCase() as Hex,
    feeTotal,
    batchHash: batchHash.toLowerCase() as Hex,
  };
}

/** certify(market, epoch, batch) by eth_call. */
export async function certify(env: Env, market: Hex, epoch: bigint, batch: Hex): Promise<Certified> {
  const ret = await callFrom(
    env,
    env.anvil.accounts[0]!.address,
    env.settlement,
    smartMarketInterface.encodeFunctionData("certify", [market, epoch, batch]),
  );
  return decodeCertified("certify", smartMarketInterface, ret);
}

export async function bondsOf(env: Env, account: Hex): Promise<bigint> {
  const ret = await callFrom(
    env,
    account,
    env.settlement,
    smartMarketInterface.encodeFunctionData("bondsOf", [account]),
  );
  return smartMarketInterface.decodeFunctionResult("bondsOf", ret)[0] as bigint;
}

export async function recordOnChain(env: Env, market: Hex, epoch: bigint): Promise<Hex> {
  const ret = await callFrom(
    env,
    env.anvil.accounts[0]!.address,
    env.settlement,
    smartMarketInterface.encodeFunctionData("recordOf", [market, epoch]),
  );
  return (smartMarketInterface.decodeFunctionResult("recordOf", ret)[0] as string).toLowerCase() as Hex;
}

export { SettlementRevertError };

// ================================================================ batched reads

const escrowReader = JSON.parse(
  readFileSync(new URL("../contracts/artifacts/EscrowReader.json", import.meta.url), "utf8"),
) as { abi: unknown[]; bytecode: Hex };
const escrowReaderInterface = new Interface(escrowReader.abi as never);

/** Deploys test/contracts/EscrowReader (many escrowOf reads in one eth_call). */
export async function deployEscrowReader(env: Env): Promise<Hex> {
  const r = await txFrom(env, outsider(9), null, escrowReader.bytecode);
  return r.contractAddress!.toLowerCase() as Hex;
}

/** escrowOf(market, account, asset) of every account and both assets, in one eth_call, by `${account}/${asset}`. */
export async function escrowsOf(
  env: Env,
  reader: Hex,
  market: Hex,
  accounts: readonly Hex[],
): Promise<Map<string, EscrowWord>> {
  const ret = await callFrom(
    env,
    outsider(9),
    reader,
    escrowReaderInterface.encodeFunctionData("escrows", [env.settlement, market, accounts]),
  );
  const words = escrowReaderInterface.decodeFunctionResult("escrows", ret)[0] as bigint[];
  const out = new Map<string, EscrowWord>();
  accounts.forEach((a, i) => {
    for (const asset of [Asset.BASE, Asset.QUOTE]) {
      const at = i * 6 + asset * 3;
      out.set(`${a}/${asset}`, { free: words[at]!, locked: words[at + 1]!, lockedEpoch: words[at + 2]! });
    }
  });
  return out;
}

/** collateralOf(epoch) of every account, both assets, in one eth_call. */
export async function collateralsOf(
  env: Env,
  reader: Hex,
  market: Hex,
  epoch: bigint,
  accounts: readonly Hex[],
): Promise<Map<Hex, Collateral>> {
  const ret = await callFrom(
    env,
    outsider(9),
    reader,
    escrowReaderInterface.encodeFunctionData("collaterals", [env.settlement, market, epoch, accounts]),
  );
  const words = escrowReaderInterface.decodeFunctionResult("collaterals", ret)[0] as bigint[];
  return new Map(accounts.map((a, i) => [a, { base: words[2 * i]!, quote: words[2 * i + 1]! }]));
}
