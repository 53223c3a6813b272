// Canonical binary wire codec of a signed order. Exactly one encoding per order:
//
//   offset  size     field
//   0       1        WIRE_VERSION (0x01)
//   1       1        flags: bit 0 = side (0 buy, 1 sell); bits 1..7 must be 0
//   2       32       market
//   34      1+L      epoch:      L in 0..8,  then L bytes big-endian, minimal (no leading 0x00; 0 is L = 0)
//   .       1+L      quantity:   L in 0..16, minimal
//   .       1+L      limitPrice: L in 0..16, minimal
//   .       1+L      nonce:      L in 0..8,  minimal
//   .       20       trader
//   .       65       signature r || s || v
//   end              no trailing bytes
//
// Everything else is MALFORMED; more than MAX_ORDER_BYTES is OVERSIZE. Semantic rules (zero quantity,
// v, low-s, ...) are validateOrder's, so that the codec is a bijection on the bytes it accepts.
import { MAX_ORDER_BYTES, WIRE_VERSION } from "./constants.ts";
import { OrderError, OrderErrorCode } from "./errors.ts";
import { bytesToHex, type Hex, hexToBytes } from "./hex.ts";
import { SIDE_CODE, type SignedOrder, sideFromCode } from "./order.ts";

function minimalBytes(value: bigint, maxLen: number, what: string): Uint8Array {
  if (value < 0n) throw new OrderError(OrderErrorCode.MALFORMED, `${what} is negative`);
  const bytes: number[] = [];
  let v = value;
  while (v > 0n) {
    bytes.push(Number(v & 0xffn));
    v >>= 8n;
  }
  if (bytes.length > maxLen)
    throw new OrderError(OrderErrorCode.MALFORMED, `${what} does not fit in ${maxLen} bytes`);
  return Uint8Array.from(bytes.reverse());
}

function fixedHex(hex: string, len: number, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = hexToBytes(hex);
  } catch {
    throw new OrderError(OrderErrorCode.MALFORMED, `${what} is not hex`);
  }
  if (bytes.length !== len) throw new OrderError(OrderErrorCode.MALFORMED, `${what} is not ${len} bytes`);
  return bytes;
}

/** Encodes a signed order. Throws OrderError(MALFORMED) if a field does not fit its wire width. */
export function encodeOrder(order: SignedOrder): Uint8Array {
  const parts = [Uint8Array.of(WIRE_VERSION, SIDE_CODE[order.side]), fixedHex(order.market, 32, "market")];
  for (const [value, max, what] of [
    [order.epoch, 8, "epoch"],
    [order.quantity, 16, "quantity"],
    [order.limitPrice, 16, "limitPrice"],
    [order.nonce, 8, "nonce"],
  ] as const) {
    const b = minimalBytes(value, max, what);
    parts.push(Uint8Array.of(b.length), b);
  }
  parts.push(fixedHex(order.trader, 20, "trader"), fixedHex(order.signature, 65, "signature"));
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

class Reader {
  offset = 0;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  take(n: number, what: string): Uint8Array {
    if (this.offset + n > this.bytes.length) {
      throw new OrderError(
        OrderErrorCode.MALFORMED,
        `truncated at ${what} (offset ${this.offset}, need ${n})`,
      );
    }
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint(maxLen: number, what: string): bigint {
    const len = this.take(1, `${what} length`)[0]!;
    if (len > maxLen) throw new OrderError(OrderErrorCode.MALFORMED, `${what} length ${len} > ${maxLen}`);
    if (len === 0) return 0n;
    const b = this.take(len, what);
    if (b[0] === 0) throw new OrderError(OrderErrorCode.MALFORMED, `${what} is not minimally encoded`);
    return uintOf(b);
  }
}

/** A big-endian unsigned integer of 1..16 bytes: 6 bytes at a time in exact Number arithmetic (< 2^48). */
function uintOf(b: Uint8Array): bigint {
  let out = 0n;
  let i = 0;
  const head = b.length % 6;
  for (let end = head === 0 ? 6 : head; i < b.length; end += 6) {
    let n = 0;
    for (; i < end; i++) n = n * 256 + b[i]!;
    out = (out << 48n) | BigInt(n); // the first chunk shifts 0
  }
  return out;
}

/** Decodes wire bytes into a signed order; throws OrderError (MALFORMED or OVERSIZE) and nothing else. */
export function decodeOrder(bytes: Uint8Array): SignedOrder {
  if (!(bytes instanceof Uint8Array)) throw new OrderError(OrderErrorCode.MALFORMED, "not a byte array");
  if (bytes.length > MAX_ORDER_BYTES) {
    throw new OrderError(
      OrderErrorCode.OVERSIZE,
      `${bytes.length} bytes > MAX_ORDER_BYTES ${MAX_ORDER_BYTES}`,
    );
  }
  const r = new Reader(bytes);
  const version = r.take(1, "version")[0]!;
  if (version !== WIRE_VERSION)
    throw new OrderError(OrderErrorCode.MALFORMED, `unknown wire version ${version}`);
  const flags = r.take(1, "flags")[0]!;
  if (flags > 1)
    throw new OrderError(OrderErrorCode.MALFORMED, `reserved flag bits set (0x${flags.toString(16)})`);
  const market = bytesToHex(r.take(32, "market"));
  const epoch = r.uint(8, "epoch");
  const quantity = r.uint(16, "quantity");
  const limitPrice = r.uint(16, "limitPrice");
  const nonce = r.uint(8, "nonce");
  const trader = bytesToHex(r.take(20, "trader"));
  const signature = bytesToHex(r.take(65, "signature")) as Hex;
  if (r.offset !== bytes.length) {
    throw new OrderError(OrderErrorCode.MALFORMED, `${bytes.length - r.offset} trailing bytes`);
  }
  return { market, epoch, side: sideFromCode(flags), quantity, limitPrice, nonce, trader, signature };
}
