// Market identity. A market is identified by the hash of its immutable parameters, so two markets with
// the same parameters are the same market, and a market id commits to its tokens, clock and fee.
import { AbiCoder, keccak256 } from "ethers";
import type { EpochSchedule } from "./epoch.ts";
import type { Hex } from "./hex.ts";

/** Largest settlement fee, basis points of a sell fill's quote proceeds. */
export const MAX_FEE_BPS = 1000n;

export interface MarketParams extends EpochSchedule {
  /** ERC-20 traded (quantities are in its base units). */
  readonly base: Hex;
  /** ERC-20 paid (prices are quote base units per base base unit). */
  readonly quote: Hex;
  /** Fee credited to the settlement's submitter, taken from sellers' quote proceeds, basis points. */
  readonly feeBps: bigint;
}

/** marketId = keccak256(abi.encode(address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps)). */
export function marketId(p: MarketParams): Hex {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address", "address", "uint64", "uint64", "uint16"],
    [p.base, p.quote, p.genesisTimeS, p.epochLengthS, p.feeBps],
  );
  return keccak256(encoded).toLowerCase() as Hex;
}
