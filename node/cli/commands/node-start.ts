// `smartmarket node start`: run a market node until SIGINT/SIGTERM.
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
import { ApiServer } from "../../api-server.ts";
import { RpcChain } from "../../chain/rpc.ts";
import { ChainClock, pendingBlockTime } from "../../clock.ts";
import { ConfigError, type NodeConfig, resolveConfig, SETTINGS } from "../../config.ts";
import { createLogger } from "../../logger.ts";
import { DEFAULT_MEMORY_TRIM, MemoryTrimmer, v8CollectionFn } from "../../memory-trim.ts";
import { SmartNode } from "../../node.ts";
import { loadKeystore, readPassword, WalletError } from "../../wallet.ts";
import { type CliCommand, CliError, ExitCode } from "../command.ts";

/** Written while the node runs, so tools can find a node started on ephemeral ports. */
export const NODE_INFO_FILE = "node.json";

const options: ParseArgsOptionsConfig = { config: { type: "string" } };
for (const s of SETTINGS) {
  options[s.flag] =
    s.kind === "bool"
      ? { type: "boolean" }
      : s.kind === "list" || s.kind === "hex32list"
        ? { type: "string", multiple: true }
        : { type: "string" };
}

/** The TCP host and port a listen multiaddr binds (/ip4/0.0.0.0/tcp/7401), or null (another transport, port 0). */
export function listenPort(addr: string): { host: string; port: number } | null {
  const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/([0-9]+)(?:\/|$)/.exec(addr);
  if (!m || Number(m[3]) === 0) return null;
  return { host: m[2]!, port: Number(m[3]) };
}

/** Whether something already listens on host:port (binding it fails with EADDRINUSE). */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "EADDRINUSE"));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

export function portInUseMessage(port: number, flag: string): string {
  return `port ${port} is in use (${flag}): stop the other process or choose another port`;
}

/** The first port of the node's (libp2p listen addresses, then the control API) that is taken, as the message to print. */
export async function takenPort(
  config: Pick<NodeConfig, "listen" | "apiHost" | "apiPort">,
): Promise<string | null> {
  for (const addr of config.listen) {
    const tcp = listenPort(addr);
    if (tcp && (await portInUse(tcp.host, tcp.port))) return portInUseMessage(tcp.port, `--listen ${addr}`);
  }
  if (config.apiPort !== 0 && (await portInUse(config.apiHost, config.apiPort)))
    return portInUseMessage(config.apiPort, `--api-port ${config.apiPort}`);
  return null;
}

/** Whether an error (or its cause, or an AggregateError's parts) says an address is in use. */
function isAddressInUse(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== "object" || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (e.code === "EADDRINUSE" || (typeof e.message === "string" && e.message.includes("EADDRINUSE")))
    return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isAddressInUse(x, depth + 1))) return true;
  return isAddressInUse(e.cause, depth + 1);
}

/** The value placeholder each setting's flag shows in the help (`--listen MULTIADDR`). */
const PLACEHOLDERS: Readonly<Record<string, string>> = {
  "data-dir": "DIR",
  market: "ID",
  "rpc-url": "URL",
  contract: "ADDRESS",
  listen: "MULTIADDR",
  announce: "MULTIADDR",
  bootstrap: "MULTIADDR",
  "api-host": "HOST",
  "api-port": "PORT",
  "password-file": "FILE",
  "log-level": "LEVEL",
};

function flagWithValue(flag: string, kind: string): string {
  return kind === "bool" ? `--${flag}` : `--${flag} ${PLACEHOLDERS[flag] ?? "VALUE"}`;
}

export const nodeStartCommand: CliCommand = {
  name: "node start",
  summary:
    "run a node serving one or more markets (libp2p, gossip, epochs, settlement, control API) until Ctrl-C",
  usage: "[--config FILE] [options]",
  help: [
    "Settings come from flags, then environment variables, then a JSON config file (--config FILE, default",
    "<data-dir>/config.json, keys as in parentheses), then defaults.",
    "",
    "  --config FILE            JSON config file",
    ...SETTINGS.map((s) => `  ${flagWithValue(s.flag, s.kind).padEnd(24)} ${s.help} [${s.env}] (${s.key})`),
  ].join("\n"),
  options,
  handler: async (args, io) => {
    let config: NodeConfig;
    try {
      config = resolveConfig(args.values, io.env, args.values.config as string | undefined);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    // A taken port fails here, in one line, before the keystore and the chain are touched.
    const taken = await takenPort(config);
    if (taken !== null) throw new CliError(taken, ExitCode.FAILURE);
    const log = createLogger({
      level: config.logLevel,
      json: config.logJson,
      write: (l) => io.stderr.write(l),
    });
    let wallet: { address: `0x${string}`; privateKey: `0x${string}` };
    try {
      wallet = await loadKeystore(config.dataDir, readPassword(config.passwordFile, io.env));
    } catch (err) {
      if (err instanceof WalletError) throw new CliError(err.message, ExitCode.USAGE);
      throw err;
    }
    let chain: RpcChain;
    try {
      chain = await RpcChain.connect({
        rpcUrl: config.rpcUrl,
        contract: config.contract,
        privateKey: wallet.privateKey,
      });
    } catch (err) {
      throw new CliError((err as Error).message, ExitCode.FAILURE);
    }
    // The node runs on the chain's time (node/clock.ts): a first reading before it starts.
    const clock = new ChainClock({
      hostNow: hostClock(io.env),
      readChainTimeS: pendingBlockTime(chain.client.provider),
      logger: log.child("clock"),
    });
    await clock.start();
    const node = new SmartNode(
      {
        dataDir: config.dataDir,
        markets: config.markets,
        listen: config.listen,
        announce: config.announce,
        bootstrap: config.bootstrap,
        mdns: config.mdns,
        submit: config.submit,
      },
      { chain, wallet, logger: log, clock: clock.now, clockStatus: () => clock.status() },
    );
    clock.register(node.metrics.registry);
    try {
      await node.start();
    } catch (err) {
      clock.stop();
      await chain.close();
      if (isAddressInUse(err)) {
        const tcp = config.listen.map(listenPort).find((t) => t !== null);
        throw new CliError(
          portInUseMessage(tcp?.port ?? 0, `--listen ${config.listen.join(" ")}`),
          ExitCode.FAILURE,
        );
      }
      throw new CliError(`the node could not start: ${(err as Error).message}`, ExitCode.FAILURE);
    }
    const api = new ApiServer(
      { host: config.apiHost, port: config.apiPort },
      { node, logger: log.child("api") },
    );
    try {
      await api.start();
    } catch (err) {
      await node.stop();
      clock.stop();
      if (isAddressInUse(err))
        throw new CliError(
          portInUseMessage(config.apiPort, `--api-port ${config.apiPort}`),
          ExitCode.FAILURE,
        );
      throw new CliError(
        `the control API could not listen on ${config.apiHost}:${config.apiPort}: ${(err as Error).message}`,
        ExitCode.FAILURE,
      );
    }
    const infoPath = join(config.dataDir, NODE_INFO_FILE);
    writeFileSync(
      infoPath,
      `${JSON.stringify({
        pid: process.pid,
        apiUrl: api.url,
        peerId: node.peerId.toString(),
        wallet: wallet.address,
        addresses: node.host.getMultiaddrs().map((a) => a.toString()),
      })}\n`,
    );
    log.info("control API listening", { url: api.url });
    const trimmer = new MemoryTrimmer(DEFAULT_MEMORY_TRIM, {
      logger: log.child("memory"),
      registry: node.metrics.registry,
      gc: v8CollectionFn(),
    });
    trimmer.start();

    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info("shutting down", { signal });
        resolve();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      // Started by a launcher (the testnet) in a process group of its own: if the launcher dies, so do we.
      if (io.env.SMARTMARKET_EXIT_WITH_PARENT === "1") {
        const parent = process.ppid;
        const watch = setInterval(() => {
          if (process.ppid !== parent) {
            clearInterval(watch);
            stop("parent exited");
          }
        }, 1000);
        watch.unref();
      }
    });
    trimmer.stop();
    await api.stop();
    await node.stop();
    clock.stop();
    rmSync(infoPath, { force: true });
    return ExitCode.OK;
  },
};

/**
 * The host clock. SMARTMARKET_CLOCK_OFFSET_MS (an integer, ms) shifts it: fault injection for the skew
 * tests (test/fault/), so that one node process can run with its host clock off without touching the
 * machine's time.
 */
function hostClock(env: NodeJS.ProcessEnv): () => number {
  const raw = env.SMARTMARKET_CLOCK_OFFSET_MS;
  if (raw === undefined || raw === "") return Date.now;
  if (!/^-?\d{1,9}$/.test(raw)) {
    throw new CliError(
      `SMARTMARKET_CLOCK_OFFSET_MS must be an integer number of ms, got "${raw}"`,
      ExitCode.USAGE,
    );
  }
  const offsetMs = Number(raw);
  return () => Date.now() + offsetMs;
}
