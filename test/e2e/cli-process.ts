// The CLI as a child process for e2e tests, and the pids a testnet run lists in its state.json.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { readState } from "../../testnet/network.ts";

const BIN = fileURLToPath(new URL("../../bin/smartmarket.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CliRun {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** `smartmarket <args>` under this Node, its output collected. */
export function spawnCli(args: string[]): CliRun {
  return collect(spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] }));
}

/**
 * `npm start --silent -- <args>` in the repository, as the README documents it (`npm start` is
 * `smartmarket testnet up`; `--silent` keeps npm's banner off stdout, so `--json` gives JSON only).
 */
export function spawnNpmStart(args: string[]): CliRun {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  return collect(
    spawn(npm, ["start", "--silent", "--", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }),
  );
}

function collect(child: ChildProcess): CliRun {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
  return { child, done };
}

/** Polls state.json until `until` settles; every pid it ever lists (launcher, chain, nodes, attacker). */
export async function watchPids(dir: string, until: Promise<unknown>): Promise<Set<number>> {
  const seen = new Set<number>();
  let finished = false;
  void until.then(() => {
    finished = true;
  });
  while (!finished) {
    const s = readState(dir);
    if (s) {
      for (const p of [s.launcherPid, s.anvilPid, ...s.nodes.map((n) => n.pid), s.adversary?.pid ?? -1])
        if (p > 0 && p !== process.pid) seen.add(p);
    }
    await sleep(200);
  }
  return seen;
}
