// A slow reference implementation of the clearing rule of docs/clearing.md, written straight from the
// rule text and independent of clearing/: no radix sort, no unit walk, ids compared as 256-bit numbers
// (BigInt), one object per order. Quadratic in places; for small books in tests and the golden generator.

export interface RefOrder {
  readonly id: string;
  readonly side: "buy" | "sell";
  readonly limitPrice: bigint;
  readonly quantity: bigint;
}

export interface RefResult {
  readonly price: bigint | null;
  readonly volume: bigint;
  /** [id, fill] for non-zero fills, ascending by id as a number. */
  readonly fills: readonly (readonly [string, bigint])[];
  readonly welfare: bigint;
  readonly buyerSurplus: bigint;
  readonly sellerSurplus: bigint;
}

const sum = (values: readonly bigint[]): bigint => values.reduce((a, b) => a + b, 0n);
// (Math.min / Math.max do not take bigints.)
const minOf = (values: readonly bigint[]): bigint =>
  [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0]!;
const maxOf = (values: readonly bigint[]): bigint =>
  [...values].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))[0]!;
const idNumbers = new Map<string, bigint>();
/** Ascending id as a 256-bit number (not as a string). */
const byIdNumber = (a: RefOrder, b: RefOrder): number => {
  const x = idNumber(a.id);
  const y = idNumber(b.id);
  return x < y ? -1 : x > y ? 1 : 0;
};
function idNumber(id: string): bigint {
  let n = idNumbers.get(id);
  if (n === undefined) {
    n = BigInt(id);
    idNumbers.set(id, n);
  }
  return n;
}

/** D(p): Σ quantity of buys with limit >= p. */
export function demandAt(orders: readonly RefOrder[], p: bigint): bigint {
  return sum(orders.filter((o) => o.side === "buy" && o.limitPrice >= p).map((o) => o.quantity));
}

/** S(p): Σ quantity of sells with limit <= p. */
export function supplyAt(orders: readonly RefOrder[], p: bigint): bigint {
  return sum(orders.filter((o) => o.side === "sell" && o.limitPrice <= p).map((o) => o.quantity));
}

/** The limit of the order holding unit k of a ranked curve, or null when the curve is shorter. */
function holderLimit(ranked: readonly RefOrder[], k: bigint): bigint | null {
  let cumulative = 0n;
  for (const o of ranked) {
    cumulative += o.quantity;
    if (cumulative >= k) return o.limitPrice;
  }
  return null;
}

export function referenceClear(orders: readonly RefOrder[]): RefResult {
  // 1. V = max over candidate prices (all limit prices) of min(D(p), S(p)).
  let volume = 0n;
  for (const p of new Set(orders.map((o) => o.limitPrice))) {
    const d = demandAt(orders, p);
    const s = supplyAt(orders, p);
    const m = minOf([d, s]);
    if (m > volume) volume = m;
  }
  if (volume === 0n) {
    return { price: null, volume, fills: [], welfare: 0n, buyerSurplus: 0n, sellerSurplus: 0n };
  }
  // 2. Ranked curves and the clearing interval.
  const buys = orders
    .filter((o) => o.side === "buy")
    .sort((a, b) => (a.limitPrice > b.limitPrice ? -1 : a.limitPrice < b.limitPrice ? 1 : 0));
  const sells = orders
    .filter((o) => o.side === "sell")
    .sort((a, b) => (a.limitPrice < b.limitPrice ? -1 : a.limitPrice > b.limitPrice ? 1 : 0));
  const bV = holderLimit(buys, volume)!;
  const aV = holderLimit(sells, volume)!;
  const bNext = holderLimit(buys, volume + 1n);
  const aNext = holderLimit(sells, volume + 1n);
  const loTerms = [aV, ...(bNext === null ? [] : [bNext])];
  const hiTerms = [bV, ...(aNext === null ? [] : [aNext])];
  const lo = maxOf(loTerms);
  const hi = minOf(hiTerms);
  if (hi < lo) throw new Error(`reference: empty interval [${lo}, ${hi}]`);
  const price = lo + (hi - lo) / 2n; // hi - lo >= 0: truncation is floor

  // 3. Fills.
  const fill = new Map<string, bigint>();
  for (const side of ["buy", "sell"] as const) {
    const mine = orders.filter((o) => o.side === side);
    const better = mine.filter((o) => (side === "buy" ? o.limitPrice > price : o.limitPrice < price));
    for (const o of better) fill.set(o.id, o.quantity);
    const R = volume - sum(better.map((o) => o.quantity));
    const level = mine.filter((o) => o.limitPrice === price).sort(byIdNumber);
    if (level.length === 0) {
      if (R !== 0n) throw new Error("reference: units left but no order at the price");
      continue;
    }
    for (const [id, share] of referenceProrata(R, level)) fill.set(id, share);
  }
  const fills = [...orders]
    .sort(byIdNumber)
    .filter((o) => (fill.get(o.id) ?? 0n) > 0n)
    .map((o) => [o.id, fill.get(o.id)!] as const);
  let buyValue = 0n;
  let sellValue = 0n;
  for (const o of orders) {
    const f = fill.get(o.id) ?? 0n;
    if (o.side === "buy") buyValue += o.limitPrice * f;
    else sellValue += o.limitPrice * f;
  }
  return {
    price,
    volume,
    fills,
    welfare: buyValue - sellValue,
    buyerSurplus: buyValue - price * volume,
    sellerSurplus: price * volume - sellValue,
  };
}

/** Step 3's split of R units over the orders of one price level: [id, share] per order. */
export function referenceProrata(R: bigint, level: readonly RefOrder[]): [string, bigint][] {
  const L = sum(level.map((o) => o.quantity));
  // Floor: R, q and L are non-negative, and bigint division truncates.
  const rows = level.map((o) => ({ o, share: (R * o.quantity) / L, rem: (R * o.quantity) % L }));
  let leftover = R - sum(rows.map((r) => r.share));
  const byRemainder = [...rows].sort((x, y) =>
    x.rem > y.rem ? -1 : x.rem < y.rem ? 1 : byIdNumber(x.o, y.o),
  );
  for (const r of byRemainder) {
    if (leftover === 0n) break;
    r.share += 1n;
    leftover -= 1n;
  }
  return rows.map((r) => [r.o.id, r.share]);
}

/**
 * The welfare-maximizing allocation by exhaustion: every fill vector with Σ buy fills = Σ sell fills,
 * maximizing Σ limit·fill over buys − Σ limit·fill over sells. Tiny books only (Π (q_i + 1) vectors).
 */
export function bruteForceMaxWelfare(orders: readonly RefOrder[]): bigint {
  let best = 0n;
  const fills = new Array<bigint>(orders.length).fill(0n);
  const visit = (i: number): void => {
    if (i === orders.length) {
      let bought = 0n;
      let sold = 0n;
      let welfare = 0n;
      orders.forEach((o, k) => {
        if (o.side === "buy") {
          bought += fills[k]!;
          welfare += o.limitPrice * fills[k]!;
        } else {
          sold += fills[k]!;
          welfare -= o.limitPrice * fills[k]!;
        }
      });
      if (bought === sold && welfare > best) best = welfare;
      return;
    }
    for (let f = 0n; f <= orders[i]!.quantity; f++) {
      fills[i] = f;
      visit(i + 1);
    }
  };
  visit(0);
  return best;
}
