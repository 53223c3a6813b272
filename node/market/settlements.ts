// The chain's side of one market's epochs: what the node records when a result stands (Proposed,
// Challenged, delivered by the node's chain follower), when it becomes final (the close of epoch e + 1)
// and whether the node agrees with it, the final state of every epoch, and the finalisation of the
// results this node submitted (fee and bond). Phases only move forward (store.ts PHASE_RANK), so the
// order in which the pipeline and the chain report an epoch does not matter.
//
// Race (seen under chain outages): the standing event can arrive before the local pipeline has cleared,
// or after the node closed the epoch out ("unsettled", e.g. while the chain was unreachable). Agreement is
// decided again whenever the missing half arrives: a result seen after close-out turns "unsettled" into
// "settled" with its agreement, and a local result that arrives after the chain's final one recomputes
// `agreed` (it was decided without it). Before, such an epoch stayed "unsettled" with agreed = null, or
// "settled" with agreed = false against a result it in fact agreed with.
import type { ClearingResult } from "../../clearing/clear.ts";
import { epochEndMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { EpochResultView } from "../api/types.ts";
import type { ChainPort, FinalizeItem, SettlementEvent, StandingEvent } from "../chain/port.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import { type EpochRecord, isFinalPhase, type NodeStore } from "../store.ts";
import type { MarketContext } from "./context.ts";
import type { NodeWallet } from "./intake.ts";

/** An epoch is closed out (given a final state) once the chain is this many epochs past it... */
const CLOSE_OUT_AFTER_EPOCHS = 2n;
/** ...and its pipeline has finished, or this many epochs have passed regardless. */
const CLOSE_OUT_AT_MOST_EPOCHS = 4n;
/** A standing result is taken as final this long after its deadline (block times lag the node's clock). */
const FINAL_GRACE_MS = 1000;
/** How many recent epochs each close-out pass looks at. */
const CLOSE_OUT_SCAN_EPOCHS = 16;
/**
 * Why an epoch ended unsettled, as the prefix of its `reason` (a typed code, then the detail). An epoch
 * that cleared and traded but saw no proposal with a reachable chain keeps the plain reason
 * "no result was proposed within the proposal window".
 */
export const UnsettledCode = {
  /** The chain did not answer while the epoch could still be settled (its pipeline or proposals failed). */
  CHAIN_UNREACHABLE: "chain_unreachable",
  /** The epoch's result came too late: its proposal window had closed. */
  WINDOW_PASSED: "window_passed",
  /** The chain answered, but refused this node's proposal every time it tried (see the WARN lines). */
  PROPOSAL_FAILED: "proposal_failed",
  /** The pipeline failed for another reason, or did not finish (the node was down at close). */
  PIPELINE_FAILED: "pipeline_failed",
} as const;
export type UnsettledCode = (typeof UnsettledCode)[keyof typeof UnsettledCode];

export function unsettledReason(code: UnsettledCode, detail: string): string {
  return `${code}: ${detail}`.slice(0, 500);
}

/** This node finalises its own final results in batches: when it has this many, or one this old. */
const FINALIZE_BATCH = 4;
const FINALIZE_AFTER_EPOCHS = 8n;

export interface SettlementRecorderComponents {
  readonly store: NodeStore;
  readonly chain: ChainPort;
  readonly wallet: NodeWallet;
  readonly metrics: MarketMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
}

/** The clearing result as recorded in the store (EpochRecord.resultJson). */
export function localResultView(r: ClearingResult): EpochResultView {
  return {
    source: "local",
    price: r.price === null ? null : r.price.toString(),
    volume: r.volume.toString(),
    welfare: r.welfare.toString(),
    buyerSurplus: r.buyerSurplus.toString(),
    sellerSurplus: r.sellerSurplus.toString(),
    resultHash: r.resultHash,
    fills: r.fills.map((f) => ({ id: f.id, quantity: f.quantity.toString() })),
  };
}

export class SettlementRecorder {
  private readonly ctx: MarketContext;
  private readonly c: SettlementRecorderComponents;
  private finalizing: Promise<void> | null = null;

  constructor(ctx: MarketContext, components: SettlementRecorderComponents) {
    this.ctx = ctx;
    this.c = components;
  }

  /** A settlement event of this market. Idempotent: the same event twice records once. */
  async onEvent(ev: SettlementEvent): Promise<void> {
    if (ev.kind === "Finalized") {
      this.c.store.updateEpoch(ev.market, ev.epoch, { finalizeTx: ev.txHash }, this.c.clock());
      return;
    }
    this.onStanding(ev);
  }

  /** A result of the epoch stands (proposed, or a challenge replaced the previous one). */
  onStanding(ev: StandingEvent): void {
    const before = this.c.store.getEpoch(ev.market, ev.epoch);
    if (before?.settleTx === ev.txHash) return;
    const submitter = ev.kind === "Proposed" ? ev.submitter : ev.challenger;
    const after = this.c.store.updateEpoch(
      ev.market,
      ev.epoch,
      {
        phase: "proposed",
        settleTx: ev.txHash,
        settleSubmitter: submitter,
        settleResultHash: ev.resultHash,
        settlePrice: ev.price.toString(),
        settleVolume: ev.volume.toString(),
        gasUsed: ev.gasUsed.toString(),
        batchHash: ev.batchHash,
        feeTotal: ev.feeTotal.toString(),
        challenges: (before?.challenges ?? 0) + (ev.kind === "Challenged" ? 1 : 0),
        reason: null,
      },
      this.c.clock(),
    );
    // A result seen after the node closed the epoch out (as "settled" or "unsettled": the event came late,
    // e.g. the chain was unreachable at the deadline): it is final, and agreement is decided again.
    if (isFinalPhase(after.phase)) {
      if (after.phase === "unsettled") {
        this.c.logger.warn("a result of an epoch closed out as unsettled was found on chain; it is final", {
          epoch: ev.epoch,
          tx: ev.txHash,
          was: before?.reason ?? null,
        });
      }
      this.decideFinal(after);
    }
  }

  /** The pipeline cleared the epoch. */
  async recordCleared(epoch: bigint, patch: Partial<EpochRecord>): Promise<void> {
    const after = this.c.store.updateEpoch(
      this.ctx.market,
      epoch,
      { ...patch, phase: "cleared" },
      this.c.clock(),
    );
    this.recheckAgreement(after);
  }

  /**
   * The local result arrived (or changed) after the chain's result became final: `agreed` was decided
   * without it, so it is decided again (the phase stays "settled": store.ts PHASE_RANK).
   */
  private recheckAgreement(rec: EpochRecord): void {
    if (rec.phase !== "settled" || rec.settleTx === null || rec.resultHash === null) return;
    const agreed = rec.resultHash === rec.settleResultHash;
    // Unchanged agreement is not enough to stop here: a disagreeing epoch must keep showing the chain's
    // result (the local one, just written over it, goes under `ours`).
    if (rec.agreed === agreed && (agreed || resultSource(rec) === "chain")) return;
    this.c.logger.info("our result arrived after the chain's was final; agreement decided again", {
      epoch: rec.epoch,
      ours: rec.resultHash,
      chain: rec.settleResultHash,
    });
    this.decideFinal(rec);
  }

  /** The node's result changed: it learned orders from a standing batch and cleared again. */
  recordLocal(epoch: bigint, result: ClearingResult, adoptedCount: number): void {
    const after = this.c.store.updateEpoch(
      this.ctx.market,
      epoch,
      {
        resultHash: result.resultHash,
        price: result.price === null ? null : result.price.toString(),
        volume: result.volume.toString(),
        welfare: result.welfare.toString(),
        resultJson: JSON.stringify(localResultView(result)),
        adoptedCount,
      },
      this.c.clock(),
    );
    this.recheckAgreement(after);
  }

  /** The standing result is final: record whether the node agrees; on divergence, the chain's wins. */
  private decideFinal(rec: EpochRecord): void {
    const agreed = rec.resultHash !== null && rec.resultHash === rec.settleResultHash;
    const patch: Partial<EpochRecord> = { phase: "settled", agreed };
    if (!agreed) {
      const chain: EpochResultView = {
        source: "chain",
        price: rec.settlePrice,
        volume: rec.settleVolume ?? "0",
        resultHash: rec.settleResultHash!,
        fills: [],
        ours: rec.resultJson ? (JSON.parse(rec.resultJson) as EpochResultView) : null,
      };
      patch.resultJson = JSON.stringify(chain);
      this.c.logger.warn("the final result differs from ours; the chain's is final", {
        epoch: rec.epoch,
        ours: rec.resultHash,
        chain: rec.settleResultHash,
      });
    }
    this.c.store.updateEpoch(rec.market, rec.epoch, patch, this.c.clock());
    if (rec.agreed !== agreed) this.c.metrics.observeAgreement(agreed);
  }

  /**
   * Gives every epoch whose challenge deadline has passed a final state: a standing result becomes final
   * ("settled", agreed or not); a traded epoch without one is "unsettled"; an epoch without trade is final
   * as soon as it is cleared, agreed if every announced result equals ours; an epoch whose pipeline never
   * finished (the node was down at close, or a step failed) is "unsettled" with the reason. Then the
   * node's own final results are finalised in batches.
   */
  closeOut(
    current: bigint,
    pipelineRunning: (epoch: bigint) => boolean = () => false,
    chainReachable = true,
  ): void {
    const now = this.c.clock();
    for (const rec of this.c.store.recentEpochs(this.ctx.market, CLOSE_OUT_SCAN_EPOCHS)) {
      if (isFinalPhase(rec.phase) || rec.epoch + CLOSE_OUT_AFTER_EPOCHS > current) continue;
      if (now < Number(epochEndMs(this.ctx.schedule, rec.epoch + 1n)) + FINAL_GRACE_MS) continue;
      if (pipelineRunning(rec.epoch) && rec.epoch + CLOSE_OUT_AT_MOST_EPOCHS > current) continue;
      if (rec.settleTx !== null) {
        this.decideFinal(rec);
      } else if (rec.phase === "cleared" && rec.volume !== null && rec.volume !== "0") {
        // A reason recorded on the way (proposals that failed on an unreachable chain, a result cleared
        // after the window) says more than "nobody proposed"; a result may still be seen late (onStanding).
        const reason =
          rec.reason ??
          (chainReachable
            ? "no result was proposed within the proposal window"
            : unsettledReason(
                UnsettledCode.CHAIN_UNREACHABLE,
                "no result was seen on chain, which did not answer at the deadline",
              ));
        this.c.store.updateEpoch(rec.market, rec.epoch, { phase: "unsettled", reason }, now);
        this.c.logger.warn("epoch traded but was not settled", {
          epoch: rec.epoch,
          resultHash: rec.resultHash,
          reason,
        });
        this.c.metrics.observeSettlement("unsettled", 0n);
      } else if (rec.phase === "cleared") {
        // Nothing to settle: agreement is whether the announced results equal ours.
        const anns = this.c.store.announcements(rec.market, rec.epoch).filter((a) => a.resultHash !== null);
        const agreed = anns.every((a) => a.resultHash === rec.resultHash);
        this.c.store.updateEpoch(rec.market, rec.epoch, { phase: "settled", agreed }, now);
        this.c.metrics.observeAgreement(agreed);
      } else {
        const reason =
          rec.reason ??
          unsettledReason(
            chainReachable ? UnsettledCode.PIPELINE_FAILED : UnsettledCode.CHAIN_UNREACHABLE,
            `the epoch pipeline did not finish (stopped at "${rec.phase}")`,
          );
        this.c.store.updateEpoch(rec.market, rec.epoch, { phase: "unsettled", reason }, now);
        this.c.logger.warn("epoch closed out without a result", { epoch: rec.epoch, reason });
        this.c.metrics.observeSettlement("unsettled", 0n);
      }
    }
    this.finalizeOwn(current);
  }

  /** Finalises this node's final results (fee and bond) in one transaction per batch, then claims bonds. */
  private finalizeOwn(current: bigint): void {
    if (this.finalizing) return;
    const mine = this.c.store
      .recentEpochs(this.ctx.market, CLOSE_OUT_SCAN_EPOCHS)
      .filter(
        (r) =>
          r.phase === "settled" &&
          r.settleSubmitter === this.c.wallet.address &&
          r.finalizeTx === null &&
          r.batchHash !== null &&
          r.feeTotal !== null,
      )
      .sort((a, b) => (a.epoch < b.epoch ? -1 : 1));
    const oldest = mine[0];
    if (!oldest || (mine.length < FINALIZE_BATCH && oldest.epoch + FINALIZE_AFTER_EPOCHS > current)) return;
    const items: FinalizeItem[] = mine.map((r) => ({
      epoch: r.epoch,
      batchHash: r.batchHash as Hex,
      submitter: r.settleSubmitter as Hex,
      feeTotal: BigInt(r.feeTotal as string),
    }));
    this.finalizing = (async () => {
      try {
        const r = await this.c.chain.finalize(this.ctx.market, items);
        for (const it of items) {
          this.c.store.updateEpoch(this.ctx.market, it.epoch, { finalizeTx: r.txHash }, this.c.clock());
        }
        this.c.metrics.observeSettlement("finalized", r.gasUsed);
        const claimed = await this.c.chain.claimBonds();
        this.c.logger.info("finalised our results", {
          epochs: items.length,
          tx: r.txHash,
          bondsClaimed: claimed,
        });
      } catch (err) {
        this.c.logger.warn("finalize failed; retrying at the next close-out", {
          err: (err as Error).message,
        });
      }
    })().finally(() => {
      this.finalizing = null;
    });
  }

  /** Resolves once a finalisation in flight has ended. */
  async stop(): Promise<void> {
    await this.finalizing;
  }
}

/** Whose result an epoch record shows: "chain" once a final result differed from ours. */
function resultSource(rec: EpochRecord): string | null {
  if (rec.resultJson === null) return null;
  return (JSON.parse(rec.resultJson) as { source?: string }).source ?? null;
}
