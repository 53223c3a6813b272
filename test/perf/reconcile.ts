// Bytes the sync protocol puts on the wire per missing order: two libp2p nodes on loopback (TCP, noise,
// yamux), n = 10,000 orders, d of them missing on one side. Counted: every sync frame in both
// directions, length prefixes and the orders themselves included; not counted: multistream-select
// negotiation and the noise/yamux framing underneath (libp2p's, the same for any protocol).
//
// Orders are wire-encoded with the real codec (realistic sizes, ~130 bytes) but carry random signature
// bytes: the sync layer treats orders as opaque bytes identified by id, and this store's id is the
// sha256 of the bytes. Signing 10,000 orders would only slow the benchmark down.
import { createHash } from "node:crypto";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { type SyncReport, SyncService, type SyncStore } from "../../node/sync/service.ts";
import { encodeOrder } from "../../protocol/codec.ts";
import { bytesToHex, compareHex, type Hex } from "../../protocol/hex.ts";

const N_ORDERS = 10_000;
const D_MAIN = 100;
const D_DETAIL = [1, 10] as const;
const MARKET = `0x${"ab".repeat(32)}` as Hex;
const EPOCH = 7n;

class BenchStore implements SyncStore {
  private readonly orders = new Map<Hex, Uint8Array>();
  private sortedIds: Hex[] | undefined;

  constructor(orders: readonly Uint8Array[]) {
    for (const o of orders) this.orders.set(idOf(o), o);
  }

  get size(): number {
    return this.orders.size;
  }

  ids(): readonly Hex[] {
    this.sortedIds ??= [...this.orders.keys()].sort(compareHex);
    return this.sortedIds;
  }

  wire(_m: Hex, _e: bigint, ids: readonly Hex[]): Uint8Array[] {
    return ids.flatMap((id) => this.orders.get(id) ?? []);
  }

  async accept(_m: Hex, _e: bigint, orders: Uint8Array[]) {
    for (const o of orders) this.orders.set(idOf(o), o);
    this.sortedIds = undefined;
    return { accepted: orders.length, rejected: 0 };
  }

  serves(): boolean {
    return true;
  }
}

function idOf(order: Uint8Array): Hex {
  return `0x${createHash("sha256").update(order).digest("hex")}` as Hex;
}

/** Deterministic pseudo-random bytes, so that every run measures the same sets. */
function bytesOf(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let off = 0, k = 0; off < length; off += 32, k++) {
    out.set(
      createHash("sha256")
        .update(`${label}/${k}`)
        .digest()
        .subarray(0, length - off),
      off,
    );
  }
  return out;
}

function makeOrders(n: number): Uint8Array[] {
  const trader = bytesToHex(bytesOf("trader", 20));
  return Array.from({ length: n }, (_, i) =>
    encodeOrder({
      market: MARKET,
      epoch: EPOCH,
      side: i % 2 === 0 ? "buy" : "sell",
      quantity: BigInt(1 + ((i * 7919) % 100_000)),
      limitPrice: BigInt(1 + ((i * 104_729) % 5_000)),
      nonce: BigInt(i),
      trader,
      signature: bytesToHex(bytesOf(`signature/${i}`, 65)),
    }),
  );
}

async function createNode(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
}

interface Case {
  d: number;
  report: SyncReport;
  orderBytes: number;
}

/** One reconcile of a client missing `d` of the server's `all` orders; returns the client's report. */
async function runCase(client: Libp2p, server: Libp2p, all: readonly Uint8Array[], d: number): Promise<Case> {
  // the client lacks every (n/d)-th order: differences spread over the whole id space
  const step = Math.floor(all.length / Math.max(d, 1));
  const missing = new Set(Array.from({ length: d }, (_, i) => i * step));
  const serverStore = new BenchStore(all);
  const clientStore = new BenchStore(all.filter((_, i) => !missing.has(i)));
  const a = new SyncService({ store: clientStore }, { libp2p: client });
  const b = new SyncService({ store: serverStore }, { libp2p: server });
  await Promise.all([a.start(), b.start()]);
  try {
    const report = await a.reconcile(server.getMultiaddrs()[0]!, MARKET, EPOCH);
    if (clientStore.size !== serverStore.size || report.fetched !== d) {
      throw new Error(`reconcile did not converge: fetched ${report.fetched} of ${d}`);
    }
    let orderBytes = 0;
    for (const i of missing) orderBytes += all[i]!.length;
    return { d, report, orderBytes };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

export async function measureReconcileBytes(): Promise<{ bytesPerMissingOrder: number; detail: string }> {
  const all = makeOrders(N_ORDERS);
  const [client, server] = await Promise.all([createNode(), createNode()]);
  try {
    const cases: Case[] = [];
    for (const d of [...D_DETAIL, D_MAIN]) cases.push(await runCase(client, server, all, d));
    const equal = await runCase(client, server, all, 0);
    const total = (c: Case) => c.report.bytesSent + c.report.bytesReceived;
    const main = cases.find((c) => c.d === D_MAIN)!;
    const lines = cases.map((c) => {
      const bytes = total(c);
      return (
        `d=${c.d}: ${bytes} B total, ${(bytes / c.d).toFixed(1)} B/missing order ` +
        `(orders ${(c.orderBytes / c.d).toFixed(1)} B each, protocol overhead ${((bytes - c.orderBytes) / c.d).toFixed(1)} B), ` +
        `${c.report.rounds} rounds, ${c.report.durationMs.toFixed(0)} ms`
      );
    });
    lines.push(`d=0: ${total(equal)} B total, ${equal.report.rounds} round`);
    return {
      bytesPerMissingOrder: Math.round((total(main) / main.d) * 10) / 10,
      detail: `n=${N_ORDERS}; ${lines.join("; ")}`,
    };
  } finally {
    await Promise.all([client.stop(), server.stop()]);
  }
}
