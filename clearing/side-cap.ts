// The side cap (docs/clearing.md, "Bounds", step 3): among the kept orders of a side, the first
// MAX_KEPT_PER_SIDE by price priority are *in* (they enter the clearing), the rest are *cut* (fill 0, in
// no sum or edge; they were kept: they still took one of their trader's places on that side).
//
// Price priority is the book's own: buys by limit descending, sells by limit ascending, then id
// ascending. The cut therefore keeps the orders most likely to trade; to push an honest order out, an
// attacker must post MAX_KEPT_PER_SIDE funded orders at a better limit (from at least
// MAX_KEPT_PER_SIDE / MAX_ORDERS_PER_TRADER_SIDE funded wallets), which trade if anything crosses
// them. Pure, integers only, independent of input order.
import { compareHex, type Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";
import {
  MAX_KEPT_PER_SIDE,
  NO_CUT_BUY_ID,
  NO_CUT_BUY_LIMIT,
  NO_CUT_SELL_ID,
  NO_CUT_SELL_LIMIT,
} from "./limits.ts";

export interface CapOrder {
  readonly id: Hex;
  readonly side: Side;
  readonly limitPrice: bigint;
}

/**
 * A side's threshold as a batch header carries it: a kept buy is in iff limit > limit* or (limit =
 * limit* and id ≤ id*); a kept sell iff limit < limit* or (limit = limit* and id ≤ id*). Without a cut:
 * buy (0, 0), sell (2^128 − 1, 2^256 − 1), which every kept order passes.
 */
export interface SideThreshold {
  /** uint128. */
  readonly limit: bigint;
  /** uint256 (an order id as a number). */
  readonly id: bigint;
}

export interface SideCapResult<T extends CapOrder> {
  /** The orders that enter the clearing, ascending id. */
  readonly in: T[];
  /** The kept orders the cap leaves out, ascending id. */
  readonly cut: T[];
  /** Per side: the threshold of the header, and whether the side was cut. */
  readonly threshold: Readonly<Record<Side, SideThreshold>>;
  readonly wasCut: Readonly<Record<Side, boolean>>;
}

/** The no-cut threshold of a side. */
export function noCutThreshold(side: Side): SideThreshold {
  return side === "buy"
    ? { limit: NO_CUT_BUY_LIMIT, id: NO_CUT_BUY_ID }
    : { limit: NO_CUT_SELL_LIMIT, id: NO_CUT_SELL_ID };
}

/** Price priority of one side: negative when a ranks before b. */
export function comparePriority(side: Side, a: CapOrder, b: CapOrder): number {
  if (a.limitPrice !== b.limitPrice) {
    const aBetter = side === "buy" ? a.limitPrice > b.limitPrice : a.limitPrice < b.limitPrice;
    return aBetter ? -1 : 1;
  }
  return compareHex(a.id, b.id);
}

/** Whether a kept order of `side` passes `threshold` (the contract's test, header field by field). */
export function isIn(side: Side, threshold: SideThreshold, limitPrice: bigint, id: Hex): boolean {
  const n = BigInt(id);
  if (side === "buy")
    return limitPrice > threshold.limit || (limitPrice === threshold.limit && n <= threshold.id);
  return limitPrice < threshold.limit || (limitPrice === threshold.limit && n <= threshold.id);
}

/**
 * Applies the side cap to kept orders (both sides). `maxPerSide` is the rule's MAX_KEPT_PER_SIDE (a
 * parameter for tests only, ≥ 1). The threshold of a cut side is the (limit, id) of its last in-order in
 * priority order.
 *
 * Only the best `maxPerSide` of a side are ranked (a sorted run of at most that many, each order compared
 * with its worst first): at 10,000 kept orders a full sort of each side by priority and of the cut by id
 * was ~17 ms of a node's selection at every close. The cut keeps the input's order when that is ascending
 * id (a selection's kept orders are), so its final sort only checks it.
 */
export function applySideCap<T extends CapOrder>(
  kept: readonly T[],
  maxPerSide: bigint = MAX_KEPT_PER_SIDE,
): SideCapResult<T> {
  if (maxPerSide < 1n) throw new RangeError(`maxPerSide must be at least 1, got ${maxPerSide}`);
  const max = Number(maxPerSide); // ≤ 64 in the rule: exact as a number
  const inOrders: T[] = [];
  const cut: T[] = [];
  const threshold: Record<Side, SideThreshold> = { buy: noCutThreshold("buy"), sell: noCutThreshold("sell") };
  const wasCut: Record<Side, boolean> = { buy: false, sell: false };
  for (const side of ["buy", "sell"] as const) {
    const ofSide = kept.filter((o) => o.side === side);
    if (ofSide.length <= max) {
      inOrders.push(...ofSide);
      continue;
    }
    const best = bestByPriority(side, ofSide, max);
    const last = best[max - 1]!;
    wasCut[side] = true;
    threshold[side] = { limit: last.limitPrice, id: BigInt(last.id) };
    inOrders.push(...best);
    const taken = new Set<T>(best);
    for (const o of ofSide) if (!taken.has(o)) cut.push(o);
  }
  inOrders.sort((a, b) => compareHex(a.id, b.id));
  cut.sort((a, b) => compareHex(a.id, b.id));
  return { in: inOrders, cut, threshold, wasCut };
}

/**
 * The first `max` orders of one side in price priority, in that order (ids are distinct, so priority is a
 * total order and the result does not depend on the input's order).
 */
function bestByPriority<T extends CapOrder>(side: Side, orders: readonly T[], max: number): T[] {
  const best: T[] = [];
  for (const o of orders) {
    if (best.length === max && comparePriority(side, o, best[max - 1]!) >= 0) continue;
    // Binary search for the first ranked order that o ranks before.
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1; // halved, rounded down
      if (comparePriority(side, best[mid]!, o) < 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, o);
    if (best.length > max) best.pop();
  }
  return best;
}
