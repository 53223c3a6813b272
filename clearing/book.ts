// The book in compact form: orders validated once, then held as parallel arrays indexed by the
// order's position in the input ("element"), with each side ranked by radix sort. No per-order
// objects: the hot loops of clear read typed arrays and the bigint arrays.
import { MAX_UINT64, MAX_UINT128 } from "../protocol/constants.ts";
import { compareHex, type Hex } from "../protocol/hex.ts";
import { ClearingError, ClearingErrorCode } from "./errors.ts";
import { radixSortByWords } from "./radix.ts";
import type { ClearingOrder } from "./types.ts";

/** Characters of a canonical id: "0x" + 64 lowercase hex digits. */
const ID_CHARS = 66;
export const ID_BYTES = 32;
const CHAR_0 = 48;
const CHAR_X = 120;
/** 32-bit words of a limit (< 2^128). */
const LIMIT_WORDS = 4;

export interface Book {
  readonly size: number;
  readonly ids: readonly Hex[];
  /** 1 for a buy, 0 for a sell. */
  readonly isBuy: Uint8Array;
  readonly limits: readonly bigint[];
  readonly quantities: readonly bigint[];
  /** The ids decoded: element e's 32 bytes at [32e, 32e + 32). */
  readonly idBytes: Buffer;
  /** Every element by ascending id (= ascending 256-bit number, ids being canonical hex). */
  readonly byId: Uint32Array;
  /** Buy elements by (limit ascending, id ascending): see compareByLimitThenId. */
  readonly buys: Uint32Array;
  /** Sell elements by (limit ascending, id ascending). */
  readonly sells: Uint32Array;
}

/**
 * The total order each side is ranked by: limit ascending, then id ascending. clear realizes it with
 * radix sorts (id first, then a stable sort by limit); tests check the two agree.
 */
export function compareByLimitThenId(
  a: { readonly limitPrice: bigint; readonly id: string },
  b: { readonly limitPrice: bigint; readonly id: string },
): number {
  if (a.limitPrice < b.limitPrice) return -1;
  if (a.limitPrice > b.limitPrice) return 1;
  return compareHex(a.id, b.id);
}

/** Validates every order (first invalid one throws, in input order) and ranks both sides. */
export function buildBook(orders: readonly ClearingOrder[]): Book {
  const size = orders.length;
  const ids = new Array<Hex>(size);
  const isBuy = new Uint8Array(size);
  const limits = new Array<bigint>(size);
  const quantities = new Array<bigint>(size);
  const idBytes = Buffer.alloc(ID_BYTES * size);
  // Radix keys: the id's first 64 bits as two words, the limit (< 2^128) as four words, most
  // significant first. limitWordsUsed ORs each limit word over the book: words that are zero for every
  // order (the high ones, for realistic prices) are left out of the sort.
  const idWords = [new Uint32Array(size), new Uint32Array(size)] as const;
  const limitWords = Array.from({ length: LIMIT_WORDS }, () => new Uint32Array(size));
  const limitWordsUsed = new Uint32Array(LIMIT_WORDS);
  const limitScratch = new DataView(new ArrayBuffer(4 * LIMIT_WORDS));
  let buyCount = 0;

  for (let i = 0; i < size; i++) {
    const order: unknown = orders[i];
    if (typeof order !== "object" || order === null) {
      throw new ClearingError(ClearingErrorCode.BAD_ORDER, `order ${i} is not an object`, i);
    }
    const o = order as Record<string, unknown>;
    const id = o.id;
    if (!decodeCanonicalId(id, idBytes, ID_BYTES * i)) {
      const shown = typeof id === "string" ? id : undefined;
      throw new ClearingError(
        ClearingErrorCode.BAD_ID,
        `order ${i}: id must be 0x + 64 lowercase hex digits, got ${describe(id)}`,
        i,
        shown,
      );
    }
    ids[i] = id;
    idWords[0][i] = idBytes.readUInt32BE(ID_BYTES * i);
    idWords[1][i] = idBytes.readUInt32BE(ID_BYTES * i + 4);

    const side = o.side;
    if (side === "buy") {
      isBuy[i] = 1;
      buyCount++;
    } else if (side !== "sell") {
      throw new ClearingError(
        ClearingErrorCode.UNKNOWN_SIDE,
        `order ${i} (id ${id}): side must be "buy" or "sell", got ${describe(side)}`,
        i,
        id,
      );
    }
    const limit = checkAmount(o.limitPrice, "limitPrice", i, id);
    quantities[i] = checkAmount(o.quantity, "quantity", i, id);
    limits[i] = limit;

    // setBigUint64 stores its argument modulo 2^64, i.e. the low 64 bits.
    limitScratch.setBigUint64(0, limit > MAX_UINT64 ? limit >> 64n : 0n);
    limitScratch.setBigUint64(8, limit);
    for (let w = 0; w < LIMIT_WORDS; w++) {
      const word = limitScratch.getUint32(4 * w);
      limitWords[w]![i] = word;
      limitWordsUsed[w]! |= word;
    }
  }

  const byId = sortById(ids, idWords);
  const buyElements = new Uint32Array(buyCount);
  const sellElements = new Uint32Array(size - buyCount);
  let b = 0;
  let s = 0;
  for (let k = 0; k < size; k++) {
    const e = byId[k]!;
    if (isBuy[e] === 1) buyElements[b++] = e;
    else sellElements[s++] = e;
  }
  // Stable sort by limit of elements already in id order: (limit, id) order.
  let firstUsedWord = 0;
  while (firstUsedWord < LIMIT_WORDS - 1 && limitWordsUsed[firstUsedWord] === 0) firstUsedWord++;
  const limitKey = limitWords.slice(firstUsedWord);
  const buys = radixSortByWords(buyElements, limitKey);
  const sells = radixSortByWords(sellElements, limitKey);
  return { size, ids, isBuy, limits, quantities, idBytes, byId, buys, sells };
}

/** Writes the id's 32 bytes into bytes[offset..] and returns true when `id` is canonical. */
function decodeCanonicalId(id: unknown, bytes: Buffer, offset: number): id is Hex {
  return (
    typeof id === "string" &&
    id.length === ID_CHARS &&
    id.charCodeAt(0) === CHAR_0 &&
    id.charCodeAt(1) === CHAR_X &&
    // Buffer's hex decoder stops at the first pair that is not hex, so 32 bytes means 64 hex digits.
    bytes.write(id.slice(2), offset, ID_BYTES, "hex") === ID_BYTES &&
    // Uppercase would make two spellings of one id; only the lowercase one sorts as its number does.
    id.toLowerCase() === id
  );
}

function checkAmount(value: unknown, field: "limitPrice" | "quantity", index: number, id: Hex): bigint {
  const price = field === "limitPrice";
  if (typeof value !== "bigint") {
    throw new ClearingError(
      price ? ClearingErrorCode.BAD_PRICE : ClearingErrorCode.BAD_QUANTITY,
      `order ${index} (id ${id}): ${field} must be a bigint, got ${describe(value)}`,
      index,
      id,
    );
  }
  if (value <= 0n) {
    throw new ClearingError(
      price ? ClearingErrorCode.NON_POSITIVE_PRICE : ClearingErrorCode.NON_POSITIVE_QUANTITY,
      `order ${index} (id ${id}): ${field} must be positive, got ${value}`,
      index,
      id,
    );
  }
  if (value > MAX_UINT128) {
    throw new ClearingError(
      price ? ClearingErrorCode.PRICE_OUT_OF_RANGE : ClearingErrorCode.QUANTITY_OUT_OF_RANGE,
      `order ${index} (id ${id}): ${field} ${value} exceeds 2^128 - 1`,
      index,
      id,
    );
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

/**
 * Every element by ascending id; throws DUPLICATE_ID. The radix sort ranks by the ids' first 64 bits;
 * runs sharing those (rare for digests, possible for crafted ids) are then sorted by the whole id,
 * which also brings duplicates next to each other.
 */
function sortById(ids: readonly Hex[], idWords: readonly [Uint32Array, Uint32Array]): Uint32Array {
  const size = ids.length;
  const identity = new Uint32Array(size);
  for (let i = 0; i < size; i++) identity[i] = i;
  const byId = radixSortByWords(identity, idWords);
  const [high, low] = idWords;
  let runStart = 0;
  for (let k = 1; k <= size; k++) {
    if (k < size) {
      const e = byId[k]!;
      const prev = byId[k - 1]!;
      if (high[e] === high[prev] && low[e] === low[prev]) continue;
    }
    if (k - runStart > 1) {
      const run = byId.subarray(runStart, k);
      run.sort((x, y) => compareHex(ids[x]!, ids[y]!));
      for (let r = 1; r < run.length; r++) {
        const x = run[r - 1]!;
        const y = run[r]!;
        if (ids[x] === ids[y]) {
          const [first, second] = x < y ? [x, y] : [y, x];
          throw new ClearingError(
            ClearingErrorCode.DUPLICATE_ID,
            `order ${second} (id ${ids[y]}): duplicate id, also order ${first}`,
            second,
            ids[y],
          );
        }
      }
    }
    runStart = k;
  }
  return byId;
}
