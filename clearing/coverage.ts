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
import { compareHex, type Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";

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

export interface CoverageResult<T extends CoverageOrder> {
  /** Orders that enter clearing, sorted by id. */
  readonly covered: T[];
  /** Orders left out, sorted by id, with what they would have needed and what was left. */
  readonly excluded: { order: T; needed: bigint; available: bigint }[];
}

/** Applies the coverage rule. `collateral(trader)` must be defined for every trader in `orders`. */
export function applyCoverage<T extends CoverageOrder>(
  orders: readonly T[],
  collateral: (trader: Hex) => Collateral,
): CoverageResult<T> {
  const sorted = [...orders].sort((a, b) => compareHex(a.id, b.id));
  const used = new Map<Hex, { base: bigint; quote: bigint }>();
  const covered: T[] = [];
  const excluded: { order: T; needed: bigint; available: bigint }[] = [];
  for (const o of sorted) {
    const c = collateral(o.trader);
    let u = used.get(o.trader);
    if (!u) {
      u = { base: 0n, quote: 0n };
      used.set(o.trader, u);
    }
    if (o.side === "buy") {
      const need = o.quantity * o.limitPrice;
      if (u.quote + need <= c.quote) {
        u.quote += need;
        covered.push(o);
      } else excluded.push({ order: o, needed: need, available: c.quote - u.quote });
    } else {
      const need = o.quantity;
      if (u.base + need <= c.base) {
        u.base += need;
        covered.push(o);
      } else excluded.push({ order: o, needed: need, available: c.base - u.base });
    }
  }
  return { covered, excluded };
}
