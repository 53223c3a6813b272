// The store's SQLite schema and its migrations: a new database gets the current schema; an older one is
// migrated in place, one version at a time, each step in a transaction with its version bump.
import type { DatabaseSync } from "node:sqlite";

export const SCHEMA_VERSION = 7;

/** A market's depositors and the next block of its deposit history to read (node/market/funded.ts). */
const DEPOSIT_TABLES = `
CREATE TABLE IF NOT EXISTS depositors (
  market TEXT NOT NULL,
  trader TEXT NOT NULL,
  PRIMARY KEY (market, trader)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deposit_cursors (
  market TEXT PRIMARY KEY,
  next_block INTEGER NOT NULL
) STRICT;
`;

/**
 * The orders the side cap cut from an epoch's clearing, one row per (market, epoch): each order as 53
 * bytes (id 32, trader 20, side 1: 0 buy, 1 sell; store-rows.ts encodeCuts). At 10,000 orders an epoch
 * cuts ~9,900; one exclusions row each was 30–66 ms of a node's CPU at every close and 3.8 MB of
 * database per epoch.
 */
const EPOCH_CUTS_TABLE = `
CREATE TABLE IF NOT EXISTS epoch_cuts (
  market TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  orders BLOB NOT NULL,
  PRIMARY KEY (market, epoch)
) STRICT;
`;

/**
 * Migrations from version n to n + 1, by n: SQL, or a function for a step that depends on what the
 * database has (SCHEMA runs first and creates missing tables in their current form). Each runs once, in a
 * transaction with the version bump.
 */
const MIGRATIONS: Readonly<Record<number, string | ((db: DatabaseSync) => void)>> = {
  1: "ALTER TABLE epochs ADD COLUMN reason TEXT;",
  2: `ALTER TABLE epochs ADD COLUMN batch_hash TEXT;
      ALTER TABLE epochs ADD COLUMN fee_total TEXT;
      ALTER TABLE epochs ADD COLUMN challenges INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE epochs ADD COLUMN we_challenged INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE epochs ADD COLUMN adopted_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE epochs ADD COLUMN finalize_tx TEXT;`,
  // The orders the coverage rule left out of an epoch's clearing, with what they needed and what was left.
  3: `CREATE TABLE IF NOT EXISTS exclusions (
        market TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        id TEXT NOT NULL,
        trader TEXT NOT NULL,
        side TEXT NOT NULL,
        needed TEXT NOT NULL,
        available TEXT NOT NULL,
        PRIMARY KEY (market, epoch, id)
      ) STRICT;`,
  // Why an order was left out: its collateral, its trader's cap of kept orders, or its side's cap.
  // (A database older than 3 had no exclusions table: SCHEMA has just created it with the column.)
  4: (db) => {
    const columns = db.prepare("PRAGMA table_info(exclusions)").all() as { name: unknown }[];
    if (!columns.some((c) => c.name === "cause"))
      db.exec("ALTER TABLE exclusions ADD COLUMN cause TEXT NOT NULL DEFAULT 'collateral';");
  },
  // A market's depositors and the next block of its deposit history to read (node/market/funded.ts): a
  // restart reads on from there instead of from block 0. (SCHEMA has just created both tables.)
  5: DEPOSIT_TABLES,
  // The orders the side cap cut from an epoch, as one row per epoch (SCHEMA has just created the table;
  // side-cap rows written before stay in exclusions and read as before).
  6: EPOCH_CUTS_TABLE,
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  id TEXT PRIMARY KEY,
  market TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  side TEXT NOT NULL,
  quantity TEXT NOT NULL,
  limit_price TEXT NOT NULL,
  nonce TEXT NOT NULL,
  trader TEXT NOT NULL,
  signature TEXT NOT NULL,
  wire BLOB NOT NULL,
  source TEXT NOT NULL,
  received_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS orders_by_epoch ON orders (market, epoch, id);
CREATE INDEX IF NOT EXISTS orders_by_source ON orders (source, market, epoch);
CREATE TABLE IF NOT EXISTS epochs (
  market TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  phase TEXT NOT NULL,
  order_count INTEGER,
  fingerprint TEXT,
  covered_count INTEGER,
  result_hash TEXT,
  price TEXT,
  volume TEXT,
  welfare TEXT,
  result_json TEXT,
  settle_tx TEXT,
  settle_submitter TEXT,
  settle_result_hash TEXT,
  settle_price TEXT,
  settle_volume TEXT,
  gas_used TEXT,
  agreed INTEGER,
  we_submitted INTEGER NOT NULL DEFAULT 0,
  timings_json TEXT,
  updated_ms INTEGER NOT NULL,
  reason TEXT,
  batch_hash TEXT,
  fee_total TEXT,
  challenges INTEGER NOT NULL DEFAULT 0,
  we_challenged INTEGER NOT NULL DEFAULT 0,
  adopted_count INTEGER NOT NULL DEFAULT 0,
  finalize_tx TEXT,
  PRIMARY KEY (market, epoch)
) STRICT;
CREATE TABLE IF NOT EXISTS memberships (
  market TEXT PRIMARY KEY,
  joined INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS announcements (
  market TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  peer TEXT NOT NULL,
  wallet TEXT,
  fingerprint TEXT,
  order_count INTEGER,
  result_hash TEXT,
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (market, epoch, peer)
) STRICT;
CREATE TABLE IF NOT EXISTS exclusions (
  market TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  id TEXT NOT NULL,
  trader TEXT NOT NULL,
  side TEXT NOT NULL,
  needed TEXT NOT NULL,
  available TEXT NOT NULL,
  cause TEXT NOT NULL DEFAULT 'collateral',
  PRIMARY KEY (market, epoch, id)
) STRICT;
${DEPOSIT_TABLES}${EPOCH_CUTS_TABLE}`;

/** Creates the schema if the database is new, or migrates it to SCHEMA_VERSION. */
export function migrate(db: DatabaseSync, path: string): void {
  db.exec(SCHEMA);
  const version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
    | { value: unknown }
    | undefined;
  if (!version) {
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    return;
  }
  let v = Number(version.value);
  if (v > SCHEMA_VERSION || (MIGRATIONS[v] === undefined && v !== SCHEMA_VERSION)) {
    throw new Error(
      `database ${path} has schema version ${String(version.value)}, this node needs ${SCHEMA_VERSION}`,
    );
  }
  for (; v < SCHEMA_VERSION; v++) {
    db.exec("BEGIN");
    try {
      const step = MIGRATIONS[v]!;
      if (typeof step === "string") db.exec(step);
      else step(db);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(v + 1));
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw new Error(
        `database ${path}: migration from schema version ${v} failed: ${(err as Error).message}`,
      );
    }
  }
}
