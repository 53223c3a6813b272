// `smartmarket order buy|sell --quantity Q --price P [--market M] [--force]`: the node signs and gossips
// it. Before sending, the node checks that its wallet's escrow covers the order as the coverage rule
// counts it (clearing/coverage.ts): an order that would be left out of clearing is not sent (exit 1)
// unless --force, and the message says what it needs, what there is and by how much it falls short.

import { MAX_ORDERS_PER_TRADER_SIDE } from "../../../clearing/limits.ts";
import { formatUnits } from "../../../protocol/amount.ts";
import { OrderError } from "../../../protocol/errors.ts";
import { parseOrderRequest } from "../../api/order-request.ts";
import type { CoverageCheck, MarketTokens, OrderRequest } from "../../api/types.ts";
import { type AmountFormat, amountFormat } from "../../api/units.ts";
import {
  apiFromArgs,
  CLIENT_HELP,
  CLIENT_OPTIONS,
  call,
  MARKET_HELP,
  MARKET_OPTION,
  resolveMarket,
} from "../api-client.ts";
import { type CliCommand, CliError, type CliIo, ExitCode } from "../command.ts";
import { readOrderFile, sendOrders } from "./order-file.ts";
import { marketTokens } from "./orders.ts";

/** What the coverage check found, in words: what it needs, what one order may need, what to deposit. */
export function shortfallText(
  c: CoverageCheck,
  fmt: AmountFormat,
  tokens: MarketTokens | undefined,
  forced = false,
): string {
  const f = c.asset === "QUOTE" ? fmt.quote : fmt.base;
  const unit = fmt.display ? "" : ` ${c.asset}`;
  if (c.sideFull) {
    return [
      `this wallet already has ${c.otherOrders} ${c.side} orders in epoch ${c.epoch}: only ${MAX_ORDERS_PER_TRADER_SIDE} per side and epoch can ever be kept, so a third is never cleared`,
      `  (wait for the next epoch${forced ? "" : ", or send it anyway with --force"})`,
    ].join("\n");
  }
  const lines = [
    `the escrow does not cover this order: needed ${f(c.needed)}${unit}, one order may need at most ${f(c.available)}${unit} (1/${MAX_ORDERS_PER_TRADER_SIDE} of the ${f(c.collateral)}${unit} in escrow)`,
    `  (${c.basis})`,
  ];
  const meta = c.asset === "QUOTE" ? tokens?.quote : tokens?.base;
  const asset = c.asset === "QUOTE" ? "quote" : "base";
  const amount = meta ? formatUnits(BigInt(c.short), meta.decimals) : "AMOUNT";
  lines.push(
    `  an uncovered order is left out of clearing: deposit ${f(c.short)}${unit} more (smartmarket deposit ${asset} ${amount})${forced ? "" : ", or send it anyway with --force"}`,
  );
  return lines.join("\n");
}

async function checkFirst(
  io: CliIo,
  check: () => Promise<CoverageCheck>,
  force: boolean,
): Promise<CoverageCheck | null> {
  try {
    return await check();
  } catch (err) {
    if (!force) throw err;
    io.stderr.write(
      `smartmarket order: warning: the coverage check failed (${(err as Error).message}); sending anyway (--force)\n`,
    );
    return null;
  }
}

export const orderCommand: CliCommand = {
  name: "order",
  summary: "submit a buy or sell order, signed by the node's wallet, for the current epoch",
  usage:
    "buy|sell --quantity Q --price P [--market ID] [--epoch E] [--force] [--json] [connection options]\n   or: smartmarket order --file F [--market ID] [--json] [connection options]",
  help: `  --quantity Q     base units: the market's base token in its smallest unit (e.g. Wh on the testnet's
                   energy market, where a whole token is a kWh); a whole number > 0, at most 2^128 - 1
  --price P        limit price in quote units (the quote token's smallest unit, e.g. µ$) per base unit;
                   a whole number > 0, at most 2^128 - 1
${MARKET_HELP}
  --epoch E        the epoch (default: the current one)
  --force          send it even if the escrow does not cover it (it would be left out of clearing)
  --file F         send orders signed elsewhere instead (devices with their own keys, a gateway): F holds
                   a JSON array of signed orders in the protocol's JSON form, or one per line ("-":
                   stdin); sent 256 per request, one line per order's fate; exit 1 if any was refused

Before sending, the node checks its wallet's escrow as the coverage rule counts it: a buy needs
quantity x price QUOTE, a sell quantity BASE, and one order may need at most half the escrow of that
asset; only 2 orders per side and epoch count. Before the epoch's close the free escrow now is an
estimate of the escrow at the close. If it falls short, the order is not sent and the command exits 1
(--force sends it anyway; the node still refuses a third order of a side).
${CLIENT_HELP}`,
  options: {
    ...CLIENT_OPTIONS,
    ...MARKET_OPTION,
    quantity: { type: "string" },
    price: { type: "string" },
    epoch: { type: "string" },
    force: { type: "boolean" },
    file: { type: "string" },
  },
  maxPositionals: 1,
  handler: async (args, io) => {
    if (typeof args.values.file === "string") {
      if (
        args.positionals.length > 0 ||
        ["quantity", "price", "epoch", "force"].some((f) => f in args.values)
      )
        throw new CliError(
          "--file sends signed orders as they are: no buy|sell, --quantity, --price, --epoch or --force",
        );
      const orders = await readOrderFile(args.values.file, io);
      const client = apiFromArgs(args, io.env);
      const market = await resolveMarket(client, args);
      return sendOrders(client, market, orders, io, args.values.json === true);
    }
    const side = args.positionals[0];
    if (side !== "buy" && side !== "sell") throw new CliError('the first argument must be "buy" or "sell"');
    for (const flag of ["quantity", "price"]) {
      if (typeof args.values[flag] !== "string") throw new CliError(`missing --${flag}`);
    }
    const request: OrderRequest = {
      side,
      quantity: args.values.quantity as string,
      price: args.values.price as string,
      ...(typeof args.values.epoch === "string" ? { epoch: args.values.epoch } : {}),
    };
    // The node parses the same request the same way; checking here fails fast, before any network.
    try {
      parseOrderRequest(request);
    } catch (err) {
      if (err instanceof OrderError) throw new CliError(`${err.detail} (${err.code})`);
      throw err;
    }
    const force = args.values.force === true;
    const client = apiFromArgs(args, io.env);
    const market = await resolveMarket(client, args);
    const coverage = await checkFirst(io, () => call(client.coverage(market, request)), force);
    if (coverage && !coverage.covered) {
      const tokens = await marketTokens(client, market);
      const text = shortfallText(coverage, amountFormat(tokens), tokens, force);
      if (!force) {
        if (args.values.json) io.stdout.write(`${JSON.stringify({ sent: false, coverage }, null, 2)}\n`);
        throw new CliError(`${text}\nnot sent`, ExitCode.FAILURE);
      }
      io.stderr.write(`smartmarket order: warning: ${text}\nsending anyway (--force)\n`);
    }
    const res = await call(client.submitOrder(market, request));
    if (args.values.json) io.stdout.write(`${JSON.stringify({ sent: true, ...res, coverage }, null, 2)}\n`);
    else {
      io.stdout.write(
        `order ${res.id}\n  ${side} ${request.quantity} @ ${request.price}, market ${market.slice(0, 10)}…, epoch ${res.order.epoch}, sent to ${res.recipients} peer(s)\n`,
      );
    }
    return ExitCode.OK;
  },
};
