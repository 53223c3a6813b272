// Peer abuse: every dropped message counted by reason and source, refused sync sessions counted, abuse
// logged at WARN (rate-limited: one line per peer and reason per interval, with the number of lines
// suppressed since), and peers that keep sending what no honest peer sends expelled: disconnected and
// banned for a while (ban-list.ts; the connection gater in host.ts enforces the ban).
//
// Attacks defeated:
// - invisible abuse: duplicates, frames over 1 MiB, malformed and badly signed orders, rate-limited
//   floods, late pushes and refused sync sessions were in no counter and logged at debug only;
// - an abuser that is never expelled: a peer below the gossipsub graylist threshold stayed connected
//   (peers.ts polls scores and calls expel), and a peer sending malformed/oversize/badly signed data or
//   repeating messages earned no consequence (strikes below);
// - log flooding by the abuser itself: lines are rate-limited per (peer, reason), and the tables behind
//   the rate limit and the strikes are bounded.
import { Counter, Gauge, type Registry } from "prom-client";
import type { BanList } from "./ban-list.ts";
import type { Logger } from "./logger.ts";

/** Why a message (or sync session) was dropped. */
export const DropReason = {
  DUPLICATE: "duplicate",
  /** A peer repeating a message it already sent us (honest peers send each message once). */
  DUPLICATE_FLOOD: "duplicate_flood",
  OVERSIZE: "oversize",
  MALFORMED: "malformed",
  BAD_SIGNATURE: "bad_signature",
  /** Another deterministic REJECT of the protocol (zero amounts, unknown market, ...). */
  INVALID: "invalid",
  RATE_LIMITED: "rate_limited",
  /** An order for an epoch that has closed (or is frozen) at our clock. */
  LATE: "late",
  /** An order for an epoch that has not opened yet at our clock. */
  EARLY: "early",
  /**
   * For an epoch outside the acceptance window (REJECT EPOCH_OUT_OF_WINDOW): depends on the clocks of
   * both sides, so an honest peer whose clock or session runs long can send it; never a strike.
   */
  OUT_OF_WINDOW: "out_of_window",
  QUEUE_FULL: "queue_full",
  REFUSED_SYNC: "refused_sync",
  /** Another IGNORE (not served, internal error). */
  IGNORED: "ignored",
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export type DropSource = "gossip" | "sync";

/** Why an inbound sync session was turned away. */
export type SyncRefusal = "per_peer" | "global" | "evicted" | "stopped";

/** Drop reasons only a faulty or malicious peer produces: each is a strike against it. */
const STRIKES: ReadonlySet<DropReason> = new Set<DropReason>([
  DropReason.DUPLICATE_FLOOD,
  DropReason.OVERSIZE,
  DropReason.MALFORMED,
  DropReason.BAD_SIGNATURE,
  DropReason.INVALID,
]);

/** Drop reasons logged at WARN (rate-limited). Duplicates, queue-full and early/late gossip are normal
 * under load or small clock skew and are only counted. */
const LOGGED: ReadonlySet<DropReason> = new Set<DropReason>([
  ...STRIKES,
  DropReason.RATE_LIMITED,
  DropReason.REFUSED_SYNC,
]);

const SIGNATURE_CODES = new Set([
  "BAD_SIGNATURE_V",
  "BAD_SIGNATURE_RS",
  "HIGH_S",
  "UNRECOVERABLE_SIGNATURE",
  "SIGNER_MISMATCH",
]);

/** The drop reason of a gossip/sync verdict code; null for ACCEPT. */
export function dropReasonOf(action: "ACCEPT" | "IGNORE" | "REJECT", code: string): DropReason | null {
  if (action === "ACCEPT") return null;
  if (code === "DUPLICATE" || code === "KNOWN") return DropReason.DUPLICATE;
  if (code === "OVERSIZE") return DropReason.OVERSIZE;
  if (code === "MALFORMED") return DropReason.MALFORMED;
  if (SIGNATURE_CODES.has(code)) return DropReason.BAD_SIGNATURE;
  if (code === "RATE_LIMITED") return DropReason.RATE_LIMITED;
  if (code === "QUEUE_FULL") return DropReason.QUEUE_FULL;
  if (code === "EPOCH_CLOSED" || code === "EPOCH_FROZEN") return DropReason.LATE;
  if (code === "EPOCH_NOT_YET_OPEN") return DropReason.EARLY;
  if (code === "EPOCH_OUT_OF_WINDOW") return DropReason.OUT_OF_WINDOW;
  return action === "REJECT" ? DropReason.INVALID : DropReason.IGNORED;
}

/** Strikes within STRIKE_WINDOW_MS that get a peer expelled. */
export const DEFAULT_STRIKE_LIMIT = 16;
export const DEFAULT_STRIKE_WINDOW_MS = 60_000;
/** One WARN line per (peer, reason) per this interval. */
export const DEFAULT_LOG_INTERVAL_MS = 60_000;
/** Bound of the per-peer tables (strikes, log rate limit). */
export const DEFAULT_MAX_TRACKED = 4_096;

export interface AbuseMonitorOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  readonly bans: BanList;
  readonly now?: () => number;
  readonly strikeLimit?: number;
  readonly strikeWindowMs?: number;
  readonly logIntervalMs?: number;
  readonly maxTracked?: number;
}

interface LogEntry {
  lastMs: number;
  suppressed: number;
}

/** Insertion-ordered map with a size bound: the oldest entry makes room. */
function boundedSet<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const first = map.keys().next();
    if (!first.done) map.delete(first.value);
  }
  map.set(key, value);
}

export class AbuseMonitor {
  readonly bans: BanList;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly strikeLimit: number;
  private readonly strikeWindowMs: number;
  private readonly logIntervalMs: number;
  private readonly maxTracked: number;
  private readonly strikes = new Map<string, { count: number; sinceMs: number }>();
  private readonly logged = new Map<string, LogEntry>();
  private disconnect: (peer: string) => Promise<void> = async () => {};
  private readonly drops: Counter<"reason" | "source">;
  private readonly refused: Counter<"reason">;
  private readonly expulsions: Counter<"reason">;
  private readonly suppressedLines: Counter;

  constructor(opts: AbuseMonitorOptions) {
    this.bans = opts.bans;
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.strikeLimit = opts.strikeLimit ?? DEFAULT_STRIKE_LIMIT;
    this.strikeWindowMs = opts.strikeWindowMs ?? DEFAULT_STRIKE_WINDOW_MS;
    this.logIntervalMs = opts.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    this.maxTracked = opts.maxTracked ?? DEFAULT_MAX_TRACKED;
    const registers = [opts.registry];
    this.drops = new Counter({
      name: "smartmarket_p2p_drops_total",
      help: "Messages (orders, announcements, RPC frames, sync batches' orders) dropped, by reason and source",
      labelNames: ["reason", "source"],
      registers,
    });
    this.refused = new Counter({
      name: "smartmarket_sync_refused_total",
      help: "Inbound sync sessions turned away or evicted, by reason (per_peer, global, evicted, stopped)",
      labelNames: ["reason"],
      registers,
    });
    this.expulsions = new Counter({
      name: "smartmarket_peer_expulsions_total",
      help: "Peers disconnected and temporarily banned, by reason",
      labelNames: ["reason"],
      registers,
    });
    const bans = this.bans;
    new Gauge({
      name: "smartmarket_peer_bans",
      help: "Peers banned right now (the connection gater refuses them)",
      registers,
      collect() {
        this.set(bans.size);
      },
    });
    this.suppressedLines = new Counter({
      name: "smartmarket_abuse_log_suppressed_total",
      help: "Abuse WARN lines not written because of the per-peer, per-reason rate limit",
      registers,
    });
  }

  /** How expel() disconnects a peer (the node sets it once the host exists). */
  setDisconnect(fn: (peer: string) => Promise<void>): void {
    this.disconnect = fn;
  }

  /**
   * Counts `n` dropped orders or messages; a reason only abusers produce is one strike against `peer` per
   * call (a batch, e.g. one sync PUSH, is one strike: a single honest session that went wrong must not
   * reach the limit at once) — except on gossip, where a message of n orders (a bundle) weighs n strikes.
   * Attack defeated: bundles of 64 orders, each ending in a forged one, made a node verify 64 signatures
   * per strike (and per invalid delivery in gossipsub's score), so a throwaway identity cost 64 times more
   * before it was expelled. An honest relay forwards only bundles it accepted: it never earns these.
   */
  drop(reason: DropReason, source: DropSource, peer?: string, n = 1, detail?: string): void {
    if (n <= 0) return;
    this.drops.inc({ reason, source }, n);
    const fields = { reason, source, count: n, ...(detail === undefined ? {} : { detail }) };
    if (peer === undefined) {
      if (reason === DropReason.QUEUE_FULL || LOGGED.has(reason)) {
        this.warn("*", reason, "p2p messages dropped", fields);
      }
      return;
    }
    if (LOGGED.has(reason)) this.warn(peer, reason, "peer abuse: messages dropped", { peer, ...fields });
    if (STRIKES.has(reason)) this.strike(peer, reason, source === "gossip" ? n : 1);
  }

  /** An inbound sync session turned away (or evicted for a better-scored peer). */
  syncRefused(reason: SyncRefusal, peer: string): void {
    this.refused.inc({ reason });
    this.drops.inc({ reason: DropReason.REFUSED_SYNC, source: "sync" });
    this.warn(peer, `sync_${reason}`, "sync session refused", { peer, reason });
  }

  /** Strikes against a peer; at strikeLimit within strikeWindowMs it is expelled. */
  strike(peer: string, reason: string, n = 1): void {
    const now = this.now();
    let s = this.strikes.get(peer);
    if (s === undefined || now - s.sinceMs > this.strikeWindowMs) {
      s = { count: 0, sinceMs: now };
      boundedSet(this.strikes, peer, s, this.maxTracked);
    }
    s.count += n;
    if (s.count >= this.strikeLimit) {
      this.strikes.delete(peer);
      this.expel(peer, reason);
    }
  }

  /** Disconnects and bans a peer. Counted and logged once per ban; a banned peer is only disconnected. */
  expel(peer: string, reason: string, fields: Record<string, unknown> = {}): void {
    if (!this.bans.isBanned(peer)) {
      this.bans.ban(peer);
      this.expulsions.inc({ reason });
      this.log.warn("peer expelled: disconnected and banned", {
        peer,
        reason,
        banS: Math.round(this.bans.banMs / 1000),
        ...fields,
      });
    }
    this.disconnect(peer).catch((err) => {
      this.warn(peer, "disconnect_failed", "could not disconnect an expelled peer", { peer, err });
    });
  }

  isBanned(peer: string): boolean {
    return this.bans.isBanned(peer);
  }

  /** A WARN line, at most one per (peer, reason) per logIntervalMs; says how many were suppressed. */
  warn(peer: string, reason: string, msg: string, fields: Record<string, unknown>): void {
    const key = `${peer}|${reason}`;
    const now = this.now();
    const e = this.logged.get(key);
    if (e !== undefined && now - e.lastMs < this.logIntervalMs) {
      e.suppressed++;
      this.suppressedLines.inc();
      return;
    }
    const suppressed = e?.suppressed ?? 0;
    boundedSet(this.logged, key, { lastMs: now, suppressed: 0 }, this.maxTracked);
    this.log.warn(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
  }
}
