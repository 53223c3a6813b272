// Which traders a market's intake admits: those that have deposited into the market (its Deposited
// events) or were paid a fee in it (Finalized: a node wallet may hold escrow it never deposited). An order
// of any other trader can never be covered at the close, so it is IGNOREd before its signature is
// recovered: not stored, not forwarded, not reconciled.
//
// Attack: an unfunded order flood. Fresh wallets are free, so before this rule every node verified, stored
// and forwarded every order of thousands of wallets that held nothing, and reconciled them at the close.
// Now each such order costs its first receiver a decode and a set lookup, and goes no further. A wallet
// that wants its orders carried must first pay for a deposit transaction (gas, and at least one unit).
//
// Until the market's deposit history has been read once in this run, every trader is admitted (fail
// open): an RPC outage at start must not make a node refuse its own devices' orders. Depositors only ever
// join the set (a deposit is a fact of the chain's history), so nodes that have read the same blocks
// admit the same traders; a node that is a few blocks behind IGNOREs (never REJECTs), and catches up with
// the chain head before it reconciles a closed epoch (MarketSession), so it takes the order then.
//
// The set and a cursor (the next block to read) are kept per market in the node's store: a restart loads
// them and reads on from the cursor, not from block 0. The history is read in pages of blocks (fault: an
// RPC provider that refuses eth_getLogs over more than N blocks or M results; before, the one read from
// block 0 failed forever and the node stayed open to every trader forever). A refused page is halved
// down to DEPOSIT_LOG_PAGE_MIN_BLOCKS and tried again after a back-off.
//
// Reorgs: the node treats the chain as final (anvil, an L2 with one sequencer). A depositor read from a
// block that a reorg drops stays in the set: it was admitted early, which is harmless (its orders are
// excluded by the coverage rule at the close, which reads the chain's collateral). A deposit that a reorg
// moves into a block below the cursor is not read again by this node (its orders wait until the trader
// deposits again); a chain with deep reorgs would need the cursor kept some blocks behind the head.
import { Counter, Gauge, type Registry } from "prom-client";
import type { Hex } from "../../protocol/hex.ts";
import type { ChainPort } from "../chain/port.ts";
import {
  DEPOSIT_CURSOR_LAG_TOLERANCE_BLOCKS,
  DEPOSIT_LOG_PAGE_BLOCKS,
  DEPOSIT_LOG_PAGE_MIN_BLOCKS,
} from "../constants.ts";
import type { Logger } from "../logger.ts";

/** A failed page is tried again after this long, doubled for each further failure up to the max. */
const DEPOSIT_LOG_RETRY_MS = 100;
const DEPOSIT_LOG_RETRY_MAX_MS = 2000;
/** After this many pages read in a row, a halved page is doubled again (up to DEPOSIT_LOG_PAGE_BLOCKS). */
const DEPOSIT_LOG_GROW_AFTER_PAGES = 64;
/** Failed reads of the history are logged at most this often. */
const DEPOSIT_LOG_WARN_INTERVAL_MS = 30_000;

export const DEPOSIT_LOG_FAILURES_METRIC = "smartmarket_deposit_log_failed_reads_total";
export const DEPOSIT_LOG_PAGE_METRIC = "smartmarket_deposit_log_page_blocks";

/** Where a market's depositors and its cursor are kept (NodeStore). */
export interface DepositStore {
  depositHistory(market: Hex): { traders: Hex[]; nextBlock: number };
  /** Adds depositors and moves the cursor to `nextBlock` (never back), in one transaction. */
  addDepositors(market: Hex, traders: readonly Hex[], nextBlock: number): void;
  /** Forgets the market's depositors and cursor. */
  resetDepositors(market: Hex): void;
}

export class FundedTraders {
  private readonly traders = new Set<Hex>();
  private historyRead = false;
  /** Every block below this one has been read into the set. */
  private next = 0;
  /** Blocks the follower delivered past a gap (the paged reader fills the gap, then skips these). */
  private ahead: { from: number; to: number } | null = null;
  private readonly persist: { readonly store: DepositStore; readonly market: Hex } | null;

  /** Loads the market's depositors and cursor from `persist.store` (none: an in-memory set from block 0). */
  constructor(persist?: { readonly store: DepositStore; readonly market: Hex }) {
    this.persist = persist ?? null;
    if (!this.persist) return;
    const saved = this.persist.store.depositHistory(this.persist.market);
    for (const t of saved.traders) this.traders.add(t.toLowerCase() as Hex);
    this.next = saved.nextBlock;
  }

  /** Whether the deposit history has been read up to the head in this run (until then all are admitted). */
  get ready(): boolean {
    return this.historyRead;
  }

  get size(): number {
    return this.traders.size;
  }

  /** The next block to read: every block below it has been read into the set. */
  get nextBlock(): number {
    return this.next;
  }

  /**
   * The depositors found in blocks [fromBlock, toBlock] (a page of the history or one chain poll). They join
   * the set; the cursor moves past toBlock if the range starts at or before it (a gap is left to the paged
   * reader). What changed is written to the store first; a failed write throws and changes nothing.
   */
  record(traders: readonly Hex[], fromBlock: number, toBlock: number): void {
    const fresh = new Set<Hex>();
    for (const t of traders) {
      const trader = t.toLowerCase() as Hex;
      if (!this.traders.has(trader)) fresh.add(trader);
    }
    let next = this.next;
    let ahead = this.ahead;
    if (fromBlock <= next) next = Math.max(next, toBlock + 1);
    else if (ahead && fromBlock <= ahead.to + 1 && toBlock + 1 >= ahead.from)
      ahead = { from: Math.min(fromBlock, ahead.from), to: Math.max(toBlock, ahead.to) };
    else ahead = { from: fromBlock, to: toBlock };
    if (ahead && ahead.from <= next) {
      next = Math.max(next, ahead.to + 1);
      ahead = null;
    }
    // Stored first: if the write fails nothing changes here, so the cursor never passes what is stored.
    if (this.persist && (fresh.size > 0 || next !== this.next))
      this.persist.store.addDepositors(this.persist.market, [...fresh], next);
    for (const t of fresh) this.traders.add(t);
    this.next = next;
    this.ahead = ahead;
  }

  /**
   * Forgets the market's depositors and cursor, here and in the store: the chain is behind the cursor, so
   * it is not the chain they were read from (a development chain started again from block 0).
   */
  reset(): void {
    this.persist?.store.resetDepositors(this.persist.market);
    this.traders.clear();
    this.next = 0;
    this.ahead = null;
  }

  /** The history has been read up to a head of this run: from now on only depositors are admitted. */
  markRead(): void {
    this.historyRead = true;
  }

  /** Whether intake admits an order of `trader`. */
  admits(trader: Hex): boolean {
    return !this.historyRead || this.traders.has(trader.toLowerCase() as Hex);
  }
}

export interface DepositHistoryComponents {
  readonly chain: Pick<ChainPort, "blockNumber" | "depositors">;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly running: () => boolean;
  /** The node's metrics registry (failed reads and the page size are registered there). */
  readonly registry?: Registry;
}

/** Reads a market's Deposited / Finalized logs in pages, from the set's cursor to the chain head. */
export class DepositHistory {
  private readonly market: Hex;
  private readonly funded: FundedTraders;
  private readonly c: DepositHistoryComponents;
  private pageBlocks = DEPOSIT_LOG_PAGE_BLOCKS;
  private pagesInARow = 0;
  /** The pass in flight: one at a time (the start read, or a catch-up before a reconciliation). */
  private pass: Promise<boolean> | null = null;
  private lastWarnMs: number | null = null;
  private failuresSinceWarn = 0;
  private readonly failures: Counter<"market"> | null;
  private readonly page: Gauge<"market"> | null;

  constructor(market: Hex, funded: FundedTraders, components: DepositHistoryComponents) {
    this.market = market;
    this.funded = funded;
    this.c = components;
    const r = components.registry;
    this.failures = r
      ? ((r.getSingleMetric(DEPOSIT_LOG_FAILURES_METRIC) as Counter<"market"> | undefined) ??
        new Counter({
          name: DEPOSIT_LOG_FAILURES_METRIC,
          help: "Failed reads of a market's deposit history (a page of eth_getLogs refused or unanswered)",
          labelNames: ["market"],
          registers: [r],
        }))
      : null;
    this.page = r
      ? ((r.getSingleMetric(DEPOSIT_LOG_PAGE_METRIC) as Gauge<"market"> | undefined) ??
        new Gauge({
          name: DEPOSIT_LOG_PAGE_METRIC,
          help: "Blocks per eth_getLogs page of a market's deposit history (halved when the provider refuses one)",
          labelNames: ["market"],
          registers: [r],
        }))
      : null;
    this.page?.set({ market }, this.pageBlocks);
  }

  /** Blocks per page now. */
  get pageSize(): number {
    return this.pageBlocks;
  }

  /**
   * Reads from the cursor to the head, retrying with back-off until it is done or the session stops;
   * then the set is ready (intake admits only depositors). Resolves whether it got there.
   */
  async readUntilDone(): Promise<boolean> {
    while (this.c.running()) {
      if (await this.run(true)) {
        this.funded.markRead();
        return true;
      }
    }
    return false;
  }

  /**
   * One pass from the cursor to the head, no retry (a catch-up before a reconciliation): false if a read
   * failed (logged at WARN; the set keeps what it knows). Nothing to do until the history has been read.
   */
  async catchUp(): Promise<boolean> {
    if (!this.funded.ready) return false;
    return this.run(false);
  }

  private run(retry: boolean): Promise<boolean> {
    this.pass ??= this.read(retry).finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  private async read(retry: boolean): Promise<boolean> {
    let failures = 0;
    while (this.c.running()) {
      try {
        const head = await this.c.chain.blockNumber();
        if (retry && this.funded.nextBlock > head + 1 + DEPOSIT_CURSOR_LAG_TOLERANCE_BLOCKS)
          this.chainReset(head);
        while (this.funded.nextBlock <= head && this.c.running()) await this.readPage(head);
        return this.funded.nextBlock > head;
      } catch (err) {
        failures++;
        this.failed(err);
        if (!retry) return false;
        await this.c.sleep(Math.min(DEPOSIT_LOG_RETRY_MAX_MS, DEPOSIT_LOG_RETRY_MS * 2 ** (failures - 1)));
      }
    }
    return false;
  }

  /** One page from the cursor; a refused page halves the page size (if the chain answers otherwise). */
  private async readPage(head: number): Promise<void> {
    const from = this.funded.nextBlock;
    const to = Math.min(head, from + this.pageBlocks - 1);
    let found: { trader: Hex }[];
    try {
      found = await this.c.chain.depositors([this.market], from, to);
    } catch (err) {
      this.pagesInARow = 0;
      // A chain that answers blockNumber refused this range (a provider's eth_getLogs limit): halve it. A
      // chain that answers nothing is an outage: the page stays as it is. (A range at the floor is never
      // the provider's limit: nothing to halve.)
      const width = to - from + 1;
      const reachable =
        width > DEPOSIT_LOG_PAGE_MIN_BLOCKS &&
        (await this.c.chain.blockNumber().then(
          () => true,
          () => false,
        ));
      if (reachable) this.setPage(Math.max(DEPOSIT_LOG_PAGE_MIN_BLOCKS, Math.floor(width / 2)));
      throw err;
    }
    this.funded.record(
      found.map((d) => d.trader),
      from,
      to,
    );
    if (++this.pagesInARow >= DEPOSIT_LOG_GROW_AFTER_PAGES && this.pageBlocks < DEPOSIT_LOG_PAGE_BLOCKS) {
      this.pagesInARow = 0;
      this.setPage(Math.min(DEPOSIT_LOG_PAGE_BLOCKS, this.pageBlocks * 2));
    }
  }

  /**
   * At start, the chain's head is far below the stored cursor (more than DEPOSIT_CURSOR_LAG_TOLERANCE_BLOCKS):
   * this is another chain than the one the set was read from (a development chain started afresh, same
   * contract address). Its depositors are not this chain's, so the set is read again from block 0. A head
   * a few blocks behind is a lagging provider: nothing to read until it passes the cursor.
   */
  private chainReset(head: number): void {
    this.c.logger.warn(
      "the chain is behind this node's deposit cursor; reading the deposit history again from block 0",
      {
        market: this.market,
        head,
        cursor: this.funded.nextBlock,
        forgotten: this.funded.size,
      },
    );
    this.funded.reset();
  }

  private setPage(blocks: number): void {
    this.pageBlocks = blocks;
    this.page?.set({ market: this.market }, blocks);
  }

  /** A failed read: counted, and logged at WARN (the first, then at most once per interval). */
  private failed(err: unknown): void {
    this.failures?.inc({ market: this.market });
    this.failuresSinceWarn++;
    const now = this.c.clock();
    if (this.lastWarnMs !== null && now - this.lastWarnMs < DEPOSIT_LOG_WARN_INTERVAL_MS) return;
    this.lastWarnMs = now;
    const fields = {
      market: this.market,
      fromBlock: this.funded.nextBlock,
      pageBlocks: this.pageBlocks,
      failures: this.failuresSinceWarn,
      code: (err as { code?: unknown }).code,
      err: (err as Error).message,
    };
    this.failuresSinceWarn = 0;
    if (this.funded.ready)
      this.c.logger.warn(
        "catching up on the market's depositors failed; traders that deposited since fromBlock wait for the follower",
        fields,
      );
    else
      this.c.logger.warn(
        "reading the market's depositors failed; admitting every trader until it works",
        fields,
      );
  }
}
