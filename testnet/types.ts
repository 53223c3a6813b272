// Interfaces between the testnet launcher (network.ts: chain, node processes, funding, lifecycle; and
// market-driver.ts: each market's epochs) and the parts it drives: the simulated devices (devices.ts,
// data-devices.ts), the live view (view.ts) and the report (report.ts). Amounts are bigint base units
// inside the process and decimal strings in JSON.
import type { UnitDecimals, UnitLabels } from "../node/api/units.ts";
import type { Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";
import type { TestTokenSpec } from "../settlement/client.ts";

/**
 * How a market's amounts read: the decimals of its tokens and the names of its units (the tokens'
 * symbols), from the one display-unit layer (node/api/units.ts unitsOfTokens). Energy: 3 and 6 decimals,
 * "kWh", "USD", "USD/kWh"; data: 0 and 6, "reading", "USDC", "USDC/reading".
 */
export interface MarketUnits extends UnitDecimals, UnitLabels {}

/** The market as the devices, the view and the report see it. */
export interface MarketInfo extends MarketUnits {
  readonly id: Hex;
  readonly genesisTimeS: bigint;
  readonly epochLengthS: bigint;
}

/** One device of the simulation: a wallet, what it is, and which node it talks to. */
export interface DeviceSpec {
  /** Stable name, e.g. "house-03/ev-charger"; unique within its market. */
  readonly name: string;
  /** e.g. "washing-machine", "ev-charger", "heat-pump", "solar", "battery", "generator", "weather-station". */
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

/** The devices of one market and their behaviour; deterministic for a given seed. */
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

/** One market of a testnet scenario: its own token pair, its own epoch length, its own devices. */
export interface MarketPlan {
  /** Short name shown in the view, the report and the summary: "energy", "data". */
  readonly name: string;
  readonly units: MarketUnits;
  /** The TestTokens deployed for it; their decimals must be the units' decimals. */
  readonly baseToken: TestTokenSpec;
  readonly quoteToken: TestTokenSpec;
  /** Its epoch length as a multiple of `--epoch-seconds` (the primary, first market: 1). */
  readonly epochMultiple: number;
  /** The market's minQuantity (base units): the smallest order its devices place, and the contract admits. */
  readonly minQuantity: bigint;
  readonly devices: ScenarioFactory;
}

/** What `--scenario NAME` starts: one or more markets, every node serving all of them. */
export interface TestnetScenario {
  readonly name: string;
  readonly description: string;
  /** The first is the primary market: `--epochs K` counts its epochs. */
  readonly markets: readonly MarketPlan[];
}

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

/** One row of the report and of the live view: one epoch of one market. */
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
  /** With `--adversary`, on the primary market's rows: what the attacker did and what became of it. */
  readonly attack?: EpochAttack;
  /**
   * true: the run stopped (Ctrl-C) before every node had a final record of the epoch. Its numbers are what
   * the nodes knew then; it is neither agreed nor "no trade", and `orders` counts the orders sent.
   */
  readonly unfinished?: boolean;
  /** How many orders the devices sent to the nodes in this epoch (accepted by their node's API). */
  readonly ordersSent?: number;
  /** Each device's orders of the epoch and what became of each (who traded, and why an order did not fill). */
  readonly deviceOrders?: readonly DeviceOrderOutcome[];
  /** On chain: how many challenges replaced a standing result of the epoch (0: the first proposal stood). */
  readonly challenges?: number;
  /** The wallet whose transaction made the epoch's result stand (null: nothing settled). */
  readonly submitter?: Hex | null;
}

/**
 * What became of one device order: "filled" (all of it), "rationed" (at the clearing price, partly or not
 * at all filled: the other side was short), "not crossing" (its limit is on the wrong side of the price, or
 * nothing traded), "not covered" (the device's escrow did not cover it: left out of clearing), "over
 * trader cap" (its wallet already had MAX_ORDERS_PER_TRADER_SIDE orders of smaller id on that side), "outranked" (the
 * side cap: MAX_KEPT_PER_SIDE better-priced orders of its side were cleared), "not accepted" (its node
 * refused it), "unfinished" (the run stopped before the epoch was final).
 */
export type OrderFateReason =
  | "filled"
  | "rationed"
  | "not crossing"
  | "not covered"
  | "over trader cap"
  | "outranked"
  | "not accepted"
  | "unfinished";

export interface DeviceOrderOutcome {
  /** The device's name (DeviceSpec.name). */
  readonly device: string;
  readonly id: Hex;
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  /** Base units filled. */
  readonly filled: bigint;
  readonly fate: OrderFateReason;
  /** Left out of clearing ("not covered", "over trader cap", "outranked"): the node's words; else absent. */
  readonly detail?: string;
}

/** One device over the run, in one market: what it bought and sold, at what prices, and what did not fill. */
export interface DeviceReport {
  readonly device: string;
  readonly kind: string;
  readonly address: Hex;
  /** Base units bought and sold. */
  readonly bought: bigint;
  readonly sold: bigint;
  /** Quote units paid for what it bought and received for what it sold (fill × clearing price). */
  readonly paid: bigint;
  readonly received: bigint;
  /** Σ fill × its own limit price, per side: the average limit is this ÷ bought (or sold). */
  readonly buyLimitValue: bigint;
  readonly sellLimitValue: bigint;
  /** Orders placed, and how many did not fill completely, by reason. */
  readonly orders: number;
  readonly unfilled: Readonly<Partial<Record<OrderFateReason, number>>>;
}

/** The attacks `--adversary MODE` runs (testnet/adversary/): one extra process that uses only the chain's ABI and a node's control API. */
export type AdversaryMode = "censor" | "skim" | "copy";

/**
 * One epoch of the primary market under attack: the attacker's submission, the challenge that replaced
 * it, the bond paid, and the final result, read from the chain's settlement events, the attacker's
 * journal and the nodes' control APIs.
 */
export interface EpochAttack {
  readonly mode: AdversaryMode;
  /** The attacker sent a transaction against this epoch: a proposal (censor, skim) or a copy (copy). */
  readonly attacked: boolean;
  /** Its transaction (the first one, when it copied several); null: none. */
  readonly tx: Hex | null;
  /** How many transactions it sent against the epoch (copy: one per honest call copied). */
  readonly txs: number;
  /**
   * What became of its submission, in a few words: "stood" (its result stood until challenged or final),
   * "reverted NotCommitted", "not sent: ..." (e.g. nothing trades without the orders it leaves out).
   */
  readonly outcome: string;
  /** copy: the honest transaction it copied, and the index of the node that sent it (null: not ours). */
  readonly copiedTx: Hex | null;
  readonly copiedFrom: number | null;
  /** The result hash of the attacker's proposal, when it stood. */
  readonly resultHash: Hex | null;
  /** The challenge that replaced the attacker's standing result, its sender, and that sender's node index. */
  readonly challengeTx: Hex | null;
  readonly challenger: Hex | null;
  readonly challengerNode: number | null;
  /** Wei of the attacker's bond that went to that challenger (0 when nothing of the attacker's was replaced). */
  readonly bondPaidWei: bigint;
  /** Whether any challenge replaced a standing result of the epoch. */
  readonly challenged: boolean;
  /** The final result on chain (the epoch's last Proposed or Challenged event); nulls when nothing was proposed. */
  readonly finalTx: Hex | null;
  readonly finalResultHash: Hex | null;
  readonly finalSubmitter: Hex | null;
  /** The final submitter's node index; null when it is not one of the nodes (e.g. the attacker). */
  readonly finalNode: number | null;
  /** Whether the final result is the attacker's own. */
  readonly finalByAttacker: boolean;
  /**
   * Whether the final on-chain result hash equals the honest nodes' local result hash (every node that
   * reported one, through its control API); with nothing on chain, whether every node found no trade.
   */
  readonly finalMatchesHonest: boolean;
}

/** The attacker's holdings at one moment, summed over its wallets. */
export interface AdversaryBalance {
  /** Wei in its wallets. */
  readonly eth: bigint;
  /** Wei of bonds it can claim (claimBonds) but has not. */
  readonly bonds: bigint;
  /** Base and quote units of the primary market: in its wallets plus its escrow (free and locked). */
  readonly base: bigint;
  readonly quote: bigint;
}

/** The attacker of a run: its wallets, and what it held when the run started and when it ended. */
export interface AdversaryReport {
  readonly mode: AdversaryMode;
  /** Its wallets; the first sends its transactions. */
  readonly addresses: readonly Hex[];
  /** After the launcher funded it, before its first attack. */
  readonly start: AdversaryBalance;
  /** After the run's last epoch was final (null if it could not be read). */
  readonly end: AdversaryBalance | null;
  /** Fees paid to the attacker by finalize() during the run (quote units). */
  readonly feesEarned: bigint;
}

/** One market's part of the report: what it is and its epochs, oldest first. */
export interface MarketReport {
  readonly market: MarketInfo;
  /** The market's short name ("energy", "data"). */
  readonly name: string;
  readonly epochs: readonly EpochReport[];
  /** Seconds from the launcher's start to this market's first settlement (null: none; absent in old reports). */
  readonly firstSettlementS?: number | null;
  /** Who traded: each device of the market over the run (absent in reports written before it existed). */
  readonly devices?: readonly DeviceReport[];
}

export interface TestnetReport {
  readonly nodes: number;
  readonly scenario: string;
  readonly seed: string;
  readonly chainId: bigint;
  readonly contract: Hex;
  readonly startedAtMs: number;
  /** Seconds from the launcher's start to the first settlement in any market. */
  readonly firstSettlementS: number | null;
  /** Every market of the run, the primary first. */
  readonly markets: readonly MarketReport[];
  /** With `--adversary`: the attacker and its balance before and after. */
  readonly adversary?: AdversaryReport;
}

/** Where a market's current epoch is, for the live view's progress line. */
export interface CurrentEpoch {
  readonly epoch: bigint;
  /** 0..1 within the epoch. */
  readonly progress: number;
  /** Orders the devices sent so far in this epoch. */
  readonly orders: number;
}

/** What the launcher tells the live view about one market, about 4 times a second. */
export interface MarketProgress {
  readonly market: Hex;
  /** The market's final rows so far (cumulative; the view prints each epoch once). */
  readonly rows: readonly EpochReport[];
  /** Its current epoch; null when it has none (before genesis, or after the run). */
  readonly current: CurrentEpoch | null;
}
