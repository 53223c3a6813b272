// One node process of the testnet: spawns `smartmarket node start` with the config the launcher wrote
// into its data dir, waits for its control API, and stops it (SIGTERM, then SIGKILL) or kills it.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiClient } from "../node/api/client.ts";
import type { Hex } from "../protocol/hex.ts";

const BIN = fileURLToPath(new URL("../bin/smartmarket.js", import.meta.url));
const NODE_START_TIMEOUT_MS = 60_000;
const NODE_STOP_TIMEOUT_MS = 10_000;
/** Default timeout of the launcher's API calls. */
const API_TIMEOUT_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** One node process of the testnet and a client of its control API. */
export class NodeProcess {
  readonly index: number;
  readonly dataDir: string;
  readonly logPath: string;
  readonly peerId: string;
  readonly p2pPort: number;
  readonly wallet: Hex;
  child: ChildProcess | null = null;
  /** Extra environment of the process (set before start; SMARTMARKET_ variables included). */
  env: Readonly<Record<string, string>> = {};
  apiUrl = "";
  token = "";
  private exited: Promise<void> = Promise.resolve();

  constructor(index: number, dataDir: string, peerId: string, p2pPort: number, wallet: Hex) {
    this.index = index;
    this.dataDir = dataDir;
    this.logPath = join(dataDir, "node.log");
    this.peerId = peerId;
    this.p2pPort = p2pPort;
    this.wallet = wallet;
  }

  get multiaddr(): string {
    return `/ip4/127.0.0.1/tcp/${this.p2pPort}/p2p/${this.peerId}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns `smartmarket node start` with this node's config; resolves once its API answers. */
  async start(): Promise<void> {
    rmSync(join(this.dataDir, "node.json"), { force: true });
    const log = createWriteStream(this.logPath, { flags: "a" });
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SMARTMARKET_")) env[k] = v;
    env.SMARTMARKET_EXIT_WITH_PARENT = "1";
    Object.assign(env, this.env);
    const child = spawn(
      process.execPath,
      [
        BIN,
        "node",
        "start",
        "--config",
        join(this.dataDir, "config.json"),
        "--password-file",
        join(this.dataDir, "password"),
      ],
      { stdio: ["ignore", "pipe", "pipe"], env, detached: true },
    );
    this.child = child;
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((r) => child.once("exit", () => r()));
    void this.exited.then(() => log.end());
    const deadline = Date.now() + NODE_START_TIMEOUT_MS;
    const info = join(this.dataDir, "node.json");
    // The node writes node.json once its API listens; it may be caught half written (not atomic).
    let parsed: { apiUrl: string } | null = null;
    while (parsed === null) {
      if (!this.running)
        throw new Error(`node ${this.index} exited at startup; see ${this.logPath}:\n${tail(this.logPath)}`);
      if (Date.now() > deadline)
        throw new Error(`node ${this.index} did not start in time; see ${this.logPath}`);
      parsed = readInfo(info);
      if (parsed === null) await sleep(50);
    }
    this.apiUrl = parsed.apiUrl;
    this.token = readFileSync(join(this.dataDir, "api-token"), "utf8").trim();
  }

  /** A typed client of this node's control API (node/api/client.ts); calls time out after `timeoutMs`. */
  client(timeoutMs = API_TIMEOUT_MS): ApiClient {
    return new ApiClient(this.apiUrl, this.token, { timeoutMs });
  }

  /** A raw call to this node's control API, for paths the typed client has no method for. */
  api<T>(path: string, init?: { method?: string; body?: unknown; timeoutMs?: number }): Promise<T> {
    return this.client(init?.timeoutMs).request<T>(init?.method ?? "GET", path, init?.body);
  }

  /** SIGTERM, then SIGKILL after a timeout; resolves when the process has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), NODE_STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the process without a chance to clean up (crash tests). */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill("SIGKILL");
    await this.exited;
  }
}

/** node.json once it is whole, else null. */
function readInfo(path: string): { apiUrl: string } | null {
  if (!existsSync(path)) return null;
  try {
    const info = JSON.parse(readFileSync(path, "utf8")) as { apiUrl?: unknown };
    return typeof info.apiUrl === "string" ? { apiUrl: info.apiUrl } : null;
  } catch {
    return null;
  }
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
