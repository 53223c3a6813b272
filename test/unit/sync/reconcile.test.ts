import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RangeMode, type SyncRange } from "../../../node/sync/codec.ts";
import { ID_BYTES, MAX_SYNC_FRAME_BYTES, SYNC_BRANCH_FACTOR } from "../../../node/sync/constants.ts";
import { SyncError, SyncErrorCode } from "../../../node/sync/errors.ts";
import { boundOfId, compareBounds, IdSnapshot, separatingBound } from "../../../node/sync/ids.ts";
import { DEFAULT_RECONCILE_PARAMS, Reconciler } from "../../../node/sync/reconcile.ts";
import type { Hex } from "../../../protocol/hex.ts";
import { clusteredIds, ids, minus, reconcileLocally } from "./helpers.ts";

const log = (x: number, base: number) => Math.log(Math.max(x, 1)) / Math.log(base);

/** Two sets: `common` shared ids, `onlyA` only the client's, `onlyB` only the server's. */
const setsArb = fc
  .record({
    common: fc.integer({ min: 0, max: 5_000 }),
    onlyA: fc.integer({ min: 0, max: 5_000 }),
    onlyB: fc.integer({ min: 0, max: 5_000 }),
    family: fc.integer({ min: 0, max: 1_000_000 }),
    clustered: fc.boolean(),
    shape: fc.constantFrom("random", "equal", "client-empty", "server-empty", "disjoint", "small-diff"),
  })
  .map(({ common, onlyA, onlyB, family, clustered, shape }) => {
    const cap = (n: number) => Math.min(n, 5_000 - common);
    let [a, b] = [cap(onlyA), cap(onlyB)];
    let c = common;
    if (shape === "equal") [a, b] = [0, 0];
    if (shape === "client-empty") [c, a] = [0, 0];
    if (shape === "server-empty") [c, b] = [0, 0];
    if (shape === "disjoint") c = 0;
    if (shape === "small-diff") [a, b] = [a % 4, b % 4];
    const gen = clustered ? clusteredIds : ids;
    // one family: ids [0, c) shared, [c, c+a) client only, [c+a, c+a+b) server only
    const shared = gen(family, c);
    return { A: [...shared, ...gen(family, a, c)], B: [...shared, ...gen(family, b, c + a)] };
  });

describe("range-based reconciliation (in memory, through the codec)", () => {
  it("the client learns exactly A∖B and B∖A, in O(log n) rounds, within frame limits", () => {
    fc.assert(
      fc.property(setsArb, ({ A, B }) => {
        const run = reconcileLocally(A, B);
        expect(run.have).toEqual(minus(A, B));
        expect(run.need).toEqual(minus(B, A));
        expect(run.maxFrameBytes).toBeLessThanOrEqual(MAX_SYNC_FRAME_BYTES);
        const n = Math.max(A.length, B.length);
        const diff = run.have.length + run.need.length;
        // a few rounds per level of the tree, plus the rounds that carry many ids when the sets differ a lot
        const bound =
          Math.ceil(log(n, SYNC_BRANCH_FACTOR)) +
          2 +
          Math.ceil((diff * ID_BYTES) / (MAX_SYNC_FRAME_BYTES / 2));
        expect(run.rounds).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 100 },
    );
  });

  it("small differences take about half a round per tree level", () => {
    for (const n of [100, 1_000, 10_000]) {
      for (const d of [1, 10, 100]) {
        const common = ids(1, n - d);
        const run = reconcileLocally([...common, ...ids(2, d)], [...common, ...ids(3, d)]);
        expect(run.have.length).toBe(d);
        expect(run.need.length).toBe(d);
        expect(run.rounds).toBeLessThanOrEqual(Math.ceil(log(n, SYNC_BRANCH_FACTOR) / 2) + 2);
      }
    }
  });

  it("bytes grow with the difference d, not with the set size n", () => {
    const bytes = (n: number, d: number) => {
      const common = ids(11, n - d);
      return reconcileLocally([...common, ...ids(12, d)], common).bytes;
    };
    const equal = [1_000, 10_000, 50_000].map((n) => reconcileLocally(ids(13, n), ids(13, n)).bytes);
    // d = 0: one fingerprint each way, whatever n
    expect(new Set(equal).size).toBe(1);
    expect(equal[0]).toBeLessThan(80);
    const b1 = bytes(10_000, 1);
    const b10 = bytes(10_000, 10);
    const b100 = bytes(10_000, 100);
    expect(b1).toBeLessThan(b10);
    expect(b10).toBeLessThan(b100);
    // per missing id the cost falls as differences share the upper levels of the tree
    expect(b100 / 100).toBeLessThan(b1);
    expect(b100 / 100).toBeLessThan(400);
    // 10x more ids for the same d costs about one more tree level, not 10x the bytes
    expect(bytes(100_000, 10)).toBeLessThan(2 * b10);
  });

  it("both sides grow nothing unbounded: answers stay within the frame for a 5,000-id difference", () => {
    const run = reconcileLocally([], ids(21, 5_000));
    expect(run.need.length).toBe(5_000);
    expect(run.maxFrameBytes).toBeLessThanOrEqual(MAX_SYNC_FRAME_BYTES);
  });

  it("works with small frames (deferral path) and other branch factors and thresholds", () => {
    const A = [...ids(31, 3_000), ...ids(32, 400)];
    const B = [...ids(31, 3_000), ...ids(33, 700)];
    for (const [branchFactor, idlistThreshold, maxIdsPerIdlist, maxFrameBytes] of [
      [2, 1, 16, 2_048],
      [4, 4, 64, 4_096],
      [32, 16, 128, 8_192],
    ] as const) {
      const params = {
        ...DEFAULT_RECONCILE_PARAMS,
        branchFactor,
        idlistThreshold,
        maxIdsPerIdlist,
        maxFrameBytes,
      };
      const run = reconcileLocally(A, B, params);
      expect(run.have).toEqual(minus(A, B));
      expect(run.need).toEqual(minus(B, A));
      expect(run.maxFrameBytes).toBeLessThanOrEqual(maxFrameBytes);
    }
  });

  it("the server rejects IDLIST_REPLY; the client rejects replies inconsistent with its set", () => {
    const snap = IdSnapshot.fromHex(ids(41, 20));
    const server = new Reconciler(snap, "server");
    const reply: SyncRange = {
      upper: null,
      mode: RangeMode.IDLIST_REPLY,
      listed: 0,
      bitmap: new Uint8Array(0),
      ids: new Uint8Array(0),
    };
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as SyncError).code;
      }
      return undefined;
    };
    expect(code(() => server.respond([reply]))).toBe(SyncErrorCode.PROTOCOL_VIOLATION);
    const client = new Reconciler(snap, "client");
    // we hold 20 ids in [0, ∞) but the reply covers 0 listed ids
    expect(code(() => client.respond([reply]))).toBe(SyncErrorCode.PROTOCOL_VIOLATION);
    // an "extra" id that we hold
    const extra: SyncRange = {
      upper: null,
      mode: RangeMode.IDLIST_REPLY,
      listed: 20,
      bitmap: Uint8Array.of(0xff, 0xff, 0x0f),
      ids: snap.bytes.slice(0, ID_BYTES),
    };
    expect(code(() => client.respond([extra]))).toBe(SyncErrorCode.PROTOCOL_VIOLATION);
    expect(new SyncError(SyncErrorCode.MALFORMED, "x")).toBeInstanceOf(Error);
  });
});

describe("ids: bounds and fingerprints", () => {
  it("separating bounds are the shortest prefix above the previous id", () => {
    const list = clusteredIds(51, 300).concat(ids(52, 300)).sort() as Hex[];
    const snap = IdSnapshot.fromHex(list);
    for (let i = 1; i < snap.count; i++) {
      const b = separatingBound(snap.bytes, (i - 1) * ID_BYTES, i * ID_BYTES);
      expect(snap.lowerBound(b)).toBe(i);
      // one byte shorter would not separate
      if (b.length > 1) expect(snap.lowerBound(b.subarray(0, b.length - 1))).toBeLessThan(i);
      expect(compareBounds(b, boundOfId(snap.bytes, i * ID_BYTES))).toBeLessThanOrEqual(0);
    }
  });

  it("a range fingerprint depends only on the set of ids in it", () => {
    const all = ids(61, 500).sort() as Hex[];
    const snap = IdSnapshot.fromHex(all);
    const sub = IdSnapshot.fromHex(all.slice(100, 300));
    expect(snap.fingerprint(100, 300)).toEqual(sub.fingerprint(0, 200));
    expect(snap.fingerprint(100, 300)).not.toEqual(snap.fingerprint(100, 299));
    expect(snap.fingerprint(0, 0)).toEqual(IdSnapshot.fromHex([]).fingerprint(0, 0));
    // unsorted input with duplicates is repaired
    expect(IdSnapshot.fromHex([all[3]!, all[1]!, all[3]!]).hex).toEqual([all[1], all[3]]);
    expect(() => IdSnapshot.fromHex(["0x12" as Hex])).toThrow(SyncError);
  });
});
