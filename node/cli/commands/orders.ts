// `smartmarket orders [--epoch N | --last K] [--mine] [--market ID]`: orders with their fate (pending,
// kept, excluded by the coverage rule and why, filled). Also the display helpers the other client
// commands about a market share: its tokens' units and the exclusion reason in those units.
import { MAX_ORDERS_PER_TRADER_SIDE } from "../../../clearing/limits.ts";
import { parseUint } from "../../../protocol/amount.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { ApiClient } from "../../api/client.ts";
import type { ExclusionView, MarketTokens, OrderStatusView } from "../../api/types.ts";
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
import { type CliCommand, CliError, ExitCode, type ParsedArgs } from "../command.ts";
import { renderTable, short } from "../table.ts";

export const RAW_OPTION = { raw: { type: "boolean" } } as const;
export const RAW_HELP =
  "  --raw            amounts in raw token units (default: display units from the tokens' decimals()/symbol())";

/** The market's token metadata as the node read it; none (raw units) if the node does not have it. */
export async function marketTokens(client: ApiClient, market: Hex): Promise<MarketTokens | undefined> {
  try {
    return (await client.market(market)).tokens;
  } catch {
    return undefined;
  }
}

/** The amount format of a command: display units unless --raw or the tokens are unknown. */
export async function formatFor(client: ApiClient, market: Hex, args: ParsedArgs): Promise<AmountFormat> {
  if (args.values.raw === true) return amountFormat(undefined, true);
  return amountFormat(await marketTokens(client, market));
}

/**
 * "not covered: needed 1.05 USD, one order may need at most 0.4 USD (1/2 of the escrow)" (raw: "needed
 * 1050000 QUOTE, one order may need at most 400000 ..."); for the trader and side caps, the node's own words.
 */
export function exclusionReason(
  x: Pick<ExclusionView, "asset" | "needed" | "available"> & Partial<Pick<ExclusionView, "cause" | "reason">>,
  fmt: AmountFormat,
) {
  if (x.cause !== undefined && x.cause !== "collateral" && x.reason !== undefined) return x.reason;
  const share = `(1/${MAX_ORDERS_PER_TRADER_SIDE} of the escrow)`;
  if (!fmt.display)
    return `not covered: needed ${x.needed} ${x.asset}, one order may need at most ${x.available} ${share}`;
  const f = x.asset === "QUOTE" ? fmt.quote : fmt.base;
  return `not covered: needed ${f(x.needed)}, one order may need at most ${f(x.available)} ${share}`;
}

/** An order's fate in words. */
export function fateText(o: OrderStatusView, fmt: AmountFormat): string {
  switch (o.status) {
    case "excluded":
      return o.exclusion ? `excluded: ${exclusionReason(o.exclusion, fmt)}` : `excluded: ${o.reason}`;
    case "filled":
      return `filled ${fmt.base(o.filled)}${o.final ? " (final)" : ""}`;
    case "kept":
      return `kept, not filled${o.final ? " (final)" : ""}`;
    default:
      return "pending";
  }
}

/** Parses a whole-number option within [min, max]; exit 2 with the rule otherwise. */
export function uintOption(args: ParsedArgs, name: string, min: bigint, max: bigint): bigint | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  let n: bigint;
  try {
    n = parseUint(String(v), `--${name}`);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (n < min || n > max) throw new CliError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export const ordersCommand: CliCommand = {
  name: "orders",
  summary: "list orders and what became of them: pending, kept, excluded (and why), filled",
  usage: "[--epoch N | --last K] [--mine] [--market ID] [--raw] [--json] [connection options]",
  help: `  --epoch N        the orders of epoch N (default: the last K epochs up to the current one)
  --last K         how many recent epochs without --epoch (default 10, at most 1000)
  --mine           only the orders of this node's wallet
${MARKET_HELP}
${RAW_HELP}
${CLIENT_HELP}`,
  options: {
    ...CLIENT_OPTIONS,
    ...MARKET_OPTION,
    ...RAW_OPTION,
    epoch: { type: "string" },
    last: { type: "string" },
    mine: { type: "boolean" },
  },
  handler: async (args, io) => {
    const epoch = uintOption(args, "epoch", 0n, (1n << 64n) - 1n);
    const last = uintOption(args, "last", 1n, 1000n);
    if (epoch !== undefined && last !== undefined) throw new CliError("give --epoch or --last, not both");
    const client = apiFromArgs(args, io.env);
    const market = await resolveMarket(client, args);
    const trader = args.values.mine === true ? (await call(client.status())).wallet : undefined;
    const orders = await call(
      client.orderStatuses(market, {
        ...(epoch === undefined ? {} : { epoch }),
        ...(last === undefined ? {} : { last: Number(last) }),
        ...(trader === undefined ? {} : { trader }),
      }),
    );
    if (args.values.json) {
      io.stdout.write(`${JSON.stringify(orders, null, 2)}\n`);
      return ExitCode.OK;
    }
    if (orders.length === 0) {
      const which = epoch !== undefined ? `epoch ${epoch}` : `the last ${last ?? 10n} epoch(s)`;
      io.stdout.write(`no ${trader ? "orders of this node's wallet" : "orders"} in ${which}\n`);
      return ExitCode.OK;
    }
    const fmt = await formatFor(client, market, args);
    io.stdout.write(
      renderTable(
        ["ID", "TRADER", "SIDE", "QUANTITY", "PRICE", "EPOCH", "STATUS"],
        orders.map((o) => [
          short(o.id, 10),
          short(o.trader),
          o.side,
          fmt.base(o.quantity),
          fmt.price(o.limitPrice),
          o.epoch,
          fateText(o, fmt),
        ]),
      ),
    );
    return ExitCode.OK;
  },
};
