// The CLI's client of a running node's control API. Finds the URL and the bearer token from flags,
// environment or the data dir, and turns every failure into a CliError with a clear message.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
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

export class ApiClient {
  readonly url: string;
  private readonly token: string | null;

  constructor(url: string, token: string | null) {
    this.url = url.replace(/\/+$/, "");
    this.token = token;
  }

  static fromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv): ApiClient {
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

  async get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  /** One call to the API; `timeoutMs` bounds it (default 15 s). Every failure is a CliError. */
  async request<T>(method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<T> {
    if (this.token === null) {
      throw new CliError(
        `no API token: pass --token, set SMARTMARKET_API_TOKEN, or --data-dir of the node (it holds ${API_TOKEN_FILE})`,
        ExitCode.FAILURE,
      );
    }
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(
        `cannot reach the node at ${this.url} (${cause}); is it running? Start one with \`smartmarket node start\``,
        ExitCode.FAILURE,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    if (res.status === 401) {
      throw new CliError(
        `the node at ${this.url} refused the API token (check --token / --data-dir)`,
        ExitCode.FAILURE,
      );
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | null)?.error;
      const code = res.status >= 400 && res.status < 500 ? ExitCode.USAGE : ExitCode.FAILURE;
      throw new CliError(e ? `${e.message} (${e.code})` : `HTTP ${res.status}: ${text.slice(0, 200)}`, code);
    }
    return json as T;
  }
}
