// Interfaces between the testnet launcher (network.ts: chain, node processes, funding, lifecycle) and
// the parts it drives: the simulated devices (devices.ts), the live view (view.ts) and the report
// (report.ts). Amounts are bigint base units inside the process and decimal strings in JSON.
import type { Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";

/** The market as the devices see it. */
export interface MarketInfo {
  readonly id: Hex;
  readonly genesisTimeS: bigint;
  readonly epochLengthS: bigint;
  /** Decimals of the base token (energy: 1 base unit = 1 Wh, so 1000 units = 1 kWh = one token) and the quote (1 unit = 1 µ$). */
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
}

/** One device of the simulation: a wallet, what it is, and which node it talks to. */
export interface DeviceSpec {
  /** Stable name, e.g. "house-03/ev-charger". */
  readonly name: string;
  /** e.g. "washing-machine", "ev-charger", "heat-pump", "solar", "battery", "generator". */
  readonly kind: string;
  readonly privateKey: Hex;
  readonly address: Hex;
  /** Index of the node whose API receives this device's orders. */
  readonly nodeIndex: number;
  /** What the launcher deposits into the market's escrow for this device before genesis. */
  readonly depositBase: bigint;
  readonly depositQuote: bigint;
}

/** An order a device wants to place in an epoch; the launcher signs it with the device's key. */
export interface DeviceOrder {
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
}

/** What devices learn after each epoch (the clearing price is public: every node computes it). */
export interface EpochOutcome {
  readonly epoch: bigint;
  readonly price: bigint | null;
  readonly volume: bigint;
  /** Fills of each device's orders in that epoch, keyed by device name, in the order they were placed. */
  readonly filled: ReadonlyMap<string, readonly bigint[]>;
}

/** A scenario: the device population and its behaviour; deterministic for a given seed. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly devices: readonly DeviceSpec[];
  /**
   * The orders of `device` for `epoch`, given the outcomes of all earlier epochs (newest last).
   * Pure and deterministic: same seed, same history → same orders.
   */
  ordersFor(device: DeviceSpec, epoch: bigint, history: readonly EpochOutcome[]): DeviceOrder[];
  /** Devices adapt: called once per finished epoch, in epoch order. */
  observe(outcome: EpochOutcome): void;
}

export type ScenarioFactory = (opts: {
  readonly seed: string;
  readonly nodes: number;
  readonly market: MarketInfo;
}) => Scenario;

/** Per node, per epoch: what the node reported through its control API. */
export interface NodeEpochView {
  readonly node: number;
  readonly peerId: string;
  readonly phase: string;
  readonly orders: number | null;
  readonly fingerprint: Hex | null;
  readonly resultHash: Hex | null;
  readonly agreed: boolean | null;
}

/** One row of the report and of the live view. */
export interface EpochReport {
  readonly epoch: bigint;
  /** Orders in the epoch (the settled or majority set size). */
  readonly orders: number;
  readonly price: bigint | null;
  readonly volume: bigint;
  readonly welfare: bigint;
  /** Every node's view of the epoch. */
  readonly nodes: readonly NodeEpochView[];
  /** All nodes reported the same fingerprint and result hash (and agree with the chain when settled). */
  readonly agreed: boolean;
  readonly settled: boolean;
  readonly settlementTx: Hex | null;
  /** Index of the node whose wallet submitted the settlement, if it is one of ours. */
  readonly settledBy: number | null;
  readonly gasUsed: bigint | null;
  /** The demand and supply curves of the epoch's orders, for the report's plots. */
  readonly bids: readonly { readonly limitPrice: bigint; readonly quantity: bigint }[];
  readonly asks: readonly { readonly limitPrice: bigint; readonly quantity: bigint }[];
}

export interface TestnetReport {
  readonly nodes: number;
  readonly scenario: string;
  readonly seed: string;
  readonly chainId: bigint;
  readonly contract: Hex;
  readonly market: MarketInfo;
  readonly startedAtMs: number;
  readonly firstSettlementS: number | null;
  readonly epochs: readonly EpochReport[];
}
