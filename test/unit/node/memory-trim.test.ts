// The idle process's memory trim (node/memory-trim.ts): when it trims V8's heap, when not, and what a
// failing collection leaves (a metric and a WARN line); plus one real collection in this process.
import { getHeapSpaceStatistics } from "node:v8";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../node/logger.ts";
import {
  DEFAULT_MEMORY_TRIM,
  type GcFunction,
  MemoryTrimmer,
  type ProcessReadings,
  TRIM_IDLE_CHECKS,
  TRIM_MIN_NEW_SPACE_BYTES,
  v8CollectionFn,
} from "../../../node/memory-trim.ts";

const MB = 2 ** 20;

function harness(gc: GcFunction | undefined, idleChecks = 1) {
  let now = 1_000_000;
  const state = { cpuShare: 0.01, newSpace: 32 * MB, rss: 150 * MB };
  const readings: ProcessReadings = {
    cpuShare: () => state.cpuShare,
    newSpaceBytes: () => state.newSpace,
    rssBytes: () => state.rss,
  };
  const lines: string[] = [];
  const registry = new Registry();
  const trimmer = new MemoryTrimmer(
    { ...DEFAULT_MEMORY_TRIM, idleChecks },
    {
      logger: createLogger({ level: "debug", write: (l) => lines.push(l) }),
      registry,
      gc,
      readings,
      now: () => now,
    },
  );
  const trims = async (outcome: string) =>
    (await registry.getSingleMetric("smartmarket_memory_trims_total")!.get()).values.find(
      (v) => v.labels.outcome === outcome,
    )?.value;
  return { trimmer, state, lines, trims, advance: (ms: number) => (now += ms) };
}

describe("memory trim", () => {
  it("trims an idle process whose young generation grew, at most once per minGapMs", async () => {
    const calls: unknown[] = [];
    const h = harness((opts) => {
      calls.push(opts);
      h.state.newSpace = 2 * MB;
      h.state.rss = 120 * MB;
    });
    // busy: no trim, whatever the young generation holds
    h.state.cpuShare = 0.5;
    expect(h.trimmer.check()).toBe(false);
    // idle with a grown young generation: trimmed by V8's memory-reducing collection
    h.state.cpuShare = 0.01;
    expect(h.trimmer.check()).toBe(true);
    expect(calls).toEqual([{ type: "major", execution: "sync", flavor: "last-resort" }]);
    expect(await h.trims("ok")).toBe(1);
    expect(h.lines.some((l) => /DEBUG .*memory trimmed.*rssBeforeMb=150.*rssAfterMb=120/.test(l))).toBe(true);
    // at its minimum now: nothing to give back
    h.advance(DEFAULT_MEMORY_TRIM.minGapMs);
    expect(h.trimmer.check()).toBe(false);
    // grown again (a load came and went): not before minGapMs since the last trim
    h.state.newSpace = TRIM_MIN_NEW_SPACE_BYTES + MB;
    h.advance(1);
    expect(h.trimmer.check()).toBe(true);
    h.state.newSpace = 16 * MB;
    h.advance(DEFAULT_MEMORY_TRIM.minGapMs - 1);
    expect(h.trimmer.check()).toBe(false);
    h.advance(1);
    expect(h.trimmer.check()).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it("a load that began in the last interval blocks the trim; a burst before it (an epoch's close) does not", () => {
    let trims = 0;
    const h = harness(() => {
      trims++;
    }, 5);
    expect(TRIM_IDLE_CHECKS).toBe(5);
    // fewer readings than the window: no trim
    for (let i = 0; i < 4; i++) expect(h.trimmer.check()).toBe(false);
    // the load begins in the last interval: no trim, although the average (0.068) reads idle
    h.state.cpuShare = 0.3;
    expect(h.trimmer.check()).toBe(false);
    // a burst that is over: the average and the last interval are idle
    h.state.cpuShare = 0.01;
    expect(h.trimmer.check()).toBe(true);
    expect(trims).toBe(1);
  });

  it("after a sustained load, no trim until the average over the window is idle", () => {
    let trims = 0;
    const h = harness(() => {
      trims++;
    }, 5);
    h.state.cpuShare = 0.3;
    for (let i = 0; i < 5; i++) expect(h.trimmer.check()).toBe(false);
    // the load ends: averages 0.242, 0.184, 0.126, then 0.068
    h.state.cpuShare = 0.01;
    expect([h.trimmer.check(), h.trimmer.check(), h.trimmer.check()]).toEqual([false, false, false]);
    expect(trims).toBe(0);
    expect(h.trimmer.check()).toBe(true);
    expect(trims).toBe(1);
  });

  it("a collection that throws: counted as failed, logged at WARN, the node goes on", async () => {
    const h = harness(() => {
      throw new Error("no collection here");
    });
    expect(h.trimmer.check()).toBe(false);
    expect(await h.trims("failed")).toBe(1);
    expect(await h.trims("ok")).toBe(0);
    expect(h.lines.some((l) => /WARN .*memory trim failed.*no collection here/.test(l))).toBe(true);
  });

  it("without V8's collection it is off, says so once at WARN and counts it", async () => {
    const h = harness(undefined);
    h.trimmer.start();
    h.trimmer.stop();
    expect(h.trimmer.check()).toBe(false);
    expect(h.lines.filter((l) => /WARN .*memory trim off/.test(l))).toHaveLength(1);
    expect(await h.trims("ok")).toBe(0);
    expect(await h.trims("unavailable")).toBe(1);
  });

  it("V8's collection, taken at runtime, gives the grown young generation back (this process, real heap)", () => {
    const gc = v8CollectionFn();
    expect(gc).toBeTypeOf("function");
    if (gc === undefined) return;
    const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_size;
    let keep: object[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      keep.push({ i, s: `x${i}` });
      if (keep.length > 20_000) keep = [];
    }
    const grown = newSpace();
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    expect(newSpace()).toBeLessThan(grown);
    expect(newSpace()).toBeLessThanOrEqual(TRIM_MIN_NEW_SPACE_BYTES);
  });
});
