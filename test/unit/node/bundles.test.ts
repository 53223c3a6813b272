// Bundles: several signed orders in one gossip message (issue 13), and the batch submission that makes
// them. Each test performs what a peer or a gateway could send, built from the documented formats
// (protocol/bundle.ts, the JSON order form), and checks what every node then holds.
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_ORDERS_PER_SUBMISSION } from "../../../node/constants.ts";
import { OrderGossip } from "../../../node/gossip/service.ts";
import { encodeBundle } from "../../../protocol/bundle.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import { orderToJson, type SignedOrder } from "../../../protocol/order.ts";
import { fakeGossipRouter } from "./gossip-fakes.ts";
import { SessionWorld, waitFor } from "./session-harness.ts";

let world: SessionWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

/** The same order with its signature's s replaced: a forgery (the id, which does not cover it, is the same). */
function forged(o: SignedOrder): SignedOrder {
  const s = o.signature;
  return {
    ...o,
    signature: `${s.slice(0, 66)}${"11".repeat(32)}${s.slice(130)}` as SignedOrder["signature"],
  };
}

describe("order bundles over gossip", () => {
  it("a batch submission is stored in one go and reaches a peer as ONE message, every order with its own fate", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    const b = await w.addNode("b");
    await w.at(0n, 100);
    const good = [1, 2, 3].flatMap((d) => [w.sign(d, "buy", 5n, 100n, 0n), w.sign(d, "sell", 5n, 300n, 0n)]);
    good.push(w.sign(1, "buy", 5n, 101n, 0n)); // trader 1's second buy
    const third = w.sign(1, "buy", 5n, 102n, 0n); // and its third: never kept, refused
    const bad = forged(w.sign(4, "sell", 5n, 300n, 0n));
    const items = [
      ...good.map(orderToJson),
      orderToJson(good[0]!),
      orderToJson(third),
      orderToJson(bad),
      { side: "buy" },
    ];
    const before = w.net.verdicts.length;
    const results = await a.session.submitBatch(items);
    expect(results.map((r) => (r.status === "accepted" ? "accepted" : r.code))).toEqual([
      ...good.map(() => "accepted"),
      "DUPLICATE",
      "TRADER_CAP",
      "SIGNER_MISMATCH",
      "MALFORMED",
    ]);
    // durable on a before it answered
    expect(
      a.store
        .ordersOfEpoch(w.market, 0n)
        .map((s) => s.id)
        .sort(),
    ).toEqual(good.map((o) => w.idOf(o)).sort());
    await waitFor(
      "b to take the bundle",
      () => (b.session.books.get(w.market, 0n)?.size ?? 0) === good.length,
    );
    const toB = w.net.verdicts.slice(before).filter((v) => v.to === b.peerId && v.kind === "order");
    expect(toB.map((v) => v.verdict.action)).toEqual(["ACCEPT"]);
    expect(b.store.ordersOfEpoch(w.market, 0n)).toHaveLength(good.length);
  });

  it("refuses a request of no orders or of more than MAX_ORDERS_PER_SUBMISSION, taking nothing", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    await w.at(0n, 100);
    await expect(a.session.submitBatch([])).rejects.toThrow(/BAD_BATCH|1 to/);
    const many = Array.from({ length: MAX_ORDERS_PER_SUBMISSION + 1 }, () =>
      orderToJson(w.sign(1, "buy", 5n, 100n, 0n)),
    );
    await expect(a.session.submitBatch(many)).rejects.toThrow(/1 to/);
    expect(a.store.ordersOfEpoch(w.market, 0n)).toHaveLength(0);
  });

  it("attack: a forged order riding in a bundle with valid ones is REJECTed and nothing of the bundle is taken", async () => {
    world = new SessionWorld();
    const w = world;
    const b = await w.addNode("b");
    await w.at(0n, 100);
    const valid = [w.sign(1, "buy", 5n, 100n, 0n), w.sign(2, "sell", 5n, 300n, 0n)];
    const bundle = encodeBundle([
      ...valid.map(encodeOrder),
      encodeOrder(forged(w.sign(3, "buy", 5n, 100n, 0n))),
    ]);
    const v = b.session.intake.onGossip(bundle, "attacker");
    expect(v.action).toBe("REJECT");
    expect(b.session.books.get(w.market, 0n)?.size ?? 0).toBe(0);
    // the same order twice in one bundle: malformed
    const twice = encodeBundle([encodeOrder(valid[0]!), encodeOrder(valid[0]!)]);
    expect(b.session.intake.onGossip(twice, "attacker")).toMatchObject({
      action: "REJECT",
      code: "MALFORMED",
    });
    // the valid ones alone: accepted, all of them
    expect(b.session.intake.onGossip(encodeBundle(valid.map(encodeOrder)), "peer").action).toBe("ACCEPT");
    expect(b.session.books.get(w.market, 0n)?.size).toBe(2);
  });

  it("attack: re-bundled orders a node holds cost no signature check, but a held order's id with a forged signature is checked", async () => {
    world = new SessionWorld();
    const w = world;
    const b = await w.addNode("b");
    await w.at(0n, 100);
    const held = w.sign(1, "buy", 5n, 100n, 0n);
    expect(b.session.intake.onGossip(encodeOrder(held), "peer").action).toBe("ACCEPT");
    const fresh = w.sign(2, "sell", 5n, 300n, 0n);
    // Only orders b holds: IGNOREd as KNOWN (not forwarded, not penalised).
    const again = encodeBundle([encodeOrder(held), encodeOrder(w.sign(1, "sell", 5n, 300n, 0n))]);
    expect(b.session.intake.onGossip(again, "peer").action).toBe("ACCEPT");
    expect(b.session.intake.onGossip(again, "peer")).toMatchObject({ action: "IGNORE", code: "KNOWN" });
    // A held order's id with another signature rides with a new order: an id does not cover the signature,
    // so the copy is verified and the bundle REJECTed (else b would forward it, and a node lacking the
    // order would REJECT it and score b, an honest relay, down).
    const riding = encodeBundle([encodeOrder(fresh), encodeOrder(forged(held))]);
    expect(b.session.intake.onGossip(riding, "attacker").action).toBe("REJECT");
    expect(b.session.books.get(w.market, 0n)?.has(w.idOf(fresh))).toBe(false);
  });
});

describe("single orders of this device: one durable transaction per turn (group commit)", () => {
  it("orders submitted in the same turn are written in one FULL-synchronous transaction, each durable before it is answered", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    await w.at(0n, 100);
    const tx = vi.spyOn(a.store, "inTransaction");
    const orders = [1, 2, 3].map((d) => w.sign(d, "buy", 5n, 100n + BigInt(d), 0n));
    const answered = await Promise.all(orders.map((o) => w.submit(a, o)));
    expect(answered.map((r) => r.id)).toEqual(orders.map((o) => w.idOf(o)));
    expect(tx.mock.calls.filter(([durable]) => durable === true)).toHaveLength(1);
    expect(a.store.ordersOfEpoch(w.market, 0n)).toHaveLength(3);
    // A later turn has its own transaction.
    await w.submit(a, w.sign(4, "sell", 5n, 300n, 0n));
    expect(tx.mock.calls.filter(([durable]) => durable === true)).toHaveLength(2);
    expect(a.session.books.get(w.market, 0n)?.size).toBe(4);
  });

  it("a failed durable write takes no order of its group: each request fails, none stays in the book or the store", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    await w.at(0n, 100);
    const put = a.store.putOrder.bind(a.store);
    let calls = 0;
    vi.spyOn(a.store, "putOrder").mockImplementation((...args) => {
      calls++;
      if (calls === 2) throw new Error("disk I/O error");
      return put(...args);
    });
    const orders = [1, 2, 3].map((d) => w.sign(d, "buy", 5n, 100n + BigInt(d), 0n));
    const settled = await Promise.allSettled(orders.map((o) => w.submit(a, o)));
    expect(settled.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(a.session.books.get(w.market, 0n)?.size ?? 0).toBe(0);
    expect(a.store.ordersOfEpoch(w.market, 0n)).toHaveLength(0);
    // The store works again: the same orders are taken.
    vi.restoreAllMocks();
    for (const o of orders) await w.submit(a, o);
    expect(a.store.ordersOfEpoch(w.market, 0n)).toHaveLength(3);
  });
});

describe("a batch whose durable write fails", () => {
  it("takes none of its orders: the request fails, nothing stays in the book or the store", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    await w.at(0n, 100);
    const put = a.store.putOrder.bind(a.store);
    let calls = 0;
    vi.spyOn(a.store, "putOrder").mockImplementation((...args) => {
      calls++;
      if (calls === 3) throw new Error("disk I/O error");
      return put(...args);
    });
    const orders = [1, 2, 3, 4].map((d) => w.sign(d, "sell", 5n, 300n + BigInt(d), 0n));
    await expect(a.session.submitBatch(orders.map(orderToJson))).rejects.toThrow(/disk I\/O error/);
    expect(a.session.books.get(w.market, 0n)?.size ?? 0).toBe(0);
    expect(a.store.ordersOfEpoch(w.market, 0n)).toHaveLength(0);
  });
});

describe("time rules at arrival", () => {
  it("an order that arrived on time stays on time while it waits in the validation queue", async () => {
    world = new SessionWorld({ epochLengthS: 8n });
    const w = world;
    const b = await w.addNode("b");
    await w.at(0n, 100);
    const order = w.sign(1, "buy", 5n, 100n, 0n);
    const arrived = w.startMs(1n) - 100; // 100 ms before epoch 0 closed
    await w.at(1n, 800); // validated 800 ms after the close: past the 500 ms disparity, before the freeze
    const wire = encodeOrder(order);
    // judged now, it would be late; judged at its arrival, it is on time
    expect(b.session.intake.onGossip(wire, "peer")).toMatchObject({ action: "IGNORE", code: "EPOCH_CLOSED" });
    expect(b.session.intake.onGossip(wire, "peer", arrived).action).toBe("ACCEPT");
    const other = w.sign(2, "sell", 5n, 300n, 0n);
    const bundle = encodeBundle([encodeOrder(other), encodeOrder(w.sign(3, "sell", 5n, 300n, 0n))]);
    expect(b.session.intake.onGossip(bundle, "peer", arrived).action).toBe("ACCEPT");
    expect(b.session.books.get(w.market, 0n)?.size).toBe(3);
  });

  it("the gossip queue hands each message its arrival time, not the time it is validated", async () => {
    const { router, deliver } = fakeGossipRouter();
    let clock = 1_000;
    const gossip = new OrderGossip({ now: () => clock }, { pubsub: router });
    await gossip.start();
    const seen: number[] = [];
    gossip.addTopic("t", "order", (_data, _from, receivedMs) => {
      seen.push(receivedMs);
      return { action: "ACCEPT", code: "OK" };
    });
    deliver("t", "p", Uint8Array.of(1));
    clock = 9_000; // the queue is drained later
    await new Promise((r) => setImmediate(r));
    await gossip.stop();
    expect(seen).toEqual([1_000]);
  });

  it("says whether messages of a topic that arrived before a time still wait for validation", async () => {
    const { router, deliver } = fakeGossipRouter();
    let clock = 1_000;
    const gossip = new OrderGossip({ now: () => clock }, { pubsub: router });
    await gossip.start();
    const ok = () => ({ action: "ACCEPT" as const, code: "OK" });
    gossip.addTopic("a", "order", ok);
    gossip.addTopic("b", "order", ok);
    deliver("a", "p", Uint8Array.of(1)); // at 1,000
    clock = 2_000;
    deliver("b", "p", Uint8Array.of(2)); // at 2,000
    // Queued, not validated yet (the queue drains on a later turn of the event loop).
    expect(gossip.queuedBefore("a", 1_000)).toBe(false); // arrived at 1,000: not before
    expect(gossip.queuedBefore("a", 1_001)).toBe(true);
    expect(gossip.queuedBefore("b", 1_500)).toBe(false);
    expect(gossip.queuedBefore("b", 2_001)).toBe(true);
    expect(gossip.queuedBefore("c", 9_000)).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(gossip.queuedBefore("a", 9_000)).toBe(false);
    expect(gossip.queuedBefore("b", 9_000)).toBe(false);
    await gossip.stop();
  });
});
