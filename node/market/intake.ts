// Order intake of one market: every order enters here, whatever its source (gossip, sync, the control
// API, the node's own wallet), is validated by the protocol's checklist, and lands in its epoch's book and
// in the store. Orders this device signed are written durably before they are gossiped.

import { MAX_ORDERS_PER_TRADER_SIDE } from "../../clearing/limits.ts";
import { decodeBundle, isBundle } from "../../protocol/bundle.ts";
import { encodeOrder } from "../../protocol/codec.ts";
import { MAX_GOSSIP_EVICTIONS_PER_TRADER } from "../../protocol/constants.ts";
import { orderDigestBytes } from "../../protocol/eip712.ts";
import { OrderError, OrderErrorCode } from "../../protocol/errors.ts";
import { compareHex, type Hex } from "../../protocol/hex.ts";
import type { Order, SignedOrder } from "../../protocol/order.ts";
import { signDigest } from "../../protocol/signature.ts";
import {
  type ValidationContext,
  type ValidOrder,
  validateOrderBytes,
  validateOrderJson,
} from "../../protocol/validation.ts";
import type { ParsedOrderRequest } from "../api/order-request.ts";
import { MAX_ORDERS_PER_SUBMISSION } from "../constants.ts";
import { NodeInputError } from "../errors.ts";
import type { Verdict } from "../gossip/service.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import type { OrderBooks } from "../orderbook.ts";
import type { NodeStore, OrderSource } from "../store.ts";
import { epochAt, type MarketContext, validationContext } from "./context.ts";
import type { FundedTraders } from "./funded.ts";
import type { SessionNetwork } from "./network.ts";
import { BundlePublisher } from "./publisher.ts";

export interface NodeWallet {
  readonly address: Hex;
  readonly privateKey: Hex;
}

/** Node-wide nonces for the orders the node's wallet signs: never repeated, across markets and restarts. */
export interface NonceSource {
  next(): bigint;
}

export interface SubmittedOrder {
  readonly id: Hex;
  readonly order: SignedOrder;
  /** Peers the order was first sent to (0 is fine: reconciliation spreads it at close). */
  readonly recipients: number;
}

/** The fate of one order of a batch submission: accepted (stored durably, then published) or refused. */
export type BatchItemResult =
  | { readonly status: "accepted"; readonly id: Hex; readonly recipients: number }
  | { readonly status: "refused"; readonly id: Hex | null; readonly code: string; readonly detail: string };

/** A single order of this device waiting for the durable transaction of its turn (admitDurably). */
interface DurableGroupEntry {
  readonly valid: ValidOrder;
  readonly wire: Uint8Array;
  readonly source: OrderSource;
  readonly resolve: (verdict: Verdict) => void;
  readonly reject: (err: unknown) => void;
}

export interface OrderIntakeComponents {
  readonly books: OrderBooks;
  readonly store: NodeStore;
  readonly network: SessionNetwork;
  readonly wallet: NodeWallet;
  readonly nonces: NonceSource;
  readonly metrics: MarketMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
  /** The traders whose orders are carried: those that deposited into the market. */
  readonly funded: FundedTraders;
}

export class OrderIntake {
  private readonly ctx: MarketContext;
  private readonly c: OrderIntakeComponents;
  private readonly publisher: BundlePublisher;

  constructor(ctx: MarketContext, components: OrderIntakeComponents) {
    this.ctx = ctx;
    this.c = components;
    this.publisher = new BundlePublisher((data) => this.c.network.publish(this.ctx.topics.orders, data));
  }

  /** The validation context of intake: the market's rules, `time`, and the funded-trader rule. */
  private vctx(time: ValidationContext["time"]): ValidationContext {
    return { ...validationContext(this.ctx, time), admits: this.admits };
  }

  /** The funded-trader rule, made once (every order on the hot path passes it). */
  private readonly admits = (trader: Hex): boolean => this.c.funded.admits(trader);

  /**
   * Adds a validated order to its epoch's book and the store. Per trader, side and epoch the book keeps
   * the MAX_ORDERS_PER_TRADER_SIDE smallest ids, the only orders the clearing can keep (clearing/limits.ts):
   * from gossip and sync a larger id is IGNOREd (TRADER_CAP) and a smaller one evicts the largest, so
   * every node holds exactly the orders that count. Attack: one funded wallet signing thousands of orders
   * per epoch, through as many peers as it likes, made every node store and reconcile all of them. From
   * the API and the node's own wallet an order beyond the places of its side is refused instead (TRADER_CAP),
   * whatever its id: the device learns at once that only two count, and this node does not push out an
   * order it acknowledged (the trader's own smaller-id order arriving by gossip still may: the rule is the
   * rule, and it is the trader's doing).
   */
  private admit(valid: ValidOrder, wire: Uint8Array, source: OrderSource): Verdict {
    const book = this.c.books.getOrCreate(this.ctx.market, valid.order.epoch);
    if (book.frozen) return { action: "IGNORE", code: "EPOCH_FROZEN" };
    if (book.has(valid.id)) return { action: "IGNORE", code: "DUPLICATE" };
    const { trader, side } = valid.order;
    if (book.countOf(trader, side) >= Number(MAX_ORDERS_PER_TRADER_SIDE)) {
      if (source === "api" || source === "local") return { action: "IGNORE", code: "TRADER_CAP" };
      const largest = book.largestIdOf(trader, side)!;
      if (compareHex(valid.id, largest) > 0) return { action: "IGNORE", code: "TRADER_CAP" };
      // Gossip may evict MAX_GOSSIP_EVICTIONS_PER_TRADER times per trader and epoch; after that the
      // smaller ids come in by the close's reconciliation (sync), which still evicts.
      if (source === "gossip" && book.evictionsOf(trader) >= MAX_GOSSIP_EVICTIONS_PER_TRADER)
        return { action: "IGNORE", code: "TRADER_CAP" };
      book.remove(largest);
      this.c.store.deleteOrder(largest);
    }
    if (!this.c.store.putOrder(valid.id, valid.order, wire, source, this.c.clock())) {
      book.add(valid.id, valid.order, wire);
      return { action: "IGNORE", code: "DUPLICATE" };
    }
    book.add(valid.id, valid.order, wire);
    return { action: "ACCEPT", code: "OK" };
  }

  /**
   * Full validation of a message gossiped on the market's topic: one order, or a bundle of them. Its time
   * rules are judged at `receivedMs`, when it arrived (default: now): attack defeated, none, but a fault
   * removed: under load the validation queue held orders for up to a second, and orders that arrived on
   * time were IGNOREd as EPOCH_CLOSED once validated (1,600 to 3,000 of 10,000 per node at 2,000 orders/s),
   * left for the close's reconciliation to carry.
   */
  onGossip(data: Uint8Array, _from: string, receivedMs: number = this.c.clock()): Verdict {
    const time = { nowMs: BigInt(receivedMs) };
    if (isBundle(data)) return this.onBundle(data, time);
    try {
      const valid = validateOrderBytes(data, this.vctx(time));
      return this.admit(valid, data, "gossip");
    } catch (err) {
      if (!(err instanceof OrderError)) throw err;
      return { action: err.action, code: err.code };
    }
  }

  /**
   * A bundle: every order is validated before any is admitted.
   * 1. [REJECT MALFORMED, OVERSIZE] the framing (protocol/bundle.ts);
   * 2. [REJECT <its code>] any order breaking a REJECT rule: the publisher vouched for every order of it,
   *    and an honest node forwards only bundles it accepted, so nothing of the bundle is taken;
   * 3. [REJECT MALFORMED] an order twice in one bundle;
   * 4. then the orders are admitted; ACCEPT (forward) if at least one was new here, else IGNORE with the
   *    first order's code.
   * Orders this node already holds, with the same signature, are IGNOREd (KNOWN) before their signatures:
   * attack defeated, a peer re-bundling orders the network has, so that every node recovers their
   * signatures again (each costs a digest and a lookup; the per-peer rate limit charges every order).
   * Each order's verdict is counted (smartmarket_orders_total, source "gossip"); the message's verdict is
   * counted by the gossip layer as a message (`perOrderCounted`).
   */
  private onBundle(data: Uint8Array, time: { readonly nowMs: bigint }): Verdict {
    let wires: Uint8Array[];
    try {
      wires = decodeBundle(data);
    } catch (err) {
      if (!(err instanceof OrderError)) throw err;
      return { action: err.action, code: err.code };
    }
    const vctx: ValidationContext = {
      ...this.vctx(time),
      // The same id AND the same signature: an id does not cover the signature, so a copy of a held order
      // with another signature is verified (attack defeated: a held order with a forged signature riding
      // in a bundle with a new order, ACCEPTed and forwarded here, REJECTed at a node that lacks the
      // order, which then scores this honest relay down).
      known: (order, id) =>
        this.c.books.get(this.ctx.market, order.epoch)?.get(id)?.order.signature === order.signature,
    };
    const outcomes: (ValidOrder | Verdict)[] = [];
    const ids = new Set<Hex>();
    for (const wire of wires) {
      try {
        const valid = validateOrderBytes(wire, vctx);
        if (ids.has(valid.id)) return { action: "REJECT", code: OrderErrorCode.MALFORMED };
        ids.add(valid.id);
        outcomes.push(valid);
      } catch (err) {
        if (!(err instanceof OrderError)) throw err;
        if (err.action === "REJECT") return { action: "REJECT", code: err.code };
        outcomes.push({ action: err.action, code: err.code });
      }
    }
    let first: Verdict | null = null;
    let accepted = false;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!;
      const verdict = "order" in o ? this.admit(o, wires[i]!, "gossip") : o;
      this.c.metrics.countOrder("gossip", verdict);
      if (verdict.action === "ACCEPT") accepted = true;
      first ??= verdict;
    }
    if (accepted) return { action: "ACCEPT", code: "OK", perOrderCounted: true };
    return { ...(first ?? { action: "IGNORE", code: "DUPLICATE" }), perOrderCounted: true };
  }

  /** Orders a peer sent during reconciliation of an epoch: only that epoch's orders are acceptable. */
  async acceptSynced(
    epoch: bigint,
    wires: Uint8Array[],
  ): Promise<{ accepted: number; rejected: number; drops: Record<string, number> }> {
    let accepted = 0;
    let rejected = 0;
    // orders not accepted by `${action}|${code}`: the sync layer counts them as drops by reason
    const drops: Record<string, number> = {};
    const vctx = this.vctx({ epoch });
    for (const wire of wires) {
      let verdict: Verdict;
      try {
        verdict = this.admit(validateOrderBytes(wire, vctx), wire, "sync");
      } catch (err) {
        if (!(err instanceof OrderError)) throw err;
        verdict = { action: err.action, code: err.code };
      }
      this.c.metrics.countOrder("sync", verdict);
      if (verdict.action === "ACCEPT") accepted++;
      else {
        if (verdict.action === "REJECT") rejected++;
        const key = `${verdict.action}|${verdict.code}`;
        drops[key] = (drops[key] ?? 0) + 1;
      }
    }
    return { accepted, rejected, drops };
  }

  /** Signs an order with the node's wallet, stores it durably, then gossips it. */
  async submitRequest(req: ParsedOrderRequest): Promise<SubmittedOrder> {
    const epoch = req.epoch ?? epochAt(this.ctx, this.c.clock());
    if (epoch < 0n) throw new NodeInputError("BEFORE_GENESIS", "the market has not started yet");
    const order: Order = {
      market: this.ctx.market,
      epoch,
      side: req.side,
      quantity: req.quantity,
      limitPrice: req.limitPrice,
      nonce: this.c.nonces.next(),
      trader: this.c.wallet.address,
    };
    const signed: SignedOrder = {
      ...order,
      signature: signDigest(orderDigestBytes(order, this.ctx.separator), this.c.wallet.privateKey),
    };
    return this.submitValid(this.validated(encodeOrder(signed)), "local");
  }

  /**
   * Accepts an order signed elsewhere (a device with its own key) in the protocol's JSON form. Validated
   * once (the JSON checklist includes every rule of the wire form): the signature was recovered twice per
   * API order before (issue 13's profile: 18 % of an API order's CPU went to secp256k1).
   */
  async submitJson(json: unknown): Promise<SubmittedOrder> {
    let valid: ValidOrder;
    try {
      valid = validateOrderJson(json, this.vctx({ nowMs: BigInt(this.c.clock()) }));
    } catch (err) {
      if (err instanceof OrderError) throw new NodeInputError(err.code, err.detail);
      throw err;
    }
    return this.submitValid({ valid, wire: encodeOrder(valid.order) }, "api");
  }

  /** Validates wire bytes for a submission; an invalid order is the caller's input error. */
  private validated(wire: Uint8Array): { valid: ValidOrder; wire: Uint8Array } {
    try {
      return { valid: validateOrderBytes(wire, this.vctx({ nowMs: BigInt(this.c.clock()) })), wire };
    } catch (err) {
      if (err instanceof OrderError) throw new NodeInputError(err.code, err.detail);
      throw err;
    }
  }

  private async submitValid(
    { valid, wire }: { valid: ValidOrder; wire: Uint8Array },
    source: OrderSource,
  ): Promise<SubmittedOrder> {
    const order = valid.order;
    // Durable before gossip: once this resolves the order survives a crash (FULL sync on this path).
    const verdict = await this.admitDurably(valid, wire, source);
    this.c.metrics.countOrder(source, verdict);
    if (verdict.action !== "ACCEPT") {
      const why =
        verdict.code === "TRADER_CAP"
          ? `: trader ${order.trader} already has ${MAX_ORDERS_PER_TRADER_SIDE} ${order.side} orders in epoch ${order.epoch}, and only ${MAX_ORDERS_PER_TRADER_SIDE} per side and epoch can ever be kept`
          : "";
      throw new NodeInputError(verdict.code, `order not accepted: ${verdict.code}${why}`, 409);
    }
    return { id: valid.id, order: valid.order, recipients: await this.publish(valid.id, wire) };
  }

  /**
   * Admits a single order of this device in the durable group of this turn of the event loop: the single
   * orders submitted in one turn are written in one FULL-synchronous transaction (one fsync for the lot),
   * at the end of the turn (setImmediate). Before, each had its own fsync on the event loop, and requests
   * that arrived during a slow one queued up behind one fsync each; at 100 single orders a second into one
   * node, groups of 2–3 formed in about every other turn (a scratch run of the gossip bench). If the
   * transaction fails, no order of the group is taken (each leaves the book again; the store rolled back)
   * and each request fails with the store's error, which its device may retry.
   */
  private admitDurably(valid: ValidOrder, wire: Uint8Array, source: OrderSource): Promise<Verdict> {
    return new Promise((resolve, reject) => {
      if (this.durableGroup === null) {
        this.durableGroup = [];
        setImmediate(() => this.commitDurableGroup());
      }
      this.durableGroup.push({ valid, wire, source, resolve, reject });
    });
  }

  private durableGroup: DurableGroupEntry[] | null = null;

  private commitDurableGroup(): void {
    const group = this.durableGroup ?? [];
    this.durableGroup = null;
    let verdicts: Verdict[];
    try {
      verdicts = this.admitDurablyNow(group);
    } catch (err) {
      for (const g of group) g.reject(err);
      return;
    }
    for (let i = 0; i < group.length; i++) group[i]!.resolve(verdicts[i]!);
  }

  /**
   * Admits orders of this device in ONE FULL-synchronous transaction (one fsync), each with its own
   * verdict. If the transaction fails, none is taken: the accepted ones leave their books again, each is
   * counted as STORE_FAILED, an ERROR line says so, and the store's error is rethrown.
   */
  private admitDurablyNow(
    entries: readonly { valid: ValidOrder; wire: Uint8Array; source: OrderSource }[],
  ): Verdict[] {
    const verdicts: Verdict[] = [];
    try {
      this.c.store.inTransaction(true, () => {
        for (const e of entries) verdicts.push(this.admit(e.valid, e.wire, e.source));
      });
    } catch (err) {
      entries.forEach((e, i) => {
        if (verdicts[i]?.action === "ACCEPT")
          this.c.books.get(this.ctx.market, e.valid.order.epoch)?.remove(e.valid.id);
        this.c.metrics.countOrder(e.source, { action: "IGNORE", code: "STORE_FAILED" });
      });
      this.c.logger.error("orders of this device not written to the store", { orders: entries.length, err });
      throw err;
    }
    return verdicts;
  }

  /** Publishes an order stored durably (with others of this turn, as a bundle); the recipients, or 0. */
  private async publish(id: Hex, wire: Uint8Array): Promise<number> {
    try {
      return await this.publisher.send(wire);
    } catch (err) {
      this.c.logger.warn("publish failed; the order will spread by reconciliation", { id, err });
      return 0;
    }
  }

  /**
   * Accepts up to MAX_ORDERS_PER_SUBMISSION orders signed elsewhere (a gateway, a fleet of devices), each
   * in the protocol's JSON form, each with its own fate: every order is validated on its own, the accepted
   * ones are stored in ONE durable transaction (one fsync for the lot; durable before gossip, as a single
   * order), then published as bundles. An order the request repeats is refused (DUPLICATE). Throws
   * NodeInputError only for a request that is not a list of 1..MAX_ORDERS_PER_SUBMISSION items.
   */
  async submitBatch(items: readonly unknown[]): Promise<BatchItemResult[]> {
    if (items.length === 0 || items.length > MAX_ORDERS_PER_SUBMISSION) {
      throw new NodeInputError(
        "BAD_BATCH",
        `a batch carries 1 to ${MAX_ORDERS_PER_SUBMISSION} orders, not ${items.length}`,
      );
    }
    const vctx = this.vctx({ nowMs: BigInt(this.c.clock()) });
    // null: valid, its fate decided below
    const results: (BatchItemResult | null)[] = [];
    const valid: { index: number; valid: ValidOrder; wire: Uint8Array }[] = [];
    const seen = new Set<Hex>();
    for (let i = 0; i < items.length; i++) {
      try {
        const v = validateOrderJson(items[i], vctx);
        if (seen.has(v.id)) {
          results.push({ status: "refused", id: v.id, code: "DUPLICATE", detail: "repeated in this batch" });
          this.c.metrics.countOrder("api", { action: "IGNORE", code: "DUPLICATE" });
          continue;
        }
        seen.add(v.id);
        valid.push({ index: i, valid: v, wire: encodeOrder(v.order) });
        results.push(null);
      } catch (err) {
        if (!(err instanceof OrderError)) throw err;
        results.push({ status: "refused", id: null, code: err.code, detail: err.detail });
        this.c.metrics.countOrder("api", { action: err.action, code: err.code });
      }
    }
    // The request fails as a whole if the transaction does (admitDurablyNow).
    const verdicts = this.admitDurablyNow(valid.map((v) => ({ ...v, source: "api" as const })));
    const admitted: typeof valid = [];
    valid.forEach((v, k) => {
      const verdict = verdicts[k]!;
      this.c.metrics.countOrder("api", verdict);
      if (verdict.action === "ACCEPT") {
        admitted.push(v);
        return;
      }
      results[v.index] = {
        status: "refused",
        id: v.valid.id,
        code: verdict.code,
        detail: `order not accepted: ${verdict.code}`,
      };
    });
    const sent = await Promise.all(admitted.map((v) => this.publish(v.valid.id, v.wire)));
    admitted.forEach((v, k) => {
      results[v.index] = { status: "accepted", id: v.valid.id, recipients: sent[k]! };
    });
    return results.map((r) => r ?? { status: "refused", id: null, code: "INTERNAL_ERROR", detail: "" });
  }

  /**
   * Once the deposit history is read: drops, from the open books around `current`, the orders of traders
   * that never deposited, taken while every trader was admitted (so that this node's sets match its
   * peers'). Returns how many it dropped.
   */
  dropUnfunded(current: bigint): number {
    let dropped = 0;
    for (let e = current - 1n; e <= current + 1n; e++) {
      const book = this.c.books.get(this.ctx.market, e);
      if (!book || book.frozen) continue;
      for (const { id, entry } of book.sortedEntries()) {
        if (this.c.funded.admits(entry.order.trader)) continue;
        book.remove(id);
        this.c.store.deleteOrder(id);
        dropped++;
      }
    }
    if (dropped > 0)
      this.c.logger.warn(
        "dropped orders of traders that never deposited (taken before the deposit history was read)",
        {
          dropped,
        },
      );
    return dropped;
  }

  /** After a (re)start: the orders of the epochs around `current` back into memory. */
  reloadRecent(current: bigint): void {
    for (let e = current - 1n; e <= current + 1n; e++) {
      if (e < 0n) continue;
      const book = this.c.books.getOrCreate(this.ctx.market, e);
      // Ascending id, so the cap keeps each trader's smallest ids (a crash between deleting an evicted
      // order and storing the one that evicted it leaves one too few on disk, never too many).
      for (const s of this.c.store.ordersOfEpoch(this.ctx.market, e)) {
        if (book.countOf(s.order.trader, s.order.side) < Number(MAX_ORDERS_PER_TRADER_SIDE))
          book.add(s.id, s.order, s.wire);
      }
    }
  }
}
