// The chain port: the only way the node reads and writes the chain. RpcChain (rpc.ts) implements it
// over JSON-RPC; unit tests of a market session use an in-process fake (test/unit/node/fake-chain.ts).
// A new chain backend implements this interface and nothing else.
//
// Settlement is certified (docs/certified-settlement.md): a result of epoch e is proposed during e + 1,
// can be challenged by a strict superset until the close of e + 1, and is final after it.
//
// Failures cross the port as ChainError with a typed code, never as a message to match.
import type { Registry } from "prom-client";
import type { Collateral } from "../../clearing/coverage.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { MarketParams } from "../../protocol/market.ts";
import type { StandingBatch } from "../../settlement/batch.ts";
import type { SettlementEvent as ClientSettlementEvent, FinalizeItem } from "../../settlement/client.ts";
import type { Logger } from "../logger.ts";

/** A Proposed, Challenged or Finalized event, plus the gas its transaction used. */
export type SettlementEvent = ClientSettlementEvent & { readonly gasUsed: bigint };
export type StandingEvent = Extract<SettlementEvent, { kind: "Proposed" | "Challenged" }>;
export type { FinalizeItem };

/** The standing (or final) batch of an epoch, rebuilt from the calldata of its event's transaction. */
export interface ChainStanding extends StandingBatch {
  readonly submitter: Hex;
  readonly batchHash: Hex;
}

export interface SubmitResult {
  readonly txHash: Hex;
  /** Gas of the commit and the proposal (or challenge) together. */
  readonly gasUsed: bigint;
  readonly resultHash: Hex;
}

export const ChainErrorCode = {
  /** A result of the epoch already stands (someone else's proposal landed first). */
  ALREADY_PROPOSED: "ALREADY_PROPOSED",
  /** The proposal or challenge window of the epoch is closed. */
  WINDOW_CLOSED: "WINDOW_CLOSED",
  /** The standing result changed before the challenge landed, or the challenge would not change it. */
  STALE: "STALE",
  /** The market does not exist on this contract. */
  UNKNOWN_MARKET: "UNKNOWN_MARKET",
  /** The contract reverted with another error; `revert` names it. */
  REVERTED: "REVERTED",
  /** The chain did not answer, or answered something unusable (transport, malformed data). */
  UNAVAILABLE: "UNAVAILABLE",
  /** The chain did not answer in time (a hung RPC: the endpoint is stopped, overloaded or cut off). */
  TIMEOUT: "TIMEOUT",
} as const;
export type ChainErrorCode = (typeof ChainErrorCode)[keyof typeof ChainErrorCode];

export class ChainError extends Error {
  readonly code: ChainErrorCode;
  /** The contract's custom error name when the chain reverted (e.g. "InsufficientCollateral"). */
  readonly revert: string | null;
  /** What the port was doing, e.g. "propose". */
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
  /** The wallet that sends this node's proposals, challenges and finalisations. */
  readonly sender: Hex;
  /** A market's immutable parameters; ChainError UNKNOWN_MARKET if there is none with this id. */
  getMarket(market: Hex): Promise<MarketParams>;
  blockNumber(): Promise<number>;
  /** The collateral of `trader` for epoch `epoch` (readable once the epoch has closed on chain). */
  collateralOf(market: Hex, trader: Hex, epoch: bigint): Promise<Collateral>;
  /**
   * collateralOf of every trader for `epoch`, keyed by the addresses as given: O(1) round trips per epoch
   * (one batched view call per few hundred traders) instead of two per trader.
   */
  collateralOfMany(market: Hex, traders: readonly Hex[], epoch: bigint): Promise<Map<Hex, Collateral>>;
  /**
   * The free escrow of `trader` now, per asset: what collateralOf will count at the close if nothing
   * changes before it (an estimate for an open epoch). Optional: a port without it has no estimate.
   */
  freeBalance?(market: Hex, trader: Hex): Promise<Collateral>;
  /** An ERC-20 token's decimals() and symbol(); null if the token has none. Optional (display only). */
  tokenMeta?(token: Hex): Promise<{ readonly symbol: string; readonly decimals: number } | null>;
  /** Whether a result of the epoch stands or is final. */
  isSettled(market: Hex, epoch: bigint): Promise<boolean>;
  /** The native balance (wei) of the sender wallet: it pays gas and bonds. */
  gasBalance(): Promise<bigint>;
  /** Commits to a batch, then proposes it; `expectedResultHash` is checked against the contract's. */
  propose(market: Hex, epoch: bigint, batch: Uint8Array, expectedResultHash: Hex): Promise<SubmitResult>;
  /** Commits to a union, then challenges the standing result of `standingSubmitter` with it. */
  challenge(
    market: Hex,
    epoch: bigint,
    standingSubmitter: Hex,
    union: Uint8Array,
    expectedResultHash: Hex,
  ): Promise<SubmitResult>;
  /** Pays the fee and returns the bond of each final epoch. */
  finalize(market: Hex, items: readonly FinalizeItem[]): Promise<{ txHash: Hex; gasUsed: bigint }>;
  /** Sends the sender's claimable bonds to it; returns the amount (0 when there is none). */
  claimBonds(): Promise<bigint>;
  /**
   * The one reader of settlement events: Proposed, Challenged and Finalized of `markets` in blocks
   * [fromBlock, toBlock], in chain order. One call covers every market the node serves.
   */
  settlementEvents(markets: readonly Hex[], fromBlock: number, toBlock: number): Promise<SettlementEvent[]>;
  /**
   * The traders that deposited into each of `markets` in blocks [fromBlock, toBlock] (Deposited events;
   * "latest" reads to the head). Intake admits only orders of traders that did (node/market/funded.ts).
   */
  depositors(
    markets: readonly Hex[],
    fromBlock: number,
    toBlock: number | "latest",
  ): Promise<{ market: Hex; trader: Hex }[]>;
  /** The batch a Proposed or Challenged event made standing, rebuilt from its transaction. */
  standingOf(event: StandingEvent): Promise<ChainStanding>;
  /**
   * Where the port logs and counts its failed calls (smartmarket_rpc_errors_total), once the node has a
   * logger and a metrics registry. Optional: an in-process port has nothing to report.
   */
  attach?(opts: { readonly registry?: Registry; readonly logger?: Logger }): void;
  close(): Promise<void>;
}
