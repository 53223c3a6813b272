// The JSON summary that `testnet up --json` prints on stdout when the run ends: per market its epochs
// (orders, price, volume, welfare, agreement, who settled and whether it was challenged) and the time
// from the launcher's start to its first settlement; with --adversary, each attack and the attacker's
// balances. Amounts are base or quote units as decimal strings. An epoch the run stopped in (Ctrl-C) is
// `unfinished: true` with `agreed: null`: it is neither agreed nor "no trade".
import type { AdversaryBalance, EpochReport, MarketReport, TestnetReport } from "./types.ts";

/** One epoch in the JSON summary. */
export function summarizeEpoch(e: EpochReport) {
  const a = e.attack;
  const unfinished = e.unfinished === true;
  return {
    epoch: Number(e.epoch),
    orders: e.orders,
    price: e.price === null ? null : e.price.toString(),
    volume: e.volume.toString(),
    welfare: e.welfare.toString(),
    agreed: unfinished ? null : e.agreed,
    ...(unfinished ? { unfinished: true } : {}),
    settled: e.settled,
    /** Who settled: the node index (null: nobody, or a wallet that is not one of the nodes), its wallet. */
    settledBy: e.settled ? e.settledBy : null,
    submitter: e.settled ? (e.submitter ?? a?.finalSubmitter ?? null) : null,
    /** Whether a challenge replaced a standing result of the epoch on chain. */
    challenged: (e.challenges ?? 0) > 0 || a?.challenged === true,
    gasUsed: e.gasUsed === null ? null : Number(e.gasUsed),
    ...(a
      ? {
          attacked: a.attacked,
          finalMatchesHonest: a.finalMatchesHonest,
          attack: {
            tx: a.tx,
            outcome: a.outcome,
            challengeTx: a.challengeTx,
            challengerNode: a.challengerNode,
            bondPaidWei: a.bondPaidWei.toString(),
            finalTx: a.finalTx,
            finalResultHash: a.finalResultHash,
            finalNode: a.finalNode,
          },
        }
      : {}),
  };
}

function summarizeBalance(b: AdversaryBalance | null) {
  return b === null
    ? null
    : {
        eth: b.eth.toString(),
        bonds: b.bonds.toString(),
        base: b.base.toString(),
        quote: b.quote.toString(),
      };
}

/**
 * Seconds from the launcher's start to the market's first settlement: the market's own when the
 * launcher recorded it, else the end of its first settled epoch (null: nothing settled).
 */
export function firstSettlementOf(m: MarketReport, startedAtMs: number): number | null {
  if (m.firstSettlementS !== undefined) return m.firstSettlementS;
  const first = m.epochs.find((e) => e.settled);
  if (!first) return null;
  const endMs = Number((m.market.genesisTimeS + (first.epoch + 1n) * m.market.epochLengthS) * 1000n);
  return Math.max(0, (endMs - startedAtMs) / 1000);
}

/**
 * The summary: `{ nodes, firstSettlementS, markets: [{ market: <id>, name, firstSettlementS, epochs:
 * [{ epoch, orders, price, volume, welfare, agreed, unfinished?, settled, settledBy, submitter,
 * challenged, gasUsed }] }] }`, the primary market first. With --adversary, each of the primary market's
 * epochs also has `attacked`, `finalMatchesHonest` and `attack` (the attacker's tx, what became of it,
 * the challenge that replaced it, the bond paid, the final result), and the summary has `adversary: {
 * mode, addresses, start, end, feesEarned }` (balances as { eth, bonds, base, quote }, decimal strings).
 */
export function summarizeReport(report: TestnetReport) {
  const adv = report.adversary;
  return {
    nodes: report.nodes,
    firstSettlementS: report.firstSettlementS,
    markets: report.markets.map((m) => ({
      market: m.market.id,
      name: m.name,
      firstSettlementS: firstSettlementOf(m, report.startedAtMs),
      epochs: m.epochs.map(summarizeEpoch),
    })),
    ...(adv
      ? {
          adversary: {
            mode: adv.mode,
            addresses: adv.addresses,
            start: summarizeBalance(adv.start),
            end: summarizeBalance(adv.end),
            feesEarned: adv.feesEarned.toString(),
          },
        }
      : {}),
  };
}

/** Whether the run went as it should: every finished epoch agreed, and (under attack) every final result is the honest one. */
export function runSucceeded(report: TestnetReport): boolean {
  return report.markets.every((m) =>
    m.epochs.every((e) => e.unfinished === true || (e.agreed && e.attack?.finalMatchesHonest !== false)),
  );
}
