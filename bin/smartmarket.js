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
