// `smartmarket deposit <asset> <amount>`, `smartmarket withdraw request <asset> <amount>` and
// `smartmarket withdraw [<asset>]`: the node's escrow in a market. Amounts are decimal strings in the
// token's display units (parsed without floats); a revert is shown by its custom error's name.

import { parseUnits } from "../../../protocol/amount.ts";
import { AmountError } from "../../../protocol/errors.ts";
import type { Hex } from "../../../protocol/hex.ts";
import { tokenBalanceOf } from "../../../settlement/erc20.ts";
import {
  CHAIN_HELP,
  CHAIN_OPTIONS,
  type ChainContext,
  chainSettings,
  MARKET_CHAIN_HELP,
  MARKET_CHAIN_OPTION,
  marketOf,
  openChain,
  withChain,
} from "../chain-context.ts";
import { type CliCommand, CliError, type CliIo, ExitCode, type ParsedArgs } from "../command.ts";
import { renderTable } from "../table.ts";
import { amountText, escrowState, type MarketToken, marketTokens, pickAsset } from "./wallet.ts";

const OPTIONS = {
  ...CHAIN_OPTIONS,
  ...MARKET_CHAIN_OPTION,
  raw: { type: "boolean" },
  json: { type: "boolean" },
} as const;

const AMOUNT_HELP = `<asset> is base, quote, or a token symbol of the market (e.g. USD); <amount> a decimal number in the
token's display units (e.g. 12.5), or raw units with --raw.
${MARKET_CHAIN_HELP}
  --raw                 <amount> and the output in raw token units
  --json                one JSON object`;

/** The <asset> <amount> positionals, checked before anything touches the chain. */
function assetAndAmount(args: ParsedArgs): { asset: string; amount: string } {
  const [asset, amount] = args.positionals;
  if (asset === undefined) throw new CliError("missing <asset> (base, quote or a token symbol)");
  if (amount === undefined) throw new CliError("missing <amount> (a decimal number, e.g. 12.5)");
  if (!/^[0-9.]+$/.test(amount))
    throw new CliError(`<amount> must be a positive decimal number (e.g. 12.5), got "${amount}"`);
  return { asset, amount };
}

/** The amount in the token's raw units; too many decimals or zero are bad input (exit 2). */
function parseAmount(text: string, token: MarketToken, raw: boolean): bigint {
  let value: bigint;
  try {
    value = parseUnits(text, raw || token.decimals === null ? 0 : token.decimals, "<amount>");
  } catch (err) {
    if (err instanceof AmountError) {
      const unit = token.symbol ?? token.asset;
      throw new CliError(
        raw || token.decimals === null
          ? `${err.message} (raw units are whole numbers)`
          : `${err.message} (${unit} has ${token.decimals} decimals)`,
      );
    }
    throw err;
  }
  if (value === 0n) throw new CliError("<amount> must be greater than 0");
  return value;
}

/**
 * What deposit and withdraw request share: the <asset> <amount> arguments, read in the market's token
 * (decimals unless --raw), with a signing chain context that is closed afterwards.
 */
async function withAssetAmount(
  args: ParsedArgs,
  io: CliIo,
  work: (c: {
    client: ChainContext["client"];
    address: Hex;
    market: Hex;
    token: MarketToken;
    amount: bigint;
    raw: boolean;
  }) => Promise<number>,
): Promise<number> {
  const { asset: assetName, amount: text } = assetAndAmount(args);
  const market = marketOf(chainSettings(args, io.env), args);
  const raw = args.values.raw === true;
  const ctx = await openChain(args, io.env, { key: "sign", contract: true });
  return withChain(ctx, async ({ client, address }) => {
    const token = pickAsset(await marketTokens(client, market), assetName);
    return work({ client, address, market, token, amount: parseAmount(text, token, raw), raw });
  });
}

export const depositCommand: CliCommand = {
  name: "deposit",
  summary: "deposit tokens into the node's escrow in a market (approve + deposit): what backs its orders",
  usage: "<asset> <amount> [--market ID] [--raw] [--json] [chain options]",
  help: `${AMOUNT_HELP}
Orders of an epoch are covered by the free escrow at its close: deposit before the epoch you trade in ends.
${CHAIN_HELP}`,
  options: OPTIONS,
  maxPositionals: 2,
  handler: (args, io) =>
    withAssetAmount(args, io, async ({ client, address, market, token, amount, raw }) => {
      const balance = await tokenBalanceOf(client.provider, token.address, address);
      if (balance < amount)
        throw new CliError(
          `the wallet ${address} holds ${amountText(balance, token, raw)} of ${token.asset}, less than ${amountText(amount, token, raw)}`,
          ExitCode.FAILURE,
        );
      const r = await client.deposit(market, token.index, amount);
      const e = await client.escrowOf(market, address, token.index);
      if (args.values.json) {
        io.stdout.write(
          `${JSON.stringify({ market, asset: token.asset, token: token.address, amount: amount.toString(), free: e.free.toString(), tx: r.txHash })}\n`,
        );
      } else {
        io.stdout.write(
          `deposited ${amountText(amount, token, raw)} (${token.asset}) into market ${market}\n` +
            `  escrow free ${amountText(e.free, token, raw)}, tx ${r.txHash}\n`,
        );
      }
      return ExitCode.OK;
    }),
};

export const withdrawRequestCommand: CliCommand = {
  name: "withdraw request",
  summary: "lock escrow for withdrawal; `smartmarket withdraw` takes it out two epochs later",
  usage: "<asset> <amount> [--market ID] [--raw] [--json] [chain options]",
  help: `${AMOUNT_HELP}
The amount moves from free to locked now and can be withdrawn from epoch (current + 2) on. A new request
merges with a pending one and restarts the delay of the whole locked amount (withdraw ready funds first).
${CHAIN_HELP}`,
  options: OPTIONS,
  maxPositionals: 2,
  handler: (args, io) =>
    withAssetAmount(args, io, async ({ client, address, market, token, amount, raw }) => {
      const r = await client.requestWithdrawal(market, token.index, amount);
      const { epoch, assets } = await escrowState(client, market, address, [token]);
      const a = assets[0]!;
      if (args.values.json) {
        io.stdout.write(
          `${JSON.stringify({ market, asset: token.asset, requested: amount.toString(), locked: a.locked.toString(), epoch: epoch.toString(), readyEpoch: a.readyEpoch?.toString() ?? null, tx: r.txHash })}\n`,
        );
      } else {
        io.stdout.write(
          `requested ${amountText(amount, token, raw)} (${token.asset}) at epoch ${epoch}; locked ${amountText(a.locked, token, raw)}\n` +
            `  withdrawable at epoch ${a.readyEpoch}: run \`smartmarket withdraw ${token.asset}\` then; tx ${r.txHash}\n`,
        );
      }
      return ExitCode.OK;
    }),
};

export const withdrawCommand: CliCommand = {
  name: "withdraw",
  summary: "withdraw the locked escrow that is ready (or say at which epoch it will be)",
  usage: "[<asset>] [--market ID] [--raw] [--json] [chain options]",
  help: `<asset> is base, quote or a token symbol (default: both assets).
${MARKET_CHAIN_HELP}
  --raw                 amounts in raw token units
  --json                one JSON object
Exits 0 when everything ready was withdrawn (or nothing is locked), 1 when a transaction failed.
${CHAIN_HELP}`,
  options: OPTIONS,
  maxPositionals: 1,
  handler: async (args, io) => {
    const assetName = args.positionals[0];
    const market = marketOf(chainSettings(args, io.env), args);
    const raw = args.values.raw === true;
    const ctx = await openChain(args, io.env, { key: "sign", contract: true });
    return withChain(ctx, async ({ client, address }) => {
      const all = await marketTokens(client, market);
      const tokens = assetName === undefined ? all : [pickAsset(all, assetName)];
      const { epoch, assets } = await escrowState(client, market, address, tokens);
      const results: {
        asset: string;
        status: string;
        amount: string;
        readyEpoch: string | null;
        tx: Hex | null;
      }[] = [];
      for (const a of assets) {
        const base = { asset: a.token.asset, readyEpoch: a.readyEpoch?.toString() ?? null };
        if (a.readyEpoch === null) {
          // Nothing locked: an explicitly named asset goes to the contract, which says why (NothingToWithdraw).
          if (assetName !== undefined) await client.withdraw(market, a.token.index);
          results.push({ ...base, status: "nothing locked", amount: "0", tx: null });
        } else if (a.readyEpoch > epoch) {
          results.push({ ...base, status: "pending", amount: a.locked.toString(), tx: null });
        } else {
          const r = await client.withdraw(market, a.token.index);
          results.push({ ...base, status: "withdrawn", amount: r.amount.toString(), tx: r.txHash });
        }
      }
      if (args.values.json) {
        io.stdout.write(
          `${JSON.stringify({ market, epoch: epoch.toString(), withdrawals: results }, null, 2)}\n`,
        );
        return ExitCode.OK;
      }
      const tokenOf = (asset: string) => tokens.find((t) => t.asset === asset)!;
      const lines = results.map((r) => {
        const t = tokenOf(r.asset);
        const amount = amountText(BigInt(r.amount), t, raw);
        if (r.status === "withdrawn") return `${r.asset}: withdrew ${amount} to ${address} (tx ${r.tx})`;
        if (r.status === "pending")
          return `${r.asset}: ${amount} locked, withdrawable at epoch ${r.readyEpoch} (now epoch ${epoch}); run this again then`;
        return `${r.asset}: nothing locked (\`smartmarket withdraw request ${r.asset} AMOUNT\` first)`;
      });
      if (io.isTTY && results.length > 1)
        io.stdout.write(
          renderTable(
            ["ASSET", "STATUS", "AMOUNT", "WITHDRAWABLE AT", "TX"],
            results.map((r) => [
              r.asset,
              r.status,
              amountText(BigInt(r.amount), tokenOf(r.asset), raw),
              r.readyEpoch ?? "-",
              r.tx ?? "-",
            ]),
          ),
        );
      io.stdout.write(`${lines.join("\n")}\n`);
      return ExitCode.OK;
    });
  },
};
