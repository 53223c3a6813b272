// The adversary's pure parts: how the launcher reads an epoch's attack from the chain's events, the
// attacker's journal and the nodes' reports (attackOf); the files the two processes share; the timing of
// each mode; and that the attacker uses no node code but the control API's client and types.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Hex } from "../../protocol/hex.ts";
import type { SettlementEvent } from "../../settlement/client.ts";
import {
  appendJournal,
  inRange,
  isAdversaryMode,
  type JournalEntry,
  parseJournal,
  readAdversaryConfig,
  readAttackRange,
  readJournal,
  writeAdversaryConfig,
  writeAttackRange,
} from "../../testnet/adversary/files.ts";
import { type AttackFacts, attackOf, finalMatchesHonest } from "../../testnet/adversary/observer.ts";
import {
  adversaryTiming,
  COPY_CHALLENGE_WINDOW_S,
  COPY_MIN_EPOCH_S,
} from "../../testnet/adversary/timing.ts";
import { fakeHash } from "./testnet-fixtures.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const MARKET: Hex = `0x${"5a".repeat(32)}`;
const ATTACKER: Hex = `0x${"ad".repeat(20)}`;
const SELLER: Hex = `0x${"ae".repeat(20)}`;
const NODES: Hex[] = [0, 1, 2].map((i) => `0x${String(i + 1).repeat(40)}` as Hex);
const BOND = 10n ** 16n;
const HONEST = fakeHash("honest");
const pos = (n: number) => ({ txHash: fakeHash("tx", n), blockNumber: n, logIndex: 0 });

function proposed(n: number, submitter: Hex, resultHash: Hex): SettlementEvent {
  return {
    kind: "Proposed",
    market: MARKET,
    epoch: 4n,
    submitter,
    resultHash,
    batchHash: fakeHash("batch", n),
    price: 200n,
    volume: 1n,
    feeTotal: 0n,
    ...pos(n),
  };
}

function challenged(n: number, challenger: Hex, replaced: Hex, resultHash: Hex): SettlementEvent {
  return {
    kind: "Challenged",
    market: MARKET,
    epoch: 4n,
    challenger,
    replaced,
    resultHash,
    batchHash: fakeHash("batch", n),
    price: 210n,
    volume: 900n,
    feeTotal: 90n,
    ...pos(n),
  };
}

function facts(over: Partial<AttackFacts>): AttackFacts {
  return {
    mode: "censor",
    epoch: 4n,
    addresses: [ATTACKER, SELLER],
    nodeWallets: NODES,
    bondWei: BOND,
    journal: [],
    events: [],
    views: NODES.map(() => ({ resultHash: HONEST, volume: "900" })),
    ...over,
  };
}

const entry = (e: Partial<JournalEntry>): JournalEntry => ({
  kind: "propose",
  market: MARKET,
  epoch: "4",
  atMs: 0,
  ...e,
});

describe("attackOf: an epoch's attack from the chain, the journal and the nodes", () => {
  it("censor: the attacker's proposal stood, node 2 replaced it and took the bond, the final result is the honest one", () => {
    const a = attackOf(
      facts({
        journal: [entry({ tx: fakeHash("tx", 1), ok: true }), entry({ kind: "closed" })],
        events: [proposed(1, ATTACKER, fakeHash("self-trade")), challenged(2, NODES[2]!, ATTACKER, HONEST)],
      }),
    );
    expect(a).toMatchObject({
      mode: "censor",
      attacked: true,
      tx: fakeHash("tx", 1),
      txs: 1,
      outcome: "stood",
      resultHash: fakeHash("self-trade"),
      challengeTx: fakeHash("tx", 2),
      challenger: NODES[2],
      challengerNode: 2,
      bondPaidWei: BOND,
      challenged: true,
      finalTx: fakeHash("tx", 2),
      finalResultHash: HONEST,
      finalSubmitter: NODES[2],
      finalNode: 2,
      finalByAttacker: false,
      finalMatchesHonest: true,
    });
  });

  it("an attack nobody challenged: the attacker's result is final and not the nodes'", () => {
    const a = attackOf(facts({ events: [proposed(1, ATTACKER, fakeHash("self-trade"))] }));
    expect(a).toMatchObject({
      attacked: true,
      challenged: false,
      challengeTx: null,
      bondPaidWei: 0n,
      finalByAttacker: true,
      finalNode: null,
      finalMatchesHonest: false,
    });
  });

  it("skim: nothing sent (no trade without the left-out orders); a proposal that failed; an honest node first", () => {
    const skipped = attackOf(
      facts({
        mode: "skim",
        journal: [
          entry({ kind: "skip", detail: "nothing trades without the 3 orders it leaves out (of 4)" }),
        ],
        events: [proposed(1, NODES[0]!, HONEST)],
      }),
    );
    expect(skipped).toMatchObject({
      attacked: false,
      tx: null,
      txs: 0,
      outcome: "not sent: nothing trades without the 3 orders it leaves out (of 4)",
      finalNode: 0,
      finalMatchesHonest: true,
    });
    const failed = attackOf(
      facts({ mode: "skim", journal: [entry({ tx: null, ok: false, error: "AlreadyProposed" })] }),
    );
    expect(failed).toMatchObject({ attacked: true, tx: null, outcome: "failed: AlreadyProposed" });
    // Nothing on chain while the nodes found a trade: not the honest result.
    expect(failed.finalMatchesHonest).toBe(false);
  });

  it("copy: every copy reverted NotCommitted; the copied transaction's node is named; the honest proposal is final", () => {
    const copy = (n: number, error: string): JournalEntry =>
      entry({
        kind: "copy",
        tx: fakeHash("copy", n),
        ok: false,
        error,
        copiedTx: fakeHash("tx", 1),
        copiedFrom: NODES[1]!,
        call: "propose",
      });
    const a = attackOf(
      facts({
        mode: "copy",
        journal: [copy(1, "NotCommitted"), copy(2, "NotCommitted")],
        events: [proposed(1, NODES[1]!, HONEST)],
      }),
    );
    expect(a).toMatchObject({
      attacked: true,
      tx: fakeHash("copy", 1),
      txs: 2,
      outcome: "2 reverted NotCommitted",
      copiedTx: fakeHash("tx", 1),
      copiedFrom: 1,
      challenged: false,
      bondPaidWei: 0n,
      finalNode: 1,
      finalMatchesHonest: true,
    });
    expect(attackOf(facts({ mode: "copy", journal: [copy(1, "NotCommitted")] })).outcome).toBe(
      "reverted NotCommitted",
    );
    expect(
      attackOf(facts({ mode: "copy", journal: [copy(1, "NotCommitted"), copy(2, "AlreadyProposed")] }))
        .outcome,
    ).toBe("1 reverted NotCommitted, 1 reverted AlreadyProposed");
    expect(attackOf(facts({ mode: "copy" }))).toMatchObject({ attacked: false, outcome: "nothing to copy" });
  });

  it("finalMatchesHonest: every node that reported agrees with the chain; with nothing on chain, every node found no trade", () => {
    const v = (resultHash: Hex | null, volume: string | null) => ({ resultHash, volume });
    expect(finalMatchesHonest(HONEST, [v(HONEST, "9"), null, v(null, null)])).toBe(true);
    expect(finalMatchesHonest(HONEST, [v(HONEST, "9"), v(fakeHash("other"), "9")])).toBe(false);
    expect(finalMatchesHonest(HONEST, [null, v(null, null)])).toBe(false); // nobody reported
    expect(finalMatchesHonest(null, [v(fakeHash("empty"), "0"), v(fakeHash("empty"), "0")])).toBe(true);
    expect(finalMatchesHonest(null, [v(HONEST, "900")])).toBe(false);
    expect(finalMatchesHonest(HONEST.toUpperCase().replace("0X", "0x") as Hex, [v(HONEST, "9")])).toBe(true);
  });
});

describe("the files the launcher and the attacker share", () => {
  it("config (mode 0600), range and journal round-trip; a partial last journal line is left for later", () => {
    const dir = mkdtempSync(join(tmpdir(), "smartmarket-adversary-"));
    dirs.push(dir);
    const keys: Hex[] = [fakeHash("k", 0), fakeHash("k", 1)];
    writeAdversaryConfig(dir, { mode: "skim", keys, market: MARKET, nodeIndex: 2 });
    expect(readAdversaryConfig(dir)).toEqual({ mode: "skim", keys, market: MARKET, nodeIndex: 2 });
    expect(readAttackRange(dir)).toBeNull();
    expect(inRange(null, 3n)).toBe(false);
    writeAttackRange(dir, { fromEpoch: 3n, untilEpoch: 6n });
    const range = readAttackRange(dir)!;
    expect(range).toEqual({ fromEpoch: 3n, untilEpoch: 6n });
    expect([2n, 3n, 5n, 6n].map((e) => inRange(range, e))).toEqual([false, true, true, false]);
    writeAttackRange(dir, { fromEpoch: 3n, untilEpoch: null });
    expect(inRange(readAttackRange(dir), 1_000_000n)).toBe(true);
    expect(readJournal(dir)).toEqual([]);
    appendJournal(dir, entry({ kind: "closed" }));
    appendJournal(dir, entry({ kind: "copy", tx: fakeHash("c"), ok: false, error: "NotCommitted" }));
    expect(readJournal(dir).map((e) => e.kind)).toEqual(["closed", "copy"]);
    const text = readFileSync(join(dir, "adversary", "journal.jsonl"), "utf8");
    expect(parseJournal(`${text}{"kind":"clo`)).toHaveLength(2);
    expect(isAdversaryMode("censor") && isAdversaryMode("copy") && !isAdversaryMode("steal")).toBe(true);
  });
});

describe("timing of each mode", () => {
  it("censor and skim keep the chain and epochs; copy mines a block a second, with longer epochs and a 3 s window", () => {
    expect(adversaryTiming(null, 5)).toEqual({ epochSeconds: 5, challengeWindowS: null, blockTimeS: null });
    expect(adversaryTiming("censor", 3)).toEqual({
      epochSeconds: 3,
      challengeWindowS: null,
      blockTimeS: null,
    });
    expect(adversaryTiming("skim", 5).blockTimeS).toBeNull();
    expect(adversaryTiming("copy", 5)).toEqual({
      epochSeconds: COPY_MIN_EPOCH_S,
      challengeWindowS: COPY_CHALLENGE_WINDOW_S,
      blockTimeS: 1,
    });
    expect(adversaryTiming("copy", 30).epochSeconds).toBe(30);
    // An honest proposal — 2 s of reconciliation, then commit and propose, a block each — fits the
    // proposal window of the first ranks, and the window leaves blocks to challenge the last proposal.
    const t = adversaryTiming("copy", 2);
    const proposalWindowS = t.epochSeconds - Number(t.challengeWindowS);
    expect(2 + 2 * t.blockTimeS! + 0.5).toBeLessThan(proposalWindowS);
    expect(Number(t.challengeWindowS)).toBeGreaterThanOrEqual(2 * t.blockTimeS! + 1);
  });
});

describe("the attacker is not a node", () => {
  it("the attacker process (testnet/adversary/main.ts) reaches no node/ module but the control API's client and types (value imports, transitively)", () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
    const allowed = new Set(["node/api/client.ts", "node/api/types.ts"]);
    const seen = new Set<string>();
    const reached: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const rel = file.slice(root.length + 1);
      if (rel.startsWith("node/")) reached.push(rel);
      const text = readFileSync(file, "utf8");
      // Value imports only: `import type` and `export type` vanish at run time.
      for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"(\.{1,2}\/[^"]+)";/gms)) {
        visit(resolve(dirname(file), m[1]!));
      }
    };
    for (const f of ["main.ts", "attacker.ts", "files.ts", "timing.ts"])
      visit(resolve(root, "testnet/adversary", f));
    expect(reached.filter((r) => !allowed.has(r))).toEqual([]);
    expect(reached).toContain("node/api/client.ts");
    // And it does use what it may: the ABI through the settlement client and the batch selection.
    expect([...seen].some((f) => f.endsWith("settlement/client.ts"))).toBe(true);
    expect([...seen].some((f) => f.endsWith("settlement/batch.ts"))).toBe(true);
  });
});
