// Fault: chain outages. Measured before the fix on a live 4-node testnet: with anvil stopped or killed for
// 10 s, 2 epochs of agreed trades never settled, epochs whose pipeline failed stayed "frozen" forever, a
// hung RPC produced no log at all (no request timeout; chain-poll errors at debug), and a result seen
// after close-out left the epoch "unsettled" with agreed = null.
//
// Here: one anvil, 3 real node processes on loopback, devices sending signed orders every epoch.
// Epochs are 8 s with the default challenge window (4 s), so a result of epoch e can be proposed from the
// close of e for 4 s (L − W), and challenged until the end of e + 1. Timeline (F = first driven epoch):
//   - F + 1 s after its close: anvil stopped (SIGSTOP) for 1.5 s over the first submitter's turn — an
//     outage shorter than the proposal window: F must settle;
//   - 5 s into F + 2 (F + 1's proposal window is over and it stands) anvil is stopped for 16 s, two whole
//     epochs. The proposal windows of F + 2 and F + 3 lie inside the outage: no node can settle them, and
//     each must end "unsettled" with its reason (chain_unreachable / window_passed) on every node, never
//     stuck in "frozen" or "cleared". F + 4 closes after the chain is back and must settle;
//   - at the close of F + 5 the node ranked first to submit it is SIGKILLed: the others settle it; the
//     killed node is started again 2 s later, catches up, agrees on F + 6, and its record of F + 5 (the
//     chain's result, without a local one) becomes final too.
// Every node must log WARN lines about the chain, count RPC errors (smartmarket_rpc_errors_total) and show
// smartmarket_chain_up = 0 during the outage.
//
// The outage length the design survives without losing an agreed epoch is the proposal window minus the
// time a node needs to propose (README, "Chain outages"); a 2-epoch outage (2L) is always longer than L − W,
// so the test asserts settlement exactly where the window allowed it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHAIN_UP_METRIC } from "../../node/chain/follower.ts";
import { RPC_ERRORS_METRIC } from "../../node/chain/rpc-guard.ts";
import { isFinalPhase } from "../../node/store.ts";
import type { SettlementEvent } from "../../settlement/client.ts";
import type { TestnetReport } from "../../testnet/types.ts";
import { FaultNet, sleep } from "./harness.ts";

const NODES = 3;
const EPOCH_S = 8;
const EPOCHS = 7;
const SHORT_OUTAGE_MS = 1500;
const LONG_OUTAGE_MS = 2 * EPOCH_S * 1000;

describe("fault: the chain stops answering (anvil SIGSTOP), and the ranked submitter is killed at close", () => {
  let f: FaultNet;
  let first = 0n;
  let report: TestnetReport;
  let events: SettlementEvent[] = [];
  let chainUpDuringOutage: number[] = [];
  let killed = -1;
  const lines: string[] = [];

  beforeAll(async () => {
    f = await FaultNet.up({
      name: "chain-outage",
      nodes: NODES,
      epochs: EPOCHS,
      epochSeconds: EPOCH_S,
      log: (l) => lines.push(l),
    });
    first = f.nextEpoch();
    const run = f.net.run();
    // The run drives [first, first + EPOCHS); if the clock crossed an epoch boundary meanwhile it starts later.
    const faults = (async () => {
      // A short outage over the first proposal turn of `first` (close + 2 s).
      await f.at(first + 1n, 1000);
      f.stopChain();
      await sleep(SHORT_OUTAGE_MS);
      f.resumeChain();

      // Two whole epochs without a chain, from 5 s into first + 2.
      await f.at(first + 2n, 5000);
      f.stopChain();
      await sleep(LONG_OUTAGE_MS / 2);
      chainUpDuringOutage = await Promise.all(
        f.net.nodes.map((_, i) => f.metric(i, CHAIN_UP_METRIC).catch(() => -1)),
      );
      await sleep(LONG_OUTAGE_MS / 2);
      f.resumeChain();

      // SIGKILL of the first-ranked submitter of first + 5, at its close; started again an epoch later.
      killed = f.submitterOrder(first + 5n)[0]!;
      await f.at(first + 6n, 0);
      await f.killNode(killed);
      await f.at(first + 6n, 2000);
      await f.restartNode(killed);
    })();
    try {
      [report] = await Promise.all([run, faults]);
    } finally {
      try {
        f.resumeChain();
      } catch {
        // not started
      }
    }
    // The killed node, restarted, closes out the epochs it missed at its next chain polls.
    const driven = report.markets[0]!.epochs.map((e) => e.epoch);
    const last = driven[driven.length - 1]!;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const pending = f.net.nodes.some((_, i) =>
        driven.some((e) => {
          const r = f.epochRecord(i, e);
          return r !== null && !isFinalPhase(r.phase);
        }),
      );
      if (!pending && Date.now() > f.closeMs(last + 1n) + 2000) break;
      await sleep(500);
    }
    events = await f.settlementEvents();
  }, 280_000);

  afterAll(async () => {
    await f?.down();
  });

  it("drives the planned epochs", () => {
    const driven = report.markets[0]!.epochs.map((e) => e.epoch);
    expect(driven[0], `setup log:\n${lines.join("\n")}`).toBe(first);
    expect(driven).toHaveLength(EPOCHS);
  });

  it("settles on chain every agreed epoch whose proposal window was not inside the outage, and none twice", async () => {
    const standing = (e: bigint) =>
      events.filter((ev) => ev.epoch === e && (ev.kind === "Proposed" || ev.kind === "Challenged"));
    // Before the long outage (the short one included), after it, and the epoch whose submitter was killed.
    for (const e of [first, first + 1n, first + 4n, first + 5n, first + 6n]) {
      const evs = standing(e);
      expect(
        evs.map((x) => x.kind),
        `epoch ${e} on chain`,
      ).toEqual(["Proposed"]);
      for (let i = 0; i < NODES; i++) {
        const r = f.epochRecord(i, e)!;
        expect(r.phase, `node ${i} epoch ${e}: ${r.reason}`).toBe("settled");
        expect(r.settleTx, `node ${i} epoch ${e}`).toBe(evs[0]!.txHash);
        // The killed node missed the close of first + 5: it has the chain's result but no local one.
        if (!(i === killed && e === first + 5n)) expect(r.agreed, `node ${i} epoch ${e} agreed`).toBe(true);
      }
    }
  });

  it("ends the epochs whose proposal window lay inside the outage unsettled with the reason, on every node", () => {
    for (const e of [first + 2n, first + 3n]) {
      expect(
        events.filter((ev) => ev.epoch === e && ev.kind !== "Finalized"),
        `epoch ${e}`,
      ).toHaveLength(0);
      for (let i = 0; i < NODES; i++) {
        const r = f.epochRecord(i, e)!;
        expect(r.phase, `node ${i} epoch ${e}`).toBe("unsettled");
        expect(r.reason, `node ${i} epoch ${e}`).toMatch(/^(chain_unreachable|window_passed): /);
      }
    }
  });

  it("leaves no epoch in a non-final state in any node's store", () => {
    for (let i = 0; i < NODES; i++) {
      for (const row of report.markets[0]!.epochs) {
        const r = f.epochRecord(i, row.epoch);
        expect(r, `node ${i} epoch ${row.epoch}`).not.toBeNull();
        expect(isFinalPhase(r!.phase), `node ${i} epoch ${row.epoch}: ${r!.phase}`).toBe(true);
      }
    }
  });

  it("the first-ranked submitter of the epoch it was killed at did not settle it; another node did", () => {
    const ev = events.find((x) => x.epoch === first + 5n && x.kind === "Proposed");
    expect(ev).toBeDefined();
    const submitter = ev!.kind === "Proposed" ? ev!.submitter : null;
    expect(submitter).not.toBe(f.net.nodes[killed]!.wallet.toLowerCase());
    expect(f.net.nodes.map((n) => n.wallet.toLowerCase())).toContain(submitter);
  });

  it("says so: WARN lines about the chain, chain_up 0 during the outage, RPC errors counted, recovery logged", async () => {
    expect(chainUpDuringOutage).toEqual(Array(NODES).fill(0));
    for (let i = 0; i < NODES; i++) {
      expect(f.logLines(i, "WARN", /chain poll failed/).length, `node ${i}`).toBeGreaterThan(0);
      expect(f.logLines(i, "WARN", /chain RPC failed .*code=TIMEOUT/).length, `node ${i}`).toBeGreaterThan(0);
      expect(f.logLines(i, "INFO", /chain reachable again after \d+ s/).length, `node ${i}`).toBeGreaterThan(
        0,
      );
      expect(
        f.logLines(i, "WARN", /epoch traded but was not settled|epoch closed out without a result/).length,
      ).toBeGreaterThan(0);
      // Rate-limited: one line per ~30 s per operation, not one per failed attempt.
      expect(f.logLines(i, "WARN", /chain poll failed/).length, `node ${i}`).toBeLessThanOrEqual(3);
      expect(await f.metric(i, CHAIN_UP_METRIC), `node ${i} chain_up now`).toBe(1);
      if (i !== killed) {
        expect(await f.metric(i, RPC_ERRORS_METRIC, { code: "TIMEOUT" }), `node ${i}`).toBeGreaterThan(0);
      }
    }
  });
});
