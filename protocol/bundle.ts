// Canonical wire form of a bundle: several signed orders in one gossip message.
//
//   offset  size  field
//   0       1     BUNDLE_WIRE_VERSION (0x81)
//   1       1     n, the number of orders: 2 ≤ n ≤ MAX_ORDERS_PER_BUNDLE (one order travels bare)
//   2       ...   n times: 1 byte L (1 ≤ L ≤ MAX_ORDER_BYTES), then L bytes, one wire-encoded order (codec.ts)
//   end           no trailing bytes
//
// Each order inside is validated on its own (validation.ts) and must be canonical in its own right; the
// bundle adds no signature and no rule of its own but these framing rules. Anything else is MALFORMED;
// more than MAX_BUNDLE_BYTES is OVERSIZE.
import {
  BUNDLE_WIRE_VERSION,
  MAX_BUNDLE_BYTES,
  MAX_ORDER_BYTES,
  MAX_ORDERS_PER_BUNDLE,
} from "./constants.ts";
import { OrderError, OrderErrorCode } from "./errors.ts";

/** Whether gossip bytes are a bundle (else they are one order, or malformed). */
export function isBundle(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === BUNDLE_WIRE_VERSION;
}

/**
 * The number of orders a message claims to carry, read from its header without decoding it: 1 for
 * anything that is not a bundle. Used to charge a peer's rate budget per order before validation.
 */
export function claimedOrderCount(bytes: Uint8Array): number {
  if (!isBundle(bytes) || bytes.length < 2) return 1;
  return Math.max(1, bytes[1]!);
}

/** Frames 2..MAX_ORDERS_PER_BUNDLE wire-encoded orders as one bundle. Throws OrderError(MALFORMED). */
export function encodeBundle(wires: readonly Uint8Array[]): Uint8Array {
  if (wires.length < 2 || wires.length > MAX_ORDERS_PER_BUNDLE) {
    throw new OrderError(
      OrderErrorCode.MALFORMED,
      `a bundle carries 2 to ${MAX_ORDERS_PER_BUNDLE} orders, not ${wires.length}`,
    );
  }
  let size = 2;
  for (const w of wires) {
    if (w.length === 0 || w.length > MAX_ORDER_BYTES)
      throw new OrderError(OrderErrorCode.MALFORMED, `an order of ${w.length} bytes cannot be bundled`);
    size += 1 + w.length;
  }
  const out = new Uint8Array(size);
  out[0] = BUNDLE_WIRE_VERSION;
  out[1] = wires.length;
  let off = 2;
  for (const w of wires) {
    out[off] = w.length;
    out.set(w, off + 1);
    off += 1 + w.length;
  }
  return out;
}

/**
 * Splits a bundle into its orders' wire bytes (views into `bytes`, not copies). Throws OrderError:
 * OVERSIZE past MAX_BUNDLE_BYTES, MALFORMED for a bad version, count, length or trailing bytes.
 */
export function decodeBundle(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length > MAX_BUNDLE_BYTES) {
    throw new OrderError(
      OrderErrorCode.OVERSIZE,
      `${bytes.length} bytes > MAX_BUNDLE_BYTES ${MAX_BUNDLE_BYTES}`,
    );
  }
  if (!isBundle(bytes)) throw new OrderError(OrderErrorCode.MALFORMED, "not a bundle");
  if (bytes.length < 2) throw new OrderError(OrderErrorCode.MALFORMED, "truncated at the order count");
  const n = bytes[1]!;
  if (n < 2 || n > MAX_ORDERS_PER_BUNDLE) {
    throw new OrderError(
      OrderErrorCode.MALFORMED,
      `a bundle carries 2 to ${MAX_ORDERS_PER_BUNDLE} orders, not ${n}`,
    );
  }
  const out: Uint8Array[] = [];
  let off = 2;
  for (let i = 0; i < n; i++) {
    if (off >= bytes.length) throw new OrderError(OrderErrorCode.MALFORMED, `truncated at order ${i}`);
    const len = bytes[off]!;
    if (len === 0 || len > MAX_ORDER_BYTES)
      throw new OrderError(OrderErrorCode.MALFORMED, `order ${i} has length ${len}`);
    if (off + 1 + len > bytes.length)
      throw new OrderError(OrderErrorCode.MALFORMED, `truncated in order ${i}`);
    out.push(bytes.subarray(off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off !== bytes.length)
    throw new OrderError(OrderErrorCode.MALFORMED, `${bytes.length - off} trailing bytes`);
  return out;
}
