// `smartmarket market join <id>` / `market leave <id>`: a running node starts or stops serving a market.
// The change survives a restart of the node.
import { apiFromArgs, CLIENT_HELP, CLIENT_OPTIONS, call, parseMarketId } from "../api-client.ts";
import { type CliCommand, CliError, ExitCode } from "../command.ts";

function marketArg(positionals: readonly string[]) {
  const id = positionals[0];
  if (id === undefined) throw new CliError("missing <market-id> (0x followed by 64 hex digits)");
  return parseMarketId(id, "market id");
}

export const marketJoinCommand: CliCommand = {
  name: "market join",
  summary: "start serving a market on the running node (remembered across restarts)",
  usage: "<market-id> [--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  maxPositionals: 1,
  handler: async (args, io) => {
    const market = marketArg(args.positionals);
    const m = await call(apiFromArgs(args, io.env).joinMarket(market));
    if (args.values.json) io.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
    else {
      io.stdout.write(
        `serving market ${m.id}\n  base ${m.base}  quote ${m.quote}  epoch ${m.epochLengthS} s  fee ${m.feeBps} bps, now at epoch ${m.epoch.current}\n`,
      );
    }
    return ExitCode.OK;
  },
};

export const marketLeaveCommand: CliCommand = {
  name: "market leave",
  summary: "stop serving a market on the running node (its history stays in the node's store)",
  usage: "<market-id> [--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  maxPositionals: 1,
  handler: async (args, io) => {
    const market = marketArg(args.positionals);
    const res = await call(apiFromArgs(args, io.env).leaveMarket(market));
    io.stdout.write(args.values.json ? `${JSON.stringify(res, null, 2)}\n` : `left market ${res.market}\n`);
    return ExitCode.OK;
  },
};
