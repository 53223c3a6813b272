// The coverage rule: which orders of an epoch enter clearing, given each trader's collateral.
//
// Every node evaluates it identically from the same chain reads (the contract's collateralOf(e), the
// free balance at the epoch's close, which cannot change while the epoch can be settled), so every
// node clears the same input and an honest settlement never reverts for lack of funds:
//   - a buy needs  quantity × limitPrice  of quote (it pays fill × price ≤ quantity × limitPrice);
//   - a sell needs quantity               of base.
// Per trader, orders are taken in ascending id order (a total order independent of arrival) and an
// order is kept while the running total of what the kept orders need stays within the collateral;
// an order that does not fit is excluded and the scan goes on, so smaller later orders may still fit.
// A trader keeps at most MAX_KEPT_PER_TRADER orders (buys and sells together): an order is kept iff the
// trader has fewer kept orders so far AND it is covered; an order that is not kept changes nothing
// (neither the running total nor the count), so an unfunded order never uses up the count, and a
// trader's kept orders with an id below its largest id in a batch are still exactly what a batch must
// carry for its coverage to be the full set's (docs/clearing.md, "Coverage").
import { compareHex, type Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";
import { MAX_KEPT_PER_TRADER } from "./limits.ts";

export interface CoverageOrder {
  readonly id: Hex;
  readonly trader: Hex;
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
}

export interface Collateral {
  /** Base units available to back sells. */
  readonly base: bigint;
  /** Quote units available to back buys. */
  readonly quote: bigint;
}

/**
 * Why an order is not kept: its trader already has MAX_KEPT_PER_TRADER kept orders of smaller id
 * ("trader-cap", checked first), or what it needs does not fit what is left of the collateral
 * ("collateral").
 */
export type ExclusionReason = "collateral" | "trader-cap";

export interface CoverageExclusion<T> {
  readonly order: T;
  /** What it needs: quantity × limitPrice quote (buy) or quantity base (sell). */
  readonly needed: bigint;
  /** What was left of the trader's collateral of that asset when its turn came. */
  readonly available: bigint;
  readonly reason: ExclusionReason;
}

export interface CoverageResult<T extends CoverageOrder> {
  /** Orders that are kept (they used their trader's collateral and count), sorted by id. */
  readonly covered: T[];
  /** Orders left out, sorted by id, with what they would have needed, what was left, and why. */
  readonly excluded: CoverageExclusion<T>[];
}

/**
 * Applies the coverage rule with the per-trader cap. `collateral(trader)` must be defined for every
 * trader in `orders`; `maxKeptPerTrader` is the rule's MAX_KEPT_PER_TRADER (a parameter for tests only).
 */
export function applyCoverage<T extends CoverageOrder>(
  orders: readonly T[],
  collateral: (trader: Hex) => Collateral,
  maxKeptPerTrader: bigint = MAX_KEPT_PER_TRADER,
): CoverageResult<T> {
  const sorted = [...orders].sort((a, b) => compareHex(a.id, b.id));
  const used = new Map<Hex, { base: bigint; quote: bigint; count: bigint }>();
  const covered: T[] = [];
  const excluded: CoverageExclusion<T>[] = [];
  for (const o of sorted) {
    const c = collateral(o.trader);
    let u = used.get(o.trader);
    if (!u) {
      u = { base: 0n, quote: 0n, count: 0n };
      used.set(o.trader, u);
    }
    const isBuy = o.side === "buy";
    const need = isBuy ? o.quantity * o.limitPrice : o.quantity;
    const running = isBuy ? u.quote : u.base;
    const held = isBuy ? c.quote : c.base;
    if (u.count >= maxKeptPerTrader) {
      excluded.push({ order: o, needed: need, available: held - running, reason: "trader-cap" });
    } else if (running + need > held) {
      excluded.push({ order: o, needed: need, available: held - running, reason: "collateral" });
    } else {
      if (isBuy) u.quote += need;
      else u.base += need;
      u.count += 1n;
      covered.push(o);
    }
  }
  return { covered, excluded };
}
