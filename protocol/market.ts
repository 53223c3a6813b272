// Market identity. A market is identified by the hash of its immutable parameters, so two markets with
// the same parameters are the same market, and a market id commits to its tokens, clock, fee, bond and
// challenge window (docs/certified-settlement.md, "Market parameters").

import type { EpochSchedule } from "./epoch.ts";
import { AbiCoder, keccak256 } from "./ethers.ts";
import type { Hex } from "./hex.ts";

/** Largest settlement fee, basis points of a sell fill's quote proceeds. */
export const MAX_FEE_BPS = 1000n;

/** The minimum order quantity of a market created without one: 1 base unit (no minimum beyond "not zero"). */
export const DEFAULT_MIN_QUANTITY = 1n;

/** The bond a market created without one asks of every proposal and challenge: 10^16 wei (0.01 ether). */
export const DEFAULT_BOND_WEI = 10n ** 16n;

/**
 * The challenge window a market created without one gets: ⌊epochLength / 2⌋ seconds (floor), at least 1.
 * The contract requires 1 ≤ challengeWindow < epochLength, so an epoch of 1 s admits no window at all
 * (the contract rejects it with BadChallengeWindow).
 */
export function defaultChallengeWindowS(epochLengthS: bigint): bigint {
  const half = epochLengthS / 2n; // floor: epochLengthS > 0
  return half < 1n ? 1n : half;
}

export interface MarketParams extends EpochSchedule {
  /** ERC-20 traded (quantities are in its base units). */
  readonly base: Hex;
  /** ERC-20 paid (prices are quote base units per base base unit). */
  readonly quote: Hex;
  /** Fee credited to the final result's submitter, taken from sellers' quote proceeds, basis points (uint16). */
  readonly feeBps: bigint;
  /** Wei locked by every proposal and every challenge (uint96). */
  readonly bondWei: bigint;
  /** Seconds before the close of epoch e + 1 during which a result of e can be challenged but not proposed (uint32). */
  readonly challengeWindowS: bigint;
  /**
   * The smallest order quantity the market accepts, base units (uint128, ≥ 1). Every order with a smaller
   * quantity is invalid: nodes REJECT it and the contract reverts a batch holding it (OrderBelowMinimum).
   * It prices dust: every order that can enter an epoch's clearing carries at least this much collateral.
   */
  readonly minQuantity: bigint;
}

/**
 * marketId = keccak256(abi.encode(address base, address quote, uint64 genesisTime, uint64 epochLength,
 * uint16 feeBps, uint96 bond, uint32 challengeWindow, uint128 minQuantity)).
 */
export function marketId(p: MarketParams): Hex {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address", "address", "uint64", "uint64", "uint16", "uint96", "uint32", "uint128"],
    [p.base, p.quote, p.genesisTimeS, p.epochLengthS, p.feeBps, p.bondWei, p.challengeWindowS, p.minQuantity],
  );
  return keccak256(encoded).toLowerCase() as Hex;
}
