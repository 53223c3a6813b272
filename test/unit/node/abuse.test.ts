// Peer abuse accounting (node/abuse.ts, ban-list.ts, host-abuse.ts, peers.ts expulsion) and the API token
// rules (node/api/token.ts, api-server.ts tokenMatches). In-process fakes only: no network here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { Registry } from "prom-client";
import { Uint8ArrayList } from "uint8arraylist";
import { afterEach, describe, expect, it } from "vitest";
import { AbuseMonitor, DropReason, dropReasonOf } from "../../../node/abuse.ts";
import { isUsableToken, loadOrCreateToken } from "../../../node/api/token.ts";
import { tokenMatches } from "../../../node/api-server.ts";
import { BanList } from "../../../node/ban-list.ts";
import {
  API_TOKEN_FILE,
  GOSSIP_VALIDATION_BATCH_ORDERS,
  MAX_GOSSIP_MESSAGE_BYTES,
  PEER_GOSSIP_BURST_ORDERS,
} from "../../../node/constants.ts";
import { OrderGossip } from "../../../node/gossip/service.ts";
import { GRAYLIST_THRESHOLD, type Host } from "../../../node/host.ts";
import { instrumentGossipsub } from "../../../node/host-abuse.ts";
import { createLogger } from "../../../node/logger.ts";
import { PeerKeeper } from "../../../node/peers.ts";
import { encodeBundle } from "../../../protocol/bundle.ts";
import { MAX_ORDERS_PER_BUNDLE } from "../../../protocol/constants.ts";
import { fakeGossipRouter } from "./gossip-fakes.ts";

function harness(opts: { strikeLimit?: number } = {}) {
  let now = 1_000_000;
  const lines: string[] = [];
  const registry = new Registry();
  const bans = new BanList({ banMs: 600_000, maxBans: 3, now: () => now });
  const abuse = new AbuseMonitor({
    registry,
    logger: createLogger({ level: "debug", write: (l) => lines.push(l) }),
    bans,
    now: () => now,
    strikeLimit: opts.strikeLimit ?? 4,
  });
  const disconnected: string[] = [];
  abuse.setDisconnect(async (peer) => {
    disconnected.push(peer);
  });
  const value = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const m = await registry.getSingleMetric(name)?.get();
    const hit = m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return hit?.value ?? 0;
  };
  return {
    abuse,
    bans,
    lines,
    disconnected,
    value,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("AbuseMonitor", () => {
  it("counts every drop by reason and source, and logs abuse at WARN, one line per peer+reason per minute", async () => {
    const h = harness({ strikeLimit: 1_000 });
    for (let i = 0; i < 50; i++) h.abuse.drop(DropReason.BAD_SIGNATURE, "gossip", "peerA");
    h.abuse.drop(DropReason.DUPLICATE, "gossip", "peerB", 7);
    h.abuse.drop(DropReason.OVERSIZE, "gossip", "peerA");
    h.abuse.drop(DropReason.RATE_LIMITED, "sync", "peerC", 20);
    h.abuse.drop(DropReason.LATE, "sync", "peerC", 3);
    expect(await h.value("smartmarket_p2p_drops_total", { reason: "bad_signature", source: "gossip" })).toBe(
      50,
    );
    expect(await h.value("smartmarket_p2p_drops_total", { reason: "duplicate", source: "gossip" })).toBe(7);
    expect(await h.value("smartmarket_p2p_drops_total", { reason: "oversize", source: "gossip" })).toBe(1);
    expect(await h.value("smartmarket_p2p_drops_total", { reason: "rate_limited", source: "sync" })).toBe(20);
    expect(await h.value("smartmarket_p2p_drops_total", { reason: "late", source: "sync" })).toBe(3);
    const warns = h.lines.filter((l) => l.includes(" WARN "));
    // one line for (A, bad_signature), one for (A, oversize), one for (C, rate_limited); duplicates and
    // late orders are counted only
    expect(warns).toHaveLength(3);
    expect(await h.value("smartmarket_abuse_log_suppressed_total")).toBe(49);
    h.advance(60_000);
    h.abuse.drop(DropReason.BAD_SIGNATURE, "gossip", "peerA");
    const last = h.lines.at(-1) ?? "";
    expect(last).toContain("WARN");
    expect(last).toContain("suppressed=49");
  });

  it("expels a peer that keeps sending what no honest peer sends: banned, disconnected, counted, logged", async () => {
    const h = harness({ strikeLimit: 4 });
    // A batch (one sync PUSH of 3 bad orders) is one strike; three more single drops reach the limit.
    h.abuse.drop(DropReason.MALFORMED, "sync", "rogue", 3);
    h.abuse.drop(DropReason.MALFORMED, "gossip", "rogue");
    h.abuse.drop(DropReason.MALFORMED, "gossip", "rogue");
    expect(h.abuse.isBanned("rogue")).toBe(false);
    h.abuse.drop(DropReason.MALFORMED, "gossip", "rogue");
    expect(h.abuse.isBanned("rogue")).toBe(true);
    await Promise.resolve();
    expect(h.disconnected).toEqual(["rogue"]);
    expect(await h.value("smartmarket_peer_expulsions_total", { reason: "malformed" })).toBe(1);
    expect(await h.value("smartmarket_peer_bans")).toBe(1);
    expect(
      h.lines.some((l) => l.includes("WARN") && l.includes("peer expelled") && l.includes("rogue")),
    ).toBe(true);
    // honest noise never strikes: duplicates, late and rate-limited orders
    h.abuse.drop(DropReason.DUPLICATE, "gossip", "honest", 1_000);
    h.abuse.drop(DropReason.LATE, "sync", "honest", 1_000);
    h.abuse.drop(DropReason.RATE_LIMITED, "gossip", "honest", 1_000);
    // nor does a verdict that depends on the clocks (an epoch out of the window, e.g. a long session)
    for (let i = 0; i < 10; i++)
      h.abuse.drop(dropReasonOf("REJECT", "EPOCH_OUT_OF_WINDOW")!, "sync", "honest", 16);
    // and one honest PUSH that went wrong (16 orders refused) is one strike, not an expulsion
    h.abuse.drop(DropReason.INVALID, "sync", "honest", 16);
    expect(h.abuse.isBanned("honest")).toBe(false);
    // the ban runs out
    h.advance(600_001);
    expect(h.abuse.isBanned("rogue")).toBe(false);
  });

  it("strikes expire with their window; sync refusals are counted by reason", async () => {
    const h = harness({ strikeLimit: 4 });
    h.abuse.drop(DropReason.BAD_SIGNATURE, "sync", "p", 3);
    h.advance(61_000);
    h.abuse.drop(DropReason.BAD_SIGNATURE, "sync", "p", 3);
    expect(h.abuse.isBanned("p")).toBe(false);
    h.abuse.syncRefused("global", "x");
    h.abuse.syncRefused("evicted", "y");
    h.abuse.syncRefused("evicted", "z");
    expect(await h.value("smartmarket_sync_refused_total", { reason: "evicted" })).toBe(2);
    expect(await h.value("smartmarket_sync_refused_total", { reason: "global" })).toBe(1);
    expect(await h.value("smartmarket_p2p_drops_total", { reason: "refused_sync", source: "sync" })).toBe(3);
  });

  it("keeps the ban list bounded", () => {
    const h = harness();
    for (const p of ["a", "b", "c", "d"]) {
      h.abuse.expel(p, "test");
      h.advance(1);
    }
    expect(h.bans.size).toBe(3);
    expect(h.bans.isBanned("a")).toBe(false);
    expect(h.bans.isBanned("d")).toBe(true);
  });

  it("maps verdict codes to drop reasons", () => {
    expect(dropReasonOf("ACCEPT", "OK")).toBeNull();
    expect(dropReasonOf("REJECT", "SIGNER_MISMATCH")).toBe("bad_signature");
    expect(dropReasonOf("REJECT", "HIGH_S")).toBe("bad_signature");
    expect(dropReasonOf("REJECT", "MALFORMED")).toBe("malformed");
    expect(dropReasonOf("REJECT", "OVERSIZE")).toBe("oversize");
    expect(dropReasonOf("IGNORE", "EPOCH_CLOSED")).toBe("late");
    expect(dropReasonOf("IGNORE", "EPOCH_FROZEN")).toBe("late");
    expect(dropReasonOf("IGNORE", "DUPLICATE")).toBe("duplicate");
    expect(dropReasonOf("IGNORE", "RATE_LIMITED")).toBe("rate_limited");
    expect(dropReasonOf("REJECT", "ZERO_QUANTITY")).toBe("invalid");
  });
});

describe("gossipsub instrumentation", () => {
  function fakeRouter() {
    const records = new Map<string, { peers: Set<string> }>();
    const calls: string[] = [];
    return {
      calls,
      records,
      async pipePeerReadStream(_peer: unknown, source: AsyncIterable<Uint8ArrayList | Uint8Array>) {
        for await (const frame of source) {
          try {
            this.decodeRpc(frame.subarray());
          } catch {
            // the router swallows it and reads on
          }
        }
      },
      handlePeerReadStreamError(_err: unknown, _peer: unknown) {
        calls.push("streamError");
      },
      decodeRpc(bytes: Uint8Array) {
        if (bytes[0] === 0xff) throw new Error("bad protobuf");
        return {};
      },
      score: {
        deliveryRecords: {
          ensureRecord(id: string) {
            let r = records.get(id);
            if (!r) {
              r = { peers: new Set() };
              records.set(id, r);
            }
            return r;
          },
        },
        duplicateMessage(from: string, id: string, _topic: string) {
          records.get(id)?.peers.add(from);
        },
      },
    };
  }

  it("counts frames over the limit, undecodable RPCs, duplicates; repeats of one peer are a flood", async () => {
    const drops: string[] = [];
    const router = fakeRouter();
    instrumentGossipsub(router, { drop: (reason, _s, peer) => drops.push(`${reason}:${peer ?? "-"}`) });
    const oversize = Object.assign(new Error("too long"), { name: "InvalidDataLengthError" });
    router.handlePeerReadStreamError(oversize, { toString: () => "rogue" });
    router.handlePeerReadStreamError(new Error("reset"), { toString: () => "honest" });
    expect(router.calls).toEqual(["streamError", "streamError"]);
    expect(() => router.decodeRpc(Uint8Array.of(0xff))).toThrow();
    router.decodeRpc(Uint8Array.of(1));
    // through the router's read loop the sender of an undecodable frame is known
    async function* frames() {
      yield new Uint8ArrayList(Uint8Array.of(1), Uint8Array.of(2));
      yield Uint8Array.of(0xff, 0);
    }
    await router.pipePeerReadStream({ toString: () => "garbler" }, frames());
    router.score.duplicateMessage("honest", "m1", "t");
    router.score.duplicateMessage("rogue", "m1", "t");
    router.score.duplicateMessage("rogue", "m1", "t");
    router.score.duplicateMessage("rogue", "m1", "t");
    expect(drops).toEqual([
      "oversize:rogue",
      "malformed:-",
      "malformed:garbler",
      "duplicate:honest",
      "duplicate:rogue",
      "duplicate_flood:rogue",
      "duplicate_flood:rogue",
    ]);
    // A message the node IGNOREd: gossipsub keeps no senders for it, so its record never names the rogue.
    // The rogue repeating it is still a flood from the second duplicate on.
    const ignoring = fakeRouter();
    ignoring.score.duplicateMessage = () => {}; // as gossipsub for an IGNOREd message: no sender kept
    const flood: string[] = [];
    instrumentGossipsub(ignoring, { drop: (reason, _s, peer) => flood.push(`${reason}:${peer ?? "-"}`) });
    for (let i = 0; i < 4; i++) ignoring.score.duplicateMessage("rogue", "ignored", "t");
    expect(flood).toEqual([
      "duplicate:rogue",
      "duplicate_flood:rogue",
      "duplicate_flood:rogue",
      "duplicate_flood:rogue",
    ]);
  });

  it("fails loudly when gossipsub no longer has the hooks", () => {
    expect(() => instrumentGossipsub({}, { drop: () => {} })).toThrow(/hooks/);
  });
});

describe("gossip drops", () => {
  it("reports every message not accepted with its reason and sender; sync PUSH spends the same rate budget", async () => {
    const { router, validate, deliver } = fakeGossipRouter();
    const got: string[] = [];
    const gossip = new OrderGossip(
      { drops: { drop: (reason, source, peer) => got.push(`${reason}:${source}:${peer}`) }, now: () => 0 },
      { pubsub: router },
    );
    await gossip.start();
    gossip.addTopic("t", "order", (data) =>
      data[0] === 1 ? { action: "REJECT", code: "SIGNER_MISMATCH" } : { action: "ACCEPT", code: "OK" },
    );
    validate("t", "big", new Uint8Array(MAX_GOSSIP_MESSAGE_BYTES + 1));
    deliver("t", "forger", Uint8Array.of(1));
    deliver("t", "honest", Uint8Array.of(2));
    await new Promise((r) => setImmediate(r));
    // the PUSH path drains the peer's gossip budget: its next gossip message is rate-limited
    let taken = 0;
    while (gossip.takeRate("pusher")) taken++;
    validate("t", "pusher", Uint8Array.of(2));
    await gossip.stop();
    expect(taken).toBe(PEER_GOSSIP_BURST_ORDERS);
    expect(got).toEqual(["oversize:gossip:big", "bad_signature:gossip:forger", "rate_limited:gossip:pusher"]);
  });
});

describe("bundles and the gossip budget", () => {
  it("attack: a peer packing 64 orders per message is charged 64 orders of its rate budget, and the queue and a validation turn count orders", async () => {
    const { router, validate, deliver } = fakeGossipRouter();
    const drops: string[] = [];
    const batches: number[] = [];
    let inBatch = 0;
    const gossip = new OrderGossip(
      {
        drops: { drop: (reason, _source, peer) => drops.push(`${reason}:${peer}`) },
        now: () => 0,
        maxQueueOrders: 3 * MAX_ORDERS_PER_BUNDLE,
        inBatch: (work) => {
          inBatch = 0;
          work();
          batches.push(inBatch);
        },
      },
      { pubsub: router },
    );
    await gossip.start();
    gossip.addTopic("t", "order", () => {
      inBatch++;
      return { action: "ACCEPT", code: "OK" };
    });
    const bundle = encodeBundle(
      Array.from({ length: MAX_ORDERS_PER_BUNDLE }, (_, i) => Uint8Array.of(i + 1)),
    );
    // The whole burst in bundles: PEER_GOSSIP_BURST_ORDERS / 64 pass the rate check, the next does not.
    let passed = 0;
    while (validate("t", "packer", bundle) === "accept") passed++;
    expect(passed).toBe(Math.floor(PEER_GOSSIP_BURST_ORDERS / MAX_ORDERS_PER_BUNDLE));
    expect(drops).toEqual(["rate_limited:packer"]);
    // The queue holds 3 × 64 orders: three bundles queue, a fourth is QUEUE_FULL.
    for (let i = 0; i < 3; i++) deliver("t", "relay", bundle);
    expect(validate("t", "relay", bundle)).toBe("ignore");
    expect(drops.at(-1)).toBe("queue_full:relay");
    await new Promise((r) => setTimeout(r, 20));
    // one bundle per turn: a turn stops once GOSSIP_VALIDATION_BATCH_ORDERS orders are done
    expect(MAX_ORDERS_PER_BUNDLE).toBeGreaterThanOrEqual(GOSSIP_VALIDATION_BATCH_ORDERS);
    expect(batches).toEqual([1, 1, 1]);
    await gossip.stop();
  });

  it("attack: a REJECTed bundle weighs a strike per order it carried, so bundles ending in a forged order get their sender expelled at once, not after 16 of them", async () => {
    const { router, deliver } = fakeGossipRouter();
    const h = harness({ strikeLimit: 16 });
    const gossip = new OrderGossip({ drops: h.abuse, now: () => 0 }, { pubsub: router });
    await gossip.start();
    // the node's verdict on such a bundle: 63 valid orders checked, then the forged one
    gossip.addTopic("t", "order", () => ({ action: "REJECT", code: "SIGNER_MISMATCH" }));
    const bundle = encodeBundle(
      Array.from({ length: MAX_ORDERS_PER_BUNDLE }, (_, i) => Uint8Array.of(i + 1)),
    );
    deliver("t", "packer", bundle);
    // a single forged order is still one strike
    deliver("t", "forger", Uint8Array.of(1));
    await new Promise((r) => setImmediate(r));
    await gossip.stop();
    expect(h.bans.isBanned("packer")).toBe(true);
    expect(h.bans.isBanned("forger")).toBe(false);
  });
});

describe("expulsion of graylisted peers", () => {
  it("disconnects and bans every connected peer below the graylist threshold, and only those", async () => {
    const keys = await Promise.all([generateKeyPair("Ed25519"), generateKeyPair("Ed25519")]);
    const [good, bad] = keys.map((k) => peerIdFromPrivateKey(k));
    const hungUp: string[] = [];
    const host = {
      addEventListener: () => {},
      removeEventListener: () => {},
      getPeers: () => [good!, bad!],
      hangUp: async (id: { toString(): string }) => {
        hungUp.push(id.toString());
      },
    } as unknown as Host;
    const scores = new Map([
      [good!.toString(), 3],
      [bad!.toString(), GRAYLIST_THRESHOLD - 1],
    ]);
    const gossip = {
      score: (p: string) => scores.get(p) ?? 0,
      forgetPeer: () => {},
    } as unknown as OrderGossip;
    const h = harness();
    const keeper = new PeerKeeper(
      { bootstrap: [] },
      {
        host,
        gossip,
        logger: createLogger({ write: () => {} }),
        topics: () => [],
        onConnect: () => {},
        abuse: h.abuse,
      },
    );
    await keeper.start();
    try {
      keeper.expelGraylisted();
      await new Promise((r) => setImmediate(r));
      expect(hungUp).toEqual([bad!.toString()]);
      expect(h.abuse.isBanned(bad!.toString())).toBe(true);
      expect(h.abuse.isBanned(good!.toString())).toBe(false);
      expect(await h.value("smartmarket_peer_expulsions_total", { reason: "graylisted" })).toBe(1);
    } finally {
      await keeper.stop();
    }
  });
});

describe("API token", () => {
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("regenerates an empty or blank token file with a warning", () => {
    dir = mkdtempSync(join(tmpdir(), "sm-token-"));
    for (const blank of ["", "\n", "  \t\n", "\u00a0\n"]) {
      writeFileSync(join(dir, API_TOKEN_FILE), blank);
      const warnings: string[] = [];
      const token = loadOrCreateToken(dir, (m) => warnings.push(m));
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      expect(warnings).toHaveLength(1);
      expect(readFileSync(join(dir, API_TOKEN_FILE), "utf8").trim()).toBe(token);
    }
    // a real token is kept as it is
    writeFileSync(join(dir, API_TOKEN_FILE), "s3cret-token\n");
    expect(loadOrCreateToken(dir)).toBe("s3cret-token");
  });

  it("never authenticates a blank bearer token, even against a blank expected token", () => {
    expect(tokenMatches("Bearer \u00a0", "")).toBe(false);
    expect(tokenMatches("Bearer ", "")).toBe(false);
    expect(tokenMatches("Bearer \u00a0", "\u00a0")).toBe(false);
    expect(tokenMatches("Bearer  ", " ")).toBe(false);
    expect(tokenMatches("Bearer abc", "abc")).toBe(true);
    expect(tokenMatches("Bearer abd", "abc")).toBe(false);
    expect(isUsableToken("\ufeff \u00a0")).toBe(false);
  });
});
