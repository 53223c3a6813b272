// Fault: a crossing dust flood. Measured before the fix: 900 + 900 crossing 1-unit orders gave 1,800
// fills, 30.5 M gas, more than a 30 M block, so the epoch could never settle and every honest order in
// it was lost. Here 3 real node processes on loopback share one anvil. Besides the honest devices (a
// buyer and a seller per node), an attacker runs 160 funded wallets that each sign 4 crossing orders of
// the market's minimum size at prices ahead of every honest order (640 orders, both sides), and 2 funded
// wallets that each sign 300 more — all sent to the nodes' control APIs, as any device would, in two
// epochs of the run. The bounds must hold on chain and in every node:
//   - every epoch ends settled and agreed on every node, the dust epochs included;
//   - each proposal carries at most MAX_BATCH_ORDERS orders and costs < 15 M gas (one transaction);
//   - a wallet's orders past MAX_ORDERS_PER_TRADER_SIDE on a side are refused (TRADER_CAP), so no node
//     stores more;
//   - every honest order a node accepted is in every node's order set of its epoch.
// The honest orders of a dust epoch do not trade: the attacker's 64 better-priced orders per side fill
// the side cap. That is the price of the attack, paid in collateral (README, "What pushing an honest
// order out costs"); the epochs around it trade normally.
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BATCH_ORDERS, MAX_KEPT_PER_SIDE, MAX_ORDERS_PER_TRADER_SIDE } from "../../clearing/limits.ts";
import type { Hex } from "../../protocol/hex.ts";
import { addressOfPrivateKey } from "../../protocol/signature.ts";
import { deriveSecretKey } from "../../testnet/rng.ts";
import type { DeviceOrder, DeviceSpec, ScenarioFactory } from "../../testnet/types.ts";
import { FaultNet } from "./harness.ts";

const NODES = 3;
const EPOCHS = 5;
const EPOCH_SECONDS = 10;
/**
 * Funded dust wallets per side, 4 orders each: 2 of each wallet's are taken (160 buys and 160 sells,
 * 2.5 × the side cap), the other 2 refused (TRADER_CAP).
 */
const DUSTERS_PER_SIDE = 80;
const DUST_ORDERS_PER_WALLET = 4;
/** Two wallets that each sign this many orders in a dust epoch (the per-trader bound refuses most). */
const SPAMMERS = 2;
const SPAM_ORDERS = 300;
/** Attacker prices: ahead of every honest order (honest buys 300 + i, sells 250 + i). */
const DUST_BUY_LIMIT = 400n;
const DUST_SELL_LIMIT = 200n;

/** The epochs (offsets from the first driven one) in which the attacker floods. */
const DUST_OFFSETS = new Set([1n, 3n]);

function dustScenario(minQuantity: () => bigint, first: () => bigint | null): ScenarioFactory {
  return ({ seed, nodes }) => {
    const devices: DeviceSpec[] = [];
    const add = (
      name: string,
      kind: string,
      nodeIndex: number,
      depositBase: bigint,
      depositQuote: bigint,
    ) => {
      const privateKey = deriveSecretKey(seed, name, devices.length);
      devices.push({
        name,
        kind,
        privateKey,
        address: addressOfPrivateKey(privateKey),
        nodeIndex,
        depositBase,
        depositQuote,
      });
    };
    for (let i = 0; i < nodes * 2; i++)
      add(
        `honest-${i}`,
        i % 2 === 0 ? "ev-charger" : "solar",
        Math.floor(i / 2) % nodes,
        10n ** 9n,
        10n ** 12n,
      );
    for (let i = 0; i < 2 * DUSTERS_PER_SIDE; i++)
      add(`dust-${i}`, i % 2 === 0 ? "dust-buyer" : "dust-seller", i % nodes, 10n ** 6n, 10n ** 8n);
    for (let i = 0; i < SPAMMERS; i++) add(`spam-${i}`, "spammer", i % nodes, 10n ** 6n, 10n ** 9n);
    const honestIndex = new Map(devices.map((d, i) => [d.name, BigInt(i)]));
    return {
      name: "dust",
      description: "honest buyers and sellers, and a crossing dust flood in some epochs",
      devices,
      ordersFor: (d, epoch): DeviceOrder[] => {
        const i = honestIndex.get(d.name)!;
        const f = first();
        const dusty = f !== null && DUST_OFFSETS.has(epoch - f);
        const q = minQuantity();
        switch (d.kind) {
          case "ev-charger":
            return [{ side: "buy", quantity: 100n + ((epoch * 7n + i) % 13n), limitPrice: 300n + i }];
          case "solar":
            return [{ side: "sell", quantity: 90n + ((epoch * 3n + i) % 11n), limitPrice: 250n + i }];
          case "dust-buyer":
            return dusty
              ? Array.from({ length: DUST_ORDERS_PER_WALLET }, () => ({
                  side: "buy",
                  quantity: q,
                  limitPrice: DUST_BUY_LIMIT,
                }))
              : [];
          case "dust-seller":
            return dusty
              ? Array.from({ length: DUST_ORDERS_PER_WALLET }, () => ({
                  side: "sell",
                  quantity: q,
                  limitPrice: DUST_SELL_LIMIT,
                }))
              : [];
          default:
            return dusty
              ? Array.from({ length: SPAM_ORDERS }, (_, k) => ({
                  side: k % 2 === 0 ? "buy" : "sell",
                  quantity: q,
                  limitPrice: k % 2 === 0 ? DUST_BUY_LIMIT : DUST_SELL_LIMIT,
                }))
              : [];
        }
      },
      observe: () => {},
    };
  };
}

describe("fault: a crossing dust flood", () => {
  let f: FaultNet;
  let first: bigint | null = null;
  let minQuantity = 1n;
  let report: Awaited<ReturnType<FaultNet["net"]["run"]>>;

  beforeAll(async () => {
    f = await FaultNet.up({
      name: "dust",
      nodes: NODES,
      epochs: EPOCHS,
      epochSeconds: EPOCH_SECONDS,
      scenario: dustScenario(
        () => minQuantity,
        () => first,
      ),
    });
    minQuantity = (await f.net.chain.getMarket(f.market)).minQuantity;
    first = f.nextEpoch();
    report = await f.net.run();
  }, 600_000);

  afterAll(async () => {
    await f?.down();
  }, 60_000);

  const dustEpochs = () => [...DUST_OFFSETS].map((o) => first! + o);
  const drivenEpochs = () => Array.from({ length: EPOCHS }, (_, k) => first! + BigInt(k));

  it("settles every epoch, the dust epochs included, and every node agrees", () => {
    const driven = report.markets[0]!.epochs.map((e) => e.epoch);
    expect(driven.length).toBeGreaterThanOrEqual(EPOCHS);
    for (const e of drivenEpochs()) {
      for (let i = 0; i < NODES; i++) {
        const r = f.epochRecord(i, e);
        expect(r, `node ${i} epoch ${e}`).not.toBeNull();
        expect(r!.phase, `node ${i} epoch ${e}: ${r!.reason}`).toBe("settled");
        expect(r!.agreed, `node ${i} epoch ${e}`).toBe(true);
      }
    }
  });

  it("each dust epoch's proposal fits one transaction: at most MAX_BATCH_ORDERS orders, under 15 M gas", async () => {
    const events = await f.settlementEvents();
    for (const e of dustEpochs()) {
      const standing = await f.net.chain.standingBatch(f.market, e);
      expect(standing, `epoch ${e} settled on chain`).not.toBeNull();
      expect(BigInt(standing!.orders.length)).toBeLessThanOrEqual(MAX_BATCH_ORDERS);
      // The side cap binds: the attacker's 160 orders per side leave exactly 64 in the clearing.
      const proposals = events.filter(
        (ev) => ev.epoch === e && (ev.kind === "Proposed" || ev.kind === "Challenged"),
      );
      for (const ev of proposals) {
        const receipt = await f.net.chain.provider.getTransactionReceipt(ev.txHash);
        expect(receipt!.gasUsed, `epoch ${e} ${ev.kind} gas`).toBeLessThan(15_000_000n);
      }
      // A full batch at the cap: the volume is 64 dust orders a side of minQuantity each.
      const volume = BigInt(f.epochRecord(0, e)!.volume ?? "0");
      expect(volume).toBe(MAX_KEPT_PER_SIDE * minQuantity);
    }
  });

  it("each node tells which orders the caps left out, and why", async () => {
    for (const e of dustEpochs()) {
      const detail = await f.api(0).epoch(f.market, e);
      const excluded = detail.excluded ?? [];
      const causes = new Map<string, number>();
      for (const x of excluded) causes.set(x.cause, (causes.get(x.cause) ?? 0) + 1);
      // The poller's view (?orders=false) carries the same figures as counts, without the list.
      const polled = await f.api(0).epoch(f.market, e, { orders: false });
      expect(polled.excluded).toBeUndefined();
      expect(polled.excludedCounts).toEqual({
        collateral: causes.get("collateral") ?? 0,
        "trader-cap": causes.get("trader-cap") ?? 0,
        "side-cap": causes.get("side-cap") ?? 0,
      });
      // 160 dust orders a side plus the honest ones: all but 64 a side are cut by the side cap.
      const taken = DUSTERS_PER_SIDE * Number(MAX_ORDERS_PER_TRADER_SIDE);
      expect(causes.get("side-cap") ?? 0).toBeGreaterThanOrEqual(2 * (taken - Number(MAX_KEPT_PER_SIDE)));
      // The nodes hold only orders the rule can keep: nothing is over the trader cap.
      expect(causes.get("trader-cap") ?? 0).toBe(0);
      const cut = excluded.find((x) => x.cause === "side-cap")!;
      expect(cut.reason).toMatch(/^outranked: 64 better-priced (buy|sell)s entered the clearing/);
    }
  });

  it("refuses each wallet's orders past MAX_ORDERS_PER_TRADER_SIDE a side; no node stores more", () => {
    const perSide = Number(MAX_ORDERS_PER_TRADER_SIDE);
    let refusedDust = 0;
    let refusedSpam = 0;
    for (const row of report.markets[0]!.epochs) {
      for (const o of row.deviceOrders ?? []) {
        if (o.fate !== "not accepted") continue;
        if (o.device.startsWith("dust-")) refusedDust++;
        if (o.device.startsWith("spam-")) refusedSpam++;
      }
    }
    expect(refusedDust).toBe(DUST_OFFSETS.size * 2 * DUSTERS_PER_SIDE * (DUST_ORDERS_PER_WALLET - perSide));
    expect(refusedSpam).toBe(DUST_OFFSETS.size * SPAMMERS * (SPAM_ORDERS - 2 * perSide));
    for (let i = 0; i < NODES; i++) {
      const db = new DatabaseSync(join(f.net.nodes[i]!.dataDir, "node.db"), { readOnly: true });
      try {
        const rows = db
          .prepare(
            "SELECT trader, epoch, side, COUNT(*) AS n FROM orders WHERE market = ? GROUP BY trader, epoch, side",
          )
          .all(f.market) as { n: number | bigint }[];
        const worst = rows.reduce((m, r) => Math.max(m, Number(r.n)), 0);
        expect(worst, `node ${i}`).toBe(perSide);
      } finally {
        db.close();
      }
    }
  });

  it("every honest order a node accepted is in every node's order set of its epoch", () => {
    const market = report.markets[0]!;
    let accepted = 0;
    let everywhere = 0;
    for (let i = 0; i < NODES; i++) {
      const db = new DatabaseSync(join(f.net.nodes[i]!.dataDir, "node.db"), { readOnly: true });
      try {
        const ids = new Set(
          (db.prepare("SELECT id FROM orders WHERE market = ?").all(f.market) as { id: string }[]).map(
            (r) => r.id,
          ),
        );
        for (const row of market.epochs) {
          for (const o of row.deviceOrders ?? []) {
            if (!o.device.startsWith("honest-") || o.fate === "not accepted") continue;
            accepted++;
            if (ids.has(o.id as Hex)) everywhere++;
          }
        }
      } finally {
        db.close();
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(everywhere / accepted).toBeGreaterThanOrEqual(0.99);
  });
});
