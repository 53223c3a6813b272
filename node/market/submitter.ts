// Ranked submission of one market's results. Every node that cleared a trading epoch computes the same
// per-epoch ranking of the wallets it knows (keccak of market, epoch, wallet; lowest first) and takes its
// turn rank × SUBMIT_BACKOFF_MS after a start time: after the reconciliation window for a proposal, after
// the standing event for a challenge. A proposal needs the proposal window (it closes `challengeWindow`
// before the end of epoch e + 1), a challenge the challenge window (the end of e + 1); a node whose turn
// comes too late does not send. This is the place to change how (and whether) a node submits.
import { AbiCoder, keccak256 } from "ethers";
import { epochEndMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import { type ChainError, ChainErrorCode, type ChainPort } from "../chain/port.ts";
import { SUBMIT_BACKOFF_MS } from "../constants.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import type { NodeStore } from "../store.ts";
import type { MarketContext } from "./context.ts";
import type { NodeWallet } from "./intake.ts";
import type { EpochWork } from "./work.ts";

/** Candidates are the wallets announced in this many recent epochs. */
const SUBMITTER_LOOKBACK_EPOCHS = 16n;
/** Stop trying this long before a window closes: the commit and the call each need a block. */
const WINDOW_MARGIN_MS = 300;

/** The deterministic submitter score of a wallet for an epoch: lower goes first. */
export function submitterScore(market: Hex, epoch: bigint, wallet: Hex): Hex {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["bytes32", "uint64", "address"], [market, epoch, wallet]),
  ) as Hex;
}

/** This wallet's 0-based rank among `candidates` (itself included) for the epoch. */
export function submitterRank(market: Hex, epoch: bigint, wallet: Hex, candidates: readonly Hex[]): number {
  const all = [...new Set([...candidates.map((c) => c.toLowerCase() as Hex), wallet.toLowerCase() as Hex])];
  const mine = submitterScore(market, epoch, wallet);
  return all.filter((w) => submitterScore(market, epoch, w) < mine).length;
}

export interface SubmitterComponents {
  readonly store: NodeStore;
  readonly chain: ChainPort;
  readonly wallet: NodeWallet;
  readonly metrics: MarketMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** False once the session stops. */
  readonly running: () => boolean;
}

export type SubmitOutcome =
  | "submitted"
  | "already_proposed"
  | "stale"
  | "lost_race"
  | "window_too_short"
  | "no_gas"
  | "failed";

export class RankedSubmitter {
  private readonly ctx: MarketContext;
  private readonly c: SubmitterComponents;
  private warnedNoGas = false;

  constructor(ctx: MarketContext, components: SubmitterComponents) {
    this.ctx = ctx;
    this.c = components;
  }

  /** The epoch's rank of this node's wallet among the wallets recently announced in the market. */
  rank(epoch: bigint): number {
    const candidates = this.c.store.knownWallets(this.ctx.market, epoch - SUBMITTER_LOOKBACK_EPOCHS);
    return submitterRank(this.ctx.market, epoch, this.c.wallet.address, candidates);
  }

  /** The end of epoch e + 1: the challenge deadline of e. */
  deadlineMs(epoch: bigint): number {
    return Number(epochEndMs(this.ctx.schedule, epoch + 1n));
  }

  /** The end of e's proposal window: `challengeWindow` before its deadline. */
  proposalEndMs(epoch: bigint): number {
    return this.deadlineMs(epoch) - Number(this.ctx.params.challengeWindowS) * 1000;
  }

  /** Waits for this node's turn from `startMs`; false if the turn comes after `endMs` or the session stops. */
  private async waitTurn(epoch: bigint, startMs: number, endMs: number): Promise<boolean> {
    const rank = this.rank(epoch);
    const at = Math.max(this.c.clock(), startMs + rank * SUBMIT_BACKOFF_MS);
    if (at >= endMs - WINDOW_MARGIN_MS) {
      this.c.logger.debug("window too short for our rank", { epoch, rank });
      return false;
    }
    await this.c.sleep(at - this.c.clock());
    return this.c.running();
  }

  private async hasGas(): Promise<boolean> {
    if ((await this.c.chain.gasBalance()) > this.ctx.params.bondWei) return true;
    if (!this.warnedNoGas) {
      this.c.logger.warn("the node's wallet cannot pay gas and the bond, so it does not submit results", {
        wallet: this.c.wallet.address,
        bondWei: this.ctx.params.bondWei,
      });
      this.c.metrics.observeSettlement("no_gas", 0n);
      this.warnedNoGas = true;
    }
    return false;
  }

  /** Proposes the epoch's batch at this node's turn, unless a result stands by then. */
  async proposeWhenRanked(epoch: bigint, work: EpochWork, turnStartMs: number): Promise<SubmitOutcome> {
    const selection = work.selection;
    if (selection?.outcome !== "batch") return "failed";
    if (!(await this.waitTurn(epoch, turnStartMs, this.proposalEndMs(epoch)))) return "window_too_short";
    if (work.standing || this.c.store.getEpoch(this.ctx.market, epoch)?.settleTx) return "already_proposed";
    return this.send("propose", epoch, async () => {
      if (await this.c.chain.isSettled(this.ctx.market, epoch)) return "already_proposed";
      if (!(await this.hasGas())) return "no_gas";
      const r = await this.c.chain.propose(
        this.ctx.market,
        epoch,
        selection.bytes,
        selection.clearing.resultHash,
      );
      this.c.metrics.observeSettlement("proposed", r.gasUsed);
      this.c.store.updateEpoch(this.ctx.market, epoch, { weSubmitted: true }, this.c.clock());
      this.c.logger.info("proposed the epoch's result", { epoch, tx: r.txHash, gasUsed: r.gasUsed });
      return "submitted";
    });
  }

  /**
   * Challenges the standing result of `epoch` with `union` at this node's turn (from `turnStartMs`),
   * unless `stillStanding` says the standing result has changed meanwhile.
   */
  async challengeWhenRanked(
    epoch: bigint,
    standingSubmitter: Hex,
    union: Uint8Array,
    resultHash: Hex,
    turnStartMs: number,
    stillStanding: () => boolean,
  ): Promise<SubmitOutcome> {
    if (!(await this.waitTurn(epoch, turnStartMs, this.deadlineMs(epoch)))) return "window_too_short";
    if (!stillStanding()) return "stale";
    return this.send("challenge", epoch, async () => {
      if (!(await this.hasGas())) return "no_gas";
      const r = await this.c.chain.challenge(this.ctx.market, epoch, standingSubmitter, union, resultHash);
      this.c.metrics.observeSettlement("challenged", r.gasUsed);
      this.c.store.updateEpoch(this.ctx.market, epoch, { weChallenged: true }, this.c.clock());
      this.c.logger.info("challenged the standing result", {
        epoch,
        replaced: standingSubmitter,
        tx: r.txHash,
        gasUsed: r.gasUsed,
      });
      return "submitted";
    });
  }

  private async send(what: string, epoch: bigint, fn: () => Promise<SubmitOutcome>): Promise<SubmitOutcome> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as Partial<ChainError>).code;
      if (code === ChainErrorCode.ALREADY_PROPOSED || code === ChainErrorCode.STALE) {
        this.c.metrics.observeSettlement("lost_race", 0n);
        this.c.logger.info(`${what}: another node was first`, { epoch, code });
        return "lost_race";
      }
      this.c.metrics.observeSettlement("failed", 0n);
      this.c.logger.warn(`${what} failed`, { epoch, code, err: (err as Error).message });
      return "failed";
    }
  }
}
