// `smartmarket market join <id>` / `market leave <id>`: a running node starts or stops serving a market
// (the change survives a restart of the node). `market create|list|show`: markets on the chain.

import { parseUint } from "../../../protocol/amount.ts";
import { formatEther } from "../../../protocol/ethers.ts";
import { type Hex, isHex } from "../../../protocol/hex.ts";
import {
  DEFAULT_BOND_WEI,
  DEFAULT_MIN_QUANTITY,
  defaultChallengeWindowS,
  MAX_FEE_BPS,
  type MarketParams,
} from "../../../protocol/market.ts";
import { latestTimestamp } from "../../../settlement/anvil.ts";
import { smartMarketInterface } from "../../../settlement/artifacts.ts";
import {
  MAX_EPOCH_LENGTH_S,
  MAX_GENESIS_DELAY_S,
  type SettlementClient,
} from "../../../settlement/client.ts";
import { type TokenInfo, tokenInfo } from "../../../settlement/erc20.ts";
import { apiFromArgs, CLIENT_HELP, CLIENT_OPTIONS, call, parseMarketId } from "../api-client.ts";
import { CHAIN_HELP, CHAIN_OPTIONS, openChain, withChain } from "../chain-context.ts";
import { type CliCommand, CliError, ExitCode, type ParsedArgs } from "../command.ts";
import { renderTable } from "../table.ts";

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

// ---------------------------------------------------------------- on the chain: create, list, show

function hexAddress(args: ParsedArgs, flag: string): Hex {
  const v = args.values[flag];
  if (typeof v !== "string") throw new CliError(`missing --${flag} TOKEN (the token's address)`);
  if (!isHex(v, 20)) throw new CliError(`--${flag} "${v}" must be an address: 0x followed by 40 hex digits`);
  return v.toLowerCase() as Hex;
}

function uintFlag(args: ParsedArgs, flag: string, max: bigint): bigint | undefined {
  const v = args.values[flag];
  if (typeof v !== "string") return undefined;
  let n: bigint;
  try {
    n = parseUint(v, `--${flag}`);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (n > max) throw new CliError(`--${flag} must be at most ${max}, got ${v}`);
  return n;
}

/** A market's parameters and its tokens' metadata, as JSON (amounts as decimal strings). */
function marketJson(id: Hex, p: MarketParams, base: TokenInfo, quote: TokenInfo) {
  return {
    id,
    base: p.base,
    quote: p.quote,
    baseSymbol: base.symbol,
    baseDecimals: base.decimals,
    quoteSymbol: quote.symbol,
    quoteDecimals: quote.decimals,
    genesisTimeS: p.genesisTimeS.toString(),
    epochLengthS: p.epochLengthS.toString(),
    feeBps: p.feeBps.toString(),
    bondWei: p.bondWei.toString(),
    challengeWindowS: p.challengeWindowS.toString(),
    minQuantity: p.minQuantity.toString(),
  };
}

function marketLines(
  id: Hex,
  p: MarketParams,
  base: TokenInfo,
  quote: TokenInfo,
  epoch: bigint | null,
): string {
  const tok = (t: TokenInfo) =>
    `${t.address}${t.symbol ? ` ${t.symbol}` : ""}${t.decimals !== null ? `, ${t.decimals} decimals` : ""}`;
  return [
    `market ${id}`,
    `  base             ${tok(base)}`,
    `  quote            ${tok(quote)}`,
    `  genesis          ${p.genesisTimeS} (${new Date(Number(p.genesisTimeS) * 1000).toISOString()})`,
    `  epoch length     ${p.epochLengthS} s${epoch !== null ? `, now at epoch ${epoch}` : ""}`,
    `  fee              ${p.feeBps} bps`,
    `  bond             ${formatEther(p.bondWei)} ETH (${p.bondWei} wei) per proposal or challenge`,
    `  challenge window ${p.challengeWindowS} s`,
    `  min quantity     ${p.minQuantity} base units per order`,
  ].join("\n");
}

export const marketCreateCommand: CliCommand = {
  name: "market create",
  summary: "create a market on the settlement contract (anyone may); prints its id",
  usage:
    "--base TOKEN --quote TOKEN --epoch-seconds S [--genesis UNIX_S] [--fee-bps N] [--bond-wei W] [--challenge-window-s S] [--min-quantity Q] [--json] [chain options]",
  help: `  --base TOKEN              address of the ERC-20 traded (quantities are in its units)
  --quote TOKEN             address of the ERC-20 paid
  --epoch-seconds S         epoch length, seconds (> 0, at most ${MAX_EPOCH_LENGTH_S}: one day)
  --genesis UNIX_S          start of epoch 0, unix seconds (default: the chain's latest block time; at
                            most ${MAX_GENESIS_DELAY_S / 86_400n} days ahead of it: the contract refuses markets that trap deposits)
  --fee-bps N               fee of sellers' quote proceeds, basis points (default 0, at most ${MAX_FEE_BPS})
  --bond-wei W              bond of every proposal and challenge, wei (default ${DEFAULT_BOND_WEI})
  --challenge-window-s S    seconds before the close of epoch e+1 in which results of e can only be
                            challenged (default ⌊S/2⌋, at least 1; must be < S)
  --min-quantity Q          smallest order, base units (default ${DEFAULT_MIN_QUANTITY}, at least 1): smaller orders
                            are refused by nodes and by the contract. It prices dust floods: see the README
  --json                    one JSON object
${CHAIN_HELP}`,
  options: {
    ...CHAIN_OPTIONS,
    base: { type: "string" },
    quote: { type: "string" },
    "epoch-seconds": { type: "string" },
    genesis: { type: "string" },
    "fee-bps": { type: "string" },
    "bond-wei": { type: "string" },
    "challenge-window-s": { type: "string" },
    "min-quantity": { type: "string" },
    json: { type: "boolean" },
  },
  handler: async (args, io) => {
    const base = hexAddress(args, "base");
    const quote = hexAddress(args, "quote");
    if (base === quote) throw new CliError("--base and --quote must be different tokens");
    const epochLengthS = uintFlag(args, "epoch-seconds", MAX_EPOCH_LENGTH_S);
    if (epochLengthS === undefined) throw new CliError("missing --epoch-seconds S (the epoch length)");
    if (epochLengthS === 0n) throw new CliError("--epoch-seconds must be greater than 0");
    const genesis = uintFlag(args, "genesis", 2n ** 64n - 1n);
    const feeBps = uintFlag(args, "fee-bps", MAX_FEE_BPS) ?? 0n;
    const bondWei = uintFlag(args, "bond-wei", 2n ** 96n - 1n);
    const window = uintFlag(args, "challenge-window-s", 2n ** 32n - 1n);
    const minQuantity = uintFlag(args, "min-quantity", 2n ** 128n - 1n);
    if (minQuantity === 0n) throw new CliError("--min-quantity must be at least 1 (base units)");
    const effectiveWindow = window ?? defaultChallengeWindowS(epochLengthS);
    if (effectiveWindow < 1n || effectiveWindow >= epochLengthS)
      throw new CliError(
        `the challenge window must be at least 1 s and shorter than the epoch (${epochLengthS} s), got ${effectiveWindow} s` +
          (window === undefined ? " by default: give a longer --epoch-seconds" : ""),
      );
    const ctx = await openChain(args, io.env, { key: "sign", contract: true });
    return withChain(ctx, async ({ client }) => {
      const now = await latestTimestamp(client.provider);
      const genesisTimeS = genesis ?? now;
      if (genesisTimeS > now + MAX_GENESIS_DELAY_S)
        throw new CliError(
          `--genesis ${genesisTimeS} is more than ${MAX_GENESIS_DELAY_S / 86_400n} days after the chain's time (${now}): the contract refuses it (GenesisTooFar)`,
        );
      const r = await client.createMarket({
        base,
        quote,
        genesisTimeS,
        epochLengthS,
        feeBps,
        ...(bondWei === undefined ? {} : { bondWei }),
        ...(window === undefined ? {} : { challengeWindowS: window }),
        ...(minQuantity === undefined ? {} : { minQuantity }),
      });
      const [b, q] = await Promise.all([tokenInfo(client.provider, base), tokenInfo(client.provider, quote)]);
      if (args.values.json)
        io.stdout.write(`${JSON.stringify({ ...marketJson(r.id, r.params, b, q), tx: r.txHash })}\n`);
      else
        io.stdout.write(
          `${marketLines(r.id, r.params, b, q, null)}\n  tx ${r.txHash}\n` +
            `Serve it: smartmarket market join ${r.id} (running node) or node start --market ${r.id}\n`,
        );
      return ExitCode.OK;
    });
  },
};

/** Every MarketCreated event of the contract from `fromBlock`, oldest first. */
async function createdMarkets(client: SettlementClient, fromBlock: number) {
  const event = smartMarketInterface.getEvent("MarketCreated")!;
  const logs = await client.provider.getLogs({
    address: client.contract,
    topics: [event.topicHash],
    fromBlock,
    toBlock: "latest",
  });
  return logs.map((log) => {
    const parsed = smartMarketInterface.parseLog(log)!;
    const [id, base, quote, genesisTimeS, epochLengthS, feeBps, bondWei, challengeWindowS, minQuantity] =
      parsed.args as unknown as [string, string, string, bigint, bigint, bigint, bigint, bigint, bigint];
    const params: MarketParams = {
      base: base.toLowerCase() as Hex,
      quote: quote.toLowerCase() as Hex,
      genesisTimeS,
      epochLengthS,
      feeBps,
      bondWei,
      challengeWindowS,
      minQuantity,
    };
    return { id: id.toLowerCase() as Hex, params, blockNumber: log.blockNumber };
  });
}

export const marketListCommand: CliCommand = {
  name: "market list",
  summary: "list the markets created on the settlement contract (its MarketCreated events)",
  usage: "[--from-block N] [--json] [chain options]",
  help: `  --from-block N        first block to search (default 0; some public RPCs limit the range)
  --json                one JSON array
${CHAIN_HELP}`,
  options: { ...CHAIN_OPTIONS, "from-block": { type: "string" }, json: { type: "boolean" } },
  handler: async (args, io) => {
    const fromBlock = Number(uintFlag(args, "from-block", BigInt(Number.MAX_SAFE_INTEGER)) ?? 0n);
    const ctx = await openChain(args, io.env, { key: "none", contract: true });
    return withChain(ctx, async ({ client }) => {
      const markets = await createdMarkets(client, fromBlock);
      const infos = new Map<Hex, TokenInfo>();
      for (const t of new Set(markets.flatMap((m) => [m.params.base, m.params.quote])))
        infos.set(t, await tokenInfo(client.provider, t));
      if (args.values.json) {
        io.stdout.write(
          `${JSON.stringify(
            markets.map((m) => ({
              ...marketJson(m.id, m.params, infos.get(m.params.base)!, infos.get(m.params.quote)!),
              block: m.blockNumber,
            })),
            null,
            2,
          )}\n`,
        );
        return ExitCode.OK;
      }
      if (markets.length === 0) {
        io.stdout.write(
          `no market on contract ${client.contract} yet; create one with \`smartmarket market create\`\n`,
        );
        return ExitCode.OK;
      }
      const sym = (t: Hex) => infos.get(t)?.symbol ?? t;
      io.stdout.write(
        renderTable(
          ["MARKET", "BASE", "QUOTE", "EPOCH", "GENESIS", "FEE", "MIN QTY", "BLOCK"],
          markets.map((m) => [
            m.id,
            sym(m.params.base),
            sym(m.params.quote),
            `${m.params.epochLengthS} s`,
            new Date(Number(m.params.genesisTimeS) * 1000).toISOString(),
            `${m.params.feeBps} bps`,
            String(m.params.minQuantity),
            String(m.blockNumber),
          ]),
        ),
      );
      return ExitCode.OK;
    });
  },
};

export const marketShowCommand: CliCommand = {
  name: "market show",
  summary:
    "show a market's parameters on the chain: tokens, clock, fee, bond, challenge window, current epoch",
  usage: "<market-id> [--json] [chain options]",
  help: `  --json                one JSON object
${CHAIN_HELP}`,
  options: { ...CHAIN_OPTIONS, json: { type: "boolean" } },
  maxPositionals: 1,
  handler: async (args, io) => {
    const id = marketArg(args.positionals);
    const ctx = await openChain(args, io.env, { key: "none", contract: true });
    return withChain(ctx, async ({ client }) => {
      const p = await client.getMarket(id);
      const [b, q, epoch] = await Promise.all([
        tokenInfo(client.provider, p.base),
        tokenInfo(client.provider, p.quote),
        client.currentEpoch(id),
      ]);
      if (args.values.json)
        io.stdout.write(
          `${JSON.stringify({ ...marketJson(id, p, b, q), epoch: epoch.toString() }, null, 2)}\n`,
        );
      else io.stdout.write(`${marketLines(id, p, b, q, epoch)}\n`);
      return ExitCode.OK;
    });
  },
};
