import { describe, expect, it } from "vitest";
import { measureReconcileBytes } from "../../perf/reconcile.ts";

describe("test/perf/reconcile.ts", () => {
  it("measures bytes per missing order over real libp2p (n = 10,000, d = 100)", async () => {
    const { bytesPerMissingOrder, detail } = await measureReconcileBytes();
    // at least the order itself, and well under a KB of reconciliation overhead per order
    expect(bytesPerMissingOrder).toBeGreaterThan(130);
    expect(bytesPerMissingOrder).toBeLessThan(700);
    expect(detail).toMatch(/d=1: .* d=10: .* d=100: .* d=0: /);
  });
});
