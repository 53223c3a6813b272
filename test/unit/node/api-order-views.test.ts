// What the order views of the control API stand on: the coverage check of an order before it is signed
// (node/api/coverage.ts, against a real store and a stub chain port of two reads), the store's record
// of coverage exclusions and its migration from schema 3, and the display units (node/api/units.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import type { Collateral } from "../../../clearing/coverage.ts";
import { type CoverageInputs, checkCoverage } from "../../../node/api/coverage.ts";
import { amountFormat } from "../../../node/api/units.ts";
import { NodeStore } from "../../../node/store.ts";
import { SCHEMA_VERSION } from "../../../node/store-schema.ts";
import { encodeOrder } from "../../../protocol/codec.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { SignedOrder } from "../../../protocol/order.ts";

const MARKET = `0x${"ab".repeat(32)}` as Hex;
const TRADER = `0x${"11".repeat(20)}` as Hex;
const SIG = `0x${"22".repeat(64)}1b` as Hex;

const dirs: string[] = [];
function tempStore(): { store: NodeStore; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "smartmarket-views-"));
  dirs.push(dir);
  const path = join(dir, "node.db");
  return { store: new NodeStore(path), path };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function put(store: NodeStore, id: string, o: Partial<SignedOrder>): void {
  const order: SignedOrder = {
    market: MARKET,
    epoch: 5n,
    side: "buy",
    quantity: 1n,
    limitPrice: 1n,
    nonce: 0n,
    trader: TRADER,
    signature: SIG,
    ...o,
  };
  store.putOrder(`0x${id.repeat(32)}` as Hex, order, encodeOrder(order), "local", 1);
}

function inputs(store: NodeStore, epoch: bigint, current: bigint, free: Collateral | null): CoverageInputs {
  return {
    market: MARKET,
    trader: TRADER,
    epoch,
    current,
    store,
    chain: {
      collateralOf: async () => ({ base: 7n, quote: 700n }),
      ...(free ? { freeBalance: async () => free } : {}),
    },
  };
}

describe("the coverage check before signing", () => {
  it("one order may need half the escrow; a deposit of 2 × needed covers it; a full side covers nothing", async () => {
    const { store } = tempStore();
    put(store, "03", { side: "sell", quantity: 4n }); // BASE: another side
    put(store, "04", { side: "buy", quantity: 1n, limitPrice: 100n, epoch: 6n }); // another epoch
    const check = await checkCoverage(inputs(store, 5n, 5n, { base: 5n, quote: 500n }), {
      side: "buy",
      quantity: 3n,
      limitPrice: 100n,
    });
    // 300 QUOTE against a share of ⌊500 / 2⌋ = 250: a deposit of 2 × 300 − 500 = 100 covers it.
    expect(check).toMatchObject({
      asset: "QUOTE",
      needed: "300",
      collateral: "500",
      perOrder: "250",
      otherOrders: 0,
      sideFull: false,
      available: "250",
      short: "100",
      covered: false,
      estimate: true,
    });
    expect(check.basis).toContain("estimate");
    // No running total: another buy of the wallet does not take from this one's share.
    put(store, "01", { side: "buy", quantity: 2n, limitPrice: 100n });
    const second = await checkCoverage(inputs(store, 5n, 5n, { base: 5n, quote: 500n }), {
      side: "buy",
      quantity: 2n,
      limitPrice: 100n,
    });
    expect(second).toMatchObject({ otherOrders: 1, available: "250", short: "0", covered: true });
    // Two buys already: a third is never kept, whatever the escrow.
    put(store, "02", { side: "buy", quantity: 1n, limitPrice: 100n });
    const third = await checkCoverage(inputs(store, 5n, 5n, { base: 5n, quote: 500n }), {
      side: "buy",
      quantity: 1n,
      limitPrice: 1n,
    });
    expect(third).toMatchObject({
      otherOrders: 2,
      sideFull: true,
      available: "0",
      short: "0",
      covered: false,
    });
    const sell = await checkCoverage(inputs(store, 5n, 5n, { base: 5n, quote: 500n }), {
      side: "sell",
      quantity: 2n,
      limitPrice: 1n,
    });
    expect(sell).toMatchObject({ asset: "BASE", needed: "2", otherOrders: 1, available: "2", covered: true });
  });

  it("reads collateralOf once the epoch has closed (no estimate); the share rounds down", async () => {
    const { store } = tempStore();
    put(store, "01", { side: "sell", quantity: 7n });
    const check = await checkCoverage(inputs(store, 5n, 6n, { base: 7n, quote: 99n }), {
      side: "sell",
      quantity: 4n,
      limitPrice: 1n,
    });
    expect(check).toMatchObject({
      collateral: "7",
      perOrder: "3",
      available: "3",
      short: "1",
      estimate: false,
    });
    expect(check.basis).toContain("collateralOf(epoch 5)");
  });
});

describe("the store's coverage exclusions", () => {
  it("replaces an epoch's exclusions on each selection and lists orders by epoch and trader", () => {
    const { store } = tempStore();
    put(store, "01", {});
    put(store, "02", { trader: `0x${"33".repeat(20)}` as Hex });
    put(store, "03", { epoch: 7n });
    const x = {
      trader: TRADER,
      side: "buy" as const,
      needed: "10",
      available: "3",
      cause: "collateral" as const,
    };
    store.putExclusions(MARKET, 5n, [
      { id: `0x${"01".repeat(32)}` as Hex, ...x },
      { id: `0x${"02".repeat(32)}` as Hex, ...x },
    ]);
    store.putExclusions(MARKET, 5n, [{ id: `0x${"01".repeat(32)}` as Hex, ...x }]);
    expect(store.exclusions(MARKET, 5n).map((r) => r.id)).toEqual([`0x${"01".repeat(32)}`]);
    expect(store.exclusions(MARKET, 6n)).toEqual([]);
    expect(store.ordersBetween(MARKET, 5n, 7n).map((o) => o.order.epoch)).toEqual([7n, 5n, 5n]);
    expect(store.ordersBetween(MARKET, 5n, 5n, TRADER)).toHaveLength(1);
    store.close();
  });

  it("keeps an epoch's side-cap cut as one row: listed with the other exclusions by id, counted, replaced", () => {
    const { store, path } = tempStore();
    const id = (b: string) => `0x${b.repeat(32)}` as Hex;
    const other = `0x${"Ab".repeat(20)}` as Hex;
    const collateral = {
      id: id("05"),
      trader: TRADER,
      side: "sell" as const,
      needed: "4",
      available: "1",
      cause: "collateral" as const,
    };
    store.putExclusions(
      MARKET,
      5n,
      [collateral],
      [
        { id: id("09"), trader: other, side: "sell" },
        { id: id("02"), trader: TRADER, side: "buy" },
      ],
    );
    expect(store.exclusions(MARKET, 5n)).toEqual([
      { id: id("02"), trader: TRADER, side: "buy", needed: "0", available: "0", cause: "side-cap" },
      collateral,
      {
        id: id("09"),
        trader: other.toLowerCase(),
        side: "sell",
        needed: "0",
        available: "0",
        cause: "side-cap",
      },
    ]);
    expect(store.exclusionCounts(MARKET, 5n)).toEqual({ collateral: 1, "trader-cap": 0, "side-cap": 2 });
    // One row in epoch_cuts, none per cut order in exclusions.
    const db = new DatabaseSync(path);
    expect(db.prepare("SELECT COUNT(*) AS n FROM exclusions").get()).toEqual({ n: 1 });
    expect(db.prepare("SELECT length(orders) AS b FROM epoch_cuts").get()).toEqual({ b: 2 * 53 });
    db.close();
    // A new selection of the epoch replaces both; one without a cut leaves none.
    store.putExclusions(MARKET, 5n, [], [{ id: id("03"), trader: TRADER, side: "sell" }]);
    expect(store.exclusions(MARKET, 5n).map((x) => [x.id, x.cause, x.side])).toEqual([
      [id("03"), "side-cap", "sell"],
    ]);
    store.putExclusions(MARKET, 5n, [collateral]);
    expect(store.exclusions(MARKET, 5n)).toEqual([collateral]);
    expect(store.exclusionCounts(MARKET, 5n)["side-cap"]).toBe(0);
    expect(() =>
      store.putExclusions(MARKET, 6n, [], [{ id: "0x12" as Hex, trader: TRADER, side: "buy" }]),
    ).toThrow(/not 0x-hex/);
    expect(store.exclusions(MARKET, 6n)).toEqual([]);
    store.close();
  });

  it("prunes an old epoch's cut: this device's cut orders keep their reason, the network's go with their orders", () => {
    const { store, path } = tempStore();
    const id = (b: string) => `0x${b.repeat(32)}` as Hex;
    put(store, "01", {}); // this device's ("local"): never pruned
    const network: SignedOrder = {
      market: MARKET,
      epoch: 5n,
      side: "sell",
      quantity: 1n,
      limitPrice: 9n,
      nonce: 1n,
      trader: TRADER,
      signature: SIG,
    };
    store.putOrder(id("02"), network, encodeOrder(network), "gossip", 1);
    store.putExclusions(
      MARKET,
      5n,
      [],
      [
        { id: id("01"), trader: TRADER, side: "buy" },
        { id: id("02"), trader: TRADER, side: "sell" },
      ],
    );
    store.putExclusions(MARKET, 9n, [], [{ id: id("07"), trader: TRADER, side: "buy" }]);
    store.prune(MARKET, 8n);
    expect(store.exclusions(MARKET, 5n).map((x) => [x.id, x.cause])).toEqual([[id("01"), "side-cap"]]);
    expect(store.exclusionCounts(MARKET, 5n)["side-cap"]).toBe(1);
    // An epoch at or after the prune's bound keeps its cut as it was.
    expect(store.exclusions(MARKET, 9n).map((x) => x.id)).toEqual([id("07")]);
    store.close();
    const db = new DatabaseSync(path);
    expect(db.prepare("SELECT epoch FROM epoch_cuts").all()).toEqual([{ epoch: 9 }]);
    db.close();
  });

  it("migrates a schema-6 database: epoch_cuts appears, side-cap rows written before still read", () => {
    const { store, path } = tempStore();
    store.close();
    const db = new DatabaseSync(path);
    db.exec("DROP TABLE epoch_cuts; UPDATE meta SET value = '6' WHERE key = 'schema_version';");
    db.prepare("INSERT INTO exclusions VALUES (?, 3, ?, ?, 'sell', '0', '0', 'side-cap')").run(
      MARKET,
      `0x${"0c".repeat(32)}`,
      TRADER,
    );
    db.close();
    const again = new NodeStore(path);
    expect(again.exclusionCounts(MARKET, 3n)["side-cap"]).toBe(1);
    again.putExclusions(MARKET, 4n, [], [{ id: `0x${"0d".repeat(32)}` as Hex, trader: TRADER, side: "buy" }]);
    expect(again.exclusions(MARKET, 4n).map((x) => x.cause)).toEqual(["side-cap"]);
    again.close();
  });

  it("migrates a schema-4 database: exclusions gain their cause, old rows read as 'collateral'", () => {
    const { store, path } = tempStore();
    store.close();
    const db = new DatabaseSync(path);
    db.exec(`DROP TABLE exclusions;
      CREATE TABLE exclusions (market TEXT NOT NULL, epoch INTEGER NOT NULL, id TEXT NOT NULL, trader TEXT NOT NULL,
        side TEXT NOT NULL, needed TEXT NOT NULL, available TEXT NOT NULL, PRIMARY KEY (market, epoch, id)) STRICT;
      UPDATE meta SET value = '4' WHERE key = 'schema_version';`);
    db.prepare("INSERT INTO exclusions VALUES (?, 3, ?, ?, 'buy', '10', '2')").run(
      MARKET,
      `0x${"0a".repeat(32)}`,
      TRADER,
    );
    db.close();
    const again = new NodeStore(path);
    expect(again.exclusions(MARKET, 3n).map((x) => x.cause)).toEqual(["collateral"]);
    again.putExclusions(MARKET, 4n, [
      {
        id: `0x${"0b".repeat(32)}` as Hex,
        trader: TRADER,
        side: "sell",
        needed: "0",
        available: "0",
        cause: "side-cap",
      },
    ]);
    expect(again.exclusions(MARKET, 4n)[0]!.cause).toBe("side-cap");
    again.close();
  });

  it("migrates a schema-3 database: the exclusions table appears, the data stays", () => {
    const { store, path } = tempStore();
    store.updateEpoch(MARKET, 2n, { phase: "cleared" }, 1);
    store.close();
    const db = new DatabaseSync(path);
    db.exec("DROP TABLE exclusions; UPDATE meta SET value = '3' WHERE key = 'schema_version';");
    db.close();
    const again = new NodeStore(path);
    expect(again.getEpoch(MARKET, 2n)!.phase).toBe("cleared");
    again.putExclusions(MARKET, 2n, [
      {
        id: `0x${"01".repeat(32)}` as Hex,
        trader: TRADER,
        side: "sell",
        needed: "4",
        available: "0",
        cause: "collateral",
      },
    ]);
    expect(again.exclusions(MARKET, 2n)).toHaveLength(1);
    again.close();
    const check = new DatabaseSync(path);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({
      value: String(SCHEMA_VERSION),
    });
    check.close();
    expect(SCHEMA_VERSION).toBe(7);
  });
});

describe("display units", () => {
  const tokens = { base: { symbol: "kWh", decimals: 3 }, quote: { symbol: "USD", decimals: 6 } };
  it("formats exactly in the tokens' units, raw without metadata or with raw", () => {
    const f = amountFormat(tokens);
    expect(f.base(1500n)).toBe("1.5 kWh");
    expect(f.quote("210000")).toBe("0.21 USD");
    // 210 µ$ per Wh = 0.21 $/kWh.
    expect(f.price(210n)).toBe("0.21 USD/kWh");
    expect(f.price(1n)).toBe("0.001 USD/kWh");
    expect(amountFormat(tokens, true).price(210n)).toBe("210");
    expect(amountFormat({ base: tokens.base, quote: null }).base(1500n)).toBe("1500");
    expect(amountFormat(undefined).display).toBe(false);
  });
});
