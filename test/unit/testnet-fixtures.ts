// Shared fixtures for the testnet tests: a market, a quiet simulation, and a synthetic TestnetReport
// built from a simulated scenario (real curves and clearing results; made-up nodes, hashes and gas).
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { hashLabels } from "../../testnet/rng.ts";
import { SCENARIOS, type SimulatedEpoch, simulateScenario } from "../../testnet/scenarios.ts";
import type { EpochReport, MarketInfo, NodeEpochView, Scenario, TestnetReport } from "../../testnet/types.ts";

export const MARKET: MarketInfo = {
  id: `0x${"5a".repeat(32)}`,
  genesisTimeS: 1_800_000_000n,
  epochLengthS: 5n,
  baseDecimals: 3,
  quoteDecimals: 6,
};

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
 * A TestnetReport from `epochs` simulated epochs of the neighbourhood: every node agrees except node 2
 * in epoch 3 (a different result hash) and node 1 in epoch 5 (no result); epoch 4 is unsettled; the
 * settling node rotates.
 */
export function syntheticReport(
  opts: { epochs?: number; nodes?: number; seed?: string } = {},
): TestnetReport {
  const nodes = opts.nodes ?? 3;
  const seed = opts.seed ?? "report-fixture";
  const sim = simulate(scenario("neighbourhood", seed, nodes), opts.epochs ?? 12);
  const rows: EpochReport[] = sim.map((e) => {
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
  return {
    nodes,
    scenario: "neighbourhood",
    seed,
    chainId: 31337n,
    contract: `0x${"c0".repeat(20)}`,
    market: MARKET,
    startedAtMs: 1_800_000_000_000,
    firstSettlementS: 9.4,
    epochs: rows,
  };
}

function pick(o: { limitPrice: bigint; quantity: bigint }): { limitPrice: bigint; quantity: bigint } {
  return { limitPrice: o.limitPrice, quantity: o.quantity };
}
