// The words the live view and the report share: agreement, who settled, each attack and the adversary's
// balances. Amounts go through the display-unit layer (exact decimal text).
import { formatBase, formatQuote } from "../node/api/units.ts";
import { formatUnits } from "../protocol/amount.ts";
import type { Hex } from "../protocol/hex.ts";
import type {
  AdversaryBalance,
  EpochAttack,
  EpochReport,
  MarketInfo,
  NodeEpochView,
  TestnetReport,
} from "./types.ts";
// ---------------------------------------------------------------------------------------------------
// Shared wording (the live view uses the same words)

export interface Agreement {
  /** true: every node agreed; false: some diverged or did not report; null: nothing reported yet. */
  readonly ok: boolean | null;
  readonly text: string;
  /** Nodes whose fingerprint/result differ from the reference (the chain's when known, else the majority). */
  readonly diverged: readonly number[];
  /** Nodes that reported no result. */
  readonly silent: readonly number[];
}

/** "all 5 agreed", "node 3 diverged", "nodes 1, 3 diverged; node 4 no result". */
export function describeAgreement(row: EpochReport): Agreement {
  const nodes = row.nodes;
  if (row.unfinished) return { ok: null, text: "unfinished (stopped)", diverged: [], silent: [] };
  if (nodes.length === 0) return { ok: null, text: "no reports", diverged: [], silent: [] };
  if (row.agreed) return { ok: true, text: `all ${nodes.length} agreed`, diverged: [], silent: [] };
  const key = (n: NodeEpochView) => (n.resultHash === null ? null : `${n.fingerprint}|${n.resultHash}`);
  const silent = nodes.filter((n) => key(n) === null).map((n) => n.node);
  // Reference: what the nodes that agree with the chain hold; without one, the most common result
  // (ties broken by the smaller key, so the wording is deterministic).
  const confirmed = nodes.find((n) => n.agreed === true && key(n) !== null);
  let refKey = confirmed ? key(confirmed) : null;
  if (refKey === null) {
    const counts = new Map<string, number>();
    for (const n of nodes) {
      const k = key(n);
      if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    let best = 0;
    for (const [k, c] of [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (c > best) {
        refKey = k;
        best = c;
      }
    }
  }
  const diverged = nodes
    .filter((n) => n.agreed === false || (key(n) !== null && refKey !== null && key(n) !== refKey))
    .map((n) => n.node);
  const parts: string[] = [];
  if (diverged.length > 0) parts.push(`${nodeList(diverged)} diverged`);
  if (silent.length > 0) parts.push(`${nodeList(silent)} no result`);
  if (parts.length === 0) parts.push("not agreed");
  return { ok: false, text: parts.join("; "), diverged, silent };
}

function nodeList(indices: readonly number[]): string {
  return indices.length === 1 ? `node ${indices[0]}` : `nodes ${indices.join(", ")}`;
}

/** Who settled: "node 2", "external" (a wallet that is not one of ours), "no trade", "unsettled", "unfinished". */
export function describeSettlement(row: EpochReport): string {
  if (row.unfinished && !row.settled) return "unfinished";
  if (!row.settled) return row.volume === 0n ? "no trade" : "unsettled";
  return row.settledBy === null || row.settledBy < 0 ? "external" : `node ${row.settledBy}`;
}

/** Wei as ether, exact ("0.01"). */
export function formatEth(wei: bigint): string {
  return formatUnits(wei, 18);
}

/** "node 2", "the attacker", or a short address. */
function whoIs(node: number | null, address: Hex | null, attacker: boolean): string {
  if (node !== null) return `node ${node}`;
  if (attacker) return "the attacker";
  return address === null ? "nobody" : `external ${shortHex(address)}`;
}

/** One epoch's attack in words, in four parts (the view and the report use the same words). */
export interface AttackWords {
  /** Whether the attack failed as it should: the final result is the honest one. */
  readonly held: boolean;
  /** The attacker's submission: its transaction and what became of it, or "none". */
  readonly submission: string;
  /** The challenge that replaced it, or why there was none. */
  readonly challenge: string;
  /** The bond paid to the challenger. */
  readonly bond: string;
  /** The final result: whose, its hash, and whether it is the honest nodes' result. */
  readonly final: string;
}

export function describeAttack(a: EpochAttack): AttackWords {
  let submission: string;
  if (a.tx === null) submission = `none (${a.outcome})`;
  else if (a.mode === "copy") {
    const whose = a.copiedFrom === null ? "a" : `node ${a.copiedFrom}'s`;
    const what = a.txs > 1 ? `${a.txs} copies, first ${shortHex(a.tx)}` : `copy ${shortHex(a.tx)}`;
    submission = `${what} of ${whose} tx ${shortHex(a.copiedTx)}: ${a.outcome}`;
  } else submission = `proposed ${shortHex(a.tx)}${a.outcome === "stood" ? "" : ` (${a.outcome})`}`;
  const challenger = whoIs(a.challengerNode, a.challenger, false);
  const challenge =
    a.challengeTx !== null
      ? `replaced by ${challenger}'s challenge ${shortHex(a.challengeTx)}`
      : a.resultHash !== null
        ? "not challenged"
        : a.challenged
          ? "challenged (not the attacker's result)"
          : "no challenge";
  const bond = a.bondPaidWei > 0n ? `bond ${formatEth(a.bondPaidWei)} ETH to ${challenger}` : "no bond paid";
  const honest = a.finalMatchesHonest ? "= honest" : "≠ honest";
  const final =
    a.finalResultHash === null
      ? `final: none (${a.finalMatchesHonest ? "no trade, = honest" : "≠ honest"})`
      : `final: ${whoIs(a.finalNode, a.finalSubmitter, a.finalByAttacker)}'s ${shortHex(a.finalResultHash)} ${honest}`;
  return { held: a.finalMatchesHonest, submission, challenge, bond, final };
}

/** A balance in a market's units: "1000 ETH (+0 bonds) · 1000 kWh · 1000 USD". */
export function describeBalance(b: AdversaryBalance, m: MarketInfo): string {
  const bonds = b.bonds > 0n ? ` (+${formatEth(b.bonds)} ETH of bonds to claim)` : "";
  return `${formatEth(b.eth)} ETH${bonds} · ${formatBase(b.base, m)} ${m.baseLabel} · ${formatQuote(b.quote, m)} ${m.quoteLabel}`;
}

/** The change from `a` to `b`, signed: "−0.0103 ETH · −1.5 kWh · +0.299 USD". */
export function describeChange(a: AdversaryBalance, b: AdversaryBalance, m: MarketInfo): string {
  const signed = (v: bigint, f: (x: bigint) => string) => (v > 0n ? `+${f(v)}` : v < 0n ? `−${f(-v)}` : "±0");
  return [
    `${signed(b.eth + b.bonds - a.eth - a.bonds, formatEth)} ETH`,
    `${signed(b.base - a.base, (x) => formatBase(x, m))} ${m.baseLabel}`,
    `${signed(b.quote - a.quote, (x) => formatQuote(x, m))} ${m.quoteLabel}`,
  ].join(" · ");
}

/** The attacker's run in a few lines, for the end of `testnet up`. */
export function describeAdversary(report: TestnetReport): string[] {
  const adv = report.adversary;
  const primary = report.markets[0];
  if (!adv || !primary) return [];
  const rows = primary.epochs.filter((e) => e.attack);
  const attacked = rows.filter((e) => e.attack!.attacked).length;
  const challenged = rows.filter((e) => e.attack!.challenged).length;
  const held = rows.filter((e) => e.attack!.finalMatchesHonest).length;
  const m = primary.market;
  return [
    `adversary ${adv.mode}: attacked ${attacked} of ${rows.length} epochs, ${challenged} challenged; the final result is the honest one in ${held} of ${rows.length}`,
    `  attacker at start: ${describeBalance(adv.start, m)}`,
    adv.end
      ? `  attacker at end:   ${describeBalance(adv.end, m)} (${describeChange(adv.start, adv.end, m)}); fees earned ${formatQuote(adv.feesEarned, m)} ${m.quoteLabel}`
      : "  attacker at end:   unknown",
  ];
}

// ---------------------------------------------------------------------------------------------------
// HTML

/** A hash shortened for a table cell: "0x4fd5ea0c…bde352". */
export function shortHex(h: string | null): string {
  if (!h) return "–";
  return h.length > 18 ? `${h.slice(0, 10)}…${h.slice(-6)}` : h;
}
