// Uniform-price call auction clearing: orders in, result out. Pure, integer-only, deterministic: the
// result depends on the set of orders, never on their order in the input, and every node computes it
// to the last unit. The rule is docs/clearing.md; rule.ts implements its steps 1–3, and the result hash
// is that page's "Result hash".

import { MAX_UINT64 } from "../protocol/constants.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import { keccak256 } from "../protocol/keccak.ts";
import { beginResultEncoding, encodeResult, writeDecodedFill } from "./abi.ts";
import { type Book, buildBook, ID_BYTES } from "./book.ts";
import { ClearingError, ClearingErrorCode } from "./errors.ts";
import {
  allocateSide,
  type ClearingInterval,
  type Crossing,
  clearingInterval,
  findCrossing,
  type SideAllocation,
} from "./rule.ts";
import type { ClearingContext, ClearingOrder } from "./types.ts";

export interface Fill {
  readonly id: Hex;
  readonly quantity: bigint;
}

export interface ClearingResult {
  readonly market: Hex;
  readonly epoch: bigint;
  /** The uniform price, or null when nothing trades. */
  readonly price: bigint | null;
  readonly volume: bigint;
  /** Sorted by id ascending; zero fills omitted. */
  readonly fills: readonly Fill[];
  /** Σ limit·fill over buys − Σ limit·fill over sells. */
  readonly welfare: bigint;
  /** Σ (limit − price)·fill over buys. */
  readonly buyerSurplus: bigint;
  /** Σ (price − limit)·fill over sells. */
  readonly sellerSurplus: bigint;
  /** keccak256(abi.encode(market, epoch, price ?? 0, volume, fills)): see computeResultHash. */
  readonly resultHash: Hex;
}

export const ZERO_MARKET: Hex = `0x${"00".repeat(32)}`;
export const DEFAULT_CONTEXT: ClearingContext = { market: ZERO_MARKET, epoch: 0n };

/** The whole working of one clearing, for explain.ts and tests; clear() returns its `result`. */
export interface ClearingAnalysis {
  readonly result: ClearingResult;
  readonly book: Book;
  /** Step 1 and the holders of units V and V + 1. */
  readonly crossing: Crossing;
  /** Step 2; null when the volume is 0. */
  readonly interval: ClearingInterval | null;
  /** Step 3 per side; null when the volume is 0. */
  readonly buys: SideAllocation | null;
  readonly sells: SideAllocation | null;
}

/**
 * Clears one epoch's book. Throws ClearingError on invalid input (see ClearingErrorCode): a bad or
 * duplicate id, an unknown side, a quantity or price that is not a bigint in 1 .. 2^128 − 1, a bad
 * context. O(n log n) worst case, O(n) for ids that are digests (the book is ranked by radix sort).
 */
export function clear(
  orders: readonly ClearingOrder[],
  ctx: ClearingContext = DEFAULT_CONTEXT,
): ClearingResult {
  return analyzeClearing(orders, ctx).result;
}

/** clear() with its intermediate results. */
export function analyzeClearing(
  orders: readonly ClearingOrder[],
  ctx: ClearingContext = DEFAULT_CONTEXT,
): ClearingAnalysis {
  checkContext(ctx);
  const book = buildBook(orders);
  const crossing = findCrossing(book);
  const { volume } = crossing;
  if (volume === 0n) {
    const resultHash = bytesToHex(keccak256(beginResultEncoding(ctx.market, ctx.epoch, null, 0n, 0).bytes));
    const result: ClearingResult = {
      market: ctx.market,
      epoch: ctx.epoch,
      price: null,
      volume,
      fills: [],
      welfare: 0n,
      buyerSurplus: 0n,
      sellerSurplus: 0n,
      resultHash,
    };
    return { result, book, crossing, interval: null, buys: null, sells: null };
  }
  const interval = clearingInterval(book, crossing);
  const { price } = interval;
  // fill[e] for every element; 0n stays for orders that do not trade.
  const fill = new Array<bigint>(book.size).fill(0n);
  const buys = allocateSide(book, true, price, volume, fill);
  const sells = allocateSide(book, false, price, volume, fill);

  // The fills in id order, and their encoding for the result hash from the already decoded ids.
  const fillCount = buys.filledOrders + sells.filledOrders;
  const encoding = beginResultEncoding(ctx.market, ctx.epoch, price, volume, fillCount);
  const fills = new Array<Fill>(fillCount);
  let f = 0;
  for (let k = 0; k < book.size; k++) {
    const e = book.byId[k]!;
    const quantity = fill[e]!;
    if (quantity === 0n) continue;
    fills[f] = { id: book.ids[e]!, quantity };
    writeDecodedFill(encoding, f, book.idBytes, ID_BYTES * e, quantity);
    f++;
  }
  // Σ price·fill is the same on both sides (both sum to V), so the surpluses split the welfare.
  const payment = price * volume;
  const result: ClearingResult = {
    market: ctx.market,
    epoch: ctx.epoch,
    price,
    volume,
    fills,
    welfare: buys.value - sells.value,
    buyerSurplus: buys.value - payment,
    sellerSurplus: payment - sells.value,
    resultHash: bytesToHex(keccak256(encoding.bytes)),
  };
  return { result, book, crossing, interval, buys, sells };
}

function checkContext(ctx: ClearingContext): void {
  if (typeof ctx !== "object" || ctx === null) {
    throw new ClearingError(ClearingErrorCode.BAD_CONTEXT, "the context must be an object");
  }
  const { market, epoch } = ctx;
  if (typeof market !== "string" || !/^0x[0-9a-f]{64}$/.test(market)) {
    throw new ClearingError(
      ClearingErrorCode.BAD_CONTEXT,
      `market must be 0x + 64 lowercase hex digits, got ${String(market)}`,
    );
  }
  if (typeof epoch !== "bigint" || epoch < 0n || epoch > MAX_UINT64) {
    throw new ClearingError(
      ClearingErrorCode.BAD_CONTEXT,
      `epoch must be a uint64 bigint, got ${String(epoch)}`,
    );
  }
}

/**
 * keccak256(abi.encode(bytes32 market, uint64 epoch, uint256 price, uint256 volume,
 * (bytes32 id, uint256 quantity)[] fills)), price encoded as 0 when null: what the settlement contract
 * hashes. Fills must be canonical (ids lowercase, strictly ascending; quantities non-zero); throws
 * ClearingError(BAD_CONTEXT / BAD_FILLS) otherwise rather than hash something no contract would.
 */
export function computeResultHash(
  market: Hex,
  epoch: bigint,
  price: bigint | null,
  volume: bigint,
  fills: readonly Fill[],
): Hex {
  return bytesToHex(keccak256(encodeResult(market, epoch, price, volume, fills)));
}
