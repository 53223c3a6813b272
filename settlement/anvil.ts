// The embedded local chain: starts anvil (the binary inside the @foundry-rs/anvil-<platform> npm package,
// nothing is downloaded at run time) on a free 127.0.0.1 port, and deploys the settlement contracts.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "../protocol/hex.ts";
import { SettlementClient, type TestTokenSpec } from "./client.ts";
import { ENERGY_TEST_TOKENS } from "./test-tokens.ts";

export interface AnvilOptions {
  /** Chain id; anvil's default is 31337. */
  readonly chainId?: bigint | number;
  /** Mine a block every `blockTimeS` seconds instead of one block per transaction (automine, the default). */
  readonly blockTimeS?: number;
  /** Number of funded dev accounts (default 10). */
  readonly accounts?: number;
  /** Ether of every dev account (default 10000). */
  readonly balanceEth?: number;
  /** BIP-39 mnemonic of the dev accounts (default anvil's "test test ... junk"). */
  readonly mnemonic?: string;
  /** Timestamp of the genesis block, unix seconds (default: now). */
  readonly genesisTimestampS?: bigint | number;
  /** Block gas limit (default 30,000,000). */
  readonly gasLimit?: bigint | number;
  /** EVM hardfork (default: anvil's latest). */
  readonly hardfork?: string;
  /** Further command-line arguments. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for JSON-RPC to answer (default 20 s). */
  readonly startupTimeoutMs?: number;
  /** Every line anvil prints (it logs each RPC method); dropped by default. */
  readonly onOutput?: (line: string) => void;
}

export interface AnvilAccount {
  readonly address: Hex;
  readonly privateKey: Hex;
}

export interface AnvilInstance {
  readonly rpcUrl: string;
  readonly chainId: bigint;
  readonly accounts: readonly AnvilAccount[];
  /** The anvil process id. */
  readonly pid: number;
  /** Stops anvil (SIGTERM, SIGKILL after 5 s) and resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

/** anvil could not be found, started, or did not answer in time. */
export class AnvilError extends Error {
  readonly code = "ANVIL_UNAVAILABLE" as const;
  constructor(message: string) {
    super(message);
    this.name = "AnvilError";
  }
}

const ARCH: Readonly<Record<string, string>> = { x64: "amd64", arm64: "arm64" };

/** Path of the anvil binary: $SMARTMARKET_ANVIL_BIN, else the one in @foundry-rs/anvil-<os>-<arch>. */
export function anvilBinaryPath(): string {
  const override = process.env.SMARTMARKET_ANVIL_BIN;
  if (override) return override;
  const arch = ARCH[process.arch];
  const exe = process.platform === "win32" ? "anvil.exe" : "anvil";
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch ?? process.arch}`;
  try {
    return createRequire(import.meta.url).resolve(`${pkg}/bin/${exe}`);
  } catch {
    throw new AnvilError(
      `anvil binary not found: ${pkg} is not installed (npm install; it is an optional dependency of @foundry-rs/anvil)`,
    );
  }
}

// Every running anvil of this process, killed synchronously if the process exits without stopping them.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function rpcAnswers(rpcUrl: string): Promise<bigint | null> {
  try {
    const id = await jsonRpc(rpcUrl, "eth_chainId", [], 1000);
    return typeof id === "string" ? BigInt(id) : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Starts anvil on 127.0.0.1 at a port the OS picks (`--port 0`, read back from anvil's "Listening on" line,
 * so there is no race for a port), waits until JSON-RPC answers, and returns its URL and dev accounts.
 */
export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilInstance> {
  const bin = anvilBinaryPath();
  const dir = mkdtempSync(join(tmpdir(), "smartmarket-anvil-"));
  const configOut = join(dir, "anvil.json");
  const args = ["--host", "127.0.0.1", "--port", "0", "--config-out", configOut];
  if (options.chainId !== undefined) args.push("--chain-id", String(options.chainId));
  if (options.blockTimeS !== undefined) args.push("--block-time", String(options.blockTimeS));
  if (options.accounts !== undefined) args.push("--accounts", String(options.accounts));
  if (options.balanceEth !== undefined) args.push("--balance", String(options.balanceEth));
  if (options.mnemonic !== undefined) args.push("--mnemonic", options.mnemonic);
  if (options.genesisTimestampS !== undefined) args.push("--timestamp", String(options.genesisTimestampS));
  if (options.gasLimit !== undefined) args.push("--gas-limit", String(options.gasLimit));
  if (options.hardfork !== undefined) args.push("--hardfork", options.hardfork);
  args.push(...(options.extraArgs ?? []));

  installExitHook();
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const exited = waitForExit(child).then(() => {
    running.delete(child);
    rmSync(dir, { recursive: true, force: true });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await exited;
  };

  // anvil prints its banner, then "Listening on <host>:<port>", then one line per RPC call. The pipes are
  // drained for the process's whole life: a full pipe would block anvil.
  const tail: string[] = [];
  let listening: string | null = null;
  let spawnError: Error | null = null;
  child.on("error", (err) => {
    spawnError = err;
  });
  const onLine = (line: string) => {
    options.onOutput?.(line);
    if (listening === null) {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      const m = /Listening on (\S+):(\d+)/.exec(line);
      if (m) listening = `http://${m[1]}:${m[2]}`;
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        onLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
      }
    });
  }

  const deadline = Date.now() + (options.startupTimeoutMs ?? 20_000);
  try {
    let chainId: bigint | null = null;
    while (chainId === null) {
      if (spawnError) throw new AnvilError(`cannot start ${bin}: ${(spawnError as Error).message}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new AnvilError(
          `anvil exited (${child.exitCode ?? child.signalCode}) at startup:\n${tail.join("\n")}`,
        );
      }
      if (Date.now() > deadline) throw new AnvilError(`anvil did not answer in time:\n${tail.join("\n")}`);
      if (listening !== null) chainId = await rpcAnswers(listening);
      if (chainId === null) await sleep(20);
    }
    const config = JSON.parse(readFileSync(configOut, "utf8")) as {
      available_accounts: string[];
      private_keys: string[];
    };
    const accounts = config.available_accounts.map((address, i) => ({
      address: address.toLowerCase() as Hex,
      privateKey: (config.private_keys[i] ?? "").toLowerCase() as Hex,
    }));
    const rpcUrl = listening as unknown as string;
    // A chain started "now" runs on the host's clock: its startup may have put it a second behind.
    if (options.genesisTimestampS === undefined) await alignDevChainClock(rpcUrl);
    return { rpcUrl, chainId, accounts, pid: child.pid ?? -1, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Readings of the chain's time before alignDevChainClock gives up (each straddled a second boundary). */
const ALIGN_READINGS = 20;

/**
 * Puts a dev chain's clock back on the host's when it runs whole seconds behind; returns the seconds added
 * (0: it was not behind). Throws AnvilError if no reading of ALIGN_READINGS fell within one host second
 * (each a round trip of milliseconds: the chain would then be too slow to run a testnet on anyway).
 *
 * anvil stamps blocks (and the pending block) with the wall clock's second plus an offset it fixes at
 * startup: its genesis timestamp minus the second its clock starts in. A startup that straddles a second
 * leaves the offset at −1 s for the chain's whole life. Seen in CI under load: genesis 07:42:51, blocks of
 * the next second stamped 07:42:50. The nodes follow the chain's time (node/clock.ts), the launcher,
 * devices and tests the host's: orders sent 150 ms into an epoch by the host's clock landed in the one
 * before, a batch signed for the epoch just opened was refused whole as not yet open, and the clock-skew
 * fault test measured the chain 0.7–1.7 s behind the host. Read at a host time t0..t1 within one second,
 * the pending block's timestamp is that second plus the offset; evm_increaseTime adds the missing seconds
 * to it (nothing is mined).
 */
export async function alignDevChainClock(rpcUrl: string, hostNow: () => number = Date.now): Promise<number> {
  for (let i = 0; i < ALIGN_READINGS; i++) {
    const t0 = hostNow();
    const block = (await jsonRpc(rpcUrl, "eth_getBlockByNumber", ["pending", false])) as {
      timestamp?: string;
    } | null;
    const t1 = hostNow();
    const second = Math.floor(t0 / 1000); // host ms to whole seconds, rounded down as the chain's are
    if (Math.floor(t1 / 1000) !== second || typeof block?.timestamp !== "string") continue;
    const behindS = second - Number(BigInt(block.timestamp));
    if (behindS <= 0) return 0;
    await jsonRpc(rpcUrl, "evm_increaseTime", [behindS]);
    return behindS;
  }
  throw new AnvilError(
    `could not read the chain's time within one second of the host's clock in ${ALIGN_READINGS} tries: its clock may run behind`,
  );
}

/** One JSON-RPC call; its error as an AnvilError. */
async function jsonRpc(
  rpcUrl: string,
  method: string,
  params: unknown[],
  timeoutMs = 5000,
): Promise<unknown> {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message?: string } };
  if (body.error) throw new AnvilError(`${method}: ${body.error.message ?? JSON.stringify(body.error)}`);
  return body.result;
}

export interface LocalDeploymentOptions {
  readonly rpcUrl: string;
  /** The deployer's key (e.g. an anvil dev account). */
  readonly privateKey: Hex;
  readonly base?: TestTokenSpec;
  readonly quote?: TestTokenSpec;
}

export interface LocalDeployment {
  readonly chainId: bigint;
  readonly settlement: Hex;
  readonly base: Hex;
  readonly quote: Hex;
  readonly deployer: Hex;
}

/**
 * Deploys the settlement contract and two TestTokens (mintable by anyone) on a running chain; starts
 * nothing. Returns their addresses.
 */
export async function deployLocal(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  const client = new SettlementClient({ rpcUrl: options.rpcUrl, privateKey: options.privateKey });
  try {
    const deployed = await client.deployContracts({
      base: options.base ?? ENERGY_TEST_TOKENS.base,
      quote: options.quote ?? ENERGY_TEST_TOKENS.quote,
    });
    return { chainId: await client.chainId(), deployer: client.address, ...deployed };
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- dev-chain RPC (anvil, hardhat)

/** The minimal provider surface the dev-chain helpers need (an ethers JsonRpcProvider has it). */
export interface RpcSender {
  send(method: string, params: unknown[]): Promise<unknown>;
}

/** The next block's timestamp will be exactly `timestampS` (must be later than the latest block's). */
export async function setNextBlockTimestamp(rpc: RpcSender, timestampS: bigint): Promise<void> {
  await rpc.send("evm_setNextBlockTimestamp", [`0x${timestampS.toString(16)}`]);
}

/** Mines one empty block, at `timestampS` if given. */
export async function mineBlock(rpc: RpcSender, timestampS?: bigint): Promise<void> {
  if (timestampS !== undefined) await setNextBlockTimestamp(rpc, timestampS);
  await rpc.send("evm_mine", []);
}

/** The latest block's timestamp, unix seconds. */
export async function latestTimestamp(rpc: RpcSender): Promise<bigint> {
  const block = (await rpc.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
  return BigInt(block.timestamp);
}

/** Sets an account's ether balance (wei). */
export async function setBalance(rpc: RpcSender, address: Hex, wei: bigint): Promise<void> {
  await rpc.send("anvil_setBalance", [address, `0x${wei.toString(16)}`]);
}
