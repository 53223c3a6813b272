#!/usr/bin/env node
// Entry point of the `smartmarket` command. The code needs Node >= 22.13 (libp2p needs
// Promise.withResolvers; the sources are TypeScript run by Node's type stripping). The repo pins
// Node 24 as an npm dependency: when this file is started by an older system Node, it re-runs itself
// with the pinned one, forwarding arguments, stdio, signals and the exit code.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
const supported = major > 22 || (major === 22 && minor >= 13);

// A long-running node keeps V8's young generation small: at idle it is most of the difference between
// ~130 MB and ~150 MB of resident memory, and a device has little to spare. The flag only works at
// startup, so the process replaces itself (execve, no extra process) with the flag set.
// Fewer V8 worker threads and glibc malloc arenas save another ~10 MB (measured on 2 cores).
const MEMORY_FLAGS = ["--max-semi-space-size=1", "--v8-pool-size=1"];
const isDaemon = process.argv[2] === "node" && process.argv[3] === "start";
if (
  supported &&
  isDaemon &&
  !process.execArgv.includes(MEMORY_FLAGS[0]) &&
  typeof process.execve === "function"
) {
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...MEMORY_FLAGS, ...process.argv.slice(1)],
    { MALLOC_ARENA_MAX: "2", ...process.env },
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
