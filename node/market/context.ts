// What a market session knows about its market once it has joined: the chain's parameters, the epoch
// schedule, the EIP-712 domain its orders are signed in, and its gossip topics. Immutable.
import type { Eip712Domain } from "../../protocol/eip712.ts";
import { type EpochSchedule, epochAtMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { MarketParams } from "../../protocol/market.ts";
import type { MarketRules, ValidationContext } from "../../protocol/validation.ts";
import { type MarketTopics, marketTopics } from "../gossip/topics.ts";

export interface MarketContext {
  readonly market: Hex;
  readonly params: MarketParams;
  readonly schedule: EpochSchedule;
  /** The schedule and the smallest order: what validation checks. */
  readonly rules: MarketRules;
  readonly domain: Eip712Domain;
  readonly separator: Uint8Array;
  readonly topics: MarketTopics;
}

export function makeMarketContext(
  market: Hex,
  params: MarketParams,
  domain: Eip712Domain,
  separator: Uint8Array,
): MarketContext {
  return {
    market,
    params,
    schedule: { genesisTimeS: params.genesisTimeS, epochLengthS: params.epochLengthS },
    rules: {
      genesisTimeS: params.genesisTimeS,
      epochLengthS: params.epochLengthS,
      minQuantity: params.minQuantity,
    },
    domain,
    separator,
    topics: marketTopics(separator, market),
  };
}

/** The protocol's validation context for this market alone: orders of any other market are UNKNOWN_MARKET. */
export function validationContext(ctx: MarketContext, time: ValidationContext["time"]): ValidationContext {
  return {
    domain: ctx.domain,
    domainSeparator: ctx.separator,
    market: (id) => (id === ctx.market ? ctx.rules : undefined),
    time,
  };
}

/** The market's epoch at `nowMs` (-1 before genesis). */
export function epochAt(ctx: MarketContext, nowMs: number): bigint {
  return epochAtMs(ctx.schedule, BigInt(nowMs));
}
