import { describe, expect, it } from "vitest";
import { formatBase, formatPrice } from "../../node/api/units.ts";
import { addressOfPrivateKey } from "../../protocol/signature.ts";
import { DATA_PRIOR_PRICE, DATA_UNITS } from "../../testnet/data-devices.ts";
import { INFORMATION_LAG_EPOCHS } from "../../testnet/devices.ts";
import {
  DATA_EPOCH_MULTIPLE,
  DATA_TOKENS,
  dataMarket,
  ENERGY_TOKENS,
  SCENARIOS,
  type SimulatedEpoch,
  TESTNET_SCENARIOS,
} from "../../testnet/scenarios.ts";
import type { DeviceOrder, DeviceSpec, EpochOutcome, Scenario } from "../../testnet/types.ts";
import { DATA_MARKET, dataScenario, MARKET, scenario, simulateData } from "./testnet-fixtures.ts";

/** Orders of a run as one comparable string per epoch. */
function ordersText(sim: readonly SimulatedEpoch[]): string[] {
  return sim.map(
    (e) =>
      `${e.epoch}:${e.orders.map((o) => `${o.device.name}/${o.order.side}/${o.order.quantity}@${o.order.limitPrice}`).join(",")}`,
  );
}

function topLimit(orders: readonly DeviceOrder[]): bigint {
  let m = 0n;
  for (const o of orders) if (o.limitPrice > m) m = o.limitPrice;
  return m;
}

/** The same history, except that `name`'s orders filled completely (`all`) or not at all. */
function rewrite(
  history: readonly EpochOutcome[],
  s: Scenario,
  dev: DeviceSpec,
  all: boolean,
  upTo: bigint,
): EpochOutcome[] {
  return history.map((o) => {
    if (o.epoch > upTo) return o;
    const filled = new Map(o.filled);
    const placed = s.ordersFor(dev, o.epoch, history);
    filled.set(
      dev.name,
      placed.map((p) => (all ? p.quantity : 0n)),
    );
    return { ...o, filled };
  });
}

describe("testnet data market: devices and keys", () => {
  it("has its own wallets (distinct from the energy devices'), nodes round-robin, deposits that cover a run", () => {
    const nodes = 5;
    const s = dataScenario("keys", nodes);
    expect(s.name).toBe("data");
    expect(s.devices.length).toBeGreaterThanOrEqual(3 * nodes);
    expect(s.devices.length).toBeLessThanOrEqual(4 * nodes);
    expect(new Set(s.devices.map((d) => d.address)).size).toBe(s.devices.length);
    expect(new Set(s.devices.map((d) => d.name)).size).toBe(s.devices.length);
    const energy = scenario("neighbourhood", "keys", nodes);
    const energyAddresses = new Set(energy.devices.map((d) => d.address));
    s.devices.forEach((d, i) => {
      expect(d.address).toBe(addressOfPrivateKey(d.privateKey));
      expect(energyAddresses.has(d.address)).toBe(false);
      expect(d.nodeIndex).toBe(i % nodes);
      expect(d.depositBase > 0n || d.depositQuote > 0n).toBe(true);
    });
    const kinds = new Set(s.devices.map((d) => d.kind));
    for (const k of ["weather-station", "smart-meter", "forecaster", "ev-charger", "heat-pump-controller"])
      expect(kinds.has(k), k).toBe(true);
    // The coverage rule: quantity × limit of quote per buy and quantity of base per sell; a whole run's
    // worth must fit in the deposit.
    const needQuote = new Map<string, bigint>();
    const needBase = new Map<string, bigint>();
    for (const e of simulateData(s, 48)) {
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

  it("refuses a market whose units are not readings and micro-dollars", () => {
    expect(() => dataMarket.devices({ seed: "s", nodes: 2, market: MARKET })).toThrow(/baseDecimals 0/);
    expect(() => dataMarket.devices({ seed: "s", nodes: 2, market: DATA_MARKET })).not.toThrow();
  });
});

describe("testnet data market: determinism", () => {
  it("the same seed gives the same devices and the same orders over 30 epochs; another seed does not", () => {
    const a = dataScenario("det-1", 4);
    const b = dataScenario("det-1", 4);
    expect(b.devices).toEqual(a.devices);
    const ra = ordersText(simulateData(a, 30));
    expect(ordersText(simulateData(b, 30))).toEqual(ra);
    expect(ra.join("").length).toBeGreaterThan(1000);
    const c = dataScenario("det-2", 4);
    expect(c.devices.map((d) => d.address)).not.toEqual(a.devices.map((d) => d.address));
    expect(ordersText(simulateData(c, 30))).not.toEqual(ra);
  });

  it("ordersFor is a pure function of (seed, device, epoch, history)", () => {
    const sim = simulateData(dataScenario("pure", 3), 24);
    const history = sim.map((e) => e.outcome);
    const fresh = dataScenario("pure", 3);
    for (const k of [23, 2, 11, 0, 23, 7]) {
      const e = sim[k]!;
      const got = fresh.devices.flatMap((d) => fresh.ordersFor(d, e.epoch, history.slice(0, k)));
      expect(got).toEqual(e.orders.map((o) => o.order));
      expect(fresh.devices.flatMap((d) => fresh.ordersFor(d, e.epoch, history))).toEqual(got);
    }
    expect(INFORMATION_LAG_EPOCHS).toBe(2n);
  });
});

describe("testnet data market: the market it makes", () => {
  it("trades in most epochs, at prices within the traders' limits and a plausible band", () => {
    for (const nodes of [1, 3, 5]) {
      const sim = simulateData(dataScenario("market", nodes), 36);
      const traded = sim.filter((e) => e.result.volume > 0n);
      expect(traded.length, `${nodes} nodes`).toBeGreaterThanOrEqual(Math.ceil(0.8 * sim.length));
      for (const e of sim) {
        // Moderate order counts: at most 4 devices per node, 1–2 orders each.
        expect(e.orders.length).toBeLessThanOrEqual(8 * nodes);
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
        // 0.0001 .. 0.02 $/reading.
        expect(p).toBeGreaterThanOrEqual(100n);
        expect(p).toBeLessThanOrEqual(20_000n);
      }
    }
    // Readable in the report's units: whole readings, dollars per reading.
    expect(formatPrice(DATA_PRIOR_PRICE, DATA_MARKET)).toBe("0.0015");
    expect(formatBase(420n, DATA_MARKET)).toBe("420");
  });

  it("devices adapt modestly: starved buyers bid higher, sellers' asks follow their sales and the prices", () => {
    const s = dataScenario("adapt", 4);
    const history = simulateData(s, 24).map((e) => e.outcome);
    const fresh = dataScenario("adapt", 4);
    const at = 24n;
    const byKind = (kind: string) => fresh.devices.filter((d) => d.kind === kind);

    // Forecasters and heat-pump controllers: a backlog of missed readings raises their limits (and
    // quantities), but by a bounded premium, not a runaway.
    for (const kind of ["forecaster", "heat-pump-controller"]) {
      for (const dev of byKind(kind)) {
        const fed = fresh.ordersFor(dev, at, rewrite(history, fresh, dev, true, at));
        const starved = fresh.ordersFor(dev, at, rewrite(history, fresh, dev, false, at));
        expect(topLimit(starved), `${dev.name}`).toBeGreaterThan(topLimit(fed));
        expect(topLimit(starved)).toBeLessThan(4n * topLimit(fed));
      }
    }

    // Weather stations: sold out every epoch → a dearer ask than when they sold nothing.
    for (const dev of byKind("weather-station")) {
      const soldOut = fresh.ordersFor(dev, at, rewrite(history, fresh, dev, true, at));
      const unsold = fresh.ordersFor(dev, at, rewrite(history, fresh, dev, false, at));
      expect(soldOut[0]!.limitPrice).toBeGreaterThan(unsold[0]!.limitPrice);
    }

    // Smart meters: their asks follow the clearing prices they have seen.
    const dear = history.map((o) => ({ ...o, price: o.price === null ? null : o.price * 3n }));
    for (const dev of byKind("smart-meter")) {
      const normal = fresh.ordersFor(dev, at, history);
      const higher = fresh.ordersFor(dev, at, dear);
      expect(normal).toHaveLength(1);
      expect(higher[0]!.limitPrice).toBeGreaterThan(normal[0]!.limitPrice);
    }

    // EV chargers: in an evening where they missed readings, the next bids are higher.
    let higher = 0;
    for (const dev of byKind("ev-charger")) {
      const hungry = rewrite(history, fresh, dev, false, 1000n);
      for (let e = 2n; e < at; e++) {
        const fed = fresh.ordersFor(dev, e, rewrite(history, fresh, dev, true, 1000n));
        const unfed = fresh.ordersFor(dev, e, hungry);
        if (fed.length === 0) continue;
        expect(topLimit(unfed)).toBeGreaterThanOrEqual(topLimit(fed));
        if (topLimit(unfed) > topLimit(fed)) higher++;
      }
    }
    expect(higher).toBeGreaterThan(0);
  });
});

describe("testnet scenarios: markets", () => {
  it("two-markets: the neighbourhood's energy market and the data market, each with its own tokens and epochs", () => {
    const two = TESTNET_SCENARIOS["two-markets"]!;
    expect(two.markets.map((m) => m.name)).toEqual(["energy", "data"]);
    const [energy, data] = two.markets;
    expect(energy!.epochMultiple).toBe(1);
    expect(Number.isInteger(data!.epochMultiple)).toBe(true);
    expect(data!.epochMultiple).toBeGreaterThanOrEqual(2);
    expect(data!.epochMultiple).toBe(DATA_EPOCH_MULTIPLE);
    // Its own token pair, with the decimals its units say.
    expect(energy!.baseToken).toEqual(ENERGY_TOKENS.base);
    expect(data!.baseToken).toEqual(DATA_TOKENS.base);
    expect(data!.baseToken.symbol).toBe("reading");
    expect(data!.quoteToken.symbol).toBe("USDC");
    expect(new Set(two.markets.flatMap((m) => [m.baseToken.symbol, m.quoteToken.symbol])).size).toBe(4);
    for (const m of two.markets) {
      expect(m.baseToken.decimals).toBe(m.units.baseDecimals);
      expect(m.quoteToken.decimals).toBe(m.units.quoteDecimals);
    }
    expect(data!.units).toEqual(DATA_UNITS);
    expect(data!.units.priceLabel).toBe("USDC/reading");
    // The energy market's devices are the neighbourhood's.
    const a = energy!.devices({ seed: "s", nodes: 3, market: MARKET });
    expect(a.devices).toEqual(SCENARIOS.neighbourhood!({ seed: "s", nodes: 3, market: MARKET }).devices);
    // The one-market scenarios stay one market.
    expect(TESTNET_SCENARIOS.neighbourhood!.markets).toHaveLength(1);
    expect(TESTNET_SCENARIOS.scarcity!.markets).toHaveLength(1);
  });
});
