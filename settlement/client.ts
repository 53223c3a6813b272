// The settlement client: everything a node or a device does on the chain, through ethers 6 against any
// JSON-RPC URL. Deploys, markets, escrow, settlement, and reading settlements back (fills are rebuilt from
// the settle transaction's calldata and checked against the Settled event's result hash).
import {
  type BlockTag,
  JsonRpcProvider,
  type Log,
  type TransactionReceipt,
  type TransactionRequest,
  type TransactionResponse,
  toBeHex,
  Wallet,
} from "ethers";
import { domainSeparator, type Eip712Domain, makeDomain, orderDigestBytes } from "../protocol/eip712.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import { type MarketParams, marketId } from "../protocol/market.ts";
import type { SignedOrder } from "../protocol/order.ts";
import {
  SMART_MARKET_BYTECODE,
  smartMarketInterface,
  TEST_TOKEN_BYTECODE,
  testTokenInterface,
} from "./artifacts.ts";
import {
  type Asset,
  BatchEncodingError,
  buildSignedFills,
  decodeSettleCall,
  encodeSettleCall,
  type SettleCall,
  type SettlementBatch,
  settlementResultHash,
  signedOrderOf,
} from "./encoding.ts";
import { SettlementClientError, toSettlementError } from "./errors.ts";

export interface SettlementClientOptions {
  /** JSON-RPC URL of the chain (anvil, a testnet, mainnet...). */
  readonly rpcUrl: string;
  /** Key that signs this client's transactions. */
  readonly privateKey: Hex;
  /** The settlement contract; omit it and call deployContracts() or attach() later. */
  readonly contract?: Hex;
  /** Polling interval for receipts, ms (default 200). */
  readonly pollingIntervalMs?: number;
  /** Gas limit = estimate * (100 + margin) / 100 (default 25): state can change between estimate and block. */
  readonly gasMarginPercent?: number;
  /** How long to wait for a transaction's receipt, ms (default 120 s). */
  readonly receiptTimeoutMs?: number;
}

export interface SettlementClientModules {
  /** A provider to share between clients; the client then does not destroy it on close(). */
  readonly provider?: JsonRpcProvider;
  /** Diagnostics sink. */
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface TestTokenSpec {
  readonly name: string;
  readonly symbol: string;
  readonly decimals: number;
}

export interface NewMarket {
  readonly base: Hex;
  readonly quote: Hex;
  readonly genesisTimeS: bigint;
  readonly epochLengthS: bigint;
  readonly feeBps: bigint;
}

export interface EscrowBalance {
  readonly free: bigint;
  readonly locked: bigint;
  /** Epoch of the last withdrawal request (meaningful when locked > 0). */
  readonly lockedEpoch: bigint;
  /** The checkpoint: the epoch of the last change of `free`, and `free` at that epoch's start. */
  readonly checkpointEpoch: bigint | null;
  readonly checkpointFree: bigint;
}

export interface TxResult {
  readonly txHash: Hex;
  readonly blockNumber: number;
  readonly gasUsed: bigint;
}

export interface SettleResult extends TxResult {
  /** The result hash the contract computed and emitted. */
  readonly resultHash: Hex;
}

export interface SettledFill {
  readonly id: Hex;
  readonly quantity: bigint;
  readonly order: SignedOrder;
}

/** A Settled event as logged: the chain's record of a settlement, without its fills. */
export interface SettlementEvent {
  readonly market: Hex;
  readonly epoch: bigint;
  readonly price: bigint;
  readonly volume: bigint;
  readonly resultHash: Hex;
  readonly submitter: Hex;
  readonly txHash: Hex;
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** A settlement as the chain recorded it, with its fills rebuilt from the transaction. */
export interface SettlementRecord extends SettlementEvent {
  /** Ascending by id, rebuilt from the transaction's calldata; their hash equals resultHash. */
  readonly fills: readonly SettledFill[];
}

export interface SettledEventsQuery {
  /** First and last block to read (inclusive). */
  readonly fromBlock: number;
  readonly toBlock: number;
  /** Only these markets' settlements (all markets when omitted or empty). */
  readonly markets?: readonly Hex[];
}

/** settle() gas limit = SETTLE_GAS_FIXED + SETTLE_GAS_PER_FILL × fills (see #settleGasLimit). */
const SETTLE_GAS_FIXED = 150_000n;
const SETTLE_GAS_PER_FILL = 40_000n;

const SETTLED_TOPIC = smartMarketInterface.getEvent("Settled")?.topicHash as string;
const SETTLE_SELECTOR = smartMarketInterface.getFunction("settle")?.selector as string;

/**
 * Polls eth_getTransactionReceipt until the transaction is mined. ethers' own wait() checks the receipt once
 * and then waits for the next block: when the transaction is mined between the two and no other block
 * follows (an automining dev chain that goes quiet), it waits forever.
 */
export async function waitForReceipt(
  provider: JsonRpcProvider,
  txHash: string,
  options: { intervalMs?: number; timeoutMs?: number } = {},
): Promise<TransactionReceipt> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const receipt = await provider.getTransactionReceipt(txHash);
    if (receipt) return receipt;
    if (Date.now() > deadline)
      throw new Error(`no receipt for ${txHash} after ${options.timeoutMs ?? 120_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

/**
 * Assigns nonces itself, in one queue per client: concurrent sends from one wallet never collide, and a
 * transaction that fails before broadcast (a revert at gas estimation) does not burn a nonce, which
 * ethers' NonceManager does (it increments before populating). On a broadcast error it re-reads the
 * pending nonce from the chain.
 */
class NonceQueue {
  #next: number | null = null;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #wallet: Wallet;

  constructor(wallet: Wallet) {
    this.#wallet = wallet;
  }

  send(tx: TransactionRequest): Promise<TransactionResponse> {
    const run = async (): Promise<TransactionResponse> => {
      if (this.#next === null) this.#next = await this.#wallet.getNonce("pending");
      const nonce = this.#next;
      try {
        const response = await this.#wallet.sendTransaction({ ...tx, nonce });
        this.#next = nonce + 1;
        return response;
      } catch (err) {
        this.#next = null;
        throw err;
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

export class SettlementClient {
  readonly #provider: JsonRpcProvider;
  readonly #ownsProvider: boolean;
  readonly #wallet: Wallet;
  readonly #nonces: NonceQueue;
  readonly #log: (event: string, fields: Record<string, unknown>) => void;
  readonly #pollingIntervalMs: number;
  readonly #gasMarginPercent: bigint;
  readonly #receiptTimeoutMs: number;
  #contract: Hex | null;
  #chainId: bigint | null = null;
  #separator: { contract: Hex; value: Uint8Array } | null = null;
  readonly #markets = new Map<Hex, MarketParams>();
  #depositLock: Promise<unknown> = Promise.resolve();

  constructor(options: SettlementClientOptions, modules: SettlementClientModules = {}) {
    this.#pollingIntervalMs = options.pollingIntervalMs ?? 200;
    this.#gasMarginPercent = BigInt(options.gasMarginPercent ?? 25);
    this.#receiptTimeoutMs = options.receiptTimeoutMs ?? 120_000;
    this.#ownsProvider = modules.provider === undefined;
    this.#provider =
      modules.provider ??
      new JsonRpcProvider(options.rpcUrl, undefined, {
        staticNetwork: true, // one eth_chainId, not one per request
        cacheTimeout: -1, // ethers shares identical requests for 250 ms: a read right after a tx would be stale
        batchStallTime: 0, // no added latency; concurrent requests of one tick are still batched
        pollingInterval: this.#pollingIntervalMs,
      });
    this.#wallet = new Wallet(options.privateKey, this.#provider);
    this.#nonces = new NonceQueue(this.#wallet);
    this.#contract = options.contract ? (options.contract.toLowerCase() as Hex) : null;
    this.#log = modules.log ?? (() => {});
  }

  /** The address that signs this client's transactions. */
  get address(): Hex {
    return this.#wallet.address.toLowerCase() as Hex;
  }

  get provider(): JsonRpcProvider {
    return this.#provider;
  }

  /** The settlement contract's address. */
  get contract(): Hex {
    if (!this.#contract)
      throw new SettlementClientError("contract", "no settlement contract: deploy or attach one");
    return this.#contract;
  }

  /** Uses the settlement contract at `address` from now on. */
  attach(address: Hex): void {
    this.#contract = address.toLowerCase() as Hex;
    this.#separator = null;
  }

  /** Releases the provider (when the client created it). */
  close(): void {
    if (this.#ownsProvider) this.#provider.destroy();
  }

  async chainId(): Promise<bigint> {
    if (this.#chainId === null) this.#chainId = (await this.#provider.getNetwork()).chainId;
    return this.#chainId;
  }

  /** The EIP-712 domain of orders for this chain and contract. */
  async domain(): Promise<Eip712Domain> {
    return makeDomain(await this.chainId(), this.contract);
  }

  async domainSeparator(): Promise<Uint8Array> {
    const contract = this.contract;
    if (this.#separator?.contract !== contract) {
      this.#separator = { contract, value: domainSeparator(makeDomain(await this.chainId(), contract)) };
    }
    return this.#separator.value;
  }

  // ================================================================ transactions

  async #send(
    operation: string,
    tx: TransactionRequest,
  ): Promise<{ receipt: TransactionReceipt; txHash: Hex }> {
    const request: TransactionRequest = { ...tx, from: this.#wallet.address };
    let gasLimit: bigint;
    try {
      // Reverts surface here, before a nonce is taken, with the revert data to decode. With a gas limit
      // given by the caller, one eth_call is enough: eth_estimateGas binary-searches and executes the
      // transaction many times, which for a large settle() costs seconds of the settlement window.
      if (tx.gasLimit !== undefined && tx.gasLimit !== null) {
        await this.#provider.call({ ...request, blockTag: "pending" });
        gasLimit = BigInt(tx.gasLimit);
      } else {
        gasLimit = await this.#provider.estimateGas(request);
        gasLimit = (gasLimit * (100n + this.#gasMarginPercent)) / 100n;
      }
    } catch (err) {
      throw toSettlementError(operation, err);
    }
    let response: TransactionResponse;
    try {
      response = await this.#nonces.send({ ...request, gasLimit });
    } catch (err) {
      throw toSettlementError(operation, err);
    }
    const receipt = await this.#waitForReceipt(operation, response);
    this.#log("tx", {
      operation,
      txHash: response.hash,
      gasUsed: receipt.gasUsed,
      block: receipt.blockNumber,
    });
    return { receipt, txHash: response.hash.toLowerCase() as Hex };
  }

  async #waitForReceipt(operation: string, response: TransactionResponse): Promise<TransactionReceipt> {
    let receipt: TransactionReceipt;
    try {
      receipt = await waitForReceipt(this.#provider, response.hash, {
        intervalMs: this.#pollingIntervalMs,
        timeoutMs: this.#receiptTimeoutMs,
      });
    } catch (err) {
      throw new SettlementClientError(operation, (err as Error).message, err);
    }
    if (receipt.status === 1) return receipt;
    // Mined but reverted (state changed since the estimate, e.g. another node settled first): replay the
    // call on the state after that block to get revert data a person can read.
    try {
      await this.#provider.call({
        to: response.to,
        from: response.from,
        data: response.data,
        blockTag: receipt.blockNumber,
      });
    } catch (replayErr) {
      throw toSettlementError(operation, replayErr);
    }
    throw new SettlementClientError(
      operation,
      `transaction ${response.hash} reverted in block ${receipt.blockNumber}`,
    );
  }

  async #deploy(operation: string, bytecode: Hex, encodedArgs: string): Promise<Hex> {
    const { receipt } = await this.#send(operation, { data: bytecode + encodedArgs.slice(2) });
    if (!receipt.contractAddress)
      throw new SettlementClientError(operation, "no contract address in receipt");
    return receipt.contractAddress.toLowerCase() as Hex;
  }

  /** Deploys a SmartMarket contract and attaches to it. */
  async deploySettlement(): Promise<Hex> {
    const address = await this.#deploy("deploySettlement", SMART_MARKET_BYTECODE, "0x");
    this.attach(address);
    return address;
  }

  /** Deploys a TestToken (mintable by anyone: local chains only). */
  async deployTestToken(spec: TestTokenSpec): Promise<Hex> {
    const args = testTokenInterface.encodeDeploy([spec.name, spec.symbol, spec.decimals]);
    return this.#deploy(`deployTestToken(${spec.symbol})`, TEST_TOKEN_BYTECODE, args);
  }

  /** Deploys the settlement contract and two TestTokens (concurrently), and attaches to the contract. */
  async deployContracts(tokens: { base: TestTokenSpec; quote: TestTokenSpec }): Promise<{
    settlement: Hex;
    base: Hex;
    quote: Hex;
  }> {
    const [settlement, base, quote] = await Promise.all([
      this.deploySettlement(),
      this.deployTestToken(tokens.base),
      this.deployTestToken(tokens.quote),
    ]);
    return { settlement, base, quote };
  }

  #call(operation: string, fn: string, args: readonly unknown[], blockTag?: BlockTag): Promise<unknown[]> {
    return this.#callAt(operation, this.contract, smartMarketInterface, fn, args, blockTag);
  }

  async #callAt(
    operation: string,
    to: Hex,
    iface: typeof smartMarketInterface,
    fn: string,
    args: readonly unknown[],
    blockTag?: BlockTag,
  ): Promise<unknown[]> {
    try {
      const data = iface.encodeFunctionData(fn, args);
      const ret = await this.#provider.call({ to, data, ...(blockTag === undefined ? {} : { blockTag }) });
      return [...iface.decodeFunctionResult(fn, ret)];
    } catch (err) {
      throw toSettlementError(operation, err);
    }
  }

  #tx(operation: string, fn: string, args: readonly unknown[]) {
    return this.#send(operation, {
      to: this.contract,
      data: smartMarketInterface.encodeFunctionData(fn, args),
    });
  }

  static #txResult(r: { receipt: TransactionReceipt; txHash: Hex }): TxResult {
    return { txHash: r.txHash, blockNumber: r.receipt.blockNumber, gasUsed: r.receipt.gasUsed };
  }

  // ================================================================ markets

  /** Creates a market (anyone may). The id is protocol/market.ts's marketId of the parameters. */
  async createMarket(params: NewMarket): Promise<{ id: Hex; params: MarketParams } & TxResult> {
    const p: MarketParams = {
      base: params.base.toLowerCase() as Hex,
      quote: params.quote.toLowerCase() as Hex,
      genesisTimeS: params.genesisTimeS,
      epochLengthS: params.epochLengthS,
      feeBps: params.feeBps,
    };
    const r = await this.#tx("createMarket", "createMarket", [
      p.base,
      p.quote,
      p.genesisTimeS,
      p.epochLengthS,
      p.feeBps,
    ]);
    const id = marketId(p);
    const created = r.receipt.logs
      .map((log) => smartMarketInterface.parseLog(log))
      .find((e) => e?.name === "MarketCreated");
    if ((created?.args[0] as string | undefined)?.toLowerCase() !== id) {
      throw new SettlementClientError("createMarket", `the contract's market id differs from ${id}`);
    }
    this.#markets.set(id, p);
    return { id, params: p, ...SettlementClient.#txResult(r) };
  }

  async getMarket(id: Hex): Promise<MarketParams> {
    const key = id.toLowerCase() as Hex;
    const cached = this.#markets.get(key);
    if (cached) return cached;
    const [base, quote, genesisTimeS, epochLengthS, feeBps] = (await this.#call("getMarket", "getMarket", [
      key,
    ])) as [string, string, bigint, bigint, bigint];
    const p: MarketParams = {
      base: base.toLowerCase() as Hex,
      quote: quote.toLowerCase() as Hex,
      genesisTimeS,
      epochLengthS,
      feeBps,
    };
    this.#markets.set(key, p);
    return p;
  }

  /** The market's epoch at the latest block's timestamp (0 before genesis). */
  async currentEpoch(market: Hex, blockTag?: BlockTag): Promise<bigint> {
    const [epoch] = (await this.#call("currentEpoch", "currentEpoch", [market], blockTag)) as [bigint];
    return epoch;
  }

  // ================================================================ tokens

  async #tokenOf(market: Hex, asset: Asset): Promise<Hex> {
    const p = await this.getMarket(market);
    return asset === 0 ? p.base : p.quote;
  }

  /** Mints TestTokens (local chains). */
  async mintTestToken(token: Hex, to: Hex, amount: bigint): Promise<TxResult> {
    const data = testTokenInterface.encodeFunctionData("mint", [to, amount]);
    return SettlementClient.#txResult(await this.#send("mint", { to: token, data }));
  }

  async tokenBalance(token: Hex, owner: Hex): Promise<bigint> {
    const [balance] = (await this.#callAt("balanceOf", token, testTokenInterface, "balanceOf", [owner])) as [
      bigint,
    ];
    return balance;
  }

  async #allowance(token: Hex): Promise<bigint> {
    const [allowed] = (await this.#callAt("allowance", token, testTokenInterface, "allowance", [
      this.address,
      this.contract,
    ])) as [bigint];
    return allowed;
  }

  // ================================================================ escrow

  /**
   * Deposits `amount` of the market's `asset` into this wallet's escrow, approving the contract first when
   * the allowance is short (exactly the amount: no unlimited approvals). Deposits of one client run one at
   * a time, so that concurrent ones do not overwrite each other's approval.
   */
  deposit(market: Hex, asset: Asset, amount: bigint): Promise<TxResult> {
    const run = async (): Promise<TxResult> => {
      const token = await this.#tokenOf(market, asset);
      if ((await this.#allowance(token)) < amount) {
        const data = testTokenInterface.encodeFunctionData("approve", [this.contract, amount]);
        await this.#send("approve", { to: token, data });
      }
      return SettlementClient.#txResult(await this.#tx("deposit", "deposit", [market, asset, amount]));
    };
    const result = this.#depositLock.then(run, run);
    this.#depositLock = result.catch(() => undefined);
    return result;
  }

  /** Moves `amount` from free to locked; withdraw() it WITHDRAWAL_DELAY_EPOCHS (2) epochs later. */
  async requestWithdrawal(market: Hex, asset: Asset, amount: bigint): Promise<TxResult> {
    return SettlementClient.#txResult(
      await this.#tx("requestWithdrawal", "requestWithdrawal", [market, asset, amount]),
    );
  }

  /** Transfers the whole locked balance of `asset` to this wallet. */
  async withdraw(market: Hex, asset: Asset): Promise<TxResult & { amount: bigint }> {
    const r = await this.#tx("withdraw", "withdraw", [market, asset]);
    const event = r.receipt.logs
      .map((log) => smartMarketInterface.parseLog(log))
      .find((e) => e?.name === "Withdrawn");
    return { ...SettlementClient.#txResult(r), amount: (event?.args[3] as bigint | undefined) ?? 0n };
  }

  /**
   * The free balance of `trader` at the close of `epoch` (start of epoch + 1): what covers its orders of
   * `epoch`. Read it during epoch + 1 (pass `blockTag` to read at a given block).
   */
  async collateralOf(
    market: Hex,
    trader: Hex,
    asset: Asset,
    epoch: bigint,
    blockTag?: BlockTag,
  ): Promise<bigint> {
    const [amount] = (await this.#call(
      "collateralOf",
      "collateralOf",
      [market, trader, asset, epoch],
      blockTag,
    )) as [bigint];
    return amount;
  }

  async escrowOf(market: Hex, trader: Hex, asset: Asset, blockTag?: BlockTag): Promise<EscrowBalance> {
    const [free, locked, lockedEpoch, checkpointed, checkpointEpoch, checkpointFree] = (await this.#call(
      "escrowOf",
      "escrowOf",
      [market, trader, asset],
      blockTag,
    )) as [bigint, bigint, bigint, boolean, bigint, bigint];
    return {
      free,
      locked,
      lockedEpoch,
      checkpointEpoch: checkpointed ? checkpointEpoch : null,
      checkpointFree,
    };
  }

  // ================================================================ settlement

  async isSettled(market: Hex, epoch: bigint, blockTag?: BlockTag): Promise<boolean> {
    const [settled] = (await this.#call("isSettled", "isSettled", [market, epoch], blockTag)) as [boolean];
    return settled;
  }

  /**
   * Settles a clearing result: builds the fills from the signed orders (checking ids, market, epoch and
   * order against this contract's domain), sends settle(), and returns the contract's result hash, which
   * must equal the clearing result's (a mismatch is a bug somewhere and throws, with the tx hash).
   */
  async settle(
    market: Hex,
    epoch: bigint,
    result: SettlementBatch,
    signedOrdersById: ReadonlyMap<Hex, SignedOrder>,
  ): Promise<SettleResult> {
    if (result.market.toLowerCase() !== market.toLowerCase() || result.epoch !== epoch) {
      throw new BatchEncodingError(
        `the result is for ${result.market} epoch ${result.epoch}, not ${market} ${epoch}`,
      );
    }
    const fills = buildSignedFills(result, signedOrdersById, await this.domainSeparator());
    const price = result.price as bigint; // non-null: buildSignedFills rejects a result without trade
    const settled = await this.settleFills({ market, epoch, price, fills });
    const expected =
      result.resultHash?.toLowerCase() ??
      settlementResultHash(market, epoch, price, result.volume, result.fills);
    if (settled.resultHash !== expected) {
      throw new SettlementClientError(
        "settle",
        `settled in ${settled.txHash}, but the contract's result hash ${settled.resultHash} differs from ${expected}`,
      );
    }
    return settled;
  }

  /**
   * Gas limit of a settle() with `fills` fills, without eth_estimateGas: the measured cost is about
   * 39k + 17k per fill (docs/settlement.md); the limit allows for every first-time write (a market's
   * first settlement, a new bitmap word, accounts whose balance words are still zero) and is capped at
   * the block gas limit, above which no settlement of that size can land anyway.
   */
  async #settleGasLimit(fills: number): Promise<bigint> {
    const wanted = SETTLE_GAS_FIXED + SETTLE_GAS_PER_FILL * BigInt(fills);
    const block = await this.#provider.getBlock("latest");
    return block && block.gasLimit < wanted ? block.gasLimit : wanted;
  }

  /**
   * Sends settle() with fills as given, without the client-side checks of settle(): the contract is the
   * judge (tests, and batches rebuilt from another chain record).
   */
  async settleFills(call: SettleCall): Promise<SettleResult> {
    const r = await this.#send("settle", {
      to: this.contract,
      data: encodeSettleCall(call),
      gasLimit: await this.#settleGasLimit(call.fills.length),
    });
    const event = r.receipt.logs
      .filter((log) => log.address.toLowerCase() === this.contract)
      .map((log) => smartMarketInterface.parseLog(log))
      .find((e) => e?.name === "Settled");
    if (!event) throw new SettlementClientError("settle", `no Settled event in ${r.txHash}`);
    return { ...SettlementClient.#txResult(r), resultHash: (event.args[4] as string).toLowerCase() as Hex };
  }

  #settledFilter(markets?: Hex | readonly Hex[], epoch?: bigint): (string | string[] | null)[] {
    const list = markets === undefined ? [] : typeof markets === "string" ? [markets] : markets;
    const topics: (string | string[] | null)[] = [
      SETTLED_TOPIC,
      list.length === 0 ? null : list.map((m) => m.toLowerCase()),
    ];
    if (epoch !== undefined) topics.push(toBeHex(epoch, 32));
    return topics;
  }

  /** The fields of a Settled log; throws if the log is not a Settled event of this contract. */
  static #settlementEvent(log: Log, operation: string): SettlementEvent {
    const parsed = smartMarketInterface.parseLog(log);
    if (parsed?.name !== "Settled") {
      throw new SettlementClientError(operation, `log ${log.index} of ${log.transactionHash} is not Settled`);
    }
    const [market, epoch, price, volume, resultHash, submitter] = parsed.args as unknown as [
      string,
      bigint,
      bigint,
      bigint,
      string,
      string,
    ];
    return {
      market: market.toLowerCase() as Hex,
      epoch,
      price,
      volume,
      resultHash: resultHash.toLowerCase() as Hex,
      submitter: submitter.toLowerCase() as Hex,
      txHash: log.transactionHash.toLowerCase() as Hex,
      blockNumber: log.blockNumber,
      logIndex: log.index,
    };
  }

  /**
   * The one reader of Settled events: every settlement of `markets` (all when omitted) logged in blocks
   * [fromBlock, toBlock], in chain order (block, then log index). One eth_getLogs for any number of markets.
   */
  async settledEvents(query: SettledEventsQuery): Promise<SettlementEvent[]> {
    let logs: Log[];
    try {
      logs = await this.#provider.getLogs({
        address: this.contract,
        topics: this.#settledFilter(query.markets),
        fromBlock: query.fromBlock,
        toBlock: query.toBlock,
      });
    } catch (err) {
      throw toSettlementError("settledEvents", err);
    }
    logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
    return logs.map((log) => SettlementClient.#settlementEvent(log, "settledEvents"));
  }

  /** The settlement of `epoch`, rebuilt from the chain, or null if it has not been settled. */
  async getSettlement(market: Hex, epoch: bigint, fromBlock = 0): Promise<SettlementRecord | null> {
    let logs: Log[];
    try {
      logs = await this.#provider.getLogs({
        address: this.contract,
        topics: this.#settledFilter(market, epoch),
        fromBlock,
        toBlock: "latest",
      });
    } catch (err) {
      throw toSettlementError("getSettlement", err);
    }
    const log = logs[0];
    return log ? this.decodeSettledLog(log) : null;
  }

  /**
   * Rebuilds a settlement from its Settled log: the fills and signed orders come from the settle() call's
   * calldata (the transaction's own when it calls the contract directly, else the matching inner call of a
   * callTracer trace), and are accepted only if they hash to the event's resultHash.
   */
  async decodeSettledLog(log: Log): Promise<SettlementRecord> {
    const event = SettlementClient.#settlementEvent(log, "decodeSettledLog");
    const { market: m, epoch, price, volume, resultHash: hash } = event;
    const separator = await this.domainSeparator();
    for (const data of await this.#settleCalldata(log.transactionHash)) {
      let call: SettleCall;
      try {
        call = decodeSettleCall(data);
      } catch {
        continue;
      }
      if (call.market !== m || call.epoch !== epoch || call.price !== price) continue;
      const fills: SettledFill[] = call.fills.map((f) => {
        const order = signedOrderOf(m, epoch, f);
        return { id: bytesToHex(orderDigestBytes(order, separator)), quantity: f.fill, order };
      });
      if (settlementResultHash(m, epoch, price, volume, fills) !== hash) continue;
      return { ...event, fills };
    }
    throw new SettlementClientError(
      "decodeSettledLog",
      `no settle() call in ${log.transactionHash} matches the Settled event of ${m} epoch ${epoch}`,
    );
  }

  /** Candidate settle() calldata of a transaction: its own data, or its inner calls to the contract. */
  async #settleCalldata(txHash: string): Promise<string[]> {
    const tx = await this.#provider.getTransaction(txHash);
    if (!tx) throw new SettlementClientError("decodeSettledLog", `transaction ${txHash} not found`);
    if (tx.to?.toLowerCase() === this.contract && tx.data.startsWith(SETTLE_SELECTOR)) return [tx.data];
    // Submitted through another contract (a smart wallet, a multicall): find the inner call in a trace.
    interface Frame {
      to?: string;
      input?: string;
      calls?: Frame[];
    }
    let root: Frame;
    try {
      root = (await this.#provider.send("debug_traceTransaction", [
        txHash,
        { tracer: "callTracer" },
      ])) as Frame;
    } catch (err) {
      throw new SettlementClientError(
        "decodeSettledLog",
        `${txHash} calls settle() indirectly and the node cannot trace it (debug_traceTransaction)`,
        err,
      );
    }
    const out: string[] = [];
    const visit = (f: Frame) => {
      if (f.to?.toLowerCase() === this.contract && f.input?.startsWith(SETTLE_SELECTOR)) out.push(f.input);
      for (const c of f.calls ?? []) visit(c);
    };
    visit(root);
    return out;
  }
}
