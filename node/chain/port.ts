// The chain port: the only way the node reads and writes the chain. RpcChain (rpc.ts) implements it
// over JSON-RPC; unit tests of a market session use an in-process fake (test/unit/node/fake-chain.ts).
// A new chain backend implements this interface and nothing else.
//
// Failures cross the port as ChainError with a typed code, never as a message to match.
import type { ClearingResult } from "../../clearing/clear.ts";
import type { Collateral } from "../../clearing/coverage.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { MarketParams } from "../../protocol/market.ts";
import type { SignedOrder } from "../../protocol/order.ts";
import type { SettlementEvent } from "../../settlement/client.ts";

/** A Settled event as the node needs it: the chain's record of a settlement, plus the gas it cost. */
export type SettledEvent = SettlementEvent & { readonly gasUsed: bigint };

export interface SubmitResult {
  readonly txHash: Hex;
  readonly gasUsed: bigint;
  readonly resultHash: Hex;
}

export const ChainErrorCode = {
  /** The epoch already has a settlement (someone else's landed first). */
  ALREADY_SETTLED: "ALREADY_SETTLED",
  /** The market does not exist on this contract. */
  UNKNOWN_MARKET: "UNKNOWN_MARKET",
  /** The contract reverted with another error; `revert` names it. */
  REVERTED: "REVERTED",
  /** The chain did not answer, or answered something unusable (transport, timeout, malformed data). */
  UNAVAILABLE: "UNAVAILABLE",
} as const;
export type ChainErrorCode = (typeof ChainErrorCode)[keyof typeof ChainErrorCode];

export class ChainError extends Error {
  readonly code: ChainErrorCode;
  /** The contract's custom error name when the chain reverted (e.g. "InsufficientCollateral"). */
  readonly revert: string | null;
  /** What the port was doing, e.g. "settle". */
  readonly operation: string;

  constructor(code: ChainErrorCode, operation: string, message: string, revert: string | null = null) {
    super(`${operation}: ${message}`);
    this.name = "ChainError";
    this.code = code;
    this.operation = operation;
    this.revert = revert;
  }
}

export interface ChainPort {
  readonly chainId: bigint;
  /** The settlement contract (the EIP-712 verifying contract). */
  readonly contract: Hex;
  /** The wallet that sends this node's settlements. */
  readonly sender: Hex;
  /** A market's immutable parameters; ChainError UNKNOWN_MARKET if there is none with this id. */
  getMarket(market: Hex): Promise<MarketParams>;
  blockNumber(): Promise<number>;
  /** The collateral of `trader` for epoch `epoch` (readable once the epoch has closed on chain). */
  collateralOf(market: Hex, trader: Hex, epoch: bigint): Promise<Collateral>;
  isSettled(market: Hex, epoch: bigint): Promise<boolean>;
  /** The native balance (wei) of the sender wallet: it pays the settlements' gas. */
  gasBalance(): Promise<bigint>;
  settle(
    market: Hex,
    epoch: bigint,
    result: ClearingResult,
    orders: ReadonlyMap<Hex, SignedOrder>,
  ): Promise<SubmitResult>;
  /**
   * The one reader of Settled events: those of `markets` in blocks [fromBlock, toBlock], in chain order.
   * One call covers every market the node serves.
   */
  settledEvents(markets: readonly Hex[], fromBlock: number, toBlock: number): Promise<SettledEvent[]>;
  /** The fills an epoch's settlement moved, rebuilt from its transaction (for epochs where this node diverged). */
  settledFills(market: Hex, epoch: bigint): Promise<{ id: Hex; quantity: bigint }[]>;
  close(): Promise<void>;
}
