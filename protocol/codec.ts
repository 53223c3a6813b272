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
import { type Hex, hexToBytes } from "./hex.ts";
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

// The reader walks the wire by index: no subarray per field (a loaded node decodes every order it
// receives; each view is an allocation the young generation has to collect).
class Reader {
  offset = 0;
  readonly bytes: Uint8Array;
  /** The same bytes as a Buffer, for Node's native hex encoder. */
  private readonly buf: Buffer;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** Checks that `n` more bytes exist; returns the offset of the first and moves past them. */
  private advance(n: number, what: string): number {
    if (this.offset + n > this.bytes.length) {
      throw new OrderError(
        OrderErrorCode.MALFORMED,
        `truncated at ${what} (offset ${this.offset}, need ${n})`,
      );
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  byte(what: string): number {
    return this.bytes[this.advance(1, what)]!;
  }

  /** The next `n` bytes as lowercase 0x-hex. */
  hex(n: number, what: string): Hex {
    const at = this.advance(n, what);
    return `0x${this.buf.toString("hex", at, at + n)}` as Hex;
  }

  uint(maxLen: number, what: string): bigint {
    const len = this.byte(`${what} length`);
    if (len > maxLen) throw new OrderError(OrderErrorCode.MALFORMED, `${what} length ${len} > ${maxLen}`);
    if (len === 0) return 0n;
    const at = this.advance(len, what);
    if (this.bytes[at] === 0)
      throw new OrderError(OrderErrorCode.MALFORMED, `${what} is not minimally encoded`);
    return uintOf(this.bytes, at, len);
  }
}

/**
 * The big-endian unsigned integer of `len` (1..16) bytes at `at`: 6 bytes at a time in exact Number
 * arithmetic (< 2^48).
 */
function uintOf(b: Uint8Array, at: number, len: number): bigint {
  let out = 0n;
  let i = at;
  const stop = at + len;
  const head = len % 6;
  for (let end = at + (head === 0 ? 6 : head); i < stop; end += 6) {
    let n = 0;
    for (; i < end; i++) n = n * 256 + b[i]!;
    out = (out << 48n) | BigInt(n); // the first chunk shifts 0
  }
  return out;
}

/**
 * Writes the order's EIP-712 struct fields (market, epoch, side, quantity, limitPrice, nonce, trader: seven
 * 32-byte ABI words, eip712.ts's orderStructHash) into `out` at `at`, straight from canonical wire bytes
 * that decodeOrder accepted (it does not check them again). The digest of every order a node receives
 * is hashed so: no bigint or hex is converted back to bytes.
 */
export function writeStructWords(wire: Uint8Array, out: Uint8Array, at: number): void {
  out.fill(0, at, at + 7 * 32);
  for (let i = 0; i < 32; i++) out[at + i] = wire[2 + i]!; // market (bytes32)
  let p = copyUint(wire, 34, out, at + 2 * 32); // epoch
  out[at + 3 * 32 - 1] = wire[1]!; // side: the flags byte (bit 0, the others are 0)
  p = copyUint(wire, p, out, at + 4 * 32); // quantity
  p = copyUint(wire, p, out, at + 5 * 32); // limitPrice
  p = copyUint(wire, p, out, at + 6 * 32); // nonce
  for (let i = 0; i < 20; i++) out[at + 7 * 32 - 20 + i] = wire[p + i]!; // trader (address)
}

/** Copies the minimal uint at `p` of the wire (length byte, then big-endian) to end at `wordEnd` of `out`. */
function copyUint(wire: Uint8Array, p: number, out: Uint8Array, wordEnd: number): number {
  const len = wire[p]!;
  for (let i = 0; i < len; i++) out[wordEnd - len + i] = wire[p + 1 + i]!;
  return p + 1 + len;
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
  const version = r.byte("version");
  if (version !== WIRE_VERSION)
    throw new OrderError(OrderErrorCode.MALFORMED, `unknown wire version ${version}`);
  const flags = r.byte("flags");
  if (flags > 1)
    throw new OrderError(OrderErrorCode.MALFORMED, `reserved flag bits set (0x${flags.toString(16)})`);
  const market = r.hex(32, "market");
  const epoch = r.uint(8, "epoch");
  const quantity = r.uint(16, "quantity");
  const limitPrice = r.uint(16, "limitPrice");
  const nonce = r.uint(8, "nonce");
  const trader = r.hex(20, "trader");
  const signature = r.hex(65, "signature");
  if (r.offset !== bytes.length) {
    throw new OrderError(OrderErrorCode.MALFORMED, `${bytes.length - r.offset} trailing bytes`);
  }
  return { market, epoch, side: sideFromCode(flags), quantity, limitPrice, nonce, trader, signature };
}
