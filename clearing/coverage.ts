// The coverage rule: which orders of an epoch enter clearing, given each trader's collateral.
//
// Every node evaluates it identically from the same chain reads (the contract's collateralOf(e), the
// free balance at the epoch's close, which cannot change while the epoch can be settled), so every
// node clears the same input and an honest settlement never reverts for lack of funds:
//   - a buy needs  quantity × limitPrice  of quote (it pays fill × price ≤ quantity × limitPrice);
//   - a sell needs quantity               of base.
// Per (trader, side), in ascending id (a total order independent of arrival), only the first
// MAX_ORDERS_PER_TRADER_SIDE orders can be kept, funded or not (a later one is excluded, "trader-cap");
// one of those is kept iff it needs at most ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋ of the asset it
// spends (else "collateral"). No running total: the kept orders of a side need at most the whole
// collateral by construction.
//
// Attack this shape defeats (issue 10): with a running total and a count over a trader's orders in id
// order, whether an order was kept depended on every smaller kept order of its trader. A standing batch
// could carry, for a hundred funded wallets, an order of large id and leave out the wallet's smaller
// kept orders; the honest challenge then had to carry all of those too and no longer fitted a
// transaction. Now an order's status depends only on whether two smaller orders of its own trader and
// side exist: a certificate needs no other order, and a challenge adds at most two per standing order
// (docs/clearing.md, "Coverage").
import { compareHex, type Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";
import { MAX_ORDERS_PER_TRADER_SIDE } from "./limits.ts";

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
 * Why an order is not kept: its trader already has MAX_ORDERS_PER_TRADER_SIDE orders of smaller id on
 * that side ("trader-cap", checked first), or it needs more than its share of the collateral
 * ("collateral").
 */
export type ExclusionReason = "collateral" | "trader-cap";

export interface CoverageExclusion<T> {
  readonly order: T;
  /** What it needs: quantity × limitPrice quote (buy) or quantity base (sell). */
  readonly needed: bigint;
  /** The most one order of the trader may need of that asset: ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋. */
  readonly available: bigint;
  readonly reason: ExclusionReason;
}

export interface CoverageResult<T extends CoverageOrder> {
  /** Orders that are kept, sorted by id. */
  readonly covered: T[];
  /** Orders left out, sorted by id, with what they would have needed, what one order may need, and why. */
  readonly excluded: CoverageExclusion<T>[];
}

/** What an order needs of the asset it spends: quantity × limitPrice quote (buy), quantity base (sell). */
export function needOf(o: Pick<CoverageOrder, "side" | "quantity" | "limitPrice">): bigint {
  return o.side === "buy" ? o.quantity * o.limitPrice : o.quantity;
}

/**
 * The most one kept order of a trader may need of an asset it holds `collateral` of:
 * ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋ (rounded down, so two such orders never need more than the
 * collateral).
 */
export function orderShareOf(collateral: bigint, perSide: bigint = MAX_ORDERS_PER_TRADER_SIDE): bigint {
  return collateral / perSide;
}

/**
 * Applies the coverage rule. `collateral(trader)` must be defined for every trader in `orders` (it is read
 * once per trader); `perSide` is the rule's MAX_ORDERS_PER_TRADER_SIDE (a parameter for tests only).
 */
export function applyCoverage<T extends CoverageOrder>(
  orders: readonly T[],
  collateral: (trader: Hex) => Collateral,
  perSide: bigint = MAX_ORDERS_PER_TRADER_SIDE,
): CoverageResult<T> {
  const sorted = [...orders].sort((a, b) => compareHex(a.id, b.id));
  // Per trader: orders met so far on each side (kept or not), and what one order may need of each asset.
  // The counts are numbers (no bigint allocated per order): they reach at most the number of orders.
  const cap = perSide > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(perSide);
  const traders = new Map<Hex, TraderState>();
  const covered: T[] = [];
  const excluded: CoverageExclusion<T>[] = [];
  for (const o of sorted) {
    let t = traders.get(o.trader);
    if (t === undefined) {
      const c = collateral(o.trader);
      t = {
        buys: 0,
        sells: 0,
        buyShare: orderShareOf(c.quote, perSide),
        sellShare: orderShareOf(c.base, perSide),
      };
      traders.set(o.trader, t);
    }
    const buy = o.side === "buy";
    const before = buy ? t.buys : t.sells;
    if (buy) t.buys = before + 1;
    else t.sells = before + 1;
    const need = needOf(o);
    const share = buy ? t.buyShare : t.sellShare;
    if (before >= cap) {
      excluded.push({ order: o, needed: need, available: share, reason: "trader-cap" });
    } else if (need > share) {
      excluded.push({ order: o, needed: need, available: share, reason: "collateral" });
    } else {
      covered.push(o);
    }
  }
  return { covered, excluded };
}

interface TraderState {
  buys: number;
  sells: number;
  readonly buyShare: bigint;
  readonly sellShare: bigint;
}
