import { EncodingError } from "./errors.ts";

// Hex <-> bytes helpers with strict input checks. Canonical hex in this protocol is lowercase, 0x-prefixed.

export type Hex = `0x${string}`;

const HEX_RE = /^0x[0-9a-fA-F]*$/;
const HEX_CHARS = "0123456789abcdef";
const HEX_TABLE: string[] = Array.from({ length: 256 }, (_, i) => HEX_CHARS[i >> 4]! + HEX_CHARS[i & 15]!);

/** The value of each UTF-16 code unit as a hex digit (either case), −1 for any other unit. */
const NIBBLE = new Int8Array(65_536).fill(-1);
for (let d = 0; d < 16; d++) {
  NIBBLE[HEX_CHARS.charCodeAt(d)] = d;
  NIBBLE[HEX_CHARS.toUpperCase().charCodeAt(d)] = d;
}

/**
 * Decodes `byteLength` bytes from the hex digits of `hex` starting at character `start` (either case) into
 * `target` at `offset`; false when `hex` is too short or one of those characters is not a hex digit (the
 * target's bytes are then partly written). For ids and addresses written by the thousand at an epoch's
 * close: no substring and no call into Buffer's decoder per value.
 */
export function writeHexBytes(
  target: Uint8Array,
  offset: number,
  hex: string,
  start: number,
  byteLength: number,
): boolean {
  if (hex.length < start + 2 * byteLength || offset + byteLength > target.length) return false;
  let bad = 0;
  for (let j = 0; j < byteLength; j++) {
    const high = NIBBLE[hex.charCodeAt(start + 2 * j)]!;
    const low = NIBBLE[hex.charCodeAt(start + 2 * j + 1)]!;
    bad |= high | low;
    target[offset + j] = (high << 4) | low;
  }
  return bad >= 0;
}

export function isHex(value: unknown, byteLength?: number): value is Hex {
  if (typeof value !== "string" || !HEX_RE.test(value) || value.length % 2 !== 0) return false;
  return byteLength === undefined || value.length === 2 + 2 * byteLength;
}

export function bytesToHex(bytes: Uint8Array): Hex {
  // Long inputs (addresses, words, signatures) through Buffer's native encoder: about 1.5× faster.
  if (bytes.length >= 16)
    return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")}` as Hex;
  let out = "0x";
  for (let i = 0; i < bytes.length; i++) out += HEX_TABLE[bytes[i]!];
  return out as Hex;
}

/** Decodes 0x-prefixed hex (either case). Throws EncodingError(BAD_HEX) on bad input. */
export function hexToBytes(hex: string): Uint8Array {
  if (!isHex(hex))
    throw new EncodingError("BAD_HEX", `not 0x-prefixed even-length hex: "${String(hex).slice(0, 80)}"`);
  return new Uint8Array(Buffer.from(hex.slice(2), "hex"));
}

/** Big-endian unsigned integer of exactly `width` bytes. */
export function uintToBytes(value: bigint, width: number): Uint8Array {
  if (value < 0n || value >> BigInt(8 * width) !== 0n)
    throw new RangeError(`${value} does not fit in ${width} bytes`);
  const out = new Uint8Array(width);
  let v = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function bytesToUint(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(bytesToHex(bytes));
}

/** Total order on equal-length byte strings (equivalently on the numbers they encode big-endian). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Total order on canonical (lowercase, equal-length) hex strings: the order of the numbers they encode. */
export function compareHex(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
