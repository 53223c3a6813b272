// An in-process chain for unit tests of market sessions: ChainPort semantics (one settlement per epoch,
// ALREADY_SETTLED after, Settled events in block order, collateral per trader) without an EVM. Several
// nodes share one FakeChain and each gets its own port (its own sender wallet). Faults are injected per
// port: collateral reads that fail or lag, no gas.

import { keccak_256 } from "@noble/hashes/sha3.js";
import type { ClearingResult } from "../../../clearing/clear.ts";
import type { Collateral } from "../../../clearing/coverage.ts";
import {
  ChainError,
  ChainErrorCode,
  type ChainPort,
  type SettledEvent,
  type SubmitResult,
} from "../../../node/chain/port.ts";
import { bytesToHex, type Hex } from "../../../protocol/hex.ts";
import type { MarketParams } from "../../../protocol/market.ts";
import type { SignedOrder } from "../../../protocol/order.ts";

export const FAKE_CHAIN_ID = 31337n;
export const FAKE_CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3" as Hex;
const PLENTY: Collateral = { base: 10n ** 30n, quote: 10n ** 30n };

interface Settlement {
  readonly event: SettledEvent;
  readonly fills: { id: Hex; quantity: bigint }[];
}

export class FakeChain {
  readonly markets = new Map<Hex, MarketParams>();
  /** Collateral by market and trader; traders not listed have PLENTY. */
  readonly collateral = new Map<string, Collateral>();
  private block = 1;
  private readonly settlements = new Map<string, Settlement>();
  /** settle() calls that reached the chain, in order, by sender. */
  readonly submissions: { sender: Hex; market: Hex; epoch: bigint; ok: boolean }[] = [];

  addMarket(market: Hex, params: MarketParams): void {
    this.markets.set(market, params);
  }

  /** Advances the head (a block with no settlement). */
  mine(): number {
    return ++this.block;
  }

  get head(): number {
    return this.block;
  }

  settlementOf(market: Hex, epoch: bigint): SettledEvent | undefined {
    return this.settlements.get(`${market}:${epoch}`)?.event;
  }

  /** Records a settlement, as settle() does, from anyone (tests use it to settle behind a node's back). */
  recordSettlement(
    sender: Hex,
    market: Hex,
    epoch: bigint,
    result: Pick<ClearingResult, "price" | "volume" | "resultHash" | "fills">,
  ): SettledEvent {
    const key = `${market}:${epoch}`;
    if (this.settlements.has(key)) {
      this.submissions.push({ sender, market, epoch, ok: false });
      throw new ChainError(
        ChainErrorCode.ALREADY_SETTLED,
        "settle",
        `AlreadySettled(${market}, ${epoch})`,
        "AlreadySettled",
      );
    }
    const blockNumber = this.mine();
    const event: SettledEvent = {
      market,
      epoch,
      price: result.price ?? 0n,
      volume: result.volume,
      resultHash: result.resultHash,
      submitter: sender,
      txHash: bytesToHex(keccak_256(new TextEncoder().encode(`${key}:${blockNumber}`))),
      blockNumber,
      logIndex: 0,
      gasUsed: 100_000n,
    };
    this.settlements.set(key, {
      event,
      fills: result.fills.map((f) => ({ id: f.id, quantity: f.quantity })),
    });
    this.submissions.push({ sender, market, epoch, ok: true });
    return event;
  }

  events(markets: readonly Hex[], from: number, to: number): SettledEvent[] {
    const wanted = new Set(markets);
    return [...this.settlements.values()]
      .map((s) => s.event)
      .filter((e) => wanted.has(e.market) && e.blockNumber >= from && e.blockNumber <= to)
      .sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  }

  fillsOf(market: Hex, epoch: bigint): { id: Hex; quantity: bigint }[] {
    return this.settlements.get(`${market}:${epoch}`)?.fills ?? [];
  }

  port(sender: Hex): FakeChainPort {
    return new FakeChainPort(this, sender);
  }
}

export interface PortFaults {
  /** Collateral reads fail while this returns true (called once per read). */
  collateralFails?: () => boolean;
  /** Collateral reads take this long. */
  collateralDelayMs?: number;
  /** settledEvents fails while this returns true. */
  eventsFail?: () => boolean;
  /** The sender's native balance (default: some). */
  gasBalance?: bigint;
}

export class FakeChainPort implements ChainPort {
  readonly chainId = FAKE_CHAIN_ID;
  readonly contract = FAKE_CONTRACT;
  readonly sender: Hex;
  readonly faults: PortFaults = {};
  collateralReads = 0;
  private readonly chain: FakeChain;

  constructor(chain: FakeChain, sender: Hex) {
    this.chain = chain;
    this.sender = sender;
  }

  async getMarket(market: Hex): Promise<MarketParams> {
    const p = this.chain.markets.get(market);
    if (!p)
      throw new ChainError(
        ChainErrorCode.UNKNOWN_MARKET,
        "getMarket",
        `UnknownMarket(${market})`,
        "UnknownMarket",
      );
    return p;
  }

  async blockNumber(): Promise<number> {
    return this.chain.head;
  }

  async collateralOf(market: Hex, trader: Hex, _epoch: bigint): Promise<Collateral> {
    this.collateralReads++;
    if (this.faults.collateralDelayMs) await new Promise((r) => setTimeout(r, this.faults.collateralDelayMs));
    if (this.faults.collateralFails?.()) {
      throw new ChainError(ChainErrorCode.UNAVAILABLE, "collateralOf", "connection refused");
    }
    return this.chain.collateral.get(`${market}:${trader}`) ?? PLENTY;
  }

  async isSettled(market: Hex, epoch: bigint): Promise<boolean> {
    return this.chain.settlementOf(market, epoch) !== undefined;
  }

  async gasBalance(): Promise<bigint> {
    return this.faults.gasBalance ?? 10n ** 18n;
  }

  async settle(
    market: Hex,
    epoch: bigint,
    result: ClearingResult,
    _orders: ReadonlyMap<Hex, SignedOrder>,
  ): Promise<SubmitResult> {
    const ev = this.chain.recordSettlement(this.sender, market, epoch, result);
    return { txHash: ev.txHash, gasUsed: ev.gasUsed, resultHash: ev.resultHash };
  }

  async settledEvents(markets: readonly Hex[], fromBlock: number, toBlock: number): Promise<SettledEvent[]> {
    if (this.faults.eventsFail?.())
      throw new ChainError(ChainErrorCode.UNAVAILABLE, "settledEvents", "timeout");
    return this.chain.events(markets, fromBlock, toBlock);
  }

  async settledFills(market: Hex, epoch: bigint): Promise<{ id: Hex; quantity: bigint }[]> {
    return this.chain.fillsOf(market, epoch);
  }

  async close(): Promise<void> {}
}
