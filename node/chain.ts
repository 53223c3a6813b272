// What the node needs from the chain. The settlement client implements it over JSON-RPC; unit tests
// of the pipeline may use an in-process fake.
import type { ClearingResult } from "../clearing/clear.ts";
import type { Collateral } from "../clearing/coverage.ts";
import type { Hex } from "../protocol/hex.ts";
import type { MarketParams } from "../protocol/market.ts";
import type { SignedOrder } from "../protocol/order.ts";
import type { SettlementRecord } from "../settlement/client.ts";

/** A Settled event as the node needs it: the chain's record without the fills, plus the gas it cost. */
export type SettledEvent = Omit<SettlementRecord, "fills" | "logIndex"> & { readonly gasUsed: bigint };

export interface SubmitResult {
  readonly txHash: Hex;
  readonly gasUsed: bigint;
  readonly resultHash: Hex;
}

export interface ChainPort {
  readonly chainId: bigint;
  /** The settlement contract (the EIP-712 verifying contract). */
  readonly contract: Hex;
  getMarket(market: Hex): Promise<MarketParams>;
  blockNumber(): Promise<number>;
  /** The collateral of `trader` for epoch `epoch` (readable once the epoch has closed on chain). */
  collateralOf(market: Hex, trader: Hex, epoch: bigint): Promise<Collateral>;
  isSettled(market: Hex, epoch: bigint): Promise<boolean>;
  /** The native balance (wei) of the wallet that sends settlements: it pays their gas. */
  gasBalance(): Promise<bigint>;
  settle(
    market: Hex,
    epoch: bigint,
    result: ClearingResult,
    orders: ReadonlyMap<Hex, SignedOrder>,
  ): Promise<SubmitResult>;
  /** Settled events of `market` in blocks [fromBlock, toBlock]. */
  settledEvents(market: Hex, fromBlock: number, toBlock: number): Promise<SettledEvent[]>;
  /** The fills an epoch's settlement moved, rebuilt from its transaction (for epochs where this node diverged). */
  settledFills(market: Hex, epoch: bigint): Promise<{ id: Hex; quantity: bigint }[]>;
  close(): Promise<void>;
}
