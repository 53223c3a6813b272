// The order: what a device signs and gossips. Amounts are bigint base units.

import { MAX_UINT64, MAX_UINT128 } from "./constants.ts";
import { AmountError, OrderError, OrderErrorCode } from "./errors.ts";
import { type Hex, isHex } from "./hex.ts";

export type Side = "buy" | "sell";

/** Side as the uint8 in the EIP-712 struct and on the wire. */
export const SIDE_CODE: Readonly<Record<Side, number>> = { buy: 0, sell: 1 };

export function sideFromCode(code: number): Side {
  if (code === 0) return "buy";
  if (code === 1) return "sell";
  throw new OrderError(OrderErrorCode.MALFORMED, `side code ${code} is neither 0 (buy) nor 1 (sell)`);
}

/** An unsigned order. `market` is 0x + 64 lowercase hex; `trader` is 0x + 40 lowercase hex. */
export interface Order {
  readonly market: Hex;
  readonly epoch: bigint;
  readonly side: Side;
  /** Base units. */
  readonly quantity: bigint;
  /** Quote units per base unit. */
  readonly limitPrice: bigint;
  readonly nonce: bigint;
  readonly trader: Hex;
}

/** An order with its 65-byte signature r || s || v (v in {27, 28}), lowercase hex. */
export interface SignedOrder extends Order {
  readonly signature: Hex;
}

/** The JSON form, for the CLI and the control API: amounts as decimal strings. */
export interface OrderJson {
  market: string;
  epoch: string;
  side: Side;
  quantity: string;
  limitPrice: string;
  nonce: string;
  trader: string;
  signature?: string;
  /** Optional: the domain the order was signed for. Checked against the node's when present. */
  chainId?: string;
  verifyingContract?: string;
}

export function orderToJson(order: Order | SignedOrder): OrderJson {
  const json: OrderJson = {
    market: order.market,
    epoch: order.epoch.toString(),
    side: order.side,
    quantity: order.quantity.toString(),
    limitPrice: order.limitPrice.toString(),
    nonce: order.nonce.toString(),
    trader: order.trader,
  };
  if ("signature" in order) json.signature = order.signature;
  return json;
}

/**
 * The amount rules of an order, the one place they are written: 0 < quantity <= 2^128 - 1 and
 * 0 < limitPrice <= 2^128 - 1. Checked by validateOrder on every order whatever its source, and by the
 * node's order request parser before the node signs anything.
 */
export function checkOrderAmounts(
  quantity: bigint,
  limitPrice: bigint,
  names: { readonly quantity: string; readonly price: string } = {
    quantity: "quantity",
    price: "limitPrice",
  },
): void {
  if (quantity === 0n)
    throw new OrderError(OrderErrorCode.ZERO_QUANTITY, `${names.quantity} must be greater than 0`);
  if (quantity < 0n || quantity > MAX_UINT128) {
    throw new OrderError(
      OrderErrorCode.QUANTITY_OUT_OF_RANGE,
      `${names.quantity} ${quantity} is out of range (at most 2^128 - 1 = ${MAX_UINT128})`,
    );
  }
  if (limitPrice === 0n)
    throw new OrderError(OrderErrorCode.ZERO_PRICE, `${names.price} must be greater than 0`);
  if (limitPrice < 0n || limitPrice > MAX_UINT128) {
    throw new OrderError(
      OrderErrorCode.PRICE_OUT_OF_RANGE,
      `${names.price} ${limitPrice} is out of range (at most 2^128 - 1 = ${MAX_UINT128})`,
    );
  }
}

/** The epoch and nonce rule: both fit uint64. */
export function checkOrderUint64(name: "epoch" | "nonce", value: bigint): void {
  if (value < 0n || value > MAX_UINT64) {
    throw new OrderError(OrderErrorCode.UINT64_OUT_OF_RANGE, `${name} ${value} exceeds ${MAX_UINT64}`);
  }
}

function field(obj: Record<string, unknown>, name: string): unknown {
  if (!(name in obj)) throw new OrderError(OrderErrorCode.MALFORMED, `missing field "${name}"`);
  return obj[name];
}

function uintField(obj: Record<string, unknown>, name: string, max: bigint, code: OrderErrorCode): bigint {
  const raw = field(obj, name);
  if (typeof raw !== "string") {
    throw new OrderError(OrderErrorCode.MALFORMED, `"${name}" must be a decimal string, got ${typeof raw}`);
  }
  let value: bigint;
  try {
    value = parseUintStrict(raw, name);
  } catch (err) {
    throw new OrderError(OrderErrorCode.MALFORMED, (err as Error).message);
  }
  if (value > max) throw new OrderError(code, `"${name}" ${raw} exceeds ${max}`);
  return value;
}

function parseUintStrict(text: string, what: string): bigint {
  if (!/^(0|[1-9][0-9]*)$/.test(text))
    throw new AmountError(`"${what}" is not a canonical decimal integer: "${text}"`);
  return BigInt(text);
}

function hexField(obj: Record<string, unknown>, name: string, byteLength: number): Hex {
  const raw = field(obj, name);
  if (!isHex(raw, byteLength)) {
    throw new OrderError(OrderErrorCode.MALFORMED, `"${name}" must be 0x + ${2 * byteLength} hex digits`);
  }
  return raw.toLowerCase() as Hex;
}

/**
 * Parses the JSON form strictly: every field present with its exact type; unknown fields rejected.
 * Range checks that are rules of their own (zero quantity, ...) are left to validateOrder.
 */
export function orderFromJson(value: unknown): Order | SignedOrder {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OrderError(OrderErrorCode.MALFORMED, "an order must be a JSON object");
  }
  const obj = value as Record<string, unknown>;
  const known = new Set([
    "market",
    "epoch",
    "side",
    "quantity",
    "limitPrice",
    "nonce",
    "trader",
    "signature",
    "chainId",
    "verifyingContract",
    "id",
  ]);
  for (const key of Object.keys(obj)) {
    if (!known.has(key)) throw new OrderError(OrderErrorCode.MALFORMED, `unknown field "${key}"`);
  }
  const side = field(obj, "side");
  if (side !== "buy" && side !== "sell") {
    throw new OrderError(
      OrderErrorCode.MALFORMED,
      `"side" must be "buy" or "sell", got ${JSON.stringify(side)}`,
    );
  }
  const order: Order = {
    market: hexField(obj, "market", 32),
    epoch: uintField(obj, "epoch", MAX_UINT64, OrderErrorCode.UINT64_OUT_OF_RANGE),
    side,
    quantity: uintField(obj, "quantity", MAX_UINT128, OrderErrorCode.QUANTITY_OUT_OF_RANGE),
    limitPrice: uintField(obj, "limitPrice", MAX_UINT128, OrderErrorCode.PRICE_OUT_OF_RANGE),
    nonce: uintField(obj, "nonce", MAX_UINT64, OrderErrorCode.UINT64_OUT_OF_RANGE),
    trader: hexField(obj, "trader", 20),
  };
  if (obj.signature === undefined) return order;
  return { ...order, signature: hexField(obj, "signature", 65) };
}
