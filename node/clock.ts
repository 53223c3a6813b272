// The node's clock, held to the chain's. Epochs are the contract's (it reads block.timestamp), so a node
// whose host clock is off closes epochs at the wrong moment: measured, a node at −2 s refused a quarter
// of the market's orders as EPOCH_NOT_YET_OPEN (its own devices' included), and a node at +2 s took its
// submitter turns 2 s early and settled 8 of 10 epochs. The node therefore measures its offset against
// the chain's time (the timestamp of the pending block, which the RPC node sets to its own now) and runs
// on host time + that offset: skew up to MAX_CLOCK_CORRECTION_MS is corrected (agreement holds, no turn
// comes early), and any skew above CLOCK_SKEW_WARN_MS is said in `status`, in `/metrics` and at WARN.
//
// The estimate: a pending block stamped s (whole seconds) that the node asked for at host time t0 and
// heard back at t1 bounds the offset o = chain − host to [s·1000 − t1, s·1000 + 999 − t0]. The bounds of
// all samples since the last reset intersect to a shrinking interval (each sample lands at another phase
// of the second: samples are CLOCK_SAMPLE_INTERVAL_MS apart, not a multiple of 1000). Clocks drift, so
// before each intersection the interval is widened by MAX_CLOCK_DRIFT_PPM of the time since the last
// sample (instead of being thrown away, which would re-open ~1 s of error). The correction is the point
// of that interval nearest to zero: a clock the chain does not contradict is left alone, and a skewed
// one is moved just enough. An empty intersection (the host clock jumped, or the chain's did) starts a
// new interval from the latest sample.
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "./logger.ts";

/** Skew corrected silently up to here, warned about beyond (both directions). */
export const CLOCK_SKEW_WARN_MS = 1000;
/** Skew corrected up to this much; beyond it the node does not follow the chain and says so at ERROR. */
export const MAX_CLOCK_CORRECTION_MS = 30_000;
/** How often the chain's time is sampled: not a multiple of 1000, so samples fall at drifting phases. */
export const CLOCK_SAMPLE_INTERVAL_MS = 1730;
/** How fast the host and chain clocks may drift apart: the interval widens this much per elapsed ms. */
export const MAX_CLOCK_DRIFT_PPM = 200;
/** Consecutive failed readings of the chain's time after which the node says its clock is unknown. */
export const CLOCK_FAILURES_WARN = 5;
/**
 * At start: this many samples this far apart (not a divisor of 1000, so that they fall at spread phases
 * of the chain's second), which narrows the interval to about the round trip plus the spacing before
 * the node's first epoch.
 */
const START_SAMPLES = 9;
const START_SAMPLE_SPACING_MS = 130;
/** One WARN line about the same skew at most this often. */
const SKEW_LOG_INTERVAL_MS = 60_000;
/** A chain time read that takes longer than this is dropped (its bounds would be too wide to help). */
const SAMPLE_TIMEOUT_MS = 2000;

/** One reading of the chain's time: host time before and after the request, and the chain's second. */
export interface ClockSample {
  readonly sentMs: number;
  readonly receivedMs: number;
  readonly chainS: bigint;
}

/** What the node knows about its clock against the chain's. */
export interface ClockStatus {
  /** The offset applied to host time, ms (chain − host, within ±MAX_CLOCK_CORRECTION_MS). */
  readonly correctionMs: number;
  /** The measured offset chain − host: lower and upper bound, ms; null before the first sample. */
  readonly skewMs: { readonly low: number; readonly high: number } | null;
  /** Whether the measured skew exceeds CLOCK_SKEW_WARN_MS, or could not be corrected. */
  readonly warning: string | null;
}

/** The interval of offsets (chain − host) consistent with every sample since the last reset. */
export class OffsetInterval {
  private low = Number.NEGATIVE_INFINITY;
  private high = Number.POSITIVE_INFINITY;
  private lastMs = 0;
  private count = 0;

  add(s: ClockSample): void {
    const lo = Number(s.chainS) * 1000 - s.receivedMs;
    const hi = Number(s.chainS) * 1000 + 999 - s.sentMs;
    if (this.count > 0) {
      // What the clocks may have drifted since the last sample (rounded up: the interval only widens).
      const drift = Math.ceil((Math.max(0, s.receivedMs - this.lastMs) * MAX_CLOCK_DRIFT_PPM) / 1_000_000);
      this.low -= drift;
      this.high += drift;
    }
    this.lastMs = s.receivedMs;
    if (this.count === 0 || lo > this.high || hi < this.low) {
      this.low = lo;
      this.high = hi;
      this.count = 1;
      return;
    }
    this.low = Math.max(this.low, lo);
    this.high = Math.min(this.high, hi);
    this.count += 1;
  }

  /** The bounds, or null before the first sample. */
  bounds(): { low: number; high: number } | null {
    return this.count === 0 ? null : { low: this.low, high: this.high };
  }

  /** The offset to apply: the point of the interval nearest to zero, within ±MAX_CLOCK_CORRECTION_MS. */
  correction(): number {
    if (this.count === 0) return 0;
    const nearest = Math.min(Math.max(0, this.low), this.high);
    return Math.min(Math.max(nearest, -MAX_CLOCK_CORRECTION_MS), MAX_CLOCK_CORRECTION_MS);
  }
}

export interface ChainClockModules {
  /** Host time, ms since the Unix epoch. */
  readonly hostNow: () => number;
  /** The chain's time now: the pending block's timestamp, seconds. */
  readonly readChainTimeS: () => Promise<bigint>;
  readonly logger: Logger;
}

/** The node's clock: host time plus the measured offset to the chain. */
export class ChainClock {
  private readonly m: ChainClockModules;
  private readonly interval = new OffsetInterval();
  private correctionMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastWarnMs = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private gauges: { skew: Gauge<"bound">; correction: Gauge; failures: Counter } | null = null;

  constructor(modules: ChainClockModules) {
    this.m = modules;
  }

  /** Chain-corrected now, ms since the Unix epoch. */
  readonly now = (): number => this.m.hostNow() + this.correctionMs;

  /** Registers `smartmarket_clock_skew_ms{bound}` and `smartmarket_clock_correction_ms` on the node's registry. */
  register(registry: Registry): void {
    const registers = [registry];
    this.gauges = {
      skew: new Gauge({
        name: "smartmarket_clock_skew_ms",
        help: "Measured offset of the chain's time minus the host clock (lower and upper bound), ms",
        labelNames: ["bound"],
        registers,
      }),
      correction: new Gauge({
        name: "smartmarket_clock_correction_ms",
        help: "Offset applied to the host clock to follow the chain's time, ms",
        registers,
      }),
      failures: new Counter({
        name: "smartmarket_clock_read_failures_total",
        help: "Readings of the chain's time that failed (the node then keeps its last correction)",
        registers,
      }),
    };
  }

  /** Samples START_SAMPLES times (so that the node starts on the chain's time), then periodically. */
  async start(): Promise<void> {
    for (let i = 0; i < START_SAMPLES; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, START_SAMPLE_SPACING_MS));
      await this.sample();
    }
    this.timer = setInterval(() => void this.sample(), CLOCK_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads the chain's time once and updates the correction. Failures are counted, never thrown. */
  async sample(): Promise<void> {
    const sentMs = this.m.hostNow();
    let chainS: bigint;
    try {
      chainS = await this.m.readChainTimeS();
      // A reading that took this long bounds nothing useful: dropped, and counted as a failed reading.
      const tookMs = this.m.hostNow() - sentMs;
      if (tookMs > SAMPLE_TIMEOUT_MS) throw new Error(`the reading took ${tookMs} ms`);
    } catch (err) {
      this.failures++;
      this.gauges?.failures.inc();
      // The chain follower reports outages; a clock that cannot read the chain's time for a while is said
      // once per outage, at WARN: the node then runs on its host clock (the last correction stays).
      if (this.failures === CLOCK_FAILURES_WARN) {
        this.m.logger.warn(
          "clock: cannot read the chain's time; running on the host clock with the last correction",
          {
            failures: this.failures,
            error: (err as Error).message,
            correctionMs: this.correctionMs,
          },
        );
      }
      return;
    }
    this.failures = 0;
    this.add({ sentMs, receivedMs: this.m.hostNow(), chainS });
  }

  /** Adds a sample (exposed for tests) and applies the new correction. */
  add(s: ClockSample): void {
    this.interval.add(s);
    const before = this.correctionMs;
    this.correctionMs = this.interval.correction();
    const b = this.interval.bounds();
    if (b && this.gauges) {
      this.gauges.skew.set({ bound: "low" }, b.low);
      this.gauges.skew.set({ bound: "high" }, b.high);
      this.gauges.correction.set(this.correctionMs);
    }
    const warning = this.warning();
    if (warning && s.receivedMs - this.lastWarnMs >= SKEW_LOG_INTERVAL_MS) {
      this.lastWarnMs = s.receivedMs;
      const fields = { lowMs: b?.low, highMs: b?.high, correctionMs: this.correctionMs };
      if (this.uncorrectable()) this.m.logger.error(warning, fields);
      else this.m.logger.warn(warning, fields);
    } else if (!warning && Math.abs(this.correctionMs - before) >= CLOCK_SKEW_WARN_MS) {
      this.m.logger.info("clock: following the chain's time", { correctionMs: this.correctionMs });
    }
  }

  private uncorrectable(): boolean {
    const b = this.interval.bounds();
    return b !== null && (b.low > MAX_CLOCK_CORRECTION_MS || b.high < -MAX_CLOCK_CORRECTION_MS);
  }

  private warning(): string | null {
    if (this.failures >= CLOCK_FAILURES_WARN) {
      return `clock: the chain's time could not be read ${this.failures} times in a row; the node runs on its host clock (correction ${this.correctionMs} ms)`;
    }
    const b = this.interval.bounds();
    if (!b) return null;
    if (this.uncorrectable()) {
      return `clock: the host clock is off the chain's by more than ${MAX_CLOCK_CORRECTION_MS / 1000} s; the node corrects only ${MAX_CLOCK_CORRECTION_MS / 1000} s of it and will close epochs at the wrong time: fix the host's time (NTP)`;
    }
    if (b.low > CLOCK_SKEW_WARN_MS || b.high < -CLOCK_SKEW_WARN_MS) {
      const ms = b.low > 0 ? b.low : b.high;
      return `clock: the host clock is ${ms > 0 ? "behind" : "ahead of"} the chain's by at least ${Math.abs(ms)} ms; the node follows the chain's time: fix the host's time (NTP)`;
    }
    return null;
  }

  status(): ClockStatus {
    return { correctionMs: this.correctionMs, skewMs: this.interval.bounds(), warning: this.warning() };
  }
}

/** The JSON-RPC surface the clock reads the chain's time through (an ethers JsonRpcProvider has it). */
export interface RpcSender {
  send(method: string, params: unknown[]): Promise<unknown>;
}

/**
 * Reads the chain's now over the node's own JSON-RPC provider (its timeout applies): the pending
 * block's timestamp, seconds. Not fetch(): loading it grows a process by ~17 MB (Node 24: 42 → 59 MB RSS).
 */
export function pendingBlockTime(rpc: RpcSender): () => Promise<bigint> {
  return async () => {
    const block = (await rpc.send("eth_getBlockByNumber", ["pending", false])) as {
      timestamp?: unknown;
    } | null;
    const ts = block?.timestamp;
    if (typeof ts !== "string" || !/^0x[0-9a-f]+$/i.test(ts)) throw new Error("no pending block timestamp");
    return BigInt(ts);
  };
}
