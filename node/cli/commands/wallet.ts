// `smartmarket wallet [--market ID] [--raw] [--json]`: the node's wallet on the chain: address, native
// balance, the market's two token balances, and the escrow per asset (free, locked and the epoch it can be
// withdrawn at), with the collateral the contract's coverage rule counts for the orders of the current
// epoch (docs/settlement.md, "The collateral rule").

import { formatUnits } from "../../../protocol/amount.ts";
import { formatEther } from "../../../protocol/ethers.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { SettlementClient } from "../../../settlement/client.ts";
import { Asset } from "../../../settlement/encoding.ts";
import { type TokenInfo, tokenBalanceOf, tokenInfo } from "../../../settlement/erc20.ts";
import {
  CHAIN_HELP,
  CHAIN_OPTIONS,
  chainSettings,
  MARKET_CHAIN_HELP,
  MARKET_CHAIN_OPTION,
  marketOf,
  openChain,
  withChain,
} from "../chain-context.ts";
import { type CliCommand, CliError, ExitCode } from "../command.ts";
import { renderTable } from "../table.ts";

/** Withdrawals are ready this many epochs after the request (the contract's WITHDRAWAL_DELAY_EPOCHS). */
export const WITHDRAWAL_DELAY_EPOCHS = 2n;

export interface MarketToken extends TokenInfo {
  readonly asset: "base" | "quote";
  readonly index: Asset;
}

/** The market's two tokens with their ERC-20 metadata. */
export async function marketTokens(
  client: SettlementClient,
  market: Hex,
): Promise<[MarketToken, MarketToken]> {
  const p = await client.getMarket(market);
  const [b, q] = await Promise.all([tokenInfo(client.provider, p.base), tokenInfo(client.provider, p.quote)]);
  return [
    { ...b, asset: "base", index: Asset.BASE },
    { ...q, asset: "quote", index: Asset.QUOTE },
  ];
}

/** An asset named on the command line: base, quote, or one of the tokens' symbols (any case). */
export function pickAsset(tokens: readonly MarketToken[], name: string): MarketToken {
  const n = name.toLowerCase();
  const found =
    tokens.find((t) => t.asset === n) ??
    tokens.find((t) => t.symbol !== null && t.symbol.toLowerCase() === n);
  if (!found) {
    const names = tokens.flatMap((t) => [t.asset, ...(t.symbol ? [t.symbol] : [])]);
    throw new CliError(`unknown asset "${name}": the market's assets are ${names.join(", ")}`);
  }
  return found;
}

/** An amount in display units ("1.5 kWh") or raw units ("1500"). */
export function amountText(value: bigint, token: TokenInfo, raw: boolean): string {
  if (raw || token.decimals === null) return value.toString();
  return `${formatUnits(value, token.decimals)}${token.symbol ? ` ${token.symbol}` : ""}`;
}

export interface AssetEscrow {
  readonly token: MarketToken;
  readonly wallet: bigint;
  readonly free: bigint;
  readonly locked: bigint;
  /** The epoch the locked amount can be withdrawn at (null when nothing is locked). */
  readonly readyEpoch: bigint | null;
  /** collateralOf(current − 1): what covers the orders of the epoch being cleared now (null if unknown). */
  readonly clearingNow: bigint | null;
}

/** The escrow of `owner` in both assets of the market, at the current epoch. */
export async function escrowState(
  client: SettlementClient,
  market: Hex,
  owner: Hex,
  tokens: readonly MarketToken[],
): Promise<{ epoch: bigint; assets: AssetEscrow[] }> {
  const epoch = await client.currentEpoch(market);
  const assets = await Promise.all(
    tokens.map(async (token) => {
      const [wallet, e, clearingNow] = await Promise.all([
        tokenBalanceOf(client.provider, token.address, owner),
        client.escrowOf(market, owner, token.index),
        epoch >= 1n ? client.collateralOf(market, owner, token.index, epoch - 1n).catch(() => null) : null,
      ]);
      return {
        token,
        wallet,
        free: e.free,
        locked: e.locked,
        readyEpoch: e.locked > 0n ? e.lockedEpoch + WITHDRAWAL_DELAY_EPOCHS : null,
        clearingNow,
      };
    }),
  );
  return { epoch, assets };
}

export const walletCommand: CliCommand = {
  name: "wallet",
  summary:
    "show the node's wallet: native balance, the market's token balances, escrow (free, locked, ready) and collateral",
  usage: "[--market ID] [--raw] [--json] [chain options]",
  help: `${MARKET_CHAIN_HELP}
  --raw                 amounts in raw token units (default: display units from decimals()/symbol())
  --json                one JSON object, amounts as raw decimal strings
The orders the node signs in epoch E are covered by the free escrow at the close of E (the contract's
collateral rule): that is today's FREE unless it changes before E closes. LOCKED funds (a withdrawal
request) no longer cover new orders; they can be withdrawn from the READY epoch on.
${CHAIN_HELP}`,
  options: { ...CHAIN_OPTIONS, ...MARKET_CHAIN_OPTION, raw: { type: "boolean" }, json: { type: "boolean" } },
  handler: async (args, io) => {
    const market = marketOf(chainSettings(args, io.env), args);
    const ctx = await openChain(args, io.env, { key: "address", contract: true });
    const raw = args.values.raw === true;
    return withChain(ctx, async ({ client, address }) => {
      const tokens = await marketTokens(client, market);
      const [native, state] = await Promise.all([
        client.provider.getBalance(address),
        escrowState(client, market, address, tokens),
      ]);
      if (args.values.json) {
        const value = {
          address,
          chainId: ctx.chainId.toString(),
          contract: client.contract,
          market,
          epoch: state.epoch.toString(),
          nativeWei: native.toString(),
          assets: state.assets.map((a) => ({
            asset: a.token.asset,
            token: a.token.address,
            symbol: a.token.symbol,
            decimals: a.token.decimals,
            wallet: a.wallet.toString(),
            free: a.free.toString(),
            locked: a.locked.toString(),
            readyEpoch: a.readyEpoch?.toString() ?? null,
            collateralForCurrentEpoch: a.free.toString(),
            collateralForClearingEpoch: a.clearingNow?.toString() ?? null,
          })),
        };
        io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
        return ExitCode.OK;
      }
      const fmt = (v: bigint, t: TokenInfo) => amountText(v, t, raw);
      io.stdout.write(
        `address ${address}\n` +
          `native  ${raw ? `${native} wei` : `${formatEther(native)} ETH`} (pays the gas of deposits, withdrawals, settlements)\n` +
          `market  ${market}, epoch ${state.epoch}\n\n`,
      );
      io.stdout.write(
        renderTable(
          [
            "ASSET",
            "TOKEN",
            "WALLET",
            "ESCROW FREE",
            "LOCKED",
            "WITHDRAWABLE AT",
            `COVERS EPOCH ${state.epoch}`,
          ],
          state.assets.map((a) => [
            `${a.token.asset}${a.token.symbol ? ` (${a.token.symbol})` : ""}`,
            a.token.address,
            fmt(a.wallet, a.token),
            fmt(a.free, a.token),
            fmt(a.locked, a.token),
            a.readyEpoch === null
              ? "-"
              : a.readyEpoch <= state.epoch
                ? `epoch ${a.readyEpoch} (ready now)`
                : `epoch ${a.readyEpoch}`,
            fmt(a.free, a.token),
          ]),
        ),
      );
      const clearing = state.assets
        .filter((a) => a.clearingNow !== null)
        .map((a) => `${fmt(a.clearingNow!, a.token)} ${a.token.asset}`);
      io.stdout.write(
        `\nOrders of epoch ${state.epoch} count what is free when it closes (now the ESCROW FREE column)` +
          (clearing.length > 0
            ? `; epoch ${state.epoch - 1n}, clearing now, counts ${clearing.join(" and ")}`
            : "") +
          ".\n",
      );
      if (state.assets.every((a) => a.free === 0n))
        io.stdout.write(
          "No escrow: the node's orders are left out of clearing until you deposit (`smartmarket deposit quote AMOUNT`).\n",
        );
      return ExitCode.OK;
    });
  },
};
