// Inbound sync session slots: at most `maxPerPeer` per peer and `maxTotal` in all, and when all are taken
// a better peer may take the slot of a worse one.
//
// Attack defeated: sync-slot exhaustion. 9 throwaway identities holding 2 streams each filled the 16
// inbound slots of every node, and honest sync got BUSY for the whole attack. Now, when every slot is
// taken, a new session evicts the running session of the lowest-scored peer (gossipsub score: honest
// peers in the mesh that deliver orders score above 0, fresh identities score 0, abusers below 0) if
// - the newcomer's score is higher, or
// - the scores are equal and the victim has held its slot for at least `minEvictAgeMs` (honest sessions
//   take well under a second; a slot held longer by a peer no better than the newcomer is up for grabs,
//   so identities with no history that hold slots idle only ever displace one another).
// Ties between victims: lowest score first, then the oldest session.

export type SlotRefusal = "per_peer" | "global" | "stopped";

export interface SlotOptions {
  readonly maxPerPeer: number;
  readonly maxTotal: number;
  readonly minEvictAgeMs: number;
  /** The peer's standing (gossipsub score); non-finite values count as 0. */
  readonly score: (peer: string) => number;
  readonly now: () => number;
}

export interface Slot {
  readonly peer: string;
  readonly startedMs: number;
  /** Ends the session holding the slot (called once, when it is evicted). */
  readonly evict: () => void;
}

export type Admission =
  | { readonly ok: true; readonly slot: Slot; readonly evicted?: Slot }
  | { readonly ok: false; readonly reason: SlotRefusal };

export class InboundSlots {
  private readonly opts: SlotOptions;
  private readonly slots = new Set<Slot>();
  private readonly byPeer = new Map<string, number>();

  constructor(opts: SlotOptions) {
    this.opts = opts;
  }

  get size(): number {
    return this.slots.size;
  }

  perPeer(peer: string): number {
    return this.byPeer.get(peer) ?? 0;
  }

  private score(peer: string): number {
    const s = this.opts.score(peer);
    return Number.isFinite(s) ? s : 0;
  }

  /** Takes a slot for `peer`, evicting a worse session when all are taken; or says why not. */
  admit(peer: string, evict: () => void): Admission {
    if (this.perPeer(peer) >= this.opts.maxPerPeer) return { ok: false, reason: "per_peer" };
    let evicted: Slot | undefined;
    if (this.slots.size >= this.opts.maxTotal) {
      evicted = this.victimFor(peer);
      if (evicted === undefined) return { ok: false, reason: "global" };
      this.release(evicted);
      evicted.evict();
    }
    const slot: Slot = { peer, startedMs: this.opts.now(), evict };
    this.slots.add(slot);
    this.byPeer.set(peer, this.perPeer(peer) + 1);
    return evicted === undefined ? { ok: true, slot } : { ok: true, slot, evicted };
  }

  /** Frees a slot; idempotent (an evicted slot is freed at eviction). */
  release(slot: Slot): void {
    if (!this.slots.delete(slot)) return;
    const n = this.perPeer(slot.peer) - 1;
    if (n > 0) this.byPeer.set(slot.peer, n);
    else this.byPeer.delete(slot.peer);
  }

  /** All slots, for stop(). */
  all(): Slot[] {
    return [...this.slots];
  }

  private victimFor(peer: string): Slot | undefined {
    const mine = this.score(peer);
    const now = this.opts.now();
    let best: { slot: Slot; score: number } | undefined;
    for (const slot of this.slots) {
      if (slot.peer === peer) continue;
      const s = this.score(slot.peer);
      const eligible = s < mine || (s === mine && now - slot.startedMs >= this.opts.minEvictAgeMs);
      if (!eligible) continue;
      if (
        best === undefined ||
        s < best.score ||
        (s === best.score && slot.startedMs < best.slot.startedMs)
      ) {
        best = { slot, score: s };
      }
    }
    return best?.slot;
  }
}
