// `smartmarket fills [--last N] [--market ID]`: what this node's wallet bought and sold: per fill the
// epoch, side, quantity, clearing price, amount paid or received, whether the result is final, and the
// settlement transaction.
import {
  apiFromArgs,
  CLIENT_HELP,
  CLIENT_OPTIONS,
  call,
  MARKET_HELP,
  MARKET_OPTION,
  resolveMarket,
} from "../api-client.ts";
import { type CliCommand, ExitCode } from "../command.ts";
import { renderTable } from "../table.ts";
import { formatFor, RAW_HELP, RAW_OPTION, uintOption } from "./orders.ts";

export const fillsCommand: CliCommand = {
  name: "fills",
  summary:
    "list this node's wallet's fills: quantity, price paid or received, epoch, finality, settlement tx",
  usage: "[--last N] [--market ID] [--raw] [--json] [connection options]",
  help: `  --last N         how many fills, newest first (default 20, at most 1000)
${MARKET_HELP}
${RAW_HELP}
${CLIENT_HELP}`,
  options: { ...CLIENT_OPTIONS, ...MARKET_OPTION, ...RAW_OPTION, last: { type: "string" } },
  handler: async (args, io) => {
    const last = uintOption(args, "last", 1n, 1000n) ?? 20n;
    const client = apiFromArgs(args, io.env);
    const market = await resolveMarket(client, args);
    const fills = await call(client.fills(market, Number(last)));
    if (args.values.json) {
      io.stdout.write(`${JSON.stringify(fills, null, 2)}\n`);
      return ExitCode.OK;
    }
    if (fills.length === 0) {
      io.stdout.write("no fills of this node's wallet yet\n");
      return ExitCode.OK;
    }
    const fmt = await formatFor(client, market, args);
    io.stdout.write(
      renderTable(
        ["EPOCH", "SIDE", "QUANTITY", "PRICE", "PAID/RECEIVED", "LIMIT", "RESULT", "SETTLEMENT TX"],
        fills.map((f) => [
          f.epoch,
          f.side === "buy" ? "bought" : "sold",
          fmt.base(f.quantity),
          fmt.price(f.price),
          `${f.side === "buy" ? "paid" : "received"} ${fmt.quote(f.amount)}`,
          fmt.price(f.limitPrice),
          f.settlement,
          f.tx ?? "-",
        ]),
      ),
    );
    return ExitCode.OK;
  },
};
