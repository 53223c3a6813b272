// Attack: an unfunded order flood. Wallets are free; before the funded-trader rule every node verified,
// stored, forwarded and reconciled every order of wallets that had never deposited and so could never be
// covered. Now intake IGNOREs them before recovering the signature: not stored, not forwarded. The
// attacker below does what an outsider would: signs valid orders with fresh keys and hands them to a
// node by gossip and through the control API.
import { afterEach, describe, expect, it } from "vitest";
import { NodeInputError } from "../../../node/errors.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import { orderDigestBytes, orderId } from "../../../protocol/eip712.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { Order, SignedOrder } from "../../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../../protocol/signature.ts";
import { SEPARATOR, SessionWorld, waitFor } from "./session-harness.ts";

let world: SessionWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

/** A fresh wallet that never deposited (the harness funds key(0..190) only). */
const FRESH_KEY = `0x${"3c".repeat(31)}01` as Hex;
const FRESH = addressOfPrivateKey(FRESH_KEY);

function signFresh(w: SessionWorld, epoch: bigint, nonce: bigint): SignedOrder {
  const order: Order = {
    market: w.market,
    epoch,
    side: "buy",
    quantity: 5n,
    limitPrice: 100n,
    nonce,
    trader: FRESH,
  };
  return { ...order, signature: signDigest(orderDigestBytes(order, SEPARATOR), FRESH_KEY) };
}

describe("intake carries only orders of traders that deposited into the market", () => {
  it("IGNOREs an unfunded trader's orders by gossip and refuses them on the API, then takes them once it deposits", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    const b = await w.addNode("b");
    await waitFor("deposit history read", () => a.session.funded.ready && b.session.funded.ready);
    await w.at(0n, 100);

    // Gossip: the fresh wallet's order is IGNOREd (no penalty: a peer may simply be ahead on the chain),
    // and it is neither stored nor in the book.
    const flood = Array.from({ length: 50 }, (_, i) => signFresh(w, 0n, BigInt(i)));
    for (const o of flood) {
      expect(a.session.intake.onGossip(encodeOrder(o), "rogue")).toEqual({
        action: "IGNORE",
        code: "UNFUNDED",
      });
    }
    expect(a.session.books.get(w.market, 0n)?.size ?? 0).toBe(0);
    expect(a.store.ordersOfEpoch(w.market, 0n)).toHaveLength(0);

    // The control API says why, with the protocol's code.
    const err = await w.submit(a, signFresh(w, 0n, 99n)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeInputError);
    expect((err as NodeInputError).code).toBe("UNFUNDED");

    // A funded device's order goes through and reaches the other node.
    const honest = w.sign(1, "sell", 5n, 90n, 0n);
    await w.submit(a, honest);
    await waitFor(
      "b has the honest order",
      () => b.session.books.get(w.market, 0n)?.has(w.idOf(honest)) ?? false,
    );

    // The wallet deposits; once the follower has read the block, its orders are carried.
    w.chain.fund(w.market, FRESH);
    await waitFor("a sees the deposit", () => a.session.funded.admits(FRESH));
    const late = signFresh(w, 0n, 100n);
    await w.submit(a, late);
    await waitFor(
      "b has the new depositor's order",
      () => b.session.books.get(w.market, 0n)?.has(orderId(late, SEPARATOR)) ?? false,
    );
    // The ignored flood never spread.
    expect(b.session.books.get(w.market, 0n)?.size).toBe(2);
  });

  it("admits every trader while the deposit history cannot be read, says so at WARN, and drops those orders once it can", async () => {
    world = new SessionWorld();
    const w = world;
    let failing = true;
    const c = await w.addNode("c", { faults: { depositorsFail: () => failing } });
    await w.at(0n, 100);
    expect(c.session.funded.ready).toBe(false);
    const early = signFresh(w, 0n, 1n);
    expect(c.session.intake.onGossip(encodeOrder(early), "peer").action).toBe("ACCEPT");
    expect(c.logs.some((l) => / WARN .*depositors failed/.test(l))).toBe(true);
    failing = false;
    await waitFor("history read after the outage", () => c.session.funded.ready, 10_000);
    // The order taken while every trader was admitted is dropped, from memory and disk: the node's set
    // is again the one its peers hold.
    expect(c.session.books.get(w.market, 0n)?.has(orderId(early, SEPARATOR)) ?? false).toBe(false);
    expect(c.store.hasOrder(orderId(early, SEPARATOR))).toBe(false);
    expect(c.logs.some((l) => / WARN .*dropped orders of traders that never deposited/.test(l))).toBe(true);
    expect(c.session.intake.onGossip(encodeOrder(signFresh(w, 0n, 2n)), "peer")).toEqual({
      action: "IGNORE",
      code: "UNFUNDED",
    });
  });
});
