// Helpers shared by the node and testnet benchmarks: funded traders the bench drives itself, signing
// orders, posting them to a node, percentiles.
import { orderDigestBytes } from "../../protocol/eip712.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { type Order, type OrderJson, orderToJson } from "../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../protocol/signature.ts";
import type { NodeProcess } from "../../testnet/node-process.ts";
import { deriveSecretKey } from "../../testnet/rng.ts";
import type { DeviceSpec, ScenarioFactory } from "../../testnet/types.ts";

/** Funded traders that place no orders of their own: the benchmark places them. */
export function tradersScenario(count: number): ScenarioFactory {
  return ({ seed, nodes }) => {
    const devices: DeviceSpec[] = Array.from({ length: count }, (_, i) => {
      const privateKey = deriveSecretKey(seed, "bench-trader", i);
      return {
        name: `trader-${i}`,
        kind: "bench",
        privateKey,
        address: addressOfPrivateKey(privateKey),
        nodeIndex: i % nodes,
        depositBase: 10n ** 12n,
        depositQuote: 10n ** 15n,
      };
    });
    return { name: "bench", description: "", devices, ordersFor: () => [], observe: () => {} };
  };
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
