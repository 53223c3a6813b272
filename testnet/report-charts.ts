// The report's charts as inline SVG, drawn on the server (report.ts puts them into the page): the supply
// and demand curves of one epoch, and a market's clearing price and volume by epoch, in the market's own
// units. Axis labels are exact (bigint ticks through formatUnits); floats appear only as pixel
// coordinates.

import { formatBase, formatPrice } from "../node/api/units.ts";
import { escapeHtml as esc } from "./html.ts";
import type { EpochReport, MarketInfo } from "./types.ts";

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
export function maxOf(values: readonly bigint[]): bigint {
  let m = 0n;
  for (const v of values) if (v > m) m = v;
  return m;
}

/** The largest quantity and price an epoch's curves reach. */
export function curveExtent(row: EpochReport): { quantity: bigint; price: bigint } {
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
      `<text x="${fmt(x)}" y="${f.height - f.bottom + 14}" text-anchor="middle">${esc(formatBase(v, market))}</text>`,
    );
  }
  parts.push(
    `<text x="${f.left + plotWidth(f) / 2}" y="${f.height - 4}" text-anchor="middle">${esc(`cumulative ${market.baseLabel}`)}</text>`,
  );
  if (row.bids.length === 0 && row.asks.length === 0) {
    parts.push(`<text class="label" x="${f.left + 12}" y="${f.top + 20}">no orders</text>`);
  } else {
    if (row.bids.length > 0) {
      parts.push(
        `<path class="demand" d="${stepPath(row.bids, true, f, xAxis.max, yAx.max)}"><title>demand: ${row.bids.length} bids, ${esc(`${formatBase(sumQuantity(row.bids), market)} ${market.baseLabel}`)}</title></path>`,
      );
    }
    if (row.asks.length > 0) {
      parts.push(
        `<path class="supply" d="${stepPath(row.asks, false, f, xAxis.max, yAx.max)}"><title>supply: ${row.asks.length} asks, ${esc(`${formatBase(sumQuantity(row.asks), market)} ${market.baseLabel}`)}</title></path>`,
      );
    }
    if (row.unfinished) {
      // Stopped before the nodes' result was final: no clearing point, and not "no trade" either.
      parts.push(
        `<text class="label" x="${f.width - f.right - 4}" y="${f.top + 12}" text-anchor="end">unfinished (stopped)</text>`,
      );
    } else if (row.price !== null) {
      const x = f.left + px(row.volume, xAxis.max, plotWidth(f));
      const y = f.top + plotHeight(f) - px(row.price, yAx.max, plotHeight(f));
      const label = `${formatPrice(row.price, market)} ${market.priceLabel} × ${formatBase(row.volume, market)} ${market.baseLabel}`;
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

/** How the volume chart marks an epoch: red when the nodes did not all agree, and the words for its tooltip. */
export interface BarStatus {
  readonly bad: boolean;
  readonly text: string;
}

/** The frame of the by-epoch charts and the x position of each epoch's band. */
function seriesFrame(rows: readonly EpochReport[]) {
  const f: Frame = { width: 1180, height: 220, left: 60, right: 12, top: 12, bottom: 30 };
  const band = plotWidth(f) / Math.max(1, rows.length);
  const cx = (i: number) => f.left + band * (i + 0.5);
  const labelEvery = Math.max(1, Math.ceil(rows.length / 24));
  const xLabels = rows
    .map((r, i) =>
      i % labelEvery === 0
        ? `<text x="${fmt(cx(i))}" y="${f.height - f.bottom + 14}" text-anchor="middle">${esc(r.epoch.toString())}</text>`
        : "",
    )
    .join("");
  return { f, band, cx, xLabels };
}

/** The clearing price by epoch: a line with gaps where nothing traded. */
export function renderPriceSvg(rows: readonly EpochReport[], m: MarketInfo): string {
  const { f, cx, xLabels } = seriesFrame(rows);
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
      `<circle class="price-dot" cx="${fmt(cx(i))}" cy="${fmt(py(r.price))}" r="2.5"><title>${esc(`epoch ${r.epoch}: ${formatPrice(r.price, m)} ${m.priceLabel}`)}</title></circle>`,
    );
  });
  return [
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
}

/** The volume by epoch: bars, marked bad (red) as `status` says. */
export function renderVolumeSvg(
  rows: readonly EpochReport[],
  m: MarketInfo,
  status: (row: EpochReport) => BarStatus,
): string {
  const { f, band, cx, xLabels } = seriesFrame(rows);
  const vAxis = niceAxis(maxOf(rows.map((r) => r.volume)));
  const bars = rows.map((r, i) => {
    const h = px(r.volume, vAxis.max, plotHeight(f));
    const w = Math.max(1, band * 0.7);
    const s = status(r);
    const tip = `epoch ${r.epoch}: ${formatBase(r.volume, m)} ${m.baseLabel}, ${s.text}`;
    return `<rect class="bar${s.bad ? " bad" : ""}" x="${fmt(cx(i) - w / 2)}" y="${fmt(f.top + plotHeight(f) - h)}" width="${fmt(w)}" height="${fmt(h)}"><title>${esc(tip)}</title></rect>`;
  });
  return [
    `<svg viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="volume by epoch">`,
    yAxis(f, vAxis, (v) => formatBase(v, m)),
    xAxisLine(f),
    xLabels,
    ...bars,
    "</svg>",
  ].join("");
}
