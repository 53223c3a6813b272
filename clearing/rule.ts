// The clearing rule of docs/clearing.md ("Step 1: volume", "Step 2: price", "Step 3: fills"), step by
// step, on a ranked book (book.ts). Integers only; every division says how it rounds. Work is
// proportional to the orders that trade or sit at the price: orders far from the price are sorted but
// never visited again.

import type { Book } from "./book.ts";
import { ClearingError, ClearingErrorCode } from "./errors.ts";

/**
 * Steps 1 and 2's inputs. Positions index the sides' ascending arrays (book.buys / book.sells); the
 * buy curve is walked from the top (highest limit), the sell curve from the bottom.
 */
export interface Crossing {
  /** V. */
  readonly volume: bigint;
  /** Positions of the orders holding unit V of each ranked curve; -1 when V = 0. */
  readonly buyV: number;
  readonly sellV: number;
  /** Positions of the orders holding unit V + 1; -1 when the curve is shorter. */
  readonly buyNext: number;
  readonly sellNext: number;
}

/**
 * Step 1. With b_k, a_k the limits holding unit k of the ranked curves, D(p) >= k and S(p) >= k hold
 * together exactly when a_k <= p <= b_k, so max over p of min(D(p), S(p)) is the largest k with
 * b_k >= a_k, and p = a_k (a limit price, hence a candidate) attains it. b is non-increasing and a
 * non-decreasing in k, so that k is found by matching units from the top of the buys and the bottom of
 * the sells until the next pair crosses; each step matches a whole block of units sharing both limits.
 */
export function findCrossing(book: Book): Crossing {
  const { buys, sells, limits, quantities } = book;
  let i = buys.length - 1;
  let j = 0;
  let buyLeft = i >= 0 ? quantities[buys[i]!]! : 0n; // unmatched units of buys[i]
  let sellLeft = j < sells.length ? quantities[sells[j]!]! : 0n;
  let volume = 0n;
  let buyV = -1;
  let sellV = -1;
  while (i >= 0 && j < sells.length && limits[buys[i]!]! >= limits[sells[j]!]!) {
    const units = buyLeft < sellLeft ? buyLeft : sellLeft;
    volume += units;
    buyLeft -= units;
    sellLeft -= units;
    buyV = i;
    sellV = j;
    if (buyLeft === 0n && --i >= 0) buyLeft = quantities[buys[i]!]!;
    if (sellLeft === 0n && ++j < sells.length) sellLeft = quantities[sells[j]!]!;
  }
  // Unit V + 1 is in the order each walk stopped at (partly matched, or the next one), if any.
  return { volume, buyV, sellV, buyNext: i, sellNext: j < sells.length ? j : -1 };
}

/** Step 2: the clearing interval [lo, hi] and the price in it. */
export interface ClearingInterval {
  /** max(a_V, b_{V+1}). */
  readonly lo: bigint;
  /** min(b_V, a_{V+1}). */
  readonly hi: bigint;
  /** lo + ⌊(hi − lo)/2⌋. */
  readonly price: bigint;
}

/** Step 2 for a crossing with V > 0. */
export function clearingInterval(book: Book, crossing: Crossing): ClearingInterval {
  const { buys, sells, limits } = book;
  if (crossing.volume <= 0n)
    throw new ClearingError(
      ClearingErrorCode.INVARIANT_VIOLATED,
      "the clearing interval needs a positive volume",
    );
  const bV = limits[buys[crossing.buyV]!]!;
  const aV = limits[sells[crossing.sellV]!]!;
  // Absent terms are dropped from the max / min.
  let lo = aV;
  if (crossing.buyNext >= 0) {
    const bNext = limits[buys[crossing.buyNext]!]!;
    if (bNext > lo) lo = bNext;
  }
  let hi = bV;
  if (crossing.sellNext >= 0) {
    const aNext = limits[sells[crossing.sellNext]!]!;
    if (aNext < hi) hi = aNext;
  }
  // V maximal gives a_V <= b_V and b_{V+1} < a_{V+1}, so lo <= hi; anything else is a bug upstream.
  if (lo > hi)
    throw new ClearingError(
      ClearingErrorCode.INVARIANT_VIOLATED,
      `empty clearing interval [${lo}, ${hi}] at volume ${crossing.volume}`,
    );
  return { lo, hi, price: midpointDown(lo, hi) };
}

/** lo + ⌊(hi − lo)/2⌋ for lo <= hi: the midpoint, rounded down. */
export function midpointDown(lo: bigint, hi: bigint): bigint {
  // hi - lo >= 0 and bigint division truncates toward zero, which for a non-negative dividend is floor.
  return lo + (hi - lo) / 2n;
}

/** The pro-rata split of one price level (step 3). Arrays are aligned with the claims. */
export interface Prorata {
  readonly shares: bigint[];
  /** R·q_i mod L. */
  readonly remainders: bigint[];
  /** 1 where the claim got one leftover unit. */
  readonly extraUnit: Uint8Array;
  /** R − Σ ⌊R·q_i/L⌋: the units handed out one each by largest remainder. */
  readonly leftover: bigint;
}

/**
 * Splits `units` R among claims q_i (Σ q_i = L, 0 <= R <= L): ⌊R·q_i/L⌋ each, then the leftover units
 * one each to the largest remainders R·q_i mod L, ties to the earlier claim. Callers pass claims in
 * ascending id order, so "earlier" is "smaller id" as the rule says. O(m log m) in the claims.
 */
export function prorate(units: bigint, claims: readonly bigint[]): Prorata {
  const count = claims.length;
  let total = 0n;
  for (const q of claims) total += q;
  if (units < 0n || units > total)
    throw new ClearingError(
      ClearingErrorCode.INVARIANT_VIOLATED,
      `cannot split ${units} units over ${total}`,
    );
  const shares = new Array<bigint>(count);
  const remainders = new Array<bigint>(count);
  const extraUnit = new Uint8Array(count);
  if (units === total) {
    // Everyone fills fully; the general formula gives the same without a division per claim.
    for (let i = 0; i < count; i++) {
      shares[i] = claims[i]!;
      remainders[i] = 0n;
    }
    return { shares, remainders, extraUnit, leftover: 0n };
  }
  let handedOut = 0n;
  for (let i = 0; i < count; i++) {
    const product = units * claims[i]!;
    // Floor: both operands are non-negative and bigint division truncates toward zero.
    const share = product / total;
    shares[i] = share;
    remainders[i] = product - share * total;
    handedOut += share;
  }
  const leftover = units - handedOut;
  if (leftover > 0n) {
    // Σ remainders = leftover·L with each remainder < L, so leftover < count: it fits a number.
    const byRemainder = new Uint32Array(count);
    for (let i = 0; i < count; i++) byRemainder[i] = i;
    byRemainder.sort((x, y) => {
      const rx = remainders[x]!;
      const ry = remainders[y]!;
      if (rx !== ry) return rx > ry ? -1 : 1;
      return x - y;
    });
    const extra = Number(leftover);
    for (let k = 0; k < extra; k++) {
      const i = byRemainder[k]!;
      shares[i]! += 1n;
      extraUnit[i] = 1;
    }
  }
  return { shares, remainders, extraUnit, leftover };
}

/** How one side fills at the clearing price (step 3). Ranges are positions in the side's array. */
export interface SideAllocation {
  /** Orders strictly better than the price (buys above, sells below): [fullFrom, fullTo), fill fully. */
  readonly fullFrom: number;
  readonly fullTo: number;
  /** Orders with limit exactly the price: [marginalFrom, marginalTo), ascending id; may be empty. */
  readonly marginalFrom: number;
  readonly marginalTo: number;
  /** R: what is left of V for the marginal orders. */
  readonly marginalUnits: bigint;
  /** The marginal orders' split, aligned with [marginalFrom, marginalTo); null when there are none. */
  readonly prorata: Prorata | null;
  /** Σ limit·fill over the side. */
  readonly value: bigint;
  /** Orders with a non-zero fill. */
  readonly filledOrders: number;
}

/**
 * Step 3 for one side: orders strictly better than the price fill fully, orders at the price share
 * the rest of V pro rata, others fill nothing. Writes fill[e] for every filled element.
 */
export function allocateSide(
  book: Book,
  isBuySide: boolean,
  price: bigint,
  volume: bigint,
  fill: bigint[],
): SideAllocation {
  const side = isBuySide ? book.buys : book.sells;
  const { limits, quantities } = book;
  // Walk from the best end: buys from the top down while limit > price, sells from the bottom up
  // while limit < price; then over the orders at exactly the price.
  const step = isBuySide ? -1 : 1;
  let k = isBuySide ? side.length - 1 : 0;
  let rest = volume;
  let value = 0n;
  for (; k >= 0 && k < side.length; k += step) {
    const e = side[k]!;
    const limit = limits[e]!;
    if (isBuySide ? limit <= price : limit >= price) break;
    const quantity = quantities[e]!;
    fill[e] = quantity;
    rest -= quantity;
    value += limit * quantity;
  }
  const betterEnd = k;
  while (k >= 0 && k < side.length && limits[side[k]!] === price) k += step;
  const [fullFrom, fullTo] = isBuySide ? [betterEnd + 1, side.length] : [0, betterEnd];
  const [marginalFrom, marginalTo] = isBuySide ? [k + 1, betterEnd + 1] : [betterEnd, k];
  let filledOrders = fullTo - fullFrom;
  // b_{V+1} <= p <= b_V (and the mirror for sells) put the better orders' total in [V − L, V].
  if (rest < 0n)
    throw new ClearingError(
      ClearingErrorCode.INVARIANT_VIOLATED,
      `orders better than ${price} exceed volume ${volume}`,
    );
  if (marginalFrom === marginalTo) {
    if (rest !== 0n)
      throw new ClearingError(
        ClearingErrorCode.INVARIANT_VIOLATED,
        `${rest} units left at ${price} but no order has that limit`,
      );
    return {
      fullFrom,
      fullTo,
      marginalFrom,
      marginalTo,
      marginalUnits: 0n,
      prorata: null,
      value,
      filledOrders,
    };
  }
  const claims = new Array<bigint>(marginalTo - marginalFrom);
  for (let m = marginalFrom; m < marginalTo; m++) claims[m - marginalFrom] = quantities[side[m]!]!;
  const prorata = prorate(rest, claims);
  for (let m = marginalFrom; m < marginalTo; m++) {
    const share = prorata.shares[m - marginalFrom]!;
    if (share > 0n) {
      fill[side[m]!] = share;
      filledOrders++;
    }
  }
  value += price * rest;
  return { fullFrom, fullTo, marginalFrom, marginalTo, marginalUnits: rest, prorata, value, filledOrders };
}
