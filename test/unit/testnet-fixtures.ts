// Shared fixtures for the testnet tests: the energy and the data market, quiet simulations, and
// synthetic TestnetReports (one market or both) built from simulated scenarios (real curves and clearing
// results; made-up nodes, hashes and gas).
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { ENERGY_UNITS } from "../../testnet/devices.ts";
import { hashLabels } from "../../testnet/rng.ts";
import {
  DATA_EPOCH_MULTIPLE,
  dataMarket,
  SCENARIOS,
  type SimulatedEpoch,
  simulateScenario,
} from "../../testnet/scenarios.ts";
import type {
  AdversaryMode,
  EpochAttack,
  EpochReport,
  MarketInfo,
  MarketReport,
  NodeEpochView,
  Scenario,
  TestnetReport,
} from "../../testnet/types.ts";

export const MARKET: MarketInfo = {
  id: `0x${"5a".repeat(32)}`,
  genesisTimeS: 1_800_000_000n,
  epochLengthS: 5n,
  ...ENERGY_UNITS,
};

/** The data market of the two-markets scenario: same genesis, epochs DATA_EPOCH_MULTIPLE × as long. */
export const DATA_MARKET: MarketInfo = {
  id: `0x${"d4".repeat(32)}`,
  genesisTimeS: MARKET.genesisTimeS,
  epochLengthS: MARKET.epochLengthS * BigInt(DATA_EPOCH_MULTIPLE),
  ...dataMarket.units,
};

/** The data market's devices for `nodes` nodes. */
export function dataScenario(seed: string, nodes: number): Scenario {
  return dataMarket.devices({ seed, nodes, market: DATA_MARKET });
}

/** `epochs` epochs of the data market's `s` cleared in-process from epoch 0. */
export function simulateData(s: Scenario, epochs: number): SimulatedEpoch[] {
  return simulateScenario(s, { market: DATA_MARKET, epochs });
}

export function scenario(name: string, seed: string, nodes: number): Scenario {
  const factory = SCENARIOS[name];
  if (!factory) throw new Error(`no scenario ${name}`);
  return factory({ seed, nodes, market: MARKET });
}

/** `epochs` epochs of `s` cleared in-process from epoch 0, outcomes fed back as history. */
export function simulate(s: Scenario, epochs: number): SimulatedEpoch[] {
  return simulateScenario(s, { market: MARKET, epochs });
}

export function fakeHash(...labels: (string | number | bigint)[]): Hex {
  return bytesToHex(keccak_256(hashLabels(...labels)));
}

/**
 * Report rows from simulated epochs: every node agrees except node 2 in epoch 3 (a different result
 * hash) and node 1 in epoch 5 (no result); epoch 4 is unsettled; the settling node rotates.
 */
function syntheticRows(sim: readonly SimulatedEpoch[], nodes: number): EpochReport[] {
  return sim.map((e) => {
    const n = Number(e.epoch);
    const views: NodeEpochView[] = Array.from({ length: nodes }, (_, i) => {
      const silent = n === 5 && i === 1;
      const diverged = n === 3 && i === 2;
      return {
        node: i,
        peerId: `12D3KooW${fakeHash("peer", i).slice(2, 46)}`,
        phase: silent ? "unknown" : "settled",
        orders: silent ? null : e.orders.length,
        fingerprint: silent ? null : fakeHash("fingerprint", e.epoch),
        resultHash: silent ? null : diverged ? fakeHash("other", e.epoch) : e.result.resultHash,
        agreed: silent ? null : !diverged,
      };
    });
    const traded = e.result.volume > 0n;
    const settled = traded && n !== 4;
    return {
      epoch: e.epoch,
      orders: e.orders.length,
      price: e.result.price,
      volume: e.result.volume,
      welfare: e.result.welfare,
      nodes: views,
      agreed: n !== 3 && n !== 5,
      settled,
      settlementTx: settled ? fakeHash("tx", e.epoch) : null,
      settledBy: settled ? n % nodes : null,
      gasUsed: settled ? 60_000n + BigInt(e.result.fills.length) * 11_000n : null,
      bids: e.orders.filter((o) => o.order.side === "buy").map((o) => ({ ...pick(o.order) })),
      asks: e.orders.filter((o) => o.order.side === "sell").map((o) => ({ ...pick(o.order) })),
    };
  });
}

/**
 * A TestnetReport from `epochs` simulated epochs of the neighbourhood's energy market (see syntheticRows
 * for the disagreements in it); with `twoMarkets`, the data market too, over the same wall time
 * (`epochs` / DATA_EPOCH_MULTIPLE of its epochs, rounded up).
 */
export function syntheticReport(
  opts: { epochs?: number; nodes?: number; seed?: string; twoMarkets?: boolean } = {},
): TestnetReport {
  const nodes = opts.nodes ?? 3;
  const seed = opts.seed ?? "report-fixture";
  const epochs = opts.epochs ?? 12;
  const markets: MarketReport[] = [
    {
      market: MARKET,
      name: "energy",
      epochs: syntheticRows(simulate(scenario("neighbourhood", seed, nodes), epochs), nodes),
    },
  ];
  if (opts.twoMarkets) {
    const dataEpochs = Math.ceil(epochs / DATA_EPOCH_MULTIPLE);
    markets.push({
      market: DATA_MARKET,
      name: "data",
      epochs: syntheticRows(simulateData(dataScenario(seed, nodes), dataEpochs), nodes),
    });
  }
  return {
    nodes,
    scenario: opts.twoMarkets ? "two-markets" : "neighbourhood",
    seed,
    chainId: 31337n,
    contract: `0x${"c0".repeat(20)}`,
    startedAtMs: 1_800_000_000_000,
    firstSettlementS: 9.4,
    markets,
  };
}

/** The primary market's epochs of a report. */
export function epochsOf(report: TestnetReport, market = 0): readonly EpochReport[] {
  return report.markets[market]!.epochs;
}

function pick(o: { limitPrice: bigint; quantity: bigint }): { limitPrice: bigint; quantity: bigint } {
  return { limitPrice: o.limitPrice, quantity: o.quantity };
}

/**
 * A report of a run under `--adversary mode`: `syntheticReport`'s rows, each with an attack. censor and
 * skim: the attacker's proposal stood and was replaced by node (epoch mod nodes)'s challenge, except epoch 2
 * (nothing sent: no trade without the orders it leaves out) and epoch 3 (its result stood and is final, ≠
 * honest). copy: a copy of the proposer's transaction that reverted NotCommitted, two copies in epoch 1.
 */
export function syntheticAttackReport(
  mode: AdversaryMode,
  opts: { epochs?: number; nodes?: number } = {},
): TestnetReport {
  const base = syntheticReport({ epochs: opts.epochs ?? 6, nodes: opts.nodes ?? 3 });
  const nodes = base.nodes;
  const attacker: Hex = `0x${"ad".repeat(20)}`;
  const nodeWallet = (i: number): Hex => `0x${String(i).repeat(40)}` as Hex;
  const rows = base.markets[0]!.epochs.map((r): EpochReport => {
    const n = Number(r.epoch);
    const node = n % nodes;
    const honestHash = r.nodes.find((v) => v.resultHash !== null)?.resultHash ?? null;
    if (mode === "copy") {
      const attack: EpochAttack = {
        mode,
        attacked: true,
        tx: fakeHash("copy", n),
        txs: n === 1 ? 2 : 1,
        outcome: n === 1 ? "2 reverted NotCommitted" : "reverted NotCommitted",
        copiedTx: fakeHash("tx", n),
        copiedFrom: node,
        resultHash: null,
        challengeTx: null,
        challenger: null,
        challengerNode: null,
        bondPaidWei: 0n,
        challenged: false,
        finalTx: fakeHash("tx", n),
        finalResultHash: honestHash,
        finalSubmitter: nodeWallet(node),
        finalNode: node,
        finalByAttacker: false,
        finalMatchesHonest: true,
      };
      return { ...r, attack };
    }
    const skipped = n === 2;
    const stood = n === 3;
    const attack: EpochAttack = {
      mode,
      attacked: !skipped,
      tx: skipped ? null : fakeHash("attack", n),
      txs: skipped ? 0 : 1,
      outcome: skipped ? "not sent: nothing trades without the 3 orders it leaves out (of 9)" : "stood",
      copiedTx: null,
      copiedFrom: null,
      resultHash: skipped ? null : fakeHash("attack-result", n),
      challengeTx: skipped || stood ? null : fakeHash("challenge", n),
      challenger: skipped || stood ? null : nodeWallet(node),
      challengerNode: skipped || stood ? null : node,
      bondPaidWei: skipped || stood ? 0n : 10n ** 16n,
      challenged: !skipped && !stood,
      finalTx: skipped ? fakeHash("tx", n) : stood ? fakeHash("attack", n) : fakeHash("challenge", n),
      finalResultHash: stood ? fakeHash("attack-result", n) : honestHash,
      finalSubmitter: stood ? attacker : nodeWallet(node),
      finalNode: stood ? null : node,
      finalByAttacker: stood,
      finalMatchesHonest: !stood,
    };
    return { ...r, attack };
  });
  return {
    ...base,
    markets: [{ ...base.markets[0]!, epochs: rows }, ...base.markets.slice(1)],
    adversary: {
      mode,
      addresses: [attacker, `0x${"ae".repeat(20)}`],
      start: { eth: 2000n * 10n ** 18n, bonds: 0n, base: 2_000_000n, quote: 2_000_000_000n },
      end: {
        eth: 2000n * 10n ** 18n - 40_123_000_000_000_000n,
        bonds: 0n,
        base: 1_998_500n,
        quote: 2_000_307_847n,
      },
      feesEarned: 0n,
    },
  };
}
