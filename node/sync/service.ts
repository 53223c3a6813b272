// The sync service: the set-reconciliation protocol of docs/sync.md on libp2p streams.
//
// One session = one stream, opened by the client (reconcile()). The client sends OPEN with its first
// range list, the server answers each range message from a snapshot of its ids taken at OPEN, and the
// client, once no range is left to reconcile, FETCHes the orders it lacks (handing them to its
// store.accept) and PUSHes the ones the server lacks (the server hands them to its store.accept), then
// sends DONE. Any violation ends the session with a typed SyncError; the side that detects it sends an
// ERROR frame when it still can.
//
// Composition: `new SyncService({ store }, { libp2p })` with anything that has libp2p's handle,
// unhandle and dialProtocol (a Libp2p node does), then start()/stop() with the node (Startable).
//
// Abuse (docs/sync.md "Limits"): inbound sessions take a slot (slots.ts: per peer, global, and a
// better-scored peer may evict a worse one); a server waits at most requestTimeoutMs for each request;
// pushed orders spend the peer's gossip rate budget and obey the gossip time window (push-window.ts);
// every refusal, dropped order and protocol violation is reported through SyncEvents.
import type { AbortOptions, Connection, Libp2p, PeerId, Startable, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { isMultiaddr, type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Hex } from "../../protocol/hex.ts";
import { bytesToHex, compareHex, hexToBytes } from "../../protocol/hex.ts";
import { MessageType, type SyncMessage } from "./codec.ts";
import {
  ID_BYTES,
  MAX_INBOUND_SESSIONS,
  MAX_ORDERS_PER_BATCH,
  MAX_OUTBOUND_SESSIONS,
  MAX_PUSHED_ORDERS_PER_SESSION,
  MAX_SESSIONS_PER_PEER,
  MAX_SYNC_ORDER_BYTES,
  MAX_SYNC_ROUNDS,
  SYNC_BRANCH_FACTOR,
  SYNC_CLOSE_TIMEOUT_MS,
  SYNC_IDLIST_THRESHOLD,
  SYNC_MAX_INBOUND_STREAMS_PER_CONNECTION,
  SYNC_MAX_OUTBOUND_STREAMS_PER_CONNECTION,
  SYNC_MIN_EVICT_AGE_MS,
  SYNC_PROTOCOL as SYNC_PROTOCOL_ID,
  SYNC_REQUEST_TIMEOUT_MS,
  SYNC_SESSION_TIMEOUT_MS,
} from "./constants.ts";
import { SYNC_ERROR_CODES, SyncError, SyncErrorCode } from "./errors.ts";
import { IdSnapshot } from "./ids.ts";
import {
  admitPushed,
  reportDrops,
  reportViolation,
  type SyncEvents,
  type SyncRefusalReason,
} from "./peer-events.ts";
import { DEFAULT_RECONCILE_PARAMS, Reconciler } from "./reconcile.ts";
import { InboundSlots, type Slot } from "./slots.ts";
import { FramedStream } from "./stream.ts";

/** The protocol id, also exported here so that the composition root needs only this module. */
export const SYNC_PROTOCOL: string = SYNC_PROTOCOL_ID;

export interface SyncStore {
  /**
   * Sorted ascending, distinct ids (lowercase 0x hex) of the orders held for (market, epoch) right now.
   * A list returned once is never changed afterwards (a changed set is a new array): the service keeps
   * the snapshot it built of a list for as long as the list is returned again.
   */
  ids(market: Hex, epoch: bigint): readonly Hex[];
  /** Wire bytes of the held orders with these ids; unknown ids are skipped. */
  wire(market: Hex, epoch: bigint, ids: readonly Hex[]): Uint8Array[];
  /** Validate + store orders received from `from` for (market, epoch); returns counts. Throws nothing. */
  accept(market: Hex, epoch: bigint, orders: Uint8Array[], from: string): Promise<AcceptResult>;
  /** Whether this node serves the market and still accepts sync for this epoch (e.g. not frozen long ago). */
  serves(market: Hex, epoch: bigint): boolean;
  /**
   * The verdict for orders of (market, epoch) that a peer PUSHes now, before any is validated: null to
   * validate them, or the gossip verdict that refuses them all (push-window.ts: the gossip time rule).
   * Absent: pushes are validated like fetched orders.
   */
  admitPush?(market: Hex, epoch: bigint): { action: "IGNORE" | "REJECT"; code: string } | null;
}

export interface AcceptResult {
  accepted: number;
  rejected: number;
  /** Orders not accepted, by `${action}|${code}` of their verdict (optional; for drop counters). */
  drops?: Readonly<Record<string, number>>;
}

export type { SyncEvents, SyncRefusalReason };

export interface SyncReport {
  /** The peer (peer id string; the multiaddr string when dialled by an address without /p2p). */
  peer: string;
  market: Hex;
  epoch: bigint;
  /** Range-message round trips (OPEN counts as the first). */
  rounds: number;
  /** Orders received in answer to our FETCHes. */
  fetched: number;
  /** Orders sent in PUSHes. */
  pushed: number;
  /** Frame bytes (length prefixes included) we sent and received in this session. */
  bytesSent: number;
  bytesReceived: number;
  durationMs: number;
  /** Ids the peer held that we lacked (what reconciliation found; `fetched` is what arrived). */
  missingLocal: number;
  /** Ids we held that the peer lacked. */
  missingRemote: number;
  /** Our store.accept outcome for the fetched orders. */
  fetchedAccepted: number;
  fetchedRejected: number;
  /** The peer's store.accept outcome for our pushed orders, as it reported them. */
  pushedAccepted: number;
  pushedRejected: number;
}

/** Limits and tuning; every field defaults to the constant of the same meaning in constants.ts. */
export interface SyncLimits {
  sessionTimeoutMs: number;
  closeTimeoutMs: number;
  maxRounds: number;
  maxSessionsPerPeer: number;
  maxInboundSessions: number;
  maxOutboundSessions: number;
  /** Ids per FETCH and orders per PUSH we send (the wire limit MAX_ORDERS_PER_BATCH stays). */
  maxOrdersPerBatch: number;
  maxPushedOrdersPerSession: number;
  branchFactor: number;
  idlistThreshold: number;
  /** Longest wait of a server for the client's next request. */
  requestTimeoutMs: number;
  /** A session of a peer no better than a newcomer may be evicted once it has run this long. */
  minEvictAgeMs: number;
}

export const DEFAULT_SYNC_LIMITS: Readonly<SyncLimits> = {
  sessionTimeoutMs: SYNC_SESSION_TIMEOUT_MS,
  closeTimeoutMs: SYNC_CLOSE_TIMEOUT_MS,
  maxRounds: MAX_SYNC_ROUNDS,
  maxSessionsPerPeer: MAX_SESSIONS_PER_PEER,
  maxInboundSessions: MAX_INBOUND_SESSIONS,
  maxOutboundSessions: MAX_OUTBOUND_SESSIONS,
  maxOrdersPerBatch: MAX_ORDERS_PER_BATCH,
  maxPushedOrdersPerSession: MAX_PUSHED_ORDERS_PER_SESSION,
  branchFactor: SYNC_BRANCH_FACTOR,
  idlistThreshold: SYNC_IDLIST_THRESHOLD,
  requestTimeoutMs: SYNC_REQUEST_TIMEOUT_MS,
  minEvictAgeMs: SYNC_MIN_EVICT_AGE_MS,
};

export interface SyncServiceInit {
  store: SyncStore;
  limits?: Partial<SyncLimits>;
  /** A peer's standing for slot eviction (the node passes its gossipsub score); default 0 for all. */
  peerScore?: (peer: string) => number;
  /**
   * Takes one token of the peer's rate budget per pushed order (the node passes the gossip limiter's,
   * so PUSH and gossip share one per-peer budget); false drops the order (RATE_LIMITED). Default: none.
   */
  takeRate?: (peer: string) => boolean;
  events?: SyncEvents;
  now?: () => number;
}

/** What the service needs from libp2p. A Libp2p node satisfies it. */
export type SyncHost = Pick<Libp2p, "handle" | "unhandle" | "dialProtocol">;

export interface SyncServiceComponents {
  libp2p: SyncHost;
}

export interface SyncStats {
  sessions: {
    outbound: { ok: number; failed: number };
    /** refused = turned away at the session limit (BUSY), before any work. */
    inbound: { ok: number; failed: number; refused: number };
  };
  /** Inbound sessions refused or evicted, by reason. */
  refusedByReason: Record<SyncRefusalReason, number>;
  /** Pushed orders dropped before validation: over the peer's rate budget, or outside the time window. */
  pushRateLimited: number;
  pushRefusedByTime: number;
  active: { outbound: number; inbound: number };
  bytesSent: number;
  bytesReceived: number;
  /** Range-message rounds of our outbound sessions. */
  rounds: number;
  /** As client: orders received for our FETCHes, orders we pushed. */
  ordersFetched: number;
  ordersPushed: number;
  /** As server: orders sent for a peer's FETCH, orders a peer pushed to us. */
  ordersServed: number;
  ordersReceivedByPush: number;
  /** Our store.accept outcomes over fetched and pushed-to-us orders. */
  ordersAccepted: number;
  ordersRejected: number;
  /** Failed sessions by the code that ended them (ours or the peer's). */
  errors: Record<SyncErrorCode, number>;
}

type DialPeer = PeerId | Multiaddr | string;

/** What to dial, and how reports name the peer: its peer id when known, else the address. */
function peerTarget(peer: DialPeer): { target: PeerId | Multiaddr; label: string } {
  if (typeof peer === "string") {
    if (!peer.startsWith("/")) return { target: peerIdFromString(peer), label: peer };
    return peerTarget(multiaddr(peer));
  }
  if (isMultiaddr(peer)) {
    const text = peer.toString();
    return { target: peer, label: /\/p2p\/([^/]+)/.exec(text)?.[1] ?? text };
  }
  return { target: peer, label: peer.toString() };
}

function asSyncError(err: unknown, signal?: AbortSignal): SyncError {
  if (signal?.aborted && signal.reason instanceof SyncError) return signal.reason;
  if (err instanceof SyncError) return err;
  return new SyncError(SyncErrorCode.INTERNAL, String((err as Error)?.message ?? err), { cause: err });
}

/**
 * A timer plus the caller's signal folded into one AbortSignal whose reason is a SyncError; `ended`
 * resolves when the session's bookkeeping is done (stop() waits for it).
 */
class SessionClock {
  readonly controller = new AbortController();
  private finish: () => void = () => {};
  readonly ended: Promise<void> = new Promise<void>((resolve) => {
    this.finish = resolve;
  });
  private readonly timer: NodeJS.Timeout;
  private readonly unlink: () => void;

  constructor(timeoutMs: number, outer?: AbortSignal) {
    this.timer = setTimeout(() => {
      this.controller.abort(new SyncError(SyncErrorCode.TIMEOUT, `session exceeded ${timeoutMs} ms`));
    }, timeoutMs);
    const onOuter = (): void => {
      this.controller.abort(new SyncError(SyncErrorCode.ABORTED, "aborted by the caller"));
    };
    if (outer?.aborted) onOuter();
    outer?.addEventListener("abort", onOuter, { once: true });
    this.unlink = () => outer?.removeEventListener("abort", onOuter);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: SyncError): void {
    this.controller.abort(reason);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.unlink();
    this.finish();
  }
}

/** Splits a list into batches of at most `size`. */
function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function flatIds(ids: readonly Hex[]): Uint8Array {
  const out = new Uint8Array(ids.length * ID_BYTES);
  for (let i = 0; i < ids.length; i++) out.set(hexToBytes(ids[i]!), i * ID_BYTES);
  return out;
}

function clampCount(n: unknown): number {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? Math.min(n, MAX_ORDERS_PER_BATCH) : 0;
}

export class SyncService implements Startable {
  readonly protocol = SYNC_PROTOCOL;
  private readonly store: SyncStore;
  private readonly limits: SyncLimits;
  private readonly host: SyncHost;
  private started = false;
  private readonly slots: InboundSlots;
  private readonly events: SyncEvents;
  private readonly takeRate: (peer: string) => boolean;
  private outbound = 0;
  /** Clocks of running sessions, so that stop() can end them. */
  private readonly sessions = new Set<SessionClock>();
  private readonly counters: SyncStats;
  /**
   * Snapshots by the id list they were built from. A frozen epoch's list is the same array for every
   * session of it (4 peers each way at a close): one snapshot of 10,000 ids took ~10 ms to build.
   */
  private readonly snapshots = new WeakMap<readonly Hex[], IdSnapshot>();

  constructor(init: SyncServiceInit, components: SyncServiceComponents) {
    this.store = init.store;
    this.limits = { ...DEFAULT_SYNC_LIMITS, ...init.limits };
    this.host = components.libp2p;
    this.events = init.events ?? {};
    this.takeRate = init.takeRate ?? (() => true);
    const score = init.peerScore ?? (() => 0);
    this.slots = new InboundSlots({
      maxPerPeer: this.limits.maxSessionsPerPeer,
      maxTotal: this.limits.maxInboundSessions,
      minEvictAgeMs: this.limits.minEvictAgeMs,
      score,
      now: init.now ?? Date.now,
    });
    // fail at construction, not in the first session, if the tuning limits are inconsistent
    new Reconciler(IdSnapshot.fromHex([]), "client", this.reconcileParams());
    this.counters = {
      sessions: { outbound: { ok: 0, failed: 0 }, inbound: { ok: 0, failed: 0, refused: 0 } },
      refusedByReason: { per_peer: 0, global: 0, evicted: 0, stopped: 0 },
      pushRateLimited: 0,
      pushRefusedByTime: 0,
      active: { outbound: 0, inbound: 0 },
      bytesSent: 0,
      bytesReceived: 0,
      rounds: 0,
      ordersFetched: 0,
      ordersPushed: 0,
      ordersServed: 0,
      ordersReceivedByPush: 0,
      ordersAccepted: 0,
      ordersRejected: 0,
      errors: Object.fromEntries(SYNC_ERROR_CODES.map((c) => [c, 0])) as Record<SyncErrorCode, number>,
    };
  }

  readonly [Symbol.toStringTag] = "smartmarket/sync";

  isStarted(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.host.handle(SYNC_PROTOCOL, (stream, connection) => this.onInbound(stream, connection), {
      maxInboundStreams: Math.max(
        SYNC_MAX_INBOUND_STREAMS_PER_CONNECTION,
        this.limits.maxSessionsPerPeer + 2,
      ),
      maxOutboundStreams: Math.max(SYNC_MAX_OUTBOUND_STREAMS_PER_CONNECTION, this.limits.maxOutboundSessions),
    });
    this.started = true;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.host.unhandle(SYNC_PROTOCOL);
    const running = [...this.sessions];
    for (const clock of running) clock.abort(new SyncError(SyncErrorCode.ABORTED, "sync service stopped"));
    await Promise.all(running.map((clock) => clock.ended));
  }

  /** A copy of the counters. */
  stats(): SyncStats {
    return structuredClone({
      ...this.counters,
      active: { outbound: this.outbound, inbound: this.slots.size },
    });
  }

  private snapshot(market: Hex, epoch: bigint): IdSnapshot {
    const ids = this.store.ids(market, epoch);
    let snap = this.snapshots.get(ids);
    if (snap === undefined) {
      snap = IdSnapshot.fromHex(ids);
      this.snapshots.set(ids, snap);
    }
    return snap;
  }

  private reconcileParams() {
    return {
      ...DEFAULT_RECONCILE_PARAMS,
      branchFactor: this.limits.branchFactor,
      idlistThreshold: this.limits.idlistThreshold,
    };
  }

  private countAccept(result: { accepted: number; rejected: number }): {
    accepted: number;
    rejected: number;
  } {
    const accepted = Math.max(0, Math.trunc(Number(result?.accepted) || 0));
    const rejected = Math.max(0, Math.trunc(Number(result?.rejected) || 0));
    this.counters.ordersAccepted += accepted;
    this.counters.ordersRejected += rejected;
    return { accepted, rejected };
  }

  /** store.accept that cannot throw (the contract says it does not; a broken store must not end us). */
  private async accept(market: Hex, epoch: bigint, orders: Uint8Array[], from: string) {
    let result: AcceptResult;
    try {
      result = await this.store.accept(market, epoch, orders, from);
    } catch {
      result = { accepted: 0, rejected: orders.length };
    }
    reportDrops(this.events, result?.drops, from);
    return this.countAccept(result);
  }

  // -------------------------------------------------------------------------------------------------
  // client

  /**
   * Reconciles (market, epoch) with one peer: learns both differences, fetches what we lack (through
   * store.accept) and pushes what the peer lacks. Rejects with SyncError.
   */
  async reconcile(
    peer: DialPeer,
    market: Hex,
    epoch: bigint,
    opts: { signal?: AbortSignal } = {},
  ): Promise<SyncReport> {
    if (!this.started) throw new SyncError(SyncErrorCode.NOT_STARTED, "sync service is not started");
    const { target, label } = peerTarget(peer);
    if (this.outbound >= this.limits.maxOutboundSessions) {
      this.counters.sessions.outbound.failed++;
      this.counters.errors.BUSY++;
      throw new SyncError(SyncErrorCode.BUSY, `${this.outbound} outbound sessions running`);
    }
    const t0 = performance.now();
    const report: SyncReport = {
      peer: label,
      market,
      epoch,
      rounds: 0,
      fetched: 0,
      pushed: 0,
      bytesSent: 0,
      bytesReceived: 0,
      durationMs: 0,
      missingLocal: 0,
      missingRemote: 0,
      fetchedAccepted: 0,
      fetchedRejected: 0,
      pushedAccepted: 0,
      pushedRejected: 0,
    };
    const clock = new SessionClock(this.limits.sessionTimeoutMs, opts.signal);
    this.sessions.add(clock);
    this.outbound++;
    let io: FramedStream | undefined;
    try {
      if (!this.store.serves(market, epoch)) {
        throw new SyncError(SyncErrorCode.NOT_SERVED, `we do not sync ${market} epoch ${epoch}`);
      }
      const rec = new Reconciler(this.snapshot(market, epoch), "client", this.reconcileParams());
      const stream = await this.dial(target, clock.signal);
      io = new FramedStream(stream);
      const onAbort = (): void => stream.abort(clock.signal.reason as Error);
      clock.signal.addEventListener("abort", onAbort, { once: true });
      try {
        await this.runClient(io, rec, report, market, epoch, clock.signal, label);
      } catch (err) {
        throw await this.peerReason(io, err);
      }
      clock.signal.removeEventListener("abort", onAbort);
      await io.close(this.limits.closeTimeoutMs);
      this.counters.sessions.outbound.ok++;
      return report;
    } catch (err) {
      const e = asSyncError(err, clock.signal);
      this.counters.sessions.outbound.failed++;
      this.counters.errors[e.code]++;
      reportViolation(this.events, e, label);
      if (io !== undefined) {
        // tell the server why, unless it told us
        if (!e.remote && e.code !== SyncErrorCode.TIMEOUT && e.code !== SyncErrorCode.ABORTED) {
          io.trySend({ type: MessageType.ERROR, code: e.code, reason: e.detail });
        }
        io.stream.abort(e);
      }
      throw e;
    } finally {
      if (io !== undefined) {
        report.bytesSent = io.bytesSent;
        report.bytesReceived = io.bytesReceived;
        this.counters.bytesSent += io.bytesSent;
        this.counters.bytesReceived += io.bytesReceived;
      }
      this.counters.rounds += report.rounds;
      report.durationMs = performance.now() - t0;
      clock.dispose();
      this.sessions.delete(clock);
      this.outbound--;
    }
  }

  /**
   * When our write fails because the peer closed the stream, the peer has usually told us why in an
   * ERROR frame that we have not read yet (e.g. BUSY right after the stream opened): prefer that.
   */
  private async peerReason(io: FramedStream, err: unknown): Promise<unknown> {
    if (!(err instanceof SyncError) || err.code !== SyncErrorCode.STREAM_CLOSED || err.remote) return err;
    try {
      const msg = await io.read();
      if (msg?.type === MessageType.ERROR) return new SyncError(msg.code, msg.reason, { remote: true });
    } catch {
      // nothing readable: the original error stands
    }
    return err;
  }

  private async dial(target: PeerId | Multiaddr, signal: AbortSignal): Promise<Stream> {
    try {
      return await this.host.dialProtocol(target, SYNC_PROTOCOL, { signal } satisfies AbortOptions);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new SyncError(SyncErrorCode.DIAL_FAILED, String((err as Error)?.message ?? err), { cause: err });
    }
  }

  /** Reads the next message; an ERROR frame becomes the peer's SyncError, EOF a STREAM_CLOSED. */
  private async expect<T extends SyncMessage["type"]>(
    io: FramedStream,
    type: T,
  ): Promise<Extract<SyncMessage, { type: T }>> {
    const msg = await io.read();
    if (msg === undefined) throw new SyncError(SyncErrorCode.STREAM_CLOSED, "peer closed the stream");
    if (msg.type === MessageType.ERROR) throw new SyncError(msg.code, msg.reason, { remote: true });
    if (msg.type !== type) {
      throw new SyncError(SyncErrorCode.PROTOCOL_VIOLATION, `expected message ${type}, got ${msg.type}`);
    }
    return msg as Extract<SyncMessage, { type: T }>;
  }

  private async runClient(
    io: FramedStream,
    rec: Reconciler,
    report: SyncReport,
    market: Hex,
    epoch: bigint,
    signal: AbortSignal,
    from: string,
  ): Promise<void> {
    // 1. reconcile ranges until nothing is left
    let ranges = rec.initialRanges();
    for (;;) {
      if (report.rounds >= this.limits.maxRounds) {
        throw new SyncError(SyncErrorCode.TOO_MANY_ROUNDS, `no agreement after ${report.rounds} rounds`);
      }
      await io.write(
        report.rounds === 0
          ? { type: MessageType.OPEN, market, epoch, ranges }
          : { type: MessageType.RECONCILE, ranges },
        signal,
      );
      report.rounds++;
      const reply = await this.expect(io, MessageType.RECONCILE);
      ranges = rec.respond(reply.ranges);
      if (ranges.length === 0) break;
    }
    const need = [...rec.need].sort(compareHex);
    const have = [...rec.have].sort(compareHex);
    report.missingLocal = need.length;
    report.missingRemote = have.length;
    const batchSize = Math.min(this.limits.maxOrdersPerBatch, MAX_ORDERS_PER_BATCH);

    // 2. fetch what we lack
    for (const batch of batches(need, batchSize)) {
      await io.write({ type: MessageType.FETCH, ids: flatIds(batch) }, signal);
      const { orders } = await this.expect(io, MessageType.ORDERS);
      if (orders.length > batch.length) {
        throw new SyncError(
          SyncErrorCode.PROTOCOL_VIOLATION,
          `${orders.length} orders for ${batch.length} ids`,
        );
      }
      report.fetched += orders.length;
      this.counters.ordersFetched += orders.length;
      if (orders.length > 0) {
        const r = await this.accept(market, epoch, [...orders], from);
        report.fetchedAccepted += r.accepted;
        report.fetchedRejected += r.rejected;
      }
    }

    // 3. push what the peer lacks
    for (const batch of batches(have, batchSize)) {
      const orders = this.store
        .wire(market, epoch, batch)
        .filter((o) => o instanceof Uint8Array && o.length > 0 && o.length <= MAX_SYNC_ORDER_BYTES)
        .slice(0, batchSize);
      if (orders.length === 0) continue;
      await io.write({ type: MessageType.PUSH, orders }, signal);
      const ack = await this.expect(io, MessageType.PUSH_ACK);
      report.pushed += orders.length;
      report.pushedAccepted += ack.accepted;
      report.pushedRejected += ack.rejected;
      this.counters.ordersPushed += orders.length;
    }

    await io.write({ type: MessageType.DONE }, signal);
  }

  // -------------------------------------------------------------------------------------------------
  // server

  private refuse(reason: SyncRefusalReason, peer: string): void {
    this.counters.sessions.inbound.refused++;
    this.counters.refusedByReason[reason]++;
    this.events.refused?.(reason, peer);
  }

  private async onInbound(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    const io = new FramedStream(stream);
    const clock = new SessionClock(this.limits.sessionTimeoutMs);
    const admission: ReturnType<InboundSlots["admit"]> = this.started
      ? this.slots.admit(peer, () => {
          this.refuse("evicted", peer);
          clock.abort(new SyncError(SyncErrorCode.BUSY, "session evicted for a better-scored peer"));
        })
      : { ok: false, reason: "stopped" };
    if (!admission.ok) {
      clock.dispose();
      this.refuse(admission.reason, peer);
      io.trySend({ type: MessageType.ERROR, code: SyncErrorCode.BUSY, reason: "session limit reached" });
      this.counters.bytesSent += io.bytesSent;
      await io.close(this.limits.closeTimeoutMs);
      return;
    }
    const slot: Slot = admission.slot;
    this.sessions.add(clock);
    const onAbort = (): void => {
      const reason = clock.signal.reason as SyncError;
      io.trySend({ type: MessageType.ERROR, code: reason.code, reason: reason.detail });
      stream.abort(reason);
    };
    clock.signal.addEventListener("abort", onAbort, { once: true });
    try {
      await this.runServer(io, peer, clock);
      clock.signal.removeEventListener("abort", onAbort);
      await io.close(this.limits.closeTimeoutMs);
      this.counters.sessions.inbound.ok++;
    } catch (err) {
      clock.signal.removeEventListener("abort", onAbort);
      const e = asSyncError(err, clock.signal);
      this.counters.sessions.inbound.failed++;
      this.counters.errors[e.code]++;
      reportViolation(this.events, e, peer);
      if (!e.remote && !clock.signal.aborted) {
        io.trySend({ type: MessageType.ERROR, code: e.code, reason: e.detail });
        await io.close(this.limits.closeTimeoutMs);
      } else {
        stream.abort(e);
      }
    } finally {
      this.counters.bytesSent += io.bytesSent;
      this.counters.bytesReceived += io.bytesReceived;
      clock.dispose();
      this.sessions.delete(clock);
      this.slots.release(slot);
    }
  }

  /**
   * The client's next request, within requestTimeoutMs. Attack defeated: a peer opening sessions and
   * then sending nothing (or one message now and then) to hold slots until the session timeout.
   */
  private async nextRequest(io: FramedStream, clock: SessionClock): Promise<SyncMessage | undefined> {
    const ms = this.limits.requestTimeoutMs;
    const timer = setTimeout(() => {
      clock.abort(new SyncError(SyncErrorCode.TIMEOUT, `no request within ${ms} ms`));
    }, ms);
    try {
      return await io.read();
    } finally {
      clearTimeout(timer);
    }
  }

  private async runServer(io: FramedStream, peer: string, clock: SessionClock): Promise<void> {
    const signal = clock.signal;
    let session: { market: Hex; epoch: bigint; rec: Reconciler } | undefined;
    let rounds = 0;
    let fetchedIds = 0;
    let pushedOrders = 0;
    const violation = (detail: string) => new SyncError(SyncErrorCode.PROTOCOL_VIOLATION, detail);
    for (;;) {
      const msg = await this.nextRequest(io, clock);
      if (msg === undefined) throw new SyncError(SyncErrorCode.STREAM_CLOSED, "peer closed before DONE");
      switch (msg.type) {
        case MessageType.OPEN: {
          if (session !== undefined) throw violation("second OPEN");
          if (!this.store.serves(msg.market, msg.epoch)) {
            throw new SyncError(SyncErrorCode.NOT_SERVED, `not syncing ${msg.market} epoch ${msg.epoch}`);
          }
          const snapshot = this.snapshot(msg.market, msg.epoch);
          session = {
            market: msg.market,
            epoch: msg.epoch,
            rec: new Reconciler(snapshot, "server", this.reconcileParams()),
          };
          rounds++;
          await io.write({ type: MessageType.RECONCILE, ranges: session.rec.respond(msg.ranges) }, signal);
          break;
        }
        case MessageType.RECONCILE: {
          if (session === undefined) throw violation("RECONCILE before OPEN");
          if (++rounds > this.limits.maxRounds) {
            throw new SyncError(SyncErrorCode.TOO_MANY_ROUNDS, `more than ${this.limits.maxRounds} rounds`);
          }
          await io.write({ type: MessageType.RECONCILE, ranges: session.rec.respond(msg.ranges) }, signal);
          break;
        }
        case MessageType.FETCH: {
          if (session === undefined) throw violation("FETCH before OPEN");
          const k = msg.ids.length / ID_BYTES;
          fetchedIds += k;
          // an honest client asks for at most the ids we told it about, each once
          if (fetchedIds > session.rec.snapshot.count) {
            throw new SyncError(
              SyncErrorCode.LIMIT_EXCEEDED,
              `fetched ${fetchedIds} ids, we hold ${session.rec.snapshot.count}`,
            );
          }
          const ids: Hex[] = [];
          for (let i = 0; i < k; i++)
            ids.push(bytesToHex(msg.ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES)));
          const orders = this.store
            .wire(session.market, session.epoch, ids)
            .filter((o) => o instanceof Uint8Array && o.length > 0 && o.length <= MAX_SYNC_ORDER_BYTES)
            .slice(0, k);
          this.counters.ordersServed += orders.length;
          await io.write({ type: MessageType.ORDERS, orders }, signal);
          break;
        }
        case MessageType.PUSH: {
          if (session === undefined) throw violation("PUSH before OPEN");
          pushedOrders += msg.orders.length;
          if (pushedOrders > this.limits.maxPushedOrdersPerSession) {
            throw new SyncError(
              SyncErrorCode.LIMIT_EXCEEDED,
              `more than ${this.limits.maxPushedOrdersPerSession} pushed orders`,
            );
          }
          this.counters.ordersReceivedByPush += msg.orders.length;
          const { market, epoch } = session;
          const gate = admitPushed(
            {
              timeVerdict: () => this.store.admitPush?.(market, epoch) ?? null,
              takeRate: this.takeRate,
              events: this.events,
            },
            msg.orders,
            peer,
          );
          this.counters.pushRefusedByTime += gate.refusedByTime;
          this.counters.pushRateLimited += gate.rateLimited;
          const { admitted, rejected } = gate;
          const r =
            admitted.length > 0
              ? await this.accept(session.market, session.epoch, admitted, peer)
              : { accepted: 0, rejected: 0 };
          await io.write(
            {
              type: MessageType.PUSH_ACK,
              accepted: clampCount(r.accepted),
              rejected: clampCount(r.rejected + rejected),
            },
            signal,
          );
          break;
        }
        case MessageType.DONE:
          return;
        case MessageType.ERROR:
          throw new SyncError(msg.code, msg.reason, { remote: true });
        default:
          throw violation(`message ${msg.type} is not a request`);
      }
    }
  }
}
