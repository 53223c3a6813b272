// Temporarily banned peer ids, bounded. The libp2p connection gater (host.ts) consults it, so a banned
// peer can neither connect to us nor be dialled by us until its ban expires.
//
// Attack defeated: a peer that was expelled for abuse (graylisted score, malformed or oversize data,
// duplicate floods) reconnecting at once and starting over. The list is bounded (a sybil cannot make
// us hold an unbounded set of ids): when full, the ban that expires first makes room.

export const DEFAULT_BAN_MS = 10 * 60_000;
export const DEFAULT_MAX_BANS = 4_096;

export interface BanListOptions {
  readonly banMs?: number;
  readonly maxBans?: number;
  readonly now?: () => number;
}

export class BanList {
  readonly banMs: number;
  private readonly maxBans: number;
  private readonly now: () => number;
  /** peer id → ban end (ms). */
  private readonly until = new Map<string, number>();

  constructor(opts: BanListOptions = {}) {
    this.banMs = opts.banMs ?? DEFAULT_BAN_MS;
    this.maxBans = Math.max(1, opts.maxBans ?? DEFAULT_MAX_BANS);
    this.now = opts.now ?? Date.now;
  }

  /** Bans `peer` for banMs from now (extends a running ban). */
  ban(peer: string): void {
    const end = this.now() + this.banMs;
    if (!this.until.has(peer) && this.until.size >= this.maxBans) this.evict();
    this.until.delete(peer); // re-insert: the map stays ordered by ban start
    this.until.set(peer, end);
  }

  isBanned(peer: string): boolean {
    const end = this.until.get(peer);
    if (end === undefined) return false;
    if (end > this.now()) return true;
    this.until.delete(peer);
    return false;
  }

  unban(peer: string): void {
    this.until.delete(peer);
  }

  /** Bans still running (expired ones are dropped first). */
  get size(): number {
    this.prune();
    return this.until.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [peer, end] of this.until) if (end <= now) this.until.delete(peer);
  }

  private evict(): void {
    this.prune();
    if (this.until.size < this.maxBans) return;
    // every ban lasts banMs, so the oldest insertion expires first
    const first = this.until.keys().next();
    if (!first.done) this.until.delete(first.value);
  }
}
