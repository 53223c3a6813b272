// Clearing benchmark: one million orders (see BENCH_BOOK), cleared in process and compared with a
// plain comparator sort of the same (price, id) pairs; peak memory measured in a child process.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { compareByLimitThenId } from "../../clearing/book.ts";
import { type ClearingResult, clear, computeResultHash } from "../../clearing/clear.ts";
import { BENCH_BOOK, generateBook } from "./clearing-book.ts";
import { type BenchGroup, round, timeBestMs } from "./harness.ts";
import { measureLastLook } from "./last-look.ts";

/** Best of this many runs for each timing (the first also warms up the JIT). */
const TIMING_RUNS = 3;
const CLEAR_VS_SORT_TARGET = 2.5;
const PEAK_RSS_TARGET_MB = 1500;
const CHILD_TIMEOUT_MS = 300_000;

export const bench: BenchGroup = async (log) => {
  const orders = generateBook(BENCH_BOOK);
  log(
    `book: ${orders.length} orders, seed ${BENCH_BOOK.seed}, mid ${BENCH_BOOK.midPrice} ± ${BENCH_BOOK.spreadBps} bps, ${BENCH_BOOK.tiePercent}% on ${BENCH_BOOK.tickBps}-bps round levels`,
  );
  let result: ClearingResult | undefined;
  const clearMs = timeBestMs(() => {
    result = clear(orders);
  }, TIMING_RUNS);
  if (!result) throw new Error("clear did not run");
  const cleared = result;
  // Hashing the result (keccak over 64 bytes per fill) is a share of clear's time no ranking can
  // save: shown for scale, through the public path (which also decodes the hex ids).
  const hashMs = timeBestMs(() => {
    computeResultHash(cleared.market, cleared.epoch, cleared.price, cleared.volume, cleared.fills);
  }, 1);
  log(
    `cleared at price ${result.price}, volume ${result.volume}, ${result.fills.length} fills; computeResultHash of those fills ${round(hashMs, 0)} ms`,
  );

  // The same (price, id) pairs, sorted by the total order clear ranks each side by.
  const pairs = orders.map((o) => ({ limitPrice: o.limitPrice, id: o.id }));
  const sortMs = timeBestMs(() => {
    pairs.slice().sort(compareByLimitThenId);
  }, TIMING_RUNS);

  const child = spawnSync(process.execPath, [fileURLToPath(new URL("./clearing-rss.ts", import.meta.url))], {
    encoding: "utf8",
    timeout: CHILD_TIMEOUT_MS,
  });
  if (child.status !== 0) throw new Error(`RSS child failed (${child.status}): ${child.stderr}`);
  const rss = JSON.parse(child.stdout) as { bookPeakMb: number; peakMb: number; fills: number };
  log(`peak RSS ${round(rss.peakMb, 0)} MB, of which generating the book ${round(rss.bookPeakMb, 0)} MB`);

  const look = measureLastLook();
  log(
    `last look: in ${look.booksWithGain} of ${look.books} books a buy added after the result (from the seller's other wallet) gains; median ${look.medianBps} bps, max ${look.maxBps} bps of the seller's honest proceeds`,
  );

  return [
    { name: "last_look_gain_median_bps", value: Number(look.medianBps), unit: "bps" },
    { name: "last_look_gain_max_bps", value: Number(look.maxBps), unit: "bps" },
    { name: "clear_1m_ms", value: round(clearMs, 0), unit: "ms" },
    { name: "sort_1m_ms", value: round(sortMs, 0), unit: "ms" },
    {
      name: "clear_vs_sort_ratio",
      value: round(clearMs / sortMs, 2),
      unit: "x",
      target: `<= ${CLEAR_VS_SORT_TARGET}`,
    },
    { name: "clear_1m_fills", value: result.fills.length, unit: "fills" },
    {
      name: "clear_1m_peak_rss_mb",
      value: round(rss.peakMb, 0),
      unit: "MB",
      target: `<= ${PEAK_RSS_TARGET_MB}`,
    },
  ];
};
