// Durable state of a node in SQLite (node:sqlite, WAL): orders, epochs, peer announcements.
//
// Two connections to one file: `db` (synchronous=NORMAL) for everything received from the network,
// where losing the last transaction on power loss is harmless because peers still hold those orders,
// and `durable` (synchronous=FULL) for orders this device signed, which must survive any crash once
// the write returns: they are written there before they are gossiped. Orders from the network are written
// behind (issue 13: an insert and a commit per gossiped order were a fifth of a node's ingest CPU): buffered
// and written in one transaction every ORDER_WRITE_BEHIND_MS, or at ORDER_WRITE_BEHIND_MAX, or before any
// read of orders or any write of this device's own; a crash loses at most that buffer, which peers hold and
// the next reconciliation brings back.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { compareHex, type Hex } from "../protocol/hex.ts";
import type { SignedOrder } from "../protocol/order.ts";
import {
  type CutOrder,
  cutCount,
  decodeCuts,
  EPOCH_COLUMNS,
  encodeCuts,
  type Row,
  rowToEpoch,
  rowToExclusion,
  rowToOrder,
  toSql,
} from "./store-rows.ts";
import { migrate } from "./store-schema.ts";

export type OrderSource = "local" | "api" | "gossip" | "sync" | "chain";

export interface StoredOrder {
  readonly id: Hex;
  readonly order: SignedOrder;
  readonly wire: Uint8Array;
  readonly source: OrderSource;
  readonly receivedMs: number;
}

export type EpochPhase = "open" | "reconciling" | "frozen" | "cleared" | "proposed" | "settled" | "unsettled";

/**
 * Phases only move forward: a write that would move an epoch back (a late pipeline step after a result
 * was proposed, say) keeps the later phase and applies the rest of its patch. "proposed" means a result
 * stands on chain and can still be challenged; "settled" that the chain's result is final (or, without a
 * trade, that the epoch closed); "unsettled" may still become "settled" (a result seen late), never the
 * other way.
 */
export const PHASE_RANK: Readonly<Record<EpochPhase, number>> = {
  open: 0,
  reconciling: 1,
  frozen: 2,
  cleared: 3,
  proposed: 4,
  unsettled: 5,
  settled: 6,
};

/** Whether an epoch in this phase is final (nothing more will happen to it). */
export function isFinalPhase(phase: EpochPhase): boolean {
  return phase === "settled" || phase === "unsettled";
}

/** Everything the node records about one epoch of one market. Amounts as decimal strings. */
export interface EpochRecord {
  market: Hex;
  epoch: bigint;
  phase: EpochPhase;
  orderCount: number | null;
  fingerprint: Hex | null;
  coveredCount: number | null;
  resultHash: Hex | null;
  price: string | null;
  volume: string | null;
  welfare: string | null;
  /** The full clearing result as JSON (fills included), for `smartmarket epoch <n>`. */
  resultJson: string | null;
  /** The standing (then final) result on chain: the transaction that made it stand, its submitter... */
  settleTx: Hex | null;
  settleSubmitter: Hex | null;
  settleResultHash: Hex | null;
  /** ...its batch hash and fee total (what finalize() needs)... */
  batchHash: Hex | null;
  feeTotal: string | null;
  /** ...how many times a challenge replaced the standing result, and the finalize() transaction. */
  challenges: number;
  finalizeTx: Hex | null;
  /** Whether this node challenged (and replaced) a standing result of the epoch. */
  weChallenged: boolean;
  /** Orders this node learned from standing batches on chain (not from gossip or sync). */
  adoptedCount: number;
  settlePrice: string | null;
  settleVolume: string | null;
  gasUsed: string | null;
  /** Whether this node's result hash equals the settled one (null: not settled / not known). */
  agreed: boolean | null;
  weSubmitted: boolean;
  /** Phase durations (ms) and counters, JSON. */
  timingsJson: string | null;
  /** Why the epoch ended without a settlement (phase "unsettled"), or why it failed on the way. */
  reason: string | null;
  updatedMs: number;
}

export interface AnnouncementRecord {
  market: Hex;
  epoch: bigint;
  peer: string;
  wallet: Hex | null;
  fingerprint: Hex | null;
  orderCount: number | null;
  resultHash: Hex | null;
  receivedMs: number;
}

/** An order the coverage rule left out of an epoch's clearing (settlement/batch.ts ExcludedOrder). */
export interface ExclusionRecord {
  readonly id: Hex;
  readonly trader: Hex;
  readonly side: "buy" | "sell";
  /** What it needed: quantity × limitPrice QUOTE for a buy, quantity BASE for a sell (decimal string). */
  readonly needed: string;
  /** The most one order of the trader may need of that asset, ⌊collateral / 2⌋ (decimal string). */
  readonly available: string;
  /**
   * Why: "collateral" (not covered), "trader-cap" (its trader already had MAX_ORDERS_PER_TRADER_SIDE orders
   * of smaller id), "side-cap" (kept, but MAX_KEPT_PER_SIDE better-ranked orders of its side were cleared).
   */
  readonly cause: ExclusionCause;
}

export type ExclusionCause = "collateral" | "trader-cap" | "side-cap";

/** How long an order received from the network may wait in memory before it is written, ms. */
export const ORDER_WRITE_BEHIND_MS = 100;
/** Buffered network orders (and evictions) that trigger a write at once. */
export const ORDER_WRITE_BEHIND_MAX = 1024;

type PendingWrite =
  | { readonly op: "put"; readonly values: readonly (string | bigint | number | Uint8Array)[] }
  | { readonly op: "delete"; readonly id: Hex };

export interface NodeStoreOptions {
  /** A write-behind flush that failed (its orders stay in memory only); the store drops them and goes on. */
  readonly onWriteBehindError?: (err: unknown, orders: number) => void;
}

export class NodeStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly durable: DatabaseSync;
  private readonly insertOrder: StatementSync;
  private readonly insertOrderDurable: StatementSync;
  private readonly hasOrderStmt: StatementSync;
  private readonly deleteOrderStmt: StatementSync;

  private pending: PendingWrite[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly opts: NodeStoreOptions;

  constructor(path: string, opts: NodeStoreOptions = {}) {
    this.path = path;
    this.opts = opts;
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    migrate(this.db, path);
    // The durable connection shares the file; FULL makes every commit fsync the WAL before returning.
    this.durable = path === ":memory:" ? this.db : new DatabaseSync(path);
    if (this.durable !== this.db) {
      this.durable.exec("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
    }
    const insertSql = `INSERT OR IGNORE INTO orders
      (id, market, epoch, side, quantity, limit_price, nonce, trader, signature, wire, source, received_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
    this.insertOrder = this.db.prepare(insertSql);
    this.insertOrderDurable = this.durable.prepare(insertSql);
    this.hasOrderStmt = this.db.prepare("SELECT 1 FROM orders WHERE id = ?");
    // On the network connection: evictions happen while gossip's batch transaction holds it (a delete on
    // the other connection would wait for that lock), and losing one to a crash is harmless (reloadRecent
    // keeps each trader's smallest ids).
    this.deleteOrderStmt = this.db.prepare("DELETE FROM orders WHERE id = ?");
  }

  /** Open transactions, per connection (nested calls join the outer one). */
  private readonly txDepth = new Map<DatabaseSync, number>();

  /**
   * Runs `work` inside one transaction: of the network connection (`durable` false: orders received from
   * peers, one commit per gossip batch instead of one per order) or of the FULL-synchronous one (`durable`
   * true: a batch of this device's orders, one fsync for all of them). Nested calls join the outer
   * transaction. If `work` throws, the transaction is rolled back and the error rethrown.
   */
  inTransaction<T>(durable: boolean, work: () => T): T {
    const conn = durable ? this.durable : this.db;
    const depth = this.txDepth.get(conn) ?? 0;
    if (depth > 0) return work();
    if (durable) this.flushOrders();
    const mark = this.pending.length;
    conn.exec("BEGIN");
    this.txDepth.set(conn, 1);
    let out: T;
    try {
      out = work();
      conn.exec("COMMIT");
    } catch (err) {
      if (conn.isTransaction) conn.exec("ROLLBACK");
      // buffered writes of the failed work are dropped too (never earlier ones: no flush runs inside)
      if (this.pending.length > mark) this.pending.length = mark;
      throw err;
    } finally {
      this.txDepth.delete(conn);
    }
    if (this.pending.length >= ORDER_WRITE_BEHIND_MAX) this.flushInBackground();
    return out;
  }

  /** Writes the buffered network orders and evictions now, in one transaction. */
  flushOrders(): void {
    // Never while the durable connection holds the write lock (the network connection would wait on it):
    // the buffer is written after that transaction (its timer stays armed).
    if (this.durable !== this.db && (this.txDepth.get(this.durable) ?? 0) > 0) return;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.pending.length === 0) return;
    const ops = this.pending;
    this.pending = [];
    const run = () => {
      for (const w of ops) {
        if (w.op === "put") this.insertOrder.run(...w.values);
        else this.deleteOrderStmt.run(w.id);
      }
    };
    if ((this.txDepth.get(this.db) ?? 0) > 0) {
      run();
      return;
    }
    this.db.exec("BEGIN");
    try {
      run();
      this.db.exec("COMMIT");
    } catch (err) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  private buffer(w: PendingWrite): void {
    this.pending.push(w);
    // Inside a transaction the buffer waits for its end (inTransaction flushes then): a flush within it
    // would be undone with it, earlier writes included.
    const inTx = (this.txDepth.get(this.db) ?? 0) > 0 || (this.txDepth.get(this.durable) ?? 0) > 0;
    if (this.pending.length >= ORDER_WRITE_BEHIND_MAX && !inTx) this.flushInBackground();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flushInBackground(), ORDER_WRITE_BEHIND_MS);
      this.flushTimer.unref();
    }
  }

  private flushInBackground(): void {
    const orders = this.pending.length;
    try {
      this.flushOrders();
    } catch (err) {
      if (!this.opts.onWriteBehindError) throw err;
      this.opts.onWriteBehindError(err, orders);
    }
  }

  close(): void {
    this.flushOrders();
    if (this.durable !== this.db) this.durable.close();
    this.db.close();
  }

  /**
   * Stores an order. Orders from this device ("local", "api") are written through the FULL-synchronous
   * connection before this returns, which returns false if an order with this id is already stored. Orders
   * from the network are written behind (see the top of the file); for them it returns true.
   */
  putOrder(id: Hex, order: SignedOrder, wire: Uint8Array, source: OrderSource, receivedMs: number): boolean {
    const values = [
      id,
      order.market,
      order.epoch,
      order.side,
      order.quantity.toString(),
      order.limitPrice.toString(),
      order.nonce.toString(),
      order.trader,
      order.signature,
      wire,
      source,
      receivedMs,
    ];
    if (source !== "local" && source !== "api") {
      this.buffer({ op: "put", values });
      return true;
    }
    this.flushOrders();
    return Number(this.insertOrderDurable.run(...values).changes) === 1;
  }

  /** Deletes an order (evicted by a smaller id of the same trader and side), in turn with the buffered writes. */
  deleteOrder(id: Hex): void {
    this.buffer({ op: "delete", id });
  }

  /** The next nonce for orders this node signs (persisted, so nonces do not repeat after a restart). */
  nextNonce(): bigint {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'next_nonce'").get() as Row | undefined;
    return row ? BigInt(String(row.value)) : 0n;
  }

  setNextNonce(nonce: bigint): void {
    this.durable
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('next_nonce', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(nonce.toString());
  }

  hasOrder(id: Hex): boolean {
    this.flushOrders();
    return this.hasOrderStmt.get(id) !== undefined;
  }

  /** Orders of one epoch, sorted by id. */
  ordersOfEpoch(market: Hex, epoch: bigint): StoredOrder[] {
    this.flushOrders();
    return (
      this.db
        .prepare("SELECT * FROM orders WHERE market = ? AND epoch = ? ORDER BY id")
        .all(market, epoch) as Row[]
    ).map(rowToOrder);
  }

  /** Orders this device signed or submitted, newest epochs first. */
  localOrders(market: Hex, sinceEpoch: bigint): StoredOrder[] {
    this.flushOrders();
    return (
      this.db
        .prepare(
          "SELECT * FROM orders WHERE source IN ('local', 'api') AND market = ? AND epoch >= ? ORDER BY epoch DESC, id",
        )
        .all(market, sinceEpoch) as Row[]
    ).map(rowToOrder);
  }

  /** Orders of epochs [fromEpoch, toEpoch], newest epoch first then by id; only `trader`'s if given. */
  ordersBetween(market: Hex, fromEpoch: bigint, toEpoch: bigint, trader?: Hex): StoredOrder[] {
    const byTrader = trader === undefined ? "" : " AND trader = ?";
    this.flushOrders();
    return (
      this.db
        .prepare(
          `SELECT * FROM orders WHERE market = ? AND epoch >= ? AND epoch <= ?${byTrader} ORDER BY epoch DESC, id`,
        )
        .all(market, fromEpoch, toEpoch, ...(trader === undefined ? [] : [trader])) as Row[]
    ).map(rowToOrder);
  }

  /**
   * Replaces the epoch's exclusions (each new selection of the epoch records its own): `rows` one row each
   * (coverage's: collateral, trader-cap), `cut` (the side cap's, thousands at a loaded close) as one
   * epoch_cuts row.
   */
  putExclusions(
    market: Hex,
    epoch: bigint,
    rows: readonly ExclusionRecord[],
    cut: readonly CutOrder[] = [],
  ): void {
    const blob = encodeCuts(cut);
    this.db.exec("BEGIN");
    try {
      this.db.prepare("DELETE FROM exclusions WHERE market = ? AND epoch = ?").run(market, epoch);
      this.db.prepare("DELETE FROM epoch_cuts WHERE market = ? AND epoch = ?").run(market, epoch);
      const insert = this.db.prepare(
        "INSERT INTO exclusions (market, epoch, id, trader, side, needed, available, cause) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      );
      for (const r of rows) insert.run(market, epoch, r.id, r.trader, r.side, r.needed, r.available, r.cause);
      if (cut.length > 0) {
        this.db
          .prepare("INSERT INTO epoch_cuts (market, epoch, orders) VALUES (?, ?, ?)")
          .run(market, epoch, blob);
      }
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** The orders left out of the epoch's clearing (coverage, trader cap, side cap), by id. */
  exclusions(market: Hex, epoch: bigint): ExclusionRecord[] {
    const rows = (
      this.db.prepare("SELECT * FROM exclusions WHERE market = ? AND epoch = ?").all(market, epoch) as Row[]
    ).map(rowToExclusion);
    const cuts = this.cutsBlob(market, epoch);
    const all = cuts === null ? rows : [...rows, ...decodeCuts(cuts)];
    return all.sort((a, b) => compareHex(a.id, b.id));
  }

  /** How many orders the epoch's selection left out, by cause (0 for a cause with none). */
  exclusionCounts(market: Hex, epoch: bigint): Record<ExclusionCause, number> {
    const counts: Record<ExclusionCause, number> = { collateral: 0, "trader-cap": 0, "side-cap": 0 };
    const rows = this.db
      .prepare("SELECT cause, COUNT(*) AS n FROM exclusions WHERE market = ? AND epoch = ? GROUP BY cause")
      .all(market, epoch) as Row[];
    for (const r of rows) {
      const cause = r.cause as ExclusionCause;
      if (cause in counts) counts[cause] = Number(r.n);
    }
    const cuts = this.cutsBlob(market, epoch);
    if (cuts !== null) counts["side-cap"] += cutCount(cuts);
    return counts;
  }

  private cutsBlob(market: Hex, epoch: bigint): Uint8Array | null {
    const row = this.db
      .prepare("SELECT orders FROM epoch_cuts WHERE market = ? AND epoch = ?")
      .get(market, epoch) as { orders: Uint8Array } | undefined;
    return row?.orders ?? null;
  }

  countOrders(market: Hex, epoch: bigint): number {
    this.flushOrders();
    const row = this.db
      .prepare("SELECT COUNT(*) AS n FROM orders WHERE market = ? AND epoch = ?")
      .get(market, epoch) as Row;
    return Number(row.n);
  }

  getEpoch(market: Hex, epoch: bigint): EpochRecord | undefined {
    const row = this.db.prepare("SELECT * FROM epochs WHERE market = ? AND epoch = ?").get(market, epoch) as
      | Row
      | undefined;
    return row ? rowToEpoch(row) : undefined;
  }

  /**
   * Creates the epoch row if needed and applies `patch`; returns the record as stored afterwards. A
   * phase that would move the epoch backwards (PHASE_RANK) is not applied; the rest of the patch is.
   */
  updateEpoch(
    market: Hex,
    epoch: bigint,
    patch: Partial<Omit<EpochRecord, "market" | "epoch">>,
    nowMs: number,
  ): EpochRecord {
    this.db
      .prepare("INSERT OR IGNORE INTO epochs (market, epoch, phase, updated_ms) VALUES (?, ?, 'open', ?)")
      .run(market, epoch, nowMs);
    const current = this.getEpoch(market, epoch)!;
    const apply: Partial<Omit<EpochRecord, "market" | "epoch">> = { ...patch, updatedMs: nowMs };
    if (patch.phase !== undefined && PHASE_RANK[patch.phase] < PHASE_RANK[current.phase]) delete apply.phase;
    const entries = Object.entries(apply) as [keyof typeof EPOCH_COLUMNS, unknown][];
    const sets = entries.map(([k]) => `${EPOCH_COLUMNS[k]} = ?`).join(", ");
    this.db
      .prepare(`UPDATE epochs SET ${sets} WHERE market = ? AND epoch = ?`)
      .run(...entries.map(([, v]) => toSql(v)), market, epoch);
    return { ...current, ...apply };
  }

  /** Records that the node joined (true) or left (false) a market at run time; survives restarts. */
  setMembership(market: Hex, joined: boolean, nowMs: number): void {
    this.db
      .prepare(
        `INSERT INTO memberships (market, joined, updated_ms) VALUES (?, ?, ?)
         ON CONFLICT (market) DO UPDATE SET joined = excluded.joined, updated_ms = excluded.updated_ms`,
      )
      .run(market, joined ? 1 : 0, nowMs);
  }

  /** Markets joined or left at run time, by market id. */
  memberships(): Map<Hex, boolean> {
    const rows = this.db.prepare("SELECT market, joined FROM memberships ORDER BY market").all() as Row[];
    return new Map(rows.map((r) => [r.market as Hex, Number(r.joined) === 1]));
  }

  /** The last `limit` epochs with a record, newest first. */
  recentEpochs(market: Hex, limit: number): EpochRecord[] {
    return (
      this.db
        .prepare("SELECT * FROM epochs WHERE market = ? ORDER BY epoch DESC LIMIT ?")
        .all(market, limit) as Row[]
    ).map(rowToEpoch);
  }

  putAnnouncement(a: AnnouncementRecord): void {
    this.db
      .prepare(
        `INSERT INTO announcements (market, epoch, peer, wallet, fingerprint, order_count, result_hash, received_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (market, epoch, peer) DO UPDATE SET
           wallet = COALESCE(excluded.wallet, wallet),
           fingerprint = COALESCE(excluded.fingerprint, fingerprint),
           order_count = COALESCE(excluded.order_count, order_count),
           result_hash = COALESCE(excluded.result_hash, result_hash),
           received_ms = excluded.received_ms`,
      )
      .run(a.market, a.epoch, a.peer, a.wallet, a.fingerprint, a.orderCount, a.resultHash, a.receivedMs);
  }

  announcements(market: Hex, epoch: bigint): AnnouncementRecord[] {
    return (
      this.db
        .prepare("SELECT * FROM announcements WHERE market = ? AND epoch = ? ORDER BY peer")
        .all(market, epoch) as Row[]
    ).map((row) => ({
      market: row.market as Hex,
      epoch: BigInt(row.epoch as number),
      peer: String(row.peer),
      wallet: (row.wallet ?? null) as Hex | null,
      fingerprint: (row.fingerprint ?? null) as Hex | null,
      orderCount: row.order_count === null ? null : Number(row.order_count),
      resultHash: (row.result_hash ?? null) as Hex | null,
      receivedMs: Number(row.received_ms),
    }));
  }

  /** Forgets one peer's announcement of an epoch (the board evicted it: at most so many peers per epoch). */
  deleteAnnouncement(market: Hex, epoch: bigint, peer: string): void {
    this.db
      .prepare("DELETE FROM announcements WHERE market = ? AND epoch = ? AND peer = ?")
      .run(market, epoch, peer);
  }

  /** Drops announcements of epochs older than `beforeEpoch`: the table stays bounded (sybil floods). */
  pruneAnnouncements(market: Hex, beforeEpoch: bigint): void {
    this.db.prepare("DELETE FROM announcements WHERE market = ? AND epoch < ?").run(market, beforeEpoch);
  }

  /** How many announcements the store holds for the market (bounded: see node/market/announcements.ts). */
  countAnnouncements(market: Hex): number {
    const row = this.db
      .prepare("SELECT COUNT(*) AS n FROM announcements WHERE market = ?")
      .get(market) as Row;
    return Number(row.n);
  }

  /**
   * Wallet addresses announced by peers for recent epochs: the submitter candidates once the chain shows
   * they hold escrow (node/market/submitter.ts).
   */
  knownWallets(market: Hex, sinceEpoch: bigint, untilEpoch?: bigint): Hex[] {
    // `untilEpoch` bounds the read to what every node can have heard by then: a read that also took the
    // next epoch's announcements (some nodes have them, some not yet) gave nodes different candidates.
    return (
      this.db
        .prepare(
          "SELECT DISTINCT wallet FROM announcements WHERE market = ? AND epoch >= ? AND epoch <= ? AND wallet IS NOT NULL ORDER BY wallet",
        )
        .all(market, sinceEpoch, untilEpoch ?? 2n ** 63n - 1n) as Row[]
    ).map((r) => r.wallet as Hex);
  }

  /** The market's known depositors and the next block of its deposit history to read (0: none read). */
  depositHistory(market: Hex): { traders: Hex[]; nextBlock: number } {
    const rows = this.db
      .prepare("SELECT trader FROM depositors WHERE market = ? ORDER BY trader")
      .all(market) as Row[];
    const cursor = this.db.prepare("SELECT next_block FROM deposit_cursors WHERE market = ?").get(market) as
      | Row
      | undefined;
    return { traders: rows.map((r) => r.trader as Hex), nextBlock: cursor ? Number(cursor.next_block) : 0 };
  }

  /**
   * Adds depositors of the market and moves its cursor to `nextBlock` (never back), in one transaction:
   * the cursor never gets ahead of the depositors it covers (node/market/funded.ts).
   */
  addDepositors(market: Hex, traders: readonly Hex[], nextBlock: number): void {
    this.db.exec("BEGIN");
    try {
      const insert = this.db.prepare("INSERT OR IGNORE INTO depositors (market, trader) VALUES (?, ?)");
      for (const t of traders) insert.run(market, t);
      this.db
        .prepare(
          `INSERT INTO deposit_cursors (market, next_block) VALUES (?, ?)
           ON CONFLICT (market) DO UPDATE SET next_block = MAX(next_block, excluded.next_block)`,
        )
        .run(market, nextBlock);
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** Forgets the market's depositors and cursor (the chain is not the one they were read from). */
  resetDepositors(market: Hex): void {
    this.db.exec("BEGIN");
    try {
      this.db.prepare("DELETE FROM depositors WHERE market = ?").run(market);
      this.db.prepare("DELETE FROM deposit_cursors WHERE market = ?").run(market);
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** Drops orders and announcements of epochs older than `beforeEpoch` (epoch summaries are kept). */
  prune(market: Hex, beforeEpoch: bigint): void {
    this.flushOrders();
    this.db
      .prepare("DELETE FROM orders WHERE market = ? AND epoch < ? AND source NOT IN ('local', 'api')")
      .run(market, beforeEpoch);
    this.db.prepare("DELETE FROM announcements WHERE market = ? AND epoch < ?").run(market, beforeEpoch);
    // Exclusions stay as long as their order does (this device's orders are never pruned): an old epoch's
    // cut orders that are still stored become exclusions rows, and its epoch_cuts row goes.
    this.db
      .prepare(
        "DELETE FROM exclusions WHERE market = ? AND epoch < ? AND id NOT IN (SELECT id FROM orders WHERE market = ?)",
      )
      .run(market, beforeEpoch, market);
    const old = this.db
      .prepare("SELECT epoch, orders FROM epoch_cuts WHERE market = ? AND epoch < ?")
      .all(market, beforeEpoch) as { epoch: number | bigint; orders: Uint8Array }[];
    if (old.length === 0) return;
    const stored = this.db.prepare("SELECT id FROM orders WHERE market = ? AND epoch = ?");
    const insert = this.db.prepare(
      "INSERT OR REPLACE INTO exclusions (market, epoch, id, trader, side, needed, available, cause) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.db.exec("BEGIN");
    try {
      for (const { epoch, orders } of old) {
        // What is left of the epoch's orders after the delete above: this device's (few, or none).
        const own = new Set((stored.all(market, epoch) as { id: string }[]).map((r) => r.id));
        if (own.size === 0) continue;
        for (const x of decodeCuts(orders)) {
          if (own.has(x.id))
            insert.run(market, epoch, x.id, x.trader, x.side, x.needed, x.available, x.cause);
        }
      }
      this.db.prepare("DELETE FROM epoch_cuts WHERE market = ? AND epoch < ?").run(market, beforeEpoch);
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }
}
