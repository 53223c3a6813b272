// Memory trim of an idle node process: V8's young generation, grown under load, given back when the load
// is gone.
//
// Why: the node daemon runs with V8's default young generation, up to 16 MB per semi-space
// (bin/smartmarket.js). With 1 MB (the setting before, for idle memory) a loaded node scavenged every
// ~75 orders, each scavenge 3–6 ms (the roots and the books' remembered set are the same whatever the
// size), ~1.2 s of every 6 s in a testnet node at 2,000 orders/s: node CPU per order 0.39–0.44 ms against
// 0.32–0.36 ms with 16 MB. But V8 keeps a grown young generation while the process idles: ~30 MB of
// resident memory more per node, which a device has little of. So when the process used less than
// `maxCpuShare` of a core on average over the last `idleChecks` intervals of `intervalMs` and in the last
// one (a load that began in it blocks the trim; an epoch's close a few seconds earlier does not), and the
// young generation holds more than `minNewSpaceBytes`, the trimmer runs V8's memory-reducing full collection ("last resort"), which
// compacts the heap and shrinks the young generation back to its minimum. Under load the young
// generation grows again; at most one trim per `minGapMs`.
//
// V8's collection is taken from a fresh context once `--expose-gc` is set at runtime (v8CollectionFn):
// as a command-line flag it would change V8's flag hash, and Node's compile cache, filled by the process
// before it replaces itself with the daemon's flags (bin/smartmarket.js), would no longer match: the
// daemon would load Node's TypeScript stripper again (~20 MB). Setting it after every module is loaded
// changes nothing for them. Where it cannot be had, the trimmer says so once at WARN, counts it
// (outcome "unavailable") and does nothing: the node runs on, with its grown memory.
import { performance } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "./logger.ts";

/** How often the trimmer looks at the process. */
export const TRIM_CHECK_INTERVAL_MS = 1_000;
/**
 * Intervals the idle average is taken over (5 s), of which the last must be idle too. With one reading
 * per 5 s (before), a load that began in the last second or two of an interval could still read as idle
 * (under 10 % of a core over the 5 s), and the trim (70–330 ms on the main thread, measured in testnet
 * nodes) would land in the load's first seconds, e.g. at the start of a loaded epoch after an idle one.
 */
export const TRIM_IDLE_CHECKS = 5;
/**
 * CPU time of the process (all its threads) over the interval, as a share of one core, below which it
 * counts as idle: an idle node of a 5-node testnet uses 2–5 % (chain polling, gossip heartbeats); a node
 * receiving 100 single orders a second 20–40 %. (The event loop's utilization is no measure of it: that
 * node's was 1–2 %, and a trim then, 70–220 ms on the main thread, delayed the orders in flight.)
 */
export const TRIM_MAX_CPU_SHARE = 0.1;
/**
 * A young generation larger than this has grown (its minimum: two semi-spaces of 1 MB). It grows under
 * load, and slowly at idle too (survivors of scavenges accumulate): ~5 MB of RSS a minute after a trim.
 */
export const TRIM_MIN_NEW_SPACE_BYTES = 2 * 2 ** 20;
/** At most one trim per this long, whatever the readings. */
export const TRIM_MIN_GAP_MS = 30_000;

/** V8's gc extension: a "last-resort" major collection is its memory-reducing one. */
export type GcFunction = (opts: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

export interface MemoryTrimOptions {
  readonly intervalMs: number;
  /** Intervals the idle average is taken over; the last of them must be idle too. */
  readonly idleChecks: number;
  readonly maxCpuShare: number;
  readonly minNewSpaceBytes: number;
  readonly minGapMs: number;
}

export interface ProcessReadings {
  /**
   * The process's CPU time since the previous call over the wall time since then, in cores (the first
   * call: since the process started).
   */
  cpuShare(): number;
  /** Bytes the young generation holds (its committed size). */
  newSpaceBytes(): number;
  /** Resident set size, bytes. */
  rssBytes(): number;
}

export interface MemoryTrimComponents {
  readonly logger: Logger;
  readonly registry: Registry;
  /** V8's collection (v8CollectionFn); undefined turns the trimmer off. */
  readonly gc: GcFunction | undefined;
  readonly readings?: ProcessReadings;
  readonly now?: () => number;
}

export const DEFAULT_MEMORY_TRIM: MemoryTrimOptions = {
  intervalMs: TRIM_CHECK_INTERVAL_MS,
  idleChecks: TRIM_IDLE_CHECKS,
  maxCpuShare: TRIM_MAX_CPU_SHARE,
  minNewSpaceBytes: TRIM_MIN_NEW_SPACE_BYTES,
  minGapMs: TRIM_MIN_GAP_MS,
};

/**
 * V8's collection (the gc extension), from a new context after setting `--expose-gc`; undefined where
 * that fails. Call it once every module is loaded (see above).
 */
export function v8CollectionFn(): GcFunction | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as GcFunction) : undefined;
  } catch {
    return undefined;
  }
}

/** Readings of this process (process.cpuUsage, node:v8, process.memoryUsage). */
export function processReadings(): ProcessReadings {
  let lastCpu = process.cpuUsage();
  let lastMs = performance.now();
  return {
    cpuShare: () => {
      const cpu = process.cpuUsage();
      const ms = performance.now();
      const usedUs = cpu.user - lastCpu.user + (cpu.system - lastCpu.system);
      const wallUs = Math.max(1, (ms - lastMs) * 1000);
      lastCpu = cpu;
      lastMs = ms;
      return usedUs / wallUs;
    },
    newSpaceBytes: () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0,
    rssBytes: () => process.memoryUsage.rss(),
  };
}

export class MemoryTrimmer {
  private readonly opts: MemoryTrimOptions;
  private readonly c: MemoryTrimComponents;
  private readonly readings: ProcessReadings;
  private readonly now: () => number;
  private readonly trims: Counter<"outcome">;
  private timer: NodeJS.Timeout | null = null;
  private lastTrimMs = Number.NEGATIVE_INFINITY;
  /** The CPU shares of the last `idleChecks` intervals, oldest first. */
  private readonly shares: number[] = [];

  constructor(opts: MemoryTrimOptions, components: MemoryTrimComponents) {
    this.opts = opts;
    this.c = components;
    this.readings = components.readings ?? processReadings();
    this.now = components.now ?? Date.now;
    this.trims = new Counter({
      name: "smartmarket_memory_trims_total",
      help: "Memory trims of the idle process (V8's memory-reducing collection), by outcome: ok, failed, unavailable (V8's collection could not be had: no trims)",
      labelNames: ["outcome"],
      registers: [components.registry],
    });
    this.trims.inc({ outcome: "ok" }, 0);
    this.trims.inc({ outcome: "failed" }, 0);
    this.trims.inc({ outcome: "unavailable" }, 0);
  }

  start(): void {
    if (this.timer !== null) return;
    if (this.c.gc === undefined) {
      this.trims.inc({ outcome: "unavailable" });
      this.c.logger.warn("memory trim off: V8's collection is not available in this process");
      return;
    }
    this.readings.cpuShare(); // the first interval starts now
    this.timer = setInterval(() => this.check(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * One look at the process: trims if it idled over the last `idleChecks` intervals (on average, and in the
   * last one) with a grown young generation.
   */
  check(): boolean {
    const gc = this.c.gc;
    if (gc === undefined) return false;
    const last = this.readings.cpuShare();
    this.shares.push(last);
    if (this.shares.length > this.opts.idleChecks) this.shares.shift();
    if (this.shares.length < this.opts.idleChecks || last >= this.opts.maxCpuShare) return false;
    const cpuShare = this.shares.reduce((a, b) => a + b, 0) / this.shares.length;
    if (cpuShare >= this.opts.maxCpuShare) return false;
    const newSpace = this.readings.newSpaceBytes();
    if (newSpace <= this.opts.minNewSpaceBytes) return false;
    const startedMs = this.now();
    if (startedMs - this.lastTrimMs < this.opts.minGapMs) return false;
    this.lastTrimMs = startedMs;
    const rssBefore = this.readings.rssBytes();
    try {
      gc({ type: "major", execution: "sync", flavor: "last-resort" });
    } catch (err) {
      this.trims.inc({ outcome: "failed" });
      this.c.logger.warn("memory trim failed", { err });
      return false;
    }
    this.trims.inc({ outcome: "ok" });
    this.c.logger.debug("memory trimmed", {
      cpuShare: Number(cpuShare.toFixed(3)),
      newSpaceMb: Number((newSpace / 2 ** 20).toFixed(1)),
      rssBeforeMb: Number((rssBefore / 2 ** 20).toFixed(1)),
      rssAfterMb: Number((this.readings.rssBytes() / 2 ** 20).toFixed(1)),
      ms: this.now() - startedMs,
    });
    return true;
  }
}
