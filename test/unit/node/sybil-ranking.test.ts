// Sybil attack on the submitter ranking (issue 10): an announcement needs only fresh keys, and the ranking
// used to count every announced wallet, so 3,000 fake announcements pushed the honest nodes to ranks
// 188–2,669 and none of them settled. Here 3,000 signed announcements of fresh, unfunded wallets and fresh
// peer ids go through the real AnnouncementBoard (real decoding and signature checks) into a real SQLite
// store, and the real RankedSubmitter ranks against the fake chain's escrow. On the old code the honest
// ranks change (asserted below); now they do not, the map and the table stay bounded, honest peers are
// kept even when they announce after the flood, and the chain is read once per epoch.
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { afterEach, describe, expect, it } from "vitest";
import { SUBMIT_BACKOFF_MS } from "../../../node/constants.ts";
import { encodeAnnouncement } from "../../../node/gossip/announcement.ts";
import { createLogger } from "../../../node/logger.ts";
import {
  AnnouncementBoard,
  KEEP_STORED_ANNOUNCEMENT_EPOCHS,
  MAX_ANNOUNCERS_PER_EPOCH,
} from "../../../node/market/announcements.ts";
import { makeMarketContext } from "../../../node/market/context.ts";
import type { SessionNetwork } from "../../../node/market/network.ts";
import { RankedSubmitter, submitterRank, turnAt } from "../../../node/market/submitter.ts";
import { NodeMetrics } from "../../../node/metrics.ts";
import { NodeStore } from "../../../node/store.ts";
import { keccak256, toUtf8Bytes } from "../../../protocol/ethers.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { MarketParams } from "../../../protocol/market.ts";
import { addressOfPrivateKey } from "../../../protocol/signature.ts";
import { FakeChain } from "./fake-chain.ts";
import { DOMAIN, SEPARATOR } from "./session-harness.ts";

const MARKET = `0x${"5b".repeat(32)}` as Hex;
const PARAMS: MarketParams = {
  base: `0x${"0b".repeat(20)}` as Hex,
  quote: `0x${"0c".repeat(20)}` as Hex,
  genesisTimeS: 0n,
  epochLengthS: 2n,
  feeBps: 0n,
  bondWei: 10n ** 16n,
  challengeWindowS: 1n,
  minQuantity: 1n,
};
const EPOCH = 500n;
const HONEST = 10;
const SYBILS = 3000;

interface Identity {
  readonly walletKey: Hex;
  readonly wallet: Hex;
  readonly peerKey: PrivateKey;
  readonly peerId: string;
}

async function identity(seed: string): Promise<Identity> {
  const walletKey = keccak256(toUtf8Bytes(seed)) as Hex;
  const peerKey = await generateKeyPair("Ed25519");
  return {
    walletKey,
    wallet: addressOfPrivateKey(walletKey).toLowerCase() as Hex,
    peerKey,
    peerId: peerIdFromPrivateKey(peerKey).toString(),
  };
}

function announcement(id: Identity, epoch: bigint): Promise<Uint8Array> {
  return encodeAnnouncement(
    {
      market: MARKET,
      epoch,
      fingerprint: `0x${"ab".repeat(32)}` as Hex,
      orderCount: 1,
      resultHash: null,
      wallet: id.wallet,
      peerId: id.peerId,
    },
    id.walletKey,
    (d) => id.peerKey.sign(d),
  );
}

/** One honest node's view: its board, store and submitter, its peers the other honest nodes. */
function honestNode(me: Identity, connected: readonly string[], chain: FakeChain) {
  let nowMs = Number(EPOCH) * 2000 + 500;
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", component: "h", write: (l) => logs.push(l) });
  const store = new NodeStore(":memory:");
  const ctx = makeMarketContext(MARKET, PARAMS, DOMAIN, SEPARATOR);
  const network: SessionNetwork = {
    peerId: me.peerId,
    serveTopic: () => {},
    unserveTopic: () => {},
    publish: async () => 0,
    topicPeers: () => [...connected].sort(),
    queuedBefore: () => false,
    serveSync: () => {},
    unserveSync: () => {},
    reconcile: () => Promise.reject(new Error("no sync here")),
    signAsPeer: async (d) => me.peerKey.sign(d),
  };
  const nodeMetrics = new NodeMetrics();
  const metrics = nodeMetrics.forMarket(MARKET);
  const wallet = { address: me.wallet, privateKey: me.walletKey };
  const clock = () => nowMs;
  const board = new AnnouncementBoard(ctx, { store, network, wallet, metrics, logger, clock });
  const port = chain.port(me.wallet);
  const submitter = new RankedSubmitter(ctx, {
    store,
    chain: port,
    wallet,
    metrics,
    logger,
    clock,
    sleep: async () => {},
    running: () => true,
    registry: nodeMetrics.registry,
  });
  return {
    board,
    store,
    port,
    submitter,
    logs,
    registry: nodeMetrics.registry,
    setEpoch: (e: bigint) => {
      nowMs = Number(e) * 2000 + 500;
    },
  };
}

let close: (() => void) | null = null;
afterEach(() => {
  close?.();
  close = null;
});

describe("submitter ranking under a sybil flood", () => {
  it("3,000 announcements of fresh unfunded wallets change no honest rank; map and table stay bounded", async () => {
    const chain = new FakeChain();
    chain.addMarket(MARKET, PARAMS);
    const honest = await Promise.all(Array.from({ length: HONEST }, (_, i) => identity(`honest/${i}`)));
    const sybils = await Promise.all(Array.from({ length: SYBILS }, (_, i) => identity(`sybil/${i}`)));
    // Honest wallets hold escrow (the fake chain's default); the sybils' wallets hold none.
    for (const s of sybils) chain.collateral.set(`${MARKET}:${s.wallet}`, { base: 0n, quote: 0n });
    const me = honest[0]!;
    const others = honest.slice(1);
    const node = honestNode(
      me,
      others.map((h) => h.peerId),
      chain,
    );
    close = () => node.store.close();

    // The honest peers announced in an earlier epoch: the ranking before the attack.
    for (const h of others)
      expect(node.board.onGossip(await announcement(h, EPOCH - 1n), h.peerId).action).toBe("ACCEPT");
    const expected = submitterRank(
      MARKET,
      EPOCH,
      me.wallet,
      others.map((h) => h.wallet),
    );
    expect(await node.submitter.rank(EPOCH - 1n)).toBe(
      submitterRank(
        MARKET,
        EPOCH - 1n,
        me.wallet,
        others.map((h) => h.wallet),
      ),
    );

    // The flood: 3,000 validly signed announcements of epoch EPOCH, relayed by one rogue peer.
    const verdicts = new Map<string, number>();
    for (const s of sybils) {
      const v = node.board.onGossip(await announcement(s, EPOCH), "rogue");
      verdicts.set(v.code, (verdicts.get(v.code) ?? 0) + 1);
    }
    // Then the honest nodes announce the same epoch: connected peers displace strangers.
    for (const h of others)
      expect(node.board.onGossip(await announcement(h, EPOCH), h.peerId).action).toBe("ACCEPT");

    // Bounded: the map and the table keep at most MAX_ANNOUNCERS_PER_EPOCH peers for the epoch.
    expect(verdicts.get("OK")).toBe(MAX_ANNOUNCERS_PER_EPOCH);
    expect(verdicts.get("TOO_MANY_ANNOUNCERS")).toBe(SYBILS - MAX_ANNOUNCERS_PER_EPOCH);
    expect(node.board.peerCount(EPOCH)).toBe(MAX_ANNOUNCERS_PER_EPOCH);
    expect(node.store.announcements(MARKET, EPOCH)).toHaveLength(MAX_ANNOUNCERS_PER_EPOCH);
    for (const h of others) expect(node.board.latest(EPOCH).get(h.peerId)?.wallet).toBe(h.wallet);
    expect(node.logs.filter((l) => / WARN .*more peers than an epoch keeps/.test(l))).toHaveLength(1);

    // The ranking: the unfunded wallets the store still holds are not candidates; honest ranks unchanged.
    const announced = node.store.knownWallets(MARKET, EPOCH - 16n);
    expect(announced.length).toBeGreaterThan(HONEST + 100); // the sybils that were kept are in the store...
    const callsBefore = node.port.collateralCalls;
    expect(await node.submitter.rank(EPOCH)).toBe(expected); // ...but do not rank (old code: > 10)
    expect(await node.submitter.candidates(EPOCH)).toEqual(others.map((h) => h.wallet).sort());
    // One batched read per epoch, cached.
    await node.submitter.rank(EPOCH);
    expect(node.port.collateralCalls - callsBefore).toBe(1);
    const metrics = await node.registry.metrics();
    expect(metrics).toMatch(/smartmarket_submitter_candidates\{market="0x5b[0-9a-f]+"\} 10/);
    expect(metrics).toMatch(/smartmarket_submitter_unfunded_wallets\{market="0x5b[0-9a-f]+"\} [1-9]\d\d/);
  }, 120_000); // 3,000 keys, signatures and verifications: ~8 s idle, 3x that on a loaded 2-core machine

  it("a stranger holding escrow is a candidate: the rule is the chain's escrow, not the announcer", async () => {
    const chain = new FakeChain();
    chain.addMarket(MARKET, PARAMS);
    const [me, funded, unfunded] = await Promise.all(["a", "b", "c"].map((s) => identity(`x/${s}`)));
    chain.collateral.set(`${MARKET}:${unfunded!.wallet}`, { base: 0n, quote: 0n });
    chain.collateral.set(`${MARKET}:${funded!.wallet}`, { base: 0n, quote: 1n });
    const node = honestNode(me!, [], chain);
    close = () => node.store.close();
    for (const s of [funded!, unfunded!]) node.board.onGossip(await announcement(s, EPOCH), "rogue");
    expect(await node.submitter.candidates(EPOCH)).toEqual([funded!.wallet]);
  });

  it("a failed escrow read ranks among the last known candidates, with a WARN and a metric", async () => {
    const chain = new FakeChain();
    chain.addMarket(MARKET, PARAMS);
    const [me, peer] = await Promise.all(["a", "b"].map((s) => identity(`y/${s}`)));
    const node = honestNode(me!, [peer!.peerId], chain);
    close = () => node.store.close();
    node.board.onGossip(await announcement(peer!, EPOCH - 1n), peer!.peerId);
    expect(await node.submitter.candidates(EPOCH - 1n)).toEqual([peer!.wallet]);
    node.port.faults.collateralFails = () => true;
    expect(await node.submitter.candidates(EPOCH)).toEqual([peer!.wallet]);
    expect(node.logs.some((l) => / WARN .*cannot read the submitter candidates' escrow/.test(l))).toBe(true);
    expect(await node.registry.metrics()).toMatch(
      /smartmarket_submitter_candidate_read_failures_total\{market="0x5b[0-9a-f]+"\} 1/,
    );
    // Not cached: once the chain answers, the epoch's set is read.
    node.port.faults.collateralFails = () => false;
    const calls = node.port.collateralCalls;
    await node.submitter.candidates(EPOCH);
    expect(node.port.collateralCalls).toBe(calls + 1);
  });

  it("the table keeps the last KEEP_STORED_ANNOUNCEMENT_EPOCHS epochs", async () => {
    const chain = new FakeChain();
    chain.addMarket(MARKET, PARAMS);
    const [me, peer] = await Promise.all(["a", "b"].map((s) => identity(`z/${s}`)));
    const node = honestNode(me!, [peer!.peerId], chain);
    close = () => node.store.close();
    const last = EPOCH + KEEP_STORED_ANNOUNCEMENT_EPOCHS + 20n;
    for (let e = EPOCH; e <= last; e++) {
      node.setEpoch(e);
      expect(node.board.onGossip(await announcement(peer!, e), peer!.peerId).action).toBe("ACCEPT");
    }
    expect(node.store.countAnnouncements(MARKET)).toBe(Number(KEEP_STORED_ANNOUNCEMENT_EPOCHS) + 1);
    expect(node.store.announcements(MARKET, last - KEEP_STORED_ANNOUNCEMENT_EPOCHS)).toHaveLength(1);
    expect(node.store.announcements(MARKET, last - KEEP_STORED_ANNOUNCEMENT_EPOCHS - 1n)).toHaveLength(0);
  });
});

describe("funded sybils that never submit", () => {
  // A deposit of 1 unit makes a candidate. With enough of them ranked before it, an honest node's turn
  // (rank × SUBMIT_BACKOFF_MS after the start) used to fall past the window, and it did not send at all:
  // nobody settled. Now every rank past the window shares the window's last turn.
  const start = 1_000_000;
  const end = start + 2_500;

  it("an honest node ranked 3,000th still takes a turn inside the window (the last one)", () => {
    const at = turnAt(start, 3000, end, start);
    expect(at).not.toBeNull();
    expect(at!).toBeLessThan(end);
    expect(at!).toBeGreaterThanOrEqual(start);
    // every rank past the window shares that turn; ranks inside it keep their order
    expect(turnAt(start, 10, end, start)).toBe(at);
    expect(turnAt(start, 0, end, start)).toBe(start);
    expect(turnAt(start, 1, end, start)).toBe(start + SUBMIT_BACKOFF_MS);
  });

  it("a turn is never in the past, and none is given once the last turn has passed", () => {
    expect(turnAt(start, 0, end, start + 500)).toBe(start + 500);
    expect(turnAt(start, 3000, end, end - 100)).toBeNull();
  });
});

describe("the announcement cap against sybils that fill an epoch first", () => {
  it("sybils that fill the next epoch's table first earn no standing from it: an honest peer kept in an earlier epoch takes its place", async () => {
    const chain = new FakeChain();
    chain.markets.set(MARKET, PARAMS);
    const me = await identity("cap-me");
    const relay = await identity("cap-relay"); // honest, not connected to us (announces via relays)
    const node = honestNode(me, [], chain);
    close = () => node.store.close();
    // The honest relay is kept in epoch EPOCH - 1.
    node.setEpoch(EPOCH - 1n);
    expect(node.board.onGossip(await announcement(relay, EPOCH - 1n), "x").action).toBe("ACCEPT");
    node.setEpoch(EPOCH);
    // Sybils fill epoch EPOCH + 1 (one ahead is accepted) and then epoch EPOCH, in that order.
    const sybils = await Promise.all(
      Array.from({ length: MAX_ANNOUNCERS_PER_EPOCH }, (_, i) => identity(`cap-sybil-${i}`)),
    );
    for (const s of sybils) node.board.onGossip(await announcement(s, EPOCH + 1n), "x");
    for (const s of sybils) node.board.onGossip(await announcement(s, EPOCH), "x");
    // Before: being kept in EPOCH + 1 counted as standing, so sybils tied with the relay and kept it out.
    expect(node.board.onGossip(await announcement(relay, EPOCH), "x").action).toBe("ACCEPT");
    const kept = node.store.announcements(MARKET, EPOCH).map((a) => a.peer);
    expect(kept).toContain(relay.peerId);
    expect(kept).toHaveLength(MAX_ANNOUNCERS_PER_EPOCH);
  });
});
