// The live terminal view of a running testnet: one line per finished epoch of any market (printed once,
// in the order the epochs ended, so the scrollback keeps the whole run) and, in an interactive terminal,
// a progress line for each market's current epoch redrawn in place under them. Not a TTY (CI logs): the
// same epoch lines as plain text, no progress line, no colour, no cursor movement.
//
// One market: the columns carry its units in their titles ("price USD/kWh"). Several markets: a first
// column names each row's market, and each amount carries its market's unit ("0.000150 USDC/reading").
//
// Under --adversary, each attacked row of the primary market is followed by a line saying what the
// attacker did and what became of it: "↳ censor: proposed 0x… · replaced by node 2's challenge 0x… ·
// bond 0.01 ETH to node 2 · final: node 2's 0x… = honest".

import { baseCell, priceCell, priceDecimals, quoteCell } from "../node/api/units.ts";
import { epochEndMs } from "../protocol/epoch.ts";
import { describeAgreement, describeAttack, describeSettlement } from "./report-words.ts";
import type { AdversaryMode, CurrentEpoch, EpochReport, MarketInfo, MarketProgress } from "./types.ts";

/** A market the view shows: its short name and what it is. */
export interface ViewMarket {
  readonly name: string;
  readonly market: MarketInfo;
}

export interface LiveViewOptions {
  readonly nodes: number;
  readonly out: NodeJS.WriteStream;
  /** Redraw in place with colour (a TTY), or print plain lines (logs). */
  readonly interactive: boolean;
  /** Every market of the testnet, the primary first. */
  readonly markets: readonly ViewMarket[];
  /** The attack running on the primary market, if any (its rows get an attack line). */
  readonly adversary?: AdversaryMode | null;
}

/** At most this many progress redraws per second (4/s). */
export const MIN_REDRAW_INTERVAL_MS = 250;
const PROGRESS_BAR_CELLS = 30;
/** With several markets, each gets a shorter bar on the one progress line. */
const PROGRESS_BAR_CELLS_SHARED = 12;

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
function columns(markets: readonly ViewMarket[]): Column[] {
  if (markets.length === 1) {
    const m = markets[0]!.market;
    return [
      { title: "epoch", width: 7, align: "right" },
      { title: "orders", width: 6, align: "right" },
      { title: `price ${m.priceLabel}`, width: 13, align: "right" },
      { title: `volume ${m.baseLabel}`, width: 11, align: "right" },
      { title: `welfare ${m.quoteLabel}`, width: 11, align: "right" },
      { title: "settled by", width: 10, align: "left" },
      { title: "gas", width: 8, align: "right" },
      { title: "agreement", width: 0, align: "left" },
    ];
  }
  // Room for a few integer digits, the fraction and the unit, in the widest market.
  const widest = (f: (m: MarketInfo) => number) => Math.max(...markets.map((v) => f(v.market)));
  return [
    { title: "market", width: Math.max(6, ...markets.map((v) => v.name.length)), align: "left" },
    { title: "epoch", width: 7, align: "right" },
    { title: "orders", width: 6, align: "right" },
    { title: "price", width: widest((m) => 3 + priceDecimals(m) + m.priceLabel.length), align: "right" },
    { title: "volume", width: widest((m) => 6 + m.baseDecimals + m.baseLabel.length), align: "right" },
    { title: "welfare", width: widest((m) => 4 + m.quoteDecimals + m.quoteLabel.length), align: "right" },
    { title: "settled by", width: 10, align: "left" },
    { title: "gas", width: 8, align: "right" },
    { title: "agreement", width: 0, align: "left" },
  ];
}

export class LiveView {
  private readonly opts: LiveViewOptions;
  private readonly columns: readonly Column[];
  /** Printed epochs, as "<market index>:<epoch>". */
  private readonly printed = new Set<string>();
  private headerDone = false;
  /** The current epoch of each market (by index), as last reported. */
  private current: (CurrentEpoch | null)[] = [];
  private hasCurrent = false;
  /** Whether the progress line is on screen (the cursor then sits at its end). */
  private liveShown = false;
  private lastDrawMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly restoreCursor = () => this.opts.out.write(ANSI.showCursor);

  constructor(opts: LiveViewOptions) {
    if (opts.markets.length === 0) throw new Error("the live view needs at least one market");
    this.opts = opts;
    this.columns = columns(opts.markets);
    if (opts.interactive) {
      opts.out.write(ANSI.hideCursor);
      // A crash or process.exit must not leave the user's terminal without a cursor.
      process.once("exit", this.restoreCursor);
    }
  }

  /**
   * Each market's rows (any subset or all rows so far; each epoch is printed the first time it appears,
   * in the order the epochs ended) and its current epoch. Rows print at once; the progress line redraws
   * at most 4 times a second.
   */
  update(progress: readonly MarketProgress[]): void {
    if (this.closed) return;
    const fresh: { index: number; row: EpochReport; endMs: bigint }[] = [];
    for (const p of progress) {
      const index = this.opts.markets.findIndex((v) => v.market.id === p.market);
      if (index < 0) continue;
      this.current[index] = p.current;
      const market = this.opts.markets[index]!.market;
      for (const row of p.rows) {
        if (!this.printed.has(`${index}:${row.epoch}`))
          fresh.push({ index, row, endMs: epochEndMs(market, row.epoch) });
      }
    }
    this.hasCurrent = this.current.some((c) => c !== null && c !== undefined && c.epoch >= 0n);
    fresh.sort((a, b) =>
      a.endMs !== b.endMs ? (a.endMs < b.endMs ? -1 : 1) : a.index !== b.index ? a.index - b.index : 0,
    );
    if (fresh.length > 0) {
      const lines: string[] = [];
      if (!this.headerDone) lines.push(...this.header());
      this.headerDone = true;
      for (const f of fresh) {
        const key = `${f.index}:${f.row.epoch}`;
        if (this.printed.has(key)) continue;
        this.printed.add(key);
        lines.push(this.formatRow(f.row, f.index));
        if (f.row.attack) lines.push(this.formatAttack(f.row));
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
    const titles = this.columns.map((c) => pad(c.title, c.width, c.align)).join("  ");
    const notes = [
      "  price: the uniform clearing price · welfare: gains from trade, Σ limit·fill of bids − of asks",
      `  settled by: whose wallet settled the epoch on chain · agreement: order-set fingerprint and result hash across the ${this.opts.nodes} nodes`,
    ];
    if (this.opts.adversary) {
      notes.push(
        `  ↳ ${this.opts.adversary} attack on the ${this.opts.markets[0]!.name} market: the attacker's submission · the challenge that replaced it · the bond paid to the challenger · the final result (= honest: the nodes' own result)`,
      );
    }
    return [this.paint(titles, ANSI.bold), ...notes.map((n) => this.paint(n, ANSI.dim))];
  }

  /** The attack line under an attacked row: what the attacker sent, the challenge, the bond, the final result. */
  formatAttack(r: EpochReport): string {
    const a = r.attack;
    if (!a) return "";
    const w = describeAttack(a);
    const indent = " ".repeat(this.opts.markets.length > 1 ? 4 : 2);
    const body = [w.submission, w.challenge, w.bond].join(" · ");
    return (
      this.paint(`${indent}↳ ${a.mode}: ${body} · `, ANSI.dim) +
      this.paint(w.final, w.held ? ANSI.green : ANSI.red)
    );
  }

  /** One epoch of market `index` (default: the primary) as a line of the table. */
  formatRow(r: EpochReport, index = 0): string {
    const v = this.opts.markets[index] ?? this.opts.markets[0]!;
    const m = v.market;
    const several = this.opts.markets.length > 1;
    const unit = (text: string, label: string) => (several ? `${text} ${label}` : text);
    const agreement = describeAgreement(r);
    // An epoch cut short by Ctrl-C: the orders sent, and no result (it is neither traded nor "no trade").
    const open = r.unfinished === true && r.price === null;
    const cells = [
      ...(several ? [v.name] : []),
      r.epoch.toString(),
      String(r.orders),
      r.price === null ? "-" : unit(priceCell(r.price, m), m.priceLabel),
      open ? "-" : unit(baseCell(r.volume, m), m.baseLabel),
      open ? "-" : unit(quoteCell(r.welfare, m), m.quoteLabel),
      describeSettlement(r),
      r.gasUsed === null ? "-" : r.gasUsed.toString(),
      agreement.text,
    ];
    const colours = [
      ...(several ? [ANSI.bold] : []),
      "",
      "",
      ANSI.cyan,
      "",
      "",
      r.settled ? "" : r.volume === 0n && !r.unfinished ? ANSI.dim : ANSI.yellow,
      "",
      agreement.ok === true ? ANSI.green : agreement.ok === false ? ANSI.red : ANSI.yellow,
    ];
    return this.columns
      .map((c, i) => this.paint(pad(cells[i] ?? "", c.width, c.align), colours[i] ?? ""))
      .join("  ");
  }

  /** The progress line: each market's current epoch (one market: as before, with a longer bar). */
  progressLine(current: readonly (CurrentEpoch | null)[] = this.current): string {
    const several = this.opts.markets.length > 1;
    const parts: string[] = [];
    this.opts.markets.forEach((v, i) => {
      const c = current[i];
      // Before genesis there is no epoch to show (never "epoch -1").
      if (!c || c.epoch < 0n) return;
      const p = Math.min(1, Math.max(0, Number.isFinite(c.progress) ? c.progress : 0));
      const cells = several ? PROGRESS_BAR_CELLS_SHARED : PROGRESS_BAR_CELLS;
      const filled = Math.round(p * cells);
      const bar = `${"█".repeat(filled)}${"░".repeat(cells - filled)}`;
      const leftS = Math.max(0, (1 - p) * Number(v.market.epochLengthS));
      parts.push(
        `${several ? `${v.name} ` : ""}epoch ${c.epoch} ${this.paint(bar, ANSI.cyan)} ${String(Math.floor(p * 100)).padStart(3)}%  ` +
          `${c.orders} orders sent  ${leftS.toFixed(1)} s left`,
      );
    });
    return parts.join(several ? "  │  " : "");
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
    if (!this.opts.interactive || this.closed || !this.hasCurrent) return;
    // Never wider than the terminal: a wrapped line would leave its first half behind on each redraw.
    const width = Math.max(20, (this.opts.out.columns ?? 100) - 1);
    const line = truncateVisible(this.progressLine(), width);
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
