// Shared fixtures for protocol tests: fixed keys, a domain, a market schedule, order builders.
import { domainSeparator, makeDomain, orderDigestBytes } from "../../../protocol/eip712.ts";
import type { EpochSchedule } from "../../../protocol/epoch.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { Order, SignedOrder } from "../../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../../protocol/signature.ts";
import type { ValidationContext } from "../../../protocol/validation.ts";

/** Eight fixed private keys (anvil's well-known development keys are not needed here). */
export const KEYS: readonly Hex[] = Array.from(
  { length: 8 },
  (_, i) => `0x${(i + 1).toString(16).padStart(2, "0").repeat(32)}` as Hex,
);
export const ADDRESSES: readonly Hex[] = KEYS.map((k) => addressOfPrivateKey(k));

export const DOMAIN = makeDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
export const SEPARATOR = domainSeparator(DOMAIN);
export const MARKET: Hex = `0x${"ab".repeat(32)}`;
export const SCHEDULE: EpochSchedule = { genesisTimeS: 1_700_000_000n, epochLengthS: 10n };
/** The fixture market's smallest order, base units. */
export const MIN_QUANTITY = 1n;

export function makeOrder(overrides: Partial<Order> = {}, keyIndex = 0): Order {
  return {
    market: MARKET,
    epoch: 5n,
    side: "buy",
    quantity: 1000n,
    limitPrice: 25n,
    nonce: 1n,
    trader: ADDRESSES[keyIndex]!,
    ...overrides,
  };
}

export function sign(order: Order, keyIndex = 0, separator: Uint8Array = SEPARATOR): SignedOrder {
  return { ...order, signature: signDigest(orderDigestBytes(order, separator), KEYS[keyIndex]!) };
}

/** A validation context at the middle of epoch 5 of SCHEDULE. */
export function ctxAt(nowMs: bigint = (SCHEDULE.genesisTimeS + 55n) * 1000n): ValidationContext {
  return {
    domain: DOMAIN,
    domainSeparator: SEPARATOR,
    market: (id) => (id === MARKET ? { ...SCHEDULE, minQuantity: MIN_QUANTITY } : undefined),
    time: { nowMs },
  };
}
