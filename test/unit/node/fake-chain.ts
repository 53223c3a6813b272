// An in-process chain for unit tests of market sessions. It keeps the contract's settlement semantics
// (docs/certified-settlement.md) without an EVM: proposals and challenges are certified by the
// TypeScript reference of the contract's check (settlement/certify.ts), one standing result per epoch,
// windows by the wall clock, events in block order. Escrow is not moved: collateral is a fixed table.
// Several nodes share one FakeChain and each gets its own port (its own sender wallet); faults are
// injected per port (collateral reads that fail or lag, no gas, a failing event reader).
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Collateral } from "../../../clearing/coverage.ts";
import {
  ChainError,
  ChainErrorCode,
  type ChainPort,
  type ChainStanding,
  type FinalizeItem,
  type SettlementEvent,
  type StandingEvent,
  type SubmitResult,
} from "../../../node/chain/port.ts";
import { domainSeparator, makeDomain } from "../../../protocol/eip712.ts";
import { epochEndMs } from "../../../protocol/epoch.ts";
import { bytesToHex, type Hex } from "../../../protocol/hex.ts";
import type { MarketParams } from "../../../protocol/market.ts";
import { decodeBatch, encodeBatch, identifyBatchOrders } from "../../../settlement/batch.ts";
import { CertificationError, certifyBatchBytes, certifyChallenge } from "../../../settlement/certify.ts";
import { Asset, settlementRecord } from "../../../settlement/encoding.ts";

export const FAKE_CHAIN_ID = 31337n;
export const FAKE_CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3" as Hex;
export const FAKE_SEPARATOR = domainSeparator(makeDomain(FAKE_CHAIN_ID, FAKE_CONTRACT));
const PLENTY: Collateral = { base: 10n ** 30n, quote: 10n ** 30n };

interface Standing {
  readonly event: StandingEvent;
  readonly bytes: Uint8Array;
  readonly record: Hex;
}

export class FakeChain {
  readonly markets = new Map<Hex, MarketParams>();
  /** Collateral by market and trader; traders not listed have PLENTY. */
  readonly collateral = new Map<string, Collateral>();
  private block = 1;
  private readonly standing = new Map<string, Standing>();
  private readonly finalized = new Set<string>();
  private readonly events: SettlementEvent[] = [];
  private readonly batches = new Map<Hex, Uint8Array>();
  /** propose() and challenge() calls that reached the chain, in order. */
  readonly submissions: {
    kind: "propose" | "challenge";
    sender: Hex;
    epoch: bigint;
    ok: boolean;
    error?: string;
  }[] = [];
  readonly bonds = new Map<Hex, bigint>();
  /** The Deposited events, in block order: one block per deposit. */
  readonly deposits: { readonly market: Hex; readonly trader: Hex; readonly block: number }[] = [];

  /** Records a deposit of `trader` into `market` (what intake's funded-trader rule reads); returns its block. */
  fund(market: Hex, trader: Hex): number {
    const block = this.mine(); // a deposit is a transaction: it makes a block
    this.deposits.push({ market, trader: trader.toLowerCase() as Hex, block });
    return block;
  }

  /** The depositors of `markets` in blocks [from, to], in block order (repeats kept, as logs are). */
  depositsIn(markets: readonly Hex[], from: number, to: number): { market: Hex; trader: Hex }[] {
    const wanted = new Set(markets);
    return this.deposits
      .filter((d) => wanted.has(d.market) && d.block >= from && d.block <= to)
      .map(({ market, trader }) => ({ market, trader }));
  }

  addMarket(market: Hex, params: MarketParams): void {
    this.markets.set(market, params);
  }

  mine(): number {
    return ++this.block;
  }

  get head(): number {
    return this.block;
  }

  standingOf(market: Hex, epoch: bigint): StandingEvent | undefined {
    return this.standing.get(`${market}:${epoch}`)?.event;
  }

  collateralOf(market: Hex, trader: Hex): Collateral {
    return this.collateral.get(`${market}:${trader}`) ?? PLENTY;
  }

  private context(market: Hex, epoch: bigint) {
    const params = this.markets.get(market)!;
    return {
      market,
      epoch,
      domainSeparator: FAKE_SEPARATOR,
      feeBps: params.feeBps,
      minQuantity: params.minQuantity,
      collateral: (trader: Hex, asset: number) => {
        const c = this.collateralOf(market, trader);
        return asset === Asset.BASE ? c.base : c.quote;
      },
    };
  }

  private windows(
    market: Hex,
    epoch: bigint,
  ): { closeMs: number; proposalEndMs: number; deadlineMs: number } {
    const p = this.markets.get(market)!;
    const deadlineMs = Number(epochEndMs(p, epoch + 1n));
    return {
      closeMs: Number(epochEndMs(p, epoch)),
      proposalEndMs: deadlineMs - Number(p.challengeWindowS) * 1000,
      deadlineMs,
    };
  }

  private emit(ev: Omit<StandingEvent, "txHash" | "blockNumber" | "logIndex" | "gasUsed">): StandingEvent {
    const blockNumber = this.mine();
    const event = {
      ...ev,
      txHash: bytesToHex(keccak_256(new TextEncoder().encode(`${ev.market}:${ev.epoch}:${blockNumber}`))),
      blockNumber,
      logIndex: 0,
      gasUsed: 100_000n,
    } as StandingEvent;
    this.events.push(event);
    return event;
  }

  /** propose(), as the contract checks it (commit included): anyone may call it, attackers too. */
  propose(sender: Hex, market: Hex, epoch: bigint, bytes: Uint8Array): StandingEvent {
    const key = `${market}:${epoch}`;
    const w = this.windows(market, epoch);
    const now = Date.now();
    const fail = (code: ChainErrorCode, msg: string, revert: string): never => {
      this.submissions.push({ kind: "propose", sender, epoch, ok: false, error: revert });
      throw new ChainError(code, "propose", msg, revert);
    };
    if (now < w.closeMs) fail(ChainErrorCode.REVERTED, "epoch not closed", "EpochNotClosed");
    if (now >= w.proposalEndMs)
      fail(ChainErrorCode.WINDOW_CLOSED, "proposal window closed", "ProposalWindowClosed");
    if (this.standing.has(key)) fail(ChainErrorCode.ALREADY_PROPOSED, "already proposed", "AlreadyProposed");
    let cert: ReturnType<typeof certifyBatchBytes>;
    try {
      cert = certifyBatchBytes(this.context(market, epoch), bytes);
    } catch (err) {
      if (err instanceof CertificationError) return fail(ChainErrorCode.REVERTED, err.message, err.code);
      throw err;
    }
    this.batches.set(cert.batchHash, bytes);
    const event = this.emit({
      kind: "Proposed",
      market,
      epoch,
      submitter: sender,
      resultHash: cert.resultHash,
      batchHash: cert.batchHash,
      price: cert.price,
      volume: cert.volume,
      feeTotal: cert.feeTotal,
    } as Omit<StandingEvent, "txHash" | "blockNumber" | "logIndex" | "gasUsed">);
    this.standing.set(key, { event, bytes, record: settlementRecord(cert.batchHash, sender, cert.feeTotal) });
    this.submissions.push({ kind: "propose", sender, epoch, ok: true });
    return event;
  }

  /** challenge(), as the contract checks it; the replaced submitter's bond goes to the challenger. */
  challenge(
    sender: Hex,
    market: Hex,
    epoch: bigint,
    standingSubmitter: Hex,
    union: Uint8Array,
  ): StandingEvent {
    const key = `${market}:${epoch}`;
    const w = this.windows(market, epoch);
    const fail = (code: ChainErrorCode, msg: string, revert: string): never => {
      this.submissions.push({ kind: "challenge", sender, epoch, ok: false, error: revert });
      throw new ChainError(code, "challenge", msg, revert);
    };
    if (Date.now() >= w.deadlineMs)
      fail(ChainErrorCode.WINDOW_CLOSED, "challenge window closed", "ChallengeWindowClosed");
    const current = this.standing.get(key);
    if (!current) return fail(ChainErrorCode.STALE, "nothing to challenge", "NothingToChallenge");
    let cert: ReturnType<typeof certifyChallenge>;
    try {
      cert = certifyChallenge({
        ...this.context(market, epoch),
        union,
        standingSubmitter,
        record: current.record,
      });
    } catch (err) {
      if (err instanceof CertificationError) {
        const stale = ["StandingMismatch", "ResultUnchanged", "NoNewOrders"].includes(err.code);
        // NewBatchMismatch, BatchTooLarge of a new batch: a wrong union, REVERTED like any other.
        return fail(stale ? ChainErrorCode.STALE : ChainErrorCode.REVERTED, err.message, err.code);
      }
      throw err;
    }
    const bond = this.markets.get(market)!.bondWei;
    this.bonds.set(sender, (this.bonds.get(sender) ?? 0n) + bond);
    const batchBytes = encodeFromCert(cert);
    this.batches.set(cert.newBatch.batchHash, batchBytes);
    const event = this.emit({
      kind: "Challenged",
      market,
      epoch,
      challenger: sender,
      replaced: standingSubmitter,
      resultHash: cert.newBatch.resultHash,
      batchHash: cert.newBatch.batchHash,
      price: cert.newBatch.price,
      volume: cert.newBatch.volume,
      feeTotal: cert.newBatch.feeTotal,
    } as Omit<StandingEvent, "txHash" | "blockNumber" | "logIndex" | "gasUsed">);
    this.standing.set(key, {
      event,
      bytes: batchBytes,
      record: settlementRecord(cert.newBatch.batchHash, sender, cert.newBatch.feeTotal),
    });
    this.submissions.push({ kind: "challenge", sender, epoch, ok: true });
    return event;
  }

  finalize(sender: Hex, market: Hex, items: readonly FinalizeItem[]): void {
    for (const it of items) {
      const key = `${market}:${it.epoch}`;
      const s = this.standing.get(key);
      if (Date.now() < this.windows(market, it.epoch).deadlineMs) {
        throw new ChainError(ChainErrorCode.REVERTED, "finalize", "not final", "NotFinal");
      }
      if (
        !s ||
        this.finalized.has(key) ||
        s.record !== settlementRecord(it.batchHash, it.submitter, it.feeTotal)
      ) {
        throw new ChainError(ChainErrorCode.REVERTED, "finalize", "nothing to finalize", "NothingToFinalize");
      }
      this.finalized.add(key);
      const blockNumber = this.mine();
      this.events.push({
        kind: "Finalized",
        market,
        epoch: it.epoch,
        submitter: it.submitter,
        feeTotal: it.feeTotal,
        txHash: bytesToHex(keccak_256(new TextEncoder().encode(`fin:${key}:${blockNumber}:${sender}`))),
        blockNumber,
        logIndex: 0,
        gasUsed: 50_000n,
      });
      const bond = this.markets.get(market)!.bondWei;
      this.bonds.set(it.submitter, (this.bonds.get(it.submitter) ?? 0n) + bond);
    }
  }

  isFinalized(market: Hex, epoch: bigint): boolean {
    return this.finalized.has(`${market}:${epoch}`);
  }

  eventsIn(markets: readonly Hex[], from: number, to: number): SettlementEvent[] {
    const wanted = new Set(markets);
    return this.events.filter((e) => wanted.has(e.market) && e.blockNumber >= from && e.blockNumber <= to);
  }

  standingBatch(event: StandingEvent): ChainStanding {
    const bytes = this.batches.get(event.batchHash);
    if (!bytes) throw new ChainError(ChainErrorCode.UNAVAILABLE, "standingOf", `no batch ${event.batchHash}`);
    const batch = decodeBatch(bytes);
    return {
      header: batch.header,
      orders: identifyBatchOrders(event.market, event.epoch, batch.orders, FAKE_SEPARATOR),
      resultHash: event.resultHash,
      submitter: event.kind === "Proposed" ? event.submitter : event.challenger,
      batchHash: event.batchHash,
    };
  }

  port(sender: Hex): FakeChainPort {
    return new FakeChainPort(this, sender);
  }
}

/** The new batch (union header ‖ the orders with flag bit 1): the batch a challenge makes standing. */
function encodeFromCert(cert: ReturnType<typeof certifyChallenge>): Uint8Array {
  return encodeBatch(cert.nextBatch);
}

export interface PortFaults {
  /** Collateral reads fail while this returns true (called once per read). */
  collateralFails?: () => boolean;
  /** Collateral reads take this long. */
  collateralDelayMs?: number;
  /** settlementEvents fails while this returns true. */
  eventsFail?: () => boolean;
  /** standingOf (reading a standing batch) fails, unreachable, while this returns true. */
  standingFails?: () => boolean;
  /** A challenge's send fails, unreachable (nothing lands), while this returns true. */
  challengeFails?: () => boolean;
  /** The sender's native balance (default: plenty). */
  gasBalance?: bigint;
  /** The depositor reader fails while this returns true. */
  depositorsFail?: () => boolean;
  /**
   * The depositor reader refuses ranges wider than this many blocks, as RPC providers limit eth_getLogs
   * (the chain still answers everything else).
   */
  maxLogRangeBlocks?: number;
}

export class FakeChainPort implements ChainPort {
  readonly chainId = FAKE_CHAIN_ID;
  readonly contract = FAKE_CONTRACT;
  readonly sender: Hex;
  readonly faults: PortFaults = {};
  collateralReads = 0;
  /** collateralOfMany calls (round trips). */
  collateralCalls = 0;
  /** The traders of each collateralOfMany call, in call order. */
  readonly collateralCallTraders: Hex[][] = [];
  /** Every depositors() call, refused ones too: the block range it asked for. */
  readonly depositorReads: { from: number; to: number; refused: boolean }[] = [];
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

  async depositors(
    markets: readonly Hex[],
    fromBlock: number,
    toBlock: number | "latest",
  ): Promise<{ market: Hex; trader: Hex }[]> {
    const to = toBlock === "latest" ? this.chain.head : toBlock;
    const max = this.faults.maxLogRangeBlocks;
    const refused = max !== undefined && to - fromBlock + 1 > max;
    this.depositorReads.push({ from: fromBlock, to, refused });
    if (this.faults.depositorsFail?.()) {
      throw new ChainError(ChainErrorCode.UNAVAILABLE, "depositors", "connection refused");
    }
    if (refused) {
      // What a provider answers, e.g. "query exceeds max block range 2000" (a JSON-RPC error, not a revert).
      throw new ChainError(ChainErrorCode.UNAVAILABLE, "depositors", `query exceeds max block range ${max}`);
    }
    return this.chain.depositsIn(markets, fromBlock, to);
  }

  async collateralOf(market: Hex, trader: Hex, _epoch: bigint): Promise<Collateral> {
    this.collateralReads++;
    if (this.faults.collateralDelayMs) await new Promise((r) => setTimeout(r, this.faults.collateralDelayMs));
    if (this.faults.collateralFails?.()) {
      throw new ChainError(ChainErrorCode.UNAVAILABLE, "collateralOf", "connection refused");
    }
    return this.chain.collateralOf(market, trader);
  }

  /** One round trip for many traders; counts one read per trader in `collateralReads`, one call in `collateralCalls`. */
  async collateralOfMany(
    market: Hex,
    traders: readonly Hex[],
    _epoch: bigint,
  ): Promise<Map<Hex, Collateral>> {
    this.collateralReads += traders.length;
    this.collateralCalls++;
    this.collateralCallTraders.push([...traders]);
    if (this.faults.collateralDelayMs) await new Promise((r) => setTimeout(r, this.faults.collateralDelayMs));
    // collateralFails is asked once per trader read, as for collateralOf: the call fails if any read does.
    const failed = traders.map(() => this.faults.collateralFails?.() === true).some(Boolean);
    if (failed) {
      // Named like the per-trader read, so a test matching "collateralOf: ..." sees either.
      throw new ChainError(ChainErrorCode.UNAVAILABLE, "collateralOf", "connection refused");
    }
    return new Map(traders.map((t) => [t, this.chain.collateralOf(market, t)]));
  }

  async isSettled(market: Hex, epoch: bigint): Promise<boolean> {
    return this.chain.standingOf(market, epoch) !== undefined;
  }

  async gasBalance(): Promise<bigint> {
    return this.faults.gasBalance ?? 10n ** 21n;
  }

  async propose(
    market: Hex,
    epoch: bigint,
    batch: Uint8Array,
    expectedResultHash: Hex,
  ): Promise<SubmitResult> {
    const ev = this.chain.propose(this.sender, market, epoch, batch);
    if (ev.resultHash !== expectedResultHash)
      throw new Error(`result ${ev.resultHash} != ${expectedResultHash}`);
    return { txHash: ev.txHash, gasUsed: ev.gasUsed, resultHash: ev.resultHash };
  }

  async challenge(
    market: Hex,
    epoch: bigint,
    standingSubmitter: Hex,
    union: Uint8Array,
    expectedResultHash: Hex,
  ): Promise<SubmitResult> {
    if (this.faults.challengeFails?.()) throw new ChainError(ChainErrorCode.TIMEOUT, "challenge", "timeout");
    const ev = this.chain.challenge(this.sender, market, epoch, standingSubmitter, union);
    if (ev.resultHash !== expectedResultHash)
      throw new Error(`result ${ev.resultHash} != ${expectedResultHash}`);
    return { txHash: ev.txHash, gasUsed: ev.gasUsed, resultHash: ev.resultHash };
  }

  async finalize(market: Hex, items: readonly FinalizeItem[]): Promise<{ txHash: Hex; gasUsed: bigint }> {
    this.chain.finalize(this.sender, market, items);
    return { txHash: `0x${"f1".repeat(32)}` as Hex, gasUsed: 50_000n };
  }

  async claimBonds(): Promise<bigint> {
    const amount = this.chain.bonds.get(this.sender) ?? 0n;
    this.chain.bonds.set(this.sender, 0n);
    return amount;
  }

  async settlementEvents(
    markets: readonly Hex[],
    fromBlock: number,
    toBlock: number,
  ): Promise<SettlementEvent[]> {
    if (this.faults.eventsFail?.())
      throw new ChainError(ChainErrorCode.UNAVAILABLE, "settlementEvents", "timeout");
    return this.chain.eventsIn(markets, fromBlock, toBlock);
  }

  async standingOf(event: StandingEvent): Promise<ChainStanding> {
    if (this.faults.standingFails?.()) throw new ChainError(ChainErrorCode.TIMEOUT, "standingOf", "timeout");
    return this.chain.standingBatch(event);
  }

  async close(): Promise<void> {}
}
