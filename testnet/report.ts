// The testnet's report: report.json (the TestnetReport, bigints as decimal strings) and report.html, one
// self-contained page (inline CSS and server-drawn inline SVG; no script, no network) with the supply
// and demand curves of the last epochs, price and volume over the run and a per-epoch table.
//
// Amounts shown as text go through formatUnits (exact); floats appear only as pixel coordinates.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Hex } from "../protocol/hex.ts";
import {
  ENERGY_TOKEN_LABEL,
  formatEnergy,
  formatPrice,
  formatQuote,
  PRICE_LABEL,
  QUOTE_TOKEN_LABEL,
} from "./devices.ts";
import type { EpochReport, MarketInfo, NodeEpochView, TestnetReport } from "./types.ts";

export const REPORT_JSON_FILE = "report.json";
export const REPORT_HTML_FILE = "report.html";
/** Epochs drawn as supply/demand small multiples. */
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

/** Parses report.json back into a TestnetReport (decimal strings → bigint where the type says bigint). */
export function parseReportJson(text: string): TestnetReport {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const market = obj(raw.market, "market");
  const epochs = arr(raw.epochs, "epochs").map((e, i) => {
    const r = obj(e, `epochs[${i}]`);
    const curve = (v: unknown, what: string) =>
      arr(v, what).map((p, k) => {
        const o = obj(p, `${what}[${k}]`);
        return {
          limitPrice: big(o.limitPrice, `${what}[${k}].limitPrice`),
          quantity: big(o.quantity, `${what}[${k}].quantity`),
        };
      });
    const row: EpochReport = {
      epoch: big(r.epoch, "epoch"),
      orders: r.orders as number,
      price: r.price === null ? null : big(r.price, "price"),
      volume: big(r.volume, "volume"),
      welfare: big(r.welfare, "welfare"),
      nodes: arr(r.nodes, "nodes") as NodeEpochView[],
      agreed: r.agreed as boolean,
      settled: r.settled as boolean,
      settlementTx: (r.settlementTx ?? null) as Hex | null,
      settledBy: (r.settledBy ?? null) as number | null,
      gasUsed: r.gasUsed === null || r.gasUsed === undefined ? null : big(r.gasUsed, "gasUsed"),
      bids: curve(r.bids, `epochs[${i}].bids`),
      asks: curve(r.asks, `epochs[${i}].asks`),
    };
    return row;
  });
  return {
    nodes: raw.nodes as number,
    scenario: raw.scenario as string,
    seed: raw.seed as string,
    chainId: big(raw.chainId, "chainId"),
    contract: raw.contract as Hex,
    market: {
      id: market.id as Hex,
      genesisTimeS: big(market.genesisTimeS, "market.genesisTimeS"),
      epochLengthS: big(market.epochLengthS, "market.epochLengthS"),
      baseDecimals: market.baseDecimals as number,
      quoteDecimals: market.quoteDecimals as number,
    },
    startedAtMs: raw.startedAtMs as number,
    firstSettlementS: (raw.firstSettlementS ?? null) as number | null,
    epochs,
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

/**
 * Pads the fractional part of a formatUnits string with zeros to `places` digits ("2.07" → "2.070"), so
 * that columns of amounts line up. Only appends zeros: the value shown stays exact.
 */
export function padFraction(text: string, places: number): string {
  if (places <= 0) return text;
  const dot = text.indexOf(".");
  const frac = dot < 0 ? "" : text.slice(dot + 1);
  if (frac.length >= places) return text;
  return `${dot < 0 ? text : text.slice(0, dot)}.${frac.padEnd(places, "0")}`;
}

/** Fractional digits a price can have in quote tokens per whole base token. */
export function priceDecimals(market: Pick<MarketInfo, "baseDecimals" | "quoteDecimals">): number {
  return Math.max(0, market.quoteDecimals - market.baseDecimals);
}

function nodeList(indices: readonly number[]): string {
  return indices.length === 1 ? `node ${indices[0]}` : `nodes ${indices.join(", ")}`;
}

/** Who settled: "node 2", "external" (a wallet that is not one of ours), "no trade", "unsettled". */
export function describeSettlement(row: EpochReport): string {
  if (!row.settled) return row.volume === 0n ? "no trade" : "unsettled";
  return row.settledBy === null || row.settledBy < 0 ? "external" : `node ${row.settledBy}`;
}

// ---------------------------------------------------------------------------------------------------
// HTML

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const esc = escapeHtml;

/** The whole page. Pure: the same report gives the same bytes. */
export function renderReportHtml(report: TestnetReport): string {
  const m = report.market;
  const title = `smartmarket testnet: ${report.scenario}, ${report.nodes} nodes`;
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
    `<p class="sub">seed “${esc(report.seed)}” · ${esc(String(report.epochs.length))} epochs of ${esc(m.epochLengthS.toString())} s · prices in ${esc(PRICE_LABEL)}, energy in ${esc(ENERGY_TOKEN_LABEL)}</p></header>`,
    renderSummary(report),
    renderCurves(report),
    renderSeries(report),
    renderTable(report),
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
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
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
`;

function renderSummary(report: TestnetReport): string {
  const m = report.market;
  const rows = report.epochs;
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
  const agreed = rows.filter((r) => r.agreed).length;
  const settled = rows.filter((r) => r.settled).length;
  // Volume-weighted average price, rounded down: Σ p·V / Σ V (exact integers until the last division).
  const vwap = volume > 0n ? `${formatPrice(payment / volume, m)} ${PRICE_LABEL}` : "–";
  const facts: [string, string][] = [
    ["scenario", report.scenario],
    ["seed", report.seed],
    ["nodes", String(report.nodes)],
    ["epochs", `${rows.length} (${traded} traded)`],
    ["agreement", `${agreed} of ${rows.length} epochs agreed on every node`],
    ["settled", `${settled} of ${traded} traded epochs`],
    ["volume", `${formatEnergy(volume, m)} ${ENERGY_TOKEN_LABEL}`],
    ["volume-weighted price", vwap],
    ["welfare (gains from trade)", `${formatQuote(welfare, m)} ${QUOTE_TOKEN_LABEL}`],
    ["gas", gasCount > 0n ? `${gas} total, ${gas / gasCount} per settlement` : "–"],
    [
      "first settlement",
      report.firstSettlementS === null ? "–" : `${report.firstSettlementS.toFixed(1)} s after start`,
    ],
    ["started", isoTime(report.startedAtMs)],
    ["chain id", report.chainId.toString()],
    ["settlement contract", report.contract],
    ["market", m.id],
    ["genesis", isoTime(Number(m.genesisTimeS) * 1000)],
  ];
  const items = facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("");
  return `<section id="summary"><dl class="facts">${items}</dl></section>`;
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : "–";
}

// --- charts ------------------------------------------------------------------------------------------

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

function plotWidth(f: Frame): number {
  return f.width - f.left - f.right;
}

function plotHeight(f: Frame): number {
  return f.height - f.top - f.bottom;
}

/** Pixel position of `v` on an axis from 0 to `max` spanning `px` pixels. Floats are fine for pixels. */
function px(v: bigint, max: bigint, span: number): number {
  if (max <= 0n) return 0;
  return (Number(v) / Number(max)) * span;
}

function fmt(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

/**
 * A "nice" axis maximum >= v: 1, 2 or 5 × 10^k, and the tick count that divides it evenly (bigint
 * arithmetic, so tick labels are exact).
 */
export function niceAxis(v: bigint): { max: bigint; ticks: number } {
  if (v <= 0n) return { max: 1n, ticks: 1 };
  let p = 1n;
  while (p * 10n < v) p *= 10n;
  for (const m of [1n, 2n, 5n, 10n]) {
    if (m * p >= v) {
      const max = m * p;
      const ticks = max < 4n ? Number(max) : m === 5n ? 5 : 4;
      return { max, ticks };
    }
  }
  return { max: 10n * p, ticks: 5 };
}

function yAxis(f: Frame, axis: { max: bigint; ticks: number }, label: (v: bigint) => string): string {
  const out: string[] = [];
  for (let i = 0; i <= axis.ticks; i++) {
    const v = (axis.max * BigInt(i)) / BigInt(axis.ticks);
    const y = f.top + plotHeight(f) - px(v, axis.max, plotHeight(f));
    out.push(
      `<line class="gridline" x1="${f.left}" y1="${fmt(y)}" x2="${f.width - f.right}" y2="${fmt(y)}"/>`,
    );
    out.push(`<text x="${f.left - 4}" y="${fmt(y + 3.5)}" text-anchor="end">${esc(label(v))}</text>`);
  }
  return out.join("");
}

function xAxisLine(f: Frame): string {
  const y = f.top + plotHeight(f);
  return (
    `<line class="axis" x1="${f.left}" y1="${y}" x2="${f.width - f.right}" y2="${y}"/>` +
    `<line class="axis" x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${y}"/>`
  );
}

interface Step {
  readonly limitPrice: bigint;
  readonly quantity: bigint;
}

/** A step curve: orders ranked by limit (descending for demand, ascending for supply), cumulative quantity. */
function stepPath(steps: readonly Step[], descending: boolean, f: Frame, xMax: bigint, yMax: bigint): string {
  const ranked = [...steps].sort((a, b) =>
    a.limitPrice === b.limitPrice ? 0 : a.limitPrice < b.limitPrice !== descending ? -1 : 1,
  );
  const x = (q: bigint) => fmt(f.left + px(q, xMax, plotWidth(f)));
  const y = (p: bigint) => fmt(f.top + plotHeight(f) - px(p, yMax, plotHeight(f)));
  let cum = 0n;
  let d = "";
  for (const s of ranked) {
    d += d === "" ? `M${x(0n)} ${y(s.limitPrice)}` : `V${y(s.limitPrice)}`;
    cum += s.quantity;
    d += `H${x(cum)}`;
  }
  return d;
}

function sumQuantity(steps: readonly Step[]): bigint {
  let t = 0n;
  for (const s of steps) t += s.quantity;
  return t;
}

function maxPrice(steps: readonly Step[]): bigint {
  return maxOf(steps.map((s) => s.limitPrice));
}

/** Largest of non-negative bigints, 0 for none (Math.max does not take bigints). */
function maxOf(values: readonly bigint[]): bigint {
  let m = 0n;
  for (const v of values) if (v > m) m = v;
  return m;
}

/** The largest quantity and price an epoch's curves reach. */
function curveExtent(row: EpochReport): { quantity: bigint; price: bigint } {
  return {
    quantity: maxOf([sumQuantity(row.bids), sumQuantity(row.asks), row.volume]),
    price: maxOf([maxPrice(row.bids), maxPrice(row.asks), row.price ?? 0n]),
  };
}

/**
 * Supply and demand of one epoch with its clearing point. `extent` fixes the axes (small multiples
 * share them, so that the panels compare at a glance); by default the epoch's own.
 */
export function renderCurveSvg(
  row: EpochReport,
  market: MarketInfo,
  extent: { quantity: bigint; price: bigint } = curveExtent(row),
): string {
  const f: Frame = { width: 380, height: 240, left: 52, right: 12, top: 12, bottom: 34 };
  const xAxis = niceAxis(extent.quantity);
  const yAx = niceAxis(extent.price);
  const parts: string[] = [
    `<svg viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${esc(`supply and demand, epoch ${row.epoch}`)}">`,
    `<rect class="frame" x="0" y="0" width="${f.width}" height="${f.height}"/>`,
    yAxis(f, yAx, (v) => formatPrice(v, market)),
    xAxisLine(f),
  ];
  for (let i = 0; i <= xAxis.ticks; i++) {
    const v = (xAxis.max * BigInt(i)) / BigInt(xAxis.ticks);
    const x = f.left + px(v, xAxis.max, plotWidth(f));
    parts.push(
      `<text x="${fmt(x)}" y="${f.height - f.bottom + 14}" text-anchor="middle">${esc(formatEnergy(v, market))}</text>`,
    );
  }
  parts.push(
    `<text x="${f.left + plotWidth(f) / 2}" y="${f.height - 4}" text-anchor="middle">${esc(`cumulative ${ENERGY_TOKEN_LABEL}`)}</text>`,
  );
  if (row.bids.length === 0 && row.asks.length === 0) {
    parts.push(`<text class="label" x="${f.left + 12}" y="${f.top + 20}">no orders</text>`);
  } else {
    if (row.bids.length > 0) {
      parts.push(
        `<path class="demand" d="${stepPath(row.bids, true, f, xAxis.max, yAx.max)}"><title>demand: ${row.bids.length} bids, ${esc(formatEnergy(sumQuantity(row.bids), market))} ${ENERGY_TOKEN_LABEL}</title></path>`,
      );
    }
    if (row.asks.length > 0) {
      parts.push(
        `<path class="supply" d="${stepPath(row.asks, false, f, xAxis.max, yAx.max)}"><title>supply: ${row.asks.length} asks, ${esc(formatEnergy(sumQuantity(row.asks), market))} ${ENERGY_TOKEN_LABEL}</title></path>`,
      );
    }
    if (row.price !== null) {
      const x = f.left + px(row.volume, xAxis.max, plotWidth(f));
      const y = f.top + plotHeight(f) - px(row.price, yAx.max, plotHeight(f));
      const label = `${formatPrice(row.price, market)} ${PRICE_LABEL} × ${formatEnergy(row.volume, market)} ${ENERGY_TOKEN_LABEL}`;
      parts.push(
        `<line class="clearing" x1="${f.left}" y1="${fmt(y)}" x2="${f.width - f.right}" y2="${fmt(y)}"/>`,
        `<line class="clearing" x1="${fmt(x)}" y1="${f.top}" x2="${fmt(x)}" y2="${f.top + plotHeight(f)}"/>`,
        `<circle class="clear-dot" cx="${fmt(x)}" cy="${fmt(y)}" r="4"><title>${esc(`cleared ${label}`)}</title></circle>`,
        `<text class="label" x="${f.width - f.right - 4}" y="${f.top + 12}" text-anchor="end">${esc(label)}</text>`,
      );
    } else {
      parts.push(
        `<text class="label" x="${f.width - f.right - 4}" y="${f.top + 12}" text-anchor="end">no trade</text>`,
      );
    }
  }
  parts.push("</svg>");
  return parts.join("");
}

function renderCurves(report: TestnetReport): string {
  const withOrders = report.epochs.filter((r) => r.bids.length + r.asks.length > 0);
  const chosen = (withOrders.length > 0 ? withOrders : report.epochs).slice(-CURVE_EPOCHS);
  const extents = chosen.map(curveExtent);
  const shared = {
    quantity: maxOf(extents.map((e) => e.quantity)),
    price: maxOf(extents.map((e) => e.price)),
  };
  const figures = chosen.map(
    (r) =>
      `<figure data-chart="curve" data-epoch="${esc(r.epoch.toString())}"><figcaption>epoch ${esc(r.epoch.toString())}</figcaption>${renderCurveSvg(r, report.market, shared)}</figure>`,
  );
  const body =
    figures.length > 0
      ? `<div class="grid">${figures.join("")}</div><div class="legend"><span class="d">demand (bids by limit, descending)</span><span class="s">supply (asks by limit, ascending)</span><span class="c">clearing price and volume</span></div>`
      : `<p class="note">No epochs recorded.</p>`;
  return `<section id="curves"><h2>Supply and demand, last ${chosen.length} epochs with orders (shared axes)</h2>${body}</section>`;
}

/** Price (line, gaps where nothing traded) and volume (bars, red where the nodes did not agree). */
function renderSeries(report: TestnetReport): string {
  const rows = report.epochs;
  const m = report.market;
  if (rows.length === 0)
    return `<section id="series"><h2>Price and volume</h2><p class="note">No epochs recorded.</p></section>`;
  const f: Frame = { width: 1180, height: 220, left: 60, right: 12, top: 12, bottom: 30 };
  const band = plotWidth(f) / rows.length;
  const cx = (i: number) => f.left + band * (i + 0.5);
  const labelEvery = Math.max(1, Math.ceil(rows.length / 24));
  const xLabels = rows
    .map((r, i) =>
      i % labelEvery === 0
        ? `<text x="${fmt(cx(i))}" y="${f.height - f.bottom + 14}" text-anchor="middle">${esc(r.epoch.toString())}</text>`
        : "",
    )
    .join("");

  // Price.
  const pAxis = niceAxis(maxOf(rows.map((r) => r.price ?? 0n)));
  const py = (p: bigint) => f.top + plotHeight(f) - px(p, pAxis.max, plotHeight(f));
  let d = "";
  let open = false;
  const dots: string[] = [];
  rows.forEach((r, i) => {
    if (r.price === null) {
      open = false;
      return;
    }
    d += `${open ? "L" : "M"}${fmt(cx(i))} ${fmt(py(r.price))}`;
    open = true;
    dots.push(
      `<circle class="price-dot" cx="${fmt(cx(i))}" cy="${fmt(py(r.price))}" r="2.5"><title>${esc(`epoch ${r.epoch}: ${formatPrice(r.price, m)} ${PRICE_LABEL}`)}</title></circle>`,
    );
  });
  const priceSvg = [
    `<svg viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="clearing price by epoch">`,
    yAxis(f, pAxis, (v) => formatPrice(v, m)),
    xAxisLine(f),
    xLabels,
    d === ""
      ? `<text class="label" x="${f.left + 12}" y="${f.top + 20}">no epoch traded</text>`
      : `<path class="price" d="${d}"/>`,
    ...dots,
    "</svg>",
  ].join("");

  // Volume.
  const vAxis = niceAxis(maxOf(rows.map((r) => r.volume)));
  const bars = rows.map((r, i) => {
    const h = px(r.volume, vAxis.max, plotHeight(f));
    const w = Math.max(1, band * 0.7);
    const agreement = describeAgreement(r);
    const tip = `epoch ${r.epoch}: ${formatEnergy(r.volume, m)} ${ENERGY_TOKEN_LABEL}, ${agreement.text}`;
    return `<rect class="bar${agreement.ok === false ? " bad" : ""}" x="${fmt(cx(i) - w / 2)}" y="${fmt(f.top + plotHeight(f) - h)}" width="${fmt(w)}" height="${fmt(h)}"><title>${esc(tip)}</title></rect>`;
  });
  const volumeSvg = [
    `<svg viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="volume by epoch">`,
    yAxis(f, vAxis, (v) => formatEnergy(v, m)),
    xAxisLine(f),
    xLabels,
    ...bars,
    "</svg>",
  ].join("");

  return [
    `<section id="series"><h2>Price and volume by epoch</h2>`,
    `<figure data-chart="price"><figcaption>clearing price (${esc(PRICE_LABEL)})</figcaption>${priceSvg}</figure>`,
    `<figure data-chart="volume" style="margin-top:12px"><figcaption>volume (${esc(ENERGY_TOKEN_LABEL)}); red: the nodes did not all agree</figcaption>${volumeSvg}</figure>`,
    "</section>",
  ].join("");
}

// --- table -------------------------------------------------------------------------------------------

function shortHex(h: string | null): string {
  if (!h) return "–";
  return h.length > 18 ? `${h.slice(0, 10)}…${h.slice(-6)}` : h;
}

function renderTable(report: TestnetReport): string {
  const m = report.market;
  const head = [
    ["epoch", ""],
    ["orders", ""],
    [`price (${PRICE_LABEL})`, ""],
    [`volume (${ENERGY_TOKEN_LABEL})`, ""],
    [`welfare (${QUOTE_TOKEN_LABEL})`, ""],
    ["agreement", "l"],
    ["settled by", "l"],
    ["settlement tx", "l"],
    ["gas", ""],
    ["nodes", "l"],
  ]
    .map(([h, c]) => `<th${c ? ` class="${c}"` : ""}>${esc(h ?? "")}</th>`)
    .join("");
  const body = report.epochs.map((r) => {
    const a = describeAgreement(r);
    const cls = a.ok === true ? "ok" : a.ok === false ? "bad" : "warn";
    const cells = [
      `<td>${esc(r.epoch.toString())}</td>`,
      `<td>${esc(String(r.orders))}</td>`,
      `<td>${r.price === null ? "–" : esc(padFraction(formatPrice(r.price, m), priceDecimals(m)))}</td>`,
      `<td>${esc(padFraction(formatEnergy(r.volume, m), m.baseDecimals))}</td>`,
      `<td>${esc(padFraction(formatQuote(r.welfare, m), m.quoteDecimals))}</td>`,
      `<td class="l ${cls}">${esc(a.text)}</td>`,
      `<td class="l">${esc(describeSettlement(r))}</td>`,
      `<td class="l">${r.settlementTx ? `<code title="${esc(r.settlementTx)}">${esc(shortHex(r.settlementTx))}</code>` : "–"}</td>`,
      `<td>${r.gasUsed === null ? "–" : esc(r.gasUsed.toString())}</td>`,
      `<td class="l">${renderNodes(r)}</td>`,
    ];
    return `<tr>${cells.join("")}</tr>`;
  });
  return `<section id="epochs"><h2>Epochs</h2><table><thead><tr>${head}</tr></thead><tbody>${body.join("")}</tbody></table></section>`;
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
