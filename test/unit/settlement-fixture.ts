// Shared fixture of the settlement tests and benchmark: a local anvil with the contracts deployed, funded
// traders with deterministic keys, fast order signing, and hand-built batches (independent of clearing/).
import { JsonRpcProvider, keccak256, toUtf8Bytes, Wallet } from "ethers";
import { orderDigestBytes } from "../../protocol/eip712.ts";
import { bytesToHex, compareHex, type Hex } from "../../protocol/hex.ts";
import type { Order, Side, SignedOrder } from "../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../protocol/signature.ts";
import {
  type AnvilInstance,
  latestTimestamp,
  mineBlock,
  setBalance,
  startAnvil,
} from "../../settlement/anvil.ts";
import { smartMarketInterface, testTokenInterface } from "../../settlement/artifacts.ts";
import { SettlementClient, waitForReceipt } from "../../settlement/client.ts";
import { type Asset, type SettlementFill, settlementResultHash } from "../../settlement/encoding.ts";

export interface Trader {
  readonly privateKey: Hex;
  readonly address: Hex;
}

/** `count` traders with keys derived from `seed` (deterministic across runs). */
export function makeTraders(count: number, seed = "settlement-test"): Trader[] {
  const out: Trader[] = [];
  for (let i = 0; i < count; i++) {
    const privateKey = keccak256(toUtf8Bytes(`${seed}/${i}`)).toLowerCase() as Hex;
    out.push({ privateKey, address: addressOfPrivateKey(privateKey) });
  }
  return out;
}

export interface IdentifiedOrder {
  readonly id: Hex;
  readonly order: SignedOrder;
}

/** Signs an order with a raw key (native secp256k1, RFC 6979, low s) under `separator`. */
export function signWith(order: Order, privateKey: Hex, separator: Uint8Array): IdentifiedOrder {
  const digest = orderDigestBytes(order, separator);
  return { id: bytesToHex(digest), order: { ...order, signature: signDigest(digest, privateKey) } };
}

export interface OrderSpec {
  readonly trader: Trader;
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  readonly nonce?: bigint;
}

export function makeOrder(
  market: Hex,
  epoch: bigint,
  spec: OrderSpec,
  separator: Uint8Array,
): IdentifiedOrder {
  return signWith(
    {
      market,
      epoch,
      side: spec.side,
      quantity: spec.quantity,
      limitPrice: spec.limitPrice,
      nonce: spec.nonce ?? 1n,
      trader: spec.trader.address,
    },
    spec.trader.privateKey,
    separator,
  );
}

/** A batch built by hand: fills sorted by id, plus everything settle() needs. */
export interface HandBatch {
  readonly market: Hex;
  readonly epoch: bigint;
  readonly price: bigint;
  readonly volume: bigint;
  readonly fills: readonly SettlementFill[];
  readonly resultHash: Hex;
  readonly orders: Map<Hex, SignedOrder>;
}

export function handBatch(
  market: Hex,
  epoch: bigint,
  price: bigint,
  entries: readonly { readonly order: IdentifiedOrder; readonly fill: bigint }[],
): HandBatch {
  const sorted = [...entries].sort((a, b) => compareHex(a.order.id, b.order.id));
  const fills = sorted.map((e) => ({ id: e.order.id, quantity: e.fill }));
  const volume = sorted.filter((e) => e.order.order.side === "buy").reduce((s, e) => s + e.fill, 0n);
  return {
    market,
    epoch,
    price,
    volume,
    fills,
    resultHash: settlementResultHash(market, epoch, price, volume, fills),
    orders: new Map(sorted.map((e) => [e.order.id, e.order.order])),
  };
}

/** A local chain with SmartMarket and two TestTokens deployed by dev account 0. */
export interface Env {
  readonly anvil: AnvilInstance;
  readonly provider: JsonRpcProvider;
  readonly admin: SettlementClient;
  readonly settlement: Hex;
  readonly base: Hex;
  readonly quote: Hex;
  readonly chainId: bigint;
  readonly separator: Uint8Array;
  close(): Promise<void>;
}

export async function startEnv(options: { chainId?: number; extraArgs?: string[] } = {}): Promise<Env> {
  const anvil = await startAnvil({ accounts: 4, ...options });
  const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchStallTime: 0,
    pollingInterval: 50,
  });
  const admin = new SettlementClient(
    { rpcUrl: anvil.rpcUrl, privateKey: anvil.accounts[0]!.privateKey, pollingIntervalMs: 50 },
    { provider },
  );
  const deployed = await admin.deployContracts({
    base: { name: "Energy", symbol: "WH", decimals: 3 },
    quote: { name: "Dollar", symbol: "USD", decimals: 6 },
  });
  return {
    anvil,
    provider,
    admin,
    ...deployed,
    chainId: anvil.chainId,
    separator: await admin.domainSeparator(),
    close: async () => {
      provider.destroy();
      await anvil.stop();
    },
  };
}

/** A client for another key, sharing the env's provider. */
export function clientFor(env: Env, privateKey: Hex): SettlementClient {
  return new SettlementClient(
    { rpcUrl: env.anvil.rpcUrl, privateKey, contract: env.settlement, pollingIntervalMs: 50 },
    { provider: env.provider },
  );
}

let lastGenesis = 0n;

/** Creates a market whose epoch 0 starts one second after the latest block (later if that genesis is taken). */
export async function newMarket(
  env: Env,
  epochLengthS = 1000n,
  feeBps = 0n,
): Promise<{ id: Hex; genesis: bigint; epochLength: bigint }> {
  const now = await latestTimestamp(env.provider);
  // Strictly increasing genesis: two markets created in the same second with the same parameters would
  // be the same market.
  const genesis = now + 1n > lastGenesis ? now + 1n : lastGenesis + 1n;
  lastGenesis = genesis;
  const { id } = await env.admin.createMarket({
    base: env.base,
    quote: env.quote,
    genesisTimeS: genesis,
    epochLengthS: epochLengthS,
    feeBps,
  });
  return { id, genesis, epochLength: epochLengthS };
}

/**
 * Mines a block at second `offsetS` of epoch `epoch` (never earlier than the latest block: then it mines at
 * the latest timestamp + 1). The next transactions land at or after that time.
 */
export async function moveToEpoch(
  env: Env,
  m: { genesis: bigint; epochLength: bigint },
  epoch: bigint,
  offsetS = 1n,
): Promise<void> {
  const target = m.genesis + epoch * m.epochLength + offsetS;
  const now = await latestTimestamp(env.provider);
  if (target <= now) throw new Error(`cannot move back in time to epoch ${epoch} (+${offsetS}s)`);
  await mineBlock(env.provider, target);
}

export interface Funding {
  readonly trader: Trader;
  readonly asset: Asset;
  readonly amount: bigint;
}

/**
 * Funds traders fast: ether by anvil_setBalance, then each trader mints, approves and deposits with
 * explicit nonces, fixed gas and fee fields, pre-signed and broadcast all at once.
 */
export async function fund(env: Env, market: Hex, fundings: readonly Funding[]): Promise<void> {
  const byTrader = new Map<Hex, Funding[]>();
  for (const f of fundings) byTrader.set(f.trader.address, [...(byTrader.get(f.trader.address) ?? []), f]);
  const block = await env.provider.getBlock("latest");
  const maxFeePerGas = (block?.baseFeePerGas ?? 1_000_000_000n) * 4n + 1_000_000_000n;
  const hashes = await Promise.all(
    [...byTrader].map(async ([address, list]) => {
      const [, nonce] = await Promise.all([
        setBalance(env.provider, address, 10n ** 20n),
        env.provider.getTransactionCount(address, "pending"),
      ]);
      const wallet = new Wallet(list[0]!.trader.privateKey);
      const txs = list.flatMap((f) => {
        const token = f.asset === 0 ? env.base : env.quote;
        return [
          { to: token, data: testTokenInterface.encodeFunctionData("mint", [address, f.amount]) },
          { to: token, data: testTokenInterface.encodeFunctionData("approve", [env.settlement, f.amount]) },
          {
            to: env.settlement,
            data: smartMarketInterface.encodeFunctionData("deposit", [market, f.asset, f.amount]),
          },
        ];
      });
      const signed = await Promise.all(
        txs.map((tx, i) =>
          wallet.signTransaction({
            ...tx,
            nonce: nonce + i,
            gasLimit: 200_000n,
            chainId: env.chainId,
            type: 2,
            maxFeePerGas,
            maxPriorityFeePerGas: 1_000_000_000n,
          }),
        ),
      );
      const out: string[] = [];
      for (const raw of signed) out.push((await env.provider.broadcastTransaction(raw)).hash);
      return out;
    }),
  );
  const receipts = await Promise.all(
    hashes.flat().map((h) => waitForReceipt(env.provider, h, { intervalMs: 20 })),
  );
  const failed = receipts.find((r) => r?.status !== 1);
  if (failed) throw new Error(`funding transaction ${failed.hash} failed`);
}
