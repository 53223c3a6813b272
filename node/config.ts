// Node configuration from flags, environment variables and a JSON config file, in that precedence,
// over defaults. One table describes every setting, so the three sources cannot drift apart.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Hex, isHex } from "../protocol/hex.ts";
import { CONFIG_FILE, DEFAULT_API_PORT, DEFAULT_P2P_PORT } from "./constants.ts";

export interface NodeConfig {
  dataDir: string;
  /** The markets to serve (at least one); more can be joined at run time. */
  markets: Hex[];
  rpcUrl: string;
  contract: Hex;
  listen: string[];
  announce: string[];
  bootstrap: string[];
  mdns: boolean;
  apiHost: string;
  apiPort: number;
  passwordFile: string | null;
  logLevel: "debug" | "info" | "warn" | "error";
  logJson: boolean;
  submit: boolean;
}

type Kind = "string" | "list" | "bool" | "port" | "hex32list" | "hex20" | "level";

interface Setting {
  readonly key: keyof NodeConfig;
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly help: string;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: "dataDir",
    flag: "data-dir",
    env: "SMARTMARKET_DATA_DIR",
    kind: "string",
    help: "data directory (default ~/.smartmarket)",
  },
  {
    key: "markets",
    flag: "market",
    env: "SMARTMARKET_MARKET",
    kind: "hex32list",
    help: "market id to serve, 0x + 64 hex (repeatable; the env variable takes a comma-separated list)",
  },
  { key: "rpcUrl", flag: "rpc-url", env: "SMARTMARKET_RPC_URL", kind: "string", help: "EVM JSON-RPC URL" },
  {
    key: "contract",
    flag: "contract",
    env: "SMARTMARKET_CONTRACT",
    kind: "hex20",
    help: "settlement contract address",
  },
  {
    key: "listen",
    flag: "listen",
    env: "SMARTMARKET_LISTEN",
    kind: "list",
    help: `libp2p listen multiaddr (repeatable; default /ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT})`,
  },
  {
    key: "announce",
    flag: "announce",
    env: "SMARTMARKET_ANNOUNCE",
    kind: "list",
    help: "multiaddr to announce instead of the listen ones (repeatable)",
  },
  {
    key: "bootstrap",
    flag: "bootstrap",
    env: "SMARTMARKET_BOOTSTRAP",
    kind: "list",
    help: "bootstrap peer multiaddr with /p2p/<id> (repeatable)",
  },
  {
    key: "mdns",
    flag: "mdns",
    env: "SMARTMARKET_MDNS",
    kind: "bool",
    help: "discover peers on the LAN by mDNS (default true; --no-mdns)",
  },
  {
    key: "apiHost",
    flag: "api-host",
    env: "SMARTMARKET_API_HOST",
    kind: "string",
    help: "control API address (default 127.0.0.1)",
  },
  {
    key: "apiPort",
    flag: "api-port",
    env: "SMARTMARKET_API_PORT",
    kind: "port",
    help: `control API port (default ${DEFAULT_API_PORT}; 0 = any)`,
  },
  {
    key: "passwordFile",
    flag: "password-file",
    env: "SMARTMARKET_PASSWORD_FILE",
    kind: "string",
    help: "file holding the keystore password (or set SMARTMARKET_PASSWORD)",
  },
  {
    key: "logLevel",
    flag: "log-level",
    env: "SMARTMARKET_LOG_LEVEL",
    kind: "level",
    help: "debug | info | warn | error (default info)",
  },
  {
    key: "logJson",
    flag: "log-json",
    env: "SMARTMARKET_LOG_JSON",
    kind: "bool",
    help: "log JSON lines instead of text",
  },
  {
    key: "submit",
    flag: "submit",
    env: "SMARTMARKET_SUBMIT",
    kind: "bool",
    help: "submit settlements when ranked (default true; --no-submit)",
  },
];

export class ConfigError extends Error {
  readonly code = "BAD_CONFIG" as const;
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A list from a JSON array, a comma-separated string, or a single string. */
function stringList(raw: unknown, where: string): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : null;
  if (!list || list.some((x) => typeof x !== "string"))
    throw new ConfigError(`${where} must be a list of strings`);
  return (list as string[]).map((x) => x.trim()).filter((x) => x !== "");
}

function coerce(s: Setting, raw: unknown, source: string): unknown {
  const where = `${s.flag} (${source})`;
  switch (s.kind) {
    case "string":
      if (typeof raw !== "string" || raw === "") throw new ConfigError(`${where} must be a non-empty string`);
      return raw;
    case "list":
      return stringList(raw, where);
    case "hex32list": {
      const list = stringList(raw, where);
      for (const x of list) {
        if (!isHex(x, 32)) throw new ConfigError(`${where}: "${x}" must be 0x followed by 64 hex digits`);
      }
      return [...new Set(list.map((x) => x.toLowerCase()))];
    }
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new ConfigError(`${where} must be true or false`);
    case "port": {
      const n =
        typeof raw === "number"
          ? raw
          : typeof raw === "string" && /^[0-9]+$/.test(raw)
            ? Number(raw)
            : Number.NaN;
      if (!Number.isInteger(n) || n < 0 || n > 65535)
        throw new ConfigError(`${where} must be a port number 0-65535`);
      return n;
    }
    case "hex20":
      if (!isHex(raw, 20)) throw new ConfigError(`${where} must be 0x followed by 40 hex digits`);
      return (raw as string).toLowerCase();
    case "level":
      if (raw !== "debug" && raw !== "info" && raw !== "warn" && raw !== "error") {
        throw new ConfigError(`${where} must be debug, info, warn or error`);
      }
      return raw;
  }
}

export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  return env.SMARTMARKET_DATA_DIR ?? join(homedir(), ".smartmarket");
}

/**
 * Resolves the configuration. `flags` are parsed CLI values keyed by flag name (`--no-x` already
 * turned into x = false by the caller); `configPath` is an explicit --config file.
 */
export function resolveConfig(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  configPath?: string,
): NodeConfig {
  const values: Partial<Record<keyof NodeConfig, unknown>> = {};
  // The data dir decides where the default config file is, and the config file may name the data dir:
  // flag > env > the file's "dataDir" (relative to the file) > ~/.smartmarket.
  const dataDirFlag = typeof flags["data-dir"] === "string" ? (flags["data-dir"] as string) : undefined;
  const dataDirEnv = env.SMARTMARKET_DATA_DIR || undefined;
  const preliminary = resolve(dataDirFlag ?? dataDirEnv ?? defaultDataDir(env));
  const filePath = configPath ? resolve(configPath) : join(preliminary, CONFIG_FILE);
  if (configPath && !existsSync(filePath)) throw new ConfigError(`config file ${filePath} does not exist`);
  if (existsSync(filePath)) {
    let file: unknown;
    try {
      file = JSON.parse(readFileSync(filePath, "utf8"));
    } catch (err) {
      throw new ConfigError(`config file ${filePath} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof file !== "object" || file === null || Array.isArray(file)) {
      throw new ConfigError(`config file ${filePath} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(file)) {
      // "market" (one id) is what a one-market node's config held before markets were a list.
      const s = SETTINGS.find((x) => x.key === (k === "market" ? "markets" : k));
      if (!s) throw new ConfigError(`config file ${filePath}: unknown setting "${k}"`);
      values[s.key] = coerce(s, v, filePath);
    }
  }
  for (const s of SETTINGS) {
    const e = env[s.env];
    if (e !== undefined && e !== "") values[s.key] = coerce(s, e, `env ${s.env}`);
  }
  for (const s of SETTINGS) {
    const f = flags[s.flag];
    if (f !== undefined) values[s.key] = coerce(s, f, "flag");
  }
  const fileDataDir = values.dataDir as string | undefined;
  const dataDir =
    dataDirFlag !== undefined || dataDirEnv !== undefined || fileDataDir === undefined
      ? preliminary
      : resolve(dirname(filePath), fileDataDir);
  for (const required of ["markets", "rpcUrl", "contract"] as const) {
    const v = values[required];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) {
      const s = SETTINGS.find((x) => x.key === required)!;
      throw new ConfigError(`missing --${s.flag} (or ${s.env}, or "${s.key}" in ${filePath})`);
    }
  }
  return {
    dataDir,
    markets: values.markets as Hex[],
    rpcUrl: values.rpcUrl as string,
    contract: values.contract as Hex,
    listen: (values.listen as string[] | undefined) ?? [`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`],
    announce: (values.announce as string[] | undefined) ?? [],
    bootstrap: (values.bootstrap as string[] | undefined) ?? [],
    mdns: (values.mdns as boolean | undefined) ?? true,
    apiHost: (values.apiHost as string | undefined) ?? "127.0.0.1",
    apiPort: (values.apiPort as number | undefined) ?? DEFAULT_API_PORT,
    passwordFile: (values.passwordFile as string | undefined) ?? null,
    logLevel: (values.logLevel as NodeConfig["logLevel"] | undefined) ?? "info",
    logJson: (values.logJson as boolean | undefined) ?? false,
    submit: (values.submit as boolean | undefined) ?? true,
  };
}
