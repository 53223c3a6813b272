// Fault suite: a rogue libp2p peer against real node processes (3 nodes, anvil, devices; libp2p over TCP
// on loopback, SQLite on disk). The attack is test/fault/rogue.ts (shared with `npm run bench -- node`);
// from this test process, against node 0 while the market trades:
//   - sync-slot exhaustion: 9 throwaway identities holding 2 sync streams each, reopened as they close;
//   - a duplicate flood (one valid order repeated), random bytes and badly signed orders on the market's
//     order topic, undecodable RPC frames, and frames announcing more than 1 MiB, each from its own
//     rogue identity;
//   - the last look: an order signed 600 ms after its epoch closed, PUSHed in a sync session.
// Asserted: honest orders in every node's set >= 99%, all nodes agree, an honest newcomer's sync sessions
// with node 0 complete during the slot attack, each rogue is disconnected and banned (metrics, WARN lines, refused redial),
// drop counters non-zero by reason, and the victim's RSS growth (recorded; bound generous).

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Libp2p } from "@libp2p/interface";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pidAlive, Testnet } from "../../testnet/network.ts";
import { crossingScenario } from "./harness.ts";
import { runRogueAttack } from "./rogue.ts";

const EPOCHS = 9;
const EPOCH_SECONDS = 4;

const scenario = crossingScenario("rogue", 1);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("a rogue peer against real nodes (3 node processes, anvil)", () => {
  let net: Testnet;
  const pids: number[] = [];
  const hosts: Libp2p[] = [];

  beforeAll(async () => {
    net = await Testnet.up({
      nodes: 3,
      epochs: EPOCHS,
      epochSeconds: EPOCH_SECONDS,
      scenario,
      scenarioName: "rogue",
      seed: "rogue-seed",
      dir: join(fileURLToPath(new URL("../../.scratch/", import.meta.url)), `fault-rogue-${process.pid}`),
    });
    pids.push(net.anvil.pid, ...net.nodes.map((n) => n.child!.pid!));
  });

  afterAll(async () => {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    await net?.down();
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  });

  it("delivers honest orders, keeps honest sync, counts every drop, expels and bans the rogues", async () => {
    const { summary, disagreed, victimAddr, rogues, pushReport, lateId, lateEpoch, peers, log, drops } =
      await runRogueAttack(net, hosts, EPOCH_SECONDS);
    console.log(`rogue-peer fault: ${JSON.stringify(summary)}`);
    expect(disagreed, "epochs where the nodes' fingerprints or result hashes differ").toEqual([]);
    expect(summary.deliveredShare).toBeGreaterThanOrEqual(0.99);
    expect(pushReport.pushed).toBe(1);
    expect(pushReport.pushedAccepted).toBe(0);
    expect(drops("late")).toBeGreaterThan(0);
    for (const n of net.nodes) {
      const held = (await n.client(10_000).orders(net.market.id, lateEpoch)).map((o) => o.id);
      expect(held, `node ${n.index} holds the late order`).not.toContain(lateId);
    }
    expect(summary.syncRefusedDuringAttack).toBeGreaterThan(0);
    expect(
      summary.newcomerSyncOk,
      "an honest newcomer's sync sessions completed during the attack",
    ).toBeGreaterThan(0);
    expect(summary.inboundSyncOkDuringAttack).toBeGreaterThan(0);
    for (const reason of [
      "duplicate",
      "duplicate_flood",
      "malformed",
      "bad_signature",
      "oversize",
      "refused_sync",
    ]) {
      expect(summary.drops[reason], `drops of ${reason}`).toBeGreaterThan(0);
    }
    for (const kind of ["duplicate", "random", "badsig", "garbage", "oversize"]) {
      const id = rogues.get(kind)!.peerId.toString();
      expect(
        peers.some((p) => p.peerId === id),
        `${kind} rogue still connected`,
      ).toBe(false);
      expect(log, `${kind} rogue expelled at WARN`).toMatch(new RegExp(`WARN .*peer expelled.*peer=${id}`));
      // banned: a new connection from the same identity is refused
      const redial = await rogues
        .get(kind)!
        .dial(victimAddr, { signal: AbortSignal.timeout(5_000) })
        .then(
          () => "connected",
          () => "refused",
        );
      await sleep(200);
      expect(
        redial === "refused" || rogues.get(kind)!.getConnections().length === 0,
        `${kind} rogue banned`,
      ).toBe(true);
    }
    expect(summary.expulsions).toBeGreaterThanOrEqual(5);
    expect(log).toMatch(/WARN .*peer abuse: messages dropped/);
    expect(log).toMatch(/WARN .*sync session refused/);
    // generous: the node's heap may grow a little with the epochs' books whatever the attack
    expect(summary.abuseRssGrowthMb).toBeLessThan(64);
  });
});
