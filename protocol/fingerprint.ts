// Commitments over sets of order ids. Independent of arrival order: ids are sorted first.

import { EncodingError } from "./errors.ts";
import { bytesToHex, compareHex, type Hex, hexToBytes, uintToBytes } from "./hex.ts";
import { keccak256 } from "./keccak.ts";

/** Sorts ids ascending as 256-bit numbers (canonical lowercase hex sorts the same way as strings). */
export function sortIds(ids: readonly Hex[]): Hex[] {
  return [...ids].sort(compareHex);
}

/**
 * The order-set fingerprint of an epoch: keccak256(uint256(count) || id_1 || ... || id_n) with the ids
 * sorted ascending and distinct. Two nodes holding the same set compute the same fingerprint.
 * Throws EncodingError(DUPLICATE_ID) on a duplicate id (a set has none).
 */
export function orderSetFingerprint(ids: readonly Hex[]): Hex {
  const sorted = sortIds(ids.map((id) => id.toLowerCase() as Hex));
  const buf = new Uint8Array(32 * (sorted.length + 1));
  buf.set(uintToBytes(BigInt(sorted.length), 32), 0);
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) {
      throw new EncodingError("DUPLICATE_ID", `duplicate id ${sorted[i]} in an order set`);
    }
    buf.set(hexToBytes(sorted[i]!), 32 * (i + 1));
  }
  return bytesToHex(keccak256(buf));
}
