import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeMessage,
  encodeMessage,
  MessageType,
  RangeMode,
  type SyncMessage,
  type SyncRange,
} from "../../../node/sync/codec.ts";
import {
  ID_BYTES,
  MAX_IDS_PER_IDLIST,
  MAX_ORDERS_PER_BATCH,
  MAX_RANGES_PER_MESSAGE,
  MAX_SYNC_FRAME_BYTES,
  MAX_SYNC_ORDER_BYTES,
} from "../../../node/sync/constants.ts";
import { SyncError, SyncErrorCode } from "../../../node/sync/errors.ts";
import { type Bound, boundOfId, IdSnapshot } from "../../../node/sync/ids.ts";
import { hexToBytes } from "../../../protocol/hex.ts";
import { ids, MARKET } from "./helpers.ts";

const ID_LIST = ids(9, 64).sort();
const SNAP = IdSnapshot.fromHex(ID_LIST);
const id = (i: number) => SNAP.bytes.subarray(i * ID_BYTES, (i + 1) * ID_BYTES);
const flat = (from: number, to: number) => SNAP.bytes.slice(from * ID_BYTES, to * ID_BYTES);

/** A range list exercising every mode and bound shape (prefix of 1 byte, full id, +∞). */
function sampleRanges(): SyncRange[] {
  return [
    { upper: boundOfId(SNAP.bytes, 3 * ID_BYTES).subarray(0, 1), mode: RangeMode.SKIP },
    {
      upper: boundOfId(SNAP.bytes, 10 * ID_BYTES),
      mode: RangeMode.FINGERPRINT,
      fingerprint: SNAP.fingerprint(3, 10),
    },
    { upper: boundOfId(SNAP.bytes, 20 * ID_BYTES), mode: RangeMode.IDLIST, ids: flat(10, 20) },
    {
      upper: boundOfId(SNAP.bytes, 40 * ID_BYTES),
      mode: RangeMode.IDLIST_REPLY,
      listed: 11,
      bitmap: Uint8Array.of(0xff, 0x05),
      ids: flat(20, 30),
    },
    { upper: null, mode: RangeMode.IDLIST, ids: new Uint8Array(0) },
  ];
}

function sampleMessages(): SyncMessage[] {
  const orders = [Uint8Array.of(1, 2, 3), new Uint8Array(MAX_SYNC_ORDER_BYTES).fill(7)];
  return [
    { type: MessageType.OPEN, market: MARKET, epoch: (1n << 64n) - 1n, ranges: sampleRanges() },
    { type: MessageType.OPEN, market: MARKET, epoch: 0n, ranges: [] },
    { type: MessageType.RECONCILE, ranges: sampleRanges() },
    { type: MessageType.RECONCILE, ranges: [] },
    { type: MessageType.FETCH, ids: flat(0, 5) },
    { type: MessageType.ORDERS, orders },
    { type: MessageType.ORDERS, orders: [] },
    { type: MessageType.PUSH, orders },
    { type: MessageType.PUSH_ACK, accepted: 200, rejected: 3 },
    { type: MessageType.DONE },
    { type: MessageType.ERROR, code: SyncErrorCode.BUSY, reason: "session limit reached — 🙂" },
  ];
}

function expectSyncError(fn: () => unknown, code?: SyncErrorCode): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SyncError);
    if (code) expect((err as SyncError).code).toBe(code);
    return;
  }
  throw new Error("expected a SyncError");
}

describe("sync codec", () => {
  it("round-trips every message type, and the encoding is canonical", () => {
    for (const msg of sampleMessages()) {
      const bytes = encodeMessage(msg);
      const back = decodeMessage(bytes);
      expect(back).toEqual(msg);
      expect(encodeMessage(back)).toEqual(bytes);
    }
  });

  it("encodes bounds as prefixes: a 1-byte bound costs 2 bytes", () => {
    const one: SyncRange[] = [{ upper: Uint8Array.of(0x80), mode: RangeMode.SKIP }];
    // type, count, bound length, bound byte, mode
    expect(encodeMessage({ type: MessageType.RECONCILE, ranges: one }).length).toBe(5);
  });

  it("rejects structural violations with MALFORMED", () => {
    const b = (x: Bound) => x;
    const cases: SyncRange[][] = [
      // bounds not ascending
      [
        { upper: b(Uint8Array.of(0x80)), mode: RangeMode.SKIP },
        { upper: b(Uint8Array.of(0x40)), mode: RangeMode.SKIP },
      ],
      // equal bounds (empty range)
      [
        { upper: b(Uint8Array.of(0x80)), mode: RangeMode.SKIP },
        { upper: b(Uint8Array.of(0x80)), mode: RangeMode.SKIP },
      ],
      // range after +∞
      [
        { upper: null, mode: RangeMode.SKIP },
        { upper: null, mode: RangeMode.SKIP },
      ],
      // first range empty: [0, 0)
      [{ upper: new Uint8Array(0), mode: RangeMode.SKIP }],
      // idlist unsorted
      [{ upper: null, mode: RangeMode.IDLIST, ids: new Uint8Array([...id(5), ...id(4)]) }],
      // idlist duplicate
      [{ upper: null, mode: RangeMode.IDLIST, ids: new Uint8Array([...id(5), ...id(5)]) }],
      // id outside its range (above the upper bound)
      [{ upper: boundOfId(SNAP.bytes, 5 * ID_BYTES), mode: RangeMode.IDLIST, ids: flat(4, 6) }],
    ];
    for (const ranges of cases) {
      // build the bytes by hand-encoding (the encoder does not check order), then decode
      const bytes = encodeMessage({ type: MessageType.RECONCILE, ranges });
      expectSyncError(() => decodeMessage(bytes), SyncErrorCode.MALFORMED);
    }
    // id below its range: second range starts at id 10, lists id 9
    const below = encodeMessage({
      type: MessageType.RECONCILE,
      ranges: [
        { upper: boundOfId(SNAP.bytes, 10 * ID_BYTES), mode: RangeMode.SKIP },
        { upper: null, mode: RangeMode.IDLIST, ids: flat(9, 11) },
      ],
    });
    expectSyncError(() => decodeMessage(below), SyncErrorCode.MALFORMED);
  });

  it("rejects non-canonical bounds, varints, bitmaps, trailing bytes, unknown types", () => {
    const reconcile = (...bytes: number[]) => Uint8Array.of(MessageType.RECONCILE, ...bytes);
    expectSyncError(() => decodeMessage(reconcile(1, 2, 0x80, 0x00, 0)), SyncErrorCode.MALFORMED); // bound ends in 0
    expectSyncError(
      () => decodeMessage(reconcile(1, 33, ...new Array(33).fill(1), 0)),
      SyncErrorCode.MALFORMED,
    );
    expectSyncError(() => decodeMessage(reconcile(0x81, 0x00)), SyncErrorCode.MALFORMED); // varint 1 as 2 bytes
    expectSyncError(() => decodeMessage(reconcile(1, 0xff, 9)), SyncErrorCode.MALFORMED); // unknown mode
    expectSyncError(() => decodeMessage(reconcile(0, 0)), SyncErrorCode.MALFORMED); // trailing byte
    // bitmap of 3 listed ids with bit 3 set (padding)
    expectSyncError(() => decodeMessage(reconcile(1, 0xff, 3, 3, 0x08, 0)), SyncErrorCode.MALFORMED);
    expectSyncError(() => decodeMessage(Uint8Array.of(0x09)), SyncErrorCode.MALFORMED);
    expectSyncError(() => decodeMessage(Uint8Array.of(0x00)), SyncErrorCode.MALFORMED);
    expectSyncError(() => decodeMessage(new Uint8Array(0)), SyncErrorCode.MALFORMED);
    expectSyncError(() => decodeMessage(Uint8Array.of(MessageType.ERROR, 99, 0)), SyncErrorCode.MALFORMED);
    expectSyncError(
      () => decodeMessage(Uint8Array.of(MessageType.ERROR, 7, 1, 0xff)),
      SyncErrorCode.MALFORMED,
    );
    expectSyncError(() => decodeMessage(Uint8Array.of(MessageType.FETCH, 0)), SyncErrorCode.MALFORMED);
    expectSyncError(() => decodeMessage(Uint8Array.of(MessageType.PUSH, 0)), SyncErrorCode.MALFORMED);
    expectSyncError(() => decodeMessage(Uint8Array.of(MessageType.PUSH, 1, 0)), SyncErrorCode.MALFORMED);
    // epoch above uint64
    const open = Uint8Array.of(MessageType.OPEN, ...hexToBytes(MARKET), ...new Array(9).fill(0xff), 0x02, 0);
    expectSyncError(() => decodeMessage(open), SyncErrorCode.MALFORMED);
  });

  it("rejects counts above their limits before allocating (LIMIT_EXCEEDED)", () => {
    const varint = (n: number) => {
      const out: number[] = [];
      while (n >= 0x80) {
        out.push((n & 0x7f) | 0x80);
        n = Math.floor(n / 128);
      }
      out.push(n);
      return out;
    };
    const huge = varint(2 ** 40);
    expectSyncError(
      () => decodeMessage(Uint8Array.of(MessageType.RECONCILE, ...huge)),
      SyncErrorCode.LIMIT_EXCEEDED,
    );
    expectSyncError(
      () => decodeMessage(Uint8Array.of(MessageType.RECONCILE, ...varint(MAX_RANGES_PER_MESSAGE + 1))),
      SyncErrorCode.LIMIT_EXCEEDED,
    );
    expectSyncError(
      () =>
        decodeMessage(
          Uint8Array.of(MessageType.RECONCILE, 1, 0xff, RangeMode.IDLIST, ...varint(MAX_IDS_PER_IDLIST + 1)),
        ),
      SyncErrorCode.LIMIT_EXCEEDED,
    );
    expectSyncError(
      () => decodeMessage(Uint8Array.of(MessageType.FETCH, ...varint(MAX_ORDERS_PER_BATCH + 1))),
      SyncErrorCode.LIMIT_EXCEEDED,
    );
    expectSyncError(
      () => decodeMessage(Uint8Array.of(MessageType.PUSH, 1, ...varint(MAX_SYNC_ORDER_BYTES + 1))),
      SyncErrorCode.LIMIT_EXCEEDED,
    );
    // a count the frame cannot hold is MALFORMED, not an allocation
    expectSyncError(
      () => decodeMessage(Uint8Array.of(MessageType.RECONCILE, ...varint(4000))),
      SyncErrorCode.MALFORMED,
    );
    expectSyncError(
      () => decodeMessage(new Uint8Array(MAX_SYNC_FRAME_BYTES + 1)),
      SyncErrorCode.FRAME_TOO_LARGE,
    );
  });

  it("refuses to encode a frame above MAX_SYNC_FRAME_BYTES", () => {
    const orders = Array.from({ length: 400 }, () => new Uint8Array(MAX_SYNC_ORDER_BYTES));
    expectSyncError(() => encodeMessage({ type: MessageType.PUSH, orders }), SyncErrorCode.INTERNAL);
  });

  it("random bytes decode to a message or throw SyncError, nothing else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const msg = decodeMessage(bytes);
          // whatever decodes re-encodes to the same bytes (canonical encoding)
          expect(encodeMessage(msg)).toEqual(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(SyncError);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it("mutated valid frames decode canonically or throw SyncError", () => {
    const frames = sampleMessages().map(encodeMessage);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: frames.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -3, max: 3 }),
        (which, edits, resize) => {
          const base = frames[which]!;
          let bytes = base.slice();
          for (const [pos, val] of edits) bytes[pos % bytes.length] = val;
          if (resize < 0) bytes = bytes.subarray(0, Math.max(0, bytes.length + resize));
          if (resize > 0) bytes = new Uint8Array([...bytes, ...new Array(resize).fill(0)]);
          try {
            const msg = decodeMessage(bytes);
            expect(encodeMessage(msg)).toEqual(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(SyncError);
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
