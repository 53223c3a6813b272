import { secp256k1 } from "@noble/curves/secp256k1.js";
import { describe, expect, it } from "vitest";
import { formatBase, formatPrice } from "../../node/api/units.ts";
import { hexToBytes } from "../../protocol/hex.ts";
import { addressOfPrivateKey } from "../../protocol/signature.ts";
import {
  DEVICE_DEPOSIT_QUOTE_MICROUSD,
  deriveDeviceKey,
  ENERGY_UNITS,
  INFORMATION_LAG_EPOCHS,
} from "../../testnet/devices.ts";
import { Rng } from "../../testnet/rng.ts";
import { DEFAULT_SCENARIO, SCENARIOS, type SimulatedEpoch } from "../../testnet/scenarios.ts";
import type { DeviceOrder, EpochOutcome } from "../../testnet/types.ts";
import { MARKET, scenario, simulate } from "./testnet-fixtures.ts";

/** Orders of a run as one comparable string per epoch. */
function ordersText(sim: readonly SimulatedEpoch[]): string[] {
  return sim.map(
    (e) =>
      `${e.epoch}:${e.orders.map((o) => `${o.device.name}/${o.order.side}/${o.order.quantity}@${o.order.limitPrice}`).join(",")}`,
  );
}

function sideTotal(orders: readonly { order: DeviceOrder }[], side: "buy" | "sell"): bigint {
  let t = 0n;
  for (const o of orders) if (o.order.side === side) t += o.order.quantity;
  return t;
}

describe("testnet rng", () => {
  it("is xoshiro128** (reference outputs for the state 1, 2, 3, 4)", () => {
    const seed = new Uint8Array(16);
    const view = new DataView(seed.buffer);
    for (const [i, w] of [1, 2, 3, 4].entries()) view.setUint32(4 * i, w, false);
    const r = new Rng(seed);
    expect(Array.from({ length: 4 }, () => r.nextU32())).toEqual([11520, 0, 5927040, 70819200]);
  });

  it("addresses streams by label and stays in range", () => {
    const a = Rng.from("seed", "x", 1, 2n);
    const b = Rng.from("seed", "x", 1, 2n);
    const c = Rng.from("seed", "x", "1", 2n); // same text, different type: a different stream
    const xs = Array.from({ length: 50 }, () => a.nextU32());
    expect(Array.from({ length: 50 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 50 }, () => c.nextU32())).not.toEqual(xs);
    const r = Rng.from("range");
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.int(3, 9);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThanOrEqual(9);
      seen.add(v);
      const w = r.bigint(10n, 10n ** 30n);
      expect(w >= 10n && w <= 10n ** 30n).toBe(true);
    }
    expect(seen.size).toBe(7);
  });
});

describe("testnet devices: keys and nodes", () => {
  it("derives valid, distinct keys deterministically", () => {
    const keys = Array.from({ length: 64 }, (_, i) => deriveDeviceKey("s", i));
    for (const k of keys) expect(secp256k1.utils.isValidSecretKey(hexToBytes(k))).toBe(true);
    expect(new Set(keys).size).toBe(64);
    expect(deriveDeviceKey("s", 7)).toBe(keys[7]);
    expect(deriveDeviceKey("t", 7)).not.toBe(keys[7]);
  });

  for (const name of Object.keys(SCENARIOS)) {
    it(`${name}: addresses match the keys, are distinct, nodes are round-robin, deposits cover the worst case`, () => {
      const nodes = 5;
      const s = scenario(name, "keys", nodes);
      expect(s.name).toBe(name);
      expect(s.devices.length).toBeGreaterThanOrEqual(3 * nodes);
      expect(s.devices.length).toBeLessThanOrEqual(5 * nodes);
      expect(new Set(s.devices.map((d) => d.address)).size).toBe(s.devices.length);
      expect(new Set(s.devices.map((d) => d.name)).size).toBe(s.devices.length);
      s.devices.forEach((d, i) => {
        expect(d.address).toBe(addressOfPrivateKey(d.privateKey));
        expect(d.address).toMatch(/^0x[0-9a-f]{40}$/);
        expect(d.nodeIndex).toBe(i % nodes);
        expect(d.depositBase > 0n || d.depositQuote > 0n).toBe(true);
      });
      // Every node gets devices.
      expect(new Set(s.devices.map((d) => d.nodeIndex)).size).toBe(nodes);
      // The coverage rule needs quantity × limit of quote per buy and quantity of base per sell, summed
      // over the epoch's orders; a whole run's worth must fit (collateral only shrinks when trading).
      const sim = simulate(s, 48);
      const needQuote = new Map<string, bigint>();
      const needBase = new Map<string, bigint>();
      for (const e of sim) {
        for (const o of e.orders) {
          const m = o.order.side === "buy" ? needQuote : needBase;
          const need = o.order.side === "buy" ? o.order.quantity * o.order.limitPrice : o.order.quantity;
          m.set(o.device.name, (m.get(o.device.name) ?? 0n) + need);
        }
      }
      for (const d of s.devices) {
        expect(needQuote.get(d.name) ?? 0n).toBeLessThanOrEqual(d.depositQuote);
        expect(needBase.get(d.name) ?? 0n).toBeLessThanOrEqual(d.depositBase);
      }
    });
  }

  it("has the default scenario, and refuses a market whose units are not the devices' units", () => {
    expect(SCENARIOS[DEFAULT_SCENARIO]).toBeDefined();
    expect(MARKET).toMatchObject(ENERGY_UNITS);
    expect(DEFAULT_SCENARIO).toBe("neighbourhood");
    const factory = SCENARIOS[DEFAULT_SCENARIO]!;
    expect(() => factory({ seed: "s", nodes: 2, market: { ...MARKET, quoteDecimals: 18 } })).toThrow(
      /quoteDecimals 6/,
    );
  });
});

describe("testnet devices: determinism", () => {
  for (const name of Object.keys(SCENARIOS)) {
    it(`${name}: the same seed gives the same devices and the same orders over 30 epochs`, () => {
      const a = scenario(name, "det-1", 4);
      const b = scenario(name, "det-1", 4);
      expect(b.devices).toEqual(a.devices);
      const ra = ordersText(simulate(a, 30));
      const rb = ordersText(simulate(b, 30));
      expect(rb).toEqual(ra);
      expect(ra.join("").length).toBeGreaterThan(1000);
      // A different seed: different keys and different orders.
      const c = scenario(name, "det-2", 4);
      expect(c.devices.map((d) => d.address)).not.toEqual(a.devices.map((d) => d.address));
      expect(ordersText(simulate(c, 30))).not.toEqual(ra);
    });
  }

  it("ordersFor is a pure function of (seed, device, epoch, history): no hidden state, no timing", () => {
    const sim = simulate(scenario("neighbourhood", "pure", 3), 30);
    const history: EpochOutcome[] = sim.map((e) => e.outcome);
    // A fresh scenario that never observed anything, asked out of order, gives the same orders.
    const fresh = scenario("neighbourhood", "pure", 3);
    for (const k of [29, 3, 17, 0, 29, 12]) {
      const e = sim[k]!;
      const got = fresh.devices.flatMap((d) => fresh.ordersFor(d, e.epoch, history.slice(0, k)));
      expect(got).toEqual(e.orders.map((o) => o.order));
      // Outcomes newer than epoch − lag are ignored, so a history that already holds them (or not) and
      // the full history give the same orders.
      const full = fresh.devices.flatMap((d) => fresh.ordersFor(d, e.epoch, history));
      expect(full).toEqual(got);
    }
    // Dropping an old outcome changes what the devices know, hence (here) their orders.
    const epoch = 20n;
    const withAll = fresh.devices.flatMap((d) => fresh.ordersFor(d, epoch, history));
    const holey = history.filter((o) => o.epoch > 12n || o.epoch < 4n);
    const withHoles = fresh.devices.flatMap((d) => fresh.ordersFor(d, epoch, holey));
    expect(withHoles).not.toEqual(withAll);
    // And asking again with the full history restores them (the replay cache is not poisoned).
    expect(fresh.devices.flatMap((d) => fresh.ordersFor(d, epoch, history))).toEqual(withAll);
    expect(INFORMATION_LAG_EPOCHS).toBe(2n);
  });
});

describe("testnet scenarios: the market they make", () => {
  it("neighbourhood trades in most epochs at prices within the traders' limits", () => {
    const sim = simulate(scenario("neighbourhood", "market", 5), 36);
    const traded = sim.filter((e) => e.result.volume > 0n);
    expect(traded.length).toBeGreaterThanOrEqual(Math.ceil(0.8 * sim.length));
    let perNodeMax = 0;
    for (const e of sim) {
      perNodeMax = Math.max(perNodeMax, e.orders.length / 5);
      for (const o of e.orders) {
        expect(o.order.quantity).toBeGreaterThan(0n);
        expect(o.order.limitPrice).toBeGreaterThan(0n);
      }
      if (e.result.price === null) continue;
      const p = e.result.price;
      const fill = new Map(e.result.fills.map((f) => [f.id, f.quantity]));
      for (const o of e.orders) {
        if (!fill.has(o.id)) continue;
        if (o.order.side === "buy") expect(o.order.limitPrice).toBeGreaterThanOrEqual(p);
        else expect(o.order.limitPrice).toBeLessThanOrEqual(p);
      }
      // Prices stay in a plausible band for electricity: 0.001 .. 2 $/kWh.
      expect(p).toBeGreaterThanOrEqual(1n);
      expect(p).toBeLessThanOrEqual(2000n);
    }
    // Moderate order counts: about 3–5 devices per node, 1–2 orders each.
    expect(perNodeMax).toBeLessThanOrEqual(10);
    // Both cheap (solar) and dear (generator) hours happen.
    const prices = traded.map((e) => e.result.price!);
    expect(prices.some((p) => p < 50n)).toBe(true);
    expect(prices.some((p) => p > 150n)).toBe(true);
    // Readable in the report's units.
    expect(formatPrice(300n, MARKET)).toBe("0.3");
    expect(formatBase(1500n, MARKET)).toBe("1.5");
  });

  it("scarcity: demand well above supply, prices near the top of the bids, most demand unfilled", () => {
    const sim = simulate(scenario("scarcity", "market", 5), 36);
    let demand = 0n;
    let supply = 0n;
    let filled = 0n;
    let nearTop = 0;
    for (const e of sim) {
      const d = sideTotal(e.orders, "buy");
      const s = sideTotal(e.orders, "sell");
      demand += d;
      supply += s;
      filled += e.result.volume;
      expect(d).toBeGreaterThan(s);
      expect(e.result.volume).toBeGreaterThan(0n);
      // All supply sells, and the price is within the top bids: at or above the limit of the bid that
      // holds the last unit sold... which is at least the median bid limit.
      expect(e.result.volume).toBe(s);
      const bids = e.orders
        .filter((o) => o.order.side === "buy")
        .map((o) => o.order.limitPrice)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const median = bids[Math.floor(bids.length / 2)]!;
      if (e.result.price! >= median) nearTop++;
    }
    expect(demand).toBeGreaterThan(3n * supply);
    expect(filled * 2n).toBeLessThan(demand);
    expect(nearTop).toBeGreaterThanOrEqual(Math.ceil(0.8 * sim.length));
  });

  it("devices adapt to what they learn: unfilled loads bid higher, the battery follows the prices", () => {
    const sim = simulate(scenario("neighbourhood", "adapt", 4), 30);
    const history = sim.map((e) => e.outcome);
    const fresh = scenario("neighbourhood", "adapt", 4);
    const topLimit = (orders: readonly DeviceOrder[]) => {
      let m = 0n;
      for (const o of orders) if (o.limitPrice > m) m = o.limitPrice;
      return m;
    };
    /** The same history, except that `name` never got anything. */
    const starved = (name: string): EpochOutcome[] =>
      history.map((o) => ({
        ...o,
        filled: new Map([...o.filled].map(([k, v]) => [k, k === name ? v.map(() => 0n) : v])),
      }));

    // Heat pump: a cold house (unfilled heat) bids higher and for more.
    const hp = fresh.devices.find((d) => d.kind === "heat-pump")!;
    const warm = fresh.ordersFor(hp, 30n, history);
    const cold = fresh.ordersFor(hp, 30n, starved(hp.name));
    expect(topLimit(cold)).toBeGreaterThan(topLimit(warm));

    // EV charger: while plugged in, missing energy eats its slack, so its limit never falls and rises
    // somewhere.
    let higher = 0;
    for (const ev of fresh.devices.filter((d) => d.kind === "ev-charger")) {
      const hungry = starved(ev.name);
      for (let e = 12n; e < 30n; e++) {
        const fed = fresh.ordersFor(ev, e, history);
        const unfed = fresh.ordersFor(ev, e, hungry);
        if (fed.length === 0 || unfed.length === 0) continue;
        expect(topLimit(unfed)).toBeGreaterThanOrEqual(topLimit(fed));
        if (topLimit(unfed) > topLimit(fed)) higher++;
      }
    }
    expect(higher).toBeGreaterThan(0);

    // Battery: its limits follow the moving average of the clearing prices it has seen.
    const bat = fresh.devices.find((d) => d.kind === "battery")!;
    const dear = history.map((o) => ({ ...o, price: o.price === null ? null : o.price * 2n }));
    const normal = fresh.ordersFor(bat, 30n, history);
    const doubled = fresh.ordersFor(bat, 30n, dear);
    expect(normal.length).toBeGreaterThan(0);
    expect(doubled.map((o) => o.side)).toEqual(normal.map((o) => o.side));
    doubled.forEach((o, i) => {
      expect(o.limitPrice).toBeGreaterThan(normal[i]!.limitPrice);
    });
  });

  it("each device's quote deposit is the default generous one for loads", () => {
    const s = scenario("neighbourhood", "dep", 2);
    for (const d of s.devices.filter((x) => x.kind !== "solar" && x.kind !== "generator")) {
      expect(d.depositQuote).toBe(DEVICE_DEPOSIT_QUOTE_MICROUSD);
    }
  });
});
