// The attacker process, as the launcher runs it: spawned like a node (its own process group, exits with
// its parent), as `node testnet/adversary/main.ts --dir DIR --mode MODE` — the same as `smartmarket
// testnet adversary`, without loading the CLI's node commands — ready once it has written ready.json,
// stopped with the testnet (SIGTERM, then SIGKILL).
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AdversaryMode } from "../types.ts";
import { adversaryPath } from "./files.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class AdversaryProcess {
  readonly dir: string;
  readonly mode: AdversaryMode;
  readonly logPath: string;
  child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  /** `dir`: the testnet folder (config.json must be written into its adversary/ folder first). */
  constructor(dir: string, mode: AdversaryMode) {
    this.dir = dir;
    this.mode = mode;
    this.logPath = adversaryPath(dir, "log");
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the attacker; resolves once it is connected (ready.json). */
  async start(): Promise<void> {
    const ready = adversaryPath(this.dir, "ready");
    rmSync(ready, { force: true });
    const log = createWriteStream(this.logPath, { flags: "a" });
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SMARTMARKET_")) env[k] = v;
    env.SMARTMARKET_EXIT_WITH_PARENT = "1";
    const child = spawn(process.execPath, [MAIN, "--dir", this.dir, "--mode", this.mode], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
      detached: true,
    });
    this.child = child;
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((r) => child.once("exit", () => r()));
    void this.exited.then(() => log.end());
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!existsSync(ready)) {
      if (!this.running)
        throw new Error(`the attacker exited at startup; see ${this.logPath}:\n${tail(this.logPath)}`);
      if (Date.now() > deadline) throw new Error(`the attacker did not start in time; see ${this.logPath}`);
      await sleep(50);
    }
  }

  /** SIGTERM, then SIGKILL after a timeout; resolves when the process has exited. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
