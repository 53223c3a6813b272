// The order request a client asks the node to sign (types.ts OrderRequest): parsed here, once, for the
// control API and for the CLI before it sends anything. The amount rules are the protocol's own
// (checkOrderAmounts), so an order request and a gossiped order fail the same rule with the same code.
import { parseUint } from "../../protocol/amount.ts";
import { OrderError, OrderErrorCode } from "../../protocol/errors.ts";
import { checkOrderAmounts, checkOrderUint64, type Side } from "../../protocol/order.ts";

export interface ParsedOrderRequest {
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  /** Undefined: the current epoch. */
  readonly epoch?: bigint;
}

const FIELDS = new Set(["side", "quantity", "price", "limitPrice", "epoch"]);

function amount(name: string, value: unknown): bigint {
  if (typeof value !== "string") {
    throw new OrderError(OrderErrorCode.MALFORMED, `${name} must be a decimal string`);
  }
  try {
    return parseUint(value, name);
  } catch (err) {
    throw new OrderError(OrderErrorCode.MALFORMED, (err as Error).message);
  }
}

/** Parses {side, quantity, price[, epoch]} (decimal strings); throws OrderError with a typed code. */
export function parseOrderRequest(body: unknown): ParsedOrderRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new OrderError(OrderErrorCode.MALFORMED, "an order request must be a JSON object");
  }
  const obj = body as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!FIELDS.has(k)) throw new OrderError(OrderErrorCode.MALFORMED, `unknown field "${k}"`);
  }
  const side = obj.side;
  if (side !== "buy" && side !== "sell") {
    throw new OrderError(OrderErrorCode.MALFORMED, 'side must be "buy" or "sell"');
  }
  const quantity = amount("quantity", obj.quantity);
  const limitPrice = amount("price", obj.price ?? obj.limitPrice);
  checkOrderAmounts(quantity, limitPrice, { quantity: "quantity", price: "price" });
  if (obj.epoch === undefined) return { side, quantity, limitPrice };
  const epoch = amount("epoch", obj.epoch);
  checkOrderUint64("epoch", epoch);
  return { side, quantity, limitPrice, epoch };
}
