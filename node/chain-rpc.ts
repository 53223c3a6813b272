// The ChainPort over JSON-RPC, through the settlement client (ethers 6).
import type { ClearingResult } from "../clearing/clear.ts";
import type { Collateral } from "../clearing/coverage.ts";
import type { Hex } from "../protocol/hex.ts";
import type { MarketParams } from "../protocol/market.ts";
import type { SignedOrder } from "../protocol/order.ts";
import { smartMarketInterface } from "../settlement/artifacts.ts";
import { SettlementClient } from "../settlement/client.ts";
import { Asset } from "../settlement/encoding.ts";
import type { ChainPort, SettledEvent, SubmitResult } from "./chain.ts";

const SETTLED_TOPIC = smartMarketInterface.getEvent("Settled")!.topicHash;

export class RpcChain implements ChainPort {
  readonly chainId: bigint;
  readonly contract: Hex;
  readonly client: SettlementClient;

  private constructor(client: SettlementClient, chainId: bigint) {
    this.client = client;
    this.chainId = chainId;
    this.contract = client.contract;
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
      throw new Error(`cannot reach the chain at ${opts.rpcUrl}: ${(err as Error).message}`);
    }
    const code = await client.provider.getCode(opts.contract);
    if (code === "0x") {
      client.close();
      throw new Error(`no contract at ${opts.contract} on chain ${chainId} (${opts.rpcUrl})`);
    }
    return new RpcChain(client, chainId);
  }

  getMarket(market: Hex): Promise<MarketParams> {
    return this.client.getMarket(market);
  }

  blockNumber(): Promise<number> {
    return this.client.provider.getBlockNumber();
  }

  async collateralOf(market: Hex, trader: Hex, epoch: bigint): Promise<Collateral> {
    // "pending": the block being built, whose timestamp is the chain's now, so the read works right
    // after the close without waiting for a new block. collateralOf(e) is the same at any block of e+1.
    const [base, quote] = await Promise.all([
      this.client.collateralOf(market, trader, Asset.BASE, epoch, "pending"),
      this.client.collateralOf(market, trader, Asset.QUOTE, epoch, "pending"),
    ]);
    return { base, quote };
  }

  gasBalance(): Promise<bigint> {
    return this.client.provider.getBalance(this.client.address, "pending");
  }

  isSettled(market: Hex, epoch: bigint): Promise<boolean> {
    return this.client.isSettled(market, epoch, "pending");
  }

  async settle(
    market: Hex,
    epoch: bigint,
    result: ClearingResult,
    orders: ReadonlyMap<Hex, SignedOrder>,
  ): Promise<SubmitResult> {
    const r = await this.client.settle(market, epoch, result, orders);
    return { txHash: r.txHash, gasUsed: r.gasUsed, resultHash: r.resultHash };
  }

  async settledEvents(market: Hex, fromBlock: number, toBlock: number): Promise<SettledEvent[]> {
    const logs = await this.client.provider.getLogs({
      address: this.contract,
      topics: [SETTLED_TOPIC, market],
      fromBlock,
      toBlock,
    });
    const out: SettledEvent[] = [];
    for (const log of logs) {
      const ev = smartMarketInterface.parseLog(log);
      if (!ev) continue;
      const receipt = await this.client.provider.getTransactionReceipt(log.transactionHash);
      out.push({
        market: (ev.args.market as string).toLowerCase() as Hex,
        epoch: ev.args.epoch as bigint,
        price: ev.args.price as bigint,
        volume: ev.args.volume as bigint,
        resultHash: (ev.args.resultHash as string).toLowerCase() as Hex,
        submitter: (ev.args.submitter as string).toLowerCase() as Hex,
        txHash: log.transactionHash.toLowerCase() as Hex,
        blockNumber: log.blockNumber,
        gasUsed: receipt?.gasUsed ?? 0n,
      });
    }
    return out;
  }

  async settledFills(market: Hex, epoch: bigint): Promise<{ id: Hex; quantity: bigint }[]> {
    const rec = await this.client.getSettlement(market, epoch);
    return rec ? rec.fills.map((f) => ({ id: f.id, quantity: f.quantity })) : [];
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
