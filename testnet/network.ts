// The local testnet: an embedded chain (anvil), the settlement contract, one or more markets (each with
// its own token pair and epoch length), N node processes that find each other by bootstrap and all
// serve every market, and simulated devices (each belonging to one market) that sign their own orders
// and send them to their node's control API. Everything it starts, it stops.
//
// Layout of the testnet folder:
//   state.json           pids, ports, urls and markets of the running testnet (`testnet status` / `down`)
//   anvil.log            the chain's log
//   node-<i>/            data dir of node i: keystore, peer key, SQLite db, api-token, node.json, config.json
//   node-<i>/node.log    its log
//   adversary/           with --adversary: the attacker's config (keys), journal and log (adversary/files.ts)
//   report.json, report.html   written on exit
//
// Driving it from a test (several markets):
//   const net = await Testnet.up({ nodes: 3, epochs: 4, epochSeconds: 3, scenario: TESTNET_SCENARIOS["two-markets"]!,
//                                  scenarioName: "two-markets", seed: "e2e", dir });
//   net.markets[i].info.id             market i's id (i = 0 is the primary market: energy; 1: data)
//   net.markets[i].info.epochLengthS   its epoch length, s (epochSeconds × its plan's epochMultiple)
//   net.markets[i].info.genesisTimeS   its genesis (the same for every market)
//   net.markets[i].base / .quote       its token pair; net.markets[i].scenario.devices its devices
//   const report = await net.run();    `epochs` counts the primary market's epochs; the other markets
//                                      drive every epoch of theirs that starts while those run
//   report.markets[i].epochs           market i's final epochs (EpochReport[]), oldest first; also
//                                      report.markets[i].market (its MarketInfo) and .name
//   await net.down();
// A ScenarioFactory as `scenario` is one energy market (energyMarket in scenarios.ts); net.market,
// net.scenario, net.base and net.quote are the primary market's.
//
// With `adversary: "censor" | "skim" | "copy"` one more process attacks the primary market in every epoch
// that run() drives (testnet/adversary/attacker.ts); its wallets are funded here, its pid and addresses
// are in state.json, each report row of the primary market carries its `attack`, and the report its
// balance before and after (report.adversary). copy runs the chain with a block a second and longer
// epochs (adversary/timing.ts).
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { generateKeyPairFromSeed, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { PEER_KEY_FILE } from "../node/constants.ts";
import { createKeystore } from "../node/wallet.ts";
import { domainSeparator, makeDomain } from "../protocol/eip712.ts";
import { epochAtMs, epochStartMs } from "../protocol/epoch.ts";
import type { Hex } from "../protocol/hex.ts";
import { addressOfPrivateKey } from "../protocol/signature.ts";
import { type AnvilInstance, deployLocal, startAnvil } from "../settlement/anvil.ts";
import { SettlementClient } from "../settlement/client.ts";
import { Asset } from "../settlement/encoding.ts";
import { ADVERSARY_DEPOSIT_BASE, ADVERSARY_DEPOSIT_QUOTE } from "./adversary/attacker.ts";
import { writeAdversaryConfig, writeAttackRange } from "./adversary/files.ts";
import { AttackObserver } from "./adversary/observer.ts";
import { AdversaryProcess } from "./adversary/process.ts";
import { adversaryTiming } from "./adversary/timing.ts";
import { type DriverContext, MarketDriver } from "./market-driver.ts";
import { NodeProcess } from "./node-process.ts";
import { deriveSecretKey } from "./rng.ts";
import { energyMarket } from "./scenarios.ts";
import type {
  AdversaryBalance,
  AdversaryMode,
  AdversaryReport,
  DeviceSpec,
  MarketInfo,
  MarketPlan,
  MarketProgress,
  Scenario,
  ScenarioFactory,
  TestnetReport,
  TestnetScenario,
} from "./types.ts";

const KEYSTORE_PASSWORD = "smartmarket-testnet";
/** scrypt N for throwaway testnet keystores (fast to decrypt; never use for real keys). */
const TESTNET_SCRYPT_N = 1 << 12;
const NODE_ETH_WEI = 10n ** 21n;
/** Escrow a node wallet holds in each market (quote units): what makes it a submitter candidate. */
export const NODE_ESCROW_QUOTE = 1n;
const PROGRESS_INTERVAL_MS = 250;

export interface TestnetOptions {
  readonly nodes: number;
  /** Stop after this many epochs of the primary (first) market; null = until stop() (Ctrl-C). */
  readonly epochs: number | null;
  /** The primary market's epoch length; another market's is this × its plan's epochMultiple. */
  readonly epochSeconds: number;
  /** The markets and their devices; a ScenarioFactory alone is one energy market traded by its devices. */
  readonly scenario: TestnetScenario | ScenarioFactory;
  readonly scenarioName: string;
  readonly seed: string;
  readonly dir: string;
  readonly feeBps?: bigint;
  /** An attacker process that attacks the primary market in every epoch (default: none). */
  readonly adversary?: AdversaryMode | null;
  /** Progress lines (setup steps); default: dropped. */
  readonly log?: (line: string) => void;
  /** Extra environment of node i's process (fault tests: e.g. SMARTMARKET_CLOCK_OFFSET_MS). */
  readonly nodeEnv?: (index: number) => Readonly<Record<string, string>>;
}

/** Called about 4 times a second with every market's final rows so far and its current epoch. */
export type ProgressListener = (markets: readonly MarketProgress[]) => void;

/** A market as state.json lists it. */
export interface TestnetStateMarket {
  readonly name: string;
  readonly id: Hex;
  readonly base: Hex;
  readonly quote: Hex;
  readonly genesisTimeS: string;
  readonly epochLengthS: string;
}

export interface TestnetState {
  readonly launcherPid: number;
  readonly anvilPid: number;
  readonly rpcUrl: string;
  readonly chainId: string;
  readonly contract: Hex;
  /** Every market of the testnet, the primary first; every node serves all of them. */
  readonly markets: readonly TestnetStateMarket[];
  readonly nodes: {
    index: number;
    pid: number;
    apiUrl: string;
    peerId: string;
    dataDir: string;
    log: string;
  }[];
  /** With --adversary: the attacker process and its wallets. */
  readonly adversary?: {
    readonly pid: number;
    readonly mode: AdversaryMode;
    readonly addresses: readonly Hex[];
    readonly log: string;
  };
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

/** One JSON-RPC call (dev-chain methods, before any client exists). */
async function rpcCall(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message?: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message ?? "failed"}`);
  return body.result;
}

/**
 * Node P2P ports are taken below Linux's ephemeral range (32768-60999). A port the kernel handed out with
 * listen(0) comes from that range, and between this probe and the node's own listen the kernel may give it
 * to any outgoing connection as its source port (seen in CI: "port 41595 is in use"); below the range only
 * a listener can take it.
 */
const NODE_PORT_MIN = 20_000;
const NODE_PORT_SPAN = 12_000;
let nextNodePort = NODE_PORT_MIN + (process.pid % NODE_PORT_SPAN);

async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = nextNodePort;
    nextNodePort = NODE_PORT_MIN + ((nextNodePort - NODE_PORT_MIN + 7) % NODE_PORT_SPAN);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${NODE_PORT_MIN}-${NODE_PORT_MIN + NODE_PORT_SPAN - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.once("error", () => resolveFree(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolveFree(true)));
  });
}

/** The markets of a scenario, checked: at least one, distinct names, whole epoch multiples, matching decimals. */
function marketPlans(scenario: TestnetScenario | ScenarioFactory): readonly MarketPlan[] {
  const plans = typeof scenario === "function" ? [energyMarket(scenario)] : scenario.markets;
  if (plans.length === 0) throw new Error("a testnet scenario needs at least one market");
  if (new Set(plans.map((p) => p.name)).size !== plans.length)
    throw new Error(`market names must be distinct: ${plans.map((p) => p.name).join(", ")}`);
  for (const p of plans) {
    if (!Number.isInteger(p.epochMultiple) || p.epochMultiple < 1)
      throw new Error(`market ${p.name}: epochMultiple must be a whole number >= 1`);
    if (p.baseToken.decimals !== p.units.baseDecimals || p.quoteToken.decimals !== p.units.quoteDecimals)
      throw new Error(`market ${p.name}: the tokens' decimals differ from the units'`);
  }
  return plans;
}

export class Testnet {
  readonly opts: TestnetOptions;
  readonly dir: string;
  anvil!: AnvilInstance;
  chain!: SettlementClient;
  contract!: Hex;
  /** Every market, the primary first. */
  readonly markets: MarketDriver[] = [];
  nodes: NodeProcess[] = [];
  /** With --adversary: the attacker process, and the launcher's view of its attacks. */
  adversary: AdversaryProcess | null = null;
  attacks: AttackObserver | null = null;
  firstSettlementS: number | null = null;
  /** The primary market's epoch length, s: --epoch-seconds, or longer for --adversary copy. */
  readonly epochSeconds: number;
  readonly startedAtMs = Date.now();

  private readonly plans: readonly MarketPlan[];
  private separator!: Uint8Array;
  private adversaryStart: AdversaryBalance | null = null;
  private adversaryEnd: AdversaryBalance | null = null;
  private adversaryFees = 0n;
  private stopping = false;
  private readonly stopWaiters: (() => void)[] = [];

  private constructor(opts: TestnetOptions) {
    this.opts = opts;
    this.dir = resolve(opts.dir);
    this.plans = marketPlans(opts.scenario);
    this.epochSeconds = adversaryTiming(opts.adversary ?? null, opts.epochSeconds).epochSeconds;
  }

  /** The primary market. */
  get primary(): MarketDriver {
    return this.markets[0]!;
  }

  /** The primary market's MarketInfo. */
  get market(): MarketInfo {
    return this.primary.info;
  }

  /** The primary market's devices. */
  get scenario(): Scenario {
    return this.primary.scenario;
  }

  /** The primary market's base and quote tokens. */
  get base(): Hex {
    return this.primary.base;
  }

  get quote(): Hex {
    return this.primary.quote;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Starts the chain, deploys, creates the markets, funds the devices, starts the nodes. */
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
    const timing = adversaryTiming(this.opts.adversary ?? null, this.opts.epochSeconds);
    this.anvil = await startAnvil({
      onOutput: (line) => anvilLog.write(`${line}\n`),
      ...(timing.blockTimeS === null ? {} : { blockTimeS: timing.blockTimeS }),
    });
    // An interval-mined chain (copy) automines while the launcher deploys and funds: a block per second
    // would make the setup take minutes. It mines by the clock again before the nodes trade.
    if (timing.blockTimeS !== null) await rpcCall(this.anvil.rpcUrl, "evm_setAutomine", [true]);
    this.log(
      `chain: anvil at ${this.anvil.rpcUrl} (chain id ${this.anvil.chainId})` +
        (timing.blockTimeS === null ? "" : `, a block every ${timing.blockTimeS} s`),
    );
    const deployerKey = this.anvil.accounts[0]!.privateKey;
    const first = this.plans[0]!;
    const d = await deployLocal({
      rpcUrl: this.anvil.rpcUrl,
      privateKey: deployerKey,
      base: first.baseToken,
      quote: first.quoteToken,
    });
    this.contract = d.settlement;
    this.chain = new SettlementClient({
      rpcUrl: this.anvil.rpcUrl,
      privateKey: deployerKey,
      contract: d.settlement,
    });
    this.separator = domainSeparator(makeDomain(this.anvil.chainId, this.contract));
    this.log(`contracts: settlement ${d.settlement}`);
    // Every other market gets its own token pair.
    const tokens: { base: Hex; quote: Hex }[] = [{ base: d.base, quote: d.quote }];
    for (const plan of this.plans.slice(1)) {
      const [base, quote] = await Promise.all([
        this.chain.deployTestToken(plan.baseToken),
        this.chain.deployTestToken(plan.quoteToken),
      ]);
      tokens.push({ base, quote });
    }

    // Node identities and ports first, so that every node's bootstrap list is known before any starts.
    for (let i = 0; i < this.opts.nodes; i++) this.nodes.push(await this.prepareNode(i));

    // The markets open a few seconds from now (all at once): enough for the nodes to start and the
    // devices to deposit (a few devices per node in each market).
    const nowS = BigInt(Math.ceil(Date.now() / 1000));
    const housesToFund = this.plans.length * this.opts.nodes;
    // The attacker's wallets and process take another two seconds.
    const genesisTimeS = nowS + 4n + BigInt(Math.ceil(housesToFund / 4)) + (this.opts.adversary ? 2n : 0n);
    for (const [i, plan] of this.plans.entries()) {
      const t = tokens[i]!;
      const epochLengthS = BigInt(this.epochSeconds * plan.epochMultiple);
      const created = await this.chain.createMarket({
        base: t.base,
        quote: t.quote,
        genesisTimeS,
        epochLengthS,
        feeBps: this.opts.feeBps ?? 5n,
        minQuantity: plan.minQuantity,
        ...(timing.challengeWindowS !== null && timing.challengeWindowS < epochLengthS
          ? { challengeWindowS: timing.challengeWindowS }
          : {}),
      });
      const info: MarketInfo = { id: created.id, genesisTimeS, epochLengthS, ...plan.units };
      const scenario = plan.devices({ seed: this.opts.seed, nodes: this.opts.nodes, market: info });
      this.markets.push(new MarketDriver({ name: plan.name, info, base: t.base, quote: t.quote, scenario }));
      this.log(
        `market ${plan.name} ${created.id}: epochs of ${epochLengthS} s from ${new Date(Number(genesisTimeS) * 1000).toISOString()}; ` +
          `tokens ${plan.baseToken.symbol} ${t.base}, ${plan.quoteToken.symbol} ${t.quote}`,
      );
    }

    for (const n of this.nodes) this.writeNodeConfig(n);
    const adversaryKeys = this.opts.adversary
      ? [0, 1].map((i) => deriveSecretKey(this.opts.seed, "adversary", i))
      : [];
    await Promise.all([
      this.fundDevices(),
      ...this.nodes.map((n) => this.fundNodeEscrow(n)),
      this.fundAdversary(adversaryKeys),
      ...this.nodes.map((n) => n.start()),
    ]);
    if (timing.blockTimeS !== null)
      await rpcCall(this.anvil.rpcUrl, "evm_setIntervalMining", [timing.blockTimeS]);
    this.writeState();
    this.log(`nodes: ${this.nodes.map((n) => `${n.index}=${n.apiUrl}`).join(" ")}`);
    if (this.opts.adversary) await this.startAdversary(this.opts.adversary, adversaryKeys);
  }

  /** Gas, tokens and escrow deposits (both assets of the primary market) for each attacker wallet. */
  private async fundAdversary(keys: readonly Hex[]): Promise<void> {
    const market = this.primary;
    await Promise.all(
      keys.map(async (privateKey) => {
        const address = addressOfPrivateKey(privateKey);
        await this.chain.provider.send("anvil_setBalance", [address, `0x${NODE_ETH_WEI.toString(16)}`]);
        const c = new SettlementClient({ rpcUrl: this.anvil.rpcUrl, privateKey, contract: this.contract });
        try {
          await c.mintTestToken(market.base, address, ADVERSARY_DEPOSIT_BASE);
          await c.deposit(market.info.id, Asset.BASE, ADVERSARY_DEPOSIT_BASE);
          await c.mintTestToken(market.quote, address, ADVERSARY_DEPOSIT_QUOTE);
          await c.deposit(market.info.id, Asset.QUOTE, ADVERSARY_DEPOSIT_QUOTE);
        } finally {
          c.close();
        }
      }),
    );
  }

  /** Writes the attacker's config, notes its balance, spawns it and waits until it is connected. */
  private async startAdversary(mode: AdversaryMode, keys: readonly Hex[]): Promise<void> {
    const market = this.primary;
    writeAdversaryConfig(this.dir, { mode, keys, market: market.info.id, nodeIndex: 0 });
    const params = await this.chain.getMarket(market.info.id);
    this.attacks = new AttackObserver({
      dir: this.dir,
      mode,
      chain: this.chain,
      market: market.info.id,
      base: market.base,
      quote: market.quote,
      addresses: keys.map((k) => addressOfPrivateKey(k)),
      bondWei: params.bondWei,
      fromBlock: await this.chain.provider.getBlockNumber(),
    });
    market.attacks = this.attacks;
    this.adversaryStart = await this.attacks.balance();
    this.adversary = new AdversaryProcess(this.dir, mode);
    await this.adversary.start();
    this.writeState();
    this.log(
      `adversary: ${mode} (pid ${this.adversary.pid}), wallets ${this.attacks.addresses.join(", ")}; bond ${params.bondWei} wei, ` +
        `challenge window ${params.challengeWindowS} s; log ${this.adversary.logPath}`,
    );
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
    const node = new NodeProcess(
      i,
      dataDir,
      peerIdFromPrivateKey(peerKey).toString(),
      await freePort(),
      wallet,
    );
    node.env = this.opts.nodeEnv?.(i) ?? {};
    return node;
  }

  /** config.json of a node: it serves every market of the testnet. */
  private writeNodeConfig(n: NodeProcess): void {
    const config = {
      dataDir: ".",
      markets: this.markets.map((m) => m.info.id),
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
    await this.fundNodeEscrow(n);
    this.nodes.push(n);
    this.writeNodeConfig(n);
    await n.start();
    this.writeState();
    return n;
  }

  /**
   * One quote unit of escrow per market for a node's wallet: a wallet counts as a submitter candidate only
   * with escrow in the market (docs/protocol.md, section 5), so without it the nodes would rank only
   * themselves and propose at once.
   */
  private async fundNodeEscrow(node: NodeProcess): Promise<void> {
    const c = new SettlementClient({
      rpcUrl: this.anvil.rpcUrl,
      privateKey: deriveSecretKey(this.opts.seed, "node", node.index),
      contract: this.contract,
    });
    try {
      for (const market of this.markets) {
        await c.mintTestToken(market.quote, node.wallet, NODE_ESCROW_QUOTE);
        await c.deposit(market.info.id, Asset.QUOTE, NODE_ESCROW_QUOTE);
      }
    } finally {
      c.close();
    }
  }

  /** Gas, tokens and escrow deposits for every device of every market, several devices at a time. */
  private async fundDevices(): Promise<void> {
    const jobs: { market: MarketDriver; dev: DeviceSpec }[] = this.markets.flatMap((market) =>
      market.scenario.devices.map((dev) => ({ market, dev })),
    );
    const fundOne = async ({ market, dev }: { market: MarketDriver; dev: DeviceSpec }) => {
      await this.chain.provider.send("anvil_setBalance", [dev.address, `0x${NODE_ETH_WEI.toString(16)}`]);
      const c = new SettlementClient({
        rpcUrl: this.anvil.rpcUrl,
        privateKey: dev.privateKey,
        contract: this.contract,
      });
      try {
        if (dev.depositBase > 0n) {
          await c.mintTestToken(market.base, dev.address, dev.depositBase);
          await c.deposit(market.info.id, Asset.BASE, dev.depositBase);
        }
        if (dev.depositQuote > 0n) {
          await c.mintTestToken(market.quote, dev.address, dev.depositQuote);
          await c.deposit(market.info.id, Asset.QUOTE, dev.depositQuote);
        }
      } finally {
        c.close();
      }
    };
    for (let i = 0; i < jobs.length; i += 8) await Promise.all(jobs.slice(i, i + 8).map(fundOne));
    const counts = this.markets.map((m) => `${m.scenario.devices.length} ${m.name}`).join(", ");
    this.log(`devices: ${counts} funded (${this.opts.scenarioName})`);
  }

  private writeState(): void {
    const state: TestnetState = {
      launcherPid: process.pid,
      anvilPid: this.anvil.pid,
      rpcUrl: this.anvil.rpcUrl,
      chainId: this.anvil.chainId.toString(),
      contract: this.contract,
      markets: this.markets.map((m) => ({
        name: m.name,
        id: m.info.id,
        base: m.base,
        quote: m.quote,
        genesisTimeS: m.info.genesisTimeS.toString(),
        epochLengthS: m.info.epochLengthS.toString(),
      })),
      nodes: this.nodes.map((n) => ({
        index: n.index,
        pid: n.child?.pid ?? -1,
        apiUrl: n.apiUrl,
        peerId: n.peerId,
        dataDir: n.dataDir,
        log: n.logPath,
      })),
      ...(this.adversary && this.attacks
        ? {
            adversary: {
              pid: this.adversary.pid,
              mode: this.adversary.mode,
              addresses: this.attacks.addresses,
              log: this.adversary.logPath,
            },
          }
        : {}),
      startedAtMs: this.startedAtMs,
    };
    writeFileSync(stateFile(this.dir), `${JSON.stringify(state, null, 2)}\n`);
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

  private context(): DriverContext {
    return {
      nodes: () => this.nodes,
      separator: this.separator,
      sleepUntil: (ms) => this.sleepUntil(ms),
      stopping: () => this.stopping,
      log: (line) => this.log(line),
      onSettled: () => {
        if (this.firstSettlementS === null) this.firstSettlementS = (Date.now() - this.startedAtMs) / 1000;
      },
    };
  }

  /**
   * Drives every market's devices epoch by epoch, each market on its own schedule, and collects each
   * epoch's outcome from every node, until `epochs` epochs of the primary market are final (the other
   * markets: every epoch of theirs that starts while those run) or stop() is called.
   */
  async run(onProgress?: ProgressListener, epochs: number | null = this.opts.epochs): Promise<TestnetReport> {
    this.stopping = false;
    // Devices send early in an epoch, so the first driven epoch of the primary is the next to start.
    let next = epochAtMs(this.market, BigInt(Date.now())) + 1n;
    if (next < 0n) next = 0n;
    const first = this.primary.firstEpochFrom(epochStartMs(this.market, next));
    const fromMs = epochStartMs(this.market, first);
    const untilMs = epochs === null ? null : epochStartMs(this.market, first + BigInt(epochs));
    // The attacker attacks the primary market's epochs that this run drives.
    if (this.attacks) {
      writeAttackRange(this.dir, {
        fromEpoch: first,
        untilEpoch: epochs === null ? null : first + BigInt(epochs),
      });
    }
    let progressTimer: NodeJS.Timeout | null = null;
    if (onProgress) {
      progressTimer = setInterval(() => {
        const t = BigInt(Date.now());
        // Once stopping, no epoch is in progress any more: the view drops its progress line.
        onProgress(
          this.markets.map((m) => ({
            market: m.info.id,
            rows: m.rows,
            current: this.stopping ? null : m.current(t),
          })),
        );
      }, PROGRESS_INTERVAL_MS);
    }
    try {
      const ctx = this.context();
      await Promise.all(this.markets.map((m) => m.drive(ctx, fromMs, untilMs)));
    } finally {
      if (progressTimer) clearInterval(progressTimer);
    }
    if (this.attacks) {
      // Every driven epoch is final by now, and the attacker journalled it closed (each row waited).
      try {
        this.adversaryEnd = await this.attacks.balance();
        this.adversaryFees = await this.attacks.feesEarned();
      } catch (err) {
        this.log(`adversary: cannot read its balance: ${(err as Error).message}`);
      }
    }
    return this.report();
  }

  /** The attacker's part of the report; null without --adversary. */
  adversaryReport(): AdversaryReport | null {
    if (!this.attacks || !this.adversaryStart) return null;
    return {
      mode: this.attacks.opts.mode,
      addresses: this.attacks.addresses,
      start: this.adversaryStart,
      end: this.adversaryEnd,
      feesEarned: this.adversaryFees,
    };
  }

  report(): TestnetReport {
    return {
      nodes: this.opts.nodes,
      scenario: this.opts.scenarioName,
      seed: this.opts.seed,
      chainId: this.anvil.chainId,
      contract: this.contract,
      startedAtMs: this.startedAtMs,
      firstSettlementS: this.firstSettlementS,
      markets: this.markets.map((m) => ({
        ...m.report(),
        firstSettlementS: m.firstSettledAtMs === null ? null : (m.firstSettledAtMs - this.startedAtMs) / 1000,
      })),
      ...(this.adversaryReport() ? { adversary: this.adversaryReport()! } : {}),
    };
  }

  /** Stops the attacker and every node (SIGTERM, then SIGKILL) and the chain; removes state.json. Idempotent. */
  async down(): Promise<void> {
    await this.adversary?.stop();
    await Promise.all(this.nodes.map((n) => n.stop()));
    this.chain?.close();
    await this.anvil?.stop();
    rmSync(stateFile(this.dir), { force: true });
  }
}
