// Shared types and helpers of the benchmark groups (`npm run bench [-- group ...]`).

export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** A target in words, e.g. ">= 10000"; printed next to the value. */
  readonly target?: string;
}

/** A benchmark group: `test/perf/<group>.bench.ts` exports `bench: BenchGroup`. */
export type BenchGroup = (log: (line: string) => void) => Promise<BenchFigure[]>;

/** Wall-clock milliseconds of a synchronous function, best of `repeat` runs. */
export function timeBestMs(fn: () => void, repeat = 3): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms < best) best = ms;
  }
  return best;
}

/** Operations per second of `fn(i)` called `n` times (after `warmup` calls). */
/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function opsPerSecond(n: number, fn: (i: number) => void, warmup = Math.min(200, n)): number {
  for (let i = 0; i < warmup; i++) fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / s;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
