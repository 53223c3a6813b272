// Commitments over sets of order ids. Independent of arrival order: ids are sorted first.

import { EncodingError } from "./errors.ts";
import { bytesToHex, compareBytes, compareHex, type Hex, uintToBytes, writeHexBytes } from "./hex.ts";
import { keccak256 } from "./keccak.ts";

/** Sorts ids ascending as 256-bit numbers (canonical lowercase hex sorts the same way as strings). */
export function sortIds(ids: readonly Hex[]): Hex[] {
  return [...ids].sort(compareHex);
}

/**
 * The order-set fingerprint of an epoch: keccak256(uint256(count) || id_1 || ... || id_n) with the ids
 * sorted ascending and distinct. Two nodes holding the same set compute the same fingerprint.
 * Throws EncodingError(DUPLICATE_ID) on a duplicate id (a set has none), EncodingError(BAD_HEX) on an id
 * that is not 32 bytes of hex.
 */
export function orderSetFingerprint(ids: readonly Hex[]): Hex {
  const n = ids.length;
  const buf = new Uint8Array(32 * (n + 1));
  buf.set(uintToBytes(BigInt(n), 32), 0);
  // The ids as given, then checked ascending as 256-bit numbers (bytewise): a book's ids() already are,
  // and then nothing is sorted. Comparing the bytes makes the check independent of the hex's case.
  for (let i = 0; i < n; i++) writeId(buf, 32 * (i + 1), ids[i]!);
  let previous = buf.subarray(32, 64);
  for (let i = 1; i < n; i++) {
    const current = buf.subarray(32 * (i + 1), 32 * (i + 2));
    const c = compareBytes(previous, current);
    previous = current;
    if (c < 0) continue;
    if (c > 0) return orderSetFingerprintSorted(ids);
    throw new EncodingError("DUPLICATE_ID", `duplicate id ${ids[i]!.toLowerCase()} in an order set`);
  }
  return bytesToHex(keccak256(buf));
}

/** orderSetFingerprint of ids in any order: sorted first. */
function orderSetFingerprintSorted(ids: readonly Hex[]): Hex {
  const sorted = sortIds(ids.map((id) => id.toLowerCase() as Hex));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new EncodingError("DUPLICATE_ID", `duplicate id ${sorted[i]} in an order set`);
    }
  }
  return orderSetFingerprint(sorted);
}

/** Writes a 32-byte id given as 0x-hex at `offset`; EncodingError(BAD_HEX) if it is not one. */
function writeId(buf: Uint8Array, offset: number, id: string): void {
  if (
    typeof id !== "string" ||
    id.length !== 66 ||
    id[0] !== "0" ||
    (id[1] !== "x" && id[1] !== "X") ||
    !writeHexBytes(buf, offset, id, 2, 32)
  ) {
    throw new EncodingError("BAD_HEX", `an order id is 32 bytes of 0x-hex: "${String(id).slice(0, 80)}"`);
  }
}
