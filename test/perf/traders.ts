// Helpers shared by the node and testnet benchmarks: funded traders the bench drives itself, signing
// orders, posting them to a node, percentiles.
import { orderDigestBytes } from "../../protocol/eip712.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { type Order, type OrderJson, orderToJson } from "../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../protocol/signature.ts";
import type { NodeProcess } from "../../testnet/node-process.ts";
import { deriveSecretKey } from "../../testnet/rng.ts";
import type { DeviceSpec, ScenarioFactory } from "../../testnet/types.ts";

/**
 * Funded traders that place no orders of their own: the benchmark places them. With `bulk`, the testnet
 * only gives them gas and the benchmark deposits for them (bulk-fund.ts: thousands in seconds).
 */
export function tradersScenario(count: number, opts: { bulk?: boolean } = {}): ScenarioFactory {
  return ({ seed, nodes }) => {
    const devices: DeviceSpec[] = Array.from({ length: count }, (_, i) => {
      const privateKey = deriveSecretKey(seed, "bench-trader", i);
      return {
        name: `trader-${i}`,
        kind: "bench",
        privateKey,
        address: addressOfPrivateKey(privateKey),
        nodeIndex: i % nodes,
        depositBase: opts.bulk ? 0n : BULK_DEPOSIT.base,
        depositQuote: opts.bulk ? 0n : BULK_DEPOSIT.quote,
      };
    });
    return { name: "bench", description: "", devices, ordersFor: () => [], observe: () => {} };
  };
}

/** What each bench trader holds in escrow: enough that every order the benches sign is covered. */
export const BULK_DEPOSIT = { base: 10n ** 12n, quote: 10n ** 15n } as const;

/** The testnet markets' minQuantity: smaller orders are REJECTed (BELOW_MIN_QUANTITY). */
const BENCH_MIN_QUANTITY = 20n;

/** Orders one trader can have kept per epoch: 2 buys and 2 sells (clearing/limits.ts). */
export const ORDERS_PER_TRADER_EPOCH = 4;

/**
 * `n` orders for `epoch`, ORDERS_PER_TRADER_EPOCH per trader (traders 0, 1, ... in turn: n / 4 of them),
 * crossing around 1000 with 10 % at exactly 1000; nonces from `nonceBase`. Signed here, before they are sent.
 */
export function signEpochOrders(
  separator: Uint8Array,
  market: Hex,
  devices: readonly DeviceSpec[],
  epoch: bigint,
  n: number,
  nonceBase: bigint,
): { id: Hex; json: OrderJson }[] {
  if (n > devices.length * ORDERS_PER_TRADER_EPOCH)
    throw new Error(`${n} orders need ${n / ORDERS_PER_TRADER_EPOCH} traders, there are ${devices.length}`);
  return Array.from({ length: n }, (_, k) => {
    const buy = k % 4 < 2;
    const limitPrice =
      k % 10 === 0 ? 1000n : buy ? 900n + BigInt((k * 7919) % 250) : 850n + BigInt((k * 104_729) % 250);
    return signFor(separator, market, devices[Math.floor(k / ORDERS_PER_TRADER_EPOCH)]!, epoch, {
      side: buy ? "buy" : "sell",
      limitPrice,
      quantity: BENCH_MIN_QUANTITY + BigInt(k % 20),
      nonce: nonceBase + BigInt(k),
    });
  });
}

/**
 * Posts `orders` as batches of up to `batch` (POST of a JSON array) to the nodes in turn, the batches
 * spread evenly over `spanMs` from `startMs`; resolves to how many the nodes accepted.
 */
export async function postPaced(
  nodes: readonly NodeProcess[],
  market: Hex,
  orders: readonly { json: OrderJson }[],
  startMs: number,
  spanMs: number,
  batch: number,
  onError: (err: Error) => void,
): Promise<number> {
  const batches: OrderJson[][] = [];
  for (let i = 0; i < orders.length; i += batch) batches.push(orders.slice(i, i + batch).map((o) => o.json));
  let accepted = 0;
  await Promise.all(
    batches.map(async (b, j) => {
      await sleep(startMs + (j * spanMs) / batches.length - Date.now());
      try {
        const res = await nodes[j % nodes.length]!.client(30_000).submitOrders(market, b);
        accepted += res.accepted;
        const refused = res.results.find((r) => r.status === "refused");
        if (refused && refused.status === "refused") onError(new Error(`${refused.code}: ${refused.detail}`));
      } catch (err) {
        onError(err as Error);
      }
    }),
  );
  return accepted;
}

/** Signs an order of `device` for `market`/`epoch`; returns its id and JSON form. */
export function signFor(
  separator: Uint8Array,
  market: Hex,
  device: DeviceSpec,
  epoch: bigint,
  fields: { side: "buy" | "sell"; limitPrice: bigint; quantity: bigint; nonce: bigint },
): { id: Hex; json: OrderJson } {
  const order: Order = { market, epoch, trader: device.address, ...fields };
  const digest = orderDigestBytes(order, separator);
  return {
    id: bytesToHex(digest),
    json: orderToJson({ ...order, signature: signDigest(digest, device.privateKey) }),
  };
}

/** Posts a signed order of `market` to a node's control API. */
export async function postOrder(node: NodeProcess, market: Hex, body: OrderJson): Promise<void> {
  await node.client().submitOrder(market, body);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
