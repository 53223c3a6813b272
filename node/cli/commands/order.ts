// `smartmarket order buy|sell --quantity Q --price P [--market M]`: the node signs and gossips it.
import { parseUint } from "../../../protocol/amount.ts";
import { ApiClient, CLIENT_HELP, CLIENT_OPTIONS } from "../api-client.ts";
import { type CliCommand, CliError, ExitCode } from "../command.ts";

export const orderCommand: CliCommand = {
  name: "order",
  summary: "submit a buy or sell order, signed by the node's wallet, for the current epoch",
  usage: "buy|sell --quantity Q --price P [--market M] [--epoch E] [--json] [connection options]",
  help: `  --quantity Q   base units (a whole number > 0)
  --price P      limit price in quote units per base unit (a whole number > 0)
  --market M     the market id; must be the node's market (checked)
  --epoch E      the epoch (default: the current one)
${CLIENT_HELP}`,
  options: {
    ...CLIENT_OPTIONS,
    quantity: { type: "string" },
    price: { type: "string" },
    market: { type: "string" },
    epoch: { type: "string" },
  },
  maxPositionals: 1,
  handler: async (args, io) => {
    const side = args.positionals[0];
    if (side !== "buy" && side !== "sell") throw new CliError('the first argument must be "buy" or "sell"');
    const amount = (flag: string) => {
      const v = args.values[flag];
      if (typeof v !== "string") throw new CliError(`missing --${flag}`);
      let n: bigint;
      try {
        n = parseUint(v, `--${flag}`);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      if (n === 0n) throw new CliError(`--${flag} must be greater than 0`);
      return n;
    };
    const quantity = amount("quantity");
    const price = amount("price");
    let epoch: bigint | undefined;
    if (args.values.epoch !== undefined) {
      try {
        epoch = parseUint(args.values.epoch as string, "--epoch");
      } catch (err) {
        throw new CliError((err as Error).message);
      }
    }
    const client = ApiClient.fromArgs(args, io.env);
    const market = args.values.market as string | undefined;
    if (market !== undefined) {
      const st = await client.get<{ market: { id: string } }>("/status");
      if (market.toLowerCase() !== st.market.id) {
        throw new CliError(`--market ${market} is not this node's market (${st.market.id})`);
      }
    }
    const res = await client.post<{ id: string; recipients: number; order: Record<string, string> }>(
      "/orders",
      {
        side,
        quantity: quantity.toString(),
        price: price.toString(),
        ...(epoch === undefined ? {} : { epoch: epoch.toString() }),
      },
    );
    if (args.values.json) io.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    else {
      io.stdout.write(
        `order ${res.id}\n  ${side} ${quantity} @ ${price}, epoch ${res.order.epoch}, sent to ${res.recipients} peer(s)\n`,
      );
    }
    return ExitCode.OK;
  },
};
