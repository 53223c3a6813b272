// Protocol benchmarks: order verification throughput on one core, three ways, in the same run.

import { encodeOrder } from "../../protocol/codec.ts";
import {
  domainSeparator,
  makeDomain,
  ORDER_TYPES,
  orderDigestBytes,
  orderTypedValue,
} from "../../protocol/eip712.ts";
import { verifyTypedData } from "../../protocol/ethers.ts";
import { type Hex, hexToBytes } from "../../protocol/hex.ts";
import type { SignedOrder } from "../../protocol/order.ts";
import { addressOfPrivateKey, signatureBackend, signDigest } from "../../protocol/signature.ts";
import { type ValidationContext, validateOrderBytes } from "../../protocol/validation.ts";
import { type BenchGroup, median, opsPerSecond, round } from "./harness.ts";
import { nativeRecoverRate } from "./native-recover.ts";

const N_ORDERS = 20_000;
const N_ETHERS = 1_500;
const RATIO_ROUNDS = 7;

export const bench: BenchGroup = async (log) => {
  const domain = makeDomain(31337n, "0x5fbdb2315678afecb367f032d93f642f64180aa3");
  const separator = domainSeparator(domain);
  const market = `0x${"ab".repeat(32)}` as Hex;
  const keys = Array.from({ length: 64 }, (_, i) => `0x${(i + 1).toString(16).padStart(64, "0")}` as Hex);
  const traders = keys.map((k) => addressOfPrivateKey(k));
  const orders: SignedOrder[] = [];
  for (let i = 0; i < N_ORDERS; i++) {
    const k = i % keys.length;
    const order = {
      market,
      epoch: 7n,
      side: i % 2 === 0 ? ("buy" as const) : ("sell" as const),
      quantity: BigInt(1 + ((i * 7919) % 100_000)),
      limitPrice: BigInt(1 + ((i * 104_729) % 5_000)),
      nonce: BigInt(i),
      trader: traders[k]!,
    };
    orders.push({ ...order, signature: signDigest(orderDigestBytes(order, separator), keys[k]!) });
  }
  const wire = orders.map(encodeOrder);
  const ctx: ValidationContext = {
    domain,
    domainSeparator: separator,
    market: (id) => (id === market ? { genesisTimeS: 0n, epochLengthS: 1n, minQuantity: 1n } : undefined),
    time: { epoch: 7n },
  };
  log(
    `signature backend: ${signatureBackend}; ${N_ORDERS} signed orders, ${wire[0]!.length} wire bytes each`,
  );

  const verifyOnce = () =>
    opsPerSecond(N_ORDERS, (i) => {
      validateOrderBytes(wire[i]!, ctx);
    });
  const verify = verifyOnce();

  // An unfunded trader's order (issue 10): intake IGNOREs it after decoding, before the signature.
  const unfundedCtx: ValidationContext = { ...ctx, admits: () => false };
  const unfunded = opsPerSecond(N_ORDERS, (i) => {
    try {
      validateOrderBytes(wire[i]!, unfundedCtx);
    } catch {
      // UNFUNDED, as intended
    }
  });

  const digests = orders.map((o) => orderDigestBytes(o, separator));
  const sigs = orders.map((o) => hexToBytes(o.signature));
  const nativeRecover = nativeRecoverRate(digests, sigs);
  // The ratio on this noisy machine: ROUNDS pairs, each verify pass next to a native pass over the same
  // orders, the order of the two alternating; the median of the pairs' ratios is the figure.
  const ratios: number[] = [];
  for (let r = 0; r < RATIO_ROUNDS; r++) {
    if (r % 2 === 0) {
      const v = verifyOnce();
      ratios.push(v / nativeRecoverRate(digests, sigs));
    } else {
      const n = nativeRecoverRate(digests, sigs);
      ratios.push(verifyOnce() / n);
    }
  }
  log(`verify/native per round: ${ratios.map((x) => x.toFixed(3)).join(", ")}`);

  const ethersDomain = { ...domain };
  const ethersVerify = opsPerSecond(N_ETHERS, (i) => {
    const o = orders[i]!;
    verifyTypedData(ethersDomain, ORDER_TYPES, orderTypedValue(o), o.signature);
  });

  return [
    { name: "verify_orders_per_s", value: Math.round(verify), unit: "orders/s", target: ">= 10000" },
    { name: "ethers_verify_orders_per_s", value: Math.round(ethersVerify), unit: "orders/s" },
    { name: "native_recover_per_s", value: Math.round(nativeRecover), unit: "recovers/s" },
    { name: "unfunded_orders_ignored_per_s", value: Math.round(unfunded), unit: "orders/s" },
    {
      name: "unfunded_vs_verified_cost_ratio",
      value: round(verify / unfunded, 3),
      unit: "ratio (cost of an unfunded order / a verified one)",
      target: "<= 0.1",
    },
    {
      name: "verify_vs_native_ratio",
      value: round(median(ratios), 3),
      unit: `ratio (median of ${RATIO_ROUNDS} side-by-side rounds)`,
      target: ">= 0.9",
    },
  ];
};
