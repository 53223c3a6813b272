// The epoch pipeline of a market session, in process: real sessions, stores, signatures, batch
// selection and chain follower over an in-memory network and a fake chain that certifies proposals and
// challenges with the contract's TypeScript reference (session-harness.ts, fake-chain.ts). Epochs are
// 2 s long with a 1 s challenge window, so each case runs in a few seconds of real time.
import { afterEach, describe, expect, it } from "vitest";
import { isFinalPhase } from "../../../node/store.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import type { Hex } from "../../../protocol/hex.ts";
import {
  SessionWorld,
  sleep,
  type TestNode,
  type SessionWorld as World,
  waitFor,
} from "./session-harness.ts";

let world: World | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

function finalEverywhere(nodes: readonly TestNode[], epoch: bigint): () => boolean {
  return () =>
    nodes.every((n) => {
      const r = n.record(epoch);
      return r !== undefined && isFinalPhase(r.phase) && (r.phase !== "settled" || r.agreed !== null);
    });
}

const ATTACKER = `0x${"a7".repeat(20)}` as Hex;

describe("market session: the epoch pipeline in process", () => {
  it("three nodes clear the same set, one proposes, the result becomes final and every node agrees", async () => {
    world = new SessionWorld();
    const nodes = [await world.addNode("a"), await world.addNode("b"), await world.addNode("c")];
    await world.at(0n, 100);
    await world.crossingBook(nodes, 0n);
    await waitFor("epoch 0 final on every node", finalEverywhere(nodes, 0n));

    const recs = nodes.map((n) => n.record(0n)!);
    expect(new Set(recs.map((r) => r.fingerprint)).size).toBe(1);
    expect(new Set(recs.map((r) => r.resultHash)).size).toBe(1);
    expect(recs.every((r) => r.orderCount === 4 && r.coveredCount === 4)).toBe(true);
    expect(BigInt(recs[0]!.volume!)).toBeGreaterThan(0n);
    expect(world.chain.submissions.filter((s) => s.ok)).toHaveLength(1);
    const ev = world.chain.standingOf(world.market, 0n)!;
    expect(ev.kind).toBe("Proposed");
    expect(ev.resultHash).toBe(recs[0]!.resultHash);
    for (const r of recs) {
      expect(r.phase).toBe("settled");
      expect(r.agreed).toBe(true);
      expect(r.settleTx).toBe(ev.txHash);
      expect(r.challenges).toBe(0);
    }
    // Exactly the proposing node says it submitted, and it is the one the chain names.
    const submitters = nodes.filter((n) => n.record(0n)!.weSubmitted);
    expect(submitters).toHaveLength(1);
    expect(submitters[0]!.port.sender).toBe(ev.kind === "Proposed" ? ev.submitter : null);
    // Equal sets at the close: the peers' announcements suffice, no sync session is opened (old code: one
    // from every node to every peer, 6, their announcements not seen yet).
    expect(world.net.reconciliations.filter((r) => r.epoch === 0n)).toEqual([]);
    for (const n of nodes) expect(JSON.parse(n.record(0n)!.timingsJson!).reconcileSessions, n.name).toBe(0);
  });

  it("a result proposed before the node has cleared: it finds the result is its own and agrees", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a");
    const b = await world.addNode("b");
    const c = await world.addNode("c", { faults: { collateralDelayMs: 900 } });
    const nodes = [a, b, c];
    await world.at(0n, 100);
    await world.crossingBook(nodes, 0n);
    let proposedBeforeCleared = false;
    await waitFor("c final", () => {
      const r = c.record(0n);
      if (r?.settleTx && r.resultHash === null) proposedBeforeCleared = true;
      return r?.phase === "settled" && r.agreed !== null;
    });
    expect(proposedBeforeCleared).toBe(true);
    const final = c.record(0n)!;
    expect(final.agreed).toBe(true);
    expect(final.resultHash).toBe(a.record(0n)!.resultHash);
    expect(world.chain.submissions.filter((s) => s.kind === "challenge")).toHaveLength(0);
  });

  it("collateral: the traders held at the close are read during reconciliation, after the freeze only those it brought in", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a");
    const b = await world.addNode("b");
    await world.at(0n, 100);
    await world.crossingBook([a, b], 0n);
    await waitFor("the book on b", () => b.session.views.orders(0n).length === 4);
    // An order only b holds at the close: a gets it by reconciliation, after the close.
    world.net.setConnected(b.peerId, false);
    await world.order(b, 5, "buy", 50n, 280n, 0n);
    // Back once a has closed the epoch (not before: a sync during the epoch would bring the order in).
    await waitFor("a reconciling epoch 0", () => a.record(0n)?.phase === "reconciling", 5000);
    world.net.setConnected(b.peerId, true);
    await waitFor("epoch 0 final everywhere", finalEverywhere([a, b], 0n));
    const trader = (device: number) => world!.sign(device, "buy", 1n, 1n, 0n).trader;
    const atClose = [1, 2, 3, 4].map(trader).sort();
    const devices = new Set([...atClose, trader(5)]);
    // The pipeline's reads (the submitter reads the nodes' wallets, not the devices').
    const reads = (n: TestNode) => n.port.collateralCallTraders.filter((c) => c.every((t) => devices.has(t)));
    // a: the four traders of its book at the close, then the fifth, alone, after the freeze.
    expect(reads(a)).toEqual([atClose, [trader(5)]]);
    // b held all five at the close: one read, nothing after the freeze.
    expect(reads(b)).toEqual([[...atClose, trader(5)].sort()]);
    for (const n of [a, b]) {
      const r = n.record(0n)!;
      expect(r.orderCount, n.name).toBe(5);
      expect(r.agreed, n.name).toBe(true);
    }
    expect(a.record(0n)!.resultHash).toBe(b.record(0n)!.resultHash);
    const timings = (n: TestNode) => JSON.parse(n.record(0n)!.timingsJson!) as Record<string, number>;
    expect(timings(a).collateralTradersAfterFreeze).toBe(1);
    expect(timings(b).collateralTradersAfterFreeze).toBe(0);
  });

  it("the set is not frozen while orders that arrived before the close wait in the validation queue", async () => {
    world = new SessionWorld({ epochLengthS: 4n }); // a reconciliation window of 1 s
    const nodes = [await world.addNode("a"), await world.addNode("b")];
    await world.at(0n, 100);
    await world.crossingBook(nodes, 0n);
    await waitFor("both books hold the 4 orders", () =>
      nodes.every((n) => n.session.views.orders(0n).length === 4),
    );
    // From here gossip waits 1 s in both nodes' queues (a loaded node's), and a fifth order reaches them
    // 500 ms before the close, from a gateway that only publishes: it is validated 500 ms after the
    // close, when both nodes have held equal sets and announced them for a while (old code: frozen
    // 150–250 ms after the close, the order left out as EPOCH_FROZEN on both).
    for (const n of nodes) world.net.setQueueDelay(n.peerId, 1000);
    await world.at(0n, 3500);
    const gateway = await world.net.attach();
    await gateway.publish(
      nodes[0]!.session.context.topics.orders,
      encodeOrder(world.sign(5, "buy", 50n, 280n, 0n)),
    );
    await waitFor("epoch 0 final everywhere", finalEverywhere(nodes, 0n));
    for (const n of nodes) {
      const r = n.record(0n)!;
      expect(r.orderCount, n.name).toBe(5);
      expect(r.agreed, n.name).toBe(true);
    }
    expect(nodes[0]!.record(0n)!.resultHash).toBe(nodes[1]!.record(0n)!.resultHash);
  });

  it("a collateral read that fails for a while is retried and the epoch settles", async () => {
    world = new SessionWorld();
    let failures = 3;
    const a = await world.addNode("a", { faults: { collateralFails: () => failures-- > 0 } });
    await world.at(0n, 100);
    await world.crossingBook([a], 0n);
    await waitFor("epoch 0 final", finalEverywhere([a], 0n));
    const r = a.record(0n)!;
    expect(r.phase).toBe("settled");
    expect(r.agreed).toBe(true);
    expect(a.port.collateralReads).toBeGreaterThan(4); // 4 traders, and the retries
  });

  it("a collateral read that keeps failing ends the epoch unsettled with the reason, logged at ERROR and WARN", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a", { faults: { collateralFails: () => true } });
    await world.at(0n, 100);
    await world.crossingBook([a], 0n);
    await waitFor("epoch 0 final", finalEverywhere([a], 0n), 15_000);
    const r = a.record(0n)!;
    expect(r.phase).toBe("unsettled");
    expect(r.reason).toMatch(/epoch pipeline failed: collateralOf: connection refused/);
    expect(r.resultHash).toBeNull();
    expect(a.logs.some((l) => / ERROR .*epoch pipeline failed/.test(l))).toBe(true);
    expect(a.logs.some((l) => / WARN .*epoch closed out without a result/.test(l))).toBe(true);
    expect(world.chain.submissions).toHaveLength(0);
  });

  it("a traded epoch that nobody proposes within its window ends unsettled, with the reason", async () => {
    world = new SessionWorld();
    // Neither wallet can pay gas and the bond: both take their turn, neither sends.
    const a = await world.addNode("a", { faults: { gasBalance: 0n } });
    const b = await world.addNode("b", { faults: { gasBalance: 0n } });
    await world.at(0n, 100);
    await world.crossingBook([a, b], 0n);
    await waitFor("epoch 0 final", finalEverywhere([a, b], 0n), 15_000);
    for (const n of [a, b]) {
      const r = n.record(0n)!;
      expect(r.phase).toBe("unsettled");
      expect(r.reason).toBe("no result was proposed within the proposal window");
      expect(BigInt(r.volume!)).toBeGreaterThan(0n);
      expect(n.logs.some((l) => / WARN .*epoch traded but was not settled/.test(l))).toBe(true);
    }
    expect([a, b].some((n) => n.logs.some((l) => / WARN .*cannot pay gas and the bond/.test(l)))).toBe(true);
    expect(world.chain.submissions).toHaveLength(0);
  });

  it("a node that joins mid-epoch gets the orders gossiped before it existed at close, and agrees", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a");
    const b = await world.addNode("b");
    await world.at(0n, 100);
    await world.crossingBook([a, b], 0n);
    await waitFor(
      "gossip between a and b",
      () => a.session.views.orders(0n).length === 4 && b.session.views.orders(0n).length === 4,
    );
    const late = await world.addNode("late");
    expect(late.session.views.orders(0n)).toHaveLength(0);
    await waitFor("epoch 0 final", finalEverywhere([a, b, late], 0n));
    const recs = [a, b, late].map((n) => n.record(0n)!);
    expect(new Set(recs.map((r) => `${r.fingerprint}|${r.resultHash}`)).size).toBe(1);
    expect(recs.every((r) => r.phase === "settled" && r.agreed === true)).toBe(true);
    const held = late.session.views.orders(0n);
    expect(held).toHaveLength(4);
    expect(held.every((o) => o.source === "sync")).toBe(true);
    expect(world.net.reconciliations.some((r) => r.from === late.peerId || r.to === late.peerId)).toBe(true);
  });

  it("a node that leaves the market gets none of its traffic, and the others go on settling", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a");
    const b = await world.addNode("b");
    const leaver = await world.addNode("leaver");
    await leaver.stop();
    await world.at(0n, 100);
    await world.crossingBook([a, b], 0n);
    await waitFor("epoch 0 final", finalEverywhere([a, b], 0n));
    expect(world.net.verdicts.filter((v) => v.to === leaver.peerId)).toHaveLength(0);
    expect(leaver.session.views.orders(0n)).toHaveLength(0);
    expect([a, b].every((n) => n.record(0n)!.agreed === true)).toBe(true);
    await sleep(50);
  });
});

describe("market session: challenges (docs/certified-settlement.md)", () => {
  it("censor: a self-trade proposed at the close is replaced by the union; every node agrees on it", async () => {
    world = new SessionWorld();
    const nodes = [await world.addNode("a"), await world.addNode("b"), await world.addNode("c")];
    await world.at(0n, 100);
    await world.crossingBook(nodes, 0n);
    // The attacker's two wallets (keys 20, 21), never gossiped: a 1-unit self-trade.
    const self = [world.sign(20, "buy", 1n, 250n, 0n), world.sign(21, "sell", 1n, 250n, 0n)];
    await world.at(1n, 20);
    const attack = world.propose(ATTACKER, 0n, self);
    await waitFor("epoch 0 final everywhere", finalEverywhere(nodes, 0n));

    const final = world.chain.standingOf(world.market, 0n)!;
    expect(final.kind).toBe("Challenged");
    expect(final.kind === "Challenged" && final.replaced).toBe(ATTACKER);
    expect(final.resultHash).not.toBe(attack.event.resultHash);
    for (const n of nodes) {
      const r = n.record(0n)!;
      expect(r.phase).toBe("settled");
      expect(r.agreed, n.name).toBe(true);
      expect(r.resultHash).toBe(final.resultHash);
      expect(r.adoptedCount).toBe(2); // the attacker's two orders, learned from its batch
      expect(r.challenges).toBe(1);
      expect(r.orderCount).toBe(4);
    }
    // One node challenged (the first in the ranking); the attacker's bond went to it.
    const challengers = nodes.filter((n) => n.record(0n)!.weChallenged);
    expect(challengers).toHaveLength(1);
    expect(world.chain.bonds.get(challengers[0]!.port.sender)).toBe(world.params.bondWei);
    expect(challengers[0]!.logs.some((l) => / WARN .*leaves out orders we hold; challenging/.test(l))).toBe(
      true,
    );
  });

  it("censor during a chain outage: the standing batch's read and the challenge's send are retried, and the union replaces it", async () => {
    // Fault: the chain stops answering right as the attacker's result stands. Before, the one failed read
    // (or send) dropped the challenge after a WARN, and the censoring result became final.
    world = new SessionWorld();
    let standingFailures = 2;
    let challengeFailures = 1;
    const faults = {
      standingFails: () => standingFailures-- > 0,
      challengeFails: () => challengeFailures-- > 0,
    };
    const nodes = [await world.addNode("a", { faults }), await world.addNode("b", { faults })];
    await world.at(0n, 100);
    await world.crossingBook(nodes, 0n);
    const self = [world.sign(20, "buy", 1n, 250n, 0n), world.sign(21, "sell", 1n, 250n, 0n)];
    await world.at(1n, 20);
    const attack = world.propose(ATTACKER, 0n, self);
    await waitFor("epoch 0 final everywhere", finalEverywhere(nodes, 0n));
    const final = world.chain.standingOf(world.market, 0n)!;
    expect(final.kind).toBe("Challenged");
    expect(final.resultHash).not.toBe(attack.event.resultHash);
    for (const n of nodes) expect(n.record(0n)!.agreed, n.name).toBe(true);
    expect(standingFailures).toBeLessThan(0); // both failing reads happened
    expect(challengeFailures).toBeLessThan(0); // the failing send happened, and a later one landed
    const logs = nodes.flatMap((n) => n.logs);
    expect(logs.some((l) => / WARN .*reading the standing batch of the epoch failed; retrying/.test(l))).toBe(
      true,
    );
    expect(logs.some((l) => / WARN .*challenge failed; trying again while the result stands/.test(l))).toBe(
      true,
    );
  });

  it("skim: a subset that raises the price is replaced by the honest clearing of all the orders", async () => {
    world = new SessionWorld();
    const nodes = [await world.addNode("a"), await world.addNode("b")];
    await world.at(0n, 100);
    // Sells at 200, 210 and the attacker's own at 240; buys at 300 and 260.
    const cheap1 = await world.order(nodes[0]!, 3, "sell", 60n, 200n, 0n);
    const cheap2 = await world.order(nodes[1]!, 4, "sell", 60n, 210n, 0n);
    const mine = await world.order(nodes[0]!, 22, "sell", 60n, 240n, 0n);
    const buy1 = await world.order(nodes[1]!, 1, "buy", 100n, 300n, 0n);
    await world.order(nodes[0]!, 2, "buy", 60n, 260n, 0n);
    await waitFor("the book everywhere", () => nodes.every((n) => n.session.views.orders(0n).length === 5));
    await world.at(1n, 20);
    // Leave out the two cheap sells and one buy: only the attacker's sell against the other buy trades.
    const subset = [mine.order, buy1.order];
    void cheap1;
    void cheap2;
    const attack = world.propose(ATTACKER, 0n, subset);
    await waitFor("epoch 0 final everywhere", finalEverywhere(nodes, 0n));
    const honest = nodes[0]!.record(0n)!;
    const final = world.chain.standingOf(world.market, 0n)!;
    expect(final.kind).toBe("Challenged");
    expect(final.resultHash).toBe(honest.resultHash);
    // The skimmed price was higher: the attacker's sell would have earned more than at the honest price.
    expect(BigInt(honest.price!)).toBeLessThan(attack.result.price!);
    expect(nodes.every((n) => n.record(0n)!.agreed === true && n.record(0n)!.adoptedCount === 0)).toBe(true);
  });

  it("forced trade: a subset that trades where the whole set does not is undone; the final result is no trade", async () => {
    world = new SessionWorld();
    const nodes = [await world.addNode("a"), await world.addNode("b")];
    await world.at(0n, 100);
    // Device 30's two buys at 1 take its two places on the buy side, so its buy of 1 at 20 (a larger id,
    // signed too) is excluded, and nothing crosses the sell at 5. Without the buys at 1, the buy at 20
    // trades. The nodes never store the buy at 20 (a third buy of the wallet): only the attacker carries it.
    world.setCollateral(30, { base: 0n, quote: 40n });
    world.setCollateral(31, { base: 2n, quote: 0n });
    const low1 = world.sign(30, "buy", 20n, 1n, 0n);
    const low2 = world.sign(30, "buy", 19n, 1n, 0n);
    let high = world.sign(30, "buy", 1n, 20n, 0n);
    const w = world;
    const above = (o: typeof high) =>
      BigInt(w.idOf(o)) > BigInt(w.idOf(low1)) && BigInt(w.idOf(o)) > BigInt(w.idOf(low2));
    while (!above(high)) high = world.sign(30, "buy", 1n, 20n, 0n);
    const sell = world.sign(31, "sell", 1n, 5n, 0n);
    for (const o of [low1, low2, sell]) await world.submit(nodes[0]!, o);
    await waitFor("the book everywhere", () => nodes.every((n) => n.session.views.orders(0n).length === 3));
    await world.at(1n, 20);
    const attack = world.propose(ATTACKER, 0n, [high, sell]);
    expect(attack.result.volume).toBe(1n);
    await waitFor("epoch 0 final everywhere", finalEverywhere(nodes, 0n));
    const final = world.chain.standingOf(world.market, 0n)!;
    expect(final.kind).toBe("Challenged");
    expect(final.kind === "Challenged" && final.replaced).toBe(ATTACKER);
    expect([final.price, final.volume]).toEqual([0n, 0n]);
    for (const n of nodes) {
      const r = n.record(0n)!;
      expect(r.resultHash, n.name).toBe(final.resultHash);
      expect(r.agreed, n.name).toBe(true);
      expect(r.volume).toBe("0");
    }
    expect(nodes.filter((n) => n.record(0n)!.weChallenged)).toHaveLength(1);
  });

  it("a node holding an order the others missed pushes the final result to the union", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a");
    const b = await world.addNode("b");
    const x = await world.addNode("x");
    await world.at(0n, 100);
    await world.crossingBook([a, b], 0n);
    await waitFor("the book on x", () => x.session.views.orders(0n).length === 4);
    // x is cut off from its peers (not from the chain): an order only x holds.
    world.net.setConnected(x.peerId, false);
    await world.order(x, 5, "buy", 50n, 280n, 0n);
    await waitFor("epoch 0 final everywhere", finalEverywhere([a, b, x], 0n));
    const final = world.chain.standingOf(world.market, 0n)!;
    // x's union stands: by its challenge of a's or b's proposal or, when x's turn came first (cut off, it
    // may rank only itself), by its own proposal, which the others then adopt. Either way x made it stand.
    const madeStand = final.kind === "Challenged" ? final.challenger : final.submitter;
    expect(madeStand).toBe(x.port.sender);
    for (const n of [a, b, x]) {
      expect(n.record(0n)!.agreed, n.name).toBe(true);
      expect(n.record(0n)!.resultHash).toBe(final.resultHash);
    }
    expect(a.record(0n)!.adoptedCount).toBe(1);
    expect(x.record(0n)!.orderCount).toBe(5);
  });

  it("the final submitter finalises its results in one batch and claims its bonds", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a");
    // Six trading epochs: on a loaded machine an epoch may miss its 1 s proposal window; the first four
    // that settle are finalised together.
    const epochs = [0n, 1n, 2n, 3n, 4n, 5n];
    for (const e of epochs) {
      await world.at(e, 100);
      await world.crossingBook([a], e);
    }
    const finalized = () => epochs.filter((e) => world!.chain.isFinalized(world!.market, e));
    await waitFor("four epochs finalised on chain", () => finalized().length >= 4, 30_000);
    await waitFor("recorded", () => finalized().every((e) => a.record(e)?.finalizeTx != null));
    const firstFour = finalized().slice(0, 4);
    expect(new Set(firstFour.map((e) => a.record(e)!.finalizeTx)).size).toBe(1);
    const line = a.logs.find((l) => / INFO .*finalised our results/.test(l));
    expect(line).toBeDefined();
    // The four bonds, credited by finalize, were claimed back at once.
    expect(line).toMatch(new RegExp(`bondsClaimed\\W+${4n * world.params.bondWei}\\b`));
    expect(world.chain.bonds.get(a.port.sender) ?? 0n).toBe(0n);
  });
});

describe("chain follower", () => {
  it("hands an event again after the session failed to take it, and reports a failing chain once", async () => {
    world = new SessionWorld();
    let eventsDown = true;
    const a = await world.addNode("a", { submit: false, faults: { eventsFail: () => eventsDown } });
    const original = a.session.onSettlement.bind(a.session);
    let refusals = 1;
    a.session.onSettlement = async (ev) => {
      if (refusals-- > 0) throw new Error("store busy");
      return original(ev);
    };
    await world.at(0n, 100);
    const orders = [world.sign(1, "buy", 10n, 300n, 0n), world.sign(2, "sell", 10n, 200n, 0n)];
    await world.at(1n, 20);
    world.propose(ATTACKER, 0n, orders);
    await sleep(300);
    expect(a.logs.filter((l) => / WARN .*chain poll failed/.test(l))).toHaveLength(1);
    eventsDown = false;
    await waitFor("the result recorded", () => (a.record(0n)?.settleTx ?? null) !== null);
    expect(a.logs.some((l) => / WARN .*recording a settlement event failed; retrying/.test(l))).toBe(true);
    expect(a.logs.some((l) => / INFO .*chain reachable again/.test(l))).toBe(true);
    expect(a.record(0n)!.phase).toBe("proposed");
  });
});
