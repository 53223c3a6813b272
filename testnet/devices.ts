// The simulated devices of the testnet: households' flexible loads (washing machines, EV chargers, heat
// pumps) that buy when the price is low enough, and producers (solar, gas generators) and batteries that
// sell at their marginal cost. scenarios.ts assembles them into populations.
//
// Units (the market has baseDecimals 3 and quoteDecimals 6):
//   - quantity: 1 base unit = 1 Wh, so one whole base token (1000 units) is 1 kWh;
//   - money:    1 quote unit = 1 micro-dollar, one whole quote token is $1;
//   - price:    quote units per base unit = micro-dollars per Wh, i.e. milli-dollars per kWh:
//               0.30 $/kWh = 300 µ$/Wh = limitPrice 300.
// Every amount is a bigint; the only numbers are indices, percentages and per-mille factors.
//
// Simulated time: one epoch is one simulated hour whatever its length in seconds, and epoch 0 starts at
// SIM_START_HOUR of day 0, so that a run of a few dozen epochs sees a sunrise, a midday surplus and an
// evening peak.
//
// Determinism. A device's orders for epoch e are a pure function of (seed, device, e, history): the
// device "knows" what it learnt from the outcomes of epochs <= e - INFORMATION_LAG_EPOCHS and nothing
// newer (see INFORMATION_LAG_EPOCHS for why), and every random choice comes from an Rng stream addressed
// by (seed, purpose, device, epoch). What it learnt is rebuilt by replaying its own decisions over the
// history (it needs the orders it placed in an epoch to read that epoch's fills); the replay is cached
// per device, so each outcome is applied once per device and a call only re-checks the history's
// prefix (by reference: the launcher passes the same outcome objects each time).
import { unitsOfTokens } from "../node/api/units.ts";
import type { Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";
import { addressOfPrivateKey } from "../protocol/signature.ts";
import { ENERGY_TEST_TOKENS } from "../settlement/test-tokens.ts";
import { deriveSecretKey, Rng } from "./rng.ts";
import type { DeviceOrder, DeviceSpec, EpochOutcome, MarketInfo, MarketUnits, Scenario } from "./types.ts";

// ---------------------------------------------------------------------------------------------------
// Units

/** The energy market's units, from its tokens: 1 base unit = 1 Wh (a whole token is 1 kWh), 1 quote unit = 1 µ$. */
export const ENERGY_UNITS: MarketUnits = unitsOfTokens(ENERGY_TEST_TOKENS.base, ENERGY_TEST_TOKENS.quote);

/**
 * Throws unless the market's decimals are the devices' units (by default the energy devices' Wh and µ$):
 * with other decimals every order would still be valid, but each price and quantity would mean something
 * else than the device intended.
 */
export function assertMarketUnits(
  market: Pick<MarketUnits, "baseDecimals" | "quoteDecimals">,
  expected: Pick<MarketUnits, "baseDecimals" | "quoteDecimals"> = ENERGY_UNITS,
): void {
  if (market.baseDecimals !== expected.baseDecimals || market.quoteDecimals !== expected.quoteDecimals) {
    throw new Error(
      `the simulated devices need baseDecimals ${expected.baseDecimals} and quoteDecimals ` +
        `${expected.quoteDecimals}; the market has ${market.baseDecimals} and ${market.quoteDecimals}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Simulation constants

/**
 * The orders of epoch e use what the device learnt from epochs <= e - 2. The launcher sends epoch e's
 * orders early in e, while e - 1 is still being reconciled, cleared and settled, so e - 1's outcome is
 * never known then; ignoring it (and anything newer) even when it happens to be in `history` makes the
 * orders independent of timing, so two runs with the same seed send the same orders.
 */
export const INFORMATION_LAG_EPOCHS = 2n;
/** Simulated hour of day at which epoch 0 starts. */
export const SIM_START_HOUR = 6n;
const HOURS_PER_DAY = 24n;
/** Escrow deposits: far above what any device trades in a few hundred epochs (coverage never bites). */
export const DEVICE_DEPOSIT_BASE_WH = 10n ** 10n; // 10 GWh
export const DEVICE_DEPOSIT_QUOTE_MICROUSD = 10n ** 12n; // $1,000,000
/** Clearing prices the battery's moving average remembers. */
export const MOVING_AVERAGE_EPOCHS = 12;
/** Reference price before any epoch cleared: 0.20 $/kWh. */
export const PRIOR_PRICE_MICROUSD_PER_WH = 200n;
/** Smallest order a device bothers to place. */
/** The smallest energy order, Wh: the energy market's minQuantity, so no device signs an order nodes refuse. */
export const MIN_ORDER_WH = 20n;
/** Highest limit any device uses: 2 $/kWh (a price cap for the simulation). */
const PRICE_CAP_MICROUSD_PER_WH = 2000n;

/** Clear-sky solar output by hour of day, per mille of peak. */
const SUN_PERMILLE_BY_HOUR = [
  0, 0, 0, 0, 0, 0, 40, 150, 320, 500, 670, 800, 870, 850, 760, 620, 450, 270, 110, 20, 0, 0, 0, 0,
] as const;
/** Space-heating need by hour of day, per mille of the coldest hour (nights are colder). */
const HEAT_PERMILLE_BY_HOUR = [
  900, 950, 1000, 1000, 1000, 950, 900, 850, 750, 650, 550, 450, 400, 380, 380, 420, 500, 600, 700, 750, 800,
  820, 850, 880,
] as const;

/** Absolute simulated hour of an epoch (hours since day 0, 00:00). */
export function simHour(epoch: bigint): bigint {
  return SIM_START_HOUR + epoch;
}

export function hourOfDay(epoch: bigint): number {
  return Number(simHour(epoch) % HOURS_PER_DAY);
}

export function dayOf(epoch: bigint): bigint {
  return simHour(epoch) / HOURS_PER_DAY;
}

/** Clear-sky sun per mille for the epoch's hour. */
export function sunPermille(epoch: bigint): bigint {
  return BigInt(SUN_PERMILLE_BY_HOUR[hourOfDay(epoch)] ?? 0);
}

/** The day's cloudiness as the share of clear-sky output that gets through, per mille: shared weather. */
export function cloudPermille(seed: string, day: bigint): bigint {
  return BigInt(Rng.from(seed, "weather/cloud", day).int(350, 1000));
}

/** The day's cold: a factor on heating need, per mille (800 mild .. 1250 cold): shared weather. */
export function coldPermille(seed: string, day: bigint): bigint {
  return BigInt(Rng.from(seed, "weather/cold", day).int(800, 1250));
}

// ---------------------------------------------------------------------------------------------------
// Keys

/** The device's private key: deriveSecretKey(seed, "device", index). */
export function deriveDeviceKey(seed: string, index: number): Hex {
  if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff)
    throw new RangeError(`bad index ${index}`);
  return deriveSecretKey(seed, "device", index);
}

// ---------------------------------------------------------------------------------------------------
// Device behaviours

/** What every device knows about the market: the clearing prices it has learnt, newest last. */
export interface MarketMemory {
  readonly prices: readonly bigint[];
}

const EMPTY_MEMORY: MarketMemory = { prices: [] };

function remember(memory: MarketMemory, price: bigint | null): MarketMemory {
  if (price === null) return memory;
  return { prices: [...memory.prices, price].slice(-MOVING_AVERAGE_EPOCHS) };
}

/** Integer mean of the remembered prices, or the prior before any epoch cleared. */
export function movingAverage(memory: MarketMemory): bigint {
  if (memory.prices.length === 0) return PRIOR_PRICE_MICROUSD_PER_WH;
  let sum = 0n;
  for (const p of memory.prices) sum += p;
  return sum / BigInt(memory.prices.length);
}

/**
 * A device's behaviour as a state machine over its private state S. Both functions are pure: the
 * replay calls them again and again with the same arguments and must get the same answers.
 */
export interface DeviceBehaviour<S> {
  readonly kind: string;
  readonly initial: S;
  readonly depositBase: bigint;
  readonly depositQuote: bigint;
  /** The orders for `epoch`, from the state learnt up to epoch - INFORMATION_LAG_EPOCHS. */
  decide(state: S, epoch: bigint, memory: MarketMemory): DeviceOrder[];
  /** The state after `epoch`'s fills of the orders the device placed then (fills[i] for placed[i]). */
  learn(state: S, epoch: bigint, placed: readonly DeviceOrder[], fills: readonly bigint[]): S;
}

/** Where a device gets its parameters and random streams. */
export interface DeviceSeed {
  readonly seed: string;
  /** Position in the scenario's device list (also the key index). */
  readonly index: number;
}

function order(side: Side, quantity: bigint, limitPrice: bigint): DeviceOrder {
  return { side, quantity, limitPrice: clampPrice(limitPrice) };
}

function clampPrice(p: bigint): bigint {
  if (p < 1n) return 1n;
  return p > PRICE_CAP_MICROUSD_PER_WH ? PRICE_CAP_MICROUSD_PER_WH : p;
}

export function sumFills(placed: readonly DeviceOrder[], fills: readonly bigint[], side: Side): bigint {
  let total = 0n;
  placed.forEach((o, i) => {
    if (o.side === side) total += fills[i] ?? 0n;
  });
  return total;
}

export function sumQuantity(placed: readonly DeviceOrder[], side: Side): bigint {
  let total = 0n;
  for (const o of placed) if (o.side === side) total += o.quantity;
  return total;
}

export function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Floor division for possibly negative numerators (BigInt division truncates toward zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Linear interpolation from `from` to `to` by num/den (0 <= num <= den), in integers. */
export function lerp(from: bigint, to: bigint, num: bigint, den: bigint): bigint {
  if (den <= 0n) return to;
  return from + ((to - from) * num) / den;
}

const LOAD_DEPOSITS = { depositBase: 0n, depositQuote: DEVICE_DEPOSIT_QUOTE_MICROUSD } as const;
const PRODUCER_DEPOSITS = { depositBase: DEVICE_DEPOSIT_BASE_WH, depositQuote: 0n } as const;

// --- washing machine ---------------------------------------------------------------------------------

export interface WashingMachineOptions {
  /** Energy of one wash, Wh. */
  readonly energyWh: readonly [bigint, bigint];
  /** Epochs within which a wash must run once it is loaded. */
  readonly windowEpochs: readonly [number, number];
  /** Limit at the start of the window and at its deadline, µ$/Wh. */
  readonly startLimit: readonly [bigint, bigint];
  readonly deadlineLimit: readonly [bigint, bigint];
  /** Chance (per mille) that a cycle has a wash at all. */
  readonly washPermille: number;
}

interface WashState {
  /** The cycle whose wash the counters below belong to, or null before the first. */
  readonly cycle: bigint | null;
  readonly deliveredWh: bigint;
  /** Bids of this wash that were not filled in full. */
  readonly misses: bigint;
}

/**
 * A washing machine: every cycle of C epochs, a wash of E Wh may be loaded at a random epoch of the
 * cycle and must run within K epochs. It bids the whole remaining energy, starting cheap and ramping to
 * its deadline limit; each unfilled bid adds a bump on top. It bids every other epoch of the window,
 * because with the information lag it only learns an epoch's fill two epochs later, and bidding in
 * between would buy the wash twice.
 */
export function washingMachine(ds: DeviceSeed, opts: WashingMachineOptions): DeviceBehaviour<WashState> {
  const r = Rng.from(ds.seed, "params/washing-machine", ds.index);
  const energyWh = r.bigint(opts.energyWh[0], opts.energyWh[1]);
  const windowEpochs = BigInt(r.int(opts.windowEpochs[0], opts.windowEpochs[1]));
  const cycleEpochs = windowEpochs + BigInt(r.int(6, 18));
  const phase = r.bigint(0n, cycleEpochs - 1n);
  const startLimit = r.bigint(opts.startLimit[0], opts.startLimit[1]);
  const deadlineLimit = r.bigint(opts.deadlineLimit[0], opts.deadlineLimit[1]);
  const missBump = r.bigint(15n, 35n);

  /** The wash open in `epoch`: its cycle, and how many epochs into its window `epoch` is. */
  function washAt(epoch: bigint): { cycle: bigint; age: bigint } | null {
    const cycle = floorDiv(epoch + phase, cycleEpochs);
    const cr = Rng.from(ds.seed, "washing-machine/cycle", ds.index, cycle);
    const loaded = cr.chance(opts.washPermille, 1000);
    const start = cycle * cycleEpochs - phase + cr.bigint(0n, cycleEpochs - windowEpochs);
    const age = epoch - start;
    if (!loaded || age < 0n || age >= windowEpochs) return null;
    return { cycle, age };
  }

  return {
    kind: "washing-machine",
    initial: { cycle: null, deliveredWh: 0n, misses: 0n },
    ...LOAD_DEPOSITS,
    decide(state, epoch) {
      const wash = washAt(epoch);
      if (!wash || wash.age % 2n !== 0n) return [];
      const same = state.cycle === wash.cycle;
      const remaining = energyWh - (same ? state.deliveredWh : 0n);
      if (remaining < MIN_ORDER_WH) return [];
      const ramp = lerp(startLimit, deadlineLimit, wash.age, windowEpochs - 1n);
      return [order("buy", remaining, ramp + (same ? state.misses : 0n) * missBump)];
    },
    learn(state, epoch, placed, fills) {
      const wash = washAt(epoch);
      if (!wash || placed.length === 0) return state;
      const base = state.cycle === wash.cycle ? state : { cycle: wash.cycle, deliveredWh: 0n, misses: 0n };
      const got = sumFills(placed, fills, "buy");
      return {
        cycle: wash.cycle,
        deliveredWh: base.deliveredWh + got,
        misses: base.misses + (got < sumQuantity(placed, "buy") ? 1n : 0n),
      };
    },
  };
}

// --- EV charger --------------------------------------------------------------------------------------

export interface EvChargerOptions {
  /** Energy the car needs by its departure, Wh. */
  readonly needWh: readonly [bigint, bigint];
  /** Charging power: most energy per epoch (one simulated hour), Wh. */
  readonly powerWh: readonly bigint[];
  /** Hour of day the car arrives, and how many hours it stays. */
  readonly arrivalHour: readonly [number, number];
  readonly stayHours: readonly [number, number];
  /** Limit when there is plenty of slack and when charging can no longer wait, µ$/Wh. */
  readonly relaxedLimit: readonly [bigint, bigint];
  readonly urgentLimit: readonly [bigint, bigint];
  /** Chance (per mille) that the car comes home on a given day. */
  readonly homePermille: number;
}

interface EvState {
  /** The session (day of arrival) the delivered energy belongs to. */
  readonly session: bigint | null;
  readonly deliveredWh: bigint;
}

/**
 * An EV charger: on most days a car arrives in the evening needing N Wh by its departure next morning,
 * charging at most P Wh per epoch. It bids min(P, what is still missing) each epoch, at a limit that
 * rises from relaxed to urgent as the slack (the charging time it could still afford to miss) shrinks;
 * an unfilled epoch eats slack, so the next bids are higher. Energy bought in the epoch it does not know
 * about yet is assumed delivered (else every bid would double up).
 */
export function evCharger(ds: DeviceSeed, opts: EvChargerOptions): DeviceBehaviour<EvState> {
  const r = Rng.from(ds.seed, "params/ev-charger", ds.index);
  const powerWh = r.pick(opts.powerWh);
  const relaxedLimit = r.bigint(opts.relaxedLimit[0], opts.relaxedLimit[1]);
  const urgentLimit = r.bigint(opts.urgentLimit[0], opts.urgentLimit[1]);

  /** The session of the car that arrived on `day`, if it came home. */
  function sessionOf(day: bigint): { arrival: bigint; departure: bigint; needWh: bigint } | null {
    if (day < 0n) return null;
    const sr = Rng.from(ds.seed, "ev-charger/session", ds.index, day);
    if (!sr.chance(opts.homePermille, 1000)) return null;
    const arrivalHour = day * HOURS_PER_DAY + BigInt(sr.int(opts.arrivalHour[0], opts.arrivalHour[1]));
    const arrival = arrivalHour - SIM_START_HOUR; // as an epoch
    const departure = arrival + BigInt(sr.int(opts.stayHours[0], opts.stayHours[1])); // exclusive
    return { arrival, departure, needWh: sr.bigint(opts.needWh[0], opts.needWh[1]) };
  }

  /** The session plugged in during `epoch`: it arrived today or yesterday (stays are < 24 h). */
  function sessionAt(epoch: bigint): { day: bigint; departure: bigint; needWh: bigint } | null {
    const today = dayOf(epoch);
    for (const day of [today, today - 1n]) {
      const s = sessionOf(day);
      if (s && epoch >= s.arrival && epoch < s.departure)
        return { day, departure: s.departure, needWh: s.needWh };
    }
    return null;
  }

  return {
    kind: "ev-charger",
    initial: { session: null, deliveredWh: 0n },
    ...LOAD_DEPOSITS,
    decide(state, epoch) {
      const s = sessionAt(epoch);
      if (!s) return [];
      let missing = s.needWh - (state.session === s.day ? state.deliveredWh : 0n);
      // The previous epoch's bid (if the car was plugged in then) is assumed to have filled.
      if (sessionAt(epoch - 1n)?.day === s.day) missing -= min(powerWh, max(missing, 0n));
      if (missing < MIN_ORDER_WH) return [];
      const epochsLeft = s.departure - epoch; // including this one, >= 1
      const capacity = powerWh * epochsLeft;
      const slack = max(capacity - missing, 0n);
      const limit = lerp(urgentLimit, relaxedLimit, slack, capacity);
      return [order("buy", min(powerWh, missing), limit)];
    },
    learn(state, epoch, placed, fills) {
      const s = sessionAt(epoch);
      if (!s || placed.length === 0) return state;
      const before = state.session === s.day ? state.deliveredWh : 0n;
      return { session: s.day, deliveredWh: before + sumFills(placed, fills, "buy") };
    },
  };
}

// --- heat pump ---------------------------------------------------------------------------------------

export interface HeatPumpOptions {
  /** Energy per epoch at the coldest hour of a normal day, Wh. */
  readonly needWh: readonly [bigint, bigint];
  /** Limit of the comfort share; the essential share bids half as much again, µ$/Wh. */
  readonly comfortLimit: readonly [bigint, bigint];
  /** Extra limit per kWh of heat the house is missing, µ$/Wh per kWh. */
  readonly deficitPremiumPerKwh: readonly [bigint, bigint];
}

interface HeatState {
  /** Heat the house misses (unfilled energy), Wh; decays as the house settles. */
  readonly deficitWh: bigint;
}

/** Share of each epoch's need bid at the essential (higher) limit, per cent. */
const HEAT_ESSENTIAL_PERCENT = 60n;
/**
 * Share of the deficit that remains after an epoch, per cent (the rest is comfort lost for good), and the
 * share of it bid again on top of the epoch's need. 50 + 25 < 100, so a house that never gets energy
 * has a deficit that converges (to 4 × its need) instead of growing without bound.
 */
const HEAT_DEFICIT_KEEP_PERCENT = 50n;
const HEAT_DEFICIT_REBID_PERCENT = 25n;

/**
 * A heat pump: a steady need per epoch that follows the hour (cold nights) and the day's weather, bid as
 * two orders: an essential share at a high limit and a comfort share at a lower one. Unfilled heat
 * becomes a deficit that raises both limits (the house is getting cold) and is partly bid again.
 */
export function heatPump(ds: DeviceSeed, opts: HeatPumpOptions): DeviceBehaviour<HeatState> {
  const r = Rng.from(ds.seed, "params/heat-pump", ds.index);
  const needWh = r.bigint(opts.needWh[0], opts.needWh[1]);
  const comfortLimit = r.bigint(opts.comfortLimit[0], opts.comfortLimit[1]);
  const essentialLimit = (comfortLimit * 3n) / 2n;
  const premiumPerKwh = r.bigint(opts.deficitPremiumPerKwh[0], opts.deficitPremiumPerKwh[1]);

  return {
    kind: "heat-pump",
    initial: { deficitWh: 0n },
    ...LOAD_DEPOSITS,
    decide(state, epoch) {
      const hourly = BigInt(HEAT_PERMILLE_BY_HOUR[hourOfDay(epoch)] ?? 1000);
      const need =
        (needWh * hourly * coldPermille(ds.seed, dayOf(epoch))) / 1_000_000n +
        (state.deficitWh * HEAT_DEFICIT_REBID_PERCENT) / 100n;
      const premium = (state.deficitWh * premiumPerKwh) / 1000n;
      const essential = (need * HEAT_ESSENTIAL_PERCENT) / 100n;
      const comfort = need - essential;
      const out: DeviceOrder[] = [];
      if (essential >= MIN_ORDER_WH) out.push(order("buy", essential, essentialLimit + premium));
      if (comfort >= MIN_ORDER_WH) out.push(order("buy", comfort, comfortLimit + premium));
      return out;
    },
    learn(state, _epoch, placed, fills) {
      const unfilled = sumQuantity(placed, "buy") - sumFills(placed, fills, "buy");
      return { deficitWh: (state.deficitWh * HEAT_DEFICIT_KEEP_PERCENT) / 100n + max(unfilled, 0n) };
    },
  };
}

// --- solar -------------------------------------------------------------------------------------------

export interface SolarOptions {
  /** Output at full sun, Wh per epoch. */
  readonly peakWh: readonly [bigint, bigint];
  /** Marginal cost, µ$/Wh (about zero: wear and the inverter). */
  readonly marginalCost: readonly [bigint, bigint];
}

/**
 * Rooftop solar: sells all it produces at its ~zero marginal cost. Output = peak × the hour's sun ×
 * the day's cloud (weather shared by the whole neighbourhood) × a per-panel, per-epoch ±5 %.
 */
export function solar(ds: DeviceSeed, opts: SolarOptions): DeviceBehaviour<null> {
  const r = Rng.from(ds.seed, "params/solar", ds.index);
  const peakWh = r.bigint(opts.peakWh[0], opts.peakWh[1]);
  const cost = r.bigint(opts.marginalCost[0], opts.marginalCost[1]);
  return {
    kind: "solar",
    initial: null,
    ...PRODUCER_DEPOSITS,
    decide(_state, epoch) {
      const jitter = BigInt(Rng.from(ds.seed, "solar/output", ds.index, epoch).int(950, 1050));
      const output =
        (peakWh * sunPermille(epoch) * cloudPermille(ds.seed, dayOf(epoch)) * jitter) / 1_000_000_000n;
      return output >= MIN_ORDER_WH ? [order("sell", output, cost)] : [];
    },
    learn: (state) => state,
  };
}

// --- gas generator -----------------------------------------------------------------------------------

export interface GeneratorOptions {
  /** Output at full load, Wh per epoch. */
  readonly capacityWh: readonly [bigint, bigint];
  /** Marginal cost of the efficient first block, µ$/Wh, and how much more the peaking block costs. */
  readonly marginalCost: readonly [bigint, bigint];
  readonly peakingExtra: readonly [bigint, bigint];
}

/** Share of the generator's capacity in its efficient block, per cent. */
const GENERATOR_BASE_BLOCK_PERCENT = 60n;

/**
 * A gas generator: always available, sells its capacity in two blocks at rising marginal cost (the
 * efficient base block, then a peaking block), with the fuel price wobbling ±5 % per epoch.
 */
export function generator(ds: DeviceSeed, opts: GeneratorOptions): DeviceBehaviour<null> {
  const r = Rng.from(ds.seed, "params/generator", ds.index);
  const capacityWh = r.bigint(opts.capacityWh[0], opts.capacityWh[1]);
  const cost = r.bigint(opts.marginalCost[0], opts.marginalCost[1]);
  const extra = r.bigint(opts.peakingExtra[0], opts.peakingExtra[1]);
  return {
    kind: "generator",
    initial: null,
    ...PRODUCER_DEPOSITS,
    decide(_state, epoch) {
      const fuel = BigInt(Rng.from(ds.seed, "generator/fuel", ds.index, epoch).int(950, 1050));
      const baseBlock = (capacityWh * GENERATOR_BASE_BLOCK_PERCENT) / 100n;
      return [
        order("sell", baseBlock, (cost * fuel) / 1000n),
        order("sell", capacityWh - baseBlock, ((cost + extra) * fuel) / 1000n),
      ];
    },
    learn: (state) => state,
  };
}

// --- battery -----------------------------------------------------------------------------------------

export interface BatteryOptions {
  readonly capacityWh: readonly [bigint, bigint];
  /** Most energy in or out per epoch, Wh. */
  readonly powerWh: readonly [bigint, bigint];
  /** Buy below, and sell above, the moving average by these margins, per cent. */
  readonly buyBelowPercent: readonly [number, number];
  readonly sellAbovePercent: readonly [number, number];
}

interface BatteryState {
  readonly storedWh: bigint;
}

/** Round-trip efficiency: energy stored per energy bought, per cent. */
const BATTERY_EFFICIENCY_PERCENT = 90n;
/** Charge kept in reserve (never sold), per cent of capacity. */
const BATTERY_RESERVE_PERCENT = 10n;

/**
 * A home battery: its reference price is the moving average of the clearing prices it has learnt. It
 * bids to charge below the reference and offers to discharge above it, both in the same epoch (only
 * one of them can fill at a uniform price, since the buy limit is below the sell limit). Each side is
 * sized to half the room (or charge) it has, because the previous epoch's fill is not known yet.
 */
export function battery(ds: DeviceSeed, opts: BatteryOptions): DeviceBehaviour<BatteryState> {
  const r = Rng.from(ds.seed, "params/battery", ds.index);
  const capacityWh = r.bigint(opts.capacityWh[0], opts.capacityWh[1]);
  const powerWh = r.bigint(opts.powerWh[0], opts.powerWh[1]);
  const buyPercent = BigInt(100 - r.int(opts.buyBelowPercent[0], opts.buyBelowPercent[1]));
  const sellPercent = BigInt(100 + r.int(opts.sellAbovePercent[0], opts.sellAbovePercent[1]));
  const reserveWh = (capacityWh * BATTERY_RESERVE_PERCENT) / 100n;
  return {
    kind: "battery",
    initial: { storedWh: capacityWh / 2n },
    depositBase: DEVICE_DEPOSIT_BASE_WH,
    depositQuote: DEVICE_DEPOSIT_QUOTE_MICROUSD,
    decide(state, _epoch, memory) {
      const reference = movingAverage(memory);
      const out: DeviceOrder[] = [];
      const charge = min(powerWh, (capacityWh - state.storedWh) / 2n);
      const discharge = min(powerWh, (state.storedWh - reserveWh) / 2n);
      const buyLimit = (reference * buyPercent) / 100n;
      // +1 keeps the sell strictly above the buy even when the reference is tiny.
      const sellLimit = max((reference * sellPercent) / 100n, buyLimit + 1n);
      if (charge >= MIN_ORDER_WH) out.push(order("buy", charge, buyLimit));
      if (discharge >= MIN_ORDER_WH) out.push(order("sell", discharge, sellLimit));
      return out;
    },
    learn(state, _epoch, placed, fills) {
      const bought = sumFills(placed, fills, "buy");
      const sold = sumFills(placed, fills, "sell");
      const stored = state.storedWh + (bought * BATTERY_EFFICIENCY_PERCENT) / 100n - sold;
      return { storedWh: max(0n, min(capacityWh, stored)) };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Devices → Scenario

/** A device of a population: its name and behaviour; the key, address and node are assigned here. */
export interface DevicePlan {
  readonly name: string;
  readonly behaviour: (ds: DeviceSeed) => DeviceBehaviour<unknown>;
}

/** Erases a behaviour's state type, for lists of mixed devices. */
export function anyBehaviour<S>(b: DeviceBehaviour<S>): DeviceBehaviour<unknown> {
  return b as DeviceBehaviour<unknown>;
}

interface Snapshot {
  /** The outcome this snapshot applied, and its identity for this device (epoch, price, fills). */
  readonly outcome: EpochOutcome;
  readonly key: string;
  readonly epoch: bigint;
  readonly state: unknown;
  readonly memory: MarketMemory;
}

interface SimDevice {
  readonly spec: DeviceSpec;
  readonly behaviour: DeviceBehaviour<unknown>;
  /** snapshots[i] = what the device knows after the first i + 1 outcomes it learnt from. */
  snapshots: Snapshot[];
}

/**
 * Builds a Scenario from a list of device plans: keys from the seed, nodes round-robin, and ordersFor /
 * observe implemented by replaying each device over the history (see the file comment).
 */
export function buildScenario(opts: {
  readonly name: string;
  readonly description: string;
  readonly seed: string;
  readonly nodes: number;
  readonly market: MarketInfo;
  readonly plans: readonly DevicePlan[];
  /** The units the devices think in (default: the energy devices'). */
  readonly units?: Pick<MarketUnits, "baseDecimals" | "quoteDecimals">;
  /** Keys are deriveSecretKey(seed, keyLabel, index) (default "device"): another market, other wallets. */
  readonly keyLabel?: string;
}): Scenario {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1) throw new RangeError(`bad node count ${opts.nodes}`);
  assertMarketUnits(opts.market, opts.units);
  const sims: SimDevice[] = opts.plans.map((plan, index) => {
    const behaviour = plan.behaviour({ seed: opts.seed, index });
    const privateKey =
      opts.keyLabel === undefined
        ? deriveDeviceKey(opts.seed, index)
        : deriveSecretKey(opts.seed, opts.keyLabel, index);
    const spec: DeviceSpec = {
      name: plan.name,
      kind: behaviour.kind,
      privateKey,
      address: addressOfPrivateKey(privateKey),
      nodeIndex: index % opts.nodes,
      depositBase: behaviour.depositBase,
      depositQuote: behaviour.depositQuote,
    };
    return { spec, behaviour, snapshots: [] };
  });
  const byName = new Map<string, SimDevice>();
  for (const s of sims) {
    if (byName.has(s.spec.name)) throw new Error(`duplicate device name ${s.spec.name}`);
    byName.set(s.spec.name, s);
  }
  const observed: EpochOutcome[] = [];

  function find(device: DeviceSpec): SimDevice {
    const sim = byName.get(device.name);
    if (!sim || sim.spec.address !== device.address) throw new Error(`unknown device ${device.name}`);
    return sim;
  }

  return {
    name: opts.name,
    description: opts.description,
    devices: sims.map((s) => s.spec),
    ordersFor(device, epoch, history) {
      const sim = find(device);
      const known = knownOutcomes(history, epoch);
      replay(sim, known);
      const last = sim.snapshots[known.length - 1];
      return sim.behaviour.decide(
        last ? last.state : sim.behaviour.initial,
        epoch,
        last?.memory ?? EMPTY_MEMORY,
      );
    },
    observe(outcome) {
      // Only warms the replay caches: ordersFor reads `history`, never what observe saw, so calling
      // observe or not, early or late, cannot change an order.
      if (observed.some((o) => o.epoch === outcome.epoch)) return;
      observed.push(outcome);
      observed.sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0));
      for (const sim of sims) replay(sim, observed);
    },
  };
}

/** The outcomes a device may use for `epoch`'s orders: epochs <= epoch − lag, ascending, one per epoch. */
function knownOutcomes(history: readonly EpochOutcome[], epoch: bigint): EpochOutcome[] {
  const horizon = epoch - INFORMATION_LAG_EPOCHS;
  const byEpoch = new Map<bigint, EpochOutcome>();
  // First report of an epoch wins, so that a duplicate appended later cannot rewrite the past.
  for (const o of history) if (o.epoch <= horizon && !byEpoch.has(o.epoch)) byEpoch.set(o.epoch, o);
  return [...byEpoch.values()].sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0));
}

function fillsOf(sim: SimDevice, outcome: EpochOutcome): readonly bigint[] {
  return outcome.filled.get(sim.spec.name) ?? outcome.filled.get(sim.spec.address) ?? [];
}

/** The launcher passes the same outcome objects every time: compare references first, values if not. */
function sameOutcome(sim: SimDevice, snap: Snapshot, o: EpochOutcome): boolean {
  return snap.outcome === o || snap.key === outcomeKey(sim, o);
}

function outcomeKey(sim: SimDevice, o: EpochOutcome): string {
  return `${o.epoch}|${o.price ?? "-"}|${fillsOf(sim, o).join(",")}`;
}

/**
 * Brings sim.snapshots in line with `known` (ascending, distinct epochs): keeps the longest prefix that
 * matches, then applies the rest. Applying outcome i re-decides the orders the device placed in that
 * epoch — from the snapshot of outcomes <= epoch − lag, exactly as ordersFor did — to read its fills.
 */
function replay(sim: SimDevice, known: readonly EpochOutcome[]): void {
  const snaps = sim.snapshots;
  let keep = 0;
  while (keep < snaps.length && keep < known.length && sameOutcome(sim, snaps[keep]!, known[keep]!)) keep++;
  // Keep the cache when `known` is a shorter prefix (an earlier epoch's call): later calls reuse it.
  if (keep === known.length) return;
  snaps.length = keep;
  const b = sim.behaviour;
  for (let i = keep; i < known.length; i++) {
    const o = known[i]!;
    // The decision snapshot: the last one whose epoch is <= o.epoch − lag (snapshots ascend by epoch).
    let j = i - 1;
    while (j >= 0 && snaps[j]!.epoch > o.epoch - INFORMATION_LAG_EPOCHS) j--;
    const at = j >= 0 ? snaps[j]! : null;
    const placed = b.decide(at ? at.state : b.initial, o.epoch, at?.memory ?? EMPTY_MEMORY);
    // Fills beyond what an order asked for (or negative) cannot happen on a correct network; clamp so a
    // misreport cannot push a device into a nonsense state.
    const reported = fillsOf(sim, o);
    const fills = placed.map((p, k) => max(0n, min(p.quantity, reported[k] ?? 0n)));
    const prev = i > 0 ? snaps[i - 1]! : null;
    snaps.push({
      outcome: o,
      key: outcomeKey(sim, o),
      epoch: o.epoch,
      state: b.learn(prev ? prev.state : b.initial, o.epoch, placed, fills),
      memory: remember(prev?.memory ?? EMPTY_MEMORY, o.price),
    });
  }
}
