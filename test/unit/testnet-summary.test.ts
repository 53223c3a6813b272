// The --json summary of `testnet up`: per epoch the welfare, who settled (node and wallet) and whether a
// challenge replaced a standing result; per market the time from the start to its first settlement.
import { describe, expect, it } from "vitest";
import { firstSettlementOf, summarizeReport } from "../../testnet/summary.ts";
import type { TestnetReport } from "../../testnet/types.ts";
import { syntheticAttackReport, syntheticReport } from "./testnet-fixtures.ts";

describe("testnet --json summary", () => {
  it("per epoch: welfare, who settled, whether it was challenged", () => {
    const base = syntheticReport({ epochs: 6, nodes: 3 });
    const m = base.markets[0]!;
    const submitter = `0x${"22".repeat(20)}` as const;
    const epochs = m.epochs.map((e, i) =>
      i === 1 && e.settled
        ? { ...e, submitter, challenges: 1 }
        : { ...e, submitter: e.settled ? submitter : null },
    );
    const report: TestnetReport = { ...base, markets: [{ ...m, epochs, firstSettlementS: 7.5 }] };
    const s = summarizeReport(report);
    const json = JSON.parse(JSON.stringify(s)) as typeof s;
    expect(json.markets[0]!.firstSettlementS).toBe(7.5);
    for (const [i, e] of epochs.entries()) {
      const row = json.markets[0]!.epochs[i]!;
      expect(row.welfare).toBe(e.welfare.toString());
      expect(row.settledBy).toBe(e.settled ? e.settledBy : null);
      expect(row.submitter).toBe(e.settled ? submitter : null);
      expect(row.challenged).toBe(i === 1 && e.settled);
      expect(row.agreed).toBe(e.agreed);
    }
    expect(epochs.some((e) => e.settled)).toBe(true);
  });

  it("under attack: challenged and the final submitter come from the attack", () => {
    const s = summarizeReport(syntheticAttackReport("censor"));
    expect(s.markets[0]!.epochs[1]).toMatchObject({ challenged: true, attacked: true });
    expect(s.adversary?.mode).toBe("censor");
  });

  it("per market: seconds from the start to the first settlement, also from an older report", () => {
    const r = syntheticReport({ epochs: 6, nodes: 3, twoMarkets: true });
    for (const m of r.markets) {
      const first = m.epochs.find((e) => e.settled)!;
      const endMs = Number((m.market.genesisTimeS + (first.epoch + 1n) * m.market.epochLengthS) * 1000n);
      expect(firstSettlementOf(m, r.startedAtMs)).toBe(Math.max(0, (endMs - r.startedAtMs) / 1000));
    }
    expect(firstSettlementOf({ ...r.markets[0]!, firstSettlementS: null }, r.startedAtMs)).toBeNull();
    expect(summarizeReport(r).markets).toHaveLength(2);
  });
});
