// The sync service over real libp2p: three in-process nodes, TCP on 127.0.0.1, noise, yamux.
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type { Libp2p, Stream } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import * as lp from "it-length-prefixed";
import { createLibp2p } from "libp2p";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, MessageType, type SyncMessage } from "../../../node/sync/codec.ts";
import { MAX_SYNC_FRAME_BYTES, SYNC_PROTOCOL } from "../../../node/sync/constants.ts";
import { SyncError, SyncErrorCode } from "../../../node/sync/errors.ts";
import { type SyncLimits, SyncService } from "../../../node/sync/service.ts";
import { FramedStream } from "../../../node/sync/stream.ts";
import { fakeOrders, MARKET, MemoryStore, orderId as orderIdOf } from "./helpers.ts";

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

beforeAll(async () => {
  nodes = await Promise.all([createNode(), createNode(), createNode()]);
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

afterEach(async () => {
  await Promise.all(services.map((s) => s.stop()));
  services = [];
  // a test may leave raw handlers behind
  for (const n of nodes) await n.unhandle(SYNC_PROTOCOL).catch(() => {});
});

async function service(
  node: Libp2p,
  store: MemoryStore,
  limits: Partial<SyncLimits> = {},
): Promise<SyncService> {
  const s = new SyncService({ store, limits }, { libp2p: node });
  await s.start();
  services.push(s);
  return s;
}

function addr(node: Libp2p) {
  return node.getMultiaddrs()[0]!;
}

async function syncError(p: Promise<unknown>): Promise<SyncError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SyncError);
    return err as SyncError;
  }
  throw new Error("expected a SyncError");
}

/** Reads frames off a raw stream until it ends; returns the decoded messages. */
async function readAll(stream: Stream): Promise<SyncMessage[]> {
  const out: SyncMessage[] = [];
  try {
    for await (const frame of lp.decode(stream)) out.push(decodeMessage(frame.subarray()));
  } catch {
    // reset after the error frame: fine
  }
  await stream.close().catch(() => {});
  return out;
}

async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("SyncService over libp2p", () => {
  it("reconciles sets that differ both ways: both stores end with the union", async () => {
    const common = fakeOrders(1, 2_000);
    const onlyA = fakeOrders(2, 30);
    const onlyB = fakeOrders(3, 45);
    const storeA = new MemoryStore([...common, ...onlyA]);
    const storeB = new MemoryStore([...common, ...onlyB]);
    const a = await service(nodes[0]!, storeA);
    const b = await service(nodes[1]!, storeB);

    const report = await a.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    const union = [...new Set([...storeA.orders.keys(), ...storeB.orders.keys()])].sort();
    expect([...storeA.ids(MARKET, EPOCH)]).toEqual(union);
    expect([...storeB.ids(MARKET, EPOCH)]).toEqual(union);
    expect(union.length).toBe(2_075);
    expect(report).toMatchObject({
      peer: nodes[1]!.peerId.toString(),
      market: MARKET,
      epoch: EPOCH,
      fetched: 45,
      pushed: 30,
      missingLocal: 45,
      missingRemote: 30,
      fetchedAccepted: 45,
      fetchedRejected: 0,
      pushedAccepted: 30,
      pushedRejected: 0,
    });
    expect(report.rounds).toBeGreaterThanOrEqual(2);
    expect(report.rounds).toBeLessThanOrEqual(5);
    // the orders themselves dominate: 75 × 130 bytes, plus well under 1 KB per difference
    expect(report.bytesSent + report.bytesReceived).toBeLessThan(75 * (130 + 600));
    expect(storeA.acceptCalls[0]!.from).toBe(nodes[1]!.peerId.toString());
    expect(storeB.acceptCalls[0]!.from).toBe(nodes[0]!.peerId.toString());

    // again: nothing left, one round, a few dozen bytes
    const again = await a.reconcile(nodes[1]!.peerId, MARKET, EPOCH);
    expect(again).toMatchObject({ rounds: 1, fetched: 0, pushed: 0 });
    expect(again.bytesSent + again.bytesReceived).toBeLessThan(100);

    await until(() => b.stats().sessions.inbound.ok === 2);
    const sa = a.stats();
    const sb = b.stats();
    expect(sa.sessions.outbound).toEqual({ ok: 2, failed: 0 });
    expect(sa.ordersFetched).toBe(45);
    expect(sa.ordersPushed).toBe(30);
    expect(sb.ordersServed).toBe(45);
    expect(sb.ordersReceivedByPush).toBe(30);
    expect(sb.ordersAccepted).toBe(30);
    expect(sa.bytesSent).toBe(report.bytesSent + again.bytesSent);
    expect(sb.bytesReceived).toBe(sa.bytesSent);
    expect(sb.bytesSent).toBe(sa.bytesReceived);
  });

  it("counts orders the stores reject, both for fetched and pushed orders", async () => {
    const bad = (o: Uint8Array) => o[0] === 0xee;
    const common = fakeOrders(10, 500);
    const storeA = new MemoryStore([...common, ...fakeOrders(11, 4), ...fakeOrders(12, 3, 0xee)], bad);
    const storeB = new MemoryStore([...common, ...fakeOrders(13, 6), ...fakeOrders(14, 5, 0xee)], bad);
    const a = await service(nodes[0]!, storeA);
    const b = await service(nodes[1]!, storeB);
    const report = await a.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    expect(report).toMatchObject({
      fetched: 11,
      fetchedAccepted: 6,
      fetchedRejected: 5,
      pushed: 7,
      pushedAccepted: 4,
      pushedRejected: 3,
    });
    expect(a.stats()).toMatchObject({ ordersAccepted: 6, ordersRejected: 5 });
    await until(() => b.stats().sessions.inbound.ok === 1);
    expect(b.stats()).toMatchObject({ ordersAccepted: 4, ordersRejected: 3 });
    expect(storeA.orders.size).toBe(500 + 7 + 6);
    expect(storeB.orders.size).toBe(500 + 11 + 4);
  });

  it("answers garbage with a typed ERROR frame, counts it, and keeps serving", async () => {
    const storeB = new MemoryStore(fakeOrders(20, 50));
    const b = await service(nodes[1]!, storeB);

    // 1. a well-framed message of an unknown type
    const s1 = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    s1.send(lp.encode.single(Uint8Array.of(0x42, 1, 2, 3)));
    const got1 = await readAll(s1);
    expect(got1).toEqual([
      { type: MessageType.ERROR, code: SyncErrorCode.MALFORMED, reason: expect.any(String) },
    ]);

    // 2. a length prefix above MAX_SYNC_FRAME_BYTES: refused before any allocation
    const s2 = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    s2.send(Uint8Array.of(0xff, 0xff, 0xff, 0x7f));
    const got2 = await readAll(s2);
    expect(got2[0]).toMatchObject({ type: MessageType.ERROR, code: SyncErrorCode.FRAME_TOO_LARGE });

    // 3. a request out of order: FETCH before OPEN
    const s3 = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    s3.send(lp.encode.single(encodeMessage({ type: MessageType.FETCH, ids: new Uint8Array(32).fill(1) })));
    const got3 = await readAll(s3);
    expect(got3[0]).toMatchObject({ type: MessageType.ERROR, code: SyncErrorCode.PROTOCOL_VIOLATION });

    // 4. random bytes, then close
    const s4 = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    s4.send(crypto.getRandomValues(new Uint8Array(3000)));
    await s4.close();
    await readAll(s4);

    await until(() => b.stats().sessions.inbound.failed === 4);
    const st = b.stats();
    expect(
      st.errors.MALFORMED + st.errors.FRAME_TOO_LARGE + st.errors.STREAM_CLOSED + st.errors.LIMIT_EXCEEDED,
    ).toBeGreaterThanOrEqual(3);
    expect(st.errors.PROTOCOL_VIOLATION).toBe(1);
    expect(st.active.inbound).toBe(0);

    // the server still works
    const a = await service(nodes[0]!, new MemoryStore(fakeOrders(20, 40)));
    const report = await a.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    expect(report.fetched).toBe(10);
  });

  it("survives a burst of mutated sessions (fuzz) and still serves", async () => {
    const orders = fakeOrders(25, 300);
    const storeB = new MemoryStore(orders);
    const b = await service(nodes[1]!, storeB, { sessionTimeoutMs: 2_000 });
    // a valid opening and follow-ups to mutate
    const snapshotIds = new MemoryStore(orders.slice(0, 290)).ids(MARKET, EPOCH);
    const { IdSnapshot } = await import("../../../node/sync/ids.ts");
    const { Reconciler } = await import("../../../node/sync/reconcile.ts");
    const rec = new Reconciler(IdSnapshot.fromHex(snapshotIds), "client");
    const frames = [
      encodeMessage({ type: MessageType.OPEN, market: MARKET, epoch: EPOCH, ranges: rec.initialRanges() }),
      encodeMessage({ type: MessageType.FETCH, ids: IdSnapshot.fromHex(snapshotIds).bytes.slice(0, 64) }),
      encodeMessage({ type: MessageType.PUSH, orders: orders.slice(0, 2) }),
    ];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 30; i++) {
      const stream = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
      for (let f = 0; f < 1 + rand(3); f++) {
        const body = frames[rand(frames.length)]!.slice();
        for (let e = 0; e < 1 + rand(3); e++) body[rand(body.length)] = rand(256);
        stream.send(lp.encode.single(body.subarray(0, body.length - rand(2))));
      }
      await stream.close();
      await readAll(stream);
    }
    await until(() => b.stats().active.inbound === 0, 5_000);
    const st = b.stats();
    expect(st.sessions.inbound.ok + st.sessions.inbound.failed).toBe(30);
    // (mutated PUSH frames may have added "orders": this test store accepts any bytes)
    const a = await service(nodes[0]!, new MemoryStore(orders.slice(0, 200)));
    expect((await a.reconcile(addr(nodes[1]!), MARKET, EPOCH)).fetched).toBe(storeB.orders.size - 200);
  });

  it("a client facing a server that sends garbage fails with a SyncError", async () => {
    await nodes[1]!.handle(SYNC_PROTOCOL, async (stream) => {
      stream.send(lp.encode.single(Uint8Array.of(MessageType.RECONCILE, 1, 0xff, 0x07)));
    });
    const a = await service(nodes[0]!, new MemoryStore(fakeOrders(30, 100)));
    const err = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(err.code).toBe(SyncErrorCode.MALFORMED);
    expect(err.remote).toBe(false);
    expect(a.stats().errors.MALFORMED).toBe(1);
    expect(a.stats().sessions.outbound.failed).toBe(1);
  });

  it("a server that floods the client beyond the read-ahead limit is cut off", async () => {
    await nodes[1]!.handle(SYNC_PROTOCOL, async (stream) => {
      const junk = lp.encode.single(new Uint8Array(MAX_SYNC_FRAME_BYTES).fill(0x02));
      for (let i = 0; i < 8 && stream.status === "open"; i++) {
        if (!stream.send(junk)) await stream.onDrain().catch(() => {});
      }
    });
    const a = await service(nodes[0]!, new MemoryStore(fakeOrders(31, 100)), { sessionTimeoutMs: 5_000 });
    const err = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect([SyncErrorCode.MALFORMED, SyncErrorCode.LIMIT_EXCEEDED]).toContain(err.code);
  });

  it("enforces the per-peer and the global inbound session limits with BUSY", async () => {
    const storeB = new MemoryStore(fakeOrders(40, 100));
    const b = await service(nodes[1]!, storeB, { maxSessionsPerPeer: 1, maxInboundSessions: 2 });
    const a = await service(nodes[0]!, new MemoryStore(fakeOrders(40, 90)));

    // node 0 holds one session open (half a length prefix: the server waits for the rest)
    const held0 = await nodes[0]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    held0.send(Uint8Array.of(0x85));
    await until(() => b.stats().active.inbound === 1);
    const perPeer = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(perPeer.code).toBe(SyncErrorCode.BUSY);
    expect(perPeer.remote).toBe(true);

    // node 2 takes the second global slot; node 0 is still refused, now by the global limit too
    const held2 = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    held2.send(Uint8Array.of(0x85));
    await until(() => b.stats().active.inbound === 2);
    const c = await service(nodes[2]!, new MemoryStore(fakeOrders(40, 80)));
    const global = await syncError(c.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(global.code).toBe(SyncErrorCode.BUSY);
    expect(b.stats().sessions.inbound.refused).toBe(2);

    // freeing the slots lets sessions in again
    held0.abort(new Error("done"));
    held2.abort(new Error("done"));
    await until(() => b.stats().active.inbound === 0);
    const report = await a.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    expect(report.fetched).toBe(10);
  });

  it("times out on a server that never answers, and the server times out idle clients", async () => {
    // a server that reads and never writes
    await nodes[1]!.handle(SYNC_PROTOCOL, async (stream) => {
      for await (const _ of stream) {
        // swallow
      }
    });
    const a = await service(nodes[0]!, new MemoryStore(fakeOrders(50, 100)), { sessionTimeoutMs: 400 });
    const t0 = Date.now();
    const err = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(err.code).toBe(SyncErrorCode.TIMEOUT);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(a.stats().errors.TIMEOUT).toBe(1);
    expect(a.stats().active.outbound).toBe(0);
    await nodes[1]!.unhandle(SYNC_PROTOCOL);

    // a server whose client goes silent after OPEN
    const b = await service(nodes[1]!, new MemoryStore(fakeOrders(50, 100)), { sessionTimeoutMs: 400 });
    const raw = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    raw.send(Uint8Array.of(0x85));
    await until(() => b.stats().errors.TIMEOUT === 1, 3_000);
    expect(b.stats().active.inbound).toBe(0);
  });

  it("honours the caller's AbortSignal and refuses markets either side does not serve", async () => {
    const storeB = new MemoryStore(fakeOrders(60, 10));
    await service(nodes[1]!, storeB);
    const storeA = new MemoryStore(fakeOrders(60, 5));
    const a = await service(nodes[0]!, storeA);

    const aborted = await syncError(
      a.reconcile(addr(nodes[1]!), MARKET, EPOCH, { signal: AbortSignal.abort() }),
    );
    expect(aborted.code).toBe(SyncErrorCode.ABORTED);

    storeB.serving = false;
    const remote = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(remote).toMatchObject({ code: SyncErrorCode.NOT_SERVED, remote: true });

    storeA.serving = false;
    const local = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(local).toMatchObject({ code: SyncErrorCode.NOT_SERVED, remote: false });

    await a.stop();
    const stopped = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(stopped.code).toBe(SyncErrorCode.NOT_STARTED);
  });

  it("runs concurrent sessions, answers from a snapshot while the set grows, and converges", async () => {
    const common = fakeOrders(70, 1_000);
    const storeB = new MemoryStore([...common, ...fakeOrders(71, 20)]);
    // the server's set grows right after each snapshot, as gossip would make it
    let grown = 0;
    const ids = storeB.ids.bind(storeB);
    storeB.ids = (m, e) => {
      const list = ids(m, e);
      for (const o of fakeOrders(72, 3, 0x02).map((o) => o.map((x, i) => (i === 5 ? grown : x)))) {
        storeB.orders.set(orderIdOf(o), o);
      }
      grown++;
      return list;
    };
    const storeA = new MemoryStore([...common, ...fakeOrders(73, 7)]);
    const storeC = new MemoryStore([...common.slice(0, 900), ...fakeOrders(74, 5)]);
    const b = await service(nodes[1]!, storeB);
    const a = await service(nodes[0]!, storeA);
    const c = await service(nodes[2]!, storeC);
    const [ra, rc] = await Promise.all([
      a.reconcile(addr(nodes[1]!), MARKET, EPOCH),
      c.reconcile(addr(nodes[1]!), MARKET, EPOCH),
    ]);
    // each client got what the server held at its snapshot, not what arrived later
    // (which session took the first snapshot is a race: the other one sees 3 more orders)
    expect([20, 23]).toContain(ra.missingLocal);
    expect([120, 123]).toContain(rc.missingLocal);
    expect(ra.missingLocal + rc.missingLocal).toBe(20 + 120 + 3);
    expect(ra).toMatchObject({ fetched: ra.missingLocal, pushed: 7 });
    expect(rc).toMatchObject({ fetched: rc.missingLocal, pushed: 5 });
    await until(() => b.stats().sessions.inbound.ok === 2);
    // a second pass brings everyone to the server's current set
    await a.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    await c.reconcile(addr(nodes[1]!), MARKET, EPOCH);
    for (const id of storeA.orders.keys()) expect(storeB.orders.has(id)).toBe(true);
    for (const id of storeC.orders.keys()) expect(storeB.orders.has(id)).toBe(true);
  });

  it("bounds what one session may fetch and push", async () => {
    const storeB = new MemoryStore(fakeOrders(80, 10));
    const b = await service(nodes[1]!, storeB, { maxPushedOrdersPerSession: 4 });
    // pushing 6 orders the server lacks breaks its per-session push limit
    const a = await service(nodes[0]!, new MemoryStore([...fakeOrders(80, 10), ...fakeOrders(81, 6)]), {
      maxOrdersPerBatch: 3,
    });
    const err = await syncError(a.reconcile(addr(nodes[1]!), MARKET, EPOCH));
    expect(err).toMatchObject({ code: SyncErrorCode.LIMIT_EXCEEDED, remote: true });
    expect(storeB.orders.size).toBe(10 + 3);

    // fetching more ids than the server holds (here: the same ids again and again)
    const raw = await nodes[2]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    const io = new FramedStream(raw);
    await io.write({ type: MessageType.OPEN, market: MARKET, epoch: EPOCH, ranges: [] });
    expect(await io.read()).toEqual({ type: MessageType.RECONCILE, ranges: [] });
    const ids = new Uint8Array(32 * 8).map((_, i) => (i % 32 === 0 ? i / 32 + 1 : 0));
    await io.write({ type: MessageType.FETCH, ids });
    expect(await io.read()).toEqual({ type: MessageType.ORDERS, orders: [] });
    await io.write({ type: MessageType.FETCH, ids });
    expect(await io.read()).toMatchObject({ type: MessageType.ERROR, code: SyncErrorCode.LIMIT_EXCEEDED });
    await io.close(1_000);
    await until(() => b.stats().errors.LIMIT_EXCEEDED === 2);
  });

  it("stop() ends running sessions", async () => {
    const b = await service(nodes[1]!, new MemoryStore(fakeOrders(90, 10)));
    const raw = await nodes[0]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    raw.send(Uint8Array.of(0x85));
    await until(() => b.stats().active.inbound === 1);
    const t0 = Date.now();
    await b.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(b.stats().active.inbound).toBe(0);
    expect(b.stats().errors.ABORTED).toBe(1);
    raw.abort(new Error("done"));
  });

  it("a peer that sends ahead of the protocol is cut off at the read-ahead limit", async () => {
    await nodes[1]!.handle(SYNC_PROTOCOL, async (stream) => {
      // one frame, then 300 KiB the reader never asked for
      stream.send(lp.encode.single(encodeMessage({ type: MessageType.DONE })));
      const junk = lp.encode.single(new Uint8Array(MAX_SYNC_FRAME_BYTES).fill(0x07));
      for (let i = 0; i < 5 && stream.status === "open"; i++) {
        if (!stream.send(junk)) await stream.onDrain().catch(() => {});
      }
    });
    const stream = await nodes[0]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    const io = new FramedStream(stream);
    expect(await io.read()).toEqual({ type: MessageType.DONE });
    await until(() => stream.status !== "open");
    const err = await syncError(io.read());
    expect(err.code).toBe(SyncErrorCode.LIMIT_EXCEEDED);
  });

  it("FramedStream counts bytes with length prefixes", async () => {
    await nodes[1]!.handle(SYNC_PROTOCOL, async (stream) => {
      const io = new FramedStream(stream);
      const msg = await io.read();
      if (msg) await io.write(msg);
      await io.close(1_000);
    });
    const stream = await nodes[0]!.dialProtocol(addr(nodes[1]!), SYNC_PROTOCOL);
    const io = new FramedStream(stream);
    await io.write({ type: MessageType.DONE });
    expect(io.bytesSent).toBe(2);
    expect(await io.read()).toEqual({ type: MessageType.DONE });
    expect(io.bytesReceived).toBe(2);
    expect(await io.read()).toBeUndefined();
    await io.close(1_000);
  });
});
