// The epoch pipeline of one market. For epoch e (times are this node's clock; end(e) = close):
//   open ─▶ close: announce fingerprint ─▶ reconcile with peers whose fingerprint differs (bounded window,
//   early exit once every market peer announced ours) ─▶ freeze ─▶ read collateral for e from the chain
//   ─▶ coverage rule ─▶ clear and select the batch ─▶ announce result hash ─▶ ranked proposal (if it
//   trades and nothing stands yet). What the chain then does with the epoch — proposals, challenges,
//   finality — is handled by challenger.ts and recorded by settlements.ts.
import type { Collateral } from "../../clearing/coverage.ts";
import { epochEndMs, epochStartMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { ChainPort } from "../chain/port.ts";
import { isTransient } from "../chain/rpc-guard.ts";
import { KEEP_ORDER_EPOCHS, RECONCILE_WINDOW_EIGHTHS, RECONCILE_WINDOW_MAX_MS } from "../constants.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import type { OrderBooks } from "../orderbook.ts";
import type { NodeStore } from "../store.ts";
import type { AnnouncementBoard } from "./announcements.ts";
import type { Challenger } from "./challenger.ts";
import { epochAt, type MarketContext } from "./context.ts";
import { proposeUntilSettled, retryUntil } from "./epoch-retry.ts";
import type { SessionNetwork } from "./network.ts";
import { localResultView, type SettlementRecorder, UnsettledCode, unsettledReason } from "./settlements.ts";
import type { RankedSubmitter } from "./submitter.ts";
import type { EpochWork, EpochWorks } from "./work.ts";

/** Books of this many recent epochs stay in memory (the store keeps the rest). */
const KEEP_EPOCHS_IN_MEMORY = 4n;
/** Reconcile at least this long after close before an early exit. */
const MIN_RECONCILE_MS = 150;
/** The longest the reconciliation waits for an announcement before it looks again. */
const RECONCILE_WAIT_MAX_MS = 100;
/** How often it looks whether orders that arrived before the close still wait in the validation queue. */
const QUEUE_POLL_MS = 10;
/**
 * How long after the close a peer that has not announced the epoch yet is waited for before a sync session
 * with it (at most a quarter of the reconciliation window).
 */
const ANNOUNCE_GRACE_MS = 250;
/** Sync sessions run at once during reconciliation. */
const RECONCILE_CONCURRENCY = 3;
/** Pause between collateral read attempts while the chain catches up with the close. */
const COLLATERAL_RETRY_MS = 100;
/** Network orders are pruned from the store every this many epochs. */
const PRUNE_EVERY_EPOCHS = 64n;

export interface PipelineOptions {
  /** Whether this node submits settlements when its turn comes. */
  readonly submit: boolean;
  /** Upper bound of the reconciliation window after close (default RECONCILE_WINDOW_MAX_MS). */
  readonly reconcileWindowMs?: number;
}

export interface PipelineComponents {
  readonly books: OrderBooks;
  readonly store: NodeStore;
  readonly chain: ChainPort;
  readonly network: SessionNetwork;
  readonly board: AnnouncementBoard;
  readonly recorder: SettlementRecorder;
  readonly submitter: RankedSubmitter;
  readonly challenger: Challenger;
  readonly works: EpochWorks;
  readonly metrics: MarketMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly running: () => boolean;
}

export class EpochPipeline {
  private readonly ctx: MarketContext;
  private readonly opts: PipelineOptions;
  private readonly c: PipelineComponents;
  private closeTimer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly runningEpochs = new Set<bigint>();

  constructor(ctx: MarketContext, opts: PipelineOptions, components: PipelineComponents) {
    this.ctx = ctx;
    this.opts = opts;
    this.c = components;
  }

  /** Marks the current epoch open and schedules every close from now on. */
  start(): void {
    const current = epochAt(this.ctx, this.c.clock());
    if (current >= 0n) this.c.store.updateEpoch(this.ctx.market, current, { phase: "open" }, this.c.clock());
    this.scheduleClose();
  }

  /** Stops scheduling; resolves once the epochs in flight have wound down. */
  async stop(): Promise<void> {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Whether the pipeline of `epoch` is still running (close-out waits for it). */
  isRunning(epoch: bigint): boolean {
    return this.runningEpochs.has(epoch);
  }

  /** The reconciliation window: a share of the epoch, capped. */
  reconcileWindowMs(): number {
    const lengthMs = Number(this.ctx.schedule.epochLengthS) * 1000;
    const cap = this.opts.reconcileWindowMs ?? RECONCILE_WINDOW_MAX_MS;
    return Math.min(cap, Math.floor((lengthMs * RECONCILE_WINDOW_EIGHTHS) / 8));
  }

  private scheduleClose(): void {
    if (!this.c.running()) return;
    const now = BigInt(this.c.clock());
    const current = epochAt(this.ctx, Number(now));
    const closeAt =
      current < 0n ? epochStartMs(this.ctx.schedule, 0n) : epochEndMs(this.ctx.schedule, current);
    this.closeTimer = setTimeout(() => this.onClose(current), Number(closeAt - now) + 1);
  }

  private onClose(closed: bigint): void {
    if (!this.c.running()) return;
    if (closed >= 0n) {
      this.runningEpochs.add(closed);
      const p = this.runEpoch(closed).catch((err) => this.failed(closed, err));
      this.inFlight.add(p);
      void p.finally(() => {
        this.inFlight.delete(p);
        this.runningEpochs.delete(closed);
      });
    }
    const next = closed + 1n;
    this.c.store.updateEpoch(this.ctx.market, next, { phase: "open" }, this.c.clock());
    this.c.books.dropBefore(this.ctx.market, next - KEEP_EPOCHS_IN_MEMORY);
    if (next % PRUNE_EVERY_EPOCHS === 0n) this.c.store.prune(this.ctx.market, next - KEEP_ORDER_EPOCHS);
    this.scheduleClose();
  }

  /** A step failed: the epoch records why (its final state comes at close-out), and the log says so. */
  private failed(epoch: bigint, err: unknown): void {
    const code = isTransient(err) ? UnsettledCode.CHAIN_UNREACHABLE : UnsettledCode.PIPELINE_FAILED;
    const reason = unsettledReason(
      code,
      `the epoch pipeline failed: ${(err as Error).message ?? String(err)}`,
    );
    this.c.store.updateEpoch(this.ctx.market, epoch, { reason }, this.c.clock());
    this.c.logger.error("epoch pipeline failed", { epoch, err: (err as Error).stack ?? String(err) });
  }

  /** Runs the pipeline of a closed epoch (the close timer calls it; tests may too). */
  async runEpoch(epoch: bigint): Promise<void> {
    const market = this.ctx.market;
    const t0 = this.c.clock();
    const timings: Record<string, number> = {};
    this.c.store.updateEpoch(market, epoch, { phase: "reconciling" }, t0);
    const book = this.c.books.getOrCreate(market, epoch);
    await this.c.board.announce(book, null);
    // collateralOf(epoch) is the same at any block of epoch + 1: the traders of the orders held at the
    // close are read while the set is reconciled (waiting on peers, mostly), and after the freeze only
    // the traders that reconciliation brought in. Was 0.5–1.8 s after the freeze at 2,500 traders.
    let reconciling = true;
    const early = this.readCollateralWhile(epoch, book.traders(), () => reconciling && this.c.running());
    const rec = await this.reconcile(epoch, t0 + this.reconcileWindowMs());
    reconciling = false;
    book.freeze();
    const t1 = this.c.clock();
    timings.reconcileMs = t1 - t0;
    this.c.metrics.observePhase("reconcile", t1 - t0);
    this.c.store.updateEpoch(
      market,
      epoch,
      { phase: "frozen", orderCount: book.size, fingerprint: book.fingerprint() },
      t1,
    );
    if (!this.c.running()) return;

    // Collateral, coverage, clearing and the batch the certificate needs (settlement/batch.ts).
    const work = this.c.works.getOrCreate(epoch);
    for (const id of book.ids()) work.orders.set(id, book.get(id)!.order);
    const traderSet = new Set<Hex>();
    for (const o of work.orders.values()) traderSet.add(o.trader);
    const traders = [...traderSet].sort();
    const known = (await early) ?? new Map<Hex, Collateral>();
    const missing = traders.filter((t) => !known.has(t));
    // Chain outage at close: the read is retried until the epoch's challenge deadline (epoch-retry.ts).
    const late =
      missing.length === 0
        ? new Map<Hex, Collateral>()
        : await retryUntil(
            "collateral read",
            epoch,
            Number(epochEndMs(this.ctx.schedule, epoch + 1n)),
            () => this.readCollateral(epoch, missing),
            isTransient,
            this.c,
          );
    for (const t of traders) {
      const c = known.get(t) ?? late.get(t);
      if (c !== undefined) work.collateral.set(t, c);
    }
    const t2 = this.c.clock();
    timings.collateralMs = t2 - t1;
    timings.collateralTradersAfterFreeze = missing.length;
    this.c.metrics.observePhase("collateral", t2 - t1);

    const selection = work.select(this.ctx);
    const result = selection.clearing;
    // Why each left-out order was left out: `smartmarket orders` and `epoch <n>` show it.
    const { rows, cut } = work.exclusionRecords();
    this.c.store.putExclusions(market, epoch, rows, cut);
    const t3 = this.c.clock();
    timings.clearMs = t3 - t2;
    // From the epoch's close (the schedule's, not the timer's) to this node holding its result.
    timings.sinceCloseMs = t3 - Number(epochEndMs(this.ctx.schedule, epoch));
    this.c.metrics.observePhase("clear", t3 - t2);
    await this.c.recorder.recordCleared(epoch, {
      coveredCount: selection.kept.length,
      resultHash: result.resultHash,
      price: result.price === null ? null : result.price.toString(),
      volume: result.volume.toString(),
      welfare: result.welfare.toString(),
      resultJson: JSON.stringify(localResultView(result)),
      timingsJson: JSON.stringify({
        ...timings,
        reconcileRounds: rec.rounds,
        reconcileSessions: rec.sessions,
      }),
    });
    await this.c.board.announce(book, result.resultHash);
    this.c.logger.info("epoch cleared", {
      epoch,
      orders: book.size,
      covered: selection.kept.length,
      price: result.price,
      volume: result.volume,
      resultHash: result.resultHash,
      reconcileMs: timings.reconcileMs,
    });
    // A result may already stand (another node was faster): check it against ours first.
    if (work.standing) this.c.challenger.consider(work.standing);
    else if (selection.outcome === "batch") await this.proposeOrExplain(epoch, work, t0);
  }

  /**
   * The ranked proposal of a trading epoch, retried while the proposal window is open; if the epoch
   * cleared too late for it, or every try failed, the epoch records why (close-out makes it final).
   */
  private async proposeOrExplain(epoch: bigint, work: EpochWork, t0: number): Promise<void> {
    const market = this.ctx.market;
    if (this.c.clock() >= this.c.submitter.proposalEndMs(epoch)) {
      const reason = unsettledReason(
        UnsettledCode.WINDOW_PASSED,
        "the epoch cleared after its proposal window had closed (the chain was unreachable until then)",
      );
      this.c.store.updateEpoch(market, epoch, { reason }, this.c.clock());
      this.c.logger.warn("epoch cleared after its proposal window; it cannot be settled", { epoch });
      return;
    }
    if (!this.opts.submit) return;
    const { outcome, tries } = await proposeUntilSettled(
      this.ctx,
      epoch,
      work,
      t0 + this.reconcileWindowMs(),
      {
        ...this.c,
        submitter: this.c.submitter,
      },
    );
    if (
      (outcome === "failed" || outcome === "unreachable") &&
      !this.c.store.getEpoch(market, epoch)?.settleTx
    ) {
      // The submitter logged each failure; one more read tells an outage from a refused proposal.
      const reachable =
        outcome === "failed" ||
        (await this.c.chain.blockNumber().then(
          () => true,
          (err: unknown) => !isTransient(err),
        ));
      const reason = unsettledReason(
        reachable ? UnsettledCode.PROPOSAL_FAILED : UnsettledCode.CHAIN_UNREACHABLE,
        `our proposal failed ${tries} time(s) while the proposal window was open`,
      );
      this.c.store.updateEpoch(market, epoch, { reason }, this.c.clock());
      this.c.logger.warn("could not propose the epoch's result within its window", { epoch, tries });
    }
  }

  /**
   * Reconciles the epoch until every market peer announced our fingerprint, or the window ends. A
   * (peer, our fingerprint, their fingerprint) combination is reconciled at most once. It does not end
   * while orders that reached this node before the close wait in its validation queue: under load (2,000
   * orders/s on 2 cores) 900–2,000 of them per node were left out at the freeze (EPOCH_FROZEN), a
   * different number on each node, and the nodes' sets differed. A peer that has not announced the epoch
   * yet gets a grace (ANNOUNCE_GRACE_MS) before a session: every node announces at its close, and a peer
   * announcing our fingerprint needs none. Without it each node opened a session with every peer at each
   * close, their announcements still on their way: 4 sessions a node in a 5-node market whose sets were
   * equal, 0.95–1.3 s of the close under load (0.33–0.67 s with it).
   */
  private async reconcile(epoch: bigint, deadlineMs: number): Promise<{ rounds: number; sessions: number }> {
    const startedMs = this.c.clock();
    const closeMs = Number(epochEndMs(this.ctx.schedule, epoch));
    const book = this.c.books.getOrCreate(this.ctx.market, epoch);
    const tried = new Set<string>();
    let rounds = 0;
    let sessions = 0;
    let announced = book.fingerprint();
    const graceMs = Math.min(ANNOUNCE_GRACE_MS, Math.floor((deadlineMs - startedMs) / 4));
    while (this.c.running() && this.c.clock() < deadlineMs) {
      const ours = book.fingerprint();
      if (ours !== announced) {
        announced = ours;
        await this.c.board.announce(book, null);
      }
      const anns = this.c.board.latest(epoch);
      const peers = this.c.network.topicPeers(this.ctx.topics.orders);
      const differing = peers.filter((p) => anns.get(p)?.fingerprint !== ours);
      if (
        differing.length === 0 &&
        peers.length > 0 &&
        this.c.clock() - startedMs >= MIN_RECONCILE_MS &&
        !this.c.network.queuedBefore(this.ctx.topics.orders, closeMs)
      )
        break;
      const key = (p: string) => `${p}|${ours}|${anns.get(p)?.fingerprint ?? "?"}`;
      const inGrace = this.c.clock() - startedMs < graceMs;
      const todo = differing.filter((p) => !tried.has(key(p)) && !(inGrace && !anns.has(p)));
      if (todo.length === 0) {
        // Until an announcement arrives, or until what holds the exit back may have passed: the minimum
        // time and the grace exactly, the validation queue polled (it drains without waking this loop).
        // A fixed 100 ms wait here overshot the minimum by 50 ms on average at every close.
        const elapsedMs = this.c.clock() - startedMs;
        let waitMs = Math.min(RECONCILE_WAIT_MAX_MS, deadlineMs - this.c.clock());
        if (inGrace) waitMs = Math.min(waitMs, graceMs - elapsedMs);
        if (differing.length === 0 && peers.length > 0) {
          const untilMinimumMs = MIN_RECONCILE_MS - elapsedMs;
          waitMs = Math.min(waitMs, untilMinimumMs > 0 ? untilMinimumMs : QUEUE_POLL_MS);
        }
        await this.c.board.wait(waitMs);
        continue;
      }
      rounds++;
      for (let i = 0; i < todo.length; i += RECONCILE_CONCURRENCY) {
        await Promise.all(
          todo.slice(i, i + RECONCILE_CONCURRENCY).map(async (p) => {
            tried.add(key(p));
            sessions++;
            try {
              const remaining = Math.max(50, deadlineMs - this.c.clock());
              const report = await this.c.network.reconcile(
                p,
                this.ctx.market,
                epoch,
                AbortSignal.timeout(remaining),
              );
              this.c.metrics.observeSync(report);
            } catch (err) {
              this.c.logger.debug("reconcile failed", { peer: p, epoch, err });
            }
          }),
        );
      }
    }
    return { rounds, sessions };
  }

  /**
   * The collateral of `traders` for the epoch, read while `useful()` holds (reads that fail, as before
   * the chain has passed the close, are retried until then); null if it did not succeed by then. The
   * caller reads what is missing with readCollateral, whose failures are the epoch's.
   */
  private async readCollateralWhile(
    epoch: bigint,
    traders: readonly Hex[],
    useful: () => boolean,
  ): Promise<Map<Hex, Collateral> | null> {
    if (traders.length === 0) return new Map();
    while (useful()) {
      try {
        return await this.c.chain.collateralOfMany(this.ctx.market, traders, epoch);
      } catch (err) {
        this.c.logger.debug("early collateral read failed; read again after the freeze", { epoch, err });
        if (!useful()) break;
        await this.c.sleep(COLLATERAL_RETRY_MS);
      }
    }
    return null;
  }

  /**
   * The collateral of every trader for the epoch. The chain must have passed the close, which right
   * after close may take a block, so reads are retried until the settlement window (the next epoch) ends:
   * after that a result could not be settled anyway.
   */
  async readCollateral(epoch: bigint, traders: readonly Hex[]): Promise<Map<Hex, Collateral>> {
    // Unfunded-order flood: 2,000 traders used to cost 4,000 eth_calls (collateralOf per trader and asset).
    // One collateralOfMany call per 500 traders reads them all: O(1) round trips per epoch.
    const deadline = Number(epochEndMs(this.ctx.schedule, epoch + 1n));
    if (traders.length === 0) return new Map();
    for (;;) {
      try {
        return await this.c.chain.collateralOfMany(this.ctx.market, traders, epoch);
      } catch (err) {
        if (this.c.clock() > deadline || !this.c.running()) throw err;
        await this.c.sleep(COLLATERAL_RETRY_MS);
      }
    }
  }
}
