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
 */
export function applySideCap<T extends CapOrder>(
  kept: readonly T[],
  maxPerSide: bigint = MAX_KEPT_PER_SIDE,
): SideCapResult<T> {
  if (maxPerSide < 1n) throw new RangeError(`maxPerSide must be at least 1, got ${maxPerSide}`);
  const inOrders: T[] = [];
  const cut: T[] = [];
  const threshold: Record<Side, SideThreshold> = { buy: noCutThreshold("buy"), sell: noCutThreshold("sell") };
  const wasCut: Record<Side, boolean> = { buy: false, sell: false };
  for (const side of ["buy", "sell"] as const) {
    const ranked = kept.filter((o) => o.side === side).sort((a, b) => comparePriority(side, a, b));
    const max = Number(maxPerSide); // ≤ 64 in the rule: exact as a number
    if (ranked.length > max) {
      wasCut[side] = true;
      const last = ranked[max - 1]!;
      threshold[side] = { limit: last.limitPrice, id: BigInt(last.id) };
      inOrders.push(...ranked.slice(0, max));
      cut.push(...ranked.slice(max));
    } else inOrders.push(...ranked);
  }
  inOrders.sort((a, b) => compareHex(a.id, b.id));
  cut.sort((a, b) => compareHex(a.id, b.id));
  return { in: inOrders, cut, threshold, wasCut };
}
