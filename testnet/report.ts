// The testnet's report: report.json (the TestnetReport, bigints as decimal strings) and report.html, one
// self-contained page (inline CSS and server-drawn inline SVG; no script, no network) with the run's
// facts and, for each market, in its own units: the supply and demand curves of the last epochs, price
// and volume over the run and a per-epoch table. With --adversary: the attacker's balance before and after,
// and a table of its attacks on the primary market (its submission, the challenge that replaced it, the
// bond paid, the final result).
//
// Amounts shown as text go through formatUnits (exact); floats appear only as pixel coordinates.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { formatUnits } from "../protocol/amount.ts";
import type { Hex } from "../protocol/hex.ts";
import { ENERGY_UNITS } from "./devices.ts";
import { escapeHtml } from "./html.ts";
import { curveExtent, maxOf, renderCurveSvg, renderPriceSvg, renderVolumeSvg } from "./report-charts.ts";
import { parseDeviceOrder, parseDeviceReport, renderDevicesHtml } from "./report-devices.ts";
import type {
  AdversaryBalance,
  AdversaryMode,
  AdversaryReport,
  EpochAttack,
  EpochReport,
  MarketInfo,
  MarketReport,
  NodeEpochView,
  TestnetReport,
} from "./types.ts";
import { baseCell, formatBase, formatPrice, formatQuote, priceCell, quoteCell } from "./units.ts";

export const REPORT_JSON_FILE = "report.json";
export const REPORT_HTML_FILE = "report.html";
/** Epochs drawn as supply/demand small multiples, per market. */
export const CURVE_EPOCHS = 6;

/** Writes report.json and report.html into `dir` (created if missing); each file appears whole or not at all. */
export function writeReport(dir: string, report: TestnetReport): { jsonPath: string; htmlPath: string } {
  mkdirSync(dir, { recursive: true });
  const jsonPath = resolve(join(dir, REPORT_JSON_FILE));
  const htmlPath = resolve(join(dir, REPORT_HTML_FILE));
  writeAtomic(jsonPath, reportToJson(report));
  writeAtomic(htmlPath, renderReportHtml(report));
  return { jsonPath, htmlPath };
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

// ---------------------------------------------------------------------------------------------------
// JSON

/** The report as JSON: bigints as decimal strings, everything else as is. */
export function reportToJson(report: TestnetReport): string {
  return `${JSON.stringify(report, (_key, value) => (typeof value === "bigint" ? value.toString() : value), 2)}\n`;
}

/**
 * Parses report.json back into a TestnetReport (decimal strings → bigint where the type says bigint).
 * A report of the single-market testnet before markets were listed (top-level `market` and `epochs`)
 * reads as one energy market.
 */
export function parseReportJson(text: string): TestnetReport {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const markets =
    raw.markets === undefined && raw.market !== undefined
      ? [
          parseMarket(
            { market: { ...ENERGY_UNITS, ...obj(raw.market, "market") }, name: "energy", epochs: raw.epochs },
            0,
          ),
        ]
      : arr(raw.markets, "markets").map(parseMarket);
  return {
    nodes: raw.nodes as number,
    scenario: raw.scenario as string,
    seed: raw.seed as string,
    chainId: big(raw.chainId, "chainId"),
    contract: raw.contract as Hex,
    startedAtMs: raw.startedAtMs as number,
    firstSettlementS: (raw.firstSettlementS ?? null) as number | null,
    markets,
    ...(raw.adversary === undefined || raw.adversary === null
      ? {}
      : { adversary: parseAdversary(obj(raw.adversary, "adversary")) }),
  };
}

function parseBalance(v: unknown, where: string): AdversaryBalance {
  const b = obj(v, where);
  return {
    eth: big(b.eth, `${where}.eth`),
    bonds: big(b.bonds, `${where}.bonds`),
    base: big(b.base, `${where}.base`),
    quote: big(b.quote, `${where}.quote`),
  };
}

function parseAdversary(a: Record<string, unknown>): AdversaryReport {
  return {
    mode: a.mode as AdversaryMode,
    addresses: arr(a.addresses, "adversary.addresses") as Hex[],
    start: parseBalance(a.start, "adversary.start"),
    end: a.end === null || a.end === undefined ? null : parseBalance(a.end, "adversary.end"),
    feesEarned: big(a.feesEarned, "adversary.feesEarned"),
  };
}

function parseAttack(v: unknown, where: string): EpochAttack {
  const a = obj(v, where);
  return { ...(a as unknown as EpochAttack), bondPaidWei: big(a.bondPaidWei, `${where}.bondPaidWei`) };
}

function parseMarket(v: unknown, k: number): MarketReport {
  const where = `markets[${k}]`;
  const mr = obj(v, where);
  const m = obj(mr.market, `${where}.market`);
  const market: MarketInfo = {
    id: m.id as Hex,
    genesisTimeS: big(m.genesisTimeS, `${where}.market.genesisTimeS`),
    epochLengthS: big(m.epochLengthS, `${where}.market.epochLengthS`),
    baseDecimals: m.baseDecimals as number,
    quoteDecimals: m.quoteDecimals as number,
    baseLabel: m.baseLabel as string,
    quoteLabel: m.quoteLabel as string,
    priceLabel: m.priceLabel as string,
  };
  const epochs = arr(mr.epochs, `${where}.epochs`).map((e, i) => parseEpoch(e, `${where}.epochs[${i}]`));
  return {
    market,
    name: mr.name as string,
    epochs,
    ...(mr.firstSettlementS === undefined ? {} : { firstSettlementS: mr.firstSettlementS as number | null }),
    ...(Array.isArray(mr.devices)
      ? { devices: mr.devices.map((d, k) => parseDeviceReport(d, `${where}.devices[${k}]`)) }
      : {}),
  };
}

function parseEpoch(e: unknown, where: string): EpochReport {
  const r = obj(e, where);
  const curve = (v: unknown, what: string) =>
    arr(v, what).map((p, k) => {
      const o = obj(p, `${what}[${k}]`);
      return {
        limitPrice: big(o.limitPrice, `${what}[${k}].limitPrice`),
        quantity: big(o.quantity, `${what}[${k}].quantity`),
      };
    });
  return {
    epoch: big(r.epoch, `${where}.epoch`),
    orders: r.orders as number,
    price: r.price === null ? null : big(r.price, `${where}.price`),
    volume: big(r.volume, `${where}.volume`),
    welfare: big(r.welfare, `${where}.welfare`),
    nodes: arr(r.nodes, `${where}.nodes`) as NodeEpochView[],
    agreed: r.agreed as boolean,
    settled: r.settled as boolean,
    settlementTx: (r.settlementTx ?? null) as Hex | null,
    settledBy: (r.settledBy ?? null) as number | null,
    gasUsed: r.gasUsed === null || r.gasUsed === undefined ? null : big(r.gasUsed, `${where}.gasUsed`),
    bids: curve(r.bids, `${where}.bids`),
    asks: curve(r.asks, `${where}.asks`),
    ...(r.attack === undefined || r.attack === null
      ? {}
      : { attack: parseAttack(r.attack, `${where}.attack`) }),
    ...(r.unfinished === true ? { unfinished: true } : {}),
    ...(typeof r.ordersSent === "number" ? { ordersSent: r.ordersSent } : {}),
    ...(Array.isArray(r.deviceOrders)
      ? { deviceOrders: r.deviceOrders.map((o, k) => parseDeviceOrder(o, `${where}.deviceOrders[${k}]`)) }
      : {}),
    ...(typeof r.challenges === "number" ? { challenges: r.challenges } : {}),
    ...(r.submitter === undefined ? {} : { submitter: (r.submitter ?? null) as Hex | null }),
  };
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`report: ${what} is not an object`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`report: ${what} is not an array`);
  return v;
}

function big(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^-?(0|[1-9][0-9]*)$/.test(v)) {
    throw new Error(`report: ${what} is not a decimal string: ${JSON.stringify(v)}`);
  }
  return BigInt(v);
}

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

/** A balance in a market's units: "1000 ETH (+0 bonds) · 1000 kWh · 1000 $". */
function describeBalance(b: AdversaryBalance, m: MarketInfo): string {
  const bonds = b.bonds > 0n ? ` (+${formatEth(b.bonds)} ETH of bonds to claim)` : "";
  return `${formatEth(b.eth)} ETH${bonds} · ${formatBase(b.base, m)} ${m.baseLabel} · ${formatQuote(b.quote, m)} ${m.quoteLabel}`;
}

/** The change from `a` to `b`, signed: "−0.0103 ETH · −1.5 kWh · +0.299 $". */
function describeChange(a: AdversaryBalance, b: AdversaryBalance, m: MarketInfo): string {
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

const esc = escapeHtml;

/** The whole page: the run's facts, then a section per market. Pure: the same report gives the same bytes. */
export function renderReportHtml(report: TestnetReport): string {
  const title = `smartmarket testnet: ${report.scenario}, ${report.nodes} nodes`;
  const markets = report.markets
    .map(
      (mr) =>
        `${mr.name}: ${mr.epochs.length} epochs of ${mr.market.epochLengthS} s, prices in ${mr.market.priceLabel}, quantities in ${mr.market.baseLabel}`,
    )
    .join(" · ");
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // An empty data: icon, so the browser does not go looking for /favicon.ico.
    '<link rel="icon" href="data:,">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    `<header><h1>${esc(title)}</h1>`,
    `<p class="sub">seed “${esc(report.seed)}” · ${esc(markets)}</p></header>`,
    renderSummary(report),
    ...(report.adversary ? [renderAdversary(report)] : []),
    ...report.markets.map((mr, i) => renderMarket(mr, i)),
    `<footer>Generated from ${esc(REPORT_JSON_FILE)} (same folder), which holds every number on this page.</footer>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

const CSS = `
:root{--fg:#1d2430;--muted:#5b6472;--line:#d9dee5;--bg:#fff;--panel:#f6f8fa;--demand:#1f6fd1;--supply:#d9731a;--clear:#222;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1240px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:19px;margin:36px 0 6px;padding-top:12px;border-top:2px solid var(--line)}h3{font-size:16px;margin:24px 0 10px}
.sub,footer,.note{color:var(--muted)}footer{margin-top:28px;font-size:12px}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:8px 18px;margin:16px 0;padding:14px;background:var(--panel);border-radius:8px}
dl.facts div{min-width:0}dl.facts dt{color:var(--muted);font-size:12px}dl.facts dd{margin:0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px}
figure{margin:0;padding:8px;border:1px solid var(--line);border-radius:8px;background:var(--bg)}
figcaption{font-weight:600;margin:0 0 4px}
svg{display:block;width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
svg .axis{stroke:#8c959f;stroke-width:1}svg .gridline{stroke:var(--line);stroke-width:1}
svg .demand{fill:none;stroke:var(--demand);stroke-width:2}svg .supply{fill:none;stroke:var(--supply);stroke-width:2}
svg .clearing{stroke:var(--clear);stroke-width:1;stroke-dasharray:4 3}svg .clear-dot{fill:var(--clear)}
svg .price{fill:none;stroke:var(--demand);stroke-width:2}svg .price-dot{fill:var(--demand)}
svg .bar{fill:#8fb8ea}svg .bar.bad{fill:var(--bad)}svg .frame{fill:none;stroke:none}
svg text.label{fill:var(--fg);font-weight:600}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted);margin:4px 0 0}
.legend span::before{content:"";display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle;background:currentColor}
.legend .d{color:var(--demand)}.legend .s{color:var(--supply)}.legend .c{color:var(--clear)}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top;white-space:nowrap}
th{background:var(--panel);position:sticky;top:0}
td.l,th.l{text-align:left}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
details summary{cursor:pointer;color:var(--muted)}
details table{margin:4px 0 8px;font-size:12px}
#adversary td{white-space:normal}
section.devices{overflow-x:auto}section.devices th{white-space:normal}
`;

function facts(list: readonly (readonly [string, string])[]): string {
  return `<dl class="facts">${list.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("")}</dl>`;
}

/** The run's facts: what ran, where, and when. */
function renderSummary(report: TestnetReport): string {
  return `<section id="summary">${facts([
    ["scenario", report.scenario],
    ["seed", report.seed],
    ["nodes", String(report.nodes)],
    ["markets", report.markets.map((m) => m.name).join(", ") || "–"],
    [
      "first settlement",
      report.firstSettlementS === null ? "–" : `${report.firstSettlementS.toFixed(1)} s after start`,
    ],
    ["started", isoTime(report.startedAtMs)],
    ["chain id", report.chainId.toString()],
    ["settlement contract", report.contract],
  ])}</section>`;
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : "–";
}

/** A fragment id from a market's name (and its position, so that two names never share one). */
function slug(name: string, index: number): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  return `${index}-${s || "market"}`;
}

/** One market: its facts, its curves, its price and volume, its epochs. */
function renderMarket(mr: MarketReport, index: number): string {
  const id = slug(mr.name, index);
  return [
    `<section class="market" id="market-${esc(id)}" data-market="${esc(mr.market.id)}">`,
    `<h2>${esc(mr.name)} market</h2>`,
    renderMarketFacts(mr),
    renderCurves(mr, id),
    renderSeries(mr, id),
    renderTable(mr, id),
    renderDevicesHtml(mr, id),
    "</section>",
  ].join("");
}

/** The attacker: its mode, wallets, balance before and after, and each attack on the primary market. */
function renderAdversary(report: TestnetReport): string {
  const adv = report.adversary!;
  const primary = report.markets[0];
  if (!primary) return "";
  const m = primary.market;
  const rows = primary.epochs.filter((e) => e.attack);
  const held = rows.filter((e) => e.attack!.finalMatchesHonest).length;
  const list: [string, string][] = [
    ["mode", adv.mode],
    ["wallets", adv.addresses.join(", ")],
    ["epochs attacked", `${rows.filter((e) => e.attack!.attacked).length} of ${rows.length}`],
    ["challenged", `${rows.filter((e) => e.attack!.challenged).length} of ${rows.length}`],
    ["final result = honest", `${held} of ${rows.length}`],
    ["balance at start", describeBalance(adv.start, m)],
    ["balance at end", adv.end ? describeBalance(adv.end, m) : "–"],
    ["change", adv.end ? describeChange(adv.start, adv.end, m) : "–"],
    ["fees earned", `${formatQuote(adv.feesEarned, m)} ${m.quoteLabel}`],
  ];
  const head = ["epoch", "attacker's submission", "challenge that replaced it", "bond paid", "final result"]
    .map((h, i) => `<th${i > 0 ? ' class="l"' : ""}>${esc(h)}</th>`)
    .join("");
  const body = rows.map((r) => {
    const w = describeAttack(r.attack!);
    const a = r.attack!;
    return (
      `<tr data-epoch="${esc(r.epoch.toString())}"><td>${esc(r.epoch.toString())}</td>` +
      `<td class="l"${a.tx ? ` title="${esc(a.tx)}"` : ""}>${esc(w.submission)}</td>` +
      `<td class="l">${esc(w.challenge)}</td><td class="l">${esc(w.bond)}</td>` +
      `<td class="l ${w.held ? "ok" : "bad"}">${esc(w.final)}</td></tr>`
    );
  });
  return [
    `<section id="adversary"><h2>adversary: ${esc(adv.mode)}</h2>`,
    facts(list),
    rows.length > 0
      ? `<table><thead><tr>${head}</tr></thead><tbody>${body.join("")}</tbody></table>`
      : `<p class="note">No epochs recorded.</p>`,
    "</section>",
  ].join("");
}

function renderMarketFacts(mr: MarketReport): string {
  const m = mr.market;
  const rows = mr.epochs;
  let volume = 0n;
  let welfare = 0n;
  let payment = 0n;
  let gas = 0n;
  let gasCount = 0n;
  for (const r of rows) {
    volume += r.volume;
    welfare += r.welfare;
    if (r.price !== null) payment += r.price * r.volume;
    if (r.gasUsed !== null) {
      gas += r.gasUsed;
      gasCount++;
    }
  }
  const traded = rows.filter((r) => r.volume > 0n).length;
  const finished = rows.filter((r) => !r.unfinished);
  const unfinished = rows.length - finished.length;
  const agreed = finished.filter((r) => r.agreed).length;
  const settled = rows.filter((r) => r.settled).length;
  // Volume-weighted average price, rounded down: Σ p·V / Σ V (exact integers until the last division).
  const vwap = volume > 0n ? `${formatPrice(payment / volume, m)} ${m.priceLabel}` : "–";
  return facts([
    [
      "epochs",
      `${rows.length} of ${m.epochLengthS} s (${traded} traded${unfinished > 0 ? `, ${unfinished} unfinished when the run stopped` : ""})`,
    ],
    ["agreement", `${agreed} of ${finished.length} finished epochs agreed on every node`],
    ["settled", `${settled} of ${traded} traded epochs`],
    ["volume", `${formatBase(volume, m)} ${m.baseLabel}`],
    ["volume-weighted price", vwap],
    ["welfare (gains from trade)", `${formatQuote(welfare, m)} ${m.quoteLabel}`],
    [
      "first settlement",
      mr.firstSettlementS === undefined || mr.firstSettlementS === null
        ? "–"
        : `${mr.firstSettlementS.toFixed(1)} s after start`,
    ],
    ["gas", gasCount > 0n ? `${gas} total, ${gas / gasCount} per settlement` : "–"],
    ["market", m.id],
    ["genesis", isoTime(Number(m.genesisTimeS) * 1000)],
  ]);
}

function renderCurves(mr: MarketReport, id: string): string {
  const withOrders = mr.epochs.filter((r) => r.bids.length + r.asks.length > 0);
  const chosen = (withOrders.length > 0 ? withOrders : mr.epochs).slice(-CURVE_EPOCHS);
  const extents = chosen.map(curveExtent);
  const shared = {
    quantity: maxOf(extents.map((e) => e.quantity)),
    price: maxOf(extents.map((e) => e.price)),
  };
  const figures = chosen.map(
    (r) =>
      `<figure data-chart="curve" data-epoch="${esc(r.epoch.toString())}"><figcaption>epoch ${esc(r.epoch.toString())}</figcaption>${renderCurveSvg(r, mr.market, shared)}</figure>`,
  );
  const body =
    figures.length > 0
      ? `<div class="grid">${figures.join("")}</div><div class="legend"><span class="d">demand (bids by limit, descending)</span><span class="s">supply (asks by limit, ascending)</span><span class="c">clearing price and volume</span></div>`
      : `<p class="note">No epochs recorded.</p>`;
  return `<section class="curves" id="curves-${esc(id)}"><h3>Supply and demand, last ${chosen.length} epochs with orders (shared axes)</h3>${body}</section>`;
}

/** Price (line, gaps where nothing traded) and volume (bars, red where the nodes did not agree). */
function renderSeries(mr: MarketReport, id: string): string {
  const rows = mr.epochs;
  const m = mr.market;
  if (rows.length === 0)
    return `<section class="series" id="series-${esc(id)}"><h3>Price and volume</h3><p class="note">No epochs recorded.</p></section>`;
  const status = (r: EpochReport) => {
    const a = describeAgreement(r);
    return { bad: a.ok === false, text: a.text };
  };
  return [
    `<section class="series" id="series-${esc(id)}"><h3>Price and volume by epoch</h3>`,
    `<figure data-chart="price"><figcaption>clearing price (${esc(m.priceLabel)})</figcaption>${renderPriceSvg(rows, m)}</figure>`,
    `<figure data-chart="volume" style="margin-top:12px"><figcaption>volume (${esc(m.baseLabel)}); red: the nodes did not all agree</figcaption>${renderVolumeSvg(rows, m, status)}</figure>`,
    "</section>",
  ].join("");
}

// --- table -------------------------------------------------------------------------------------------

function shortHex(h: string | null): string {
  if (!h) return "–";
  return h.length > 18 ? `${h.slice(0, 10)}…${h.slice(-6)}` : h;
}

function renderTable(mr: MarketReport, id: string): string {
  const m = mr.market;
  const head = [
    ["epoch", ""],
    ["orders", ""],
    [`price (${m.priceLabel})`, ""],
    [`volume (${m.baseLabel})`, ""],
    [`welfare (${m.quoteLabel})`, ""],
    ["agreement", "l"],
    ["settled by", "l"],
    ["settlement tx", "l"],
    ["gas", ""],
    ["nodes", "l"],
  ]
    .map(([h, c]) => `<th${c ? ` class="${c}"` : ""}>${esc(h ?? "")}</th>`)
    .join("");
  const body = mr.epochs.map((r) => {
    const a = describeAgreement(r);
    const cls = a.ok === true ? "ok" : a.ok === false ? "bad" : "warn";
    const cells = [
      `<td>${esc(r.epoch.toString())}</td>`,
      `<td>${esc(r.unfinished ? `${r.orders} sent` : String(r.orders))}</td>`,
      `<td>${r.price === null ? "–" : esc(priceCell(r.price, m))}</td>`,
      `<td>${esc(baseCell(r.volume, m))}</td>`,
      `<td>${esc(quoteCell(r.welfare, m))}</td>`,
      `<td class="l ${cls}">${esc(a.text)}</td>`,
      `<td class="l">${esc(describeSettlement(r))}</td>`,
      `<td class="l">${r.settlementTx ? `<code title="${esc(r.settlementTx)}">${esc(shortHex(r.settlementTx))}</code>` : "–"}</td>`,
      `<td>${r.gasUsed === null ? "–" : esc(r.gasUsed.toString())}</td>`,
      `<td class="l">${renderNodes(r)}</td>`,
    ];
    return `<tr${r.unfinished ? ' class="unfinished"' : ""}>${cells.join("")}</tr>`;
  });
  return `<section class="epochs" id="epochs-${esc(id)}"><h3>Epochs</h3><table><thead><tr>${head}</tr></thead><tbody>${body.join("")}</tbody></table></section>`;
}

function renderNodes(row: EpochReport): string {
  if (row.nodes.length === 0) return "–";
  const rows = row.nodes.map((n) => {
    const agreed = n.agreed === null ? "–" : n.agreed ? "yes" : "no";
    const cls = n.agreed === false ? ' class="bad"' : "";
    return `<tr${cls}><td>${esc(String(n.node))}</td><td class="l">${esc(n.phase)}</td><td>${n.orders === null ? "–" : esc(String(n.orders))}</td><td class="l"><code title="${esc(n.fingerprint ?? "")}">${esc(shortHex(n.fingerprint))}</code></td><td class="l"><code title="${esc(n.resultHash ?? "")}">${esc(shortHex(n.resultHash))}</code></td><td class="l">${agreed}</td><td class="l"><code title="${esc(n.peerId)}">${esc(shortHex(n.peerId))}</code></td></tr>`;
  });
  return `<details><summary>${row.nodes.length} nodes</summary><table><thead><tr><th>node</th><th class="l">phase</th><th>orders</th><th class="l">fingerprint</th><th class="l">result hash</th><th class="l">agreed</th><th class="l">peer</th></tr></thead><tbody>${rows.join("")}</tbody></table></details>`;
}
