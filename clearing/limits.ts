// The bounds that keep every epoch settleable in one transaction (issue 10, "Dust makes an epoch
// unsettleable"; docs/clearing.md, "Bounds"). The same constants are public in the settlement contract
// (SmartMarket.MAX_KEPT_PER_TRADER() ... MAX_UNION_ORDERS()); a test checks that they agree.
//
// The rule, identical on every node and in the contract:
//   1. every order has quantity ≥ the market's minQuantity (else it is invalid);
//   2. per trader, in ascending id, an order is kept iff the trader has fewer than MAX_KEPT_PER_TRADER
//      kept orders so far and it is covered (coverage.ts);
//   3. per side, the kept orders ranked by price priority (buys: limit descending, sells: limit
//      ascending; then id ascending): the first MAX_KEPT_PER_SIDE are *in* (they are cleared), the rest
//      *cut* (fill 0; they were kept, so they used their trader's collateral and count).
// So at most 2 × MAX_KEPT_PER_SIDE orders are cleared, and a certificate carries at most
// MAX_BATCH_ORDERS orders (side-cap.ts says why).

/** Kept orders per trader per epoch, buys and sells together (step 2). A count of orders. */
export const MAX_KEPT_PER_TRADER = 4n;

/** Orders per side that enter the clearing (step 3): the rest of a side's kept orders are cut. A count of orders. */
export const MAX_KEPT_PER_SIDE = 64n;

/**
 * The most orders a proposal (and certify()) may carry: 2 × MAX_KEPT_PER_SIDE × MAX_KEPT_PER_TRADER =
 * 512, the largest certificate the rule can need (the in-orders of both sides and, for each of their at
 * most 128 traders, its at most 4 kept orders). A count of orders.
 */
export const MAX_BATCH_ORDERS = 2n * MAX_KEPT_PER_SIDE * MAX_KEPT_PER_TRADER;

/**
 * The most entries a challenge's union may carry: a standing batch plus as many added. A count of
 * orders; 1024 × 127 + 2 × 432 = 130,912 bytes of union, below the 128 KiB (131,072 bytes) a public
 * mempool accepts.
 */
export const MAX_UNION_ORDERS = 2n * MAX_BATCH_ORDERS;

/** The cap fields of a side without a cut: every kept buy is in (limit > 0 always holds). */
export const NO_CUT_BUY_LIMIT = 0n;
export const NO_CUT_BUY_ID = 0n;
/** The cap fields of a side without a cut: every kept sell is in (limit < 2^128 − 1, or = and id ≤ 2^256 − 1). */
export const NO_CUT_SELL_LIMIT = (1n << 128n) - 1n;
export const NO_CUT_SELL_ID = (1n << 256n) - 1n;
