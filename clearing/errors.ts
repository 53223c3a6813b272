// Typed errors of the clearing module. Every invalid input maps to one code; the error names the
// offending order by its position in the input and, when it has one, by its id.

export const ClearingErrorCode = {
  /** An order is not an object. */
  BAD_ORDER: "BAD_ORDER",
  /** An id is not canonical: 0x + 64 lowercase hex digits. */
  BAD_ID: "BAD_ID",
  /** Two orders share an id. */
  DUPLICATE_ID: "DUPLICATE_ID",
  /** side is neither "buy" nor "sell". */
  UNKNOWN_SIDE: "UNKNOWN_SIDE",
  /** quantity is not a bigint. */
  BAD_QUANTITY: "BAD_QUANTITY",
  /** quantity <= 0. */
  NON_POSITIVE_QUANTITY: "NON_POSITIVE_QUANTITY",
  /** quantity > 2^128 - 1. */
  QUANTITY_OUT_OF_RANGE: "QUANTITY_OUT_OF_RANGE",
  /** limitPrice is not a bigint. */
  BAD_PRICE: "BAD_PRICE",
  /** limitPrice <= 0. */
  NON_POSITIVE_PRICE: "NON_POSITIVE_PRICE",
  /** limitPrice > 2^128 - 1. */
  PRICE_OUT_OF_RANGE: "PRICE_OUT_OF_RANGE",
  /** The context's market is not a canonical bytes32 or its epoch is not a uint64. */
  BAD_CONTEXT: "BAD_CONTEXT",
  /** computeResultHash was given fills that are not canonical (sorted by id, unique, non-zero, uint256). */
  BAD_FILLS: "BAD_FILLS",
  /** An internal invariant of the rule failed: a bug, never a property of the input. */
  INVARIANT_VIOLATED: "INVARIANT_VIOLATED",
} as const;
export type ClearingErrorCode = (typeof ClearingErrorCode)[keyof typeof ClearingErrorCode];

export class ClearingError extends Error {
  readonly code: ClearingErrorCode;
  /** Position of the offending order (or fill) in the caller's array, when the error is about one. */
  readonly index: number | undefined;
  /** The offending order's id as given, when it has a string id. */
  readonly orderId: string | undefined;
  /** The message without the code prefix. */
  readonly detail: string;

  constructor(code: ClearingErrorCode, detail: string, index?: number, orderId?: string) {
    super(`${code}: ${detail}`);
    this.name = "ClearingError";
    this.code = code;
    this.index = index;
    this.orderId = orderId;
    this.detail = detail;
  }
}

export function isClearingError(err: unknown): err is ClearingError {
  return err instanceof ClearingError;
}
