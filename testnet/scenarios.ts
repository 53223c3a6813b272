// The testnet's scenarios: the energy market's device populations built from devices.ts, one house per
// node (SCENARIOS); what `--scenario NAME` starts, one market or several, each with its own tokens and
// epoch length (TESTNET_SCENARIOS); and a dry run (simulateScenario) that clears a market's devices
// in-process with the real clearing rule, for tests and for checking a scenario trades before spending a
// chain on it.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { type ClearingResult, clear } from "../clearing/clear.ts";
import type { ClearingOrder } from "../clearing/types.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import { DATA_TEST_TOKENS, ENERGY_TEST_TOKENS, type TestTokenPair } from "../settlement/test-tokens.ts";
import { DATA_UNITS, dataDevices, MIN_ORDER_READINGS } from "./data-devices.ts";
import {
  anyBehaviour,
  battery,
  buildScenario,
  type DevicePlan,
  ENERGY_UNITS,
  evCharger,
  generator,
  heatPump,
  MIN_ORDER_WH,
  solar,
  washingMachine,
} from "./devices.ts";
import { hashLabels } from "./rng.ts";
import type {
  DeviceOrder,
  DeviceSpec,
  EpochOutcome,
  MarketInfo,
  MarketPlan,
  Scenario,
  ScenarioFactory,
  TestnetScenario,
} from "./types.ts";

const pad2 = (i: number) => String(i).padStart(2, "0");

/**
 * "neighbourhood": one house per node. Every house has a heat pump; two in three have rooftop solar;
 * houses alternate between a washing machine and an EV charger (every third has both); every fourth has
 * a battery; and a gas generator serves each group of three houses. About 3.6 devices per node.
 * Daytime solar is cheap and plentiful, nights are served by the generators and batteries, and the
 * loads' limits (0.06 – 0.60 $/kWh) overlap the generators' costs (0.19 – 0.33 $/kWh), so nearly every
 * epoch trades.
 */
export const neighbourhood: ScenarioFactory = ({ seed, nodes, market }) => {
  const plans: DevicePlan[] = [];
  for (let h = 0; h < nodes; h++) {
    const house = `house-${pad2(h)}`;
    plans.push({
      name: `${house}/heat-pump`,
      behaviour: (ds) =>
        anyBehaviour(
          heatPump(ds, {
            needWh: [700n, 1600n],
            comfortLimit: [170n, 260n],
            deficitPremiumPerKwh: [20n, 60n],
          }),
        ),
    });
    if (h % 3 !== 2) {
      plans.push({
        name: `${house}/solar`,
        behaviour: (ds) => anyBehaviour(solar(ds, { peakWh: [3000n, 7000n], marginalCost: [5n, 25n] })),
      });
    }
    if (h % 2 === 0 || h % 3 === 0) {
      plans.push({
        name: `${house}/washing-machine`,
        behaviour: (ds) =>
          anyBehaviour(
            washingMachine(ds, {
              energyWh: [700n, 1500n],
              windowEpochs: [3, 6],
              startLimit: [60n, 140n],
              deadlineLimit: [340n, 450n],
              washPermille: 800,
            }),
          ),
      });
    }
    if (h % 2 === 1 || h % 3 === 0) {
      plans.push({
        name: `${house}/ev-charger`,
        behaviour: (ds) =>
          anyBehaviour(
            evCharger(ds, {
              needWh: [6000n, 24000n],
              powerWh: [3700n, 7400n, 11000n],
              arrivalHour: [16, 21],
              stayHours: [9, 14],
              relaxedLimit: [60n, 130n],
              urgentLimit: [450n, 600n],
              homePermille: 850,
            }),
          ),
      });
    }
    if (h % 4 === 3) {
      plans.push({
        name: `${house}/battery`,
        behaviour: (ds) =>
          anyBehaviour(
            battery(ds, {
              capacityWh: [9000n, 13500n],
              powerWh: [2500n, 5000n],
              buyBelowPercent: [15, 25],
              sellAbovePercent: [15, 25],
            }),
          ),
      });
    }
    if (h % 3 === 2 || h === nodes - 1) {
      plans.push({
        name: `plant-${pad2(Math.floor(h / 3))}/gas-generator`,
        behaviour: (ds) =>
          anyBehaviour(
            generator(ds, {
              capacityWh: [4000n, 9000n],
              marginalCost: [190n, 240n],
              peakingExtra: [40n, 90n],
            }),
          ),
      });
    }
  }
  return buildScenario({
    name: "neighbourhood",
    description:
      "Households trade with each other: heat pumps, washing machines and EV chargers buy when the " +
      "price suits them; rooftop solar, batteries and a gas generator per three houses sell.",
    seed,
    nodes,
    market,
    plans,
  });
};

/**
 * "scarcity": the same kinds of loads, hungrier and more insistent (every house has an EV that arrives
 * early and leaves early, a larger heat pump and a washing machine), against a little solar on one
 * house in three and one small, dear generator per five houses. Demand is several times the supply, so
 * prices sit near the top of the bids and most demand goes unfilled.
 */
export const scarcity: ScenarioFactory = ({ seed, nodes, market }) => {
  const plans: DevicePlan[] = [];
  for (let h = 0; h < nodes; h++) {
    const house = `house-${pad2(h)}`;
    plans.push({
      name: `${house}/heat-pump`,
      behaviour: (ds) =>
        anyBehaviour(
          heatPump(ds, {
            needWh: [2500n, 4000n],
            comfortLimit: [260n, 360n],
            deficitPremiumPerKwh: [40n, 90n],
          }),
        ),
    });
    plans.push({
      name: `${house}/ev-charger`,
      behaviour: (ds) =>
        anyBehaviour(
          evCharger(ds, {
            needWh: [20000n, 40000n],
            powerWh: [7400n, 11000n],
            arrivalHour: [15, 19],
            stayHours: [8, 11],
            relaxedLimit: [250n, 350n],
            urgentLimit: [700n, 900n],
            homePermille: 950,
          }),
        ),
    });
    plans.push({
      name: `${house}/washing-machine`,
      behaviour: (ds) =>
        anyBehaviour(
          washingMachine(ds, {
            energyWh: [900n, 1800n],
            windowEpochs: [2, 4],
            startLimit: [300n, 400n],
            deadlineLimit: [600n, 800n],
            washPermille: 950,
          }),
        ),
    });
    if (h % 3 === 0) {
      plans.push({
        name: `${house}/solar`,
        behaviour: (ds) => anyBehaviour(solar(ds, { peakWh: [1000n, 2000n], marginalCost: [5n, 25n] })),
      });
    }
    if (h % 5 === 0) {
      plans.push({
        name: `plant-${pad2(h / 5)}/gas-generator`,
        behaviour: (ds) =>
          anyBehaviour(
            generator(ds, {
              capacityWh: [2000n, 3500n],
              marginalCost: [280n, 340n],
              peakingExtra: [60n, 120n],
            }),
          ),
      });
    }
  }
  return buildScenario({
    name: "scarcity",
    description:
      "Demand well above supply: every house charges an EV and heats hard, a little solar and one " +
      "small generator per five houses sell; prices sit near the top of the bids.",
    seed,
    nodes,
    market,
    plans,
  });
};

/** The energy market's device populations (each also a one-market testnet scenario below). */
export const SCENARIOS: Readonly<Record<string, ScenarioFactory>> = { neighbourhood, scarcity };
export const DEFAULT_SCENARIO = "neighbourhood";

// ---------------------------------------------------------------------------------------------------
// Markets and testnet scenarios

/** The energy market's tokens (kWh and USD); ENERGY_UNITS are read from them. */
export const ENERGY_TOKENS: TestTokenPair = ENERGY_TEST_TOKENS;

/** The data market's own pair (reading and USDC); DATA_UNITS are read from them. */
export const DATA_TOKENS: TestTokenPair = DATA_TEST_TOKENS;

/** The data market's epochs are this many energy epochs long (one data epoch = as many simulated hours). */
export const DATA_EPOCH_MULTIPLE = 2;

/** An energy market (epochs of `--epoch-seconds`) traded by `devices`. */
export function energyMarket(devices: ScenarioFactory): MarketPlan {
  return {
    name: "energy",
    units: ENERGY_UNITS,
    baseToken: ENERGY_TOKENS.base,
    quoteToken: ENERGY_TOKENS.quote,
    epochMultiple: 1,
    minQuantity: MIN_ORDER_WH,
    devices,
  };
}

/** The data market: readings for dollars, epochs DATA_EPOCH_MULTIPLE × `--epoch-seconds`. */
export const dataMarket: MarketPlan = {
  name: "data",
  units: DATA_UNITS,
  baseToken: DATA_TOKENS.base,
  quoteToken: DATA_TOKENS.quote,
  epochMultiple: DATA_EPOCH_MULTIPLE,
  minQuantity: MIN_ORDER_READINGS,
  devices: dataDevices(DATA_EPOCH_MULTIPLE),
};

/** A one-market testnet scenario: an energy market traded by `devices`. */
export function singleMarket(name: string, description: string, devices: ScenarioFactory): TestnetScenario {
  return { name, description, markets: [energyMarket(devices)] };
}

/** What `testnet up --scenario NAME` can start. */
export const TESTNET_SCENARIOS: Readonly<Record<string, TestnetScenario>> = {
  neighbourhood: singleMarket(
    "neighbourhood",
    "one energy market: households trade with each other",
    neighbourhood,
  ),
  scarcity: singleMarket("scarcity", "one energy market: demand well above supply", scarcity),
  "two-markets": {
    name: "two-markets",
    description:
      "the neighbourhood's energy market, plus a data market (own tokens, 2 × S epochs): meters " +
      "and weather stations sell readings to forecasters, chargers and heat-pump controllers",
    markets: [energyMarket(neighbourhood), dataMarket],
  },
};

// ---------------------------------------------------------------------------------------------------
// Dry run

export interface SimulatedOrder {
  readonly device: DeviceSpec;
  readonly order: DeviceOrder;
  /** A stand-in order id (the real one is the EIP-712 digest, which needs a chain and contract). */
  readonly id: Hex;
}

export interface SimulatedEpoch {
  readonly epoch: bigint;
  readonly orders: readonly SimulatedOrder[];
  readonly result: ClearingResult;
  readonly outcome: EpochOutcome;
}

/**
 * Clears `epochs` epochs of a scenario in-process, feeding each outcome back as history (as the
 * launcher does, with outcomes available at once). Ignores collateral: scenarios deposit far more than
 * they trade.
 */
export function simulateScenario(
  scenario: Scenario,
  opts: { readonly market: MarketInfo; readonly epochs: number; readonly firstEpoch?: bigint },
): SimulatedEpoch[] {
  const history: EpochOutcome[] = [];
  const out: SimulatedEpoch[] = [];
  const first = opts.firstEpoch ?? 0n;
  for (let k = 0; k < opts.epochs; k++) {
    const epoch = first + BigInt(k);
    const orders: SimulatedOrder[] = [];
    scenario.devices.forEach((device, d) => {
      scenario.ordersFor(device, epoch, history).forEach((order, i) => {
        const id = bytesToHex(keccak_256(hashLabels("simulated-order", opts.market.id, epoch, d, i)));
        orders.push({ device, order, id });
      });
    });
    const book: ClearingOrder[] = orders.map((o) => ({ id: o.id, ...o.order }));
    const result = clear(book, { market: opts.market.id, epoch });
    const fillById = new Map(result.fills.map((f) => [f.id, f.quantity]));
    const filled = new Map<string, bigint[]>();
    for (const o of orders) {
      const list = filled.get(o.device.name) ?? [];
      list.push(fillById.get(o.id) ?? 0n);
      filled.set(o.device.name, list);
    }
    const outcome: EpochOutcome = { epoch, price: result.price, volume: result.volume, filled };
    history.push(outcome);
    scenario.observe(outcome);
    out.push({ epoch, orders, result, outcome });
  }
  return out;
}
