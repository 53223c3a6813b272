// Prometheus view of the sync service's counters, read at scrape time: sessions by direction and
// outcome, and pushed orders dropped before validation. Refusals by reason are counted by node/abuse.ts
// (smartmarket_sync_refused_total). Registered once per registry.
import { Gauge, type Registry } from "prom-client";
import type { SyncStats } from "./service.ts";

export function registerSyncMetrics(registry: Registry, stats: () => SyncStats): void {
  if (registry.getSingleMetric("smartmarket_sync_sessions") !== undefined) return;
  const registers = [registry];
  new Gauge({
    name: "smartmarket_sync_sessions",
    help: "Sync sessions since start, by direction (inbound, outbound) and outcome (ok, failed, refused)",
    labelNames: ["direction", "outcome"],
    registers,
    collect() {
      const s = stats().sessions;
      this.set({ direction: "outbound", outcome: "ok" }, s.outbound.ok);
      this.set({ direction: "outbound", outcome: "failed" }, s.outbound.failed);
      this.set({ direction: "inbound", outcome: "ok" }, s.inbound.ok);
      this.set({ direction: "inbound", outcome: "failed" }, s.inbound.failed);
      this.set({ direction: "inbound", outcome: "refused" }, s.inbound.refused);
    },
  });
  new Gauge({
    name: "smartmarket_sync_active_sessions",
    help: "Sync sessions running now, by direction",
    labelNames: ["direction"],
    registers,
    collect() {
      const a = stats().active;
      this.set({ direction: "inbound" }, a.inbound);
      this.set({ direction: "outbound" }, a.outbound);
    },
  });
}
