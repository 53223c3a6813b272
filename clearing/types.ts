// The input of clearing: the orders of one epoch's book and the context the result hash names. A leaf
// of clearing/ (it imports protocol types only), so the modules that read these types (book.ts,
// clear.ts, explain.ts) never need to import each other for them. The rule: docs/clearing.md.
import type { Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";

/** One order as clearing sees it; docs/clearing.md, "Input". */
export interface ClearingOrder {
  /** The order id (EIP-712 digest): 0x + 64 lowercase hex digits. */
  readonly id: Hex;
  readonly side: Side;
  /** Quote units per base unit, 1 .. 2^128 − 1. */
  readonly limitPrice: bigint;
  /** Base units, 1 .. 2^128 − 1. */
  readonly quantity: bigint;
}

/** What the result hash binds the result to besides the fills; docs/clearing.md, "Result hash". */
export interface ClearingContext {
  /** bytes32: 0x + 64 lowercase hex digits. */
  readonly market: Hex;
  /** uint64. */
  readonly epoch: bigint;
}
