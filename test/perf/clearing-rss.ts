// Child process of the clearing benchmark: builds the benchmark book, clears it once and prints its
// peak resident set size as JSON, so the figure is not polluted by the parent's own allocations.
import { clear } from "../../clearing/clear.ts";
import { BENCH_BOOK, generateBook } from "./clearing-book.ts";

/** process.resourceUsage().maxRSS is in kibibytes. */
const KIB_PER_MIB = 1024;

const orders = generateBook(BENCH_BOOK);
const bookPeakMb = process.resourceUsage().maxRSS / KIB_PER_MIB;
const result = clear(orders);
const peakMb = process.resourceUsage().maxRSS / KIB_PER_MIB;
process.stdout.write(`${JSON.stringify({ bookPeakMb, peakMb, fills: result.fills.length })}\n`);
