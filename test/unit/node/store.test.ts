import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { NodeStore, ORDER_WRITE_BEHIND_MAX, ORDER_WRITE_BEHIND_MS } from "../../../node/store.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import { orderId } from "../../../protocol/eip712.ts";
import type { Hex } from "../../../protocol/hex.ts";
import { MARKET, makeOrder, SEPARATOR, sign } from "../protocol/fixtures.ts";

const dirs: string[] = [];
function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), "smartmarket-store-"));
  dirs.push(d);
  return join(d, "node.db");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("NodeStore (SQLite, WAL)", () => {
  it("stores orders once, reads them back sorted by id, and survives a reopen", () => {
    const path = tempDb();
    const store = new NodeStore(path);
    const orders = [1n, 2n, 3n].map((nonce) => sign(makeOrder({ nonce })));
    const ids: Hex[] = [];
    for (const o of orders) {
      const id = orderId(o, SEPARATOR);
      ids.push(id);
      expect(store.putOrder(id, o, encodeOrder(o), "gossip", 1)).toBe(true);
    }
    // written behind: a network order's put cannot tell a repeat; the row is still written once
    expect(store.putOrder(ids[0]!, orders[0]!, encodeOrder(orders[0]!), "sync", 2)).toBe(true);
    store.close();
    const reopened = new NodeStore(path);
    const back = reopened.ordersOfEpoch(MARKET, 5n);
    expect(back.map((b) => b.id)).toEqual([...ids].sort());
    const first = back.find((b) => b.id === ids[0])!;
    expect(first.order).toEqual(orders[0]);
    expect(first.source).toBe("gossip");
    expect(Buffer.from(first.wire)).toEqual(Buffer.from(encodeOrder(orders[0]!)));
    expect(reopened.countOrders(MARKET, 5n)).toBe(3);
    expect(reopened.hasOrder(ids[1]!)).toBe(true);
    reopened.close();
  });

  it("keeps local orders through the durable connection and lists them", () => {
    const store = new NodeStore(tempDb());
    const o = sign(makeOrder({ nonce: 9n }));
    store.putOrder(orderId(o, SEPARATOR), o, encodeOrder(o), "local", 5);
    const g = sign(makeOrder({ nonce: 10n }));
    store.putOrder(orderId(g, SEPARATOR), g, encodeOrder(g), "gossip", 5);
    expect(store.localOrders(MARKET, 0n).map((s) => s.order.nonce)).toEqual([9n]);
    store.prune(MARKET, 6n);
    // Pruning drops network orders of old epochs but keeps this device's own.
    expect(store.ordersOfEpoch(MARKET, 5n).map((s) => s.order.nonce)).toEqual([9n]);
    store.close();
  });

  it("records epochs with partial updates and lists the newest first", () => {
    const store = new NodeStore(tempDb());
    store.updateEpoch(MARKET, 3n, { phase: "reconciling" }, 10);
    store.updateEpoch(MARKET, 3n, { phase: "cleared", resultHash: `0x${"11".repeat(32)}`, volume: "5" }, 11);
    store.updateEpoch(MARKET, 4n, { phase: "open" }, 12);
    store.updateEpoch(MARKET, 3n, { agreed: true, weSubmitted: true }, 13);
    const e3 = store.getEpoch(MARKET, 3n)!;
    expect(e3).toMatchObject({
      phase: "cleared",
      volume: "5",
      agreed: true,
      weSubmitted: true,
      updatedMs: 13,
    });
    expect(e3.resultHash).toBe(`0x${"11".repeat(32)}`);
    expect(store.recentEpochs(MARKET, 10).map((e) => e.epoch)).toEqual([4n, 3n]);
    expect(store.getEpoch(MARKET, 99n)).toBeUndefined();
    store.close();
  });

  it("upserts announcements without erasing known fields, and collects submitter wallets", () => {
    const store = new NodeStore(tempDb());
    const base = { market: MARKET, epoch: 7n, peer: "p1", orderCount: 3, receivedMs: 1 };
    store.putAnnouncement({
      ...base,
      wallet: `0x${"aa".repeat(20)}`,
      fingerprint: `0x${"01".repeat(32)}`,
      resultHash: null,
    });
    store.putAnnouncement({
      ...base,
      wallet: null,
      fingerprint: null,
      resultHash: `0x${"02".repeat(32)}`,
      receivedMs: 2,
    });
    store.putAnnouncement({
      ...base,
      peer: "p2",
      epoch: 2n,
      wallet: `0x${"bb".repeat(20)}`,
      fingerprint: null,
      resultHash: null,
    });
    const [a] = store.announcements(MARKET, 7n);
    expect(a).toMatchObject({
      peer: "p1",
      wallet: `0x${"aa".repeat(20)}`,
      fingerprint: `0x${"01".repeat(32)}`,
      resultHash: `0x${"02".repeat(32)}`,
    });
    expect(store.knownWallets(MARKET, 5n)).toEqual([`0x${"aa".repeat(20)}`]);
    expect(store.knownWallets(MARKET, 0n)).toEqual([`0x${"aa".repeat(20)}`, `0x${"bb".repeat(20)}`]);
    // bounded above: announcements of later epochs are not read (nodes may not all have them yet)
    expect(store.knownWallets(MARKET, 0n, 4n)).toEqual([`0x${"bb".repeat(20)}`]);
    store.close();
  });

  it("never moves an epoch's phase backwards: a late pipeline write keeps 'settled' and still lands its fields", () => {
    const store = new NodeStore(tempDb());
    const hash = `0x${"33".repeat(32)}` as Hex;
    store.updateEpoch(MARKET, 8n, { phase: "frozen" }, 1);
    // The Settled event arrives before the pipeline has cleared (the race seen under fault injection).
    store.updateEpoch(
      MARKET,
      8n,
      { phase: "settled", settleTx: `0x${"44".repeat(32)}`, settleResultHash: hash },
      2,
    );
    const after = store.updateEpoch(MARKET, 8n, { phase: "cleared", resultHash: hash, volume: "7" }, 3);
    expect(after.phase).toBe("settled");
    expect(store.getEpoch(MARKET, 8n)).toMatchObject({ phase: "settled", resultHash: hash, volume: "7" });
    // "unsettled" may still become "settled" (a settlement seen late), never the reverse.
    store.updateEpoch(MARKET, 9n, { phase: "unsettled", reason: "no settlement" }, 4);
    store.updateEpoch(MARKET, 9n, { phase: "settled" }, 5);
    store.updateEpoch(MARKET, 9n, { phase: "unsettled" }, 6);
    expect(store.getEpoch(MARKET, 9n)!.phase).toBe("settled");
    store.close();
  });

  it("migrates a version-1 database (no reason column) in place and keeps its epochs", () => {
    const path = tempDb();
    const v1 = new DatabaseSync(path);
    v1.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '1');
      CREATE TABLE epochs (market TEXT NOT NULL, epoch INTEGER NOT NULL, phase TEXT NOT NULL,
        order_count INTEGER, fingerprint TEXT, covered_count INTEGER, result_hash TEXT, price TEXT, volume TEXT,
        welfare TEXT, result_json TEXT, settle_tx TEXT, settle_submitter TEXT, settle_result_hash TEXT,
        settle_price TEXT, settle_volume TEXT, gas_used TEXT, agreed INTEGER, we_submitted INTEGER NOT NULL DEFAULT 0,
        timings_json TEXT, updated_ms INTEGER NOT NULL, PRIMARY KEY (market, epoch)) STRICT;
      INSERT INTO epochs (market, epoch, phase, updated_ms) VALUES ('${MARKET}', 2, 'cleared', 1);`);
    v1.close();
    const store = new NodeStore(path);
    expect(store.getEpoch(MARKET, 2n)).toMatchObject({ phase: "cleared", reason: null });
    store.updateEpoch(MARKET, 2n, { phase: "unsettled", reason: "why" }, 2);
    expect(store.getEpoch(MARKET, 2n)!.reason).toBe("why");
    store.close();
    const reopened = new NodeStore(path);
    expect(reopened.getEpoch(MARKET, 2n)!.reason).toBe("why");
    reopened.close();
  });

  it("remembers markets joined and left at run time", () => {
    const path = tempDb();
    const store = new NodeStore(path);
    const other = `0x${"cd".repeat(32)}` as Hex;
    store.setMembership(MARKET, true, 1);
    store.setMembership(other, true, 2);
    store.setMembership(other, false, 3);
    store.close();
    const again = new NodeStore(path);
    expect([...again.memberships()]).toEqual(
      [
        [MARKET, true],
        [other, false],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    );
    again.close();
  });

  it("persists the nonce counter", () => {
    const path = tempDb();
    const store = new NodeStore(path);
    expect(store.nextNonce()).toBe(0n);
    store.setNextNonce(42n);
    store.close();
    const again = new NodeStore(path);
    expect(again.nextNonce()).toBe(42n);
    again.close();
  });
});

describe("batched writes (issue 13: one commit per gossip batch, one fsync per API batch)", () => {
  it("commits a batch as one transaction on either connection, joins nested calls, and rolls back a batch that throws", () => {
    const path = tempDb();
    const store = new NodeStore(path);
    const orders = [11n, 12n, 13n, 14n].map((nonce) => sign(makeOrder({ nonce })));
    const put = (i: number, source: "gossip" | "api") =>
      store.putOrder(orderId(orders[i]!, SEPARATOR), orders[i]!, encodeOrder(orders[i]!), source, 1);
    store.inTransaction(false, () => {
      put(0, "gossip");
      store.inTransaction(false, () => put(1, "gossip"));
      // a delete inside the network connection's transaction does not wait for a lock
      store.deleteOrder(orderId(orders[1]!, SEPARATOR));
    });
    store.inTransaction(true, () => put(2, "api"));
    expect(() =>
      store.inTransaction(false, () => {
        put(3, "gossip");
        throw new Error("boom");
      }),
    ).toThrow("boom");
    store.close();
    // what another process reads back: the committed batches, not the rolled-back one
    const db = new DatabaseSync(path);
    const ids = (db.prepare("SELECT id FROM orders ORDER BY id").all() as { id: string }[]).map((r) => r.id);
    db.close();
    expect(ids).toEqual([0, 2].map((i) => orderId(orders[i]!, SEPARATOR)).sort());
  });
});

describe("write-behind of network orders", () => {
  it("writes buffered orders within ORDER_WRITE_BEHIND_MS, and before this device's own order and any read", async () => {
    const path = tempDb();
    const store = new NodeStore(path);
    const [g1, g2, own] = [21n, 22n, 23n].map((nonce) => sign(makeOrder({ nonce })));
    const onDisk = () => {
      const db = new DatabaseSync(path);
      const n = (db.prepare("SELECT COUNT(*) AS n FROM orders").get() as { n: number }).n;
      db.close();
      return Number(n);
    };
    store.putOrder(orderId(g1!, SEPARATOR), g1!, encodeOrder(g1!), "gossip", 1);
    expect(onDisk()).toBe(0);
    await new Promise((r) => setTimeout(r, ORDER_WRITE_BEHIND_MS + 50));
    expect(onDisk()).toBe(1);
    store.putOrder(orderId(g2!, SEPARATOR), g2!, encodeOrder(g2!), "gossip", 1);
    // this device's order is durable when the call returns, and the network order before it too
    expect(store.putOrder(orderId(own!, SEPARATOR), own!, encodeOrder(own!), "api", 1)).toBe(true);
    expect(onDisk()).toBe(3);
    // an eviction is written in turn, and reads see it at once
    store.deleteOrder(orderId(g2!, SEPARATOR));
    expect(store.hasOrder(orderId(g2!, SEPARATOR))).toBe(false);
    store.close();
    expect(onDisk()).toBe(2);
  });
  it("a transaction that fails drops only its own buffered writes, never those buffered before it", () => {
    const path = tempDb();
    const store = new NodeStore(path);
    const o = sign(makeOrder({ nonce: 31n }));
    const wire = encodeOrder(o);
    const idOf = (i: number) => `0x${i.toString(16).padStart(64, "0")}` as Hex;
    store.putOrder(idOf(1), o, wire, "gossip", 1); // buffered before
    expect(() =>
      store.inTransaction(false, () => {
        // past the write-behind threshold inside the transaction
        for (let i = 2; i < ORDER_WRITE_BEHIND_MAX + 10; i++) store.putOrder(idOf(i), o, wire, "gossip", 1);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    store.close();
    const db = new DatabaseSync(path);
    const ids = (db.prepare("SELECT id FROM orders").all() as { id: string }[]).map((r) => r.id);
    db.close();
    expect(ids).toEqual([idOf(1)]);
  });
});
