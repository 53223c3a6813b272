// Ranked submission of one market's results. Every node that cleared a trading epoch computes the same
// per-epoch ranking of its submitter candidates (keccak of market, epoch, wallet; lowest first) and takes
// its turn rank × SUBMIT_BACKOFF_MS after a start time: after the reconciliation window for a proposal, after
// the standing event for a challenge. A proposal needs the proposal window (it closes `challengeWindow`
// before the end of epoch e + 1), a challenge the challenge window (the end of e + 1); a node whose turn
// comes too late does not send. This is the place to change how (and whether) a node submits.
//
// Candidates (docs/protocol.md, section 5): the wallets announced in the last 16 epochs that hold
// escrow in the market at the epoch's close (collateralOf(e) of either asset > 0), read once per epoch in one
// batched call, plus the node's own wallet. Sybil attack defeated: an announcement needs only fresh keys, so
// 3,000 free identities used to push the honest nodes to ranks 188–2,669 and no honest node settled; now an
// identity that counts costs a deposit (approve + deposit transactions) and escrow held through the close.

import { Counter, Gauge, type Registry } from "prom-client";
import type { Collateral } from "../../clearing/coverage.ts";
import { epochEndMs } from "../../protocol/epoch.ts";
import { AbiCoder, keccak256 } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { type ChainError, ChainErrorCode, type ChainPort } from "../chain/port.ts";
import { isTransient } from "../chain/rpc-guard.ts";
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
/** Candidate sets of this many recent epochs stay cached. */
const KEEP_CANDIDATE_EPOCHS = 4;

/**
 * Whether a wallet's collateral of the epoch admits it as a submitter candidate: any escrow of either asset
 * in the market at the close. Token units have no market-independent scale, so the threshold is "nonzero";
 * what an identity costs is the deposit's two transactions (~100k gas) and capital held through the close
 * (locked for WITHDRAWAL_DELAY_EPOCHS once a withdrawal is requested).
 */
export function fundedCandidate(c: Collateral | undefined): boolean {
  return c !== undefined && (c.base > 0n || c.quote > 0n);
}

/**
 * When a node of `rank` takes its turn in a window [startMs, endMs): rank × SUBMIT_BACKOFF_MS after the
 * start, but never later than the window's last turn (WINDOW_MARGIN_MS before its end): every rank past
 * the window shares that last turn. Sybil attack defeated: candidates that hold escrow but never submit
 * (a deposit of 1 unit makes one) used to push honest ranks past the window, so nobody settled; now they
 * can only delay the honest nodes to the last turn. null: the last turn has passed already.
 */
export function turnAt(startMs: number, rank: number, endMs: number, nowMs: number): number | null {
  const lastTurnMs = endMs - WINDOW_MARGIN_MS - 1;
  if (nowMs > lastTurnMs) return null;
  return Math.max(nowMs, Math.min(startMs + rank * SUBMIT_BACKOFF_MS, lastTurnMs));
}

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
  /** The node's metrics registry (NodeMetrics.registry): the ranking's gauges are registered there. */
  readonly registry?: Registry;
}

/** The ranking's metrics, shared by every market session on one registry (labelled by market). */
interface RankingMetrics {
  readonly candidates: Gauge<"market">;
  readonly unfunded: Gauge<"market">;
  readonly rank: Gauge<"market">;
  readonly readFailures: Counter<"market">;
}

function rankingMetrics(registry: Registry): RankingMetrics {
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    candidates: get(
      "smartmarket_submitter_candidates",
      () =>
        new Gauge({
          name: "smartmarket_submitter_candidates",
          help: "Submitter candidates of the last ranked epoch: announced wallets with escrow, and this node's",
          labelNames: ["market"],
          registers,
        }),
    ),
    unfunded: get(
      "smartmarket_submitter_unfunded_wallets",
      () =>
        new Gauge({
          name: "smartmarket_submitter_unfunded_wallets",
          help: "Announced wallets left out of the last ranking for holding no escrow in the market",
          labelNames: ["market"],
          registers,
        }),
    ),
    rank: get(
      "smartmarket_submitter_rank",
      () =>
        new Gauge({
          name: "smartmarket_submitter_rank",
          help: "This node's 0-based submitter rank in the last ranked epoch",
          labelNames: ["market"],
          registers,
        }),
    ),
    readFailures: get(
      "smartmarket_submitter_candidate_read_failures_total",
      () =>
        new Counter({
          name: "smartmarket_submitter_candidate_read_failures_total",
          help: "Epochs whose candidates' escrow could not be read (the last known funded set was used)",
          labelNames: ["market"],
          registers,
        }),
    ),
  };
}

export type SubmitOutcome =
  | "submitted"
  | "already_proposed"
  | "stale"
  | "lost_race"
  | "window_too_short"
  | "no_gas"
  /** The chain did not answer (or a send's fate is unknown): worth another try while the window is open. */
  | "unreachable"
  /** The chain refused it (a revert other than a lost race): another try would be refused the same way. */
  | "failed";

export class RankedSubmitter {
  private readonly ctx: MarketContext;
  private readonly c: SubmitterComponents;
  private warnedNoGas = false;
  private readonly metrics: RankingMetrics | null;
  /** Funded candidates by epoch (a promise, so propose and challenge of one epoch share one read). */
  private readonly candidateSets = new Map<bigint, Promise<readonly Hex[]>>();
  /** The last candidate set read from the chain: the fallback while the chain does not answer. */
  private lastRead: readonly Hex[] = [];
  /** This node's rank per recent epoch (for the log lines of what it sends). */
  private readonly lastRank = new Map<bigint, number>();

  constructor(ctx: MarketContext, components: SubmitterComponents) {
    this.ctx = ctx;
    this.c = components;
    this.metrics = components.registry ? rankingMetrics(components.registry) : null;
  }

  /**
   * The submitter candidates of `epoch`: wallets announced in the last 16 epochs (a bounded set, see
   * announcements.ts) that hold escrow in the market at the epoch's close, read from the chain once per
   * epoch in one collateralOfMany call. Read during epoch + 1, when collateralOf(epoch) is the same at
   * every block, so every node admits the same wallets.
   */
  candidates(epoch: bigint): Promise<readonly Hex[]> {
    let p = this.candidateSets.get(epoch);
    if (!p) {
      p = this.readCandidates(epoch);
      this.candidateSets.set(epoch, p);
      for (const e of this.candidateSets.keys()) {
        if (e + BigInt(KEEP_CANDIDATE_EPOCHS) <= epoch) this.candidateSets.delete(e);
      }
    }
    return p;
  }

  private async readCandidates(epoch: bigint): Promise<readonly Hex[]> {
    const own = this.c.wallet.address.toLowerCase();
    const announced = this.c.store
      .knownWallets(this.ctx.market, epoch - SUBMITTER_LOOKBACK_EPOCHS, epoch)
      .map((w) => w.toLowerCase() as Hex)
      .filter((w) => w !== own);
    const wallets = [...new Set(announced)].sort();
    if (wallets.length === 0) {
      this.metrics?.candidates.set({ market: this.ctx.market }, 1);
      this.metrics?.unfunded.set({ market: this.ctx.market }, 0);
      return [];
    }
    let collateral: Map<Hex, Collateral>;
    try {
      collateral = await this.c.chain.collateralOfMany(this.ctx.market, wallets, epoch);
    } catch (err) {
      // Not cached: the next turn of this epoch tries again.
      this.candidateSets.delete(epoch);
      this.metrics?.readFailures.inc({ market: this.ctx.market });
      this.c.logger.warn("cannot read the submitter candidates' escrow; ranking among the last known ones", {
        epoch,
        announced: wallets.length,
        lastKnown: this.lastRead.length,
        code: (err as Partial<ChainError>).code,
        err: (err as Error).message,
      });
      return this.lastRead;
    }
    const funded = wallets.filter((w) => fundedCandidate(collateral.get(w)));
    const unfunded = wallets.length - funded.length;
    this.lastRead = funded;
    this.metrics?.candidates.set({ market: this.ctx.market }, funded.length + 1);
    this.metrics?.unfunded.set({ market: this.ctx.market }, unfunded);
    if (unfunded > 0) {
      // Debug only: nodes that do not trade hold no escrow either; a flood shows in the gauge.
      this.c.logger.debug("announced wallets without escrow left out of the submitter ranking", {
        epoch,
        unfunded,
        candidates: funded.length + 1,
      });
    }
    return funded;
  }

  /** The epoch's rank of this node's wallet among its submitter candidates (this node's wallet included). */
  async rank(epoch: bigint): Promise<number> {
    const rank = submitterRank(this.ctx.market, epoch, this.c.wallet.address, await this.candidates(epoch));
    this.metrics?.rank.set({ market: this.ctx.market }, rank);
    this.lastRank.set(epoch, rank);
    for (const e of this.lastRank.keys())
      if (e + BigInt(KEEP_CANDIDATE_EPOCHS) <= epoch) this.lastRank.delete(e);
    return rank;
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
    const rank = await this.rank(epoch);
    const at = turnAt(startMs, rank, endMs, this.c.clock());
    if (at === null) {
      this.c.logger.warn("the window closes before this node's turn; not sending", { epoch, rank });
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
      this.c.logger.info("proposed the epoch's result", {
        epoch,
        rank: this.lastRank.get(epoch),
        tx: r.txHash,
        gasUsed: r.gasUsed,
      });
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
        rank: this.lastRank.get(epoch),
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
      const outcome = isTransient(err) ? "unreachable" : "failed";
      this.c.metrics.observeSettlement(outcome, 0n);
      this.c.logger.warn(`${what} failed`, { epoch, code, err: (err as Error).message });
      return outcome;
    }
  }
}
