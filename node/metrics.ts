// Prometheus metrics of a node, on a registry of its own (several nodes may share a process in tests).
// Exposed at GET /metrics of the control API. Everything a market session counts carries a `market`
// label (the market id); a session records through its MarketMetrics view, which binds the label.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Hex } from "../protocol/hex.ts";
import type { Verdict } from "./gossip/service.ts";
import type { SyncReport } from "./sync/service.ts";
import { PACKAGE } from "./version.ts";

/** What the metrics read from a running node at scrape time. */
export interface MetricsSource {
  readonly host: {
    getConnections(): { direction: string; streams: { protocol?: string }[] }[];
    getPeers(): unknown[];
  };
  readonly gossip: { counters: { queueLength: number; queueHighWater: number } };
  /** The number of markets served now. */
  marketCount(): number;
  /** Per market served: the peers in this node's gossipsub mesh of its order topic. */
  meshPeers?(): { market: Hex; peers: number }[];
}

/** What a market session records: NodeMetrics with the market label bound. */
export interface MarketMetrics {
  countOrder(source: string, verdict: Verdict): void;
  countAnnouncement(verdict: Verdict): void;
  observePhase(phase: string, ms: number): void;
  observeSync(r: SyncReport): void;
  observeSettlement(outcome: string, gasUsed: bigint): void;
  observeAgreement(agreed: boolean | null): void;
}

export class NodeMetrics {
  readonly version = PACKAGE.version;
  readonly registry = new Registry();
  private readonly orders: Counter<"source" | "action" | "code" | "market">;
  private readonly phase: Histogram<"phase" | "market">;
  private readonly reconcileBytes: Counter<"direction" | "market">;
  private readonly reconcileOrders: Counter<"direction" | "market">;
  private readonly reconcileSessions: Counter<"market">;
  private readonly settlements: Counter<"outcome" | "market">;
  private readonly settlementGas: Histogram<"market">;
  private readonly agreement: Counter<"agreed" | "market">;
  private readonly announcements: Counter<"action" | "code" | "market">;
  private readonly storeBatchFailures: Counter;
  /** Orders counted since the last scrape (added to `orders` when it is read). */
  private readonly pendingOrders = new PendingCounts();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "smartmarket_process_" });
    const pendingOrders = this.pendingOrders;
    this.orders = new Counter({
      name: "smartmarket_orders_total",
      help: "Orders received, by source (gossip, sync, api, local) and verdict (ACCEPT/IGNORE/REJECT + code)",
      labelNames: ["source", "action", "code", "market"],
      registers,
      collect() {
        pendingOrders.drain((market, source, action, code, n) =>
          this.inc({ source, action, code, market }, n),
        );
      },
    });
    this.storeBatchFailures = new Counter({
      name: "smartmarket_store_batch_failures_total",
      help: "Store writes of orders from the network that failed (gossip batches, write-behind flushes): those orders stay in memory, not on disk",
      registers,
    });
    this.phase = new Histogram({
      name: "smartmarket_epoch_phase_duration_seconds",
      help: "Duration of epoch pipeline phases (reconcile, collateral, clear)",
      labelNames: ["phase", "market"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    });
    this.reconcileBytes = new Counter({
      name: "smartmarket_reconcile_bytes_total",
      help: "Bytes of the sync protocol, by direction",
      labelNames: ["direction", "market"],
      registers,
    });
    this.reconcileOrders = new Counter({
      name: "smartmarket_reconcile_orders_total",
      help: "Orders moved by the sync protocol (fetched from or pushed to peers)",
      labelNames: ["direction", "market"],
      registers,
    });
    this.reconcileSessions = new Counter({
      name: "smartmarket_reconcile_sessions_total",
      help: "Sync sessions this node initiated",
      labelNames: ["market"],
      registers,
    });
    this.settlements = new Counter({
      name: "smartmarket_settlements_total",
      help: "Settlement actions of this node, by outcome: proposed, challenged, finalized, lost_race, failed, no_gas, unsettled (epochs that ended without a result)",
      labelNames: ["outcome", "market"],
      registers,
    });
    this.settlementGas = new Histogram({
      name: "smartmarket_settlement_gas_used",
      help: "Gas used by settlements this node submitted",
      buckets: [50e3, 100e3, 250e3, 500e3, 1e6, 2.5e6, 5e6, 10e6],
      labelNames: ["market"],
      registers,
    });
    this.announcements = new Counter({
      name: "smartmarket_announcements_total",
      help: "Epoch announcements received, by verdict (ACCEPT/IGNORE/REJECT + code)",
      labelNames: ["action", "code", "market"],
      registers,
    });
    this.agreement = new Counter({
      name: "smartmarket_epochs_final_total",
      help: "Final epochs, by whether this node's result agreed with the settled (or announced) one",
      labelNames: ["agreed", "market"],
      registers,
    });
  }

  /** A gossip validation batch's store transaction failed. */
  countStoreBatchFailure(): void {
    this.storeBatchFailures.inc();
  }

  /** Gauges read from the running node at scrape time: connections, streams, gossip queue. */
  attach(src: MetricsSource): void {
    const registers = [this.registry];
    new Gauge({
      name: "smartmarket_libp2p_connections",
      help: "Open libp2p connections by direction",
      labelNames: ["direction"],
      registers,
      collect() {
        this.reset();
        for (const c of src.host.getConnections()) this.inc({ direction: c.direction });
      },
    });
    new Gauge({
      name: "smartmarket_libp2p_streams",
      help: "Open libp2p streams by protocol",
      labelNames: ["protocol"],
      registers,
      collect() {
        this.reset();
        for (const c of src.host.getConnections()) {
          for (const s of c.streams) this.inc({ protocol: s.protocol ?? "unknown" });
        }
      },
    });
    new Gauge({
      name: "smartmarket_peers",
      help: "Connected peers",
      registers,
      collect() {
        this.set(src.host.getPeers().length);
      },
    });
    new Gauge({
      name: "smartmarket_markets",
      help: "Markets this node serves",
      registers,
      collect() {
        this.set(src.marketCount());
      },
    });
    new Gauge({
      name: "smartmarket_gossip_queue_length",
      help: "Orders waiting for validation in the gossip queue (a bundle counts its orders)",
      registers,
      collect() {
        this.set(src.gossip.counters.queueLength);
      },
    });
    new Gauge({
      name: "smartmarket_gossip_queue_high_water",
      help: "Largest gossip validation queue length seen (orders)",
      registers,
      collect() {
        this.set(src.gossip.counters.queueHighWater);
      },
    });
    new Gauge({
      name: "smartmarket_gossip_mesh_peers",
      help: "Peers in this node's gossipsub mesh of a market's order topic (its mesh degree)",
      labelNames: ["market"],
      registers,
      collect() {
        this.reset();
        for (const m of src.meshPeers?.() ?? []) this.set({ market: m.market }, m.peers);
      },
    });
  }

  private readonly byMarket = new Map<Hex, MarketMetrics>();

  /** The metrics of one market: every observation carries its id as the `market` label. */
  forMarket(market: Hex): MarketMetrics {
    let m = this.byMarket.get(market);
    if (!m) {
      m = this.marketView(market);
      this.byMarket.set(market, m);
    }
    return m;
  }

  private marketView(market: Hex): MarketMetrics {
    // Series that exist from the start (at zero), so dashboards see the market before its first event.
    this.settlementGas.zero({ market });
    this.reconcileSessions.inc({ market }, 0);
    // Present from the join, at 0, so that dashboards see the market before its first sync session.
    for (const direction of ["sent", "received"]) this.reconcileBytes.inc({ direction, market }, 0);
    for (const direction of ["fetched", "pushed"]) this.reconcileOrders.inc({ direction, market }, 0);
    return {
      countOrder: (source, verdict) => this.pendingOrders.add(market, source, verdict.action, verdict.code),
      countAnnouncement: (verdict) =>
        this.announcements.inc({ action: verdict.action, code: verdict.code, market }),
      observePhase: (phase, ms) => this.phase.observe({ phase, market }, ms / 1000),
      observeSync: (r) => {
        this.reconcileSessions.inc({ market });
        this.reconcileBytes.inc({ direction: "sent", market }, r.bytesSent);
        this.reconcileBytes.inc({ direction: "received", market }, r.bytesReceived);
        this.reconcileOrders.inc({ direction: "fetched", market }, r.fetched);
        this.reconcileOrders.inc({ direction: "pushed", market }, r.pushed);
      },
      observeSettlement: (outcome, gasUsed) => {
        this.settlements.inc({ outcome, market });
        if (gasUsed > 0n) this.settlementGas.observe({ market }, Number(gasUsed));
      },
      observeAgreement: (agreed) =>
        this.agreement.inc({ agreed: agreed === null ? "unknown" : String(agreed), market }),
    };
  }

  /** Gossip verdicts decided before a message reached a market (an unserved topic, say). */
  countUnroutedOrder(source: string, verdict: Verdict): void {
    this.orders.inc({ source, action: verdict.action, code: verdict.code, market: "none" });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Counts by (market, source, action, code) in nested maps, handed to prom-client when the counter is
 * scraped: its `inc` hashes the label object on every call, and a loaded node counts each order it
 * receives (10,000 a second and more), so that hashing was a steady source of garbage.
 */
class PendingCounts {
  private readonly counts = new Map<string, Map<string, Map<string, Map<string, number>>>>();

  add(market: string, source: string, action: string, code: string): void {
    const byCode = child(child(child(this.counts, market), source), action);
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  /** Hands every non-zero count to `f` and sets it to 0 (the maps stay: the same keys come again). */
  drain(f: (market: string, source: string, action: string, code: string, n: number) => void): void {
    for (const [market, bySource] of this.counts)
      for (const [source, byAction] of bySource)
        for (const [action, byCode] of byAction)
          for (const [code, n] of byCode) {
            if (n === 0) continue;
            f(market, source, action, code, n);
            byCode.set(code, 0);
          }
  }
}

/** The map under `key` in `m`, created empty when absent. */
function child<V>(m: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let c = m.get(key);
  if (c === undefined) {
    c = new Map();
    m.set(key, c);
  }
  return c;
}
