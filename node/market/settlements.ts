// The chain's side of one market's epochs: what the node records when a settlement lands (Settled
// events, delivered by the node's chain follower), whether it agreed, and the final state of every epoch
// whose window has passed. Phases only move forward (store.ts PHASE_RANK), so the order in which the
// pipeline and the chain report an epoch does not matter: agreement is computed by whichever comes second.
import type { ClearingResult } from "../../clearing/clear.ts";
import type { EpochResultView } from "../api/types.ts";
import type { ChainPort, SettledEvent } from "../chain/port.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import { type EpochRecord, isFinalPhase, type NodeStore } from "../store.ts";
import type { MarketContext } from "./context.ts";

/** An epoch is closed out (given a final state) once the chain is this many epochs past it... */
const CLOSE_OUT_AFTER_EPOCHS = 2n;
/** ...and its pipeline has finished, or this many epochs have passed regardless. */
const CLOSE_OUT_AT_MOST_EPOCHS = 4n;
/** How many recent epochs each close-out pass looks at. */
const CLOSE_OUT_SCAN_EPOCHS = 16;

export interface SettlementRecorderComponents {
  readonly store: NodeStore;
  readonly chain: ChainPort;
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

  constructor(ctx: MarketContext, components: SettlementRecorderComponents) {
    this.ctx = ctx;
    this.c = components;
  }

  /** A settlement of this market landed. Idempotent: the same event twice records once. */
  async onSettled(ev: SettledEvent): Promise<void> {
    const before = this.c.store.getEpoch(ev.market, ev.epoch);
    if (before?.settleTx === ev.txHash) return;
    const after = this.c.store.updateEpoch(
      ev.market,
      ev.epoch,
      {
        phase: "settled",
        settleTx: ev.txHash,
        settleSubmitter: ev.submitter,
        settleResultHash: ev.resultHash,
        settlePrice: ev.price.toString(),
        settleVolume: ev.volume.toString(),
        gasUsed: ev.gasUsed.toString(),
        reason: null,
      },
      this.c.clock(),
    );
    // Without our own result yet (the pipeline has not cleared), agreement is decided by recordCleared.
    if (after.resultHash !== null) await this.decideAgreement(after);
  }

  /** The pipeline cleared the epoch. If the chain settled it first, agreement is decided now. */
  async recordCleared(epoch: bigint, patch: Partial<EpochRecord>): Promise<void> {
    const after = this.c.store.updateEpoch(
      this.ctx.market,
      epoch,
      { ...patch, phase: "cleared" },
      this.c.clock(),
    );
    if (after.settleResultHash !== null) await this.decideAgreement(after);
  }

  private async decideAgreement(rec: EpochRecord): Promise<void> {
    if (rec.agreed !== null) return;
    const agreed = rec.resultHash === rec.settleResultHash;
    const patch: Partial<EpochRecord> = { agreed };
    if (!agreed) {
      // The chain's result is final: record the settled fills in place of ours.
      try {
        const fills = await this.c.chain.settledFills(rec.market, rec.epoch);
        const chain: EpochResultView = {
          source: "chain",
          price: rec.settlePrice,
          volume: rec.settleVolume ?? "0",
          resultHash: rec.settleResultHash!,
          fills: fills.map((f) => ({ id: f.id, quantity: f.quantity.toString() })),
          ours: rec.resultJson ? (JSON.parse(rec.resultJson) as EpochResultView) : null,
        };
        patch.resultJson = JSON.stringify(chain);
      } catch (err) {
        this.c.logger.warn("cannot rebuild settled fills", { epoch: rec.epoch, tx: rec.settleTx, err });
      }
      this.c.logger.warn("diverged from the settled result; adopting the chain's", {
        epoch: rec.epoch,
        ours: rec.resultHash,
        chain: rec.settleResultHash,
      });
    }
    this.c.store.updateEpoch(rec.market, rec.epoch, patch, this.c.clock());
    this.c.metrics.observeAgreement(agreed);
  }

  /**
   * Gives every epoch whose settlement window has passed (CLOSE_OUT_AFTER_EPOCHS behind `current`) a final
   * state: a traded epoch nobody settled is "unsettled"; an epoch without trade is final as soon as it is
   * cleared, agreed if every announced result equals ours; an epoch whose pipeline never finished (the
   * node was down at close, or a step failed) is "unsettled" with the reason.
   */
  closeOut(current: bigint, pipelineRunning: (epoch: bigint) => boolean = () => false): void {
    for (const rec of this.c.store.recentEpochs(this.ctx.market, CLOSE_OUT_SCAN_EPOCHS)) {
      if (isFinalPhase(rec.phase) || rec.epoch + CLOSE_OUT_AFTER_EPOCHS > current) continue;
      if (pipelineRunning(rec.epoch) && rec.epoch + CLOSE_OUT_AT_MOST_EPOCHS > current) continue;
      const now = this.c.clock();
      if (rec.phase === "cleared" && rec.volume !== null && rec.volume !== "0") {
        const reason = "no settlement landed within the settlement window";
        this.c.store.updateEpoch(rec.market, rec.epoch, { phase: "unsettled", reason }, now);
        this.c.logger.warn("epoch traded but was not settled", {
          epoch: rec.epoch,
          resultHash: rec.resultHash,
        });
        this.c.metrics.observeSettlement("unsettled", 0n);
      } else if (rec.phase === "cleared") {
        // Nothing to settle: agreement is whether the announced results equal ours.
        const anns = this.c.store.announcements(rec.market, rec.epoch).filter((a) => a.resultHash !== null);
        const agreed = anns.every((a) => a.resultHash === rec.resultHash);
        this.c.store.updateEpoch(rec.market, rec.epoch, { phase: "settled", agreed }, now);
        this.c.metrics.observeAgreement(agreed);
      } else {
        const reason = rec.reason ?? `the epoch pipeline did not finish (stopped at "${rec.phase}")`;
        this.c.store.updateEpoch(rec.market, rec.epoch, { phase: "unsettled", reason }, now);
        this.c.logger.warn("epoch closed out without a result", { epoch: rec.epoch, reason });
        this.c.metrics.observeSettlement("unsettled", 0n);
      }
    }
  }
}
