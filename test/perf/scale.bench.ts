// The scale curve (issue 13): how one node's cost grows with the network, on this 2-core machine. For 5,
// 10 and 20 node processes (one anvil, one market, 15 s epochs), 20 single orders a second are handed to
// node 0's control API for 10 s (a light load, so that 20 processes fit on 2 cores: the ratios are what
// count), and per node are measured over that window:
//   scale_<n>_idle_cpu_pct            CPU of an idle node (heartbeats, chain polls), % of a core (median)
//   scale_<n>_cpu_ms_per_order        CPU time of a node process per order beyond its idle CPU (median)
//   scale_<n>_bytes_per_order         libp2p bytes sent + received by a node per order (median)
//   scale_<n>_mesh_degree             peers in a node's gossipsub mesh of the order topic (median)
//   scale_<n>_p50_ms / _p99_ms        an order handed to node 0 → stored by every node
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { domainSeparator, makeDomain } from "../../protocol/eip712.ts";
import { epochAtMs, epochStartMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import { Testnet } from "../../testnet/network.ts";
import type { NodeProcess } from "../../testnet/node-process.ts";
import { metric } from "../fault/rogue.ts";
import { bulkFundTestnet } from "./bulk-fund.ts";
import { type BenchFigure, type BenchGroup, median, round } from "./harness.ts";
import { cpuMs } from "./ingest.ts";
import { percentile, postOrder, signFor, sleep, tradersScenario } from "./traders.ts";

const SIZES = (process.env.BENCH_SCALE_SIZES ?? "5,10,20").split(",").map(Number);
const RATE_PER_S = 20;
const DURATION_S = 10;
const TRADERS = 100; // 200 orders, 2 per trader: one buy, one sell
const IDLE_WINDOW_MS = 5000;

async function libp2pBytes(node: NodeProcess): Promise<{ bytes: number; mesh: number }> {
  const text = await node.client(10_000).metrics();
  return {
    bytes:
      metric(text, "libp2p_data_transfer_bytes_total", { protocol: "global sent" }) +
      metric(text, "libp2p_data_transfer_bytes_total", { protocol: "global received" }),
    mesh: metric(text, "smartmarket_gossip_mesh_peers"),
  };
}

interface ScaleRow {
  readonly nodes: number;
  readonly idleCpuPct: number;
  readonly cpuMsPerOrder: number;
  readonly bytesPerOrder: number;
  readonly mesh: number;
  readonly p50: number;
  readonly p99: number;
  readonly missing: number;
}

async function measure(nodes: number, log: (l: string) => void): Promise<ScaleRow> {
  const dir = join(tmpdir(), `smartmarket-bench-scale-${process.pid}-${nodes}`);
  const net = await Testnet.up({
    nodes,
    epochs: null,
    epochSeconds: 15,
    scenario: tradersScenario(TRADERS, { bulk: true }),
    scenarioName: "bench",
    seed: `scale-${nodes}`,
    dir,
  });
  try {
    await bulkFundTestnet(net);
    await sleep(5000); // deposits read, meshes formed
    const separator = domainSeparator(makeDomain(net.anvil.chainId, net.contract));
    const pids = net.nodes.map((n) => n.child!.pid!);
    // idle CPU first, so that the load's figure is what the orders cost
    const idle0 = pids.map(cpuMs);
    const idleT0 = Date.now();
    await sleep(IDLE_WINDOW_MS);
    const idleRate = pids.map((pid, i) => (cpuMs(pid) - idle0[i]!) / (Date.now() - idleT0));
    const epoch = epochAtMs(net.market, BigInt(Date.now())) + 1n;
    await sleep(Number(epochStartMs(net.market, epoch)) - Date.now() + 200);
    const before = await Promise.all(net.nodes.map(libp2pBytes));
    const cpu0 = pids.map(cpuMs);
    const sent = new Map<Hex, number>();
    const jobs: Promise<void>[] = [];
    const t0 = Date.now();
    const n = RATE_PER_S * DURATION_S;
    for (let k = 0; k < n; k++) {
      await sleep(t0 + (k * 1000) / RATE_PER_S - Date.now());
      const o = signFor(separator, net.market.id, net.scenario.devices[k >> 1]!, epoch, {
        side: k % 2 === 0 ? "buy" : "sell",
        limitPrice: 1000n + BigInt(k % 50),
        quantity: 20n,
        nonce: BigInt(k),
      });
      sent.set(o.id, Date.now());
      jobs.push(postOrder(net.nodes[0]!, net.market.id, o.json));
    }
    await Promise.all(jobs);
    await sleep(1500);
    const elapsed = Date.now() - t0;
    const cpu = pids.map((pid, i) => (cpuMs(pid) - cpu0[i]! - idleRate[i]! * elapsed) / n);
    const after = await Promise.all(net.nodes.map(libp2pBytes));
    const received = new Map<Hex, number[]>();
    for (const node of net.nodes.slice(1)) {
      for (const o of await node.client(30_000).orders(net.market.id, epoch)) {
        if (!sent.has(o.id)) continue;
        received.set(o.id, [...(received.get(o.id) ?? []), o.receivedMs]);
      }
    }
    const lat: number[] = [];
    let missing = 0;
    for (const [id, at] of sent) {
      const r = received.get(id) ?? [];
      if (r.length < nodes - 1) missing++;
      else lat.push(Math.max(...r) - at);
    }
    lat.sort((a, b) => a - b);
    const row: ScaleRow = {
      nodes,
      idleCpuPct: median(idleRate) * 100,
      cpuMsPerOrder: median(cpu),
      bytesPerOrder: median(after.map((a, i) => (a.bytes - before[i]!.bytes) / n)),
      mesh: median(after.map((a) => a.mesh)),
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      missing,
    };
    log(
      `${nodes} nodes: idle ${row.idleCpuPct.toFixed(1)} % of a core; CPU ${row.cpuMsPerOrder.toFixed(3)} ms/order/node beyond idle (min ${Math.min(...cpu).toFixed(3)}, max ${Math.max(...cpu).toFixed(3)}), ${row.bytesPerOrder.toFixed(0)} B/order/node, mesh degree ${row.mesh}, publish → all ${row.p50}/${row.p99} ms (p50/p99), ${missing} of ${n} not everywhere`,
    );
    return row;
  } finally {
    await net.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const bench: BenchGroup = async (log) => {
  const figures: BenchFigure[] = [];
  for (const nodes of SIZES) {
    const r = await measure(nodes, log);
    figures.push(
      { name: `scale_${nodes}_idle_cpu_pct`, value: round(r.idleCpuPct, 1), unit: "% of a core" },
      { name: `scale_${nodes}_cpu_ms_per_order`, value: round(r.cpuMsPerOrder, 3), unit: "ms" },
      { name: `scale_${nodes}_bytes_per_order`, value: round(r.bytesPerOrder, 0), unit: "bytes" },
      { name: `scale_${nodes}_mesh_degree`, value: r.mesh, unit: "peers" },
      { name: `scale_${nodes}_p50_ms`, value: r.p50, unit: "ms" },
      { name: `scale_${nodes}_p99_ms`, value: r.p99, unit: "ms" },
    );
  }
  return figures;
};
