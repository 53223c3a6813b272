import { existsSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { finalizeItemOf, type StandingEvent } from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import { NODE_ESCROW_QUOTE, pidAlive, readState, Testnet, type TestnetState } from "../../testnet/network.ts";
import { writeReport } from "../../testnet/report.ts";
import { parseReportJson } from "../../testnet/report-json.ts";
import { DEFAULT_SCENARIO, SCENARIOS } from "../../testnet/scenarios.ts";
import { spawnCli, watchPids } from "./cli-process.ts";

const SCRATCH = fileURLToPath(new URL("../../.scratch/", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dirs: string[] = [];

function tempDir(name: string): string {
  const d = join(SCRATCH, `${name}-${process.pid}`);
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Resolves true when nothing accepts TCP connections on 127.0.0.1:port any more. */
function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/** Every TCP port the testnet listened on: each node's API and libp2p listener, and the chain. */
function portsOf(dir: string, state: TestnetState): number[] {
  const ports = [Number(new URL(state.rpcUrl).port)];
  for (const n of state.nodes) {
    ports.push(Number(new URL(n.apiUrl).port));
    const config = JSON.parse(readFileSync(join(dir, `node-${n.index}`, "config.json"), "utf8")) as {
      listen: string[];
    };
    for (const addr of config.listen) ports.push(Number(/\/tcp\/(\d+)/.exec(addr)?.[1]));
  }
  return ports;
}

describe("local testnet", () => {
  it("4 nodes, 3 epochs: every node agrees every epoch, each traded epoch is proposed exactly once and never challenged, token totals are conserved", async () => {
    const dir = tempDir("testnet-api");
    const net = await Testnet.up({
      nodes: 4,
      epochs: 3,
      epochSeconds: 3,
      scenario: SCENARIOS[DEFAULT_SCENARIO]!,
      scenarioName: DEFAULT_SCENARIO,
      seed: "ci",
      dir,
    });
    const pids = [net.anvil.pid, ...net.nodes.map((n) => n.child!.pid!)];
    try {
      const report = await net.run();
      expect(report.markets).toHaveLength(1);
      expect(report.markets[0]!.market.id).toBe(net.market.id);
      const epochs = report.markets[0]!.epochs;
      expect(epochs).toHaveLength(3);
      for (const e of epochs) {
        expect(e.agreed, `epoch ${e.epoch} agreement`).toBe(true);
        expect(e.nodes.every((n) => n.agreed === true)).toBe(true);
        expect(e.orders).toBeGreaterThan(0);
      }
      expect(epochs.some((e) => e.volume > 0n)).toBe(true);

      // On chain: exactly one Proposed event per epoch that traded, none for those that did not, and no
      // challenge (every node holds the same orders, so the first proposal is everyone's result).
      const events = await net.chain.settlementEvents({
        fromBlock: 0,
        toBlock: await net.chain.provider.getBlockNumber(),
        markets: [net.market.id],
      });
      expect(events.filter((ev) => ev.kind === "Challenged")).toHaveLength(0);
      for (const e of epochs) {
        const proposed = events.filter((ev) => ev.kind === "Proposed" && ev.epoch === e.epoch);
        expect(proposed, `Proposed events of epoch ${e.epoch}`).toHaveLength(e.volume > 0n ? 1 : 0);
        expect(e.settled).toBe(e.volume > 0n);
        if (proposed[0]) expect(e.settlementTx).toBe(proposed[0].txHash);
      }

      // Fees are held by the contract until finalize() credits them to the final submitter: finalise every
      // final result the nodes have not finalised yet (anyone may), so that every token is in someone's escrow.
      const finalized = new Set(events.filter((ev) => ev.kind === "Finalized").map((ev) => ev.epoch));
      const items = epochs
        .filter((e) => !finalized.has(e.epoch))
        .map((e) =>
          events.filter((ev): ev is StandingEvent => ev.kind !== "Finalized" && ev.epoch === e.epoch).at(-1),
        )
        .filter((ev): ev is StandingEvent => ev !== undefined)
        .map(finalizeItemOf);
      if (items.length > 0) await net.chain.finalize(net.market.id, items);

      // Conservation: the escrow of every account (devices and the nodes that earned fees) sums to the
      // deposits (the devices', and each node wallet's NODE_ESCROW_QUOTE), and to the tokens the contract holds.
      const accounts = [...net.scenario.devices.map((d) => d.address), ...net.nodes.map((n) => n.wallet)];
      for (const [asset, token, deposited] of [
        [Asset.BASE, net.base, net.scenario.devices.reduce((s, d) => s + d.depositBase, 0n)],
        [
          Asset.QUOTE,
          net.quote,
          net.scenario.devices.reduce((s, d) => s + d.depositQuote, 0n) +
            BigInt(net.nodes.length) * NODE_ESCROW_QUOTE,
        ],
      ] as const) {
        let total = 0n;
        for (const a of accounts) {
          const e = await net.chain.escrowOf(net.market.id, a, asset);
          expect(e.free >= 0n && e.locked >= 0n).toBe(true);
          total += e.free + e.locked;
        }
        expect(total, `asset ${asset} escrow total`).toBe(deposited);
        expect(await net.chain.tokenBalance(token, net.contract)).toBe(deposited);
      }

      const files = writeReport(dir, report);
      expect(existsSync(files.jsonPath) && existsSync(files.htmlPath)).toBe(true);
      const json = JSON.parse(readFileSync(files.jsonPath, "utf8")) as {
        markets: { epochs: { settlementTx: string | null }[] }[];
      };
      expect(json.markets[0]!.epochs).toHaveLength(3);
    } finally {
      await net.down();
    }
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(join(dir, "state.json"))).toBe(false);
  });

  // `smartmarket testnet up --json` through the CLI (summary, report.json, report.html, no process left,
  // `testnet status` after it) is the censor case of test/fault/adversary.fault.test.ts, which runs exactly that.

  it("`smartmarket testnet down` stops a testnet running until Ctrl-C: report written, ports freed, no process left", async () => {
    const dir = tempDir("testnet-down");
    const { done } = spawnCli(["testnet", "up", "--nodes", "2", "--epoch-seconds", "2", "--dir", dir]);
    const pids = watchPids(dir, done);
    let state: TestnetState | null = null;
    for (let i = 0; i < 300 && !state; i++) {
      state = readState(dir);
      await sleep(100);
    }
    expect(state).not.toBeNull();
    await sleep(5000);
    const statusRun = await spawnCli(["testnet", "status", "--dir", dir, "--json"]).done;
    const status = JSON.parse(statusRun.stdout) as {
      launcherAlive: boolean;
      markets: { id: string }[];
      nodes: { alive: boolean; status: { markets: { id: string }[] } | null }[];
    };
    expect(status.launcherAlive).toBe(true);
    expect(status.nodes.every((n) => n.alive)).toBe(true);
    // Every node serves the testnet's one market.
    expect(status.markets).toHaveLength(1);
    for (const n of status.nodes) expect(n.status?.markets.map((m) => m.id)).toEqual([status.markets[0]!.id]);

    const down = await spawnCli(["testnet", "down", "--dir", dir]).done;
    expect(down.code, down.stderr).toBe(0);
    const up = await done;
    expect(up.code).toBeLessThanOrEqual(1); // 0, or 1 if an epoch cut short by the stop did not agree
    for (const pid of await pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(join(dir, "report.html"))).toBe(true);
    // The API, libp2p and chain ports are free again: nothing listens on them.
    for (const port of portsOf(dir, state!)) expect(await portClosed(port), `port ${port}`).toBe(true);
  });

  it("Ctrl-C (SIGINT) on `smartmarket testnet up` shuts everything down: report written, no process, ports freed", async () => {
    const dir = tempDir("testnet-sigint");
    const { child, done } = spawnCli(["testnet", "up", "--nodes", "2", "--epoch-seconds", "2", "--dir", dir]);
    const pids = watchPids(dir, done);
    let state: TestnetState | null = null;
    for (let i = 0; i < 300 && !state; i++) {
      state = readState(dir);
      await sleep(100);
    }
    expect(state).not.toBeNull();
    await sleep(4000);
    const ports = portsOf(dir, state!);
    child.kill("SIGINT");
    const up = await done;
    expect(up.code).toBeLessThanOrEqual(1);
    expect(up.stdout).toMatch(/stopping/);
    for (const pid of await pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(join(dir, "report.json")) && existsSync(join(dir, "report.html"))).toBe(true);
    expect(existsSync(join(dir, "state.json"))).toBe(false);
    for (const port of ports) expect(await portClosed(port), `port ${port}`).toBe(true);
    // The epochs Ctrl-C cut short are marked unfinished, never agreed; the others are final on every node.
    const report = parseReportJson(readFileSync(join(dir, "report.json"), "utf8"));
    for (const e of report.markets.flatMap((m) => m.epochs)) {
      if (e.unfinished) {
        expect(e.agreed, `epoch ${e.epoch}`).toBe(false);
        expect(e.orders, `epoch ${e.epoch}`).toBe(Math.max(e.ordersSent ?? 0, e.orders));
      } else {
        for (const n of e.nodes) expect(["settled", "unsettled", "unknown"]).toContain(n.phase);
      }
    }
    expect(up.stdout).not.toMatch(/epoch -1/);
  });
});
