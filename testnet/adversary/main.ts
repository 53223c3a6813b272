// The attacker process's entry point. The launcher spawns this file directly with Node (`node
// testnet/adversary/main.ts --dir DIR --mode MODE`), so that the process loads the attacker's own import
// graph and nothing else: ethers, settlement/, protocol/ and the control API's client, no node code
// (test/unit/testnet-adversary.test.ts checks it). `smartmarket testnet adversary` runs the same thing.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { AdversaryMode } from "../types.ts";
import { runAttacker } from "./attacker.ts";
import { ADVERSARY_MODES, isAdversaryMode } from "./files.ts";

export interface AdversaryRunOptions {
  /** The testnet folder. */
  readonly dir: string;
  /** Overrides the config's mode. */
  readonly mode?: AdversaryMode;
  /** With "1", stop when the parent process exits (the launcher sets it, as for its nodes). */
  readonly exitWithParent: boolean;
  /** Where log lines go (the launcher pipes stdout into adversary/adversary.log). */
  readonly write: (text: string) => void;
}

/** Runs the attacker until SIGINT, SIGTERM or the parent's exit; resolves with an exit code. */
export async function runAdversaryProcess(opts: AdversaryRunOptions): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // Started by the launcher in a process group of its own: if the launcher dies, so does the attacker.
  let watch: NodeJS.Timeout | null = null;
  if (opts.exitWithParent) {
    const parent = process.ppid;
    watch = setInterval(() => {
      if (process.ppid !== parent) stop();
    }, 1000);
  }
  const log = (line: string) => opts.write(`${new Date().toISOString()} ${line}\n`);
  try {
    await runAttacker({
      dir: opts.dir,
      ...(opts.mode ? { mode: opts.mode } : {}),
      log,
      signal: controller.signal,
    });
    log("stopped");
    return 0;
  } catch (err) {
    log(`the attacker failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    if (watch) clearInterval(watch);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { dir: { type: "string" }, mode: { type: "string" } },
    strict: true,
  });
  const mode = values.mode;
  if (!values.dir || (mode !== undefined && !isAdversaryMode(mode))) {
    process.stderr.write(`usage: main.ts --dir DIR [--mode ${ADVERSARY_MODES.join("|")}]\n`);
    process.exitCode = 2;
  } else {
    process.exitCode = await runAdversaryProcess({
      dir: resolve(values.dir),
      ...(mode ? { mode } : {}),
      exitWithParent: process.env.SMARTMARKET_EXIT_WITH_PARENT === "1",
      write: (text) => process.stdout.write(text),
    });
  }
}
