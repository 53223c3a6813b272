// A human-readable account of one clearing: what the CLI prints for `smartmarket clear --explain`.
// It reads the intermediate results of analyzeClearing, so it explains the computation that
// produced the result rather than a re-derivation of it.
import type { ClearingAnalysis } from "./clear.ts";
import { analyzeClearing, DEFAULT_CONTEXT } from "./clear.ts";
import type { SideAllocation } from "./rule.ts";
import type { ClearingContext, ClearingOrder } from "./types.ts";

/** Rows listed per marginal level; a level can hold 100,000 orders. */
export const MAX_LISTED_MARGINAL_ORDERS = 20;

/** Clears `orders` and explains the result. */
export function explainClearing(
  orders: readonly ClearingOrder[],
  ctx: ClearingContext = DEFAULT_CONTEXT,
): string {
  return explainAnalysis(analyzeClearing(orders, ctx));
}

/** The account of an analysis: lines separated by "\n", ending with one. */
export function explainAnalysis(analysis: ClearingAnalysis): string {
  const { result, book, crossing, interval } = analysis;
  const buyCount = book.buys.length;
  const sellCount = book.sells.length;
  const lines: string[] = [
    `Clearing of ${plural(book.size, "order")} (${plural(buyCount, "buy")}, ${plural(sellCount, "sell")}), market ${result.market}, epoch ${result.epoch}.`,
  ];
  if (interval === null || result.price === null) {
    lines.push(`No trade: ${noTradeReason(analysis)}. Volume 0, no price.`);
    lines.push(`Result hash ${result.resultHash} (price encoded as 0).`);
    return `${lines.join("\n")}\n`;
  }
  const price = result.price;
  const limitOf = (side: Uint32Array, position: number): bigint => book.limits[side[position]!]!;
  const idOf = (side: Uint32Array, position: number): string => book.ids[side[position]!]!;
  let demand = 0n;
  for (const e of book.buys) if (book.limits[e]! >= price) demand += book.quantities[e]!;
  let supply = 0n;
  for (const e of book.sells) if (book.limits[e]! <= price) supply += book.quantities[e]!;

  const V = result.volume;
  lines.push(
    `Volume V = ${V}: the largest number of units k for which the k-th best buy limit b_k is at least the k-th best sell limit a_k (= max over limit prices p of min(D(p), S(p))).`,
    `Price ${price}. At the price, demand D(p) = ${demand} (buys with limit >= ${price}) and supply S(p) = ${supply} (sells with limit <= ${price}).`,
    "",
    `Clearing interval [lo, hi] = [${interval.lo}, ${interval.hi}] (demand ranks buys by limit, highest first; supply ranks sells, lowest first; only the limit of the order holding a unit matters):`,
    `  b_V     = ${limitOf(book.buys, crossing.buyV)}  unit ${V} of demand, buy ${idOf(book.buys, crossing.buyV)}`,
    `  a_V     = ${limitOf(book.sells, crossing.sellV)}  unit ${V} of supply, sell ${idOf(book.sells, crossing.sellV)}`,
    crossing.buyNext >= 0
      ? `  b_{V+1} = ${limitOf(book.buys, crossing.buyNext)}  unit ${V + 1n} of demand, buy ${idOf(book.buys, crossing.buyNext)}`
      : `  b_{V+1}   absent: demand has only ${V} units at any price`,
    crossing.sellNext >= 0
      ? `  a_{V+1} = ${limitOf(book.sells, crossing.sellNext)}  unit ${V + 1n} of supply, sell ${idOf(book.sells, crossing.sellNext)}`
      : `  a_{V+1}   absent: supply has only ${V} units at any price`,
    `  lo = max(a_V, b_{V+1}) = ${interval.lo}, set by ${boundSetters(analysis, "lo")}`,
    `  hi = min(b_V, a_{V+1}) = ${interval.hi}, set by ${boundSetters(analysis, "hi")}`,
    `  price = lo + floor((hi - lo) / 2) = ${price}`,
    "",
  );
  lines.push(...explainSide(analysis, "buy", analysis.buys!));
  lines.push(...explainSide(analysis, "sell", analysis.sells!));
  lines.push(
    "",
    `Fills: ${plural(result.fills.length, "order")}, ${V} units each side, payment ${V * price} (fill x price).`,
    `Welfare ${result.welfare} = buyer surplus ${result.buyerSurplus} + seller surplus ${result.sellerSurplus}.`,
    `Result hash ${result.resultHash}.`,
  );
  return `${lines.join("\n")}\n`;
}

function noTradeReason(analysis: ClearingAnalysis): string {
  const { book } = analysis;
  if (book.buys.length === 0 && book.sells.length === 0) return "the book is empty";
  if (book.buys.length === 0) return "there are no buy orders";
  if (book.sells.length === 0) return "there are no sell orders";
  const bestBuy = book.limits[book.buys[book.buys.length - 1]!]!;
  const bestSell = book.limits[book.sells[0]!]!;
  return `the highest buy limit ${bestBuy} is below the lowest sell limit ${bestSell}`;
}

/** Which of the two terms of a bound equals it (both when they tie). */
function boundSetters(analysis: ClearingAnalysis, bound: "lo" | "hi"): string {
  const { book, crossing, interval } = analysis;
  const value = interval![bound];
  const terms: [string, Uint32Array, number][] =
    bound === "lo"
      ? [
          ["a_V (sell", book.sells, crossing.sellV],
          ["b_{V+1} (buy", book.buys, crossing.buyNext],
        ]
      : [
          ["b_V (buy", book.buys, crossing.buyV],
          ["a_{V+1} (sell", book.sells, crossing.sellNext],
        ];
  const setters = terms
    .filter(([, side, position]) => position >= 0 && book.limits[side[position]!] === value)
    .map(([name, side, position]) => `${name} ${book.ids[side[position]!]})`);
  return setters.join(" and ");
}

function explainSide(
  analysis: ClearingAnalysis,
  sideName: "buy" | "sell",
  allocation: SideAllocation,
): string[] {
  const { book, result } = analysis;
  const side = sideName === "buy" ? book.buys : book.sells;
  const price = result.price!;
  const better = sideName === "buy" ? "above" : "below";
  const full = allocation.fullTo - allocation.fullFrom;
  let fullUnits = 0n;
  for (let k = allocation.fullFrom; k < allocation.fullTo; k++) fullUnits += book.quantities[side[k]!]!;
  const lines = [
    `${capitalize(sideName)}s: ${plural(full, "order")} with limit ${better} ${price} fill fully (${fullUnits} units).`,
  ];
  const marginal = allocation.marginalTo - allocation.marginalFrom;
  const prorata = allocation.prorata;
  if (marginal === 0 || prorata === null) {
    lines.push(`  No ${sideName} order has limit exactly ${price}.`);
    return lines;
  }
  let levelQuantity = 0n;
  for (let k = allocation.marginalFrom; k < allocation.marginalTo; k++) {
    levelQuantity += book.quantities[side[k]!]!;
  }
  const R = allocation.marginalUnits;
  lines.push(
    `  Marginal ${sideName}s (limit exactly ${price}): ${plural(marginal, "order")}, L = ${levelQuantity} units, sharing R = V - ${fullUnits} = ${R} units.`,
  );
  if (R === levelQuantity) {
    lines.push("  R = L: every marginal order fills fully.");
  } else {
    let extras = 0;
    for (const x of prorata.extraUnit) extras += x;
    lines.push(
      `  Pro rata: floor(R*q/L) each, then the ${prorata.leftover} leftover units one each to the largest remainders R*q mod L (ties: smaller id first); ${plural(extras, "order")} got one.`,
    );
  }
  const listed = Math.min(marginal, MAX_LISTED_MARGINAL_ORDERS);
  const rows: string[][] = [["id", "quantity", "floor", "remainder", "+1", "fill"]];
  for (let i = 0; i < listed; i++) {
    const e = side[allocation.marginalFrom + i]!;
    const share = prorata.shares[i]!;
    const extra = prorata.extraUnit[i] === 1;
    rows.push([
      book.ids[e]!,
      String(book.quantities[e]),
      String(extra ? share - 1n : share),
      String(prorata.remainders[i]),
      extra ? "+1" : "",
      String(share),
    ]);
  }
  lines.push(...table(rows, "    "));
  if (marginal > listed) lines.push(`    ... and ${marginal - listed} more (in ascending id order)`);
  return lines;
}

/** Left-aligned first column, right-aligned others. */
function table(rows: readonly string[][], indent: string): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map(
    (row) =>
      indent +
      row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "),
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
