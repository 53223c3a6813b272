// NodeMetrics' per-order counter: orders are tallied in memory and reach prom-client at each scrape
// (metrics.ts PendingCounts); what a scrape shows must be every order counted until then, once.
import { describe, expect, it } from "vitest";
import { NodeMetrics } from "../../../node/metrics.ts";
import type { Hex } from "../../../protocol/hex.ts";

const A = `0x${"aa".repeat(32)}` as Hex;
const B = `0x${"bb".repeat(32)}` as Hex;

function series(text: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`smartmarket_orders_total{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("smartmarket_orders_total", () => {
  it("shows every order counted before a scrape, by market, source and verdict, and counts on after it", async () => {
    const metrics = new NodeMetrics();
    const a = metrics.forMarket(A);
    const b = metrics.forMarket(B);
    for (let i = 0; i < 3; i++) a.countOrder("gossip", { action: "ACCEPT", code: "OK" });
    a.countOrder("gossip", { action: "IGNORE", code: "DUPLICATE" });
    a.countOrder("api", { action: "ACCEPT", code: "OK" });
    b.countOrder("gossip", { action: "ACCEPT", code: "OK" });

    const first = await metrics.registry.metrics();
    expect(series(first, `source="gossip",action="ACCEPT",code="OK",market="${A}"`)).toBe(3);
    expect(series(first, `source="gossip",action="IGNORE",code="DUPLICATE",market="${A}"`)).toBe(1);
    expect(series(first, `source="api",action="ACCEPT",code="OK",market="${A}"`)).toBe(1);
    expect(series(first, `source="gossip",action="ACCEPT",code="OK",market="${B}"`)).toBe(1);

    // A scrape with nothing new changes nothing; new orders add to what was shown.
    expect(
      series(await metrics.registry.metrics(), `source="gossip",action="ACCEPT",code="OK",market="${A}"`),
    ).toBe(3);
    a.countOrder("gossip", { action: "ACCEPT", code: "OK" });
    a.countOrder("gossip", { action: "REJECT", code: "SIGNER_MISMATCH" });
    const third = await metrics.registry.metrics();
    expect(series(third, `source="gossip",action="ACCEPT",code="OK",market="${A}"`)).toBe(4);
    expect(series(third, `source="gossip",action="REJECT",code="SIGNER_MISMATCH",market="${A}"`)).toBe(1);
    expect(series(third, `source="gossip",action="ACCEPT",code="OK",market="${B}"`)).toBe(1);
  });
});
