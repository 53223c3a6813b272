// What the sync service tells the node about peers' behaviour (node/abuse.ts counts, logs and strikes):
// refused or evicted sessions, orders dropped (pushed or fetched), sessions a peer ended by breaking the
// protocol; and the admission of pushed orders (gossip's time window and per-peer rate budget).
import { DropReason, dropReasonOf } from "../abuse.ts";
import { type SyncError, SyncErrorCode } from "./errors.ts";
import type { SlotRefusal } from "./slots.ts";

/** Why an inbound session was turned away: no slot (per peer, global), evicted, or not started. */
export type SyncRefusalReason = SlotRefusal | "evicted";

export interface SyncEvents {
  /** An inbound session refused, or a running one evicted for a better-scored peer. */
  refused?(reason: SyncRefusalReason, peer: string): void;
  /** `n` orders from `peer` dropped (pushed or fetched), or one session ended by its violation. */
  dropped?(reason: DropReason, peer: string, n: number, detail?: string): void;
}

/** Reports the store's drops (`${action}|${code}` → count) of orders received from `peer`. */
export function reportDrops(
  events: SyncEvents,
  drops: Readonly<Record<string, number>> | undefined,
  peer: string,
): void {
  for (const [key, n] of Object.entries(drops ?? {})) {
    const [action, code] = key.split("|");
    const reason = dropReasonOf(action === "REJECT" ? "REJECT" : "IGNORE", code ?? "");
    if (reason !== null && n > 0) events.dropped?.(reason, peer, n, code);
  }
}

/** A session the peer ended by breaking the protocol: one dropped message, and a strike. */
export function reportViolation(events: SyncEvents, err: SyncError, peer: string): void {
  if (err.remote) return;
  const reason =
    err.code === SyncErrorCode.MALFORMED
      ? DropReason.MALFORMED
      : err.code === SyncErrorCode.FRAME_TOO_LARGE
        ? DropReason.OVERSIZE
        : err.code === SyncErrorCode.LIMIT_EXCEEDED ||
            err.code === SyncErrorCode.TOO_MANY_ROUNDS ||
            err.code === SyncErrorCode.PROTOCOL_VIOLATION
          ? DropReason.INVALID
          : null;
  if (reason !== null) events.dropped?.(reason, peer, 1, `sync session: ${err.code}`);
}

export interface PushGateInit {
  /** The time rule (push-window.ts) for (market, epoch) now: null admits, else the refusal verdict. */
  readonly timeVerdict: () => { action: "IGNORE" | "REJECT"; code: string } | null;
  /** One token of the peer's (gossip) rate budget. */
  readonly takeRate: (peer: string) => boolean;
  readonly events: SyncEvents;
}

export interface PushAdmission {
  /** The orders to validate. */
  readonly admitted: Uint8Array[];
  /** Orders refused with a REJECT verdict (reported to the pusher in PUSH_ACK). */
  readonly rejected: number;
  readonly refusedByTime: number;
  readonly rateLimited: number;
}

/**
 * The orders of a PUSH that may be validated: none outside the gossip time window (the last look, see
 * push-window.ts), and no more than the peer's rate budget allows (the budget gossip spends too: one
 * peer pushed 30k orders per epoch through sync before).
 */
export function admitPushed(init: PushGateInit, orders: readonly Uint8Array[], peer: string): PushAdmission {
  const refusal = init.timeVerdict();
  if (refusal !== null) {
    const reason = dropReasonOf(refusal.action, refusal.code) ?? DropReason.LATE;
    init.events.dropped?.(reason, peer, orders.length, `pushed: ${refusal.code}`);
    return {
      admitted: [],
      rejected: refusal.action === "REJECT" ? orders.length : 0,
      refusedByTime: orders.length,
      rateLimited: 0,
    };
  }
  let granted = 0;
  while (granted < orders.length && init.takeRate(peer)) granted++;
  const rateLimited = orders.length - granted;
  if (rateLimited > 0) {
    init.events.dropped?.(DropReason.RATE_LIMITED, peer, rateLimited, "pushed orders over the peer's rate");
  }
  return { admitted: orders.slice(0, granted), rejected: 0, refusedByTime: 0, rateLimited };
}
