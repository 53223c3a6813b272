// The attacker process of `smartmarket testnet up --adversary MODE` (`smartmarket testnet adversary`): it
// attacks every epoch of the testnet's primary market, as anyone with a wallet could, with nothing but
// ethers, the contract's ABI (settlement/client.ts, batch.ts, artifacts.ts), the documented order format
// (protocol/) and a node's public control API (node/api/client.ts) to read the epoch's gossiped orders.
// It uses no node code: it is not a node.
//
//   censor  right after each close, commit and propose a 1-unit self-trade between its two wallets
//           (orders never gossiped), to be first: version 1 settled the epoch with it and voided every
//           honest order
//   skim    sends a sell of its own in each epoch through a node's API, like a device; right after the
//           close reads the epoch's orders from the API, leaves out the two cheapest sells (not its own)
//           and the lowest bid, and commits and proposes the batch of the rest first, so that the price,
//           and what its own sell earns, rise
//   copy    watches the pending transactions and resends every honest propose()/challenge() calldata
//           (same data, same value) from its own account with a higher priority fee, to take the fee or
//           the challenger's reward; the commitment binds the sender, so each copy reverts NotCommitted
//
// After each epoch's deadline it finalises a result of its own that nobody replaced (so that its balance
// shows what an attack that stood would have earned), and journals what it did (files.ts).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TransactionRequest } from "ethers";
import { ApiClient } from "../../node/api/client.ts";
import type { OrderView } from "../../node/api/types.ts";
import { orderDigestBytes, orderId } from "../../protocol/eip712.ts";
import { type EpochSchedule, epochAtMs, epochEndMs, epochStartMs } from "../../protocol/epoch.ts";
import { Wallet } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { type Order, orderFromJson, orderToJson, type SignedOrder } from "../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../protocol/signature.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import { selectBatch } from "../../settlement/batch.ts";
import {
  finalizeItemOf,
  SettlementClient,
  type StandingEvent,
  submitterOf,
  waitForReceipt,
} from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import { decodeRevertData, SettlementRevertError } from "../../settlement/errors.ts";
import type { AdversaryMode } from "../types.ts";
import {
  type AttackRange,
  adversaryPath,
  appendJournal,
  inRange,
  type JournalEntry,
  readAdversaryConfig,
  readAttackRange,
} from "./files.ts";
import {
  ATTACK_AFTER_CLOSE_MS,
  CLOSE_AFTER_DEADLINE_MS,
  MEMPOOL_POLL_MS,
  OWN_ORDER_DELAY_MS,
} from "./timing.ts";

/** censor: the self-trade, 1 base unit at this price (0.20 $/kWh in the energy market). */
export const CENSOR_PRICE = 200n;
/** skim: its own sell of every epoch, base units and limit (0.5 kWh at 0.01 $/kWh: it always fills). */
export const SKIM_SELL_QUANTITY = 500n;
export const SKIM_SELL_LIMIT = 10n;
/** What the launcher deposits into each attacker wallet's escrow: base and quote units. */
export const ADVERSARY_DEPOSIT_BASE = 1_000_000n;
export const ADVERSARY_DEPOSIT_QUOTE = 1_000_000_000n;
/** How long the attacker retries collateral reads after the close (the chain may lag the clock). */
const COLLATERAL_RETRY_MS = 2000;
const STATE_WAIT_MS = 30_000;
/** Receipt polls of the attacker's transactions: the commit and the proposal each wait for one. */
const RECEIPT_POLL_MS = 25;
const GWEI = 10n ** 9n;

/** The parts of the launcher's state.json the attacker reads. */
interface StateView {
  readonly rpcUrl: string;
  readonly contract: Hex;
  readonly markets: readonly { id: Hex; genesisTimeS: string; epochLengthS: string }[];
  readonly nodes: readonly { apiUrl: string; dataDir: string }[];
}

export interface AttackerOptions {
  /** The testnet folder (state.json, adversary/). */
  readonly dir: string;
  /** Overrides config.json's mode. */
  readonly mode?: AdversaryMode;
  readonly log: (line: string) => void;
  /** Aborted: stop at the next step and resolve. */
  readonly signal: AbortSignal;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

function errorName(err: unknown): string {
  if (err instanceof SettlementRevertError) return err.errorName;
  return ((err as Error).message ?? String(err)).split("\n")[0]!.slice(0, 240);
}

function short(h: string): string {
  return `${h.slice(0, 10)}…${h.slice(-4)}`;
}

/** Everything a mode needs: the market, the wallets, the node API, the journal, and an abortable clock. */
export class AttackContext {
  readonly dir: string;
  readonly mode: AdversaryMode;
  readonly market: Hex;
  readonly schedule: EpochSchedule;
  /** The market's smallest order, base units: the attacker's orders are never smaller (nodes and the contract refuse them). */
  readonly minQuantity: bigint;
  readonly keys: readonly Hex[];
  readonly addresses: readonly Hex[];
  /** One settlement client per wallet; clients[0] sends the proposals, copies and finalisations. */
  readonly clients: readonly SettlementClient[];
  readonly api: ApiClient;
  readonly separator: Uint8Array;
  readonly contract: Hex;
  /** Settlement events are read from this block on. */
  readonly fromBlock: number;
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;

  constructor(init: {
    dir: string;
    mode: AdversaryMode;
    market: Hex;
    schedule: EpochSchedule;
    minQuantity: bigint;
    keys: readonly Hex[];
    clients: readonly SettlementClient[];
    api: ApiClient;
    separator: Uint8Array;
    contract: Hex;
    fromBlock: number;
    log: (line: string) => void;
    signal: AbortSignal;
  }) {
    this.dir = init.dir;
    this.mode = init.mode;
    this.market = init.market;
    this.schedule = init.schedule;
    this.minQuantity = init.minQuantity;
    this.keys = init.keys;
    this.addresses = init.keys.map((k) => addressOfPrivateKey(k));
    this.clients = init.clients;
    this.api = init.api;
    this.separator = init.separator;
    this.contract = init.contract;
    this.fromBlock = init.fromBlock;
    this.log = init.log;
    this.signal = init.signal;
  }

  get stopped(): boolean {
    return this.signal.aborted;
  }

  isMine(address: string | null | undefined): boolean {
    return address !== null && address !== undefined && this.addresses.includes(address.toLowerCase() as Hex);
  }

  range(): AttackRange | null {
    return readAttackRange(this.dir);
  }

  journal(entry: Omit<JournalEntry, "market" | "atMs"> & { market?: Hex }): void {
    appendJournal(this.dir, { market: this.market, atMs: Date.now(), ...entry });
  }

  /** Resolves at `ms` (unix time) or when stopped; false when stopped. */
  async sleepUntil(ms: number): Promise<boolean> {
    if (this.stopped) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms - Date.now()));
      const signal = this.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
    return !this.stopped;
  }

  /** The range, once the launcher has written it (null when stopped first). */
  async waitRange(): Promise<AttackRange | null> {
    for (;;) {
      const r = this.range();
      if (r || this.stopped) return r;
      await this.sleepUntil(Date.now() + 200);
    }
  }

  epochAt(ms: number): bigint {
    return epochAtMs(this.schedule, BigInt(ms));
  }

  startMs(epoch: bigint): number {
    return Number(epochStartMs(this.schedule, epoch));
  }

  closeMs(epoch: bigint): number {
    return Number(epochEndMs(this.schedule, epoch));
  }

  /** A signed order of the primary market from wallet `wallet`. */
  sign(wallet: number, order: Omit<Order, "market" | "trader">): SignedOrder {
    const full: Order = { ...order, market: this.market, trader: this.addresses[wallet]! };
    return { ...full, signature: signDigest(orderDigestBytes(full, this.separator), this.keys[wallet]!) };
  }

  orderId(order: Order): Hex {
    return orderId(order, this.separator);
  }

  /** collateralOf(e) of each trader, both assets, on the pending block (retried while the chain catches up). */
  async collateral(
    epoch: bigint,
    traders: readonly Hex[],
  ): Promise<Map<Hex, { base: bigint; quote: bigint }>> {
    const out = new Map<Hex, { base: bigint; quote: bigint }>();
    const deadline = Date.now() + COLLATERAL_RETRY_MS;
    const c = this.clients[0]!;
    await Promise.all(
      [...new Set(traders.map((t) => t.toLowerCase() as Hex))].map(async (t) => {
        for (;;) {
          try {
            const [base, quote] = await Promise.all([
              c.collateralOf(this.market, t, Asset.BASE, epoch, "pending"),
              c.collateralOf(this.market, t, Asset.QUOTE, epoch, "pending"),
            ]);
            out.set(t, { base, quote });
            return;
          } catch (err) {
            if (Date.now() > deadline || this.stopped) throw err;
            await sleep(100);
          }
        }
      }),
    );
    return out;
  }

  /** The epoch's settlement events (Proposed, Challenged, Finalized) of the primary market. */
  async eventsOf(epoch: bigint) {
    const c = this.clients[0]!;
    const head = await c.provider.getBlockNumber();
    const events = await c.settlementEvents({
      fromBlock: this.fromBlock,
      toBlock: head,
      markets: [this.market],
    });
    return events.filter((e) => e.epoch === epoch);
  }
}

// ================================================================ censor and skim: commit, then propose

/** Commits to `batch` and proposes it; journals the outcome (`describe`, called after sending, says what it is). */
async function submit(
  ctx: AttackContext,
  epoch: bigint,
  batch: Uint8Array,
  describe: () => string,
): Promise<void> {
  const c = ctx.clients[0]!;
  try {
    const { commit, proposal } = await c.submitResult(ctx.market, epoch, batch);
    const after = Date.now() - ctx.closeMs(epoch);
    const detail = describe();
    ctx.journal({
      kind: "propose",
      epoch: epoch.toString(),
      tx: proposal.txHash,
      commitTx: commit.txHash,
      ok: true,
      resultHash: proposal.event.resultHash,
      detail,
    });
    ctx.log(`epoch ${epoch}: proposed ${short(proposal.txHash)}, ${after} ms after the close (${detail})`);
  } catch (err) {
    ctx.journal({
      kind: "propose",
      epoch: epoch.toString(),
      tx: null,
      ok: false,
      error: errorName(err),
      detail: describe(),
    });
    ctx.log(`epoch ${epoch}: proposal failed: ${errorName(err)}`);
  }
}

/** censor: the smallest self-trade the market admits (minQuantity units) between the attacker's two wallets, never gossiped. */
async function censorEpoch(ctx: AttackContext, epoch: bigint): Promise<void> {
  const quantity = ctx.minQuantity;
  const buy = ctx.sign(0, { epoch, side: "buy", quantity, limitPrice: CENSOR_PRICE, nonce: epoch });
  const sell = ctx.sign(1, { epoch, side: "sell", quantity, limitPrice: CENSOR_PRICE, nonce: epoch });
  const collateral = await ctx.collateral(epoch, [buy.trader, sell.trader]);
  const selection = selectBatch({
    market: ctx.market,
    epoch,
    domainSeparator: ctx.separator,
    orders: [buy, sell],
    collateral: (t, asset) => {
      const c = collateral.get(t.toLowerCase() as Hex);
      return c ? (asset === Asset.BASE ? c.base : c.quote) : 0n;
    },
  });
  if (selection.outcome !== "batch") {
    ctx.journal({
      kind: "skip",
      epoch: epoch.toString(),
      detail: "the self-trade does not clear (collateral?)",
    });
    return;
  }
  await submit(ctx, epoch, selection.bytes, () => "a 1-unit self-trade between its two wallets");
}

/** A node API's order as a signed order. */
function signedOrderOf(view: OrderView): SignedOrder {
  const { id: _id, source: _source, receivedMs: _received, ...json } = view;
  return orderFromJson(json) as SignedOrder;
}

/** skim: its own sell of the epoch, sent to a node's API like a device's. */
async function placeOwnSell(ctx: AttackContext, epoch: bigint): Promise<void> {
  const order = ctx.sign(0, {
    epoch,
    side: "sell",
    quantity: SKIM_SELL_QUANTITY,
    limitPrice: SKIM_SELL_LIMIT,
    nonce: epoch,
  });
  try {
    const r = await ctx.api.submitOrder(ctx.market, orderToJson(order));
    ctx.journal({ kind: "order", epoch: epoch.toString(), detail: r.id });
  } catch (err) {
    ctx.journal({
      kind: "error",
      epoch: epoch.toString(),
      detail: `own sell not accepted: ${errorName(err)}`,
    });
  }
}

/** skim: the epoch's orders without the two cheapest sells (not its own) and the lowest bid, proposed first. */
async function skimEpoch(ctx: AttackContext, epoch: bigint): Promise<void> {
  const views = await ctx.api.orders(ctx.market, epoch);
  const orders = views.map(signedOrderOf);
  const withIds = orders.map((o) => ({ o, id: ctx.orderId(o) }));
  const byLimit = (side: "buy" | "sell") =>
    withIds
      .filter((x) => x.o.side === side && !ctx.isMine(x.o.trader))
      .sort((a, b) =>
        a.o.limitPrice !== b.o.limitPrice ? (a.o.limitPrice < b.o.limitPrice ? -1 : 1) : a.id < b.id ? -1 : 1,
      );
  const leftOut = [...byLimit("sell").slice(0, 2), ...byLimit("buy").slice(0, 1)];
  const left = new Set(leftOut.map((x) => x.id));
  const kept = withIds.filter((x) => !left.has(x.id)).map((x) => x.o);
  const collateral = await ctx.collateral(
    epoch,
    orders.map((o) => o.trader),
  );
  const lookup = (t: Hex, asset: number) => {
    const c = collateral.get(t.toLowerCase() as Hex);
    return c ? (asset === Asset.BASE ? c.base : c.quote) : 0n;
  };
  const input = { market: ctx.market, epoch, domainSeparator: ctx.separator, collateral: lookup };
  const skimmed = selectBatch({ ...input, orders: kept });
  if (skimmed.outcome !== "batch") {
    ctx.journal({
      kind: "skip",
      epoch: epoch.toString(),
      detail: `nothing trades without the ${leftOut.length} orders it leaves out (of ${orders.length})`,
    });
    return;
  }
  const own = new Set(withIds.filter((x) => ctx.isMine(x.o.trader)).map((x) => x.id));
  const ownFill = (fills: readonly { id: Hex; quantity: bigint }[]) =>
    fills.filter((f) => own.has(f.id)).reduce((s, f) => s + f.quantity, 0n);
  const proceeds = (r: typeof skimmed.clearing) => (r.price ?? 0n) * ownFill(r.fills);
  // What it would have been with every order, for the journal: computed after sending.
  const describe = () => {
    const honest = selectBatch({ ...input, orders }).clearing;
    const sells = leftOut.filter((x) => x.o.side === "sell").map((x) => x.o.limitPrice);
    const bid = leftOut.find((x) => x.o.side === "buy")?.o.limitPrice ?? "-";
    return (
      `left out ${leftOut.length} of ${orders.length} orders (sells at ${sells.join(", ")}, a bid at ${bid}): ` +
      `price ${skimmed.clearing.price} instead of ${honest.price ?? "none"}, ` +
      `its own sell earns ${proceeds(skimmed.clearing)} instead of ${proceeds(honest)}`
    );
  };
  await submit(ctx, epoch, skimmed.bytes, describe);
}

/** censor and skim: every epoch in the range, right after its close. */
async function proposalLoop(ctx: AttackContext): Promise<void> {
  let epoch: bigint | null = null;
  while (!ctx.stopped) {
    const range = await ctx.waitRange();
    if (!range) return;
    const now = ctx.epochAt(Date.now());
    if (epoch === null || epoch < range.fromEpoch) {
      // The first epoch of the range, or the current one if the range began earlier.
      epoch = range.fromEpoch;
      if (now > epoch) epoch = now;
    }
    if (!inRange(range, epoch)) {
      await ctx.sleepUntil(Date.now() + 500); // past the range: wait for a new one (another run)
      continue;
    }
    const e: bigint = epoch;
    if (ctx.mode === "skim") {
      const lengthMs = ctx.closeMs(e) - ctx.startMs(e);
      if (Date.now() < ctx.closeMs(e) - lengthMs / 4) {
        if (!(await ctx.sleepUntil(ctx.startMs(e) + lengthMs / 8 + OWN_ORDER_DELAY_MS))) return;
        await placeOwnSell(ctx, e);
      }
    }
    if (!(await ctx.sleepUntil(ctx.closeMs(e) + ATTACK_AFTER_CLOSE_MS))) return;
    try {
      await (ctx.mode === "censor" ? censorEpoch(ctx, e) : skimEpoch(ctx, e));
    } catch (err) {
      ctx.journal({ kind: "error", epoch: e.toString(), detail: errorName(err) });
      ctx.log(`epoch ${e}: ${errorName(err)}`);
    }
    epoch = e + 1n;
  }
}

// ================================================================ copy: resend honest calldata, outbid

interface PendingTx {
  readonly hash: string;
  readonly from: string;
  readonly to: string | null;
  readonly input: string;
  readonly value: string;
  readonly gas: string;
  readonly gasPrice?: string;
  readonly maxFeePerGas?: string;
  readonly maxPriorityFeePerGas?: string;
}

/** The chain's pending transactions: txpool_content, or the pending block where the txpool API is missing. */
async function pendingTransactions(ctx: AttackContext): Promise<PendingTx[]> {
  const provider = ctx.clients[0]!.provider;
  try {
    const pool = (await provider.send("txpool_content", [])) as {
      pending?: Record<string, Record<string, PendingTx>>;
    };
    return Object.values(pool.pending ?? {}).flatMap((byNonce) => Object.values(byNonce));
  } catch {
    const block = (await provider.send("eth_getBlockByNumber", ["pending", true])) as {
      transactions?: PendingTx[];
    } | null;
    return (block?.transactions ?? []).filter((t) => typeof t === "object");
  }
}

/** Why a mined transaction reverted: its trace's revert data, decoded with the ABI. */
async function revertReason(ctx: AttackContext, hash: string, request: TransactionRequest, block: number) {
  const provider = ctx.clients[0]!.provider;
  try {
    const trace = (await provider.send("debug_traceTransaction", [hash, { tracer: "callTracer" }])) as {
      output?: string;
      error?: string;
    };
    const decoded = trace.output ? decodeRevertData(trace.output) : null;
    if (decoded) return decoded.errorName;
  } catch {
    // no tracing: replay it on the state before its block
  }
  try {
    await provider.call({ ...request, blockTag: block - 1 });
    return "reverted";
  } catch (err) {
    const data = (err as { data?: string }).data;
    return (data && decodeRevertData(data)?.errorName) || "reverted";
  }
}

async function copyLoop(ctx: AttackContext): Promise<void> {
  const client = ctx.clients[0]!;
  const provider = client.provider;
  const wallet = new Wallet(ctx.keys[0]!, provider);
  const chainId = await client.chainId();
  const selectors = new Map(
    (["propose", "challenge"] as const).map((name) => [
      smartMarketInterface.getFunction(name)!.selector,
      name,
    ]),
  );
  const seen = new Set<string>();
  let nonce: number | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();

  const copy = async (tx: PendingTx, call: "propose" | "challenge", epoch: bigint) => {
    const tip = BigInt(tx.maxPriorityFeePerGas ?? tx.gasPrice ?? GWEI);
    const priority = tip * 2n + GWEI;
    const maxFee = BigInt(tx.maxFeePerGas ?? tx.gasPrice ?? 2n * GWEI) + priority;
    const request: TransactionRequest = {
      to: tx.to,
      from: wallet.address,
      data: tx.input,
      value: BigInt(tx.value),
      gasLimit: BigInt(tx.gas),
      maxPriorityFeePerGas: priority,
      maxFeePerGas: maxFee,
      type: 2,
      chainId,
    };
    // Too late once the original is mined: a copy would only pay gas to revert AlreadyProposed.
    if (await provider.getTransactionReceipt(tx.hash).catch(() => null)) {
      ctx.journal({
        kind: "skip",
        epoch: epoch.toString(),
        detail: `too late to copy ${call} ${tx.hash}: mined`,
      });
      return;
    }
    // One nonce after another; no eth_estimateGas (it would revert, and it is not how a copier works).
    const send = async () => {
      if (nonce === null) nonce = await wallet.getNonce("pending");
      try {
        const r = await wallet.sendTransaction({ ...request, nonce });
        nonce++;
        return r;
      } catch (err) {
        nonce = null;
        throw err;
      }
    };
    const sent = queue.then(send, send);
    queue = sent.catch(() => undefined);
    let hash: string | null = null;
    try {
      const response = (await sent) as { hash: string };
      hash = response.hash.toLowerCase();
      const receipt = await waitForReceipt(provider, hash, { intervalMs: 100, timeoutMs: 60_000 });
      const ok = receipt.status === 1;
      const error = ok ? undefined : await revertReason(ctx, hash, request, receipt.blockNumber);
      ctx.journal({
        kind: "copy",
        epoch: epoch.toString(),
        tx: hash as Hex,
        ok,
        ...(error ? { error } : {}),
        copiedTx: tx.hash.toLowerCase() as Hex,
        copiedFrom: tx.from.toLowerCase() as Hex,
        call,
      });
      ctx.log(
        `epoch ${epoch}: copied ${call} ${short(tx.hash)} of ${short(tx.from)} as ${short(hash)}: ${ok ? "landed" : `reverted ${error}`}`,
      );
    } catch (err) {
      ctx.journal({
        kind: "copy",
        epoch: epoch.toString(),
        tx: hash as Hex | null,
        ok: false,
        error: errorName(err),
        copiedTx: tx.hash.toLowerCase() as Hex,
        copiedFrom: tx.from.toLowerCase() as Hex,
        call,
      });
      ctx.log(`epoch ${epoch}: copy of ${short(tx.hash)} failed: ${errorName(err)}`);
    }
  };

  while (!ctx.stopped) {
    const range = ctx.range();
    let pending: PendingTx[] = [];
    try {
      pending = range ? await pendingTransactions(ctx) : [];
    } catch (err) {
      ctx.log(`cannot read pending transactions: ${errorName(err)}`);
    }
    for (const tx of pending) {
      if (seen.has(tx.hash)) continue;
      seen.add(tx.hash);
      if (tx.to?.toLowerCase() !== ctx.contract || ctx.isMine(tx.from)) continue;
      const call = selectors.get(tx.input.slice(0, 10).toLowerCase());
      if (!call) continue;
      let parsed: ReturnType<typeof smartMarketInterface.parseTransaction>;
      try {
        parsed = smartMarketInterface.parseTransaction({ data: tx.input });
      } catch {
        continue;
      }
      const market = String(parsed?.args[0]).toLowerCase();
      const epoch = parsed?.args[1] as bigint;
      if (market !== ctx.market || !inRange(range, epoch)) continue;
      const p = copy(tx, call, epoch);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await ctx.sleepUntil(Date.now() + MEMPOOL_POLL_MS);
  }
  // Copies still waiting for their receipts get a moment to journal what became of them.
  await Promise.race([Promise.allSettled([...inFlight]), sleep(2000)]);
}

// ================================================================ every mode: close each epoch out

/** After an epoch's deadline: finalise a result of the attacker's own that nobody replaced, then journal "closed". */
async function closeEpoch(ctx: AttackContext, epoch: bigint): Promise<void> {
  const events = await ctx.eventsOf(epoch);
  const standing = events.filter((e): e is StandingEvent => e.kind !== "Finalized");
  const last = standing[standing.length - 1];
  if (!last || !ctx.isMine(submitterOf(last)) || events.some((e) => e.kind === "Finalized")) return;
  const c = ctx.clients[ctx.addresses.indexOf(submitterOf(last).toLowerCase() as Hex)] ?? ctx.clients[0]!;
  const r = await c.finalize(ctx.market, [finalizeItemOf(last)]);
  const fee = r.events.reduce((s, e) => s + e.feeTotal, 0n);
  let claimed = 0n;
  try {
    claimed = (await c.claimBonds()).amount;
  } catch {
    // nothing to claim
  }
  ctx.journal({
    kind: "finalize",
    epoch: epoch.toString(),
    tx: r.txHash,
    ok: true,
    fee: fee.toString(),
    detail: `its result stood: fee ${fee}, bonds claimed ${claimed} wei`,
  });
  ctx.log(`epoch ${epoch}: its result is final; finalized ${short(r.txHash)}, fee ${fee}`);
}

async function closeLoop(ctx: AttackContext): Promise<void> {
  let epoch: bigint | null = null;
  while (!ctx.stopped) {
    const range = await ctx.waitRange();
    if (!range) return;
    if (epoch === null || epoch < range.fromEpoch) epoch = range.fromEpoch;
    if (!inRange(range, epoch)) {
      await ctx.sleepUntil(Date.now() + 500);
      continue;
    }
    const e: bigint = epoch;
    if (!(await ctx.sleepUntil(ctx.closeMs(e + 1n) + CLOSE_AFTER_DEADLINE_MS))) return;
    try {
      await closeEpoch(ctx, e);
    } catch (err) {
      ctx.journal({ kind: "error", epoch: e.toString(), detail: `finalize: ${errorName(err)}` });
    }
    ctx.journal({ kind: "closed", epoch: e.toString() });
    epoch = e + 1n;
  }
}

// ================================================================ the process

/**
 * Runs each step of an attack once before the first close (a node API call, chain reads, signing, a batch
 * selection), so that the first real attack is not slowed down by cold connections and code.
 */
async function warmUp(ctx: AttackContext): Promise<void> {
  const c = ctx.clients[0]!;
  const quantity = ctx.minQuantity;
  const buy = ctx.sign(0, { epoch: 0n, side: "buy", quantity, limitPrice: CENSOR_PRICE, nonce: 0n });
  const sell = ctx.sign(1, { epoch: 0n, side: "sell", quantity, limitPrice: CENSOR_PRICE, nonce: 0n });
  selectBatch({
    market: ctx.market,
    epoch: 0n,
    domainSeparator: ctx.separator,
    orders: [buy, sell],
    collateral: () => 1_000_000n,
  });
  await Promise.allSettled([
    ctx.api.orders(ctx.market, 0n),
    c.collateralOf(ctx.market, ctx.addresses[0]!, Asset.BASE, 0n, "pending"),
    c.getMarket(ctx.market),
    c.provider.getBlockNumber(),
  ]);
}

async function readState(dir: string, signal: AbortSignal): Promise<StateView> {
  const path = join(dir, "state.json");
  const deadline = Date.now() + STATE_WAIT_MS;
  for (;;) {
    if (existsSync(path)) {
      try {
        const s = JSON.parse(readFileSync(path, "utf8")) as StateView;
        if (s.nodes.length > 0 && s.markets.length > 0) return s;
      } catch {
        // being written
      }
    }
    if (Date.now() > deadline || signal.aborted) throw new Error(`no testnet state in ${path}`);
    await sleep(100);
  }
}

/** Runs the attacker until `signal` aborts. */
export async function runAttacker(opts: AttackerOptions): Promise<void> {
  const config = readAdversaryConfig(opts.dir);
  const mode = opts.mode ?? config.mode;
  const state = await readState(opts.dir, opts.signal);
  const marketState = state.markets.find((m) => m.id === config.market) ?? state.markets[0]!;
  const node = state.nodes[config.nodeIndex % state.nodes.length]!;
  const token = readFileSync(join(node.dataDir, "api-token"), "utf8").trim();
  const clients = config.keys.map(
    (privateKey) =>
      new SettlementClient({
        rpcUrl: state.rpcUrl,
        privateKey,
        contract: state.contract,
        pollingIntervalMs: RECEIPT_POLL_MS,
      }),
  );
  try {
    const first = clients[0]!;
    const marketId = marketState.id.toLowerCase() as Hex;
    const ctx = new AttackContext({
      dir: opts.dir,
      mode,
      market: marketId,
      schedule: {
        genesisTimeS: BigInt(marketState.genesisTimeS),
        epochLengthS: BigInt(marketState.epochLengthS),
      },
      minQuantity: (await first.getMarket(marketId)).minQuantity,
      keys: config.keys,
      clients,
      api: new ApiClient(node.apiUrl, token, { timeoutMs: 5000 }),
      separator: await first.domainSeparator(),
      contract: state.contract.toLowerCase() as Hex,
      fromBlock: await first.provider.getBlockNumber(),
      log: opts.log,
      signal: opts.signal,
    });
    await warmUp(ctx);
    writeFileSync(
      adversaryPath(opts.dir, "ready"),
      `${JSON.stringify({ pid: process.pid, mode, addresses: ctx.addresses })}\n`,
    );
    opts.log(`attacker (${mode}) ready: wallets ${ctx.addresses.join(", ")}; market ${ctx.market}`);
    await Promise.all([mode === "copy" ? copyLoop(ctx) : proposalLoop(ctx), closeLoop(ctx)]);
  } finally {
    for (const c of clients) c.close();
  }
}
