// `smartmarket order buy|sell --quantity Q --price P [--market M]`: the node signs and gossips it.
import { OrderError } from "../../../protocol/errors.ts";
import { parseOrderRequest } from "../../api/order-request.ts";
import type { OrderRequest } from "../../api/types.ts";
import {
  apiFromArgs,
  CLIENT_HELP,
  CLIENT_OPTIONS,
  call,
  MARKET_HELP,
  MARKET_OPTION,
  resolveMarket,
} from "../api-client.ts";
import { type CliCommand, CliError, ExitCode } from "../command.ts";

export const orderCommand: CliCommand = {
  name: "order",
  summary: "submit a buy or sell order, signed by the node's wallet, for the current epoch",
  usage: "buy|sell --quantity Q --price P [--market ID] [--epoch E] [--json] [connection options]",
  help: `  --quantity Q     base units (a whole number > 0)
  --price P        limit price in quote units per base unit (a whole number > 0)
${MARKET_HELP}
  --epoch E        the epoch (default: the current one)
${CLIENT_HELP}`,
  options: {
    ...CLIENT_OPTIONS,
    ...MARKET_OPTION,
    quantity: { type: "string" },
    price: { type: "string" },
    epoch: { type: "string" },
  },
  maxPositionals: 1,
  handler: async (args, io) => {
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
    const client = apiFromArgs(args, io.env);
    const market = await resolveMarket(client, args);
    const res = await call(client.submitOrder(market, request));
    if (args.values.json) io.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    else {
      io.stdout.write(
        `order ${res.id}\n  ${side} ${request.quantity} @ ${request.price}, market ${market.slice(0, 10)}…, epoch ${res.order.epoch}, sent to ${res.recipients} peer(s)\n`,
      );
    }
    return ExitCode.OK;
  },
};
