// One market's read-only views for the control API (api/types.ts): its status, orders and epochs.
import { epochEndMs } from "../../protocol/epoch.ts";
import { orderToJson } from "../../protocol/order.ts";
import type { EpochDetail, EpochResultView, EpochSummary, MarketStatus, OrderView } from "../api/types.ts";
import { NodeInputError } from "../errors.ts";
import type { OrderBooks } from "../orderbook.ts";
import type { EpochRecord, NodeStore } from "../store.ts";
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
    return this.c.store.ordersOfEpoch(this.ctx.market, epoch).map((s) => ({
      id: s.id,
      source: s.source,
      receivedMs: s.receivedMs,
      ...orderToJson(s.order),
    }));
  }

  epochs(last: number): EpochSummary[] {
    return this.c.store.recentEpochs(this.ctx.market, last).map(epochSummary);
  }

  /** One epoch in detail; `withOrders` false leaves out the order list (cheap enough to poll). */
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
      ...(withOrders ? { orderList: this.orders(n) } : {}),
    };
  }
}
