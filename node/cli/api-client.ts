// How the CLI reaches a running node: the control API's URL and bearer token from flags, environment or
// the data dir, and the market a command is about. Every failure becomes a CliError (exit 2 for bad
// input, 1 when the node is unreachable or fails).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
import { type Hex, isHex } from "../../protocol/hex.ts";
import { ApiClient, ApiError } from "../api/client.ts";
import { defaultDataDir } from "../config.ts";
import { API_TOKEN_FILE, DEFAULT_API_PORT } from "../constants.ts";
import { CliError, ExitCode, type ParsedArgs } from "./command.ts";

/** Options every client command accepts. */
export const CLIENT_OPTIONS: ParseArgsOptionsConfig = {
  api: { type: "string" },
  token: { type: "string" },
  "data-dir": { type: "string" },
  json: { type: "boolean" },
};

export const CLIENT_HELP = `Connection options:
  --api URL          the node's control API (default $SMARTMARKET_API or http://127.0.0.1:${DEFAULT_API_PORT})
  --token TOKEN      bearer token (default $SMARTMARKET_API_TOKEN, else <data-dir>/${API_TOKEN_FILE})
  --data-dir DIR     the node's data dir, to read the token (default $SMARTMARKET_DATA_DIR or ~/.smartmarket)
  --json             print JSON instead of a table`;

/** The --market option of commands about one market. */
export const MARKET_OPTION: ParseArgsOptionsConfig = { market: { type: "string" } };
export const MARKET_HELP = "  --market ID      the market (default: the node's only market)";

/** The node's API client from the command's flags and environment. */
export function apiFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv): ApiClient {
  const dir = resolve((args.values["data-dir"] as string | undefined) ?? defaultDataDir(env));
  // A node started with an ephemeral API port records its URL in <data-dir>/node.json.
  let recorded: string | undefined;
  const info = join(dir, "node.json");
  if (args.values.api === undefined && existsSync(info)) {
    try {
      recorded = (JSON.parse(readFileSync(info, "utf8")) as { apiUrl?: string }).apiUrl;
    } catch {
      recorded = undefined;
    }
  }
  const api =
    (args.values.api as string | undefined) ??
    env.SMARTMARKET_API ??
    recorded ??
    `http://127.0.0.1:${DEFAULT_API_PORT}`;
  try {
    new URL(api);
  } catch {
    throw new CliError(`--api "${api}" is not a URL`);
  }
  let token = (args.values.token as string | undefined) ?? env.SMARTMARKET_API_TOKEN ?? null;
  if (token === null) {
    const file = join(dir, API_TOKEN_FILE);
    if (existsSync(file)) token = readFileSync(file, "utf8").trim();
  }
  return new ApiClient(api, token);
}

/** Runs an API call; an ApiError becomes a CliError with the right exit code. */
export async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ApiError) {
      throw new CliError(apiErrorText(err), err.isInputError ? ExitCode.USAGE : ExitCode.FAILURE);
    }
    throw err;
  }
}

/**
 * An API error as one line naming its code once: the client appends " (CODE)" to the node's message,
 * and some messages already start with "CODE: ", e.g. "EPOCH_OUT_OF_WINDOW: order for epoch 3 ...".
 */
export function apiErrorText(err: ApiError): string {
  const suffix = ` (${err.code})`;
  if (!err.message.endsWith(suffix)) return err.message;
  let text = err.message.slice(0, -suffix.length);
  // "CODE: CODE: detail" becomes "CODE: detail"; a message without its code keeps the " (CODE)".
  while (text.startsWith(`${err.code}: ${err.code}: `)) text = text.slice(err.code.length + 2);
  return text.includes(err.code) ? text : err.message;
}

/** Checks a market id given on the command line. */
export function parseMarketId(text: string, what = "--market"): Hex {
  if (!isHex(text, 32))
    throw new CliError(`${what} "${text}" is not a market id (0x followed by 64 hex digits)`);
  return text.toLowerCase() as Hex;
}

/** The market a command is about: --market, or the node's only market. */
export async function resolveMarket(client: ApiClient, args: ParsedArgs): Promise<Hex> {
  const given = args.values.market;
  if (typeof given === "string") return parseMarketId(given);
  const markets = await call(client.markets());
  if (markets.length === 1) return markets[0]!.id;
  if (markets.length === 0) {
    throw new CliError(
      "the node serves no market; join one with `smartmarket market join <id>`",
      ExitCode.FAILURE,
    );
  }
  throw new CliError(
    `the node serves ${markets.length} markets; pick one with --market:\n${markets.map((m) => `  ${m.id}`).join("\n")}`,
  );
}
