// The market's deposit history (node/market/funded.ts): read in pages, persisted with a cursor, caught up
// before a closed epoch is reconciled. Each test performs the fault it is about:
//   - an RPC provider that refuses eth_getLogs over more than N blocks (before: the one read from block 0
//     failed forever, and the node admitted every trader forever);
//   - a restart on the same store file (before: the history was read again from block 0 at every start);
//   - a follower that lags at the close, with a deposit it has not delivered and that trader's order at
//     reconciliation (before: the node IGNOREd the order at reconciliation too and missed an order its
//     peers held).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { FundedTraders } from "../../../node/market/funded.ts";
import { NodeStore } from "../../../node/store.ts";
import { SCHEMA_VERSION } from "../../../node/store-schema.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import { orderDigestBytes, orderId } from "../../../protocol/eip712.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { Order, SignedOrder } from "../../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../../protocol/signature.ts";
import { key, SEPARATOR, SessionWorld, waitFor } from "./session-harness.ts";

let world: SessionWorld | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await world?.close();
  world = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), "smartmarket-deposits-"));
  dirs.push(d);
  return join(d, "node.db");
}

/** Wallets that never deposited when the world starts (the harness funds key(0..190) only). */
function freshKey(i: number): Hex {
  return `0x${"3c".repeat(31)}${i.toString(16).padStart(2, "0")}` as Hex;
}

function signWith(w: SessionWorld, privateKey: Hex, epoch: bigint, nonce: bigint): SignedOrder {
  const order: Order = {
    market: w.market,
    epoch,
    side: "buy",
    quantity: 5n,
    limitPrice: 100n,
    nonce,
    trader: addressOfPrivateKey(privateKey),
  };
  return { ...order, signature: signDigest(orderDigestBytes(order, SEPARATOR), privateKey) };
}

const MARKET = `0x${"5e".repeat(32)}` as Hex;
const T1 = `0x${"a1".repeat(20)}` as Hex;
const T2 = `0x${"a2".repeat(20)}` as Hex;
const T3 = `0x${"a3".repeat(20)}` as Hex;

describe("the funded set and its cursor", () => {
  it("moves the cursor only over contiguous blocks, fills a gap from the pages, and survives a reopen", () => {
    const path = tempDb();
    const store = new NodeStore(path);
    const funded = new FundedTraders({ store, market: MARKET });
    expect(funded.nextBlock).toBe(0);
    funded.record([T1], 0, 99);
    expect(funded.nextBlock).toBe(100);
    // The follower delivers blocks past a gap: the traders join, the cursor stays before the gap.
    funded.record([T3], 150, 160);
    funded.record([], 161, 170);
    expect(funded.admits(T3)).toBe(true);
    expect(funded.nextBlock).toBe(100);
    // The paged reader fills the gap: the cursor jumps over what the follower delivered.
    funded.record([T2.toUpperCase().replace("0X", "0x") as Hex], 100, 149);
    expect(funded.nextBlock).toBe(171);
    // Overlapping and older ranges never move the cursor back.
    funded.record([T1], 0, 10);
    expect(funded.nextBlock).toBe(171);
    store.close();

    const again = new NodeStore(path);
    const loaded = new FundedTraders({ store: again, market: MARKET });
    expect(loaded.nextBlock).toBe(171);
    expect(loaded.size).toBe(3);
    // Loaded, but not ready until this run has read up to a head: every trader is admitted till then.
    expect(loaded.ready).toBe(false);
    loaded.markRead();
    expect([T1, T2, T3].map((t) => loaded.admits(t))).toEqual([true, true, true]);
    expect(loaded.admits(`0x${"a4".repeat(20)}` as Hex)).toBe(false);
    // Another market's set is its own.
    expect(new FundedTraders({ store: again, market: `0x${"5f".repeat(32)}` as Hex }).size).toBe(0);
    again.close();
  });

  it("migrates a schema-5 database: the depositor tables appear, the data stays", () => {
    const path = tempDb();
    const store = new NodeStore(path);
    store.updateEpoch(MARKET, 2n, { phase: "cleared" }, 1);
    store.close();
    const db = new DatabaseSync(path);
    db.exec(
      "DROP TABLE depositors; DROP TABLE deposit_cursors; UPDATE meta SET value = '5' WHERE key = 'schema_version';",
    );
    db.close();
    const again = new NodeStore(path);
    expect(again.getEpoch(MARKET, 2n)!.phase).toBe("cleared");
    expect(again.depositHistory(MARKET)).toEqual({ traders: [], nextBlock: 0 });
    again.addDepositors(MARKET, [T1], 42);
    again.addDepositors(MARKET, [T1, T2], 7); // a cursor never moves back
    expect(again.depositHistory(MARKET)).toEqual({ traders: [T1, T2], nextBlock: 42 });
    again.close();
    const check = new DatabaseSync(path);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({
      value: String(SCHEMA_VERSION),
    });
    check.close();
  });
});

describe("the deposit history against a provider, a restart and a lagging follower", () => {
  it("reads the history in pages from a provider that refuses ranges wider than 300 blocks", async () => {
    world = new SessionWorld();
    const w = world;
    for (let i = 0; i < 1000; i++) w.chain.mine(); // a chain with some history: deposits in blocks 2..192
    const registry = new Registry();
    const n = await w.addNode("n", { faults: { maxLogRangeBlocks: 300 }, registry });
    await waitFor("deposit history read", () => n.session.funded.ready, 20_000);

    // A depositor from the first page (block 2) is admitted; a wallet that never deposited is IGNOREd.
    expect(n.session.funded.admits(addressOfPrivateKey(key(0)))).toBe(true);
    expect(n.session.funded.admits(addressOfPrivateKey(key(190)))).toBe(true);
    expect(n.session.intake.onGossip(encodeOrder(signWith(w, freshKey(1), 0n, 1n)), "peer")).toEqual({
      action: "IGNORE",
      code: "UNFUNDED",
    });
    // The provider refused the wide reads; the pages it took cover every block from 0, each at most 300.
    const reads = n.port.depositorReads;
    expect(reads.some((r) => r.refused)).toBe(true);
    const taken = reads.filter((r) => !r.refused).sort((a, b) => a.from - b.from);
    expect(taken.every((r) => r.to - r.from + 1 <= 300)).toBe(true);
    let covered = 0;
    for (const r of taken) if (r.from <= covered) covered = Math.max(covered, r.to + 1);
    expect(covered).toBeGreaterThan(1000);
    expect(n.session.deposits.pageSize).toBeLessThanOrEqual(300);
    expect(n.logs.some((l) => / WARN .*depositors failed.*pageBlocks=/.test(l))).toBe(true);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/smartmarket_deposit_log_failed_reads_total\{market="0x5e[0-9a-f]+"\} [1-9]/);
    expect(metrics).toMatch(/smartmarket_deposit_log_page_blocks\{market="0x5e[0-9a-f]+"\} (\d+)/);
    // Deposits after the history was read still arrive by the follower (its polls are narrow).
    const late = freshKey(2);
    w.chain.fund(w.market, addressOfPrivateKey(late));
    await waitFor("the follower delivers the new deposit", () =>
      n.session.funded.admits(addressOfPrivateKey(late)),
    );
  });

  it("a restart loads the set from the store and reads on from its cursor, not from block 0", async () => {
    world = new SessionWorld();
    const w = world;
    const first = await w.addNode("r");
    await waitFor("deposit history read", () => first.session.funded.ready);
    await waitFor("the follower has moved the cursor to the head", () => {
      return first.session.funded.nextBlock > w.chain.head;
    });
    const cursor = first.session.funded.nextBlock;
    await w.shutdown(first);

    // While the node is down: a new deposit, then enough blocks that the follower's start look-back
    // (256 blocks) does not reach it: only the history reader, from the cursor, can find it.
    const late = addressOfPrivateKey(freshKey(3));
    const lateBlock = w.chain.fund(w.market, late);
    for (let i = 0; i < 400; i++) w.chain.mine();

    const again = await w.addNode("r");
    await waitFor("deposit history read after the restart", () => again.session.funded.ready);
    const reads = again.port.depositorReads;
    // Nothing below the cursor was read again: the depositors of blocks 2..192 come from the store.
    expect(Math.min(...reads.map((r) => r.from))).toBe(cursor);
    expect(reads[0]).toMatchObject({ from: cursor });
    expect(cursor).toBeLessThanOrEqual(lateBlock);
    expect(again.session.funded.admits(addressOfPrivateKey(key(1)))).toBe(true);
    expect(again.session.funded.admits(late)).toBe(true);
    expect(again.session.funded.admits(addressOfPrivateKey(freshKey(4)))).toBe(false);
    expect(again.logs.some((l) => new RegExp(`deposit history read .*fromBlock=${cursor} `).test(l))).toBe(
      true,
    );
    // The store holds the late depositor and a cursor past it.
    const saved = again.store.depositHistory(w.market);
    expect(saved.traders).toContain(late);
    expect(saved.nextBlock).toBeGreaterThan(lateBlock);
  });

  it("a chain behind the stored cursor (a development chain started afresh) is read again from block 0", async () => {
    world = new SessionWorld();
    const w = world;
    const first = await w.addNode("z");
    await waitFor("deposit history read", () => first.session.funded.ready);
    const path = first.store.path;
    await w.shutdown(first);
    // The store as another chain left it: a cursor far past this chain's head, and a trader of that chain.
    const stale = addressOfPrivateKey(freshKey(6));
    const other = new NodeStore(path);
    other.addDepositors(w.market, [stale], 1_000_000);
    other.close();

    const again = await w.addNode("z");
    await waitFor("deposit history read again", () => again.session.funded.ready);
    expect(again.port.depositorReads[0]).toMatchObject({ from: 0 });
    expect(again.session.funded.admits(addressOfPrivateKey(key(1)))).toBe(true);
    expect(again.session.funded.admits(stale)).toBe(false);
    expect(again.store.depositHistory(w.market).traders).not.toContain(stale);
    expect(again.logs.some((l) => / WARN .*behind this node's deposit cursor/.test(l))).toBe(true);
  });

  it("a provider whose head lags a few blocks behind the stored cursor does not make the node read it all again", async () => {
    world = new SessionWorld();
    const w = world;
    // Enough blocks that the follower's start look-back (256 blocks) does not reach block 0.
    for (let i = 0; i < 400; i++) w.chain.mine();
    const first = await w.addNode("z");
    await waitFor("deposit history read", () => first.session.funded.ready);
    const path = first.store.path;
    await w.shutdown(first);
    // The cursor 10 blocks past this chain's head, as a load-balanced RPC answering from a node 10 blocks
    // behind would show it; the set keeps a trader read from those blocks.
    const known = addressOfPrivateKey(freshKey(7));
    const other = new NodeStore(path);
    other.addDepositors(w.market, [known], w.chain.head + 11);
    other.close();

    const again = await w.addNode("z");
    await waitFor("deposit history ready", () => again.session.funded.ready);
    expect(again.port.depositorReads.some((r) => r.from === 0)).toBe(false);
    expect(again.session.funded.admits(known)).toBe(true);
    expect(again.logs.some((l) => /behind this node's deposit cursor/.test(l))).toBe(false);
  });

  it("a node whose follower lags at the close takes a new depositor's order at reconciliation", async () => {
    world = new SessionWorld();
    const w = world;
    const a = await w.addNode("a");
    // b's follower polls once at start, then not for a minute: it lags behind every later deposit.
    const b = await w.addNode("b", { pollMs: 60_000 });
    await waitFor("deposit history read", () => a.session.funded.ready && b.session.funded.ready);
    await waitFor("b's one poll done", () => b.session.funded.nextBlock > w.chain.head);
    await w.at(0n, 100);

    const trader = freshKey(5);
    w.chain.fund(w.market, addressOfPrivateKey(trader));
    await waitFor("a's follower delivers the deposit", () =>
      a.session.funded.admits(addressOfPrivateKey(trader)),
    );
    const order = signWith(w, trader, 0n, 1n);
    const id = orderId(order, SEPARATOR);
    await w.submit(a, order);
    // b has not seen the deposit: the gossiped order is IGNOREd there, as is a resend.
    expect(b.session.funded.admits(addressOfPrivateKey(trader))).toBe(false);
    expect(b.session.intake.onGossip(encodeOrder(order), "peer")).toEqual({
      action: "IGNORE",
      code: "UNFUNDED",
    });
    expect(b.session.books.get(w.market, 0n)?.has(id) ?? false).toBe(false);
    const readsBefore = b.port.depositorReads.length;

    // The close: b catches its funded set up with the head before it reconciles, and takes the order.
    await waitFor("both froze epoch 0", () => {
      const [ra, rb] = [a.record(0n), b.record(0n)];
      return ra?.fingerprint != null && rb?.fingerprint != null;
    });
    expect(b.session.books.get(w.market, 0n)?.has(id)).toBe(true);
    expect(b.record(0n)!.fingerprint).toBe(a.record(0n)!.fingerprint);
    expect(b.session.funded.admits(addressOfPrivateKey(trader))).toBe(true);
    // Bounded: one eth_getLogs for the epoch's close (the follower is still idle).
    expect(b.port.depositorReads.length - readsBefore).toBe(1);
  });
});
