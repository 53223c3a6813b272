// Attack: one funded wallet signs thousands of orders per epoch and hands them to nodes through many
// peers. Every node used to store, forward and reconcile all of them. Now a node keeps, per trader, side
// and epoch, the MAX_ORDERS_PER_TRADER_SIDE orders of smallest id (the only ones the clearing can keep):
// whatever order they arrive in, every node keeps the same ones, so order sets still agree.
import { afterEach, describe, expect, it } from "vitest";
import { MAX_ORDERS_PER_TRADER_SIDE } from "../../../clearing/limits.ts";
import { NodeInputError } from "../../../node/errors.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import { MAX_GOSSIP_EVICTIONS_PER_TRADER } from "../../../protocol/constants.ts";
import { compareHex, type Hex } from "../../../protocol/hex.ts";
import { SessionWorld, waitFor } from "./session-harness.ts";

let world: SessionWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

const PER_SIDE = Number(MAX_ORDERS_PER_TRADER_SIDE);

describe("per-trader bound on stored orders", () => {
  it("keeps the same smallest ids on every node whatever the arrival order, and says TRADER_CAP for the rest", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    const b = await w.addNode("b");
    await w.at(0n, 100);
    const flood = Array.from({ length: 24 }, () => w.sign(7, "sell", 5n, 300n, 0n));
    // The same wallet's buys are another side: they keep their own places.
    const buys = Array.from({ length: 5 }, () => w.sign(7, "buy", 5n, 100n, 0n));
    const ids = flood.map((o) => w.idOf(o));
    const buyIds = buys.map((o) => w.idOf(o));
    const smallest = [
      ...[...ids].sort(compareHex).slice(0, PER_SIDE),
      ...[...buyIds].sort(compareHex).slice(0, PER_SIDE),
    ].sort(compareHex);

    // a gets them in signing order, b in reverse, then each reconciles with the other (at the close): the
    // evictions differ, the result does not.
    const verdicts = [...flood, ...buys].map((o) => a.session.intake.onGossip(encodeOrder(o), "p1").code);
    for (const o of [...buys, ...flood].reverse()) b.session.intake.onGossip(encodeOrder(o), "p2");
    expect(verdicts).toContain("TRADER_CAP");
    const wires = (n: typeof a) =>
      n.session.books.get(w.market, 0n)!.wire([...n.session.books.get(w.market, 0n)!.ids()]);
    const [fromA, fromB] = [wires(a), wires(b)];
    await a.session.intake.acceptSynced(0n, fromB);
    await b.session.intake.acceptSynced(0n, fromA);
    for (const n of [a, b]) {
      const book = n.session.books.get(w.market, 0n)!;
      expect([...book.ids()]).toEqual(smallest);
      // The store holds what the book holds: a restart reloads the same set.
      expect(n.store.ordersOfEpoch(w.market, 0n).map((s) => s.id)).toEqual(smallest);
    }
    expect(a.session.books.get(w.market, 0n)!.fingerprint()).toBe(
      b.session.books.get(w.market, 0n)!.fingerprint(),
    );

    // The API refuses a third order of a full side, whatever its id (a smaller one would push out an
    // acknowledged order), with the code and the reason.
    const kept = [...ids].sort(compareHex).slice(0, PER_SIDE);
    let extra = w.sign(7, "sell", 5n, 300n, 0n);
    while (compareHex(w.idOf(extra), kept[0]!) > 0) extra = w.sign(7, "sell", 5n, 300n, 0n);
    const err = await w.submit(a, extra).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeInputError);
    expect((err as NodeInputError).code).toBe("TRADER_CAP");
    expect((err as NodeInputError).message).toMatch(/already has 2 sell orders in epoch 0/);
    expect(a.session.books.get(w.market, 0n)!.has(w.idOf(extra) as Hex)).toBe(false);

    // Other traders are untouched by the flood.
    const honest = w.sign(1, "buy", 5n, 310n, 0n);
    await w.submit(a, honest);
    await waitFor(
      "b has the honest order",
      () => b.session.books.get(w.market, 0n)?.has(w.idOf(honest) as Hex) ?? false,
    );
  });

  it("bounds what descending ids cost on gossip; the close's reconciliation still converges", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    await w.at(0n, 100);
    const orders = Array.from({ length: 3 * MAX_GOSSIP_EVICTIONS_PER_TRADER }, () =>
      w.sign(8, "buy", 5n, 100n, 0n),
    );
    const desc = [...orders].sort((x, y) => compareHex(w.idOf(y), w.idOf(x)));
    // Largest id first: every order past the second would evict one. Gossip takes 16 more, then stops.
    const verdicts = desc.map((o) => a.session.intake.onGossip(encodeOrder(o), "p1"));
    const taken = PER_SIDE + MAX_GOSSIP_EVICTIONS_PER_TRADER;
    expect(verdicts.filter((v) => v.action === "ACCEPT")).toHaveLength(taken);
    expect(verdicts.slice(taken).every((v) => v.code === "TRADER_CAP")).toBe(true);
    // Reconciliation (sync) still evicts: the node ends with the 2 smallest ids, as every node does.
    await a.session.intake.acceptSynced(0n, desc.map(encodeOrder));
    const smallest = desc
      .map((o) => w.idOf(o))
      .sort(compareHex)
      .slice(0, PER_SIDE);
    expect([...a.session.books.get(w.market, 0n)!.ids()]).toEqual(smallest);
  });
});
