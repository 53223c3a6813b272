// The live terminal view of a running testnet: one line per finished epoch (printed once, so the
// scrollback keeps the whole run) and, in an interactive terminal, a progress line for the current
// epoch redrawn in place under them. Not a TTY (CI logs): the same epoch lines as plain text, no
// progress line, no colour, no cursor movement.
import {
  ENERGY_TOKEN_LABEL,
  formatEnergy,
  formatPrice,
  formatQuote,
  PRICE_LABEL,
  QUOTE_TOKEN_LABEL,
} from "./devices.ts";
import { describeAgreement, describeSettlement, padFraction, priceDecimals } from "./report.ts";
import type { EpochReport, MarketInfo } from "./types.ts";

export interface LiveViewOptions {
  readonly nodes: number;
  readonly epochSeconds: number;
  readonly out: NodeJS.WriteStream;
  /** Redraw in place with colour (a TTY), or print plain lines (logs). */
  readonly interactive: boolean;
  readonly market: MarketInfo;
}

export interface CurrentEpoch {
  readonly epoch: bigint;
  /** 0..1 within the epoch. */
  readonly progress: number;
  /** Orders the devices sent so far in this epoch. */
  readonly orders: number;
}

/** At most this many progress redraws per second (4/s). */
export const MIN_REDRAW_INTERVAL_MS = 250;
const PROGRESS_BAR_CELLS = 30;

const ESC = "\x1b[";
const ANSI = {
  bold: `${ESC}1m`,
  dim: `${ESC}2m`,
  red: `${ESC}31m`,
  green: `${ESC}32m`,
  yellow: `${ESC}33m`,
  cyan: `${ESC}36m`,
  reset: `${ESC}0m`,
  clearLine: `\r${ESC}2K`,
  hideCursor: `${ESC}?25l`,
  showCursor: `${ESC}?25h`,
} as const;

type Align = "left" | "right";

interface Column {
  readonly title: string;
  readonly width: number;
  readonly align: Align;
}

/** Fixed widths: rows are printed one at a time, so widths cannot adapt to the data. */
const COLUMNS: readonly Column[] = [
  { title: "epoch", width: 7, align: "right" },
  { title: "orders", width: 6, align: "right" },
  { title: `price ${PRICE_LABEL}`, width: 13, align: "right" },
  { title: `volume ${ENERGY_TOKEN_LABEL}`, width: 11, align: "right" },
  { title: `welfare ${QUOTE_TOKEN_LABEL}`, width: 11, align: "right" },
  { title: "settled by", width: 10, align: "left" },
  { title: "gas", width: 8, align: "right" },
  { title: "agreement", width: 0, align: "left" },
];

export class LiveView {
  private readonly opts: LiveViewOptions;
  private readonly printed = new Set<bigint>();
  private headerDone = false;
  private current: CurrentEpoch | null = null;
  /** Whether the progress line is on screen (the cursor then sits at its end). */
  private liveShown = false;
  private lastDrawMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly restoreCursor = () => this.opts.out.write(ANSI.showCursor);

  constructor(opts: LiveViewOptions) {
    this.opts = opts;
    if (opts.interactive) {
      opts.out.write(ANSI.hideCursor);
      // A crash or process.exit must not leave the user's terminal without a cursor.
      process.once("exit", this.restoreCursor);
    }
  }

  /**
   * New rows (any subset or all rows so far; each epoch is printed the first time it appears) and the
   * current epoch's progress. Rows print at once; the progress line redraws at most 4 times a second.
   */
  update(rows: readonly EpochReport[], current: CurrentEpoch): void {
    if (this.closed) return;
    this.current = current;
    const fresh = rows
      .filter((r) => !this.printed.has(r.epoch))
      .sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0));
    if (fresh.length > 0) {
      const lines: string[] = [];
      if (!this.headerDone) lines.push(...this.header());
      this.headerDone = true;
      for (const r of fresh) {
        this.printed.add(r.epoch);
        lines.push(this.formatRow(r));
      }
      this.printAbove(lines);
    }
    if (this.opts.interactive) this.scheduleDraw();
  }

  /** A message line (e.g. the launcher's log) printed above the progress line, without garbling it. */
  log(line: string): void {
    if (this.closed) {
      this.opts.out.write(`${line}\n`);
      return;
    }
    this.printAbove([line]);
  }

  /** Removes the progress line and restores the cursor. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.opts.interactive) {
      if (this.liveShown) this.opts.out.write(ANSI.clearLine);
      this.liveShown = false;
      this.restoreCursor();
      process.removeListener("exit", this.restoreCursor);
    }
  }

  /** The column titles and two lines saying what the less obvious columns mean. */
  header(): string[] {
    const titles = COLUMNS.map((c) => pad(c.title, c.width, c.align)).join("  ");
    const notes = [
      "  price: the uniform clearing price · welfare: gains from trade, Σ limit·fill of bids − of asks",
      `  settled by: whose wallet settled the epoch on chain · agreement: order-set fingerprint and result hash across the ${this.opts.nodes} nodes`,
    ];
    return [this.paint(titles, ANSI.bold), ...notes.map((n) => this.paint(n, ANSI.dim))];
  }

  /** One epoch as a line of the table. */
  formatRow(r: EpochReport): string {
    const m = this.opts.market;
    const agreement = describeAgreement(r);
    const settledBy = describeSettlement(r);
    const cells = [
      r.epoch.toString(),
      String(r.orders),
      r.price === null ? "-" : padFraction(formatPrice(r.price, m), priceDecimals(m)),
      padFraction(formatEnergy(r.volume, m), m.baseDecimals),
      padFraction(formatQuote(r.welfare, m), m.quoteDecimals),
      settledBy,
      r.gasUsed === null ? "-" : r.gasUsed.toString(),
      agreement.text,
    ];
    const colours = [
      "",
      "",
      ANSI.cyan,
      "",
      "",
      r.settled ? "" : r.volume === 0n ? ANSI.dim : ANSI.yellow,
      "",
      agreement.ok === true ? ANSI.green : agreement.ok === false ? ANSI.red : ANSI.yellow,
    ];
    return COLUMNS.map((c, i) => this.paint(pad(cells[i] ?? "", c.width, c.align), colours[i] ?? "")).join(
      "  ",
    );
  }

  /** The progress line of the current epoch. */
  progressLine(c: CurrentEpoch): string {
    const p = Math.min(1, Math.max(0, Number.isFinite(c.progress) ? c.progress : 0));
    const filled = Math.round(p * PROGRESS_BAR_CELLS);
    const bar = `${"█".repeat(filled)}${"░".repeat(PROGRESS_BAR_CELLS - filled)}`;
    const leftS = Math.max(0, (1 - p) * this.opts.epochSeconds);
    return (
      `epoch ${c.epoch} ${this.paint(bar, ANSI.cyan)} ${String(Math.floor(p * 100)).padStart(3)}%  ` +
      `${c.orders} orders sent  ${leftS.toFixed(1)} s left`
    );
  }

  private paint(text: string, code: string): string {
    return this.opts.interactive && code !== "" ? `${code}${text}${ANSI.reset}` : text;
  }

  /** Prints whole lines, keeping the progress line (if any) below them. */
  private printAbove(lines: readonly string[]): void {
    const out = this.opts.out;
    if (!this.opts.interactive) {
      out.write(lines.map((l) => `${l}\n`).join(""));
      return;
    }
    const erase = this.liveShown ? ANSI.clearLine : "";
    this.liveShown = false;
    out.write(`${erase}${lines.map((l) => `${l}\n`).join("")}`);
    this.draw();
  }

  private scheduleDraw(): void {
    const wait = this.lastDrawMs + MIN_REDRAW_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.draw();
      return;
    }
    if (this.timer) return; // a redraw is already due; it will show the latest state
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed) this.draw();
    }, wait);
    this.timer.unref();
  }

  private draw(): void {
    if (!this.opts.interactive || this.closed || this.current === null) return;
    // Never wider than the terminal: a wrapped line would leave its first half behind on each redraw.
    const width = Math.max(20, (this.opts.out.columns ?? 100) - 1);
    const line = truncateVisible(this.progressLine(this.current), width);
    this.opts.out.write(`${ANSI.clearLine}${line}`);
    this.liveShown = true;
    this.lastDrawMs = performance.now();
  }
}

function pad(text: string, width: number, align: Align): string {
  return align === "right" ? text.padStart(width) : text.padEnd(width);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same, anchored at lastIndex
const ANSI_AT_RE = /\x1b\[[0-9;?]*[A-Za-z]/y;

/** Removes ANSI escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_RE, "");
}

/** Cuts `text` to `width` visible characters, keeping escape sequences intact and resetting at the end. */
function truncateVisible(text: string, width: number): string {
  if (stripAnsi(text).length <= width) return text;
  let out = "";
  let visible = 0;
  let i = 0;
  while (i < text.length && visible < width) {
    ANSI_AT_RE.lastIndex = i;
    const m = ANSI_AT_RE.exec(text);
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    out += text[i];
    visible++;
    i++;
  }
  return `${out}${ANSI.reset}`;
}
