// The settlement client: everything a node or a device does on the chain, through ethers 6 against any
// JSON-RPC URL. Deploys, markets, escrow, and certified settlement (docs/certified-settlement.md): commit,
// propose, challenge, finalize, bonds, the contract's certify, and reading results back — the one reader
// of settlement events (Proposed, Challenged, Finalized), and the standing batch rebuilt from the
// transaction's calldata and checked against its event's batch hash.
import type {
  BlockTag,
  EventFragment,
  FunctionFragment,
  Log,
  TransactionReceipt,
  TransactionRequest,
  TransactionResponse,
} from "ethers";
import { domainSeparator, type Eip712Domain, makeDomain } from "../protocol/eip712.ts";
import { type JsonRpcProvider, toBeHex, Wallet } from "../protocol/ethers.ts";
import type { Hex } from "../protocol/hex.ts";
import {
  DEFAULT_BOND_WEI,
  DEFAULT_MIN_QUANTITY,
  defaultChallengeWindowS,
  type MarketParams,
  marketId,
} from "../protocol/market.ts";
import {
  SMART_MARKET_BYTECODE,
  smartMarketInterface,
  TEST_TOKEN_BYTECODE,
  testTokenInterface,
} from "./artifacts.ts";
import {
  type Batch,
  type BatchHeader,
  batchOrderCount,
  decodeBatch,
  decodeUnion,
  encodeBatch,
  hashBytes,
  type IdentifiedOrder,
  identifyBatchOrders,
  newBatchOf,
  toBytes,
  type Union,
  unionEntryCount,
} from "./batch.ts";
import { decodeCollateralOfManyResult, encodeCollateralOfManyCall } from "./collateral-abi.ts";
import { type Asset, commitmentOf } from "./encoding.ts";
import { BatchError, SettlementClientError, toSettlementError } from "./errors.ts";
import { HttpJsonRpcProvider } from "./provider.ts";

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
  /** Wei locked by every proposal and challenge; default DEFAULT_BOND_WEI (10^16). */
  readonly bondWei?: bigint;
  /** Seconds, 1 ≤ window < epochLength; default ⌊epochLength / 2⌋, at least 1. */
  readonly challengeWindowS?: bigint;
  /** The smallest order quantity, base units (≥ 1); default DEFAULT_MIN_QUANTITY (1). */
  readonly minQuantity?: bigint;
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

/** Where an event was logged. */
export interface EventPosition {
  readonly txHash: Hex;
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** Proposed: a result was proposed for `epoch` and stands. */
export interface ProposedEvent extends EventPosition {
  readonly kind: "Proposed";
  readonly market: Hex;
  readonly epoch: bigint;
  readonly submitter: Hex;
  readonly resultHash: Hex;
  readonly batchHash: Hex;
  readonly price: bigint;
  readonly volume: bigint;
  readonly feeTotal: bigint;
}

/** Challenged: `challenger` replaced `replaced`'s standing result of `epoch` with this one. */
export interface ChallengedEvent extends EventPosition {
  readonly kind: "Challenged";
  readonly market: Hex;
  readonly epoch: bigint;
  readonly challenger: Hex;
  readonly replaced: Hex;
  readonly resultHash: Hex;
  readonly batchHash: Hex;
  readonly price: bigint;
  readonly volume: bigint;
  readonly feeTotal: bigint;
}

/** Finalized: the standing result of `epoch` is final; its fee was paid to `submitter`. */
export interface FinalizedEvent extends EventPosition {
  readonly kind: "Finalized";
  readonly market: Hex;
  readonly epoch: bigint;
  readonly submitter: Hex;
  readonly feeTotal: bigint;
}

export type SettlementEvent = ProposedEvent | ChallengedEvent | FinalizedEvent;
/** The events that make a result standing: the last one of an epoch names what finalize() needs. */
export type StandingEvent = ProposedEvent | ChallengedEvent;

/** One epoch to finalize (the contract's Finalization struct), from the epoch's last standing event. */
export interface FinalizeItem {
  readonly epoch: bigint;
  readonly batchHash: Hex;
  readonly submitter: Hex;
  readonly feeTotal: bigint;
}

/** The submitter of a standing event: the proposer, or the challenger. */
export function submitterOf(event: StandingEvent): Hex {
  return event.kind === "Proposed" ? event.submitter : event.challenger;
}

/** finalize()'s item for the epoch whose last standing event is `event`. */
export function finalizeItemOf(event: StandingEvent): FinalizeItem {
  return {
    epoch: event.epoch,
    batchHash: event.batchHash,
    submitter: submitterOf(event),
    feeTotal: event.feeTotal,
  };
}

const DEPOSITED_TOPIC = smartMarketInterface.getEvent("Deposited")!.topicHash;
const FINALIZED_TOPIC = smartMarketInterface.getEvent("Finalized")!.topicHash;

export interface SettlementEventsQuery {
  /** First and last block to read (inclusive). */
  readonly fromBlock: number;
  readonly toBlock: number;
  /** Only these markets' events (all markets when omitted or empty). */
  readonly markets?: readonly Hex[];
}

/** The contract's certify() (eth_call): what propose() would compute from a batch. */
export interface ChainCertificate {
  readonly price: bigint;
  readonly volume: bigint;
  /** Every order's fill, in batch order. */
  readonly fills: readonly bigint[];
  readonly resultHash: Hex;
  readonly feeTotal: bigint;
  readonly batchHash: Hex;
}

export interface CommitResult extends TxResult {
  readonly commitment: Hex;
}

export interface ProposeResult extends TxResult {
  readonly event: ProposedEvent;
}

export interface ChallengeResult extends TxResult {
  readonly event: ChallengedEvent;
}

export interface SubmitOptions {
  /** The bond to lock (default: the market's). */
  readonly bond?: bigint;
  /** The result hash the caller computed: a different one from the contract throws, with the tx hash. */
  readonly expectedResultHash?: Hex;
}

/** A propose() or challenge() call found in a transaction, decoded, with the orders' ids recomputed. */
export type DecodedProposal =
  | {
      readonly kind: "propose";
      readonly market: Hex;
      readonly epoch: bigint;
      /** The batch argument, decoded. */
      readonly batch: Batch;
      /** The batch argument: the batch that stands if the call succeeded. */
      readonly bytes: Uint8Array;
      readonly batchHash: Hex;
      /** The batch's orders with their ids, in batch order. */
      readonly orders: readonly IdentifiedOrder[];
    }
  | {
      readonly kind: "challenge";
      readonly market: Hex;
      readonly epoch: bigint;
      readonly standingSubmitter: Hex;
      /** The union argument, decoded, and its bytes. */
      readonly union: Union;
      readonly unionBytes: Uint8Array;
      /** The new batch, union header ‖ the orders with flag bit 1: the batch that stands if the call succeeded. */
      readonly batch: Batch;
      readonly bytes: Uint8Array;
      readonly batchHash: Hex;
      /**
       * The new batch's orders (flag bit 1) with their ids, in union order, and which ones the standing batch
       * had (flag 3; flag 2 is an added order). `batch`, `bytes` and `batchHash` are the new batch's.
       */
      readonly orders: readonly IdentifiedOrder[];
      readonly fromStanding: readonly boolean[];
    };

/** The standing (or final) result of an epoch as the chain holds it, rebuilt from calldata. */
export interface ChainStandingBatch {
  /** The epoch's last Proposed or Challenged event. */
  readonly event: StandingEvent;
  readonly submitter: Hex;
  readonly header: BatchHeader;
  /** Ascending id: the batch's orders. */
  readonly orders: readonly IdentifiedOrder[];
  /** The batch bytes; their keccak is the event's batchHash. */
  readonly bytes: Uint8Array;
  readonly batchHash: Hex;
  readonly resultHash: Hex;
  readonly feeTotal: bigint;
}

/**
 * Gas limits of propose() and challenge() without eth_estimateGas (which runs the whole certification
 * many times): fixed + per order × orders, capped at the block gas limit. Measured on anvil (every order
 * filling, each trader's first fill in the receiving asset): propose ≈ 18k gas per order at 100 orders
 * (23.5k at 10), a challenge adding one order to 100 ≈ 15.3k per union order (21.5k at 10). The limits
 * leave about half again for first-time writes; only the gas used is paid.
 */
/**
 * Traders per collateralOfMany eth_call: 500 traders cost about 2.6M gas of cold reads (measured) and return 64 KB,
 * under the default eth_call gas caps and response limits of public RPC endpoints.
 */
export const COLLATERAL_MANY_CHUNK = 500;
/** createMarket's bounds (SmartMarket.MAX_EPOCH_LENGTH and MAX_GENESIS_DELAY): one day, thirty days. */
export const MAX_EPOCH_LENGTH_S = 86_400n;
export const MAX_GENESIS_DELAY_S = 30n * 86_400n;
export const PROPOSE_GAS_FIXED = 150_000n;
export const PROPOSE_GAS_PER_ORDER = 30_000n;
export const CHALLENGE_GAS_FIXED = 200_000n;
export const CHALLENGE_GAS_PER_ORDER = 45_000n;

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

/** A block tag as JSON-RPC takes it: a name or a hash as is, a block number as a quantity; default latest. */
function rpcBlockTag(tag: BlockTag | undefined): string {
  if (tag === undefined) return "latest";
  if (typeof tag === "string") return tag;
  const n = BigInt(tag);
  if (n < 0n) throw new SettlementClientError("eth_call", `block tag ${n} is negative`);
  return `0x${n.toString(16)}`; // a JSON-RPC quantity: no leading zeros, 0 is 0x0
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
      new HttpJsonRpcProvider(options.rpcUrl, undefined, {
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
    let data: string;
    try {
      data = iface.encodeFunctionData(fn, args);
    } catch (err) {
      throw toSettlementError(operation, err);
    }
    const ret = await this.#rawCall(operation, to, data, blockTag);
    try {
      return [...iface.decodeFunctionResult(fn, ret)];
    } catch (err) {
      throw toSettlementError(operation, err);
    }
  }

  /**
   * eth_call of calldata `data` at `to`: the return data; a revert or a failure is a settlement error.
   * Sent as the JSON-RPC request itself: ethers' `call` copies the request and converts its calldata from
   * hex to bytes and back four times (collateralOfMany's ~32 KB of calldata for 500 traders, retried every
   * 100 ms until the chain passes the close: a sixth of what a loaded node allocated). A revert is the same
   * CALL_EXCEPTION (with its data) either way; ethers' CCIP-read of `call` is not used by this contract.
   */
  async #rawCall(operation: string, to: Hex, data: string, blockTag?: BlockTag): Promise<string> {
    try {
      const ret: unknown = await this.#provider.send("eth_call", [{ to, data }, rpcBlockTag(blockTag)]);
      if (typeof ret !== "string")
        throw new SettlementClientError(operation, "eth_call returned no hex string");
      return ret;
    } catch (err) {
      throw toSettlementError(operation, err);
    }
  }

  #tx(operation: string, fn: string, args: readonly unknown[]) {
    return this.#send(operation, {
      to: this.contract,
      data: this.#encode(fn, args),
    });
  }

  static #txResult(r: { receipt: TransactionReceipt; txHash: Hex }): TxResult {
    return { txHash: r.txHash, blockNumber: r.receipt.blockNumber, gasUsed: r.receipt.gasUsed };
  }

  // ================================================================ markets

  /**
   * Creates a market (anyone may). Without a bond it is DEFAULT_BOND_WEI (10^16 wei), without a challenge
   * window ⌊epochLength / 2⌋ seconds (at least 1). The id is protocol/market.ts's marketId of the parameters.
   */
  async createMarket(params: NewMarket): Promise<{ id: Hex; params: MarketParams } & TxResult> {
    const p: MarketParams = {
      base: params.base.toLowerCase() as Hex,
      quote: params.quote.toLowerCase() as Hex,
      genesisTimeS: params.genesisTimeS,
      epochLengthS: params.epochLengthS,
      feeBps: params.feeBps,
      bondWei: params.bondWei ?? DEFAULT_BOND_WEI,
      challengeWindowS: params.challengeWindowS ?? defaultChallengeWindowS(params.epochLengthS),
      minQuantity: params.minQuantity ?? DEFAULT_MIN_QUANTITY,
    };
    const r = await this.#tx("createMarket", "createMarket", [
      p.base,
      p.quote,
      p.genesisTimeS,
      p.epochLengthS,
      p.feeBps,
      p.bondWei,
      p.challengeWindowS,
      p.minQuantity,
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

  /** The market's eight parameters (cached: they never change). */
  async getMarket(id: Hex): Promise<MarketParams> {
    const key = id.toLowerCase() as Hex;
    const cached = this.#markets.get(key);
    if (cached) return cached;
    const [base, quote, genesisTimeS, epochLengthS, feeBps, bondWei, challengeWindowS, minQuantity] =
      (await this.#call("getMarket", "getMarket", [key])) as [
        string,
        string,
        bigint,
        bigint,
        bigint,
        bigint,
        bigint,
        bigint,
      ];
    const p: MarketParams = {
      base: base.toLowerCase() as Hex,
      quote: quote.toLowerCase() as Hex,
      genesisTimeS,
      epochLengthS,
      feeBps,
      bondWei,
      challengeWindowS,
      minQuantity,
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

  /**
   * collateralOf(epoch) of every trader, both assets, by collateralOfMany: one eth_call per
   * COLLATERAL_MANY_CHUNK traders (an unfunded-order flood of 2,000 traders costs 4 calls, not 4,000), in
   * the order given. Read it during epoch + 1, like collateralOf.
   */
  async collateralOfMany(
    market: Hex,
    traders: readonly Hex[],
    epoch: bigint,
    blockTag?: BlockTag,
  ): Promise<{ base: bigint; quote: bigint }[]> {
    const chunks: Hex[][] = [];
    for (let i = 0; i < traders.length; i += COLLATERAL_MANY_CHUNK) {
      chunks.push(traders.slice(i, i + COLLATERAL_MANY_CHUNK));
    }
    const results = await Promise.all(
      chunks.map(async (chunk) => {
        // Encoded and decoded by hand (collateral-abi.ts): on the path from the close to the result.
        const data = encodeCollateralOfManyCall(market, chunk, epoch);
        const ret = await this.#rawCall("collateralOfMany", this.contract, data, blockTag);
        const { base, quote } = decodeCollateralOfManyResult(ret, chunk.length);
        return chunk.map((_, i) => ({ base: base[i]!, quote: quote[i]! }));
      }),
    );
    return results.flat();
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

  // ================================================================ settlement: transactions

  /**
   * Commits to the data of a coming propose() or challenge() of `epoch`: commit(market,
   * keccak256(abi.encode(market, epoch, dataHash, this address))). The call it commits to must land in a
   * later block; a new commitment in the market replaces this one.
   */
  async commit(market: Hex, epoch: bigint, dataHash: Hex): Promise<CommitResult> {
    const commitment = commitmentOf(
      market.toLowerCase() as Hex,
      epoch,
      dataHash.toLowerCase() as Hex,
      this.address,
    );
    const r = await this.#tx("commit", "commit", [market, commitment]);
    return { ...SettlementClient.#txResult(r), commitment };
  }

  /** propose(market, epoch, batch) with `bond` wei (default: the market's). Needs an earlier commit(). */
  async propose(market: Hex, epoch: bigint, batch: Uint8Array | Hex, bond?: bigint): Promise<ProposeResult> {
    const bytes = toBytes(batch);
    const orders = SettlementClient.#orderCount(batchOrderCount(bytes.length));
    const r = await this.#send("propose", {
      to: this.contract,
      data: this.#encode("propose", [market, epoch, bytes]),
      value: bond ?? (await this.getMarket(market)).bondWei,
      gasLimit: await this.#gasLimit(PROPOSE_GAS_FIXED + PROPOSE_GAS_PER_ORDER * orders),
    });
    const event = this.#eventIn(r, "propose", "Proposed");
    return { ...SettlementClient.#txResult(r), event: event as ProposedEvent };
  }

  /**
   * challenge(market, epoch, standingSubmitter, union) with `bond` wei (default: the market's). Needs an
   * earlier commit() of keccak256(union).
   */
  async challenge(
    market: Hex,
    epoch: bigint,
    standingSubmitter: Hex,
    union: Uint8Array | Hex,
    bond?: bigint,
  ): Promise<ChallengeResult> {
    const bytes = toBytes(union);
    const orders = SettlementClient.#orderCount(unionEntryCount(bytes.length));
    const r = await this.#send("challenge", {
      to: this.contract,
      data: this.#encode("challenge", [market, epoch, standingSubmitter, bytes]),
      value: bond ?? (await this.getMarket(market)).bondWei,
      // Per union order: its certification, the standing batch's (without signatures), undo and apply.
      gasLimit: await this.#gasLimit(CHALLENGE_GAS_FIXED + CHALLENGE_GAS_PER_ORDER * orders),
    });
    const event = this.#eventIn(r, "challenge", "Challenged");
    return { ...SettlementClient.#txResult(r), event: event as ChallengedEvent };
  }

  /**
   * Commits to `batch`, waits for the commitment's block, proposes it, and returns both transactions.
   * With `expectedResultHash`, a different result hash from the contract throws (a bug somewhere).
   */
  async submitResult(
    market: Hex,
    epoch: bigint,
    batch: Uint8Array | Hex,
    options: SubmitOptions = {},
  ): Promise<{ commit: CommitResult; proposal: ProposeResult }> {
    const bytes = toBytes(batch);
    const commit = await this.commit(market, epoch, hashBytes(bytes));
    await this.#afterBlock("submitResult", commit.blockNumber);
    const proposal = await this.propose(market, epoch, bytes, options.bond);
    SettlementClient.#checkResult("submitResult", proposal, options.expectedResultHash);
    return { commit, proposal };
  }

  /** Commits to `union`, waits for the commitment's block, and challenges with it. */
  async submitChallenge(
    market: Hex,
    epoch: bigint,
    standingSubmitter: Hex,
    union: Uint8Array | Hex,
    options: SubmitOptions = {},
  ): Promise<{ commit: CommitResult; challenge: ChallengeResult }> {
    const bytes = toBytes(union);
    const commit = await this.commit(market, epoch, hashBytes(bytes));
    await this.#afterBlock("submitChallenge", commit.blockNumber);
    const challenge = await this.challenge(market, epoch, standingSubmitter, bytes, options.bond);
    SettlementClient.#checkResult("submitChallenge", challenge, options.expectedResultHash);
    return { commit, challenge };
  }

  /** finalize(market, items): pays each final epoch's fee and returns its bond. Returns the Finalized events. */
  async finalize(
    market: Hex,
    items: readonly FinalizeItem[],
  ): Promise<TxResult & { events: FinalizedEvent[] }> {
    const r = await this.#tx("finalize", "finalize", [
      market,
      items.map((it) => [it.epoch, it.batchHash, it.submitter, it.feeTotal]),
    ]);
    const events = this.#eventsOf(r.receipt.logs, "finalize").filter(
      (e): e is FinalizedEvent => e.kind === "Finalized",
    );
    return { ...SettlementClient.#txResult(r), events };
  }

  /** Sends this wallet its claimable bonds; returns the amount. */
  async claimBonds(): Promise<TxResult & { amount: bigint }> {
    const r = await this.#tx("claimBonds", "claimBonds", []);
    const claimed = r.receipt.logs
      .filter((log) => log.address.toLowerCase() === this.contract)
      .map((log) => smartMarketInterface.parseLog(log))
      .find((e) => e?.name === "BondsClaimed");
    return { ...SettlementClient.#txResult(r), amount: (claimed?.args[1] as bigint | undefined) ?? 0n };
  }

  // ================================================================ settlement: views

  /** Wei that `account` can claim. */
  async bondsOf(account: Hex, blockTag?: BlockTag): Promise<bigint> {
    const [amount] = (await this.#call("bondsOf", "bondsOf", [account], blockTag)) as [bigint];
    return amount;
  }

  /** recordOf(market, epoch): 0 (nothing), FINALIZED_RECORD (final and paid), or the standing record. */
  async recordOf(market: Hex, epoch: bigint, blockTag?: BlockTag): Promise<Hex> {
    const [record] = (await this.#call("recordOf", "recordOf", [market, epoch], blockTag)) as [string];
    return record.toLowerCase() as Hex;
  }

  /** Whether a result of `epoch` stands or is final. */
  async isSettled(market: Hex, epoch: bigint, blockTag?: BlockTag): Promise<boolean> {
    const [settled] = (await this.#call("isSettled", "isSettled", [market, epoch], blockTag)) as [boolean];
    return settled;
  }

  /**
   * The contract's certification of `batch` (eth_call; it reverts with the first wrong value, decoded into
   * a SettlementRevertError). Coverage reads collateralOf(epoch): call it during epoch + 1.
   */
  async certify(
    market: Hex,
    epoch: bigint,
    batch: Uint8Array | Hex,
    blockTag: BlockTag = "pending",
  ): Promise<ChainCertificate> {
    const [price, volume, fills, resultHash, feeTotal, batchHash] = (await this.#call(
      "certify",
      "certify",
      [market, epoch, toBytes(batch)],
      blockTag,
    )) as [bigint, bigint, bigint[], string, bigint, string];
    return {
      price,
      volume,
      fills: [...fills],
      resultHash: resultHash.toLowerCase() as Hex,
      feeTotal,
      batchHash: batchHash.toLowerCase() as Hex,
    };
  }

  // ================================================================ settlement: events and batches

  static #eventFragment(name: "Proposed" | "Challenged" | "Finalized"): EventFragment {
    const fragment = smartMarketInterface.getEvent(name);
    if (!fragment) throw new SettlementClientError("events", `the SmartMarket artifact has no ${name} event`);
    return fragment;
  }

  #topics(
    kinds: readonly ("Proposed" | "Challenged" | "Finalized")[],
    markets?: Hex | readonly Hex[],
    epoch?: bigint,
  ) {
    const list = markets === undefined ? [] : typeof markets === "string" ? [markets] : markets;
    const topics: (string | string[] | null)[] = [
      kinds.map((k) => SettlementClient.#eventFragment(k).topicHash),
      list.length === 0 ? null : list.map((m) => m.toLowerCase()),
    ];
    if (epoch !== undefined) topics.push(toBeHex(epoch, 32));
    return topics;
  }

  /** A settlement event of this contract from a log, or null for any other log. */
  #parseEvent(log: Log): SettlementEvent | null {
    if (log.address.toLowerCase() !== this.contract) return null;
    const parsed = smartMarketInterface.parseLog(log);
    if (!parsed) return null;
    const a = parsed.args.toObject() as Record<string, unknown>;
    const pos: EventPosition = {
      txHash: log.transactionHash.toLowerCase() as Hex,
      blockNumber: log.blockNumber,
      logIndex: log.index,
    };
    const hex = (name: string) => String(a[name]).toLowerCase() as Hex;
    const int = (name: string) => a[name] as bigint;
    switch (parsed.name) {
      case "Proposed":
        return {
          kind: "Proposed",
          market: hex("market"),
          epoch: int("epoch"),
          submitter: hex("submitter"),
          resultHash: hex("resultHash"),
          batchHash: hex("batchHash"),
          price: int("price"),
          volume: int("volume"),
          feeTotal: int("feeTotal"),
          ...pos,
        };
      case "Challenged":
        return {
          kind: "Challenged",
          market: hex("market"),
          epoch: int("epoch"),
          challenger: hex("challenger"),
          replaced: hex("replaced"),
          resultHash: hex("resultHash"),
          batchHash: hex("batchHash"),
          price: int("price"),
          volume: int("volume"),
          feeTotal: int("feeTotal"),
          ...pos,
        };
      case "Finalized":
        return {
          kind: "Finalized",
          market: hex("market"),
          epoch: int("epoch"),
          submitter: hex("submitter"),
          feeTotal: int("feeTotal"),
          ...pos,
        };
      default:
        return null;
    }
  }

  /** The settlement events among `logs`, in chain order (block, then log index). */
  #eventsOf(logs: readonly Log[], operation: string): SettlementEvent[] {
    try {
      return [...logs]
        .sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)
        .map((log) => this.#parseEvent(log))
        .filter((e): e is SettlementEvent => e !== null);
    } catch (err) {
      throw toSettlementError(operation, err);
    }
  }

  #eventIn(
    r: { receipt: TransactionReceipt; txHash: Hex },
    operation: string,
    kind: "Proposed" | "Challenged",
  ) {
    const event = this.#eventsOf(r.receipt.logs, operation).find((e) => e.kind === kind);
    if (!event) throw new SettlementClientError(operation, `no ${kind} event in ${r.txHash}`);
    return event;
  }

  /**
   * The one reader of settlement events: every Proposed, Challenged and Finalized event of `markets` (all
   * when omitted) logged in blocks [fromBlock, toBlock], in chain order (block, then log index). One
   * eth_getLogs for any number of markets.
   */
  async settlementEvents(query: SettlementEventsQuery): Promise<SettlementEvent[]> {
    let logs: Log[];
    try {
      logs = await this.#provider.getLogs({
        address: this.contract,
        topics: this.#topics(["Proposed", "Challenged", "Finalized"], query.markets),
        fromBlock: query.fromBlock,
        toBlock: query.toBlock,
      });
    } catch (err) {
      throw toSettlementError("settlementEvents", err);
    }
    return this.#eventsOf(logs, "settlementEvents");
  }

  /**
   * The accounts whose escrow in `query.markets` was credited from outside the market in the blocks asked:
   * traders that deposited (Deposited) and submitters paid a fee (Finalized: a node wallet may hold escrow
   * it never deposited). (market, account) pairs in chain order, repeats included; `toBlock` may be "latest".
   */
  async depositors(
    query: Omit<SettlementEventsQuery, "toBlock"> & { readonly toBlock: number | "latest" },
  ): Promise<{ market: Hex; trader: Hex; blockNumber: number }[]> {
    const list = query.markets ?? [];
    let logs: Log[];
    try {
      logs = await this.#provider.getLogs({
        address: this.contract,
        topics: [
          [DEPOSITED_TOPIC, FINALIZED_TOPIC],
          list.length === 0 ? null : list.map((m) => m.toLowerCase()),
        ],
        fromBlock: query.fromBlock,
        toBlock: query.toBlock,
      });
    } catch (err) {
      throw toSettlementError("depositors", err);
    }
    // Indexed topics are 32-byte words (an address is the low 20 bytes): Deposited(market, trader, asset),
    // Finalized(market, epoch, submitter).
    return logs.map((log) => {
      const word = log.topics[0] === DEPOSITED_TOPIC ? log.topics[2] : log.topics[3];
      return {
        market: (log.topics[1] ?? "0x").toLowerCase() as Hex,
        trader: `0x${(word ?? "").slice(26).toLowerCase()}` as Hex,
        blockNumber: log.blockNumber,
      };
    });
  }

  /**
   * The standing (or final) result of `epoch`, rebuilt from the calldata of its last Proposed or
   * Challenged event's transaction and checked against the event's batch hash; null if nothing was
   * proposed (in blocks from `fromBlock`, default 0).
   */
  async standingBatch(market: Hex, epoch: bigint, fromBlock = 0): Promise<ChainStandingBatch | null> {
    let logs: Log[];
    try {
      logs = await this.#provider.getLogs({
        address: this.contract,
        topics: this.#topics(["Proposed", "Challenged"], market, epoch),
        fromBlock,
        toBlock: "latest",
      });
    } catch (err) {
      throw toSettlementError("standingBatch", err);
    }
    const events = this.#eventsOf(logs, "standingBatch");
    const event = events[events.length - 1] as StandingEvent | undefined;
    return event ? this.standingBatchOf(event) : null;
  }

  /**
   * The batch a Proposed or Challenged event made standing, rebuilt from its transaction's calldata
   * (decodeProposalTx) and checked against the event's batch hash.
   */
  async standingBatchOf(event: StandingEvent): Promise<ChainStandingBatch> {
    for (const call of await this.decodeProposalTx(event.txHash)) {
      if (call.market !== event.market || call.epoch !== event.epoch || call.batchHash !== event.batchHash)
        continue;
      if ((call.kind === "propose") !== (event.kind === "Proposed")) continue;
      // A challenge's new batch (its union's flag-2 and flag-3 orders, ascending by id) is the standing one.
      return {
        event,
        submitter: submitterOf(event),
        header: call.batch.header,
        orders: call.orders,
        bytes: call.bytes,
        batchHash: call.batchHash,
        resultHash: event.resultHash,
        feeTotal: event.feeTotal,
      };
    }
    throw new SettlementClientError(
      "standingBatch",
      `no ${event.kind === "Proposed" ? "propose" : "challenge"}() call in ${event.txHash} has the batch hash ${event.batchHash} of ${event.market} epoch ${event.epoch}`,
    );
  }

  /**
   * Every propose() and challenge() call to this contract in transaction `txHash` (its own calldata, or
   * inner calls found with debug_traceTransaction), decoded, with order ids recomputed in this contract's
   * domain. Calls whose data do not decode as a batch or union are left out.
   */
  async decodeProposalTx(txHash: Hex): Promise<DecodedProposal[]> {
    const separator = await this.domainSeparator();
    const out: DecodedProposal[] = [];
    for (const data of await this.#proposalCalldata(txHash)) {
      const decoded = this.#decodeProposalCall(data, separator);
      if (decoded) out.push(decoded);
    }
    return out;
  }

  /** A propose() or challenge() call decoded, or null when its data is not one a contract could have accepted. */
  #decodeProposalCall(data: string, separator: Uint8Array): DecodedProposal | null {
    let parsed: ReturnType<typeof smartMarketInterface.parseTransaction>;
    try {
      parsed = smartMarketInterface.parseTransaction({ data });
    } catch {
      return null; // the arguments do not ABI-decode
    }
    try {
      return parsed?.name === "propose" || parsed?.name === "challenge"
        ? SettlementClient.#decodeArgs(parsed.name, parsed.args as unknown as unknown[], separator)
        : null;
    } catch (err) {
      if (err instanceof BatchError) return null; // not a batch or union: the call reverted
      throw err;
    }
  }

  static #decodeArgs(name: "propose" | "challenge", args: unknown[], separator: Uint8Array): DecodedProposal {
    if (name === "propose") {
      const [market, epoch, batchHex] = args as [string, bigint, string];
      const m = market.toLowerCase() as Hex;
      const bytes = toBytes(batchHex);
      const batch = decodeBatch(bytes);
      return {
        kind: "propose",
        market: m,
        epoch,
        batch,
        bytes,
        batchHash: hashBytes(bytes),
        orders: identifyBatchOrders(m, epoch, batch.orders, separator),
      };
    }
    const [market, epoch, standingSubmitter, unionHex] = args as [string, bigint, string, string];
    const m = market.toLowerCase() as Hex;
    const unionBytes = toBytes(unionHex);
    const union = decodeUnion(unionBytes);
    // The new batch (flag bit 1): the batch the challenge made standing, whose hash Challenged carries.
    const next = union.entries.filter((e) => e.inNewBatch !== false);
    const batch = newBatchOf(union);
    const bytes = encodeBatch(batch);
    return {
      kind: "challenge",
      market: m,
      epoch,
      standingSubmitter: standingSubmitter.toLowerCase() as Hex,
      union,
      unionBytes,
      batch,
      bytes,
      batchHash: hashBytes(bytes),
      orders: identifyBatchOrders(m, epoch, batch.orders, separator),
      fromStanding: next.map((e) => e.standing),
    };
  }

  /** Candidate propose()/challenge() calldata of a transaction: its own data, or its inner calls to the contract. */
  async #proposalCalldata(txHash: string): Promise<string[]> {
    const selectors = (["propose", "challenge"] as const).map((name) => this.#fn(name).selector);
    const isProposal = (to: string | null | undefined, data: string | undefined): data is string =>
      to?.toLowerCase() === this.contract && data !== undefined && selectors.some((s) => data.startsWith(s));
    const tx = await this.#provider.getTransaction(txHash);
    if (!tx) throw new SettlementClientError("decodeProposalTx", `transaction ${txHash} not found`);
    if (isProposal(tx.to, tx.data)) return [tx.data];
    // Sent through another contract (a smart wallet, a multicall): find the inner calls in a trace.
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
        "decodeProposalTx",
        `${txHash} calls propose()/challenge() indirectly and the node cannot trace it (debug_traceTransaction)`,
        err,
      );
    }
    const out: string[] = [];
    const visit = (f: Frame) => {
      if (isProposal(f.to, f.input)) out.push(f.input);
      for (const c of f.calls ?? []) visit(c);
    };
    visit(root);
    return out;
  }

  // ================================================================ settlement: helpers

  /** The artifact's function `name`; a clear error when the artifact predates it. */
  #fn(name: string): FunctionFragment {
    const fragment = smartMarketInterface.getFunction(name);
    if (!fragment) throw new SettlementClientError(name, `the SmartMarket artifact has no ${name}()`);
    return fragment;
  }

  #encode(name: string, args: readonly unknown[]): Hex {
    return smartMarketInterface.encodeFunctionData(this.#fn(name), args) as Hex;
  }

  /** The orders a batch or union carries, for its gas limit (1 for malformed bytes: the contract rejects them). */
  static #orderCount(count: number | null): bigint {
    return BigInt(count ?? 1);
  }

  /** Gas limit `wanted`, capped at the block gas limit (above which no call of that size lands anyway). */
  async #gasLimit(wanted: bigint): Promise<bigint> {
    const block = await this.#provider.getBlock("latest");
    return block && block.gasLimit < wanted ? block.gasLimit : wanted;
  }

  /** Waits until the chain's head is past `blockNumber`, so that a call sent now lands in a later block. */
  async #afterBlock(operation: string, blockNumber: number): Promise<void> {
    // The next transaction is mined in the block after the head (automine or not), and the pre-flight
    // eth_call runs on the "pending" block: both are later than a mined commitment. Only a head still
    // behind the commitment's block (a lagging RPC replica) needs waiting.
    const deadline = Date.now() + this.#receiptTimeoutMs;
    for (;;) {
      let head: number;
      try {
        head = await this.#provider.getBlockNumber();
      } catch (err) {
        throw toSettlementError(operation, err);
      }
      if (head >= blockNumber) return;
      if (Date.now() > deadline) {
        throw new SettlementClientError(operation, `the chain's head stays below block ${blockNumber}`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.#pollingIntervalMs));
    }
  }

  static #checkResult(operation: string, r: ProposeResult | ChallengeResult, expected?: Hex): void {
    if (expected === undefined || r.event.resultHash === expected.toLowerCase()) return;
    throw new SettlementClientError(
      operation,
      `submitted in ${r.txHash}, but the contract's result hash ${r.event.resultHash} differs from ${expected}`,
    );
  }
}
