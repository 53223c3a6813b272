// How the chain-facing commands (wallet, deposit, withdraw, market, deploy) find the RPC URL, the
// settlement contract, the market and the key: the settings of `node start` (node/config.ts), from flags,
// then environment variables, then <data-dir>/config.json (or --config FILE). A user who configured a
// node needs no more flags. One place, used by every such command.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
import { Wallet } from "../../protocol/ethers.ts";
import { type Hex, isHex } from "../../protocol/hex.ts";
import { SettlementClient } from "../../settlement/client.ts";
import { formatRevert, SettlementClientError, SettlementRevertError } from "../../settlement/errors.ts";
import { HttpJsonRpcProvider } from "../../settlement/provider.ts";
import { defaultDataDir, SETTINGS } from "../config.ts";
import { CONFIG_FILE } from "../constants.ts";
import { keystoreAddress, loadKeystore, readPassword, WalletError } from "../wallet.ts";
import { CliError, ExitCode, type ParsedArgs } from "./command.ts";

/** The options every chain-facing command takes (the same names as `node start`'s). */
export const CHAIN_OPTIONS: ParseArgsOptionsConfig = {
  "data-dir": { type: "string" },
  config: { type: "string" },
  "rpc-url": { type: "string" },
  contract: { type: "string" },
  "password-file": { type: "string" },
};

export const CHAIN_HELP = `Chain options (default: the node's settings: flags, then SMARTMARKET_* variables, then
<data-dir>/config.json, as for \`smartmarket node start\`):
  --data-dir DIR        the node's data dir: keystore.json, config.json (default ~/.smartmarket)
  --config FILE         JSON config file (default <data-dir>/config.json)
  --rpc-url URL         EVM JSON-RPC URL [SMARTMARKET_RPC_URL]
  --contract ADDRESS    settlement contract address [SMARTMARKET_CONTRACT]
  --password-file FILE  the keystore password, first line of FILE (or SMARTMARKET_PASSWORD)`;

export const MARKET_CHAIN_OPTION: ParseArgsOptionsConfig = { market: { type: "string" } };
export const MARKET_CHAIN_HELP =
  "  --market ID           the market (default: the node's configured market, when it has one)";

/** The node's settings as far as the chain is concerned; any of them may be missing. */
export interface ChainSettings {
  readonly dataDir: string;
  readonly configPath: string;
  readonly rpcUrl: string | null;
  readonly contract: Hex | null;
  readonly markets: readonly Hex[];
  readonly passwordFile: string | null;
}

function envName(key: string): string {
  return SETTINGS.find((s) => s.key === key)?.env ?? "";
}

function readConfigFile(path: string, explicit: boolean): Record<string, unknown> {
  if (!existsSync(path)) {
    if (explicit) throw new CliError(`config file ${path} does not exist`);
    return {};
  }
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new CliError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof file !== "object" || file === null || Array.isArray(file))
    throw new CliError(`config file ${path} must hold a JSON object`);
  return file as Record<string, unknown>;
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** Resolves the settings: flag > env > config file, like node/config.ts resolveConfig (nothing required). */
export function chainSettings(args: ParsedArgs, env: NodeJS.ProcessEnv): ChainSettings {
  const flag = (name: string) => text(args.values[name]);
  const dataDirGiven = flag("data-dir") ?? text(env.SMARTMARKET_DATA_DIR);
  const preliminary = resolve(dataDirGiven ?? defaultDataDir(env));
  const explicit = flag("config");
  const configPath = explicit ? resolve(explicit) : join(preliminary, CONFIG_FILE);
  const file = readConfigFile(configPath, explicit !== undefined);
  const fileDataDir = text(file.dataDir);
  const dataDir =
    dataDirGiven === undefined && fileDataDir !== undefined
      ? resolve(dirname(configPath), fileDataDir)
      : preliminary;
  const pick = (flagName: string, key: string) =>
    flag(flagName) ?? text(env[envName(key)]) ?? text(file[key]);

  const rpcUrl = pick("rpc-url", "rpcUrl") ?? null;
  const contractText = pick("contract", "contract");
  if (contractText !== undefined && !isHex(contractText, 20))
    throw new CliError(`contract "${contractText}" must be 0x followed by 40 hex digits`);
  let markets: string[] = [];
  const envMarkets = text(env.SMARTMARKET_MARKET);
  const fileMarkets = file.markets ?? file.market;
  if (envMarkets !== undefined) markets = envMarkets.split(",").map((m) => m.trim());
  else if (Array.isArray(fileMarkets))
    markets = fileMarkets.filter((m): m is string => typeof m === "string");
  else if (typeof fileMarkets === "string") markets = [fileMarkets];
  for (const m of markets)
    if (!isHex(m, 32)) throw new CliError(`market "${m}" must be 0x followed by 64 hex digits`);
  const passwordFile = pick("password-file", "passwordFile");
  return {
    dataDir,
    configPath,
    rpcUrl,
    contract: contractText === undefined ? null : (contractText.toLowerCase() as Hex),
    markets: [...new Set(markets.map((m) => m.toLowerCase() as Hex))],
    passwordFile: passwordFile === undefined ? null : resolve(passwordFile),
  };
}

export function requireRpcUrl(s: ChainSettings): string {
  if (s.rpcUrl === null)
    throw new CliError(`missing --rpc-url (or SMARTMARKET_RPC_URL, or "rpcUrl" in ${s.configPath})`);
  return s.rpcUrl;
}

export function requireContract(s: ChainSettings): Hex {
  if (s.contract === null)
    throw new CliError(`missing --contract (or SMARTMARKET_CONTRACT, or "contract" in ${s.configPath})`);
  return s.contract;
}

/** The market of a command: --market, else the node's only configured market. */
export function marketOf(s: ChainSettings, args: ParsedArgs): Hex {
  const given = text(args.values.market);
  if (given !== undefined) {
    if (!isHex(given, 32)) throw new CliError(`--market "${given}" is not a market id (0x + 64 hex digits)`);
    return given.toLowerCase() as Hex;
  }
  const [only, ...more] = s.markets;
  if (only !== undefined && more.length === 0) return only;
  if (only === undefined)
    throw new CliError(
      `missing --market (or SMARTMARKET_MARKET, or "markets" in ${s.configPath}); \`smartmarket market list\` shows the markets`,
    );
  throw new CliError(
    `the node has ${s.markets.length} markets; pick one with --market:\n  ${s.markets.join("\n  ")}`,
  );
}

/** Asks the RPC endpoint for its chain id (5 s timeout): a one-line failure (exit 1) when unreachable. */
export async function probeRpc(rpcUrl: string): Promise<bigint> {
  let res: Response;
  try {
    res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new CliError(`cannot reach the chain at ${rpcUrl}: ${why}`, ExitCode.FAILURE);
  }
  let body: { result?: unknown; error?: { message?: string } };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new CliError(`${rpcUrl} is not a JSON-RPC endpoint (HTTP ${res.status})`, ExitCode.FAILURE);
  }
  if (typeof body.result !== "string")
    throw new CliError(
      `${rpcUrl} did not answer eth_chainId: ${body.error?.message ?? `HTTP ${res.status}`}`,
      ExitCode.FAILURE,
    );
  return BigInt(body.result);
}

/** A chain connection for a command: the client signs with the node's key, or reads only. */
export interface ChainContext {
  readonly settings: ChainSettings;
  readonly client: SettlementClient;
  /** The node's wallet address (from its keystore). */
  readonly address: Hex;
  readonly chainId: bigint;
  close(): void;
}

/**
 * Opens the chain for a command. `key: "sign"` decrypts the keystore (transactions); `key: "address"`
 * reads only the keystore's address (no password), and `key: "none"` not even that: then the client only
 * reads. `contract` requires a settlement contract.
 */
export async function openChain(
  args: ParsedArgs,
  env: NodeJS.ProcessEnv,
  opts: { key: "sign" | "address" | "none"; contract: boolean },
): Promise<ChainContext> {
  const settings = chainSettings(args, env);
  const rpcUrl = requireRpcUrl(settings);
  const contract = opts.contract ? requireContract(settings) : undefined;
  let address: Hex;
  let privateKey: Hex;
  try {
    if (opts.key === "sign") {
      const w = await loadKeystore(settings.dataDir, readPassword(settings.passwordFile, env));
      address = w.address;
      privateKey = w.privateKey;
    } else {
      // Reads only: the client never sends, so a throwaway key will do.
      const throwaway = Wallet.createRandom();
      address =
        opts.key === "address" ? keystoreAddress(settings.dataDir) : (throwaway.address.toLowerCase() as Hex);
      privateKey = throwaway.privateKey as Hex;
    }
  } catch (err) {
    if (err instanceof WalletError) throw new CliError(err.message);
    throw err;
  }
  const chainId = await probeRpc(rpcUrl);
  const provider = new HttpJsonRpcProvider(rpcUrl, chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchStallTime: 0,
    pollingInterval: 200,
  });
  const client = new SettlementClient(
    { rpcUrl, privateKey, ...(contract ? { contract } : {}) },
    { provider },
  );
  return { settings, client, address, chainId, close: () => provider.destroy() };
}

/** A chain failure as a one-line CliError (exit 1): reverts by their custom error's name. */
export function chainFailure(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof SettlementRevertError)
    return new CliError(`${err.operation} reverted: ${formatRevert(err)}`, ExitCode.FAILURE);
  if (err instanceof SettlementClientError) {
    const first = err.message.split("\n")[0] ?? err.message;
    return new CliError(`chain: ${first.replace(/ \(request=.*$/, "")}`, ExitCode.FAILURE);
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new CliError(
    `chain: ${(msg.split("\n")[0] ?? msg).replace(/ \(request=.*$/, "")}`,
    ExitCode.FAILURE,
  );
}

/** Runs a command's chain work; closes the connection and turns failures into one-line errors. */
export async function withChain<T>(ctx: ChainContext, work: (ctx: ChainContext) => Promise<T>): Promise<T> {
  try {
    return await work(ctx);
  } catch (err) {
    throw chainFailure(err);
  } finally {
    ctx.close();
  }
}
