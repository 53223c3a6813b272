// Ranked submission of one market's settlements. Every node that cleared a trading epoch computes the
// same per-epoch ranking of the wallets it knows (keccak of market, epoch, wallet; lowest first) and waits
// its rank × SUBMIT_BACKOFF_MS after the reconciliation window before submitting, unless the epoch has
// been settled meanwhile. This is the place to change how (and whether) a node submits.
import { AbiCoder, keccak256 } from "ethers";
import type { ClearingResult } from "../../clearing/clear.ts";
import { epochEndMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { SignedOrder } from "../../protocol/order.ts";
import { type ChainError, ChainErrorCode, type ChainPort } from "../chain/port.ts";
import { SUBMIT_BACKOFF_MS } from "../constants.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import type { NodeStore } from "../store.ts";
import type { MarketContext } from "./context.ts";
import type { NodeWallet } from "./intake.ts";

/** Candidates are the wallets announced in this many recent epochs. */
const SUBMITTER_LOOKBACK_EPOCHS = 16n;
/** Stop trying this long before the settlement window (the next epoch) ends. */
const SETTLE_MARGIN_MS = 300;

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
  | "already_settled"
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

  /**
   * Waits for this node's turn (from `turnStartMs`, SUBMIT_BACKOFF_MS per rank), then settles the epoch
   * unless it has been settled meanwhile or the window would close first.
   */
  async submitWhenRanked(
    epoch: bigint,
    result: ClearingResult,
    orders: ReadonlyMap<Hex, SignedOrder>,
    turnStartMs: number,
  ): Promise<SubmitOutcome> {
    const market = this.ctx.market;
    const rank = this.rank(epoch);
    const windowEndMs = Number(epochEndMs(this.ctx.schedule, epoch + 1n)) - SETTLE_MARGIN_MS;
    const at = Math.max(this.c.clock(), turnStartMs + rank * SUBMIT_BACKOFF_MS);
    if (at >= windowEndMs) {
      this.c.logger.debug("settlement window too short for our rank", { epoch, rank });
      return "window_too_short";
    }
    await this.c.sleep(at - this.c.clock());
    if (!this.c.running()) return "already_settled";
    if (this.c.store.getEpoch(market, epoch)?.settleTx) return "already_settled";
    try {
      if (await this.c.chain.isSettled(market, epoch)) return "already_settled";
      if ((await this.c.chain.gasBalance()) === 0n) {
        if (!this.warnedNoGas) {
          this.c.logger.warn(
            "the node's wallet holds no native token for gas, so it does not submit settlements",
            {
              wallet: this.c.wallet.address,
            },
          );
          this.warnedNoGas = true;
        }
        return "no_gas";
      }
      const res = await this.c.chain.settle(market, epoch, result, orders);
      this.c.metrics.observeSettlement("submitted", res.gasUsed);
      this.c.store.updateEpoch(market, epoch, { weSubmitted: true }, this.c.clock());
      this.c.logger.info("settled epoch", { epoch, rank, tx: res.txHash, gasUsed: res.gasUsed });
      return "submitted";
    } catch (err) {
      const code = (err as Partial<ChainError>).code;
      if (code === ChainErrorCode.ALREADY_SETTLED) {
        this.c.metrics.observeSettlement("lost_race", 0n);
        return "lost_race";
      }
      this.c.metrics.observeSettlement("failed", 0n);
      this.c.logger.warn("settlement failed", { epoch, rank, code, err: (err as Error).message });
      return "failed";
    }
  }
}
