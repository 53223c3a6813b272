// node_ingest_orders_per_s: one node process fed over gossip by one peer. The peer is a bare libp2p host in
// this process that opens a gossipsub stream to the node and writes RPC frames of ready-made bundles of
// signed orders (2,000 funded traders, 8,000 orders an epoch: the node's per-peer burst), as fast as the
// stream takes them. The figure is orders over the time from the first frame to the last order stored
// (the node's receivedMs); the node's CPU time per order comes from /proc.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { RPC } from "@libp2p/gossipsub/message";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import * as lp from "it-length-prefixed";
import { createLibp2p } from "libp2p";
import { orderTopic } from "../../node/gossip/topics.ts";
import { encodeBundle } from "../../protocol/bundle.ts";
import { encodeOrder } from "../../protocol/codec.ts";
import { MAX_ORDERS_PER_BUNDLE } from "../../protocol/constants.ts";
import { domainSeparator, makeDomain } from "../../protocol/eip712.ts";
import { epochAtMs, epochStartMs } from "../../protocol/epoch.ts";
import { orderFromJson, type SignedOrder } from "../../protocol/order.ts";
import { Testnet } from "../../testnet/network.ts";
import { bulkFundTestnet } from "./bulk-fund.ts";
import { ORDERS_PER_TRADER_EPOCH, signEpochOrders, sleep, tradersScenario } from "./traders.ts";

const MESHSUB = ["/meshsub/1.2.0", "/meshsub/1.1.0"];
const ORDERS_PER_ROUND = 8000;
const ROUNDS = 3;
const BUNDLES_PER_FRAME = 8;

/** CPU time (user + system) of a process, ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm) "
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export interface IngestRun {
  readonly ordersPerS: number[];
  readonly cpuMsPerOrder: number[];
  readonly detail: string;
}

export async function measureIngest(log: (l: string) => void): Promise<IngestRun> {
  const dir = join(tmpdir(), `smartmarket-bench-ingest-${process.pid}`);
  const net = await Testnet.up({
    nodes: 1,
    epochs: null,
    epochSeconds: 10,
    scenario: tradersScenario(ORDERS_PER_ROUND / ORDERS_PER_TRADER_EPOCH, { bulk: true }),
    scenarioName: "bench",
    seed: "ingest",
    dir,
  });
  let feeder: Libp2p | null = null;
  const ordersPerS: number[] = [];
  const cpuMsPerOrder: number[] = [];
  try {
    await bulkFundTestnet(net);
    await sleep(3000);
    const node = net.nodes[0]!;
    const pid = node.child!.pid!;
    const separator = domainSeparator(makeDomain(net.anvil.chainId, net.contract));
    const topic = orderTopic(separator, net.market.id);
    feeder = await createLibp2p({
      addresses: { listen: [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    let nonce = 0n;
    for (let round = 0; round < ROUNDS; round++) {
      const epoch = epochAtMs(net.market, BigInt(Date.now())) + 1n;
      const signed = signEpochOrders(
        separator,
        net.market.id,
        net.scenario.devices,
        epoch,
        ORDERS_PER_ROUND,
        nonce,
      );
      nonce += BigInt(ORDERS_PER_ROUND);
      const wires = signed.map((o) => encodeOrder(orderFromJson(o.json) as SignedOrder));
      const bundles: Uint8Array[] = [];
      for (let i = 0; i < wires.length; i += MAX_ORDERS_PER_BUNDLE)
        bundles.push(encodeBundle(wires.slice(i, i + MAX_ORDERS_PER_BUNDLE)));
      const frames: Uint8Array[] = [];
      for (let i = 0; i < bundles.length; i += BUNDLES_PER_FRAME) {
        frames.push(
          lp.encode
            .single(
              RPC.encode({
                subscriptions: i === 0 ? [{ subscribe: true, topic }] : [],
                messages: bundles.slice(i, i + BUNDLES_PER_FRAME).map((data) => ({ topic, data })),
              }),
            )
            .subarray(),
        );
      }
      await sleep(Number(epochStartMs(net.market, epoch)) - Date.now() + 500);
      const stream = await feeder.dialProtocol(multiaddr(node.multiaddr), MESHSUB);
      const cpu0 = cpuMs(pid);
      const t0 = Date.now();
      for (const f of frames) {
        if (!stream.send(f)) await stream.onDrain({ signal: AbortSignal.timeout(10_000) });
      }
      let stored: { receivedMs: number }[] = [];
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const view = await node.client(10_000).epoch(net.market.id, epoch, { orders: false });
        if ((view.orders ?? 0) >= ORDERS_PER_ROUND) break;
        await sleep(50);
      }
      const cpu1 = cpuMs(pid);
      stored = await node.client(30_000).orders(net.market.id, epoch);
      const last = Math.max(...stored.map((o) => o.receivedMs));
      const rate = (stored.length * 1000) / Math.max(1, last - t0);
      ordersPerS.push(rate);
      cpuMsPerOrder.push((cpu1 - cpu0) / Math.max(1, stored.length));
      log(
        `ingest round ${round}: ${stored.length} of ${ORDERS_PER_ROUND} orders stored in ${last - t0} ms: ${rate.toFixed(0)}/s; node CPU ${((cpu1 - cpu0) / stored.length).toFixed(3)} ms/order (includes polling the API)`,
      );
      await stream.close().catch(() => {});
    }
  } finally {
    await feeder?.stop();
    await net.down();
    rmSync(dir, { recursive: true, force: true });
  }
  return { ordersPerS, cpuMsPerOrder, detail: "" };
}
