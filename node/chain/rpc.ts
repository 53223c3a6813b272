// The ChainPort over JSON-RPC, through the settlement client (ethers 6). Every failure leaves as a
// ChainError with a typed code: the settlement client's decoded revert names map to codes here, once.
import type { ClearingResult } from "../../clearing/clear.ts";
import type { Collateral } from "../../clearing/coverage.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { MarketParams } from "../../protocol/market.ts";
import type { SignedOrder } from "../../protocol/order.ts";
import { SettlementClient } from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import { SettlementRevertError, toSettlementError } from "../../settlement/errors.ts";
import { ChainError, ChainErrorCode, type ChainPort, type SettledEvent, type SubmitResult } from "./port.ts";

/** Contract errors with a code of their own; every other revert is REVERTED. */
const REVERT_CODES: Readonly<Record<string, ChainErrorCode>> = {
  AlreadySettled: ChainErrorCode.ALREADY_SETTLED,
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

  settle(
    market: Hex,
    epoch: bigint,
    result: ClearingResult,
    orders: ReadonlyMap<Hex, SignedOrder>,
  ): Promise<SubmitResult> {
    return this.call("settle", async () => {
      const r = await this.client.settle(market, epoch, result, orders);
      return { txHash: r.txHash, gasUsed: r.gasUsed, resultHash: r.resultHash };
    });
  }

  settledEvents(markets: readonly Hex[], fromBlock: number, toBlock: number): Promise<SettledEvent[]> {
    return this.call("settledEvents", async () => {
      if (markets.length === 0) return [];
      const events = await this.client.settledEvents({ fromBlock, toBlock, markets });
      const gas = await Promise.all(
        events.map((ev) =>
          this.client.provider.getTransactionReceipt(ev.txHash).then((r) => r?.gasUsed ?? 0n),
        ),
      );
      return events.map((ev, i) => ({ ...ev, gasUsed: gas[i]! }));
    });
  }

  settledFills(market: Hex, epoch: bigint): Promise<{ id: Hex; quantity: bigint }[]> {
    return this.call("settledFills", async () => {
      const rec = await this.client.getSettlement(market, epoch);
      return rec ? rec.fills.map((f) => ({ id: f.id, quantity: f.quantity })) : [];
    });
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
