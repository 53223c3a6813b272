// Who traded: each device order's fate (filled, rationed, not crossing the price, not covered by escrow),
// recorded by the market driver from the nodes' epoch results, and each device over the run in
// report.json and report.html: energy bought and sold, the average price against its limit, and the
// orders that did not fill and why.
import { describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import type { EpochDetail } from "../../node/api/types.ts";
import { formatPrice } from "../../node/api/units.ts";
import { orderId } from "../../protocol/eip712.ts";
import { epochStartMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import { orderFromJson } from "../../protocol/order.ts";
import { type DriverContext, MarketDriver } from "../../testnet/market-driver.ts";
import type { NodeProcess } from "../../testnet/node-process.ts";
import { renderReportHtml } from "../../testnet/report.ts";
import {
  describeUnfilled,
  deviceOrderOutcomes,
  deviceReports,
  orderFate,
} from "../../testnet/report-devices.ts";
import { parseReportJson, reportToJson } from "../../testnet/report-json.ts";
import type { EpochReport, TestnetReport } from "../../testnet/types.ts";
import { MARKET, scenario, simulate, syntheticReport } from "./testnet-fixtures.ts";

const NODES = 3;
const SEPARATOR = new Uint8Array(32).fill(9);

describe("each order's fate", () => {
  it("filled, rationed at the price, not crossing it, not covered, not accepted", () => {
    const buy = (limitPrice: bigint, quantity = 10n) => ({
      side: "buy" as const,
      quantity,
      limitPrice,
      accepted: true,
    });
    const sell = (limitPrice: bigint, quantity = 10n) => ({
      side: "sell" as const,
      quantity,
      limitPrice,
      accepted: true,
    });
    expect(orderFate(buy(200n), 150n, 10n, undefined, false)).toBe("filled");
    expect(orderFate(buy(150n), 150n, 4n, undefined, false)).toBe("rationed");
    expect(orderFate(buy(150n), 150n, 0n, undefined, false)).toBe("rationed");
    expect(orderFate(buy(100n), 150n, 0n, undefined, false)).toBe("not crossing");
    expect(orderFate(sell(200n), 150n, 0n, undefined, false)).toBe("not crossing");
    expect(orderFate(sell(100n), null, 0n, undefined, false)).toBe("not crossing");
    expect(orderFate(buy(900n), 150n, 0n, "not covered: needed 9000 QUOTE, had 0", false)).toBe(
      "not covered",
    );
    expect(orderFate({ ...buy(900n), accepted: false }, 150n, 0n, undefined, false)).toBe("not accepted");
    // An epoch the run stopped in: no final result, whatever a node computed.
    expect(orderFate(buy(200n), 150n, 10n, undefined, true)).toBe("unfinished");
  });

  it("an unfinished epoch's fills are not counted in a device's totals", () => {
    const row = (epoch: bigint, unfinished: boolean) =>
      ({
        epoch,
        price: 150n,
        ...(unfinished ? { unfinished: true } : {}),
        deviceOrders: [
          {
            device: "heat pump",
            id: `0x${epoch.toString(16).padStart(64, "0")}`,
            side: "buy",
            quantity: 10n,
            limitPrice: 200n,
            filled: 10n,
            fate: unfinished ? "unfinished" : "filled",
          },
        ],
      }) as unknown as EpochReport;
    const [d] = deviceReports([row(0n, false), row(1n, true)], [
      { name: "heat pump", kind: "consumer", address: `0x${"11".repeat(20)}` as Hex },
    ] as never);
    expect(d!.bought).toBe(10n);
    expect(d!.paid).toBe(1500n);
    expect(d!.orders).toBe(2);
    expect(d!.unfilled).toEqual({ unfinished: 1 });
  });

  it("over simulated epochs: fates match the clearing, and the devices' totals balance", () => {
    const s = scenario("neighbourhood", "who-traded", NODES);
    const sim = simulate(s, 8);
    const rows: EpochReport[] = syntheticReport({ epochs: 8, nodes: NODES }).markets[0]!.epochs.map(
      (r, k) => {
        const e = sim[k]!;
        const fills = new Map(e.result.fills.map((f) => [f.id, f.quantity]));
        const deviceOrders = deviceOrderOutcomes(
          e.orders.map((o) => ({ device: o.device.name, id: o.id, ...o.order, accepted: true })),
          { price: e.result.price, fills, excluded: new Map(), unfinished: false },
        );
        return { ...r, price: e.result.price, volume: e.result.volume, deviceOrders };
      },
    );
    let traded = 0n;
    for (const [k, r] of rows.entries()) {
      const price = sim[k]!.result.price;
      for (const o of r.deviceOrders!) {
        if (o.fate === "filled") expect(o.filled).toBe(o.quantity);
        if (o.fate === "not crossing" && price !== null)
          expect(o.side === "buy" ? o.limitPrice < price : o.limitPrice > price).toBe(true);
        if (o.fate === "rationed") expect(o.limitPrice).toBe(price);
      }
      traded += r.volume;
    }
    expect(traded).toBeGreaterThan(0n);
    const devices = deviceReports(rows, s.devices);
    expect(devices.map((d) => d.device)).toEqual(s.devices.map((d) => d.name));
    const sum = (f: (d: (typeof devices)[number]) => bigint) => devices.reduce((a, d) => a + f(d), 0n);
    expect(sum((d) => d.bought)).toBe(traded);
    expect(sum((d) => d.sold)).toBe(traded);
    expect(sum((d) => d.paid)).toBe(sum((d) => d.received));
    // Nobody pays more than its limit on average, nor sells for less.
    for (const d of devices) {
      expect(d.paid).toBeLessThanOrEqual(d.buyLimitValue);
      expect(d.received).toBeGreaterThanOrEqual(d.sellLimitValue);
      const unfilled = Object.values(d.unfilled).reduce((a, n) => a + (n ?? 0), 0);
      expect(unfilled).toBeLessThanOrEqual(d.orders);
    }
  });
});

/**
 * Nodes whose control API keeps the orders it is sent and, asked about the epoch, answers as a settled
 * node: the coverage rule left out the first order received (its escrow did not cover it), the rest
 * cleared with the real clearing.
 */
function settledNodes() {
  const received: Hex[] = [];
  const book: { id: Hex; side: "buy" | "sell"; quantity: bigint; limitPrice: bigint }[] = [];
  const client = {
    submitOrder: async (_market: Hex, json: unknown) => {
      const order = orderFromJson(json);
      const id = orderId(order, SEPARATOR);
      received.push(id);
      book.push({ id, side: order.side, quantity: order.quantity, limitPrice: order.limitPrice });
      return {};
    },
    epoch: async (_market: Hex, epoch: bigint): Promise<Partial<EpochDetail>> => {
      const [excludedId, ...kept] = book.map((o) => o.id);
      const result = clear(
        book.filter((o) => kept.includes(o.id)),
        { market: MARKET.id, epoch },
      );
      return {
        market: MARKET.id,
        epoch: epoch.toString(),
        phase: "settled" as EpochDetail["phase"],
        orders: book.length,
        fingerprint: `0x${"f1".repeat(32)}`,
        resultHash: result.resultHash,
        price: result.price === null ? null : result.price.toString(),
        volume: result.volume.toString(),
        settlement: null,
        agreed: true,
        result: {
          source: "local",
          price: result.price === null ? null : result.price.toString(),
          volume: result.volume.toString(),
          resultHash: result.resultHash,
          fills: result.fills.map((f) => ({ id: f.id, quantity: f.quantity.toString() })),
        },
        orderList: [],
        excluded:
          excludedId === undefined
            ? []
            : [
                {
                  id: excludedId,
                  trader: `0x${"00".repeat(20)}`,
                  side: "buy",
                  asset: "QUOTE",
                  needed: "1",
                  available: "0",
                  cause: "collateral",
                  reason: "not covered: needed 1 QUOTE, had 0",
                },
              ],
      };
    },
  };
  const nodes = Array.from(
    { length: NODES },
    (_, i) =>
      ({
        running: true,
        peerId: `peer-${i}`,
        wallet: `0x${String(i + 1).repeat(40)}`,
        client: () => client,
      }) as unknown as NodeProcess,
  );
  return { nodes, received };
}

describe("the market driver records who traded", () => {
  it("each device order with its fill and fate, from the nodes' result and exclusions", async () => {
    const { nodes, received } = settledNodes();
    let sleeps = 0;
    const ctx: DriverContext = {
      nodes: () => nodes,
      separator: SEPARATOR,
      sleepUntil: async () => {
        sleeps++;
      },
      // One epoch: stop once it is driven (its collect does not depend on stopping: it is final).
      stopping: () => sleeps > 2,
      log: () => {},
      onSettled: () => {},
    };
    const s = scenario("neighbourhood", "driver-who-traded", NODES);
    const driver = new MarketDriver({
      name: "energy",
      info: MARKET,
      base: `0x${"ba".repeat(20)}`,
      quote: `0x${"9a".repeat(20)}`,
      scenario: s,
    });
    await driver.drive(ctx, epochStartMs(MARKET, 3n), epochStartMs(MARKET, 4n));
    const row = driver.rows[0]!;
    expect(row.unfinished).toBeUndefined();
    const orders = row.deviceOrders!;
    expect(orders.map((o) => o.id)).toEqual(received);
    expect(orders[0]).toMatchObject({ fate: "not covered", detail: "not covered: needed 1 QUOTE, had 0" });
    const filled = orders.filter((o) => o.filled > 0n);
    expect(filled.length).toBeGreaterThan(0);
    expect(filled.filter((o) => o.side === "buy").reduce((a, o) => a + o.filled, 0n)).toBe(row.volume);
    const report = driver.report();
    expect(report.devices).toHaveLength(s.devices.length);
    expect(report.devices!.reduce((a, d) => a + d.bought, 0n)).toBe(row.volume);
  });
});

describe("report.json and report.html: who traded", () => {
  function report(): TestnetReport {
    const s = scenario("neighbourhood", "page", NODES);
    const sim = simulate(s, 4);
    const base = syntheticReport({ epochs: 4, nodes: NODES });
    const rows = base.markets[0]!.epochs.map((r, k) => {
      const e = sim[k]!;
      const deviceOrders = deviceOrderOutcomes(
        e.orders.map((o, i) => ({ device: o.device.name, id: o.id, ...o.order, accepted: i !== 0 })),
        {
          price: e.result.price,
          fills: new Map(e.result.fills.map((f) => [f.id, f.quantity])),
          excluded: new Map(),
          unfinished: false,
        },
      );
      return { ...r, price: e.result.price, volume: e.result.volume, deviceOrders };
    });
    const m = base.markets[0]!;
    return { ...base, markets: [{ ...m, epochs: rows, devices: deviceReports(rows, s.devices) }] };
  }

  it("round-trips through report.json with every amount as a decimal string", () => {
    const r = report();
    const json = reportToJson(r);
    const raw = JSON.parse(json) as { markets: { devices: { bought: unknown }[] }[] };
    expect(typeof raw.markets[0]!.devices[0]!.bought).toBe("string");
    expect(parseReportJson(json)).toEqual(r);
  });

  it("a row per device: bought, sold, the average price against its limit, what did not fill and why", () => {
    const r = report();
    const html = renderReportHtml(r);
    expect(html).toContain("<h3>Who traded</h3>");
    const devices = r.markets[0]!.devices!;
    for (const d of devices) expect(html).toContain(`data-device="${d.device}"`);
    const buyer = devices.find((d) => d.bought > 0n)!;
    const row = html.split(`data-device="${buyer.device}"`)[1]!.split("</tr>")[0]!;
    expect(row).toContain(formatPrice(buyer.paid / buyer.bought, MARKET));
    expect(row).toContain(formatPrice(buyer.buyLimitValue / buyer.bought, MARKET));
    expect(row).toContain(describeUnfilled(buyer.unfilled));
    // The orders their nodes refused (the first of each epoch) show as such.
    const refused = devices.reduce((a, d) => a + (d.unfilled["not accepted"] ?? 0), 0);
    expect(refused).toBe(r.markets[0]!.epochs.filter((e) => (e.deviceOrders ?? []).length > 0).length);
    expect(html).toMatch(/[0-9]+ not accepted/);
  });
});
