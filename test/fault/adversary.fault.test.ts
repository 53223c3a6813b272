// `smartmarket testnet up --adversary MODE`: the attacker process of the testnet (censor, skim, copy)
// against 5 node processes and anvil, through the CLI as the README shows it. Part of the fault suite
// (real processes under attack; ~110 s): `npm run test:fault`.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { finalizeItemOf, type StandingEvent } from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import { readJournal } from "../../testnet/adversary/files.ts";
import { COPY_CHALLENGE_WINDOW_S, COPY_MIN_EPOCH_S } from "../../testnet/adversary/timing.ts";
import { pidAlive, Testnet } from "../../testnet/network.ts";
import { DEFAULT_SCENARIO, SCENARIOS } from "../../testnet/scenarios.ts";
import type { AdversaryMode, TestnetReport } from "../../testnet/types.ts";
import { spawnCli, spawnNpmStart, watchPids } from "../e2e/cli-process.ts";

const SCRATCH = fileURLToPath(new URL("../../.scratch/", import.meta.url));
const _sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dirs: string[] = [];
const EPOCHS = 3;
/** copy's epochs are 10 s long (testnet/adversary/timing.ts): two of them show every copy reverting. */
const COPY_EPOCHS = 2;

function tempDir(name: string): string {
  const d = join(SCRATCH, `${name}-${process.pid}`);
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The report's checks common to every attack: each epoch attacked, final = honest, the attacker poorer. */
function expectAttackFailed(report: TestnetReport, mode: AdversaryMode, count = EPOCHS): void {
  const epochs = report.markets[0]!.epochs;
  expect(epochs).toHaveLength(count);
  expect(epochs.some((e) => e.volume > 0n)).toBe(true);
  for (const e of epochs) {
    const a = e.attack!;
    expect(a, `epoch ${e.epoch} attack`).toBeDefined();
    expect(a.mode).toBe(mode);
    expect(a.finalMatchesHonest, `epoch ${e.epoch}: final result = honest (${a.outcome})`).toBe(true);
    expect(a.finalByAttacker).toBe(false);
    expect(e.agreed, `epoch ${e.epoch} agreement`).toBe(true);
  }
  // Every epoch that traded was attacked (one may escape on a slow machine: the honest call came first).
  const traded = epochs.filter((e) => e.volume > 0n);
  expect(traded.filter((e) => e.attack!.attacked).length).toBeGreaterThanOrEqual(
    Math.max(1, traded.length - 1),
  );
  const adv = report.adversary!;
  expect(adv.mode).toBe(mode);
  expect(adv.end).not.toBeNull();
  // Less than it started: ETH (bonds included) went down; no fee earned.
  expect(adv.end!.eth + adv.end!.bonds).toBeLessThan(adv.start.eth + adv.start.bonds);
  expect(adv.feesEarned).toBe(0n);
}

describe("testnet --adversary", () => {
  it("censor (`npm start --silent -- … --json`, as the README says: the summary, report.json and report.html): every self-trade is challenged by a node, the attacker's bond goes to it, the final result is the honest clearing; no process left", async () => {
    const dir = tempDir("adversary-censor");
    const { done } = spawnNpmStart([
      "--nodes",
      "4",
      "--epochs",
      String(EPOCHS),
      "--epoch-seconds",
      "5",
      "--adversary",
      "censor",
      "--seed",
      "attack",
      "--dir",
      dir,
      "--json",
    ]);
    const pids = await watchPids(dir, done);
    const { code, stdout, stderr } = await done;
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(
      /adversary censor: attacked 3 of 3 epochs, \d challenged; the final result is the honest one in 3 of 3/,
    );
    const summary = JSON.parse(stdout.trim()) as {
      nodes: number;
      markets: {
        market: string;
        name: string;
        epochs: {
          epoch: number;
          volume: string;
          price: string | null;
          agreed: boolean;
          settled: boolean;
          gasUsed: number | null;
          attacked: boolean;
          challenged: boolean;
          finalMatchesHonest: boolean;
          attack: {
            tx: string | null;
            outcome: string;
            challengeTx: string | null;
            challengerNode: number | null;
            bondPaidWei: string;
          };
        }[];
      }[];
      adversary: {
        mode: string;
        addresses: string[];
        start: { eth: string; bonds: string };
        end: { eth: string; bonds: string } | null;
        feesEarned: string;
      };
    };
    // The summary's shape (the plain `testnet up --json` of the user guide).
    expect(summary.nodes).toBe(4);
    expect(summary.markets).toHaveLength(1);
    expect(summary.markets[0]!.name).toBe("energy");
    expect(summary.markets[0]!.market).toMatch(/^0x[0-9a-f]{64}$/);
    const epochs = summary.markets[0]!.epochs;
    expect(epochs).toHaveLength(EPOCHS);
    for (const e of epochs) {
      expect(e.agreed).toBe(true);
      expect(e.settled).toBe(BigInt(e.volume) > 0n);
      expect(e.settled ? e.gasUsed! > 0 : e.gasUsed === null).toBe(true);
      expect(e.price === null || /^[0-9]+$/.test(e.price)).toBe(true);
      expect(e.attacked, `epoch ${e.epoch}`).toBe(true);
      expect(e.finalMatchesHonest, `epoch ${e.epoch}`).toBe(true);
      // Its self-trade stood first (or, on a slow machine, an honest proposal beat it: AlreadyProposed),
      // and a node's challenge replaced it and took the bond.
      if (e.attack.outcome !== "stood") {
        expect(e.attack.outcome).toMatch(/AlreadyProposed/);
        continue;
      }
      expect(e.challenged, `epoch ${e.epoch}`).toBe(true);
      expect(e.attack.tx).toMatch(/^0x[0-9a-f]{64}$/);
      expect(e.attack.challengeTx).toMatch(/^0x[0-9a-f]{64}$/);
      expect(e.attack.challengerNode).not.toBeNull();
      expect(BigInt(e.attack.bondPaidWei)).toBeGreaterThan(0n);
    }
    expect(epochs.filter((e) => e.attack.outcome === "stood").length).toBeGreaterThanOrEqual(EPOCHS - 1);
    const adv = summary.adversary;
    expect(adv.mode).toBe("censor");
    expect(adv.addresses).toHaveLength(2);
    expect(BigInt(adv.end!.eth) + BigInt(adv.end!.bonds)).toBeLessThan(
      BigInt(adv.start.eth) + BigInt(adv.start.bonds),
    );
    expect(adv.feesEarned).toBe("0");

    // The report and the attacker's own account agree.
    const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as {
      adversary: { mode: string };
    };
    expect(report.adversary.mode).toBe("censor");
    expect(readFileSync(join(dir, "report.html"), "utf8")).toContain('<section id="adversary">');
    const proposals = readJournal(dir).filter((j) => j.kind === "propose");
    expect(proposals.length).toBeGreaterThanOrEqual(EPOCHS);
    expect(proposals.filter((p) => p.ok).length).toBeGreaterThanOrEqual(EPOCHS - 1);
    // Launcher, chain, 4 nodes and the attacker, all gone.
    expect(pids.size).toBeGreaterThanOrEqual(7);
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(join(dir, "state.json"))).toBe(false);
    expect(readFileSync(join(dir, "report.html"), "utf8")).toMatch(/<svg/);
    expect(existsSync(join(dir, "node-0", "node.log"))).toBe(true);
    const status = await spawnCli(["testnet", "status", "--dir", dir]).done;
    expect(status.code).not.toBe(0);
    expect(status.stderr).toMatch(/no testnet is running/);
  });

  it("skim: the batch without the cheap sells and a bid is replaced by the union, the attacker's bond paid to the challenger", async () => {
    const dir = tempDir("adversary-skim");
    const net = await Testnet.up({
      nodes: 4,
      epochs: EPOCHS,
      epochSeconds: 5,
      scenario: SCENARIOS[DEFAULT_SCENARIO]!,
      scenarioName: DEFAULT_SCENARIO,
      seed: "attack",
      dir,
      adversary: "skim",
    });
    const pids = [net.anvil.pid, ...net.nodes.map((n) => n.child!.pid!), net.adversary!.pid];
    try {
      const report = await net.run();
      expectAttackFailed(report, "skim");
      const bond = (await net.chain.getMarket(net.market.id)).bondWei;
      const attacker = new Set(report.adversary!.addresses);
      const events = await net.chain.settlementEvents({
        fromBlock: 0,
        toBlock: await net.chain.provider.getBlockNumber(),
        markets: [net.market.id],
      });
      const attacked = report.markets[0]!.epochs.filter((x) => x.attack!.attacked);
      // Its proposal stood first (or, on a slow machine, an honest proposal beat it: AlreadyProposed).
      expect(attacked.filter((e) => e.attack!.outcome === "stood").length).toBeGreaterThanOrEqual(EPOCHS - 1);
      for (const e of attacked) {
        const a = e.attack!;
        if (a.outcome !== "stood") {
          expect(a.outcome).toMatch(/AlreadyProposed/);
          continue;
        }
        // A node's challenge replaced it and took the bond.
        const first = events.find((ev) => ev.epoch === e.epoch);
        expect(first?.kind === "Proposed" && attacker.has(first.submitter)).toBe(true);
        expect(a.challengeTx).not.toBeNull();
        expect(a.challengerNode).not.toBeNull();
        expect(a.bondPaidWei).toBe(bond);
        // Every node's result is the final one.
        expect(e.nodes.every((n) => n.resultHash === a.finalResultHash)).toBe(true);
      }
      // The attacker's own sell of every epoch went through a node's API, like a device's.
      expect(readJournal(dir).filter((j) => j.kind === "order").length).toBeGreaterThanOrEqual(EPOCHS);
    } finally {
      await net.down();
    }
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(join(dir, "state.json"))).toBe(false);
  });

  it("copy: on a chain mining a block a second, every copied proposal reverts NotCommitted, and the fee goes to the honest submitter", async () => {
    const dir = tempDir("adversary-copy");
    const net = await Testnet.up({
      nodes: 4,
      epochs: COPY_EPOCHS,
      epochSeconds: 5,
      scenario: SCENARIOS[DEFAULT_SCENARIO]!,
      scenarioName: DEFAULT_SCENARIO,
      seed: "attack",
      dir,
      adversary: "copy",
    });
    const pids = [net.anvil.pid, ...net.nodes.map((n) => n.child!.pid!), net.adversary!.pid];
    try {
      // Longer epochs and a 3 s challenge window on the interval-mined chain.
      expect(net.market.epochLengthS).toBe(BigInt(COPY_MIN_EPOCH_S));
      expect((await net.chain.getMarket(net.market.id)).challengeWindowS).toBe(COPY_CHALLENGE_WINDOW_S);
      const report = await net.run();
      expectAttackFailed(report, "copy", COPY_EPOCHS);
      const attacker = new Set(report.adversary!.addresses);
      const copies = readJournal(dir).filter((j) => j.kind === "copy");
      expect(copies.length).toBeGreaterThanOrEqual(1);
      for (const c of copies) {
        expect(c.tx, JSON.stringify(c)).toMatch(/^0x[0-9a-f]{64}$/);
        expect(c.ok).toBe(false);
        expect(c.error).toBe("NotCommitted");
        // Mined, and reverted: the copier paid gas for nothing.
        const receipt = await net.chain.provider.getTransactionReceipt(c.tx!);
        expect(receipt?.status).toBe(0);
      }
      for (const e of report.markets[0]!.epochs.filter((x) => x.attack!.attacked)) {
        expect(e.attack!.outcome).toMatch(/^(\d+ )?reverted NotCommitted$/);
        expect(e.attack!.challenged).toBe(false);
      }

      // Finalise every epoch (anyone may): the fee goes to the honest proposer, never to the copier.
      const events = await net.chain.settlementEvents({
        fromBlock: 0,
        toBlock: await net.chain.provider.getBlockNumber(),
        markets: [net.market.id],
      });
      const standing = events.filter((ev): ev is StandingEvent => ev.kind !== "Finalized");
      expect(standing.every((ev) => ev.kind === "Proposed" && !attacker.has(ev.submitter))).toBe(true);
      const done = new Set(events.filter((ev) => ev.kind === "Finalized").map((ev) => ev.epoch));
      const items = report.markets[0]!.epochs.filter((e) => !done.has(e.epoch))
        .map((e) => standing.filter((ev) => ev.epoch === e.epoch).at(-1))
        .filter((ev): ev is StandingEvent => ev !== undefined)
        .map(finalizeItemOf);
      const quoteBefore = await Promise.all(
        [...attacker].map((a) => net.chain.escrowOf(net.market.id, a as `0x${string}`, Asset.QUOTE)),
      );
      if (items.length > 0) {
        const fin = await net.chain.finalize(net.market.id, items);
        expect(fin.events).toHaveLength(items.length);
        for (const ev of fin.events) {
          expect(attacker.has(ev.submitter)).toBe(false);
          expect(net.nodes.some((n) => n.wallet === ev.submitter)).toBe(true);
        }
        expect(fin.events.some((ev) => ev.feeTotal > 0n)).toBe(true);
      }
      const quoteAfter = await Promise.all(
        [...attacker].map((a) => net.chain.escrowOf(net.market.id, a as `0x${string}`, Asset.QUOTE)),
      );
      expect(quoteAfter.map((q) => q.free)).toEqual(quoteBefore.map((q) => q.free));
    } finally {
      await net.down();
    }
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(join(dir, "state.json"))).toBe(false);
  });
});
