#!/usr/bin/env node
// Entry point of the `smartmarket` command. The code needs Node >= 22.13 (libp2p needs
// Promise.withResolvers; the sources are TypeScript run by Node's type stripping). The repo pins
// Node 24 as an npm dependency: when this file is started by an older system Node, it re-runs itself
// with the pinned one, forwarding arguments, stdio, signals and the exit code.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import module from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
const supported = major > 22 || (major === 22 && minor >= 13);

// A long-running node's memory flags; they only work at startup, so the process replaces itself (execve,
// no extra process) with them set.
// - V8's young generation may grow to 16 MB per semi-space (its default), for a node under load: with
//   1 MB it scavenged every ~75 orders and its CPU per order was ~20 % higher at 2,000 orders/s. A grown
//   young generation is ~30 MB of resident memory that V8 keeps while the process idles, so the node
//   gives it back when it idles (node/memory-trim.ts; not with --expose-gc here: that flag changes
//   V8's flag hash, and the compile cache filled below would not match).
// - Fewer V8 worker threads and glibc malloc arenas save another ~10 MB (measured on 2 cores).
const MEMORY_FLAGS = ["--max-semi-space-size=16", "--v8-pool-size=1"];
const isDaemon = process.argv[2] === "node" && process.argv[3] === "start";

// Node's compile cache (a folder under the OS's temp dir) keeps every module's compiled code and, for
// the TypeScript sources, their type-stripped text. Every command starts faster with it (~0.9 → 0.65 s
// to load a node's modules), and a process that finds all its TypeScript there never loads Node's type
// stripper: ~20 MB of resident memory a long-running node would otherwise keep for nothing.
const cache = supported ? module.enableCompileCache?.() : undefined;
const cacheDir =
  cache && cache.status !== module.constants.compileCacheStatus.DISABLED ? cache.directory : undefined;

/** The sources a node process strips, as a fingerprint: path, size and mtime of each, and Node's version. */
function sourcesFingerprint() {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const hash = createHash("sha256").update(process.version);
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) {
        const st = statSync(path);
        hash.update(`${relative(root, path)}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  for (const dir of ["node", "protocol", "clearing", "settlement"]) walk(join(root, dir));
  return hash.digest("hex");
}

/**
 * Before a node process replaces itself (below), it loads its modules once if the cache does not hold
 * these sources yet (first start, or the code changed), so that the process after the exec finds them
 * all stripped; the stripper's memory goes with the replaced image. A stamp in the cache folder records
 * the sources it was filled for. Failing to fill it costs memory, never correctness.
 */
async function fillCompileCache() {
  if (cacheDir === undefined) return;
  const stamp = join(cacheDir, "smartmarket-node.stamp");
  const fingerprint = sourcesFingerprint();
  try {
    if (readFileSync(stamp, "utf8") === fingerprint) return;
  } catch {
    // no stamp yet
  }
  await import("../node/cli/main.ts");
  await import("../node/cli/commands.ts");
  module.flushCompileCache();
  writeFileSync(stamp, fingerprint);
}

if (
  supported &&
  isDaemon &&
  !process.execArgv.includes(MEMORY_FLAGS[0]) &&
  typeof process.execve === "function"
) {
  try {
    await fillCompileCache();
  } catch (err) {
    process.stderr.write(`smartmarket: compile cache not filled (${err?.message ?? err}); starting anyway\n`);
  }
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...MEMORY_FLAGS, ...process.argv.slice(1)],
    {
      MALLOC_ARENA_MAX: "2",
      // glibc adapts its mmap threshold upwards (up to 32 MB) after large blocks are freed, and keeps
      // freed memory up to twice that at the top of its heap: a node kept ~12 MB of its startup's peak
      // this way. Fixed at 128 KiB (glibc's initial value), large blocks are mapped on their own and
      // given back when freed, and the heap's top is trimmed.
      MALLOC_MMAP_THRESHOLD_: "131072",
      MALLOC_TRIM_THRESHOLD_: "131072",
      ...process.env,
    },
  );
}

if (supported) {
  // The full command set is composed at the top of the import graph (testnet/ imports node/). A node
  // process (`smartmarket node …`) loads only the node's commands, which starts faster.
  const { main } = await import("../node/cli/main.ts");
  const commands =
    process.argv[2] === "node"
      ? (await import("../node/cli/commands.ts")).NODE_COMMANDS
      : (await import("../testnet/cli.ts")).ALL_COMMANDS;
  await main(commands);
} else {
  const pinned = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `smartmarket needs Node.js >= 22.13 (this is ${process.version}); run \`npm install\` in the repository to get the pinned Node 24\n`,
    );
    process.exit(1);
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("exit", (code, signal) => {
    process.exitCode = code ?? (signal ? 128 + 2 : 1);
  });
}
