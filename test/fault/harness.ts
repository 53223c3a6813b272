// Shared helpers of the fault suite (test/fault/*.fault.test.ts): a real testnet (anvil, the settlement
// contract, N node processes on loopback, devices that send signed orders to their nodes' control APIs),
// and the faults and readings a fault test needs — stop / resume the chain process (SIGSTOP / SIGCONT),
// SIGKILL and restart a node, read a node's SQLite store (read-only) and its /metrics, grep its log,
// read the contract's settlement events, and wait until a given time of the market's schedule.
//
//   const f = await FaultNet.up({ name: "outage", nodes: 3, epochs: 7, epochSeconds: 8 });
//   const run = f.net.run();               // drives the devices epoch by epoch (testnet/network.ts)
//   await f.at(f.first + 2n, 5000);        // 5 s into that epoch
//   f.stopChain(); ... f.resumeChain();
//   const report = await run; ... f.epochRecord(0, e); await f.metric(0, "smartmarket_chain_up");
//   await f.down();                        // stops everything; throws if a process is left behind
//
// Ports: the testnet picks free ports from the OS (p2p and API), so fault tests running one after the
// other, or beside other suites, never collide.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { ApiClient } from "../../node/api/client.ts";
import { submitterScore } from "../../node/market/submitter.ts";
import type { EpochPhase } from "../../node/store.ts";
import { epochAtMs, epochEndMs, epochStartMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import { addressOfPrivateKey } from "../../protocol/signature.ts";
import type { SettlementEvent } from "../../settlement/client.ts";
import { pidAlive, Testnet } from "../../testnet/network.ts";
import { deriveSecretKey } from "../../testnet/rng.ts";
import type { DeviceSpec, ScenarioFactory } from "../../testnet/types.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** `perNode` buyers and as many sellers per node, limits overlapping: every epoch trades. */
export function crossingScenario(name: string, perNode = 1): ScenarioFactory {
  return ({ seed, nodes }) => {
    const devices: DeviceSpec[] = Array.from({ length: nodes * perNode * 2 }, (_, i) => {
      const privateKey = deriveSecretKey(seed, `${name}-device`, i);
      return {
        name: `device-${i}`,
        kind: i % 2 === 0 ? "ev-charger" : "solar",
        privateKey,
        address: addressOfPrivateKey(privateKey),
        nodeIndex: Math.floor(i / 2) % nodes,
        depositBase: 10n ** 9n,
        depositQuote: 10n ** 12n,
      };
    });
    return {
      name,
      description: "buyers and sellers with overlapping limits",
      devices,
      ordersFor: (d, epoch) => {
        const i = BigInt(devices.indexOf(d));
        return d.kind === "ev-charger"
          ? [{ side: "buy" as const, quantity: 100n + ((epoch * 7n + i) % 13n), limitPrice: 300n + i }]
          : [{ side: "sell" as const, quantity: 90n + ((epoch * 3n + i) % 11n), limitPrice: 250n + i }];
      },
      observe: () => {},
    };
  };
}

/** One row of a node's `epochs` table, as the fault tests read it. */
export interface StoredEpoch {
  readonly epoch: bigint;
  readonly phase: EpochPhase;
  readonly resultHash: Hex | null;
  readonly settleTx: Hex | null;
  readonly settleSubmitter: Hex | null;
  readonly settleResultHash: Hex | null;
  readonly agreed: boolean | null;
  readonly reason: string | null;
  readonly volume: string | null;
}

export interface FaultNetOptions {
  /** Names the testnet folder (.scratch/fault-<name>-<pid>) and the scenario's device keys. */
  readonly name: string;
  readonly nodes: number;
  /** Epochs that run() drives. */
  readonly epochs: number;
  readonly epochSeconds: number;
  readonly scenario?: ScenarioFactory;
  readonly log?: (line: string) => void;
}

export class FaultNet {
  readonly net: Testnet;
  /** Every process started (anvil, nodes, restarted nodes): none may be left at the end. */
  private readonly pids = new Set<number>();

  private constructor(net: Testnet) {
    this.net = net;
    this.track();
  }

  static async up(opts: FaultNetOptions): Promise<FaultNet> {
    const net = await Testnet.up({
      nodes: opts.nodes,
      epochs: opts.epochs,
      epochSeconds: opts.epochSeconds,
      scenario: opts.scenario ?? crossingScenario(opts.name),
      scenarioName: opts.name,
      seed: `fault-${opts.name}`,
      dir: join(
        fileURLToPath(new URL("../../.scratch/", import.meta.url)),
        `fault-${opts.name}-${process.pid}`,
      ),
      ...(opts.log ? { log: opts.log } : {}),
    });
    return new FaultNet(net);
  }

  private track(): void {
    this.pids.add(this.net.anvil.pid);
    for (const n of this.net.nodes) if (n.child?.pid) this.pids.add(n.child.pid);
  }

  get market(): Hex {
    return this.net.market.id;
  }

  /** The first epoch a run() started now would drive. */
  nextEpoch(): bigint {
    const e = epochAtMs(this.net.market, BigInt(Date.now())) + 1n;
    return e < 0n ? 0n : e;
  }

  startMs(epoch: bigint): number {
    return Number(epochStartMs(this.net.market, epoch));
  }

  /** The close of `epoch` (the end of its last second). */
  closeMs(epoch: bigint): number {
    return Number(epochEndMs(this.net.market, epoch));
  }

  /** The end of the proposal window of `epoch`: `challengeWindow` before the end of epoch + 1. */
  proposalEndMs(epoch: bigint, challengeWindowS: bigint): number {
    return Number(epochEndMs(this.net.market, epoch + 1n)) - Number(challengeWindowS) * 1000;
  }

  /** Sleeps until `ms` after the start of `epoch`. */
  async at(epoch: bigint, ms: number): Promise<void> {
    await sleep(this.startMs(epoch) + ms - Date.now());
  }

  /** Freezes the chain process (SIGSTOP): it keeps its sockets, accepts connections and answers nothing. */
  stopChain(): void {
    process.kill(this.net.anvil.pid, "SIGSTOP");
  }

  /** Resumes the chain process (SIGCONT). */
  resumeChain(): void {
    process.kill(this.net.anvil.pid, "SIGCONT");
  }

  /** SIGKILL of node `i` (no chance to clean up). */
  async killNode(i: number): Promise<void> {
    await this.net.nodes[i]!.kill9();
  }

  /** Starts node `i` again on its data dir (after a kill). */
  async restartNode(i: number): Promise<void> {
    await this.net.nodes[i]!.start();
    this.track();
  }

  /** Node indexes in the order the deterministic ranking lets them submit `epoch` (first = rank 0). */
  submitterOrder(epoch: bigint): number[] {
    return this.net.nodes
      .map((n, i) => ({ i, score: submitterScore(this.market, epoch, n.wallet.toLowerCase() as Hex) }))
      .sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : 0))
      .map((x) => x.i);
  }

  api(i: number): ApiClient {
    const n = this.net.nodes[i]!;
    return new ApiClient(n.apiUrl, n.token, { timeoutMs: 10_000 });
  }

  /** Node i's record of `epoch` of the primary market, read from its SQLite file (read-only). */
  epochRecord(i: number, epoch: bigint): StoredEpoch | null {
    const db = new DatabaseSync(join(this.net.nodes[i]!.dataDir, "node.db"), { readOnly: true });
    try {
      const row = db.prepare("SELECT * FROM epochs WHERE market = ? AND epoch = ?").get(this.market, epoch) as
        | Record<string, unknown>
        | undefined;
      if (!row) return null;
      const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
      return {
        epoch,
        phase: row.phase as EpochPhase,
        resultHash: s(row.result_hash) as Hex | null,
        settleTx: s(row.settle_tx) as Hex | null,
        settleSubmitter: s(row.settle_submitter) as Hex | null,
        settleResultHash: s(row.settle_result_hash) as Hex | null,
        agreed: row.agreed === null || row.agreed === undefined ? null : Number(row.agreed) === 1,
        reason: s(row.reason),
        volume: s(row.volume),
      };
    } finally {
      db.close();
    }
  }

  /** Node i's /metrics text. */
  async metricsText(i: number): Promise<string> {
    const n = this.net.nodes[i]!;
    const res = await fetch(`${n.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${n.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    return res.text();
  }

  /** The sum of a metric's samples on node i whose labels include `labels` (0 if none). */
  async metric(i: number, name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric(await this.metricsText(i), name, labels);
  }

  /** Node i's log. */
  log(i: number): string {
    return readFileSync(this.net.nodes[i]!.logPath, "utf8");
  }

  /** Lines of node i's log at `level` whose text matches `re`. */
  logLines(i: number, level: "DEBUG" | "INFO" | "WARN" | "ERROR", re: RegExp): string[] {
    return this.log(i)
      .split("\n")
      .filter((l) => new RegExp(`^\\S+ ${level}\\s`).test(l) && re.test(l));
  }

  /** Every settlement event of the primary market on chain. */
  async settlementEvents(): Promise<SettlementEvent[]> {
    const head = await this.net.chain.provider.getBlockNumber();
    return this.net.chain.settlementEvents({ fromBlock: 0, toBlock: head, markets: [this.market] });
  }

  /** Stops everything (the chain is resumed first); throws if a process it started is still alive. */
  async down(): Promise<void> {
    try {
      this.resumeChain();
    } catch {
      // already gone
    }
    await this.net.down();
    const alive = [...this.pids].filter((pid) => pidAlive(pid));
    if (alive.length > 0) throw new Error(`processes left behind: ${alive.join(", ")}`);
  }
}

/** The sum of the samples of `name` in a Prometheus text whose labels include `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map(
      [...(m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!] as const),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}
