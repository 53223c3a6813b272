// The ChainPort over JSON-RPC, through the settlement client (ethers 6). Every failure leaves as a
// ChainError with a typed code: the settlement client's decoded revert names map to codes here, once.
// Every call has a timeout and reads are retried with back-off (rpc-guard.ts): a hung chain ends in a
// ChainError TIMEOUT, a WARN line and smartmarket_rpc_errors_total, never in a call that waits forever.

import type { Registry } from "prom-client";
import type { Collateral } from "../../clearing/coverage.ts";
import { FetchRequest, type JsonRpcProvider } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { MarketParams } from "../../protocol/market.ts";
import { COLLATERAL_MANY_CHUNK, type FinalizeItem, SettlementClient } from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import { tokenMeta as readTokenMeta } from "../../settlement/erc20.ts";
import { SettlementRevertError, toSettlementError } from "../../settlement/errors.ts";
import { HttpJsonRpcProvider } from "../../settlement/provider.ts";
import type { Logger } from "../logger.ts";
import {
  ChainError,
  ChainErrorCode,
  type ChainPort,
  type ChainStanding,
  type SettlementEvent,
  type StandingEvent,
  type SubmitResult,
} from "./port.ts";
import { isTimeoutError, RPC_TIMEOUT_MS, RpcGuard } from "./rpc-guard.ts";

/** A transaction's receipt is awaited this long (each poll of it has the request timeout). */
const RECEIPT_TIMEOUT_MS = 60_000;

/** collateralOfMany chunks (COLLATERAL_MANY_CHUNK traders each) read at once. */
const COLLATERAL_CHUNKS_AT_ONCE = 4;

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
  const code = isTimeoutError(err) ? ChainErrorCode.TIMEOUT : ChainErrorCode.UNAVAILABLE;
  return new ChainError(code, operation, conciseMessage(e));
}

export class RpcChain implements ChainPort {
  readonly chainId: bigint;
  readonly contract: Hex;
  readonly client: SettlementClient;
  readonly guard: RpcGuard;
  private readonly provider: JsonRpcProvider;

  private constructor(client: SettlementClient, provider: JsonRpcProvider, chainId: bigint, guard: RpcGuard) {
    this.client = client;
    this.provider = provider;
    this.chainId = chainId;
    this.contract = client.contract;
    this.guard = guard;
  }

  attach(opts: { readonly registry?: Registry; readonly logger?: Logger }): void {
    this.guard.attach(opts);
  }

  get sender(): Hex {
    return this.client.address;
  }

  /** Connects to `rpcUrl`; fails with a clear error if the chain does not answer or has no contract there. */
  static async connect(opts: {
    rpcUrl: string;
    contract: Hex;
    privateKey: Hex;
    /** Per request and per read attempt (default RPC_TIMEOUT_MS). */
    timeoutMs?: number;
  }): Promise<RpcChain> {
    const timeoutMs = opts.timeoutMs ?? RPC_TIMEOUT_MS;
    // The provider is built here for its request timeout (ethers' default is 300 s: a stopped chain would
    // hang every call that long). Same options as SettlementClient's own provider otherwise.
    const request = new FetchRequest(opts.rpcUrl);
    request.timeout = timeoutMs;
    const provider = new HttpJsonRpcProvider(request, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
      batchStallTime: 0,
      pollingInterval: 100,
    });
    const client = new SettlementClient(
      {
        rpcUrl: opts.rpcUrl,
        privateKey: opts.privateKey,
        contract: opts.contract,
        pollingIntervalMs: 100,
        receiptTimeoutMs: RECEIPT_TIMEOUT_MS,
      },
      { provider },
    );
    const guard = new RpcGuard(toChainError, { timeoutMs });
    let chainId: bigint;
    try {
      chainId = await guard.read("connect", () => client.chainId());
    } catch (err) {
      provider.destroy();
      throw new ChainError(
        (err as Partial<ChainError>).code === ChainErrorCode.TIMEOUT
          ? ChainErrorCode.TIMEOUT
          : ChainErrorCode.UNAVAILABLE,
        "connect",
        `cannot reach the chain at ${opts.rpcUrl}: ${(err as Error).message}`,
      );
    }
    let code: string;
    try {
      code = await guard.read("connect", () => client.provider.getCode(opts.contract));
    } catch (err) {
      provider.destroy();
      throw err;
    }
    if (code === "0x") {
      provider.destroy();
      throw new ChainError(
        ChainErrorCode.UNAVAILABLE,
        "connect",
        `no contract at ${opts.contract} on chain ${chainId} (${opts.rpcUrl})`,
      );
    }
    return new RpcChain(client, provider, chainId, guard);
  }

  /** A read: timed out per attempt, retried with back-off (rpc-guard.ts). */
  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.guard.read(operation, fn);
  }

  /** A transaction: sent once; its caller re-checks the chain before sending again. */
  private send<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.guard.write(operation, fn);
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
    return this.call("tokenMeta", () => readTokenMeta(this.client.provider, token));
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

  /**
   * collateralOf(epoch) of many traders in one eth_call per 500 (collateralOfMany): an epoch's collateral
   * costs O(1) round trips however many (unfunded) traders flood it. "pending", as collateralOf.
   */
  async collateralOfMany(market: Hex, traders: readonly Hex[], epoch: bigint): Promise<Map<Hex, Collateral>> {
    // Each chunk is its own timed, retried read (at most COLLATERAL_CHUNKS_AT_ONCE at a time): the number
    // of traders is the flooder's choice, and one timeout over all of them would fail every attempt.
    const out = new Map<Hex, Collateral>();
    const chunks: Hex[][] = [];
    for (let i = 0; i < traders.length; i += COLLATERAL_MANY_CHUNK) {
      chunks.push(traders.slice(i, i + COLLATERAL_MANY_CHUNK));
    }
    for (let i = 0; i < chunks.length; i += COLLATERAL_CHUNKS_AT_ONCE) {
      await Promise.all(
        chunks.slice(i, i + COLLATERAL_CHUNKS_AT_ONCE).map(async (chunk) => {
          const values = await this.call("collateralOfMany", () =>
            this.client.collateralOfMany(market, chunk, epoch, "pending"),
          );
          for (const [k, t] of chunk.entries()) out.set(t, values[k]!);
        }),
      );
    }
    return out;
  }

  gasBalance(): Promise<bigint> {
    return this.call("gasBalance", () => this.client.provider.getBalance(this.client.address, "pending"));
  }

  isSettled(market: Hex, epoch: bigint): Promise<boolean> {
    return this.call("isSettled", () => this.client.isSettled(market, epoch, "pending"));
  }

  propose(market: Hex, epoch: bigint, batch: Uint8Array, expectedResultHash: Hex): Promise<SubmitResult> {
    return this.send("propose", async () => {
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
    return this.send("challenge", async () => {
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
    return this.send("finalize", async () => {
      const r = await this.client.finalize(market, items);
      return { txHash: r.txHash, gasUsed: r.gasUsed };
    });
  }

  claimBonds(): Promise<bigint> {
    return this.send("claimBonds", async () => {
      if ((await this.client.bondsOf(this.client.address, "pending")) === 0n) return 0n;
      return (await this.client.claimBonds()).amount;
    });
  }

  settlementEvents(markets: readonly Hex[], fromBlock: number, toBlock: number): Promise<SettlementEvent[]> {
    if (markets.length === 0) return Promise.resolve([]);
    return (async () => {
      const events = await this.call("settlementEvents", () =>
        this.client.settlementEvents({ fromBlock, toBlock, markets }),
      );
      // One timed read per receipt, all at once: a catch-up over many events is not one read that must
      // fit the per-attempt timeout.
      const txs = [...new Set(events.map((ev) => ev.txHash))];
      const receipts = await Promise.all(
        txs.map((tx) => this.call("receipt", () => this.client.provider.getTransactionReceipt(tx))),
      );
      const gas = new Map<Hex, bigint>(txs.map((tx, i) => [tx, receipts[i]?.gasUsed ?? 0n]));
      return events.map((ev) => ({ ...ev, gasUsed: gas.get(ev.txHash) ?? 0n }));
    })();
  }

  depositors(
    markets: readonly Hex[],
    fromBlock: number,
    toBlock: number | "latest",
  ): Promise<{ market: Hex; trader: Hex }[]> {
    if (markets.length === 0) return Promise.resolve([]);
    return this.call("depositors", () => this.client.depositors({ fromBlock, toBlock, markets }));
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
    this.guard.close();
    this.client.close();
    this.provider.destroy();
  }
}
