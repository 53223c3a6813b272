// The node's clock against its peers' (node/peer-clock.ts): every node announces its fingerprint when its
// own clock closes the epoch, so the arrival of those announcements says whose clock is off. Issue 10:
// "detect larger skew (against block timestamps and peers) and say so in status, in the log, in /metrics".
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../node/logger.ts";
import { PeerClock } from "../../../node/peer-clock.ts";
import { SessionWorld, waitFor } from "./session-harness.ts";

function clockWithLogs() {
  const logs: string[] = [];
  const registry = new Registry();
  const clock = new PeerClock({
    logger: createLogger({ level: "debug", component: "clock", write: (l) => logs.push(l) }),
    clock: Date.now,
    registry,
  });
  return { clock, logs, registry };
}

describe("PeerClock", () => {
  it("finds the peer that is off, and this node's own offset against the peers' median", async () => {
    const { clock, logs, registry } = clockWithLogs();
    // Peers p1..p3 on time (a few ms of latency), p4 2.2 s ahead (its announcements come 2.2 s early).
    for (let e = 1n; e <= 5n; e++) {
      clock.observe("p1", "m1", e, 4);
      clock.observe("p2", "m1", e, 6);
      clock.observe("p3", "m1", e, 5);
      clock.observe("p4", "m1", e, -2200);
      clock.observe("p4", "m1", e, 9_000); // a later announcement of the same epoch is not a reading
    }
    const st = clock.status();
    expect(st.peers).toBe(4);
    expect(Math.abs(st.aheadOfPeersMs!)).toBeLessThan(1000);
    expect(st.skewedPeers.map((p) => p.peer)).toEqual(["p4"]);
    expect(st.skewedPeers[0]!.aheadMs).toBeGreaterThan(2000);
    expect(logs.filter((l) => / WARN .*a peer's clock differs.*peer=p4/.test(l))).toHaveLength(1);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/smartmarket_clock_skewed_peers 1/);

    clock.forget("p4");
    expect(clock.status().skewedPeers).toEqual([]);
  });

  it("says when this node is the one that is off", async () => {
    const { clock, logs, registry } = clockWithLogs();
    // Every peer's announcement arrives 2.5 s "late" on this node's clock: this node runs 2.5 s ahead.
    for (const p of ["a", "b", "c"]) clock.observe(p, "m1", 3n, 2500 + (p.charCodeAt(0) % 5));
    expect(clock.status().aheadOfPeersMs).toBeGreaterThan(2400);
    expect(logs.some((l) => / WARN .*this node's clock differs from its peers'/.test(l))).toBe(true);
    expect(await registry.metrics()).toMatch(/smartmarket_clock_peer_offset_ms 25\d\d/);
  });

  it("takes readings from every market: their epoch numbers are unrelated", () => {
    const { clock } = clockWithLogs();
    for (const p of ["a", "b", "c"]) clock.observe(p, "energy", 100n, 5);
    // d is heard once on the energy market (epoch 100), then on the data market, whose epochs are 1, 2, 3:
    // those readings count too, and they say d runs 2.2 s ahead.
    clock.observe("d", "energy", 100n, 5);
    for (let e = 1n; e <= 3n; e++) clock.observe("d", "data", e, -2200);
    expect(clock.status().skewedPeers.map((p) => p.peer)).toEqual(["d"]);
  });

  it("ignores readings far from any close and keeps a bounded number of peers", () => {
    const { clock } = clockWithLogs();
    clock.observe("x", "m1", 1n, 60_000);
    expect(clock.status().peers).toBe(0);
    for (let i = 0; i < 300; i++) clock.observe(`peer-${i}`, "m1", 1n, 3);
    expect(clock.status().peers).toBe(256);
  });
});

let world: SessionWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

describe("peer clocks from the nodes' own close announcements", () => {
  it("three nodes on time and one 2 s ahead: the others name it, it sees itself ahead", async () => {
    world = new SessionWorld();
    const w = world;
    const clocks = [0, 1, 2, 3].map(() => clockWithLogs());
    const nodes = [
      await w.addNode("a", { peerClock: clocks[0]!.clock }),
      await w.addNode("b", { peerClock: clocks[1]!.clock }),
      await w.addNode("c", { peerClock: clocks[2]!.clock }),
      await w.addNode("d", { peerClock: clocks[3]!.clock, clockOffsetMs: 2000 }),
    ];
    await w.at(0n, 100);
    await waitFor(
      "two closes announced",
      () => clocks[0]!.clock.status().peers === 3 && clocks[3]!.clock.status().peers === 3,
      15_000,
    );
    const fast = nodes[3]!.peerId;
    expect(clocks[0]!.clock.status().skewedPeers.map((p) => p.peer)).toEqual([fast]);
    expect(clocks[3]!.clock.status().aheadOfPeersMs).toBeGreaterThan(1500);
    expect(clocks[3]!.logs.some((l) => / WARN .*this node's clock differs from its peers'/.test(l))).toBe(
      true,
    );
  });
});
