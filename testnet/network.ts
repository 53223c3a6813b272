// The local testnet: an embedded chain (anvil), the settlement contract and two tokens, a market, N
// node processes that find each other by bootstrap, and simulated devices that sign their own orders
// and send them to their node's control API. Everything it starts, it stops.
//
// Layout of the testnet folder:
//   state.json           pids, ports, urls of the running testnet (for `testnet status` / `down`)
//   anvil.log            the chain's log
//   node-<i>/            data dir of node i: keystore, peer key, SQLite db, api-token, node.json
//   node-<i>/node.log    its log
//   report.json, report.html   written on exit
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateKeyPairFromSeed, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { ApiClient } from "../node/cli/api-client.ts";
import { PEER_KEY_FILE } from "../node/constants.ts";
import { createKeystore } from "../node/wallet.ts";
import { domainSeparator, makeDomain, orderDigestBytes } from "../protocol/eip712.ts";
import { epochAtMs, epochEndMs, epochStartMs } from "../protocol/epoch.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import { type Order, orderToJson } from "../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../protocol/signature.ts";
import { type AnvilInstance, deployLocal, startAnvil } from "../settlement/anvil.ts";
import { SettlementClient } from "../settlement/client.ts";
import { Asset } from "../settlement/encoding.ts";
import { deriveSecretKey } from "./rng.ts";
import type {
  DeviceSpec,
  EpochOutcome,
  EpochReport,
  MarketInfo,
  NodeEpochView,
  Scenario,
  ScenarioFactory,
  TestnetReport,
} from "./types.ts";

const BIN = fileURLToPath(new URL("../bin/smartmarket.js", import.meta.url));
const KEYSTORE_PASSWORD = "smartmarket-testnet";
/** scrypt N for throwaway testnet keystores (fast to decrypt; never use for real keys). */
const TESTNET_SCRYPT_N = 1 << 12;
const NODE_START_TIMEOUT_MS = 60_000;
const NODE_STOP_TIMEOUT_MS = 10_000;
const NODE_ETH_WEI = 10n ** 21n;
/** Devices send their orders this far into the epoch (fraction in eighths of the epoch length). */
const DEVICE_SEND_EIGHTHS = 1n;

export interface TestnetOptions {
  readonly nodes: number;
  /** Stop after this many epochs with device orders; null = until stop() (Ctrl-C). */
  readonly epochs: number | null;
  readonly epochSeconds: number;
  readonly scenario: ScenarioFactory;
  readonly scenarioName: string;
  readonly seed: string;
  readonly dir: string;
  readonly feeBps?: bigint;
  /** Progress lines (setup steps); default: dropped. */
  readonly log?: (line: string) => void;
}

/** Called about 4 times a second with the final rows so far and the current epoch's progress. */
export type ProgressListener = (
  rows: readonly EpochReport[],
  current: { epoch: bigint; progress: number; orders: number },
) => void;

export interface TestnetState {
  readonly launcherPid: number;
  readonly anvilPid: number;
  readonly rpcUrl: string;
  readonly chainId: string;
  readonly contract: Hex;
  readonly market: Hex;
  readonly nodes: {
    index: number;
    pid: number;
    apiUrl: string;
    peerId: string;
    dataDir: string;
    log: string;
  }[];
  readonly startedAtMs: number;
}

export function stateFile(dir: string): string {
  return join(dir, "state.json");
}

export function readState(dir: string): TestnetState | null {
  const f = stateFile(dir);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as TestnetState;
  } catch {
    return null;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

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
    while (!existsSync(info)) {
      if (!this.running)
        throw new Error(`node ${this.index} exited at startup; see ${this.logPath}:\n${tail(this.logPath)}`);
      if (Date.now() > deadline)
        throw new Error(`node ${this.index} did not start in time; see ${this.logPath}`);
      await sleep(50);
    }
    const parsed = JSON.parse(readFileSync(info, "utf8")) as { apiUrl: string };
    this.apiUrl = parsed.apiUrl;
    this.token = readFileSync(join(this.dataDir, "api-token"), "utf8").trim();
  }

  /** A call to this node's control API (see node/api.ts). */
  api<T>(path: string, init?: { method?: string; body?: unknown; timeoutMs?: number }): Promise<T> {
    return new ApiClient(this.apiUrl, this.token).request<T>(
      init?.method ?? "GET",
      path,
      init?.body,
      init?.timeoutMs ?? 5000,
    );
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

function nodeIndexOf(nodes: readonly NodeProcess[], wallet: Hex): number | null {
  const i = nodes.findIndex((n) => n.wallet === wallet);
  return i < 0 ? null : i;
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

interface EpochTrack {
  readonly orderIds: Map<string, Hex[]>;
  sent: number;
}

export class Testnet {
  readonly opts: TestnetOptions;
  readonly dir: string;
  anvil!: AnvilInstance;
  chain!: SettlementClient;
  contract!: Hex;
  base!: Hex;
  quote!: Hex;
  market!: MarketInfo;
  scenario!: Scenario;
  nodes: NodeProcess[] = [];
  readonly rows: EpochReport[] = [];
  firstSettlementS: number | null = null;
  readonly startedAtMs = Date.now();

  private separator!: Uint8Array;
  private stopping = false;
  private readonly stopWaiters: (() => void)[] = [];
  private readonly history: EpochOutcome[] = [];
  private readonly nonces = new Map<string, bigint>();
  private readonly tracks = new Map<bigint, EpochTrack>();

  private constructor(opts: TestnetOptions) {
    this.opts = opts;
    this.dir = resolve(opts.dir);
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Starts the chain, deploys, funds, starts the nodes. */
  static async up(opts: TestnetOptions): Promise<Testnet> {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1)
      throw new Error("--nodes must be a whole number >= 1");
    if (!Number.isInteger(opts.epochSeconds) || opts.epochSeconds < 2)
      throw new Error("--epoch-seconds must be >= 2");
    const net = new Testnet(opts);
    const prior = readState(net.dir);
    if (prior && pidAlive(prior.launcherPid)) {
      throw new Error(
        `a testnet is already running in ${net.dir} (pid ${prior.launcherPid}); stop it with \`smartmarket testnet down\``,
      );
    }
    rmSync(net.dir, { recursive: true, force: true });
    mkdirSync(net.dir, { recursive: true });
    try {
      await net.setUp();
    } catch (err) {
      await net.down();
      throw err;
    }
    return net;
  }

  private async setUp(): Promise<void> {
    const anvilLog = createWriteStream(join(this.dir, "anvil.log"));
    this.anvil = await startAnvil({ onOutput: (line) => anvilLog.write(`${line}\n`) });
    this.log(`chain: anvil at ${this.anvil.rpcUrl} (chain id ${this.anvil.chainId})`);
    const deployerKey = this.anvil.accounts[0]!.privateKey;
    const d = await deployLocal({ rpcUrl: this.anvil.rpcUrl, privateKey: deployerKey });
    this.contract = d.settlement;
    this.base = d.base;
    this.quote = d.quote;
    this.chain = new SettlementClient({
      rpcUrl: this.anvil.rpcUrl,
      privateKey: deployerKey,
      contract: d.settlement,
    });
    this.separator = domainSeparator(makeDomain(this.anvil.chainId, this.contract));
    this.log(`contracts: settlement ${d.settlement}, base token ${d.base}, quote token ${d.quote}`);

    // Node identities and ports first, so that every node's bootstrap list is known before any starts.
    for (let i = 0; i < this.opts.nodes; i++) this.nodes.push(await this.prepareNode(i));

    // The market opens a few seconds from now: enough for the nodes to start and the devices to deposit.
    const nowS = BigInt(Math.ceil(Date.now() / 1000));
    const genesisTimeS = nowS + 4n + BigInt(Math.ceil(this.opts.nodes / 4));
    const created = await this.chain.createMarket({
      base: this.base,
      quote: this.quote,
      genesisTimeS,
      epochLengthS: BigInt(this.opts.epochSeconds),
      feeBps: this.opts.feeBps ?? 5n,
    });
    this.market = {
      id: created.id,
      genesisTimeS,
      epochLengthS: BigInt(this.opts.epochSeconds),
      baseDecimals: 3,
      quoteDecimals: 6,
    };
    this.log(
      `market ${created.id}: epochs of ${this.opts.epochSeconds} s from ${new Date(Number(genesisTimeS) * 1000).toISOString()}`,
    );

    for (const n of this.nodes) this.writeNodeConfig(n);

    this.scenario = this.opts.scenario({ seed: this.opts.seed, nodes: this.opts.nodes, market: this.market });
    await Promise.all([this.fundDevices(), ...this.nodes.map((n) => n.start())]);
    this.writeState();
    this.log(`nodes: ${this.nodes.map((n) => `${n.index}=${n.apiUrl}`).join(" ")}`);
  }

  /** Data dir, peer key, wallet (funded with gas) and a free port for node `i`; starts nothing. */
  private async prepareNode(i: number): Promise<NodeProcess> {
    const dataDir = join(this.dir, `node-${i}`);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const seed = keccak_256(new TextEncoder().encode(`${this.opts.seed}/peer/${i}`));
    const peerKey = await generateKeyPairFromSeed("Ed25519", seed);
    writeFileSync(join(dataDir, PEER_KEY_FILE), privateKeyToProtobuf(peerKey), { mode: 0o600 });
    const walletKey = deriveSecretKey(this.opts.seed, "node", i);
    await createKeystore(dataDir, KEYSTORE_PASSWORD, { privateKey: walletKey, scryptN: TESTNET_SCRYPT_N });
    writeFileSync(join(dataDir, "password"), `${KEYSTORE_PASSWORD}\n`, { mode: 0o600 });
    const wallet = addressOfPrivateKey(walletKey);
    await this.chain.provider.send("anvil_setBalance", [wallet, `0x${NODE_ETH_WEI.toString(16)}`]);
    return new NodeProcess(i, dataDir, peerIdFromPrivateKey(peerKey).toString(), await freePort(), wallet);
  }

  private writeNodeConfig(n: NodeProcess): void {
    const config = {
      dataDir: ".",
      market: this.market.id,
      rpcUrl: this.anvil.rpcUrl,
      contract: this.contract,
      listen: [`/ip4/127.0.0.1/tcp/${n.p2pPort}`],
      bootstrap: this.nodes.filter((o) => o !== n).map((o) => o.multiaddr),
      mdns: false,
      apiHost: "127.0.0.1",
      apiPort: 0,
      logLevel: "info",
    };
    writeFileSync(join(n.dataDir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Starts one more node that bootstraps to the running ones (a device joining late). */
  async addNode(): Promise<NodeProcess> {
    const n = await this.prepareNode(this.nodes.length);
    this.nodes.push(n);
    this.writeNodeConfig(n);
    await n.start();
    this.writeState();
    return n;
  }

  /** Gas, tokens and escrow deposits for every device, several devices at a time. */
  private async fundDevices(): Promise<void> {
    const devices = this.scenario.devices;
    const fundOne = async (dev: DeviceSpec) => {
      await this.chain.provider.send("anvil_setBalance", [dev.address, `0x${NODE_ETH_WEI.toString(16)}`]);
      const c = new SettlementClient({
        rpcUrl: this.anvil.rpcUrl,
        privateKey: dev.privateKey,
        contract: this.contract,
      });
      try {
        if (dev.depositBase > 0n) {
          await c.mintTestToken(this.base, dev.address, dev.depositBase);
          await c.deposit(this.market.id, Asset.BASE, dev.depositBase);
        }
        if (dev.depositQuote > 0n) {
          await c.mintTestToken(this.quote, dev.address, dev.depositQuote);
          await c.deposit(this.market.id, Asset.QUOTE, dev.depositQuote);
        }
      } finally {
        c.close();
      }
    };
    for (let i = 0; i < devices.length; i += 8) await Promise.all(devices.slice(i, i + 8).map(fundOne));
    this.log(`devices: ${devices.length} funded (${this.opts.scenarioName})`);
  }

  private writeState(): void {
    const state: TestnetState = {
      launcherPid: process.pid,
      anvilPid: this.anvil.pid,
      rpcUrl: this.anvil.rpcUrl,
      chainId: this.anvil.chainId.toString(),
      contract: this.contract,
      market: this.market.id,
      nodes: this.nodes.map((n) => ({
        index: n.index,
        pid: n.child?.pid ?? -1,
        apiUrl: n.apiUrl,
        peerId: n.peerId,
        dataDir: n.dataDir,
        log: n.logPath,
      })),
      startedAtMs: this.startedAtMs,
    };
    writeFileSync(stateFile(this.dir), `${JSON.stringify(state, null, 2)}\n`);
  }

  private epochNow(): bigint {
    return epochAtMs(this.market, BigInt(Date.now()));
  }

  /** Asks the run loop to finish (Ctrl-C). */
  stop(): void {
    this.stopping = true;
    for (const w of this.stopWaiters.splice(0)) w();
  }

  private async sleepUntil(ms: number): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((r) => {
      const t = setTimeout(r, Math.max(0, ms - Date.now()));
      this.stopWaiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  /**
   * Drives the devices epoch by epoch and collects each epoch's outcome from every node, until
   * `epochs` epochs with orders are final or stop() is called.
   */
  async run(onProgress?: ProgressListener, epochs: number | null = this.opts.epochs): Promise<TestnetReport> {
    this.stopping = false;
    // Devices send early in an epoch, so the first driven epoch is the next one to start.
    let epoch = this.epochNow() + 1n;
    if (epoch < 0n) epoch = 0n;
    const target = epochs === null ? null : epoch + BigInt(epochs);
    const pending: Promise<void>[] = [];
    let progressTimer: NodeJS.Timeout | null = null;
    if (onProgress) {
      progressTimer = setInterval(() => {
        const now = BigInt(Date.now());
        const e = epochAtMs(this.market, now);
        if (e < 0n) return;
        const start = epochStartMs(this.market, e);
        const progress = Number(now - start) / Number(this.market.epochLengthS * 1000n);
        onProgress(this.rows, { epoch: e, progress, orders: this.tracks.get(e)?.sent ?? 0 });
      }, 250);
    }
    try {
      while (!this.stopping && (target === null || epoch < target)) {
        const sendAt =
          epochStartMs(this.market, epoch) + (this.market.epochLengthS * 1000n * DEVICE_SEND_EIGHTHS) / 8n;
        await this.sleepUntil(Number(sendAt));
        if (this.stopping) break;
        await this.sendDeviceOrders(epoch);
        const e = epoch;
        pending.push(this.collectEpoch(e));
        epoch++;
      }
      await Promise.all(pending);
    } finally {
      if (progressTimer) clearInterval(progressTimer);
    }
    return this.report();
  }

  private async sendDeviceOrders(epoch: bigint): Promise<void> {
    const track: EpochTrack = { orderIds: new Map(), sent: 0 };
    this.tracks.set(epoch, track);
    const jobs: Promise<void>[] = [];
    for (const dev of this.scenario.devices) {
      const wanted = this.scenario.ordersFor(dev, epoch, this.history);
      const node = this.nodes[dev.nodeIndex % this.nodes.length]!;
      const ids: Hex[] = [];
      track.orderIds.set(dev.name, ids);
      for (const w of wanted) {
        const nonce = this.nonces.get(dev.address) ?? 0n;
        this.nonces.set(dev.address, nonce + 1n);
        const order: Order = {
          market: this.market.id,
          epoch,
          side: w.side,
          quantity: w.quantity,
          limitPrice: w.limitPrice,
          nonce,
          trader: dev.address,
        };
        const digest = orderDigestBytes(order, this.separator);
        const signed = { ...order, signature: signDigest(digest, dev.privateKey) };
        const id = bytesToHex(digest);
        ids.push(id);
        jobs.push(
          node
            .api("/orders", { method: "POST", body: orderToJson(signed) })
            .then(() => {
              track.sent++;
            })
            .catch((err) => this.log(`device ${dev.name}: order not accepted: ${(err as Error).message}`)),
        );
      }
    }
    await Promise.all(jobs);
  }

  /** Waits until every node has a final record of the epoch (or its settlement window passed). */
  private async collectEpoch(epoch: bigint): Promise<void> {
    const closeMs = Number(epochEndMs(this.market, epoch));
    const windowEndMs = Number(epochEndMs(this.market, epoch + 1n));
    await this.sleepUntil(closeMs + 200);
    type Rec = {
      phase: string;
      orders: number | null;
      fingerprint: Hex | null;
      resultHash: Hex | null;
      price: string | null;
      volume: string | null;
      welfare: string | null;
      agreed: boolean | null;
      settlement: { tx: Hex; submitter: Hex; gasUsed: string | null } | null;
      result: { fills: { id: Hex; quantity: string }[] } | null;
    };
    let recs: (Rec | null)[] = [];
    for (;;) {
      recs = await Promise.all(
        this.nodes.map((n) =>
          n.running ? n.api<Rec>(`/epochs/${epoch}?orders=false`).catch(() => null) : Promise.resolve(null),
        ),
      );
      const final = recs.every((r) => r === null || r.phase === "settled" || r.phase === "unsettled");
      if (final || Date.now() > windowEndMs + 3000 || this.stopping) break;
      await sleep(200);
    }
    const full = await this.nodes[0]!.api<{
      orderList: { side: string; limitPrice: string; quantity: string }[];
    }>(`/epochs/${epoch}`).catch(() => ({ orderList: [] }));
    const views: NodeEpochView[] = recs.map((r, i) => ({
      node: i,
      peerId: this.nodes[i]!.peerId,
      phase: r?.phase ?? "unknown",
      orders: r?.orders ?? null,
      fingerprint: r?.fingerprint ?? null,
      resultHash: r?.resultHash ?? null,
      agreed: r?.agreed ?? null,
    }));
    const ref = recs.find((r) => r !== null) ?? null;
    const settlement = recs.find((r) => r?.settlement)?.settlement ?? null;
    const allSame =
      recs.every((r) => r !== null) &&
      new Set(recs.map((r) => `${r?.fingerprint}|${r?.resultHash}`)).size === 1 &&
      recs.every((r) => r?.agreed !== false);
    const volume = BigInt(ref?.volume ?? "0");
    const row: EpochReport = {
      epoch,
      orders: ref?.orders ?? 0,
      price: ref?.price ? BigInt(ref.price) : null,
      volume,
      welfare: BigInt(ref?.welfare ?? "0"),
      nodes: views,
      agreed: allSame,
      settled: settlement !== null,
      settlementTx: settlement?.tx ?? null,
      settledBy: settlement ? nodeIndexOf(this.nodes, settlement.submitter) : null,
      gasUsed: settlement?.gasUsed ? BigInt(settlement.gasUsed) : null,
      bids: full.orderList
        .filter((o) => o.side === "buy")
        .map((o) => ({ limitPrice: BigInt(o.limitPrice), quantity: BigInt(o.quantity) })),
      asks: full.orderList
        .filter((o) => o.side === "sell")
        .map((o) => ({ limitPrice: BigInt(o.limitPrice), quantity: BigInt(o.quantity) })),
    };
    if (settlement && this.firstSettlementS === null)
      this.firstSettlementS = (Date.now() - this.startedAtMs) / 1000;
    this.rows.push(row);
    this.rows.sort((a, b) => (a.epoch < b.epoch ? -1 : 1));

    const fills = new Map((ref?.result?.fills ?? []).map((f) => [f.id, BigInt(f.quantity)]));
    const filled = new Map<string, bigint[]>();
    for (const [name, ids] of this.tracks.get(epoch)?.orderIds ?? [])
      filled.set(
        name,
        ids.map((id) => fills.get(id) ?? 0n),
      );
    const outcome: EpochOutcome = { epoch, price: row.price, volume, filled };
    this.history.push(outcome);
    this.history.sort((a, b) => (a.epoch < b.epoch ? -1 : 1));
    this.scenario.observe(outcome);
    this.tracks.delete(epoch - 4n);
  }

  report(): TestnetReport {
    return {
      nodes: this.opts.nodes,
      scenario: this.opts.scenarioName,
      seed: this.opts.seed,
      chainId: this.anvil.chainId,
      contract: this.contract,
      market: this.market,
      startedAtMs: this.startedAtMs,
      firstSettlementS: this.firstSettlementS,
      epochs: [...this.rows],
    };
  }

  /** Stops every node (SIGTERM, then SIGKILL) and the chain; removes state.json. Idempotent. */
  async down(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    this.chain?.close();
    await this.anvil?.stop();
    rmSync(stateFile(this.dir), { force: true });
  }
}
