// The bounds that keep every epoch settleable in one transaction (issue 10, "Dust makes an epoch
// unsettleable"; docs/clearing.md, "Bounds"). The same constants are public in the settlement contract
// (SmartMarket.MAX_ORDERS_PER_TRADER_SIDE() ... MAX_UNION_ORDERS()); a test checks that they agree.
//
// The rule, identical on every node and in the contract:
//   1. every order has quantity ≥ the market's minQuantity (else it is invalid);
//   2. per (trader, side), in ascending id, only the first MAX_ORDERS_PER_TRADER_SIDE orders can be kept
//      (funded or not); one of them is kept iff it needs at most ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋
//      of the asset it spends (coverage.ts). Whether an order is kept depends on no other order of the set
//      but a smaller-id order of its own trader and side: a batch never needs its traders' other orders;
//   3. per side, the kept orders ranked by price priority (buys: limit descending, sells: limit
//      ascending; then id ascending): the first MAX_KEPT_PER_SIDE are *in* (they are cleared), the rest
//      *cut* (fill 0).
// So at most 2 × MAX_KEPT_PER_SIDE orders are cleared, a certificate is those in-orders at most
// (MAX_BATCH_ORDERS), and a challenge always fits MAX_UNION_ORDERS (side-cap.ts and settlement/batch.ts
// say why).

/**
 * Orders per trader, side and epoch that can be kept: the smallest ids. Also the number of shares a
 * trader's collateral of an asset is split into, one per order (step 2). A count of orders.
 */
export const MAX_ORDERS_PER_TRADER_SIDE = 2n;

/** Orders per side that enter the clearing (step 3): the rest of a side's kept orders are cut. A count of orders. */
export const MAX_KEPT_PER_SIDE = 64n;

/**
 * The most orders a proposal (and certify()) may carry: 2 × MAX_KEPT_PER_SIDE = 128, the largest
 * certificate the rule can need (every order it carries is an in-order; step 2 needs no other order).
 * A count of orders.
 */
export const MAX_BATCH_ORDERS = 2n * MAX_KEPT_PER_SIDE;

/**
 * The most entries a challenge's union may carry: a standing batch (≤ MAX_BATCH_ORDERS), an honest
 * certificate (≤ MAX_BATCH_ORDERS), and for each standing order that is not among the first
 * MAX_ORDERS_PER_TRADER_SIDE of its trader and side, those smaller orders (≤ 2 × MAX_BATCH_ORDERS):
 * 4 × MAX_BATCH_ORDERS = 512 entries. A count of orders; 512 × 127 + 2 × 432 = 65,888 bytes of union,
 * half of the 128 KiB (131,072 bytes) a public mempool accepts.
 */
export const MAX_UNION_ORDERS = 4n * MAX_BATCH_ORDERS;

/** The cap fields of a side without a cut: every kept buy is in (limit > 0 always holds). */
export const NO_CUT_BUY_LIMIT = 0n;
export const NO_CUT_BUY_ID = 0n;
/** The cap fields of a side without a cut: every kept sell is in (limit < 2^128 − 1, or = and id ≤ 2^256 − 1). */
export const NO_CUT_SELL_LIMIT = (1n << 128n) - 1n;
export const NO_CUT_SELL_ID = (1n << 256n) - 1n;
