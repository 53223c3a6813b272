// Binary codec of sync frames. A frame body is one message: a type byte, then fields. Integers are
// unsigned LEB128 varints, minimally encoded. Decoding checks every count against its limit before it
// allocates anything, checks every structural rule it can check without our own set (bounds ascending,
// ids sorted and inside their range, bitmap padding zero), and throws SyncError and nothing else.
// docs/sync.md has the byte-level layout.
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import {
  FINGERPRINT_BYTES,
  ID_BYTES,
  MAX_ERROR_REASON_BYTES,
  MAX_IDS_PER_IDLIST,
  MAX_ORDERS_PER_BATCH,
  MAX_RANGES_PER_MESSAGE,
  MAX_SYNC_FRAME_BYTES,
  MAX_SYNC_ORDER_BYTES,
} from "./constants.ts";
import { SYNC_ERROR_WIRE_CODE, SyncError, SyncErrorCode, syncErrorCodeFromWire } from "./errors.ts";
import {
  type Bound,
  compareBounds,
  compareIds,
  compareIdToBound,
  isCanonicalBound,
  ZERO_BOUND,
} from "./ids.ts";

export const MessageType = {
  OPEN: 0x01,
  RECONCILE: 0x02,
  FETCH: 0x03,
  ORDERS: 0x04,
  PUSH: 0x05,
  PUSH_ACK: 0x06,
  DONE: 0x07,
  ERROR: 0x08,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const RangeMode = {
  /** Nothing to do in this range (equal, or already settled). */
  SKIP: 0,
  /** "My ids in this range have this fingerprint." */
  FINGERPRINT: 1,
  /** "These are all my ids in this range." */
  IDLIST: 2,
  /** Responder's terminal answer to an IDLIST: which listed ids it holds, and the ids it holds beyond them. */
  IDLIST_REPLY: 3,
} as const;
export type RangeMode = (typeof RangeMode)[keyof typeof RangeMode];

/** Bound byte that means +∞ (finite bounds start with their length 0..32). */
export const INFINITY_BOUND_BYTE = 0xff;

/**
 * One range of a range list. Its lower bound is implicit: the previous range's upper bound, or 0 for
 * the first. Ids are flat arrays of ID_BYTES-byte ids, ascending.
 */
export type SyncRange =
  | { readonly upper: Bound; readonly mode: typeof RangeMode.SKIP }
  | { readonly upper: Bound; readonly mode: typeof RangeMode.FINGERPRINT; readonly fingerprint: Uint8Array }
  | { readonly upper: Bound; readonly mode: typeof RangeMode.IDLIST; readonly ids: Uint8Array }
  | {
      readonly upper: Bound;
      readonly mode: typeof RangeMode.IDLIST_REPLY;
      /** How many ids the IDLIST listed in this range; the bitmap has one bit per listed id. */
      readonly listed: number;
      /** Bit j (byte j >> 3, bit j & 7, least significant first) = the responder holds listed id j. */
      readonly bitmap: Uint8Array;
      /** Ids the responder holds in this range that were not listed. */
      readonly ids: Uint8Array;
    };

export type SyncMessage =
  | {
      readonly type: typeof MessageType.OPEN;
      readonly market: Hex;
      readonly epoch: bigint;
      readonly ranges: readonly SyncRange[];
    }
  | { readonly type: typeof MessageType.RECONCILE; readonly ranges: readonly SyncRange[] }
  | { readonly type: typeof MessageType.FETCH; readonly ids: Uint8Array }
  | { readonly type: typeof MessageType.ORDERS; readonly orders: readonly Uint8Array[] }
  | { readonly type: typeof MessageType.PUSH; readonly orders: readonly Uint8Array[] }
  | { readonly type: typeof MessageType.PUSH_ACK; readonly accepted: number; readonly rejected: number }
  | { readonly type: typeof MessageType.DONE }
  | { readonly type: typeof MessageType.ERROR; readonly code: SyncErrorCode; readonly reason: string };

const MAX_UINT64 = (1n << 64n) - 1n;
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------------
// sizes (the range-list builder budgets frames with these)

export function varintBytes(n: number): number {
  let len = 1;
  let v = n;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    len++;
  }
  return len;
}

export function boundBytes(b: Bound): number {
  return b === null ? 1 : 1 + b.length;
}

/** Encoded size of one range. */
export function rangeBytes(r: SyncRange): number {
  const head = boundBytes(r.upper) + 1;
  switch (r.mode) {
    case RangeMode.SKIP:
      return head;
    case RangeMode.FINGERPRINT:
      return head + FINGERPRINT_BYTES;
    case RangeMode.IDLIST: {
      const k = r.ids.length / ID_BYTES;
      return head + varintBytes(k) + r.ids.length;
    }
    case RangeMode.IDLIST_REPLY: {
      const m = r.ids.length / ID_BYTES;
      return head + varintBytes(r.listed) + r.bitmap.length + varintBytes(m) + r.ids.length;
    }
  }
}

/** Largest encoded header before the range list: type + market + epoch + range count. */
export const MAX_RANGE_MESSAGE_HEADER_BYTES = 1 + 32 + 10 + varintBytes(MAX_RANGES_PER_MESSAGE);
/** Largest encoded FINGERPRINT range. */
export const MAX_FINGERPRINT_RANGE_BYTES = 1 + ID_BYTES + 1 + FINGERPRINT_BYTES;

// ---------------------------------------------------------------------------------------------------
// writer

class Writer {
  private buf = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new SyncError(SyncErrorCode.INTERNAL, `bad varint ${n}`);
    let v = n;
    while (v >= 0x80) {
      this.byte((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  varintBig(n: bigint): void {
    if (n < 0n || n > MAX_UINT64) throw new SyncError(SyncErrorCode.INTERNAL, `bad uint64 ${n}`);
    let v = n;
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeBound(w: Writer, b: Bound): void {
  if (b === null) {
    w.byte(INFINITY_BOUND_BYTE);
    return;
  }
  if (!isCanonicalBound(b)) throw new SyncError(SyncErrorCode.INTERNAL, "non-canonical bound");
  w.byte(b.length);
  w.bytes(b);
}

function writeRanges(w: Writer, ranges: readonly SyncRange[]): void {
  w.varint(ranges.length);
  for (const r of ranges) {
    writeBound(w, r.upper);
    w.byte(r.mode);
    switch (r.mode) {
      case RangeMode.SKIP:
        break;
      case RangeMode.FINGERPRINT:
        w.bytes(r.fingerprint);
        break;
      case RangeMode.IDLIST:
        w.varint(r.ids.length / ID_BYTES);
        w.bytes(r.ids);
        break;
      case RangeMode.IDLIST_REPLY:
        w.varint(r.listed);
        w.bytes(r.bitmap);
        w.varint(r.ids.length / ID_BYTES);
        w.bytes(r.ids);
        break;
    }
  }
}

function writeOrders(w: Writer, orders: readonly Uint8Array[]): void {
  w.varint(orders.length);
  for (const o of orders) {
    w.varint(o.length);
    w.bytes(o);
  }
}

/** Encodes a message into a frame body. Throws SyncError(INTERNAL) if it would break a limit. */
export function encodeMessage(msg: SyncMessage): Uint8Array {
  const w = new Writer();
  w.byte(msg.type);
  switch (msg.type) {
    case MessageType.OPEN: {
      const market = Buffer.from(msg.market.slice(2), "hex");
      if (market.length !== 32 || !/^0x[0-9a-fA-F]{64}$/.test(msg.market))
        throw new SyncError(SyncErrorCode.INTERNAL, "market is not 32-byte hex");
      w.bytes(market);
      w.varintBig(msg.epoch);
      writeRanges(w, msg.ranges);
      break;
    }
    case MessageType.RECONCILE:
      writeRanges(w, msg.ranges);
      break;
    case MessageType.FETCH:
      w.varint(msg.ids.length / ID_BYTES);
      w.bytes(msg.ids);
      break;
    case MessageType.ORDERS:
    case MessageType.PUSH:
      writeOrders(w, msg.orders);
      break;
    case MessageType.PUSH_ACK:
      w.varint(msg.accepted);
      w.varint(msg.rejected);
      break;
    case MessageType.DONE:
      break;
    case MessageType.ERROR: {
      const wire = SYNC_ERROR_WIRE_CODE[msg.code] ?? SYNC_ERROR_WIRE_CODE.INTERNAL!;
      // cut whole characters, so that the peer's strict UTF-8 decoding accepts the reason
      let text = msg.reason.slice(0, MAX_ERROR_REASON_BYTES);
      while (Buffer.byteLength(text, "utf8") > MAX_ERROR_REASON_BYTES) text = text.slice(0, -1);
      const reason = Buffer.from(text, "utf8");
      w.byte(wire);
      w.varint(reason.length);
      w.bytes(reason);
      break;
    }
  }
  if (w.length > MAX_SYNC_FRAME_BYTES) {
    throw new SyncError(SyncErrorCode.INTERNAL, `frame of ${w.length} bytes > ${MAX_SYNC_FRAME_BYTES}`);
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------
// reader

function malformed(detail: string): SyncError {
  return new SyncError(SyncErrorCode.MALFORMED, detail);
}

class Reader {
  offset = 0;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  byte(what: string): number {
    if (this.offset >= this.bytes.length) throw malformed(`truncated at ${what}`);
    return this.bytes[this.offset++]!;
  }

  take(n: number, what: string): Uint8Array {
    if (n > this.remaining) throw malformed(`truncated at ${what} (need ${n}, have ${this.remaining})`);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A minimal varint ≤ max (max ≤ 2^53 - 1). */
  varint(max: number, what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw malformed(`${what}: varint too long`);
      const b = this.byte(what);
      value += (b & 0x7f) * scale;
      if (value > max) throw new SyncError(SyncErrorCode.LIMIT_EXCEEDED, `${what} exceeds ${max}`);
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw malformed(`${what}: varint not minimal`);
        return value;
      }
      scale *= 128;
    }
  }

  varintBig(what: string): bigint {
    let value = 0n;
    for (let i = 0; ; i++) {
      if (i >= 10) throw malformed(`${what}: varint too long`);
      const b = this.byte(what);
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw malformed(`${what}: varint not minimal`);
        if (value > MAX_UINT64) throw malformed(`${what} exceeds uint64`);
        return value;
      }
    }
  }

  /** k ids, strictly ascending; `what` names them in errors. */
  ids(k: number, what: string): Uint8Array {
    const ids = this.take(k * ID_BYTES, what);
    for (let i = 1; i < k; i++) {
      if (compareIds(ids, (i - 1) * ID_BYTES, ids, i * ID_BYTES) >= 0)
        throw malformed(`${what}: ids not strictly ascending`);
    }
    return ids;
  }

  end(): void {
    if (this.remaining !== 0) throw malformed(`${this.remaining} trailing bytes`);
  }
}

function readBound(r: Reader): Bound {
  const len = r.byte("bound");
  if (len === INFINITY_BOUND_BYTE) return null;
  if (len > ID_BYTES) throw malformed(`bound length ${len}`);
  const b = r.take(len, "bound");
  if (!isCanonicalBound(b)) throw malformed("bound ends in a zero byte");
  return b;
}

/** Every id of a flat list lies in [lower, upper). The list is sorted, so checking the ends suffices. */
function checkIdsInRange(ids: Uint8Array, lower: Bound, upper: Bound): void {
  if (ids.length === 0) return;
  if (compareIdToBound(ids, 0, lower) < 0) throw malformed("id below its range");
  if (compareIdToBound(ids, ids.length - ID_BYTES, upper) >= 0) throw malformed("id above its range");
}

function readRanges(r: Reader): SyncRange[] {
  const count = r.varint(MAX_RANGES_PER_MESSAGE, "range count");
  // each range takes at least 2 bytes: a cheap bound on the count before allocating
  if (count * 2 > r.remaining) throw malformed("range count larger than the frame");
  const ranges: SyncRange[] = [];
  let lower: Bound = ZERO_BOUND;
  for (let i = 0; i < count; i++) {
    if (lower === null) throw malformed("range after the +∞ bound");
    const upper = readBound(r);
    if (compareBounds(upper, lower) <= 0) throw malformed("range bounds not strictly ascending");
    const mode = r.byte("mode");
    switch (mode) {
      case RangeMode.SKIP:
        ranges.push({ upper, mode });
        break;
      case RangeMode.FINGERPRINT:
        ranges.push({ upper, mode, fingerprint: r.take(FINGERPRINT_BYTES, "fingerprint") });
        break;
      case RangeMode.IDLIST: {
        const k = r.varint(MAX_IDS_PER_IDLIST, "idlist length");
        const ids = r.ids(k, "idlist");
        checkIdsInRange(ids, lower, upper);
        ranges.push({ upper, mode, ids });
        break;
      }
      case RangeMode.IDLIST_REPLY: {
        const listed = r.varint(MAX_IDS_PER_IDLIST, "listed count");
        const bitmap = r.take(Math.ceil(listed / 8), "bitmap");
        if (listed % 8 !== 0 && bitmap[bitmap.length - 1]! >> (listed % 8) !== 0)
          throw malformed("bitmap padding bits set");
        const m = r.varint(MAX_IDS_PER_IDLIST, "reply length");
        const ids = r.ids(m, "reply ids");
        checkIdsInRange(ids, lower, upper);
        ranges.push({ upper, mode, listed, bitmap, ids });
        break;
      }
      default:
        throw malformed(`unknown range mode ${mode}`);
    }
    lower = upper;
  }
  return ranges;
}

function readOrders(r: Reader, min: number): Uint8Array[] {
  const k = r.varint(MAX_ORDERS_PER_BATCH, "order count");
  if (k < min) throw malformed(`empty batch`);
  if (k * 2 > r.remaining) throw malformed("order count larger than the frame");
  const orders: Uint8Array[] = [];
  for (let i = 0; i < k; i++) {
    const len = r.varint(MAX_SYNC_ORDER_BYTES, "order length");
    if (len === 0) throw malformed("empty order");
    // copy: the store may keep the bytes, and must not pin the whole frame
    orders.push(r.take(len, "order").slice());
  }
  return orders;
}

/** Decodes a frame body. Throws SyncError (MALFORMED, LIMIT_EXCEEDED, FRAME_TOO_LARGE) and nothing else. */
export function decodeMessage(body: Uint8Array): SyncMessage {
  if (!(body instanceof Uint8Array)) throw malformed("not bytes");
  if (body.length > MAX_SYNC_FRAME_BYTES)
    throw new SyncError(SyncErrorCode.FRAME_TOO_LARGE, `${body.length} bytes > ${MAX_SYNC_FRAME_BYTES}`);
  const r = new Reader(body);
  const type = r.byte("type");
  let msg: SyncMessage;
  switch (type) {
    case MessageType.OPEN: {
      const market = bytesToHex(r.take(32, "market"));
      const epoch = r.varintBig("epoch");
      msg = { type, market, epoch, ranges: readRanges(r) };
      break;
    }
    case MessageType.RECONCILE:
      msg = { type, ranges: readRanges(r) };
      break;
    case MessageType.FETCH: {
      const k = r.varint(MAX_ORDERS_PER_BATCH, "fetch count");
      if (k === 0) throw malformed("empty fetch");
      msg = { type, ids: r.ids(k, "fetch ids") };
      break;
    }
    case MessageType.ORDERS:
      msg = { type, orders: readOrders(r, 0) };
      break;
    case MessageType.PUSH:
      msg = { type, orders: readOrders(r, 1) };
      break;
    case MessageType.PUSH_ACK: {
      const accepted = r.varint(MAX_ORDERS_PER_BATCH, "accepted");
      const rejected = r.varint(MAX_ORDERS_PER_BATCH, "rejected");
      msg = { type, accepted, rejected };
      break;
    }
    case MessageType.DONE:
      msg = { type };
      break;
    case MessageType.ERROR: {
      const wire = r.byte("error code");
      const code = syncErrorCodeFromWire(wire);
      if (code === undefined) throw malformed(`unknown error code ${wire}`);
      const len = r.varint(MAX_ERROR_REASON_BYTES, "reason length");
      let reason: string;
      try {
        reason = UTF8.decode(r.take(len, "reason"));
      } catch {
        throw malformed("reason is not UTF-8");
      }
      msg = { type, code, reason };
      break;
    }
    default:
      throw malformed(`unknown message type ${type}`);
  }
  r.end();
  return msg;
}
