// Retries of an epoch's chain steps while its settlement window allows (fault: the chain is unreachable
// for a while — anvil stopped or killed, an RPC endpoint down — around an epoch's close). Before, one
// failed proposal lost the epoch: every ranked node gave up after its single attempt, so agreed trades
// were never settled, and a pipeline whose chain read failed stopped at "frozen".
//
//   - a chain read of the pipeline (the epoch's collateral) is retried with back-off until the epoch's
//     challenge deadline (the end of e + 1; collateral of e is readable from the close on);
//   - a proposal that failed is tried again, with back-off, while the proposal window is open (it closes
//     `challengeWindow` before the end of e + 1). A proposal is a write that may have landed even though
//     its caller saw a timeout, so it is never re-sent blindly: each try re-checks the chain first
//     (RankedSubmitter.proposeWhenRanked asks isSettled before it sends), and stops once a result stands.
import type { Logger } from "../logger.ts";
import type { NodeStore } from "../store.ts";
import type { MarketContext } from "./context.ts";
import type { RankedSubmitter, SubmitOutcome } from "./submitter.ts";
import type { EpochWork } from "./work.ts";

/** First pause between tries; doubled after each failure up to RETRY_MAX_DELAY_MS. */
export const RETRY_FIRST_DELAY_MS = 250;
export const RETRY_MAX_DELAY_MS = 4000;
/** A proposal is tried at most this many times in all (only tries that ended "unreachable" are repeated). */
export const PROPOSE_MAX_TRIES = 8;
/** Proposals retry at most this far apart: the window is short (L − W), the gap after an outage is lost. */
export const PROPOSE_MAX_DELAY_MS = 1000;
/** The last try must start this long before the proposal window closes (commit and proposal need blocks). */
const PROPOSE_WINDOW_MARGIN_MS = 300;

export interface EpochRetryComponents {
  readonly logger: Logger;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly running: () => boolean;
}

/**
 * Runs `fn` until it succeeds, retrying errors `retryable` accepts with back-off while `deadlineMs` is
 * ahead. The first failure is logged at WARN and the recovery at INFO; the last error is thrown as is.
 */
export async function retryUntil<T>(
  what: string,
  epoch: bigint,
  deadlineMs: number,
  fn: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  c: EpochRetryComponents,
): Promise<T> {
  let delay = RETRY_FIRST_DELAY_MS;
  let failures = 0;
  const firstMs = c.clock();
  for (;;) {
    try {
      const value = await fn();
      if (failures > 0) {
        c.logger.info(`${what} of the epoch succeeded after the chain came back`, {
          epoch,
          failures,
          afterMs: c.clock() - firstMs,
        });
      }
      return value;
    } catch (err) {
      failures++;
      if (!retryable(err) || !c.running() || c.clock() + delay >= deadlineMs) throw err;
      if (failures === 1) {
        c.logger.warn(`${what} of the epoch failed; retrying while its window allows`, {
          epoch,
          code: (err as { code?: unknown }).code,
          err: (err as Error).message,
          untilMs: deadlineMs,
        });
      }
      await c.sleep(delay);
      delay = Math.min(RETRY_MAX_DELAY_MS, delay * 2);
    }
  }
}

/** What proposeUntilSettled needs besides the retry components. */
export interface ProposeRetryComponents extends EpochRetryComponents {
  readonly store: NodeStore;
  readonly submitter: RankedSubmitter;
}

/**
 * Proposes the epoch's batch at this node's turn; a try that failed (the chain did not answer, or the
 * transaction's fate is unknown) is repeated while the proposal window is open, each time from a fresh
 * turn (rank order is kept among the nodes that retry) and only if no result stands by then. Returns the
 * last outcome and how many tries it took.
 */
export async function proposeUntilSettled(
  ctx: MarketContext,
  epoch: bigint,
  work: EpochWork,
  turnStartMs: number,
  c: ProposeRetryComponents,
): Promise<{ outcome: SubmitOutcome; tries: number }> {
  const proposalEndMs = c.submitter.proposalEndMs(epoch);
  let start = turnStartMs;
  let delay = RETRY_FIRST_DELAY_MS;
  for (let tries = 1; ; tries++) {
    const outcome = await c.submitter.proposeWhenRanked(epoch, work, start);
    if (outcome !== "unreachable") return { outcome, tries };
    if (!c.running() || tries >= PROPOSE_MAX_TRIES) return { outcome, tries };
    if (c.clock() + delay >= proposalEndMs - PROPOSE_WINDOW_MARGIN_MS) return { outcome, tries };
    if (tries === 1) {
      c.logger.warn("proposal failed; trying again while the proposal window is open", {
        epoch,
        proposalEndMs,
      });
    }
    await c.sleep(delay);
    delay = Math.min(PROPOSE_MAX_DELAY_MS, delay * 2);
    // A result may stand now (ours, if a timed-out try landed after all, or another node's).
    if (work.standing || c.store.getEpoch(ctx.market, epoch)?.settleTx) {
      return { outcome: "already_proposed", tries };
    }
    start = c.clock();
  }
}
