// The clock of the attacks, and what each mode asks of the testnet's chain and markets.
//
// censor, skim: the chain automines (a block per transaction, at once), so the attacker's commit and
// proposal land about 0.2 s after the epoch closes, before the first honest node's turn (the end of its
// reconciliation window: a quarter of the epoch, at most 2 s). The markets keep the default challenge
// window (half the epoch).
//
// copy: a copier needs a mempool, and an automining chain has none (a transaction is mined as it
// arrives). The chain mines a block every second instead (anvil --block-time 1), and the attacker reads
// the pending transactions. Every transaction then waits for the next block: an honest node's commit and
// proposal take two blocks, up to about 2.5 s with the receipt polls, after its turn (2 s of
// reconciliation, then 0.8 s per rank). So the epochs are at least 10 s and the challenge window is 3 s:
// the proposal window [close, close + 7 s) fits the first three ranks, and a proposal at its very end
// still leaves 3 blocks to commit and send a challenge.
import type { AdversaryMode } from "../types.ts";

/** copy: seconds between blocks. */
export const COPY_BLOCK_TIME_S = 1;
/** copy: the shortest epoch, seconds (a shorter --epoch-seconds is raised to this). */
export const COPY_MIN_EPOCH_S = 10;
/** copy: the challenge window of every market, seconds. */
export const COPY_CHALLENGE_WINDOW_S = 3n;

/** censor, skim: how long after an epoch's close the attacker commits (the chain's clock has whole seconds). */
export const ATTACK_AFTER_CLOSE_MS = 150;
/** skim: when the attacker sends its own sell, like a device (an eighth into the epoch), plus this. */
export const OWN_ORDER_DELAY_MS = 150;
/** The attacker is done with an epoch this long after its deadline (the close of the next epoch). */
export const CLOSE_AFTER_DEADLINE_MS = 1500;
/** copy: how often the pending transactions are read. */
export const MEMPOOL_POLL_MS = 50;

export interface AdversaryTiming {
  /** The primary market's epoch length, seconds. */
  readonly epochSeconds: number;
  /** Every market's challenge window, seconds; null: the default (half the epoch). */
  readonly challengeWindowS: bigint | null;
  /** Interval mining, seconds between blocks; null: automine. */
  readonly blockTimeS: number | null;
}

/** What the testnet's chain and markets look like under `mode` (null: no adversary) for --epoch-seconds S. */
export function adversaryTiming(mode: AdversaryMode | null, epochSeconds: number): AdversaryTiming {
  if (mode !== "copy") return { epochSeconds, challengeWindowS: null, blockTimeS: null };
  return {
    epochSeconds: Math.max(epochSeconds, COPY_MIN_EPOCH_S),
    challengeWindowS: COPY_CHALLENGE_WINDOW_S,
    blockTimeS: COPY_BLOCK_TIME_S,
  };
}
