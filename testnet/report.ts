// The testnet's report: report.json (the TestnetReport, bigints as decimal strings) and report.html, one
// self-contained page (inline CSS and server-drawn inline SVG; no script, no network) with the run's
// facts and, for each market, in its own units: the supply and demand curves of the last epochs, price
// and volume over the run and a per-epoch table. With --adversary: the attacker's balance before and after,
// and a table of its attacks on the primary market (its submission, the challenge that replaced it, the
// bond paid, the final result).
//
// report.json's format is report-json.ts; the words shared with the live view are report-words.ts.
// Amounts shown as text go through formatUnits (exact); floats appear only as pixel coordinates.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { baseCell, formatBase, formatPrice, formatQuote, priceCell, quoteCell } from "../node/api/units.ts";
import { escapeHtml } from "./html.ts";
import { curveExtent, maxOf, renderCurveSvg, renderPriceSvg, renderVolumeSvg } from "./report-charts.ts";
import { renderDevicesHtml } from "./report-devices.ts";
import { reportToJson } from "./report-json.ts";
import {
  describeAgreement,
  describeAttack,
  describeBalance,
  describeChange,
  describeSettlement,
  shortHex,
} from "./report-words.ts";
import type { EpochReport, MarketReport, TestnetReport } from "./types.ts";

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
