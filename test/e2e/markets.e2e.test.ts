// One node, many markets, end to end: 3 node processes (one libp2p host each) serve the `two-markets`
// scenario's energy market (3 s epochs) and data market (6 s epochs, its own tokens) on one anvil. Every
// epoch of both markets agrees and settles; a node that leaves the data market (`smartmarket market
// leave`) gets none of its traffic while the energy market goes on undisturbed; it joins again at run time.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../node/api/client.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { StandingEvent } from "../../settlement/client.ts";
import { pidAlive, Testnet } from "../../testnet/network.ts";
import type { NodeProcess } from "../../testnet/node-process.ts";
import { TESTNET_SCENARIOS } from "../../testnet/scenarios.ts";
import type { EpochReport } from "../../testnet/types.ts";

const BIN = fileURLToPath(new URL("../../bin/smartmarket.js", import.meta.url));
const DIR = join(fileURLToPath(new URL("../../.scratch/", import.meta.url)), `e2e-markets-${process.pid}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const api = (n: NodeProcess) => new ApiClient(n.apiUrl, n.token);

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The sum of a market's smartmarket_orders_total series in a node's metrics: all the orders it handled. */
async function ordersHandled(n: NodeProcess, market: Hex): Promise<number> {
  const text = await api(n).metrics();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("smartmarket_orders_total{") && line.includes(`market="${market}"`)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

function expectAgreedAndSettled(rows: readonly EpochReport[], nodes: readonly number[], what: string): void {
  expect(rows.length, `${what}: epochs`).toBeGreaterThan(0);
  for (const e of rows) {
    const views = nodes.map((i) => e.nodes[i]!);
    expect(new Set(views.map((v) => v.fingerprint)).size, `${what} epoch ${e.epoch} fingerprints`).toBe(1);
    expect(new Set(views.map((v) => v.resultHash)).size, `${what} epoch ${e.epoch} result hashes`).toBe(1);
    expect(views[0]!.fingerprint).toMatch(/^0x[0-9a-f]{64}$/);
    expect(
      views.every((v) => v.agreed === true && v.phase === "settled"),
      `${what} epoch ${e.epoch}: ${JSON.stringify(views)}`,
    ).toBe(true);
    if (e.volume > 0n) expect(e.settled, `${what} epoch ${e.epoch} settled`).toBe(true);
  }
}

describe("one node, two markets (3 node processes, anvil)", () => {
  let net: Testnet;

  beforeAll(async () => {
    net = await Testnet.up({
      nodes: 3,
      epochs: null,
      epochSeconds: 3,
      scenario: TESTNET_SCENARIOS["two-markets"]!,
      scenarioName: "two-markets",
      seed: "e2e-markets",
      dir: DIR,
      feeBps: 5n,
    });
  });

  afterAll(async () => {
    const pids = [net?.anvil.pid, ...(net?.nodes ?? []).map((n) => n.child?.pid)].filter(
      (p): p is number => typeof p === "number",
    );
    await net?.down();
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    rmSync(DIR, { recursive: true, force: true });
  });

  it("every epoch of both markets agrees and settles, on one libp2p host per node", async () => {
    const [energy, data] = net.markets;
    expect(data!.info.epochLengthS).toBe(2n * energy!.info.epochLengthS);
    expect(data!.base).not.toBe(energy!.base);
    expect(data!.quote).not.toBe(energy!.quote);
    const report = await net.run(undefined, 4);
    const all = [0, 1, 2];
    expectAgreedAndSettled(report.markets[0]!.epochs, all, "energy");
    expectAgreedAndSettled(report.markets[1]!.epochs, all, "data");
    expect(report.markets[1]!.epochs.some((e) => e.volume > 0n)).toBe(true);

    // Exactly one proposal per traded epoch of each market, with the nodes' result hash.
    const head = await net.chain.provider.getBlockNumber();
    for (const m of report.markets) {
      const events = await net.chain.settlementEvents({
        fromBlock: 0,
        toBlock: head,
        markets: [m.market.id],
      });
      for (const e of m.epochs.filter((x) => x.volume > 0n)) {
        const mine = events.filter(
          (ev): ev is StandingEvent => ev.epoch === e.epoch && ev.kind !== "Finalized",
        );
        expect(
          mine.map((ev) => ev.kind),
          `${m.name} epoch ${e.epoch}`,
        ).toEqual(["Proposed"]);
        expect(mine[0]!.resultHash).toBe(e.nodes[0]!.resultHash);
      }
    }

    // One host per node: one peer id and one set of addresses serve both markets, and every peer is
    // subscribed to both markets' topics over the same connection.
    for (const n of net.nodes) {
      const st = await api(n).status();
      expect(st.peerId).toBe(n.peerId);
      expect(st.markets.map((m) => m.id).sort()).toEqual([energy!.info.id, data!.info.id].sort());
      const peers = await api(n).peers();
      expect(peers).toHaveLength(2);
      for (const p of peers) {
        for (const id of [energy!.info.id, data!.info.id]) {
          expect(p.topics).toContain(`orders:${id}`);
          expect(p.topics).toContain(`announce:${id}`);
        }
      }
    }
  });

  it("a node that leaves the data market gets none of its traffic; energy goes on; it can join again", async () => {
    const [energy, data] = net.markets;
    const dataId = data!.info.id;
    const leaver = net.nodes[2]!;

    const left = await runCli(["market", "leave", dataId, "--data-dir", leaver.dataDir]);
    expect(left.code, left.stderr).toBe(0);
    expect(left.stdout).toContain(`left market ${dataId}`);
    expect((await api(leaver).markets()).map((m) => m.id)).toEqual([energy!.info.id]);
    const again = await runCli(["market", "leave", dataId, "--data-dir", leaver.dataDir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/does not serve market/);
    // The others see it unsubscribe from the data market's topics.
    for (let i = 0; i < 50; i++) {
      const counts = await Promise.all(net.nodes.slice(0, 2).map((n) => api(n).market(dataId)));
      if (counts.every((m) => m.peers === 1)) break;
      await sleep(100);
    }
    for (const n of net.nodes.slice(0, 2)) expect((await api(n).market(dataId)).peers).toBe(1);

    const before = await ordersHandled(leaver, dataId);
    const report = await net.run(undefined, 4);
    const energyRows = report.markets[0]!.epochs.slice(-4);
    expectAgreedAndSettled(energyRows, [0, 1, 2], "energy while node 2 is out of data");
    const dataRows = report.markets[1]!.epochs.filter((e) => e.nodes[2]!.phase === "unknown");
    expect(dataRows.length).toBeGreaterThan(0);
    expectAgreedAndSettled(dataRows, [0, 1], "data without node 2");
    // Not one data-market message reached the node that left.
    expect(await ordersHandled(leaver, dataId)).toBe(before);

    // Joining again at run time: from the next data epoch it agrees with the others.
    const joined = await runCli(["market", "join", dataId, "--data-dir", leaver.dataDir, "--json"]);
    expect(joined.code, joined.stderr).toBe(0);
    expect((JSON.parse(joined.stdout) as { id: string }).id).toBe(dataId);
    const back = await net.run(undefined, 5);
    const lastData = back.markets[1]!.epochs.at(-1)!;
    expectAgreedAndSettled([lastData], [0, 1, 2], "data after the rejoin");
    expect(await ordersHandled(leaver, dataId)).toBeGreaterThan(before);
  });
});
