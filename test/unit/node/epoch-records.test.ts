// Every epoch ends in a final recorded state, whatever order the pipeline and the chain report it in, and
// an outage shorter than the proposal window loses no agreed epoch. Records (SettlementRecorder on a real
// SQLite store) and whole sessions over the in-process fake chain (fake-chain.ts) with chain faults.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChainError, ChainErrorCode, type StandingEvent } from "../../../node/chain/port.ts";
import { createLogger } from "../../../node/logger.ts";
import { makeMarketContext } from "../../../node/market/context.ts";
import { SettlementRecorder } from "../../../node/market/settlements.ts";
import { submitterScore } from "../../../node/market/submitter.ts";
import { NodeMetrics } from "../../../node/metrics.ts";
import { NodeStore } from "../../../node/store.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { MarketParams } from "../../../protocol/market.ts";
import { addressOfPrivateKey } from "../../../protocol/signature.ts";
import { FakeChain } from "./fake-chain.ts";
import { DOMAIN, key, SEPARATOR, SessionWorld, type TestNode, waitFor } from "./session-harness.ts";

const MARKET = `0x${"5e".repeat(32)}` as Hex;
const OURS = `0x${"33".repeat(32)}` as Hex;

/** A recorder on a real store, for a market whose epoch 40 is current: epochs up to 37 are past their deadline. */
function recorderWorld() {
  const dir = mkdtempSync(join(tmpdir(), "smartmarket-records-"));
  const params: MarketParams = {
    base: `0x${"0b".repeat(20)}` as Hex,
    quote: `0x${"0c".repeat(20)}` as Hex,
    genesisTimeS: BigInt(Math.floor(Date.now() / 1000) - 81),
    epochLengthS: 2n,
    feeBps: 5n,
    bondWei: 10n ** 16n,
    challengeWindowS: 1n,
    minQuantity: 1n,
  };
  const chain = new FakeChain();
  chain.addMarket(MARKET, params);
  const store = new NodeStore(join(dir, "node.db"));
  const logs: string[] = [];
  const privateKey = key(100);
  const recorder = new SettlementRecorder(makeMarketContext(MARKET, params, DOMAIN, SEPARATOR), {
    store,
    chain: chain.port(addressOfPrivateKey(privateKey)),
    wallet: { address: addressOfPrivateKey(privateKey), privateKey },
    metrics: new NodeMetrics().forMarket(MARKET),
    logger: createLogger({ level: "debug", write: (l) => logs.push(l) }),
    clock: Date.now,
  });
  const standing = (epoch: bigint, resultHash: Hex): StandingEvent => ({
    kind: "Proposed",
    market: MARKET,
    epoch,
    submitter: `0x${"a1".repeat(20)}` as Hex,
    resultHash,
    batchHash: `0x${"b1".repeat(32)}` as Hex,
    price: 250n,
    volume: 90n,
    feeTotal: 11n,
    txHash: `0x${epoch.toString(16).padStart(64, "c")}` as Hex,
    blockNumber: 7,
    logIndex: 0,
    gasUsed: 100_000n,
  });
  const close = () => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { store, recorder, logs, standing, close, current: 40n };
}

describe("epoch records: the chain's result and the local one, in either order", () => {
  it("the standing event arrives while the pipeline is still frozen and the epoch is closed out first: the local result, arriving last, is agreed", async () => {
    const w = recorderWorld();
    try {
      w.store.updateEpoch(MARKET, 30n, { phase: "frozen", orderCount: 4 }, Date.now());
      w.recorder.onStanding(w.standing(30n, OURS));
      // Close-out decides at the deadline without the local result (the pipeline finished by then).
      w.recorder.closeOut(w.current);
      expect(w.store.getEpoch(MARKET, 30n)).toMatchObject({ phase: "settled", agreed: false });
      // The local result lands: phase stays "settled", agreement is decided again (was: agreed = false).
      await w.recorder.recordCleared(30n, {
        resultHash: OURS,
        volume: "90",
        resultJson: JSON.stringify({ source: "local", resultHash: OURS, fills: [] }),
      });
      const r = w.store.getEpoch(MARKET, 30n)!;
      expect(r.phase).toBe("settled");
      expect(r.agreed).toBe(true);
      expect(JSON.parse(r.resultJson!).source).toBe("local");
      expect(w.logs.some((l) => /agreement decided again/.test(l))).toBe(true);
    } finally {
      w.close();
    }
  });

  it("an epoch closed out as unsettled (the chain was unreachable) becomes settled and agreed when its result is seen late", () => {
    const w = recorderWorld();
    try {
      w.store.updateEpoch(
        MARKET,
        31n,
        { phase: "cleared", resultHash: OURS, volume: "90", price: "250" },
        Date.now(),
      );
      w.recorder.closeOut(w.current, () => false, false);
      const unsettled = w.store.getEpoch(MARKET, 31n)!;
      expect(unsettled.phase).toBe("unsettled");
      expect(unsettled.reason).toMatch(/^chain_unreachable: /);
      // The chain comes back and the follower delivers the proposal that landed in the window.
      w.recorder.onStanding(w.standing(31n, OURS));
      const r = w.store.getEpoch(MARKET, 31n)!;
      expect(r.phase).toBe("settled");
      expect(r.agreed).toBe(true); // was: "unsettled", agreed = null
      expect(r.reason).toBeNull();
      expect(w.logs.some((l) => / WARN .*closed out as unsettled was found on chain/.test(l))).toBe(true);
    } finally {
      w.close();
    }
  });

  it("a late result that differs from ours is final and recorded as not agreed, with both results", () => {
    const w = recorderWorld();
    try {
      w.store.updateEpoch(MARKET, 32n, { phase: "cleared", resultHash: OURS, volume: "90" }, Date.now());
      w.recorder.closeOut(w.current);
      w.recorder.onStanding(w.standing(32n, `0x${"44".repeat(32)}` as Hex));
      const r = w.store.getEpoch(MARKET, 32n)!;
      expect(r.phase).toBe("settled");
      expect(r.agreed).toBe(false);
      expect(JSON.parse(r.resultJson!).source).toBe("chain");
    } finally {
      w.close();
    }
  });

  it("closed out settled with no local result, then a different local result arrives: the record still shows the chain's result, ours under it", async () => {
    const w = recorderWorld();
    try {
      const chainHash = `0x${"44".repeat(32)}` as Hex;
      w.recorder.onStanding(w.standing(33n, chainHash));
      w.recorder.closeOut(w.current);
      expect(w.store.getEpoch(MARKET, 33n)!.agreed).toBe(false);
      await w.recorder.recordCleared(33n, {
        resultHash: OURS,
        volume: "90",
        resultJson: JSON.stringify({
          source: "local",
          price: "7",
          volume: "90",
          resultHash: OURS,
          fills: [],
        }),
      });
      const r = w.store.getEpoch(MARKET, 33n)!;
      expect(r.phase).toBe("settled");
      expect(r.agreed).toBe(false);
      const shown = JSON.parse(r.resultJson!);
      expect(shown.source).toBe("chain");
      expect(shown.resultHash).toBe(chainHash);
      expect(shown.ours.resultHash).toBe(OURS);
    } finally {
      w.close();
    }
  });
});

let world: SessionWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

/** The chain stops answering this port while `down()` is true: reads and writes end in TIMEOUT. */
function outage(node: TestNode, down: () => boolean): void {
  const port = node.port;
  const guard = <A extends unknown[], T>(op: string, f: (...a: A) => Promise<T>) =>
    (async (...a: A) => {
      if (down()) throw new ChainError(ChainErrorCode.TIMEOUT, op, "no answer from the chain in 5000 ms");
      return f(...a);
    }) as (...a: A) => Promise<T>;
  port.isSettled = guard("isSettled", port.isSettled.bind(port));
  port.propose = guard("propose", port.propose.bind(port));
  port.gasBalance = guard("gasBalance", port.gasBalance.bind(port));
  port.collateralOf = guard("collateralOf", port.collateralOf.bind(port));
  port.collateralOfMany = guard("collateralOfMany", port.collateralOfMany.bind(port));
  port.settlementEvents = guard("settlementEvents", port.settlementEvents.bind(port));
  port.blockNumber = guard("blockNumber", port.blockNumber.bind(port));
}

describe("epoch records: sessions on the fake chain through a chain outage", () => {
  it("race: the result lands while a node's chain reader is down past the deadline; it is closed out unsettled, then settled and agreed once the event arrives", async () => {
    world = new SessionWorld();
    const a = await world.addNode("a");
    let down = true;
    // Both submit (with 2 s epochs only the first in the ranking has time to); c cannot read events.
    const c = await world.addNode("c", { faults: { eventsFail: () => down } });
    await world.at(0n, 100);
    await world.crossingBook([a, c], 0n);
    await waitFor(
      "a result of epoch 0 standing",
      () => world!.chain.standingOf(world!.market, 0n) !== undefined,
      15_000,
    );
    await waitFor("c closed epoch 0 out", () => c.record(0n)?.phase === "unsettled", 15_000);
    expect(c.record(0n)!.reason).toMatch(/^chain_unreachable: /);
    down = false;
    await waitFor("c settled epoch 0", () => c.record(0n)?.phase === "settled", 15_000);
    const r = c.record(0n)!;
    expect(r.agreed).toBe(true);
    expect(r.resultHash).toBe(a.record(0n)!.resultHash);
    expect(r.settleTx).toBe(world.chain.standingOf(world.market, 0n)!.txHash);
  });

  it("an outage over the only submitter's turn: its proposal is retried in the window and the epoch settles, agreed everywhere", async () => {
    // 6 s epochs, 3 s challenge window: the proposal window is 3 s from the close; the submitter's turn
    // comes 1.5 s after the close (the reconciliation window), when the nodes have cleared; the chain is
    // away from 1 s to 2.2 s after the close, so the first try fails and a retry lands inside the window.
    world = new SessionWorld({ epochLengthS: 6n });
    const a = await world.addNode("a");
    // b does not submit; its wallet is chosen to rank after a's in epoch 0, so a's turn is the first.
    const mine = addressOfPrivateKey(key(100));
    let walletIndex = 0;
    while (
      submitterScore(world.market, 0n, addressOfPrivateKey(key(101 + walletIndex))) <
      submitterScore(world.market, 0n, mine)
    )
      walletIndex++;
    const b = await world.addNode("b", { submit: false, walletIndex });
    let down = false;
    outage(a, () => down);
    outage(b, () => down);
    await world.at(0n, 100);
    await world.crossingBook([a, b], 0n);
    await world.at(1n, 1000);
    down = true;
    await world.at(1n, 2200);
    down = false;
    for (const n of [a, b]) {
      await waitFor(
        `${n.name} final`,
        () => n.record(0n)?.phase === "settled" || n.record(0n)?.phase === "unsettled",
        20_000,
      );
    }
    for (const n of [a, b]) {
      const r = n.record(0n)!;
      expect(r.phase, `${n.name}: ${r.reason}`).toBe("settled");
      expect(r.agreed).toBe(true);
    }
    expect(world.chain.submissions.filter((s) => s.ok)).toHaveLength(1);
    expect(
      a.logs.some((l) => / WARN .*proposal failed; trying again while the proposal window is open/.test(l)),
    ).toBe(true);
  });

  it("an outage longer than the proposal window: the epoch ends unsettled with the reason, logged at WARN, never left in a non-final phase", async () => {
    world = new SessionWorld({ epochLengthS: 4n });
    const a = await world.addNode("a");
    let down = false;
    outage(a, () => down);
    await world.at(0n, 100);
    await world.crossingBook([a], 0n);
    await world.at(1n, -200);
    down = true;
    // The proposal window of epoch 0 is the first 2 s of epoch 1: the chain is back only after it.
    await world.at(1n, 2600);
    down = false;
    await waitFor(
      "a final",
      () => a.record(0n)?.phase === "unsettled" || a.record(0n)?.phase === "settled",
      20_000,
    );
    const r = a.record(0n)!;
    expect(r.phase).toBe("unsettled");
    expect(r.reason).toMatch(/^(chain_unreachable|window_passed): /);
    expect(a.logs.some((l) => / WARN .*epoch traded but was not settled/.test(l))).toBe(true);
    expect(world.chain.submissions.filter((s) => s.ok)).toHaveLength(0);
  });
});
