// The epoch pipeline of a market session, in process: real sessions, stores, signatures and chain
// follower over an in-memory network and a fake chain (session-harness.ts). Epochs are 2 s long, so each
// case runs in a few seconds of real time.
import { afterEach, describe, expect, it } from "vitest";
import { isFinalPhase } from "../../../node/store.ts";
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

describe("market session: the epoch pipeline in process", () => {
  it("three nodes clear the same set, one settles, and every node records the settlement and agrees", async () => {
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
    const settled = world.chain.submissions.filter((s) => s.ok && s.epoch === 0n);
    expect(settled).toHaveLength(1);
    const ev = world.chain.settlementOf(world.market, 0n)!;
    expect(ev.resultHash).toBe(recs[0]!.resultHash);
    for (const r of recs) {
      expect(r.phase).toBe("settled");
      expect(r.agreed).toBe(true);
      expect(r.settleTx).toBe(ev.txHash);
    }
    // Exactly the submitting node says it submitted, and it is the one the chain names.
    const submitters = nodes.filter((n) => n.record(0n)!.weSubmitted);
    expect(submitters).toHaveLength(1);
    expect(submitters[0]!.port.sender).toBe(ev.submitter);
  });

  it("a Settled event that arrives before the node has cleared leaves the epoch settled and agreed", async () => {
    world = new SessionWorld();
    // Nobody submits: the test settles the epoch itself while node c is still reading collateral.
    const a = await world.addNode("a", { submit: false });
    const b = await world.addNode("b", { submit: false });
    const c = await world.addNode("c", { submit: false, faults: { collateralDelayMs: 900 } });
    const nodes = [a, b, c];
    await world.at(0n, 100);
    await world.crossingBook(nodes, 0n);
    await waitFor("a cleared epoch 0", () => a.record(0n)?.phase === "cleared");
    const rec = a.record(0n)!;
    expect(c.record(0n)?.resultHash ?? null).toBeNull(); // c has not cleared yet
    const result = JSON.parse(rec.resultJson!) as { fills: { id: `0x${string}`; quantity: string }[] };
    world.chain.recordSettlement(`0x${"99".repeat(20)}`, world.market, 0n, {
      price: BigInt(rec.price!),
      volume: BigInt(rec.volume!),
      resultHash: rec.resultHash!,
      fills: result.fills.map((f) => ({ id: f.id, quantity: BigInt(f.quantity) })),
    });
    let settledBeforeCleared = false;
    await waitFor("c final", () => {
      const r = c.record(0n);
      if (r?.settleTx && r.resultHash === null) settledBeforeCleared = true;
      return r?.phase === "settled" && r.resultHash !== null && r.agreed !== null;
    });
    expect(settledBeforeCleared).toBe(true);
    const final = c.record(0n)!;
    expect(final.phase).toBe("settled");
    expect(final.agreed).toBe(true);
    expect(final.resultHash).toBe(rec.resultHash);
    expect(final.settleResultHash).toBe(rec.resultHash);
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

  it("a traded epoch that nobody settles within its window ends unsettled, with the reason", async () => {
    world = new SessionWorld();
    // Both wallets hold no gas: both try in turn, neither can send.
    const a = await world.addNode("a", { faults: { gasBalance: 0n } });
    const b = await world.addNode("b", { faults: { gasBalance: 0n } });
    await world.at(0n, 100);
    await world.crossingBook([a, b], 0n);
    await waitFor("epoch 0 final", finalEverywhere([a, b], 0n), 15_000);
    for (const n of [a, b]) {
      const r = n.record(0n)!;
      expect(r.phase).toBe("unsettled");
      expect(r.reason).toBe("no settlement landed within the settlement window");
      expect(BigInt(r.volume!)).toBeGreaterThan(0n);
      expect(n.logs.some((l) => / WARN .*epoch traded but was not settled/.test(l))).toBe(true);
    }
    expect(
      a.logs.some((l) => / WARN .*holds no native token/.test(l)) ||
        b.logs.some((l) => / WARN .*holds no native token/.test(l)),
    ).toBe(true);
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

describe("chain follower", () => {
  it("hands a settlement again after the session failed to take it, and reports a failing chain once", async () => {
    world = new SessionWorld();
    let eventsDown = true;
    const a = await world.addNode("a", { submit: false, faults: { eventsFail: () => eventsDown } });
    const original = a.session.onSettled.bind(a.session);
    let refusals = 1;
    a.session.onSettled = async (ev) => {
      if (refusals-- > 0) throw new Error("store busy");
      return original(ev);
    };
    world.chain.recordSettlement(`0x${"77".repeat(20)}`, world.market, 0n, {
      price: 1n,
      volume: 1n,
      resultHash: `0x${"ee".repeat(32)}`,
      fills: [],
    });
    await sleep(300);
    expect(a.logs.filter((l) => / WARN .*chain poll failed/.test(l))).toHaveLength(1);
    eventsDown = false;
    await waitFor(
      "the settlement recorded",
      () => a.record(0n)?.settleTx !== undefined && a.record(0n)?.settleTx !== null,
    );
    expect(a.logs.some((l) => / WARN .*recording a settlement failed; retrying/.test(l))).toBe(true);
    expect(a.logs.some((l) => / INFO .*chain reachable again/.test(l))).toBe(true);
    expect(a.record(0n)!.phase).toBe("settled");
  });
});
