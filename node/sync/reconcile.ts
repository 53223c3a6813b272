// Range-based set reconciliation over sorted 32-byte ids, without I/O: a Reconciler turns the peer's
// range list into our answer. The client drives the rounds and learns both differences; the server is
// stateless between rounds (it answers each message from its snapshot alone).
//
// Per range of the incoming list (its lower bound is the previous range's upper bound):
//   SKIP          → SKIP.
//   FINGERPRINT   → SKIP if our fingerprint of the range is equal; else our IDLIST if we hold at most
//                   `idlistThreshold` ids there; else we split our ids there into `branchFactor` equal
//                   parts and send a FINGERPRINT for each.
//   IDLIST        → server: IDLIST_REPLY (terminal): a bitmap of which listed ids it holds, plus the ids
//                   it holds there that were not listed (in several IDLIST_REPLY sub-ranges when they
//                   exceed maxIdsPerIdlist).
//                   client: the server's complete list: the client records both differences → SKIP.
//   IDLIST_REPLY  → client: records both differences → SKIP. (A server never receives one.)
// The client stops when its answer has no range that is not SKIP.
//
// Every answer fits one frame: when the next piece would not fit, the rest of the span (up to the
// last non-SKIP incoming range) is answered with one FINGERPRINT of our ids there and handled in later
// rounds (the idea of Negentropy's frame size limit). Differences found twice are deduplicated.
import type { Hex } from "../../protocol/hex.ts";
import { bytesToHex } from "../../protocol/hex.ts";
import {
  MAX_FINGERPRINT_RANGE_BYTES,
  MAX_RANGE_MESSAGE_HEADER_BYTES,
  RangeMode,
  rangeBytes,
  type SyncRange,
  varintBytes,
} from "./codec.ts";
import {
  ID_BYTES,
  MAX_IDS_PER_IDLIST,
  MAX_RANGES_PER_MESSAGE,
  MAX_SYNC_FRAME_BYTES,
  SYNC_BRANCH_FACTOR,
  SYNC_IDLIST_THRESHOLD,
} from "./constants.ts";
import { SyncError, SyncErrorCode } from "./errors.ts";
import {
  type Bound,
  boundOfId,
  compareIds,
  equalFingerprints,
  type IdSnapshot,
  separatingBound,
  ZERO_BOUND,
} from "./ids.ts";

export interface ReconcileParams {
  /** Sub-ranges per split (≥ 2). */
  readonly branchFactor: number;
  /** Send our ids instead of splitting when we hold at most this many in a differing range (≥ 1). */
  readonly idlistThreshold: number;
  /** Most extra ids per IDLIST_REPLY range. */
  readonly maxIdsPerIdlist: number;
  /** Most ranges per message. */
  readonly maxRangesPerMessage: number;
  /** Largest frame body. */
  readonly maxFrameBytes: number;
}

export const DEFAULT_RECONCILE_PARAMS: ReconcileParams = {
  branchFactor: SYNC_BRANCH_FACTOR,
  idlistThreshold: SYNC_IDLIST_THRESHOLD,
  maxIdsPerIdlist: MAX_IDS_PER_IDLIST,
  maxRangesPerMessage: MAX_RANGES_PER_MESSAGE,
  maxFrameBytes: MAX_SYNC_FRAME_BYTES,
};

export type ReconcileRole = "client" | "server";

/** Largest single piece an answer can contain: one full IDLIST_REPLY range. */
function largestPieceBytes(p: ReconcileParams): number {
  const k = Math.max(p.idlistThreshold, p.maxIdsPerIdlist);
  return 1 + ID_BYTES + 1 + 2 * varintBytes(k) + Math.ceil(k / 8) + k * ID_BYTES;
}

/** Collects an answer's ranges within the frame budget; merges adjacent SKIPs, drops trailing ones. */
class RangeBuilder {
  readonly ranges: SyncRange[] = [];
  private bytes = 0;
  private readonly budgetBytes: number;
  private readonly maxRanges: number;

  constructor(p: ReconcileParams) {
    // keep room for the message header and for one deferral FINGERPRINT
    this.budgetBytes = p.maxFrameBytes - MAX_RANGE_MESSAGE_HEADER_BYTES - MAX_FINGERPRINT_RANGE_BYTES;
    this.maxRanges = p.maxRangesPerMessage - 1;
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  fits(r: SyncRange): boolean {
    const last = this.ranges[this.ranges.length - 1];
    if (r.mode === RangeMode.SKIP && last?.mode === RangeMode.SKIP) {
      return this.bytes - rangeBytes(last) + rangeBytes(r) <= this.budgetBytes;
    }
    return this.ranges.length < this.maxRanges && this.bytes + rangeBytes(r) <= this.budgetBytes;
  }

  /** Appends without a budget check (the deferral range has reserved room). */
  push(r: SyncRange): void {
    const last = this.ranges[this.ranges.length - 1];
    if (r.mode === RangeMode.SKIP && last?.mode === RangeMode.SKIP) {
      this.bytes -= rangeBytes(last);
      this.ranges[this.ranges.length - 1] = r;
    } else {
      this.ranges.push(r);
    }
    this.bytes += rangeBytes(r);
  }

  finish(): SyncRange[] {
    while (this.ranges.length > 0 && this.ranges[this.ranges.length - 1]!.mode === RangeMode.SKIP) {
      this.ranges.pop();
    }
    return this.ranges;
  }
}

function violation(detail: string): SyncError {
  return new SyncError(SyncErrorCode.PROTOCOL_VIOLATION, detail);
}

export class Reconciler {
  readonly role: ReconcileRole;
  readonly snapshot: IdSnapshot;
  readonly params: ReconcileParams;
  /** Client: ids we hold that the peer lacks (to PUSH). */
  readonly have = new Set<Hex>();
  /** Client: ids the peer holds that we lack (to FETCH). */
  readonly need = new Set<Hex>();

  constructor(snapshot: IdSnapshot, role: ReconcileRole, params: ReconcileParams = DEFAULT_RECONCILE_PARAMS) {
    if (params.branchFactor < 2 || params.idlistThreshold < 1 || params.maxIdsPerIdlist < 1) {
      throw new SyncError(SyncErrorCode.INTERNAL, "bad reconcile parameters");
    }
    // Progress needs the largest piece to fit an otherwise empty answer.
    const room = params.maxFrameBytes - MAX_RANGE_MESSAGE_HEADER_BYTES - MAX_FINGERPRINT_RANGE_BYTES;
    if (largestPieceBytes(params) > room || params.branchFactor * MAX_FINGERPRINT_RANGE_BYTES > room) {
      throw new SyncError(SyncErrorCode.INTERNAL, "maxFrameBytes too small for the other parameters");
    }
    if (params.maxRangesPerMessage < params.branchFactor + 1) {
      throw new SyncError(SyncErrorCode.INTERNAL, "maxRangesPerMessage too small for branchFactor");
    }
    this.snapshot = snapshot;
    this.role = role;
    this.params = params;
  }

  /** The client's first message: all our ids if few, else one fingerprint of everything. */
  initialRanges(): SyncRange[] {
    const n = this.snapshot.count;
    if (n <= this.params.idlistThreshold) {
      return [{ upper: null, mode: RangeMode.IDLIST, ids: this.snapshot.bytes.subarray(0, n * ID_BYTES) }];
    }
    return [{ upper: null, mode: RangeMode.FINGERPRINT, fingerprint: this.snapshot.fingerprint(0, n) }];
  }

  /**
   * Our answer to the peer's range list (already decoded and structurally checked by the codec).
   * An empty answer means: nothing left to reconcile. Throws SyncError(PROTOCOL_VIOLATION).
   */
  respond(incoming: readonly SyncRange[]): SyncRange[] {
    let lastActive = incoming.length - 1;
    while (lastActive >= 0 && incoming[lastActive]!.mode === RangeMode.SKIP) lastActive--;
    if (lastActive < 0) return [];
    const spanEnd = incoming[lastActive]!.upper;
    const out = new RangeBuilder(this.params);
    let lower: Bound = ZERO_BOUND;
    let cursor: Bound = ZERO_BOUND;
    for (let i = 0; i <= lastActive; i++) {
      const r = incoming[i]!;
      for (const piece of this.answer(lower, r)) {
        if (!out.fits(piece)) {
          if (out.isEmpty) throw new SyncError(SyncErrorCode.INTERNAL, "answer piece larger than a frame");
          const from = this.snapshot.lowerBound(cursor);
          const to = this.snapshot.lowerBound(spanEnd);
          out.push({
            upper: spanEnd,
            mode: RangeMode.FINGERPRINT,
            fingerprint: this.snapshot.fingerprint(from, to),
          });
          return out.finish();
        }
        out.push(piece);
        cursor = piece.upper;
      }
      lower = r.upper;
    }
    return out.finish();
  }

  private *answer(lower: Bound, r: SyncRange): Generator<SyncRange> {
    const s = this.snapshot;
    const from = s.lowerBound(lower);
    const to = s.lowerBound(r.upper);
    switch (r.mode) {
      case RangeMode.SKIP:
        yield r;
        return;
      case RangeMode.FINGERPRINT:
        if (equalFingerprints(s.fingerprint(from, to), r.fingerprint)) {
          yield { upper: r.upper, mode: RangeMode.SKIP };
        } else if (to - from <= this.params.idlistThreshold) {
          yield {
            upper: r.upper,
            mode: RangeMode.IDLIST,
            ids: s.bytes.subarray(from * ID_BYTES, to * ID_BYTES),
          };
        } else {
          yield* this.split(from, to, r.upper);
        }
        return;
      case RangeMode.IDLIST:
        if (this.role === "server") {
          yield* this.idlistReply(from, to, r.ids, r.upper);
        } else {
          this.recordPeerList(from, to, r.ids);
          yield { upper: r.upper, mode: RangeMode.SKIP };
        }
        return;
      case RangeMode.IDLIST_REPLY:
        if (this.role === "server") throw violation("IDLIST_REPLY sent to the server");
        this.recordReply(from, to, r.listed, r.bitmap, r.ids);
        yield { upper: r.upper, mode: RangeMode.SKIP };
        return;
    }
  }

  /** FINGERPRINTs of `branchFactor` parts of equal size of our ids [from, to), covering up to `upper`. */
  private *split(from: number, to: number, upper: Bound): Generator<SyncRange> {
    const s = this.snapshot;
    const c = to - from;
    const parts = Math.min(this.params.branchFactor, c);
    let start = from;
    for (let j = 1; j <= parts; j++) {
      const end = from + Math.floor((c * j) / parts);
      const bound = j === parts ? upper : separatingBound(s.bytes, (end - 1) * ID_BYTES, end * ID_BYTES);
      yield { upper: bound, mode: RangeMode.FINGERPRINT, fingerprint: s.fingerprint(start, end) };
      start = end;
    }
  }

  /**
   * The server's answer to the client's IDLIST `listed` of the range whose our ids are [from, to):
   * which listed ids we hold, and ours that were not listed, cut into sub-ranges of at most
   * maxIdsPerIdlist extra ids each (cut at the first extra id of the next sub-range).
   */
  private *idlistReply(from: number, to: number, listed: Uint8Array, upper: Bound): Generator<SyncRange> {
    const s = this.snapshot;
    const k = listed.length / ID_BYTES;
    const held = new Uint8Array(k);
    const extras: number[] = [];
    let p = 0;
    let q = from;
    while (p < k || q < to) {
      const c = p >= k ? 1 : q >= to ? -1 : compareIds(listed, p * ID_BYTES, s.bytes, q * ID_BYTES);
      if (c === 0) {
        held[p++] = 1;
        q++;
      } else if (c < 0) {
        p++;
      } else {
        extras.push(q++);
      }
    }
    if (extras.length === 0 && held.every((h) => h === 1)) {
      // we hold exactly the listed ids: SKIP says so in two bytes
      yield { upper, mode: RangeMode.SKIP };
      return;
    }
    const cap = this.params.maxIdsPerIdlist;
    let listedStart = 0;
    for (let e = 0; e === 0 || e < extras.length; e += cap) {
      const chunk = extras.slice(e, e + cap);
      const next = extras[e + cap];
      let bound: Bound = upper;
      let listedEnd = k;
      if (next !== undefined) {
        bound = boundOfId(s.bytes, next * ID_BYTES);
        listedEnd = listedStart;
        while (listedEnd < k && compareIds(listed, listedEnd * ID_BYTES, s.bytes, next * ID_BYTES) < 0)
          listedEnd++;
      }
      const n = listedEnd - listedStart;
      const bitmap = new Uint8Array(Math.ceil(n / 8));
      for (let j = 0; j < n; j++) if (held[listedStart + j]) bitmap[j >> 3]! |= 1 << (j & 7);
      const ids = new Uint8Array(chunk.length * ID_BYTES);
      for (let j = 0; j < chunk.length; j++) {
        const idx = chunk[j]!;
        ids.set(s.bytes.subarray(idx * ID_BYTES, (idx + 1) * ID_BYTES), j * ID_BYTES);
      }
      yield { upper: bound, mode: RangeMode.IDLIST_REPLY, listed: n, bitmap, ids };
      listedStart = listedEnd;
    }
  }

  /** Client: the server's full list of a range versus ours [from, to). */
  private recordPeerList(from: number, to: number, theirs: Uint8Array): void {
    const s = this.snapshot;
    const k = theirs.length / ID_BYTES;
    let p = 0;
    let q = from;
    while (p < k || q < to) {
      const c = p >= k ? 1 : q >= to ? -1 : compareIds(theirs, p * ID_BYTES, s.bytes, q * ID_BYTES);
      if (c === 0) {
        p++;
        q++;
      } else if (c < 0) {
        this.need.add(bytesToHex(theirs.subarray(p * ID_BYTES, (p + 1) * ID_BYTES)));
        p++;
      } else {
        this.have.add(s.hex[q++]!);
      }
    }
  }

  /** Client: the server's IDLIST_REPLY for a range whose our ids are [from, to). */
  private recordReply(
    from: number,
    to: number,
    listed: number,
    bitmap: Uint8Array,
    extras: Uint8Array,
  ): void {
    const s = this.snapshot;
    if (listed !== to - from) {
      throw violation(`IDLIST_REPLY covers ${listed} listed ids, we hold ${to - from} in that range`);
    }
    for (let j = 0; j < listed; j++) {
      if ((bitmap[j >> 3]! & (1 << (j & 7))) === 0) this.have.add(s.hex[from + j]!);
    }
    // extras must be ids we lack: an honest server never returns one we listed
    const m = extras.length / ID_BYTES;
    let q = from;
    for (let p = 0; p < m; p++) {
      while (q < to && compareIds(s.bytes, q * ID_BYTES, extras, p * ID_BYTES) < 0) q++;
      if (q < to && compareIds(s.bytes, q * ID_BYTES, extras, p * ID_BYTES) === 0) {
        throw violation("IDLIST_REPLY returns an id we listed as an extra");
      }
      this.need.add(bytesToHex(extras.subarray(p * ID_BYTES, (p + 1) * ID_BYTES)));
    }
  }
}
