// Sync under abuse: fair slots (slot exhaustion by throwaway identities), the per-peer rate budget and
// the gossip time window for pushed orders (the 30k-order push, the last look after close). Real libp2p
// in-process (TCP on 127.0.0.1) with in-memory stores; the slot and time rules also without a network.
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { Libp2p, Stream } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SYNC_PROTOCOL } from "../../../node/sync/constants.ts";
import { SyncError, SyncErrorCode } from "../../../node/sync/errors.ts";
import { pushTimeVerdict } from "../../../node/sync/push-window.ts";
import { type SyncEvents, type SyncLimits, SyncService } from "../../../node/sync/service.ts";
import { InboundSlots } from "../../../node/sync/slots.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import { epochEndMs, epochStartMs } from "../../../protocol/epoch.ts";
import type { OrderError } from "../../../protocol/errors.ts";
import { validateOrderBytes } from "../../../protocol/validation.ts";
import { ctxAt, makeOrder, SCHEDULE, sign } from "../protocol/fixtures.ts";
import { fakeOrders, MARKET, MemoryStore } from "./helpers.ts";

const EPOCH = 7n;

async function createNode(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
}

let nodes: Libp2p[] = [];
let services: SyncService[] = [];
const held: Stream[] = [];

beforeAll(async () => {
  nodes = await Promise.all([createNode(), createNode(), createNode(), createNode()]);
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

afterEach(async () => {
  for (const s of held.splice(0)) s.abort(new Error("test over"));
  await Promise.all(services.map((s) => s.stop()));
  services = [];
});

function addr(node: Libp2p) {
  return node.getMultiaddrs()[0]!;
}

async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Recorded {
  refused: string[];
  dropped: { reason: string; peer: string; n: number }[];
}

function recorder(): { events: SyncEvents; rec: Recorded } {
  const rec: Recorded = { refused: [], dropped: [] };
  return {
    rec,
    events: {
      refused: (reason) => rec.refused.push(reason),
      dropped: (reason, peer, n) => rec.dropped.push({ reason, peer, n }),
    },
  };
}

async function service(
  node: Libp2p,
  store: MemoryStore,
  init: {
    limits?: Partial<SyncLimits>;
    peerScore?: (peer: string) => number;
    takeRate?: (peer: string) => boolean;
    events?: SyncEvents;
  } = {},
): Promise<SyncService> {
  const s = new SyncService({ store, ...init }, { libp2p: node });
  await s.start();
  services.push(s);
  return s;
}

/** Opens a sync stream from `from` to `to` and holds it (half a length prefix: the server waits). */
async function hold(from: Libp2p, to: Libp2p): Promise<void> {
  const stream = await from.dialProtocol(addr(to), SYNC_PROTOCOL);
  stream.send(Uint8Array.of(0x85));
  held.push(stream);
}

describe("inbound slots (no network)", () => {
  it("lets a better-scored peer evict the worst session, and equal peers only stale sessions", () => {
    let now = 0;
    const scores = new Map([
      ["honest", 5],
      ["sybil1", 0],
      ["sybil2", 0],
      ["sybil3", 0],
      ["bad", -50],
    ]);
    const evicted: string[] = [];
    const slots = new InboundSlots({
      maxPerPeer: 2,
      maxTotal: 3,
      minEvictAgeMs: 2_000,
      score: (p) => scores.get(p) ?? 0,
      now: () => now,
    });
    const take = (peer: string) => slots.admit(peer, () => evicted.push(peer));
    expect(take("sybil1").ok).toBe(true);
    now += 10;
    expect(take("bad").ok).toBe(true);
    now += 10;
    expect(take("sybil2").ok).toBe(true);
    // full: a fresh identity may evict the abuser (lower score) ...
    const a = take("sybil3");
    expect(a.ok && a.evicted?.peer).toBe("bad");
    // ... but not an equal peer's session younger than minEvictAgeMs
    const b = take("sybil1");
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.reason).toBe("global");
    // the honest peer evicts the oldest of the lowest-scored sessions at once
    const c = take("honest");
    expect(c.ok && c.evicted?.peer).toBe("sybil1");
    expect(evicted).toEqual(["bad", "sybil1"]);
    // a stale equal session is fair game
    now += 2_000;
    const d = take("sybil1");
    expect(d.ok && d.evicted?.peer).toBe("sybil2");
    // a second honest session evicts the other throwaway
    const e = take("honest");
    expect(e.ok && e.evicted?.peer).toBe("sybil3");
    expect(slots.perPeer("honest")).toBe(2);
    // throwaways never evict the honest sessions, however long these run: only each other
    now += 60_000;
    const f = take("sybil2");
    expect(f.ok && f.evicted?.peer).toBe("sybil1");
    const g = take("sybil3");
    expect(g.ok).toBe(false);
    expect(slots.perPeer("honest")).toBe(2);
    expect(slots.size).toBe(3);
    expect(evicted).toEqual(["bad", "sybil1", "sybil2", "sybil3", "sybil1"]);
  });

  it("refuses a peer over its per-peer limit before looking at the global one", () => {
    const slots = new InboundSlots({
      maxPerPeer: 1,
      maxTotal: 10,
      minEvictAgeMs: 0,
      score: () => 0,
      now: () => 0,
    });
    expect(slots.admit("p", () => {}).ok).toBe(true);
    const r = slots.admit("p", () => {});
    expect(r.ok === false && r.reason).toBe("per_peer");
  });
});

describe("sync slots over libp2p", () => {
  it("honest sync succeeds while throwaway identities hold every slot", async () => {
    const [honest, server, sybilA, sybilB] = nodes as [Libp2p, Libp2p, Libp2p, Libp2p];
    const { events, rec } = recorder();
    const honestId = honest.peerId.toString();
    const b = await service(server, new MemoryStore(fakeOrders(70, 100)), {
      limits: { maxSessionsPerPeer: 2, maxInboundSessions: 4 },
      peerScore: (p) => (p === honestId ? 2.5 : 0),
      events,
    });
    // two throwaway identities hold 2 streams each: every slot is taken
    await hold(sybilA, server);
    await hold(sybilA, server);
    await hold(sybilB, server);
    await hold(sybilB, server);
    await until(() => b.stats().active.inbound === 4);
    // a further throwaway stream is refused (scores equal, the held sessions are fresh)
    const c = await service(sybilA, new MemoryStore());
    const refused = await c.reconcile(addr(server), MARKET, EPOCH).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SyncError);
    expect((refused as SyncError).code).toBe(SyncErrorCode.BUSY);
    // the honest, better-scored peer gets a slot by evicting a throwaway, and completes
    const a = await service(honest, new MemoryStore(fakeOrders(70, 90)));
    const report = await a.reconcile(addr(server), MARKET, EPOCH);
    expect(report.fetched).toBe(10);
    expect(rec.refused).toContain("evicted");
    expect(rec.refused).toContain("per_peer");
    expect(b.stats().refusedByReason.evicted).toBe(1);
  });

  it("a server drops a client that sends no request within requestTimeoutMs", async () => {
    const b = await service(nodes[1]!, new MemoryStore(fakeOrders(71, 10)), {
      limits: { requestTimeoutMs: 200 },
    });
    await hold(nodes[2]!, nodes[1]!);
    await until(() => b.stats().active.inbound === 1);
    await until(() => b.stats().errors.TIMEOUT === 1, 3_000);
    expect(b.stats().active.inbound).toBe(0);
  });
});

describe("pushed orders", () => {
  it("spend the pusher's rate budget: orders over it are dropped and counted, not validated", async () => {
    const { events, rec } = recorder();
    let budget = 10;
    const storeB = new MemoryStore(fakeOrders(72, 5));
    await service(nodes[1]!, storeB, { takeRate: () => budget-- > 0, events });
    // the client holds 30 orders the server lacks and pushes them all
    const a = await service(nodes[0]!, new MemoryStore([...fakeOrders(72, 5), ...fakeOrders(73, 30)]));
    const report = await a.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    expect(report.pushed).toBe(30);
    expect(report.pushedAccepted).toBe(10);
    expect(storeB.orders.size).toBe(15);
    expect(rec.dropped).toContainEqual({ reason: "rate_limited", peer: nodes[0]!.peerId.toString(), n: 20 });
    const stats = services[0]!.stats();
    expect(stats.pushRateLimited).toBe(20);
  });

  it("are refused after close exactly like gossip (no last look); fetched orders still arrive", async () => {
    const { events, rec } = recorder();
    const end = epochEndMs(SCHEDULE, EPOCH);
    let nowMs = end + 600n; // closed (past the clock-disparity allowance) at the server's clock
    const storeB = new MemoryStore(fakeOrders(74, 5));
    storeB.admitPush = (_m, epoch) => pushTimeVerdict(SCHEDULE, epoch, nowMs);
    await service(nodes[1]!, storeB, { events });
    const storeA = new MemoryStore([...fakeOrders(74, 5), ...fakeOrders(75, 8)]);
    const a = await service(nodes[0]!, storeA);
    const report = await a.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    expect(report.pushed).toBe(8);
    expect(report.pushedAccepted).toBe(0);
    expect(storeB.orders.size).toBe(5);
    expect(rec.dropped).toContainEqual({ reason: "late", peer: nodes[0]!.peerId.toString(), n: 8 });
    // the server, reconciling with the peer that held them, still fetches them (what sync after close is for)
    const b2 = services[0]!;
    const back = await b2.reconcile(addr(nodes[0]!), MARKET, EPOCH);
    expect(back.fetched).toBe(8);
    expect(storeB.orders.size).toBe(13);
    // while the epoch is open, pushes are accepted
    nowMs = epochStartMs(SCHEDULE, EPOCH) + 1_000n;
    const storeC = new MemoryStore();
    storeC.admitPush = (_m, epoch) => pushTimeVerdict(SCHEDULE, epoch, nowMs);
    await service(nodes[2]!, storeC);
    const toC = await a.reconcile(addr(nodes[2]!), MARKET, EPOCH);
    expect(toC.pushedAccepted).toBe(13);
  });

  it("the push window gives the gossip verdict at every instant around the epoch", () => {
    const epoch = 5n;
    const wire = encodeOrder(sign(makeOrder({ epoch })));
    const start = epochStartMs(SCHEDULE, epoch);
    const end = epochEndMs(SCHEDULE, epoch);
    const instants = [
      start - 30_000n,
      start - 501n,
      start - 500n,
      start,
      end - 1n,
      end,
      end + 499n,
      end + 500n,
    ];
    for (const t of [...instants, end + 10_000n, end + 25_000n, end + 40_000n]) {
      let gossip: string | null = null;
      try {
        validateOrderBytes(wire, ctxAt(t));
      } catch (err) {
        gossip = (err as OrderError).code;
      }
      expect(pushTimeVerdict(SCHEDULE, epoch, t)?.code ?? null, `at ${t - end} ms from close`).toBe(gossip);
    }
  });
});
