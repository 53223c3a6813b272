// The ChainPort over JSON-RPC, through the settlement client (ethers 6). Every failure leaves as a
// ChainError with a typed code: the settlement client's decoded revert names map to codes here, once.
import { Contract } from "ethers";
import type { Collateral } from "../../clearing/coverage.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { MarketParams } from "../../protocol/market.ts";
import { type FinalizeItem, SettlementClient } from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import { SettlementRevertError, toSettlementError } from "../../settlement/errors.ts";
import {
  ChainError,
  ChainErrorCode,
  type ChainPort,
  type ChainStanding,
  type SettlementEvent,
  type StandingEvent,
  type SubmitResult,
} from "./port.ts";

/** Contract errors with a code of their own; every other revert is REVERTED. */
const REVERT_CODES: Readonly<Record<string, ChainErrorCode>> = {
  AlreadyProposed: ChainErrorCode.ALREADY_PROPOSED,
  ProposalWindowClosed: ChainErrorCode.WINDOW_CLOSED,
  ChallengeWindowClosed: ChainErrorCode.WINDOW_CLOSED,
  StandingMismatch: ChainErrorCode.STALE,
  ResultUnchanged: ChainErrorCode.STALE,
  NoNewOrders: ChainErrorCode.STALE,
  NothingToChallenge: ChainErrorCode.STALE,
  UnknownMarket: ChainErrorCode.UNKNOWN_MARKET,
};

const TOKEN_META_ABI = [
  "function decimals() view returns (uint8)",
  "function symbol() view returns (string)",
] as const;

/** ethers embeds whole signed transactions in its messages: keep the reason, bounded. */
function conciseMessage(err: Error): string {
  const short = (err as { shortMessage?: unknown }).shortMessage;
  const text = typeof short === "string" ? short : err.message;
  const cut = text.indexOf(" (transaction=");
  return (cut >= 0 ? text.slice(0, cut) : text).slice(0, 300);
}

export function toChainError(operation: string, err: unknown): ChainError {
  if (err instanceof ChainError) return err;
  const e = toSettlementError(operation, err);
  if (e instanceof SettlementRevertError) {
    return new ChainError(
      REVERT_CODES[e.errorName] ?? ChainErrorCode.REVERTED,
      operation,
      conciseMessage(e),
      e.errorName,
    );
  }
  return new ChainError(ChainErrorCode.UNAVAILABLE, operation, conciseMessage(e));
}

export class RpcChain implements ChainPort {
  readonly chainId: bigint;
  readonly contract: Hex;
  readonly client: SettlementClient;

  private constructor(client: SettlementClient, chainId: bigint) {
    this.client = client;
    this.chainId = chainId;
    this.contract = client.contract;
  }

  get sender(): Hex {
    return this.client.address;
  }

  /** Connects to `rpcUrl`; fails with a clear error if the chain does not answer or has no contract there. */
  static async connect(opts: { rpcUrl: string; contract: Hex; privateKey: Hex }): Promise<RpcChain> {
    const client = new SettlementClient({
      rpcUrl: opts.rpcUrl,
      privateKey: opts.privateKey,
      contract: opts.contract,
      pollingIntervalMs: 100,
    });
    let chainId: bigint;
    try {
      chainId = await client.chainId();
    } catch (err) {
      client.close();
      throw new ChainError(
        ChainErrorCode.UNAVAILABLE,
        "connect",
        `cannot reach the chain at ${opts.rpcUrl}: ${(err as Error).message}`,
      );
    }
    const code = await client.provider.getCode(opts.contract);
    if (code === "0x") {
      client.close();
      throw new ChainError(
        ChainErrorCode.UNAVAILABLE,
        "connect",
        `no contract at ${opts.contract} on chain ${chainId} (${opts.rpcUrl})`,
      );
    }
    return new RpcChain(client, chainId);
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toChainError(operation, err);
    }
  }

  getMarket(market: Hex): Promise<MarketParams> {
    return this.call("getMarket", () => this.client.getMarket(market));
  }

  freeBalance(market: Hex, trader: Hex): Promise<Collateral> {
    return this.call("freeBalance", async () => {
      const [base, quote] = await Promise.all([
        this.client.escrowOf(market, trader, Asset.BASE),
        this.client.escrowOf(market, trader, Asset.QUOTE),
      ]);
      return { base: base.free, quote: quote.free };
    });
  }

  /**
   * decimals() and symbol() of an ERC-20 token; null if it has no such functions (a call reverts or
   * returns nothing usable). A chain that does not answer is a ChainError, so the caller can try again.
   */
  async tokenMeta(token: Hex): Promise<{ symbol: string; decimals: number } | null> {
    const erc20 = new Contract(token, TOKEN_META_ABI, this.client.provider);
    try {
      const [decimals, symbol] = (await Promise.all([erc20.decimals!(), erc20.symbol!()])) as [
        bigint,
        string,
      ];
      const d = Number(decimals);
      if (!Number.isInteger(d) || d < 0 || d > 36 || typeof symbol !== "string") return null;
      return { symbol: symbol.slice(0, 16), decimals: d };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === "CALL_EXCEPTION" || code === "BAD_DATA") return null;
      throw toChainError("tokenMeta", err);
    }
  }

  blockNumber(): Promise<number> {
    return this.call("blockNumber", () => this.client.provider.getBlockNumber());
  }

  collateralOf(market: Hex, trader: Hex, epoch: bigint): Promise<Collateral> {
    // "pending": the block being built, whose timestamp is the chain's now, so the read works right
    // after the close without waiting for a new block. collateralOf(e) is the same at any block of e+1.
    return this.call("collateralOf", async () => {
      const [base, quote] = await Promise.all([
        this.client.collateralOf(market, trader, Asset.BASE, epoch, "pending"),
        this.client.collateralOf(market, trader, Asset.QUOTE, epoch, "pending"),
      ]);
      return { base, quote };
    });
  }

  gasBalance(): Promise<bigint> {
    return this.call("gasBalance", () => this.client.provider.getBalance(this.client.address, "pending"));
  }

  isSettled(market: Hex, epoch: bigint): Promise<boolean> {
    return this.call("isSettled", () => this.client.isSettled(market, epoch, "pending"));
  }

  propose(market: Hex, epoch: bigint, batch: Uint8Array, expectedResultHash: Hex): Promise<SubmitResult> {
    return this.call("propose", async () => {
      const r = await this.client.submitResult(market, epoch, batch, { expectedResultHash });
      return {
        txHash: r.proposal.txHash,
        gasUsed: r.commit.gasUsed + r.proposal.gasUsed,
        resultHash: r.proposal.event.resultHash,
      };
    });
  }

  challenge(
    market: Hex,
    epoch: bigint,
    standingSubmitter: Hex,
    union: Uint8Array,
    expectedResultHash: Hex,
  ): Promise<SubmitResult> {
    return this.call("challenge", async () => {
      const r = await this.client.submitChallenge(market, epoch, standingSubmitter, union, {
        expectedResultHash,
      });
      return {
        txHash: r.challenge.txHash,
        gasUsed: r.commit.gasUsed + r.challenge.gasUsed,
        resultHash: r.challenge.event.resultHash,
      };
    });
  }

  finalize(market: Hex, items: readonly FinalizeItem[]): Promise<{ txHash: Hex; gasUsed: bigint }> {
    return this.call("finalize", async () => {
      const r = await this.client.finalize(market, items);
      return { txHash: r.txHash, gasUsed: r.gasUsed };
    });
  }

  claimBonds(): Promise<bigint> {
    return this.call("claimBonds", async () => {
      if ((await this.client.bondsOf(this.client.address, "pending")) === 0n) return 0n;
      return (await this.client.claimBonds()).amount;
    });
  }

  settlementEvents(markets: readonly Hex[], fromBlock: number, toBlock: number): Promise<SettlementEvent[]> {
    return this.call("settlementEvents", async () => {
      if (markets.length === 0) return [];
      const events = await this.client.settlementEvents({ fromBlock, toBlock, markets });
      const gas = new Map<Hex, bigint>();
      for (const ev of events) {
        if (!gas.has(ev.txHash)) {
          const receipt = await this.client.provider.getTransactionReceipt(ev.txHash);
          gas.set(ev.txHash, receipt?.gasUsed ?? 0n);
        }
      }
      return events.map((ev) => ({ ...ev, gasUsed: gas.get(ev.txHash) ?? 0n }));
    });
  }

  standingOf(event: StandingEvent): Promise<ChainStanding> {
    return this.call("standingOf", async () => {
      for (const call of await this.client.decodeProposalTx(event.txHash)) {
        if (
          call.market !== event.market ||
          call.epoch !== event.epoch ||
          call.batchHash !== event.batchHash
        ) {
          continue;
        }
        return {
          header: call.batch.header,
          orders: call.orders,
          resultHash: event.resultHash,
          submitter: event.kind === "Proposed" ? event.submitter : event.challenger,
          batchHash: call.batchHash,
        };
      }
      throw new ChainError(
        ChainErrorCode.UNAVAILABLE,
        "standingOf",
        `no call in ${event.txHash} has the batch ${event.batchHash} of epoch ${event.epoch}`,
      );
    });
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
