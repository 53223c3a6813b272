// The data market's devices: weather stations and smart meters sell their readings; forecasting
// services, EV chargers (planning tonight's charge) and heat-pump controllers (planning tomorrow's heat)
// buy them. dataDevices() assembles them into a population, one house per node, like the energy
// scenarios of scenarios.ts, and with the same replay machinery (buildScenario in devices.ts).
//
// Units (the market has baseDecimals 0 and quoteDecimals 6):
//   - quantity: 1 base unit = 1 reading, and a whole base token is one reading too;
//   - money:    1 quote unit = 1 micro-dollar of the data market's own stable-coin (USDC);
//   - price:    quote units per base unit = micro-dollars per reading: 0.0015 $/reading = limitPrice 1500.
// Every amount is a bigint; the only numbers are indices, percentages and per-mille factors.
//
// Simulated time: the data market's epochs are longer than the energy market's, and one of them covers
// `hoursPerEpoch` simulated hours; both markets open at the same genesis, so data epoch d starts at
// simulated hour SIM_START_HOUR + d × hoursPerEpoch and shares the energy market's weather (coldPermille).
//
// Determinism and adaptation work as for the energy devices (see devices.ts): orders are a pure function
// of (seed, device, epoch, what the device learnt up to epoch − INFORMATION_LAG_EPOCHS).

import { unitsOfTokens } from "../node/api/units.ts";
import { DATA_TEST_TOKENS } from "../settlement/test-tokens.ts";
import {
  anyBehaviour,
  buildScenario,
  coldPermille,
  type DeviceBehaviour,
  type DevicePlan,
  type DeviceSeed,
  lerp,
  type MarketMemory,
  max,
  min,
  SIM_START_HOUR,
  sumFills,
  sumQuantity,
} from "./devices.ts";
import { Rng } from "./rng.ts";
import type { DeviceOrder, MarketUnits, ScenarioFactory } from "./types.ts";

/** The data market's units: 1 base unit = 1 reading (decimals 0), 1 quote unit = 1 µ$ (decimals 6). */
export const DATA_UNITS: MarketUnits = unitsOfTokens(DATA_TEST_TOKENS.base, DATA_TEST_TOKENS.quote);

/** Escrow deposits: far above what any device trades in a few hundred epochs (coverage never bites). */
export const DATA_DEPOSIT_READINGS = 10n ** 9n;
export const DATA_DEPOSIT_QUOTE_MICROUSD = 10n ** 12n; // $1,000,000
/** Reference price before any epoch cleared: 0.0015 $/reading. */
export const DATA_PRIOR_PRICE = 1500n;
/** Highest limit any data device uses: 0.02 $/reading. */
const DATA_PRICE_CAP = 20_000n;
/** Smallest order a data device bothers to place, readings. */
/** The smallest data order, readings: the data market's minQuantity. */
export const MIN_ORDER_READINGS = 5n;
const HOURS_PER_DAY = 24n;

const SELLER_DEPOSITS = { depositBase: DATA_DEPOSIT_READINGS, depositQuote: 0n } as const;
const BUYER_DEPOSITS = { depositBase: 0n, depositQuote: DATA_DEPOSIT_QUOTE_MICROUSD } as const;

/** The simulated clock of the data market. */
export interface DataClock {
  /** Simulated hours one data epoch covers (its epoch length in energy epochs), >= 1. */
  readonly hoursPerEpoch: bigint;
}

/** Absolute simulated hour at which data epoch `epoch` starts. */
export function dataHour(clock: DataClock, epoch: bigint): bigint {
  return SIM_START_HOUR + epoch * clock.hoursPerEpoch;
}

function hourOfDay(clock: DataClock, epoch: bigint): number {
  return Number(dataHour(clock, epoch) % HOURS_PER_DAY);
}

function dayOf(clock: DataClock, epoch: bigint): bigint {
  return dataHour(clock, epoch) / HOURS_PER_DAY;
}

function order(side: "buy" | "sell", quantity: bigint, limitPrice: bigint): DeviceOrder {
  const p = limitPrice < 1n ? 1n : limitPrice > DATA_PRICE_CAP ? DATA_PRICE_CAP : limitPrice;
  return { side, quantity, limitPrice: p };
}

/** Integer mean of the remembered clearing prices, or the data market's prior. */
function reference(memory: MarketMemory): bigint {
  if (memory.prices.length === 0) return DATA_PRIOR_PRICE;
  let sum = 0n;
  for (const p of memory.prices) sum += p;
  return sum / BigInt(memory.prices.length);
}

// --- weather station ---------------------------------------------------------------------------------

export interface WeatherStationOptions {
  /** Readings it takes per simulated hour. */
  readonly readingsPerHour: readonly [bigint, bigint];
  /** Its cost per reading (power, upkeep, uplink), µ$. */
  readonly cost: readonly [bigint, bigint];
}

interface MarkupState {
  /** The ask as per mille of cost (1000 = at cost). */
  readonly markupPermille: bigint;
}

/** Markup steps of a seller that adapts its ask, per mille of cost, and its bounds. */
const MARKUP_STEP_PERMILLE = 40n;
const MARKUP_MIN_PERMILLE = 1000n;
const MARKUP_MAX_PERMILLE = 2500n;

/**
 * A weather station: sells every reading of the epoch (its rate, ±10 % per epoch) at a markup on its
 * cost. It adapts modestly: sold out → the next asks are a step dearer; less than half sold → a step
 * cheaper, never below cost.
 */
export function weatherStation(
  ds: DeviceSeed,
  clock: DataClock,
  opts: WeatherStationOptions,
): DeviceBehaviour<MarkupState> {
  const r = Rng.from(ds.seed, "params/weather-station", ds.index);
  const rate = r.bigint(opts.readingsPerHour[0], opts.readingsPerHour[1]);
  const cost = r.bigint(opts.cost[0], opts.cost[1]);
  return {
    kind: "weather-station",
    initial: { markupPermille: 1000n + r.bigint(100n, 400n) },
    ...SELLER_DEPOSITS,
    decide(state, epoch) {
      const jitter = BigInt(Rng.from(ds.seed, "weather-station/readings", ds.index, epoch).int(900, 1100));
      const readings = (rate * clock.hoursPerEpoch * jitter) / 1000n;
      if (readings < MIN_ORDER_READINGS) return [];
      return [order("sell", readings, (cost * state.markupPermille) / 1000n)];
    },
    learn(state, _epoch, placed, fills) {
      const offered = sumQuantity(placed, "sell");
      if (offered === 0n) return state;
      const sold = sumFills(placed, fills, "sell");
      let m = state.markupPermille;
      if (sold === offered) m += MARKUP_STEP_PERMILLE;
      else if (sold * 2n < offered) m -= MARKUP_STEP_PERMILLE;
      return { markupPermille: max(MARKUP_MIN_PERMILLE, min(MARKUP_MAX_PERMILLE, m)) };
    },
  };
}

// --- smart meter -------------------------------------------------------------------------------------

export interface SmartMeterOptions {
  /** Readings per simulated hour while the house is awake (07–22 h) and at night. */
  readonly dayReadingsPerHour: readonly [bigint, bigint];
  readonly nightReadingsPerHour: readonly [bigint, bigint];
  /** Lowest price it sells at (privacy has a price), µ$/reading. */
  readonly floor: readonly [bigint, bigint];
  /** Its ask as a share of the clearing prices it has seen (their moving average), per cent. */
  readonly followPercent: readonly [number, number];
}

/**
 * A household's smart meter: sells the fine-grained consumption readings of the epoch (many while the
 * house is awake, few at night) at a share of the recent clearing prices, never below its floor: its
 * ask follows the market.
 */
export function smartMeter(ds: DeviceSeed, clock: DataClock, opts: SmartMeterOptions): DeviceBehaviour<null> {
  const r = Rng.from(ds.seed, "params/smart-meter", ds.index);
  const day = r.bigint(opts.dayReadingsPerHour[0], opts.dayReadingsPerHour[1]);
  const night = r.bigint(opts.nightReadingsPerHour[0], opts.nightReadingsPerHour[1]);
  const floor = r.bigint(opts.floor[0], opts.floor[1]);
  const follow = BigInt(r.int(opts.followPercent[0], opts.followPercent[1]));
  return {
    kind: "smart-meter",
    initial: null,
    ...SELLER_DEPOSITS,
    decide(_state, epoch, memory) {
      let readings = 0n;
      for (let h = 0n; h < clock.hoursPerEpoch; h++) {
        const hour = Number((dataHour(clock, epoch) + h) % HOURS_PER_DAY);
        readings += hour >= 7 && hour < 22 ? day : night;
      }
      if (readings < MIN_ORDER_READINGS) return [];
      return [order("sell", readings, max(floor, (reference(memory) * follow) / 100n))];
    },
    learn: (state) => state,
  };
}

// --- forecasting service -----------------------------------------------------------------------------

export interface ForecasterOptions {
  /** Readings its models want per simulated hour. */
  readonly readingsPerHour: readonly [bigint, bigint];
  /** Limit of the core share (the model needs it) and of the extra share (it helps), µ$/reading. */
  readonly coreLimit: readonly [bigint, bigint];
  readonly extraLimit: readonly [bigint, bigint];
  /** Extra limit per 100 readings of backlog, µ$/reading. */
  readonly backlogPremium: readonly [bigint, bigint];
}

interface BacklogState {
  /** Readings it wanted and did not get; halves each epoch (stale data loses its worth). */
  readonly backlog: bigint;
}

/** Share of a buyer's wish bid at its higher limit, per cent. */
const CORE_PERCENT = 60n;
/** Share of the backlog that remains after an epoch and the share of it bid again, per cent. */
const BACKLOG_KEEP_PERCENT = 50n;
const BACKLOG_REBID_PERCENT = 25n;

/** A backlog buyer's two orders: the core share at its limit, the rest at the lower one, both + premium. */
function backlogOrders(
  wish: bigint,
  state: BacklogState,
  core: bigint,
  extra: bigint,
  premiumPer100: bigint,
): DeviceOrder[] {
  const need = wish + (state.backlog * BACKLOG_REBID_PERCENT) / 100n;
  const premium = (state.backlog * premiumPer100) / 100n;
  const coreQty = (need * CORE_PERCENT) / 100n;
  const out: DeviceOrder[] = [];
  if (coreQty >= MIN_ORDER_READINGS) out.push(order("buy", coreQty, core + premium));
  if (need - coreQty >= MIN_ORDER_READINGS) out.push(order("buy", need - coreQty, extra + premium));
  return out;
}

function learnBacklog(state: BacklogState, placed: readonly DeviceOrder[], fills: readonly bigint[]) {
  const unfilled = sumQuantity(placed, "buy") - sumFills(placed, fills, "buy");
  return { backlog: (state.backlog * BACKLOG_KEEP_PERCENT) / 100n + max(unfilled, 0n) };
}

/**
 * A forecasting service: its models want a steady stream of readings, bid as a core share at a high
 * limit and an extra share at a lower one. Readings it misses become a backlog that raises both limits
 * and is partly bid again.
 */
export function forecaster(
  ds: DeviceSeed,
  clock: DataClock,
  opts: ForecasterOptions,
): DeviceBehaviour<BacklogState> {
  const r = Rng.from(ds.seed, "params/forecaster", ds.index);
  const rate = r.bigint(opts.readingsPerHour[0], opts.readingsPerHour[1]);
  const core = r.bigint(opts.coreLimit[0], opts.coreLimit[1]);
  const extra = r.bigint(opts.extraLimit[0], opts.extraLimit[1]);
  const premium = r.bigint(opts.backlogPremium[0], opts.backlogPremium[1]);
  return {
    kind: "forecaster",
    initial: { backlog: 0n },
    ...BUYER_DEPOSITS,
    decide(state, epoch) {
      const jitter = BigInt(Rng.from(ds.seed, "forecaster/wish", ds.index, epoch).int(900, 1100));
      return backlogOrders((rate * clock.hoursPerEpoch * jitter) / 1000n, state, core, extra, premium);
    },
    learn: (state, _epoch, placed, fills) => learnBacklog(state, placed, fills),
  };
}

// --- heat-pump controller ----------------------------------------------------------------------------

export interface HeatPumpControllerOptions {
  /** Weather readings per simulated hour on a normal day; colder days want more. */
  readonly readingsPerHour: readonly [bigint, bigint];
  readonly coreLimit: readonly [bigint, bigint];
  readonly extraLimit: readonly [bigint, bigint];
  readonly backlogPremium: readonly [bigint, bigint];
}

/**
 * A heat-pump controller: buys local weather readings to plan its heating, more on cold days (the energy
 * market's weather), as a core and an extra share like the forecaster, with the same backlog mechanics.
 */
export function heatPumpController(
  ds: DeviceSeed,
  clock: DataClock,
  opts: HeatPumpControllerOptions,
): DeviceBehaviour<BacklogState> {
  const r = Rng.from(ds.seed, "params/heat-pump-controller", ds.index);
  const rate = r.bigint(opts.readingsPerHour[0], opts.readingsPerHour[1]);
  const core = r.bigint(opts.coreLimit[0], opts.coreLimit[1]);
  const extra = r.bigint(opts.extraLimit[0], opts.extraLimit[1]);
  const premium = r.bigint(opts.backlogPremium[0], opts.backlogPremium[1]);
  return {
    kind: "heat-pump-controller",
    initial: { backlog: 0n },
    ...BUYER_DEPOSITS,
    decide(state, epoch) {
      const cold = coldPermille(ds.seed, dayOf(clock, epoch));
      return backlogOrders((rate * clock.hoursPerEpoch * cold) / 1000n, state, core, extra, premium);
    },
    learn: (state, _epoch, placed, fills) => learnBacklog(state, placed, fills),
  };
}

// --- EV charger --------------------------------------------------------------------------------------

export interface EvPlannerOptions {
  /** Readings (local forecasts, grid signals) it wants per evening epoch. */
  readonly readingsPerEpoch: readonly [bigint, bigint];
  /** Hours of the evening in which it plans the night's charge: [from, to). */
  readonly planningHours: readonly [number, number];
  /** Limit with nothing missed so far tonight, and the most it pays when it keeps missing, µ$/reading. */
  readonly relaxedLimit: readonly [bigint, bigint];
  readonly urgentLimit: readonly [bigint, bigint];
  /** Chance (per mille) that the car is home on a given evening. */
  readonly homePermille: number;
}

interface EvPlannerState {
  /** The evening (day) the counters belong to, or null before the first. */
  readonly day: bigint | null;
  /** Readings it bid for and did not get that evening. */
  readonly missed: bigint;
  readonly wanted: bigint;
}

/**
 * An EV charger planning tonight's charge: on evenings the car is home it buys readings in each
 * planning epoch, at a limit that rises from relaxed towards urgent with the share of tonight's readings
 * it has missed so far.
 */
export function evPlanner(
  ds: DeviceSeed,
  clock: DataClock,
  opts: EvPlannerOptions,
): DeviceBehaviour<EvPlannerState> {
  const r = Rng.from(ds.seed, "params/ev-planner", ds.index);
  const want = r.bigint(opts.readingsPerEpoch[0], opts.readingsPerEpoch[1]);
  const relaxed = r.bigint(opts.relaxedLimit[0], opts.relaxedLimit[1]);
  const urgent = r.bigint(opts.urgentLimit[0], opts.urgentLimit[1]);

  /** The evening `epoch` plans for, if the car is home and the epoch starts in the planning hours. */
  function eveningAt(epoch: bigint): bigint | null {
    const hour = hourOfDay(clock, epoch);
    if (hour < opts.planningHours[0] || hour >= opts.planningHours[1]) return null;
    const day = dayOf(clock, epoch);
    return Rng.from(ds.seed, "ev-planner/home", ds.index, day).chance(opts.homePermille, 1000) ? day : null;
  }

  return {
    kind: "ev-charger",
    initial: { day: null, missed: 0n, wanted: 0n },
    ...BUYER_DEPOSITS,
    decide(state, epoch) {
      const day = eveningAt(epoch);
      if (day === null) return [];
      const same = state.day === day && state.wanted > 0n;
      const limit = same ? lerp(relaxed, urgent, state.missed, state.wanted) : relaxed;
      return [order("buy", want, limit)];
    },
    learn(state, epoch, placed, fills) {
      const day = eveningAt(epoch);
      if (day === null || placed.length === 0) return state;
      const base = state.day === day ? state : { day, missed: 0n, wanted: 0n };
      const wanted = sumQuantity(placed, "buy");
      return {
        day,
        missed: base.missed + wanted - sumFills(placed, fills, "buy"),
        wanted: base.wanted + wanted,
      };
    },
  };
}

// --- population --------------------------------------------------------------------------------------

const pad2 = (i: number) => String(i).padStart(2, "0");

/**
 * The data market's population, one house per node: every house has a smart meter that sells and a
 * heat-pump controller that buys; every other house has a weather station (even) or an EV charger (odd);
 * a forecasting service per three houses buys the most. Sellers' asks (0.0003 – 0.0023 $/reading: costs
 * and floors with their markup, or a share of recent prices) sit below most buyers' limits (0.0009 –
 * 0.0040 $/reading, more with a backlog), and both sides are present every epoch, so nearly every epoch
 * trades. `hoursPerEpoch`: simulated hours per data epoch.
 */
export function dataDevices(hoursPerEpoch: number): ScenarioFactory {
  if (!Number.isInteger(hoursPerEpoch) || hoursPerEpoch < 1)
    throw new RangeError(`bad hoursPerEpoch ${hoursPerEpoch}`);
  const clock: DataClock = { hoursPerEpoch: BigInt(hoursPerEpoch) };
  return ({ seed, nodes, market }) => {
    const plans: DevicePlan[] = [];
    for (let h = 0; h < nodes; h++) {
      const house = `house-${pad2(h)}`;
      plans.push({
        name: `${house}/smart-meter`,
        behaviour: (ds) =>
          anyBehaviour(
            smartMeter(ds, clock, {
              dayReadingsPerHour: [20n, 45n],
              nightReadingsPerHour: [4n, 10n],
              floor: [300n, 700n],
              followPercent: [75, 95],
            }),
          ),
      });
      if (h % 2 === 0) {
        plans.push({
          name: `${house}/weather-station`,
          behaviour: (ds) =>
            anyBehaviour(weatherStation(ds, clock, { readingsPerHour: [30n, 80n], cost: [400n, 900n] })),
        });
      } else {
        plans.push({
          name: `${house}/ev-charger`,
          behaviour: (ds) =>
            anyBehaviour(
              evPlanner(ds, clock, {
                readingsPerEpoch: [30n, 80n],
                planningHours: [15, 24],
                relaxedLimit: [900n, 1600n],
                urgentLimit: [2500n, 4000n],
                homePermille: 850,
              }),
            ),
        });
      }
      plans.push({
        name: `${house}/heat-pump-controller`,
        behaviour: (ds) =>
          anyBehaviour(
            heatPumpController(ds, clock, {
              readingsPerHour: [10n, 25n],
              coreLimit: [1400n, 2600n],
              extraLimit: [900n, 1400n],
              backlogPremium: [30n, 80n],
            }),
          ),
      });
      if (h % 3 === 0) {
        plans.push({
          name: `forecaster-${pad2(h / 3)}`,
          behaviour: (ds) =>
            anyBehaviour(
              forecaster(ds, clock, {
                readingsPerHour: [60n, 120n],
                coreLimit: [2500n, 4000n],
                extraLimit: [1200n, 2000n],
                backlogPremium: [20n, 60n],
              }),
            ),
        });
      }
    }
    return buildScenario({
      name: "data",
      description:
        "Readings for sale: smart meters and weather stations sell; forecasting services, EV chargers " +
        "and heat-pump controllers buy them to plan.",
      seed,
      nodes,
      market,
      plans,
      units: DATA_UNITS,
      keyLabel: "data-device",
    });
  };
}
