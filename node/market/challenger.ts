// What a session does when a result of one of its epochs stands on chain (a Proposed or Challenged
// event): if the result is not the node's own, it learns the standing batch's orders (valid signed orders
// of the epoch that the node may have missed), clears its set plus those, and if that clearing differs
// from the standing one — the node holds orders the standing batch left out — it challenges with the
// union at its turn in the ranking. Nodes that hold the same orders converge on one result; a node that
// holds more pushes the result toward the union of what the honest nodes saw
// (docs/certified-settlement.md).
//
// Fault defeated: a chain that does not answer for a while around the standing event. Its reads (the
// standing batch, the collateral of traders it names) are retried until the challenge deadline, and a
// challenge whose send failed is tried again at a fresh turn while the standing result it replaces still
// stands; before, one failed read or send dropped the challenge after one WARN.
import { encodeOrder } from "../../protocol/codec.ts";
import { OrderError } from "../../protocol/errors.ts";
import { validateOrder } from "../../protocol/validation.ts";
import { selectChallenge } from "../../settlement/batch.ts";
import { BatchError, BatchErrorCode } from "../../settlement/errors.ts";
import type { ChainPort, StandingEvent } from "../chain/port.ts";
import { isTransient } from "../chain/rpc-guard.ts";
import type { Logger } from "../logger.ts";
import type { NodeStore } from "../store.ts";
import { type MarketContext, validationContext } from "./context.ts";
import { PROPOSE_MAX_DELAY_MS, PROPOSE_MAX_TRIES, RETRY_FIRST_DELAY_MS, retryUntil } from "./epoch-retry.ts";
import type { EpochPipeline } from "./pipeline.ts";
import type { SettlementRecorder } from "./settlements.ts";
import type { RankedSubmitter } from "./submitter.ts";
import type { EpochWorks } from "./work.ts";

export interface ChallengerOptions {
  /** Whether this node sends challenges (it always learns and records the standing result). */
  readonly submit: boolean;
}

export interface ChallengerComponents {
  readonly store: NodeStore;
  readonly chain: ChainPort;
  readonly works: EpochWorks;
  readonly recorder: SettlementRecorder;
  readonly submitter: RankedSubmitter;
  /** For collateral reads of traders the node learns from a standing batch. */
  readonly pipeline: () => EpochPipeline;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly running: () => boolean;
}

export class Challenger {
  private readonly ctx: MarketContext;
  private readonly opts: ChallengerOptions;
  private readonly c: ChallengerComponents;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(ctx: MarketContext, opts: ChallengerOptions, components: ChallengerComponents) {
    this.ctx = ctx;
    this.opts = opts;
    this.c = components;
  }

  /** A standing event arrived (or the pipeline finished with one standing): act on it in the background. */
  consider(ev: StandingEvent): void {
    const p = this.run(ev).catch((err) =>
      this.c.logger.warn("could not act on a standing result", {
        epoch: ev.epoch,
        tx: ev.txHash,
        err: (err as Error).message,
      }),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Resolves once every consideration in flight has ended. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(ev: StandingEvent): Promise<void> {
    const work = this.c.works.get(ev.epoch);
    // Not cleared here yet: the pipeline considers the standing result once it has.
    if (!work?.selection || !this.c.running()) return;
    if (work.standing !== ev) return; // a newer result stands already
    if (ev.resultHash === work.resultHash) return; // ours
    const seenMs = this.c.clock();
    const deadlineMs = this.c.submitter.deadlineMs(ev.epoch);
    const standing = await retryUntil(
      "reading the standing batch",
      ev.epoch,
      deadlineMs,
      () => this.c.chain.standingOf(ev),
      isTransient,
      this.c,
    );

    // Learn its orders: valid signed orders of the epoch (the contract checked them; so do we).
    const vctx = validationContext(this.ctx, { epoch: ev.epoch });
    const newTraders = new Set<`0x${string}`>();
    for (const { id, order } of standing.orders) {
      if (work.orders.has(id)) continue;
      try {
        validateOrder(order, vctx);
      } catch (err) {
        if (!(err instanceof OrderError)) throw err;
        this.c.logger.warn("a standing batch holds an order that fails validation", { id, code: err.code });
        continue;
      }
      work.orders.set(id, order);
      work.adopted.add(id);
      this.c.store.putOrder(id, order, encodeOrder(order), "chain", seenMs);
      if (!work.collateral.has(order.trader)) newTraders.add(order.trader);
    }
    if (newTraders.size > 0) {
      const traders = [...newTraders].sort();
      const read = await retryUntil(
        "collateral read for a standing batch",
        ev.epoch,
        deadlineMs,
        () => this.c.pipeline().readCollateral(ev.epoch, traders),
        isTransient,
        this.c,
      );
      for (const [t, c] of read) work.collateral.set(t, c);
    }

    let chosen: ReturnType<typeof selectChallenge>;
    try {
      chosen = selectChallenge(
        {
          market: this.ctx.market,
          epoch: ev.epoch,
          domainSeparator: this.ctx.separator,
          orders: [...work.orders.values()],
          collateral: work.lookup(),
        },
        standing,
      );
    } catch (err) {
      if (!(err instanceof BatchError) || err.code !== BatchErrorCode.BATCH_TOO_LARGE) throw err;
      // The rule bounds every honest challenge (settlement/batch.ts, selectChallenge): this would be a
      // bug, or a contract whose bounds differ from clearing/limits.ts. Recorded and said at ERROR.
      const reason = `unchallengeable: ${err.message}`;
      this.c.store.updateEpoch(this.ctx.market, ev.epoch, { reason }, this.c.clock());
      this.c.logger.error("the standing result cannot be challenged within the contract's bounds", {
        epoch: ev.epoch,
        standing: ev.resultHash,
        tx: ev.txHash,
        err: err.message,
      });
      return;
    }
    work.selection = chosen.selection;
    // The orders this selection leaves out, and why: `smartmarket epoch N` shows the adopted set's reasons.
    const { rows, cut } = work.exclusionRecords();
    this.c.store.putExclusions(this.ctx.market, ev.epoch, rows, cut);
    this.c.recorder.recordLocal(ev.epoch, chosen.selection.clearing, work.adopted.size);
    if (chosen.outcome !== "challenge") {
      this.c.logger.info("the standing result is the clearing of our orders plus its own", {
        epoch: ev.epoch,
        outcome: chosen.outcome,
        learned: work.adopted.size,
      });
      return;
    }
    this.c.logger.warn("the standing result leaves out orders we hold; challenging", {
      epoch: ev.epoch,
      standing: ev.resultHash,
      ours: chosen.selection.clearing.resultHash,
      added: chosen.added,
      submitter: standing.submitter,
    });
    if (!this.opts.submit) return;
    const stillStanding = () => work.standing === ev;
    let start = seenMs;
    let delay = RETRY_FIRST_DELAY_MS;
    for (let tries = 1; ; tries++) {
      const outcome = await this.c.submitter.challengeWhenRanked(
        ev.epoch,
        standing.submitter,
        chosen.bytes,
        chosen.selection.clearing.resultHash,
        start,
        stillStanding,
      );
      // "unreachable": the chain did not answer or the send's fate is unknown; challengeWhenRanked checks
      // that the result still stands before each send, so a try that landed is not repeated.
      if (outcome !== "unreachable" || !this.c.running() || tries >= PROPOSE_MAX_TRIES) return;
      if (this.c.clock() + delay >= deadlineMs) return;
      if (tries === 1)
        this.c.logger.warn("challenge failed; trying again while the result stands", { epoch: ev.epoch });
      await this.c.sleep(delay);
      delay = Math.min(PROPOSE_MAX_DELAY_MS, delay * 2);
      if (!stillStanding()) return;
      start = this.c.clock();
    }
  }
}
