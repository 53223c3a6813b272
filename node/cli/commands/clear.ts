// `smartmarket clear [FILE] [--explain]`: clears a book of orders offline and prints the result.
import { analyzeClearing, type ClearingAnalysis, DEFAULT_CONTEXT } from "../../../clearing/clear.ts";
import { isClearingError } from "../../../clearing/errors.ts";
import { explainAnalysis } from "../../../clearing/explain.ts";
import type { ClearingContext, ClearingOrder } from "../../../clearing/types.ts";
import { parseUint } from "../../../protocol/amount.ts";
import { domainSeparator, makeDomain, orderId } from "../../../protocol/eip712.ts";
import type { Hex } from "../../../protocol/hex.ts";
import { orderFromJson } from "../../../protocol/order.ts";
import { type CliCommand, CliError, ExitCode, readTextInput } from "../command.ts";

const PLAIN_ORDER_FIELDS = ["id", "side", "limitPrice", "quantity"] as const;
/** Fields that only a signed order has: their presence without a "domain" gets a pointed message. */
const SIGNED_ORDER_FIELDS = ["market", "epoch", "nonce", "trader", "signature"];
const ID_RE = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

export const clearCommand: CliCommand = {
  name: "clear",
  summary: "clear a book of orders (from FILE or stdin) and print the result as one JSON line",
  usage: "[FILE] [--explain] [--json]",
  help: `Reads FILE, or stdin when FILE is absent or "-". Two input forms, told apart by a top-level
"domain" key:

  without "domain": {"orders":[{"id":"0x<64 hex>","side":"buy"|"sell","limitPrice":"<decimal>",
                    "quantity":"<decimal>"}, ...]}
                    ids as given (either case; printed lowercase); the result hash uses market
                    0x00..00 and epoch 0.
  with "domain":    {"domain":{"chainId":"<decimal>","verifyingContract":"0x<40 hex>"},
                    "orders":[<signed orders in the protocol's JSON form>, ...]}
                    each id is the order's EIP-712 digest under that domain (an "id" field, if an
                    order has one, must match it); all orders must share one market and epoch,
                    which go into the result hash. Signatures are not verified here.
                    Signed orders that carry "chainId" and "verifyingContract" themselves (the
                    protocol's JSON form allows it) need no "domain": order 0's is used, and every
                    order must name the same.

Amounts are decimal strings (not JSON numbers): whole numbers from 1 to 2^128 - 1.

Output (stdout), one line:
  {"price":"<decimal>"|null,"volume":"<decimal>","fills":[{"id":"0x..","quantity":"<decimal>"}],
   "welfare":"<decimal>","resultHash":"0x.."}
fills sorted by id, zero fills omitted.

Options:
  --explain   after the JSON line, print a human-readable account: demand and supply at the price,
              the clearing interval [lo, hi] and the orders that set each bound, the marginal orders
              and how the marginal price level was rationed
  --json      stdout is that JSON line only (with --explain, the account goes to stderr)

Bad input (malformed JSON, a missing field, a bad id, a duplicate id, an unknown side, an amount that
is zero, negative, fractional, not a number or a JSON number): a message naming the order (index
and id) on stderr, nothing on stdout, exit code 2.`,
  options: { explain: { type: "boolean" }, json: { type: "boolean" } },
  maxPositionals: 1,
  handler: async (args, io) => {
    const file = args.positionals[0];
    const text = await readTextInput(file ?? "-", io.stdin);
    const { orders, ctx } = parseBook(text);
    let analysis: ClearingAnalysis;
    try {
      analysis = analyzeClearing(orders, ctx);
    } catch (err) {
      // ClearingError messages already name the order by index and id.
      if (isClearingError(err)) throw new CliError(err.detail);
      throw err;
    }
    const { result } = analysis;
    const json = {
      price: result.price === null ? null : result.price.toString(),
      volume: result.volume.toString(),
      fills: result.fills.map((f) => ({ id: f.id, quantity: f.quantity.toString() })),
      welfare: result.welfare.toString(),
      resultHash: result.resultHash,
    };
    io.stdout.write(`${JSON.stringify(json)}\n`);
    if (args.values.explain === true) {
      (args.values.json === true ? io.stderr : io.stdout).write(`\n${explainAnalysis(analysis)}`);
    }
    return ExitCode.OK;
  },
};

interface ParsedBook {
  readonly orders: ClearingOrder[];
  readonly ctx: ClearingContext;
}

/** Parses either input form (see the help text); throws CliError naming the offending order. */
function parseBook(text: string): ParsedBook {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the input is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(input)) throw new CliError('the input must be a JSON object {"orders": [...]}');
  for (const key of Object.keys(input)) {
    if (key !== "orders" && key !== "domain") {
      throw new CliError(`unknown top-level field "${key}" (expected "orders" and optionally "domain")`);
    }
  }
  const orders = input.orders;
  if (!Array.isArray(orders)) throw new CliError('"orders" must be an array');
  if ("domain" in input) return parseSignedBook(input.domain, orders);
  // Signed orders in the protocol's JSON form may carry their domain themselves (chainId and
  // verifyingContract on each order); order 0's is the domain, and every other order must match it.
  const first = orders[0];
  if (isPlainObject(first) && "signature" in first && "chainId" in first && "verifyingContract" in first) {
    return parseSignedBook({ chainId: first.chainId, verifyingContract: first.verifyingContract }, orders);
  }
  return { orders: parsePlainOrders(orders), ctx: DEFAULT_CONTEXT };
}

function parsePlainOrders(values: readonly unknown[]): ClearingOrder[] {
  return values.map((value, index) => {
    if (!isPlainObject(value)) throw new CliError(`order ${index}: must be a JSON object`);
    const rawId = value.id;
    const where = `order ${index} (id ${typeof rawId === "string" ? rawId : "missing"})`;
    if (rawId === undefined) {
      const signedField = SIGNED_ORDER_FIELDS.find((f) => f in value);
      throw new CliError(
        signedField === undefined
          ? `${where}: missing field "id"`
          : `${where}: missing field "id"; it has "${signedField}", like a signed order: signed orders need a top-level "domain" {"chainId", "verifyingContract"} to compute their ids`,
      );
    }
    if (typeof rawId !== "string" || !ID_RE.test(rawId)) {
      throw new CliError(`${where}: "id" must be a string 0x + 64 hex digits, got ${JSON.stringify(rawId)}`);
    }
    for (const key of Object.keys(value)) {
      if (!(PLAIN_ORDER_FIELDS as readonly string[]).includes(key))
        throw new CliError(`${where}: unknown field "${key}"`);
    }
    for (const field of PLAIN_ORDER_FIELDS) {
      if (!(field in value)) throw new CliError(`${where}: missing field "${field}"`);
    }
    const side = value.side;
    if (side !== "buy" && side !== "sell") {
      throw new CliError(`${where}: "side" must be "buy" or "sell", got ${JSON.stringify(side)}`);
    }
    return {
      id: rawId.toLowerCase() as Hex,
      side,
      limitPrice: parseAmount(value.limitPrice, "limitPrice", where),
      quantity: parseAmount(value.quantity, "quantity", where),
    };
  });
}

function parseAmount(raw: unknown, field: string, where: string): bigint {
  if (typeof raw !== "string") {
    throw new CliError(
      `${where}: "${field}" must be a decimal string, got ${raw === null ? "null" : typeof raw}`,
    );
  }
  try {
    // Zero and values above 2^128 - 1 parse here and are rejected by clear, which names the order too.
    return parseUint(raw, `"${field}"`);
  } catch (err) {
    throw new CliError(`${where}: ${(err as Error).message}`);
  }
}

function parseSignedBook(domainValue: unknown, values: readonly unknown[]): ParsedBook {
  if (!isPlainObject(domainValue)) {
    throw new CliError(
      '"domain" must be an object {"chainId": "<decimal>", "verifyingContract": "0x<40 hex>"}',
    );
  }
  for (const key of Object.keys(domainValue)) {
    if (key !== "chainId" && key !== "verifyingContract")
      throw new CliError(`"domain": unknown field "${key}"`);
  }
  const { chainId: rawChainId, verifyingContract } = domainValue;
  if (typeof rawChainId !== "string") throw new CliError('"domain.chainId" must be a decimal string');
  let chainId: bigint;
  try {
    chainId = parseUint(rawChainId, '"domain.chainId"');
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (typeof verifyingContract !== "string" || !ADDRESS_RE.test(verifyingContract)) {
    throw new CliError('"domain.verifyingContract" must be 0x + 40 hex digits');
  }
  const domain = makeDomain(chainId, verifyingContract);
  const separator = domainSeparator(domain);

  let ctx: ClearingContext | undefined;
  const orders = values.map((value, index): ClearingOrder => {
    let order: ReturnType<typeof orderFromJson>;
    try {
      order = orderFromJson(value);
    } catch (err) {
      throw new CliError(`order ${index} (id not computable): ${(err as Error).message}`);
    }
    const id = orderId(order, separator);
    const where = `order ${index} (id ${id})`;
    if (!("signature" in order)) throw new CliError(`${where}: missing field "signature"`);
    const json = value as Record<string, unknown>;
    if (json.chainId !== undefined && json.chainId !== rawChainId) {
      throw new CliError(
        `${where}: "chainId" ${JSON.stringify(json.chainId)} differs from the domain's ${rawChainId}`,
      );
    }
    if (
      json.verifyingContract !== undefined &&
      (typeof json.verifyingContract !== "string" ||
        json.verifyingContract.toLowerCase() !== domain.verifyingContract)
    ) {
      throw new CliError(
        `${where}: "verifyingContract" differs from the domain's ${domain.verifyingContract}`,
      );
    }
    if (json.id !== undefined && (typeof json.id !== "string" || json.id.toLowerCase() !== id)) {
      throw new CliError(`${where}: "id" ${JSON.stringify(json.id)} is not the order's EIP-712 digest`);
    }
    if (ctx === undefined) {
      ctx = { market: order.market, epoch: order.epoch };
    } else if (order.market !== ctx.market || order.epoch !== ctx.epoch) {
      throw new CliError(
        `${where}: market ${order.market} epoch ${order.epoch} differs from order 0's market ${ctx.market} epoch ${ctx.epoch}; a book is one market's epoch`,
      );
    }
    return { id, side: order.side, limitPrice: order.limitPrice, quantity: order.quantity };
  });
  return { orders, ctx: ctx ?? DEFAULT_CONTEXT };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
