// One market's read-only views for the control API (api/types.ts): its status, orders and epochs.
import { MAX_KEPT_PER_SIDE, MAX_ORDERS_PER_TRADER_SIDE } from "../../clearing/limits.ts";
import { epochEndMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import { orderToJson } from "../../protocol/order.ts";
import type {
  EpochDetail,
  EpochResultView,
  EpochSummary,
  ExclusionView,
  FillRow,
  MarketStatus,
  OrderStatusView,
  OrderView,
} from "../api/types.ts";
import { NodeInputError } from "../errors.ts";
import type { OrderBooks } from "../orderbook.ts";
import type { EpochRecord, ExclusionRecord, NodeStore, StoredOrder } from "../store.ts";
import { epochAt, type MarketContext } from "./context.ts";
import type { SessionNetwork } from "./network.ts";

export function epochSummary(r: EpochRecord): EpochSummary {
  return {
    market: r.market,
    epoch: r.epoch.toString(),
    phase: r.phase,
    orders: r.orderCount,
    covered: r.coveredCount,
    fingerprint: r.fingerprint,
    resultHash: r.resultHash,
    price: r.price,
    volume: r.volume,
    welfare: r.welfare,
    settlement: r.settleTx
      ? {
          tx: r.settleTx,
          submitter: r.settleSubmitter,
          resultHash: r.settleResultHash,
          batchHash: r.batchHash,
          price: r.settlePrice,
          volume: r.settleVolume,
          feeTotal: r.feeTotal,
          gasUsed: r.gasUsed,
          final: r.phase === "settled",
          challenges: r.challenges,
          bySelf: r.weSubmitted,
          challengedBySelf: r.weChallenged,
          finalizeTx: r.finalizeTx,
        }
      : null,
    agreed: r.agreed,
    reason: r.reason,
    adopted: r.adoptedCount,
  };
}

/** An exclusion as the API shows it: the asset it spends and the reason in words (raw units). */
export function exclusionView(x: ExclusionRecord): ExclusionView {
  const asset = x.side === "buy" ? "QUOTE" : "BASE";
  const reason =
    x.cause === "trader-cap"
      ? `over the trader cap: its trader already had ${MAX_ORDERS_PER_TRADER_SIDE} ${x.side}s of smaller id in the epoch`
      : x.cause === "side-cap"
        ? `outranked: ${MAX_KEPT_PER_SIDE} better-priced ${x.side}s entered the clearing (side cap)`
        : `not covered: needed ${x.needed} ${asset}, one order may need at most ${x.available} (1/${MAX_ORDERS_PER_TRADER_SIDE} of the escrow)`;
  return { ...x, asset, reason };
}

/** The fills of an epoch's recorded result by order id (none when the chain's result replaced ours). */
function fillsOf(rec: EpochRecord | undefined): Map<Hex, string> | null {
  if (!rec?.resultJson) return null;
  const result = JSON.parse(rec.resultJson) as EpochResultView;
  return new Map(result.fills.map((f) => [f.id, f.quantity]));
}

/** Epochs scanned at most for `fills` (newest first). */
const FILL_SCAN_EPOCHS = 1000;
/** Epochs `order-status` covers by default without an epoch. */
export const DEFAULT_STATUS_EPOCHS = 10;

export interface MarketViewComponents {
  readonly store: NodeStore;
  readonly books: OrderBooks;
  readonly network: SessionNetwork;
  readonly clock: () => number;
}

export class MarketViews {
  private readonly ctx: MarketContext;
  private readonly c: MarketViewComponents;

  constructor(ctx: MarketContext, components: MarketViewComponents) {
    this.ctx = ctx;
    this.c = components;
  }

  status(): MarketStatus {
    const { market, params } = this.ctx;
    const epoch = epochAt(this.ctx, this.c.clock());
    const rec = this.c.store.getEpoch(market, epoch);
    const last = this.c.store.recentEpochs(market, 32).find((r) => r.settleTx !== null);
    return {
      id: market,
      base: params.base,
      quote: params.quote,
      genesisTimeS: params.genesisTimeS.toString(),
      epochLengthS: params.epochLengthS.toString(),
      feeBps: params.feeBps.toString(),
      minQuantity: params.minQuantity.toString(),
      topics: { orders: this.ctx.topics.orders, announce: this.ctx.topics.announce },
      epoch: {
        current: epoch.toString(),
        phase: rec?.phase ?? "open",
        orders: this.c.books.get(market, epoch)?.size ?? 0,
        endsInMs: Number(epochEndMs(this.ctx.schedule, epoch) - BigInt(this.c.clock())),
      },
      lastSettledEpoch: last ? last.epoch.toString() : null,
      peers: this.c.network.topicPeers(this.ctx.topics.orders).length,
    };
  }

  orders(epoch: bigint): OrderView[] {
    return this.c.store.ordersOfEpoch(this.ctx.market, epoch).map((s) => this.orderView(s));
  }

  private orderView(s: StoredOrder): OrderView {
    return { id: s.id, source: s.source, receivedMs: s.receivedMs, ...orderToJson(s.order) };
  }

  /**
   * The orders of epoch `epoch` (or of the `last` epochs up to the current one), of `trader` only if
   * given, each with its fate: pending, excluded by coverage (with the reason), kept, or filled.
   */
  orderStatuses(opts: { epoch?: bigint; last?: number; trader?: Hex }): OrderStatusView[] {
    const current = epochAt(this.ctx, this.c.clock());
    const to = opts.epoch ?? current;
    const from = opts.epoch ?? current - BigInt(Math.max(1, opts.last ?? DEFAULT_STATUS_EPOCHS)) + 1n;
    const orders = this.c.store.ordersBetween(this.ctx.market, from < 0n ? 0n : from, to, opts.trader);
    const perEpoch = new Map<
      bigint,
      { rec: EpochRecord | undefined; fills: Map<Hex, string> | null; excluded: Map<Hex, ExclusionView> }
    >();
    const epochInfo = (e: bigint) => {
      let info = perEpoch.get(e);
      if (!info) {
        const rec = this.c.store.getEpoch(this.ctx.market, e);
        const excluded = new Map(
          this.c.store.exclusions(this.ctx.market, e).map((x) => [x.id, exclusionView(x)] as const),
        );
        info = { rec, fills: fillsOf(rec), excluded };
        perEpoch.set(e, info);
      }
      return info;
    };
    return orders.map((o) => {
      const { rec, fills, excluded } = epochInfo(o.order.epoch);
      const x = excluded.get(o.id);
      const filled = fills?.get(o.id) ?? "0";
      const status = x ? "excluded" : fills === null ? "pending" : filled !== "0" ? "filled" : "kept";
      return {
        ...this.orderView(o),
        status,
        filled,
        reason: x?.reason ?? null,
        exclusion: x
          ? { asset: x.asset, needed: x.needed, available: x.available, cause: x.cause, reason: x.reason }
          : null,
        final: rec?.phase === "settled",
      };
    });
  }

  /** The fills of `trader`'s orders, newest epoch first, at most `last`. */
  fills(trader: Hex, last: number): FillRow[] {
    const rows: FillRow[] = [];
    for (const rec of this.c.store.recentEpochs(this.ctx.market, FILL_SCAN_EPOCHS)) {
      if (rows.length >= last) break;
      const fills = fillsOf(rec);
      if (!fills || fills.size === 0 || rec.price === null) continue;
      const price = BigInt(rec.price);
      for (const o of this.c.store.ordersBetween(this.ctx.market, rec.epoch, rec.epoch, trader)) {
        const q = fills.get(o.id);
        if (q === undefined || rows.length >= last) continue;
        const final = rec.phase === "settled" && rec.settleTx !== null;
        rows.push({
          market: this.ctx.market,
          epoch: rec.epoch.toString(),
          id: o.id,
          side: o.order.side,
          quantity: q,
          limitPrice: o.order.limitPrice.toString(),
          price: price.toString(),
          amount: (BigInt(q) * price).toString(),
          settlement: rec.settleTx === null ? "not settled" : final ? "final" : "standing",
          final,
          tx: rec.settleTx,
        });
      }
    }
    return rows;
  }

  epochs(last: number): EpochSummary[] {
    return this.c.store.recentEpochs(this.ctx.market, last).map(epochSummary);
  }

  /**
   * One epoch in detail; `withOrders` false leaves out the order list and the exclusion list (cheap
   * enough to poll: with them a 10,000-order epoch is ~3 MB of JSON a view, and a node polled every 20 ms
   * spent a third of its CPU after the close answering).
   */
  epoch(n: bigint, withOrders = true): EpochDetail {
    const rec = this.c.store.getEpoch(this.ctx.market, n);
    if (!rec) throw new NodeInputError("UNKNOWN_EPOCH", `no record of epoch ${n}`, 404);
    return {
      ...epochSummary(rec),
      result: rec.resultJson ? (JSON.parse(rec.resultJson) as EpochResultView) : null,
      timings: rec.timingsJson ? (JSON.parse(rec.timingsJson) as Record<string, number>) : null,
      announcements: this.c.store.announcements(this.ctx.market, n).map((a) => ({
        peer: a.peer,
        wallet: a.wallet,
        fingerprint: a.fingerprint,
        orderCount: a.orderCount,
        resultHash: a.resultHash,
      })),
      ...(withOrders
        ? {
            orderList: this.orders(n),
            excluded: this.c.store.exclusions(this.ctx.market, n).map(exclusionView),
          }
        : {}),
      excludedCounts: this.c.store.exclusionCounts(this.ctx.market, n),
    };
  }
}
