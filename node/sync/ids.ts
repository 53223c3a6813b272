// The item side of reconciliation: a sorted snapshot of 32-byte ids, range bounds and range
// fingerprints.
//
// A bound is a byte string of 0..32 bytes whose last byte is not zero, standing for the 32-byte value
// "prefix ‖ zeros", or +∞ (null). The empty bound is 0, the lowest value. Because a canonical bound
// never ends in a zero byte, comparing two bounds bytewise (a proper prefix sorts first) is the same as
// comparing the 32-byte values they stand for, and an id is ≥ a bound exactly when the id's first
// `bound.length` bytes are ≥ the bound.
//
// Fingerprint of the ids in a range: the first FINGERPRINT_BYTES bytes of
//   sha256( (Σ ids mod 2^256) as 32 bytes big-endian ‖ count as 8 bytes big-endian ).
// The sum is order-independent and a prefix-sum array turns any range's sum into one subtraction, so
// a fingerprint costs two binary searches and one short hash, whatever the range's size.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, compareHex, type Hex } from "../../protocol/hex.ts";
import { FINGERPRINT_BYTES, ID_BYTES } from "./constants.ts";
import { SyncError, SyncErrorCode } from "./errors.ts";

/** A range bound: a canonical prefix (see above), or null for +∞. */
export type Bound = Uint8Array | null;

/** The lowest bound, 0 (every range list starts there). */
export const ZERO_BOUND: Uint8Array = new Uint8Array(0);

/** 32-bit limbs per id in the prefix-sum array. */
const LIMBS = ID_BYTES / 4;
const ID_HEX_RE = /^0x[0-9a-f]{64}$/;

/** Whether b is a canonical finite bound: at most 32 bytes, last byte nonzero. */
export function isCanonicalBound(b: Uint8Array): boolean {
  return b.length <= ID_BYTES && (b.length === 0 || b[b.length - 1] !== 0);
}

/** Total order on bounds; +∞ is the largest. */
export function compareBounds(a: Bound, b: Bound): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Sign of (id − bound) with id the 32 bytes of `bytes` at `offset`: negative when id < bound,
 * otherwise ≥ 0 (0 when the id starts with the bound).
 */
export function compareIdToBound(bytes: Uint8Array, offset: number, bound: Bound): number {
  if (bound === null) return -1;
  for (let i = 0; i < bound.length; i++) {
    const d = bytes[offset + i]! - bound[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Bytewise comparison of two ids held in flat arrays. */
export function compareIds(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const d = a[aOff + i]! - b[bOff + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The shortest bound b with prev < b ≤ cur (ids as 32-byte values, prev < cur): cur's prefix up to and
 * including the first byte where they differ. That byte of cur is > prev's, hence nonzero: canonical.
 */
export function separatingBound(bytes: Uint8Array, prevOff: number, curOff: number): Uint8Array {
  let i = 0;
  while (i < ID_BYTES - 1 && bytes[prevOff + i] === bytes[curOff + i]) i++;
  return bytes.slice(curOff, curOff + i + 1);
}

/** A bound equal to the given id (used where a full id is the natural split point). */
export function boundOfId(bytes: Uint8Array, offset: number): Uint8Array {
  let end = ID_BYTES;
  while (end > 0 && bytes[offset + end - 1] === 0) end--;
  return bytes.slice(offset, offset + end);
}

/**
 * An immutable sorted id list with prefix sums. Both sides of a session answer from one of these,
 * taken when the session starts, so that the set growing meanwhile cannot make answers inconsistent.
 */
export class IdSnapshot {
  readonly count: number;
  /** The ids, ascending, ID_BYTES each, back to back. */
  readonly bytes: Uint8Array;
  /** The same ids as canonical hex. */
  readonly hex: readonly Hex[];
  /** sums[8i .. 8i+8) = Σ of the first i ids mod 2^256, least significant 32-bit limb first. */
  private readonly sums: Uint32Array;

  private constructor(hex: readonly Hex[], bytes: Uint8Array) {
    this.hex = hex;
    this.bytes = bytes;
    this.count = hex.length;
    this.sums = new Uint32Array((this.count + 1) * LIMBS);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const s = this.sums;
    for (let i = 0; i < this.count; i++) {
      let carry = 0;
      const prev = i * LIMBS;
      const next = prev + LIMBS;
      for (let k = 0; k < LIMBS; k++) {
        // limb k (least significant first) of id i is big-endian bytes [28 - 4k, 32 - 4k)
        const t = s[prev + k]! + view.getUint32(i * ID_BYTES + ID_BYTES - 4 * (k + 1)) + carry;
        s[next + k] = t >>> 0;
        carry = t > 0xffffffff ? 1 : 0;
      }
    }
  }

  /**
   * Snapshot of a store's id list. The store promises sorted, distinct, lowercase 32-byte hex; a list
   * that is merely unsorted or has duplicates is repaired (sorting is cheap next to a session), anything
   * that is not an id is a broken store: INTERNAL.
   */
  static fromHex(ids: readonly Hex[]): IdSnapshot {
    let list = ids;
    let sorted = true;
    for (let i = 0; i < list.length; i++) {
      const id = list[i]!;
      if (!ID_HEX_RE.test(id)) {
        throw new SyncError(SyncErrorCode.INTERNAL, `store returned a non-id "${String(id).slice(0, 80)}"`);
      }
      if (i > 0 && compareHex(list[i - 1]!, id) >= 0) sorted = false;
    }
    if (!sorted) list = [...new Set(list)].sort(compareHex);
    // one hex decode of the joined list is several times faster than one per id
    const joined = Buffer.from(list.map((id) => id.slice(2)).join(""), "hex");
    const bytes = new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
    return new IdSnapshot(list, bytes);
  }

  /** Snapshot of raw ids (each ID_BYTES long); sorts and deduplicates. */
  static fromBytes(ids: readonly Uint8Array[]): IdSnapshot {
    return IdSnapshot.fromHex(ids.map((b) => bytesToHex(b)));
  }

  /** Index of the first id ≥ bound (count for +∞). */
  lowerBound(bound: Bound): number {
    if (bound === null) return this.count;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIdToBound(this.bytes, mid * ID_BYTES, bound) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Fingerprint of the ids with index in [from, to). */
  fingerprint(from: number, to: number): Uint8Array {
    const buf = new Uint8Array(ID_BYTES + 8);
    const view = new DataView(buf.buffer);
    const s = this.sums;
    let borrow = 0;
    for (let k = 0; k < LIMBS; k++) {
      let t = s[to * LIMBS + k]! - s[from * LIMBS + k]! - borrow;
      borrow = t < 0 ? 1 : 0;
      if (t < 0) t += 0x1_0000_0000;
      view.setUint32(ID_BYTES - 4 * (k + 1), t);
    }
    const count = to - from;
    view.setUint32(ID_BYTES, Math.floor(count / 0x1_0000_0000));
    view.setUint32(ID_BYTES + 4, count >>> 0);
    return sha256(buf).subarray(0, FINGERPRINT_BYTES);
  }
}

/** Constant-size equality of two fingerprints. */
export function equalFingerprints(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
