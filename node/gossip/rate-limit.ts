// Per-peer token buckets. Time is passed in, so the limiter is testable without a clock.

export class PeerRateLimiter {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  private readonly maxPeers: number;

  constructor(ratePerS: number, burst: number, maxPeers = 10_000) {
    this.ratePerMs = ratePerS / 1000;
    this.burst = burst;
    this.maxPeers = maxPeers;
  }

  /** Takes `cost` tokens for `peer` at time `nowMs`; false (and takes none) if the peer is over its rate. */
  take(peer: string, nowMs: number, cost = 1): boolean {
    let b = this.buckets.get(peer);
    if (!b) {
      if (this.buckets.size >= this.maxPeers) this.evictOldest();
      b = { tokens: this.burst, atMs: nowMs };
      this.buckets.set(peer, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + (nowMs - b.atMs) * this.ratePerMs);
    b.atMs = nowMs;
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  forget(peer: string): void {
    this.buckets.delete(peer);
  }

  private evictOldest(): void {
    const first = this.buckets.keys().next();
    if (!first.done) this.buckets.delete(first.value);
  }
}
