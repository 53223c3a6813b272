// The testnet's scenarios: device populations built from devices.ts, one house per node, and a dry run
// (simulateScenario) that clears a scenario in-process with the real clearing rule, for tests and for
// checking a scenario trades before spending a chain on it.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { type ClearingOrder, type ClearingResult, clear } from "../clearing/clear.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import {
  anyBehaviour,
  battery,
  buildScenario,
  type DevicePlan,
  evCharger,
  generator,
  heatPump,
  solar,
  washingMachine,
} from "./devices.ts";
import { hashLabels } from "./rng.ts";
import type {
  DeviceOrder,
  DeviceSpec,
  EpochOutcome,
  MarketInfo,
  Scenario,
  ScenarioFactory,
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

export const SCENARIOS: Readonly<Record<string, ScenarioFactory>> = { neighbourhood, scarcity };
export const DEFAULT_SCENARIO = "neighbourhood";

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
