// Epoch arithmetic. A market's epoch n is the half-open interval
//   [genesisTimeS + n * epochLengthS, genesisTimeS + (n + 1) * epochLengthS)   (seconds, unix time)
// Times are passed in (milliseconds as bigint); this module never reads a clock.
import {
  EARLY_EPOCHS_IGNORED,
  LATE_EPOCHS_IGNORED,
  MAX_CLOCK_DISPARITY_MS,
  MAX_UINT64,
} from "./constants.ts";

export interface EpochSchedule {
  /** Unix time (seconds) at which epoch 0 starts. */
  readonly genesisTimeS: bigint;
  /** Length of every epoch, seconds, > 0. */
  readonly epochLengthS: bigint;
}

export function epochStartMs(s: EpochSchedule, epoch: bigint): bigint {
  return (s.genesisTimeS + epoch * s.epochLengthS) * 1000n;
}

/** End of the epoch (exclusive) = start of the next one. */
export function epochEndMs(s: EpochSchedule, epoch: bigint): bigint {
  return epochStartMs(s, epoch + 1n);
}

/** The epoch containing `nowMs`, or -1n before genesis. Division rounds down (nowMs >= genesis here). */
export function epochAtMs(s: EpochSchedule, nowMs: bigint): bigint {
  const sinceMs = nowMs - s.genesisTimeS * 1000n;
  if (sinceMs < 0n) return -1n;
  return sinceMs / (s.epochLengthS * 1000n); // floor: both operands non-negative
}

/** The epoch containing unix time `nowS` (seconds), as the contract computes it from block.timestamp. */
export function epochAtS(s: EpochSchedule, nowS: bigint): bigint {
  if (nowS < s.genesisTimeS) return -1n;
  return (nowS - s.genesisTimeS) / s.epochLengthS; // floor: both operands non-negative
}

/** How an order's epoch relates to the receiver's clock. */
export type EpochTiming = "on-time" | "early" | "late" | "out-of-window";

/**
 * The acceptance window, evaluated at the receiver's time `nowMs`:
 * - on-time:       start(e) - D <= now < end(e) + D, with D = MAX_CLOCK_DISPARITY_MS (ACCEPT)
 * - early:         e is at most EARLY_EPOCHS_IGNORED epochs ahead of the current one (IGNORE)
 * - late:          e is at most LATE_EPOCHS_IGNORED epochs behind the current one (IGNORE)
 * - out-of-window: anything else, including any epoch beyond uint64 (REJECT)
 */
export function classifyEpoch(s: EpochSchedule, epoch: bigint, nowMs: bigint): EpochTiming {
  if (epoch < 0n || epoch > MAX_UINT64) return "out-of-window";
  const start = epochStartMs(s, epoch);
  const end = epochEndMs(s, epoch);
  if (nowMs >= start - MAX_CLOCK_DISPARITY_MS && nowMs < end + MAX_CLOCK_DISPARITY_MS) return "on-time";
  // The epoch index of `now`, extended below genesis (negative) so that "how far away" is exact there too.
  const sinceMs = nowMs - s.genesisTimeS * 1000n;
  const lengthMs = s.epochLengthS * 1000n;
  const current = sinceMs >= 0n ? sinceMs / lengthMs : -((-sinceMs + lengthMs - 1n) / lengthMs); // floor division
  if (epoch > current) return epoch - current <= EARLY_EPOCHS_IGNORED ? "early" : "out-of-window";
  return current - epoch <= LATE_EPOCHS_IGNORED ? "late" : "out-of-window";
}
