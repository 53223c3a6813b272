// Undo correctness and conservation over many random propose-then-challenge sequences on a real anvil
// (docs/certified-settlement.md, "Effects, undo, and why the undo never fails"). Each run signs random orders
// of an epoch, does what a node does (collateralOf, batch.ts's selection), lets a submitter propose the
// clearing of a random subset, lets traders request withdrawals (also of funds the standing result just
// credited them), deposit and withdraw ready funds, then challenges once or twice with more of the orders,
// and checks that
//   - the honest challenge never reverts (the undo never runs short, whatever was withdrawn meanwhile);
//   - every balance (free + locked) equals what it was before the epoch plus the effects of the final result
//     only (payment = fill x price, fee rounded down), plus deposits minus withdrawals: the undone results
//     leave no trace, and no balance goes below zero;
//   - per token, Σ internal balances + fees held (standing results' fees, paid at finalize) = the contract's
//     token balance, over both markets, at every step; finalize pays the fees of final epochs.
// Time moves by explicit block timestamps, never by sleeping.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { smartMarketInterface, testTokenInterface } from "../../settlement/artifacts.ts";
import { type SelectedBatch, selectChallenge } from "../../settlement/batch.ts";
import {
  Asset,
  challenge as challengeTx,
  collateralsOf,
  deployEscrowReader,
  type Env,
  escrowsOf,
  finalize,
  fund,
  type IdentifiedOrder,
  lookupOf,
  makeOrder,
  makeTraders,
  moveToEpoch,
  newMarket,
  propose,
  type Submission,
  select,
  startEnv,
  type Trader,
  txFrom,
} from "./settlement-fixture.ts";

const RUNS = 200;
const TRADERS = 8;

let env: Env;

beforeAll(async () => {
  env = await startEnv();
});

afterAll(async () => {
  await env?.close();
});

interface OrderDraw {
  readonly trader: number;
  readonly buy: boolean;
  readonly quantity: bigint;
  readonly limit: bigint;
}

interface Run {
  readonly orders: OrderDraw[];
  /** Per order: 0 in the proposal, 1 added by the first challenge, 2 by the second. */
  readonly stage: number[];
  /** Withdrawal requests after the proposal (and after the first challenge): a per-mille of the free balance. */
  readonly requests: { trader: number; asset: Asset; perMille: number; afterChallenge: boolean }[];
  /** Traders credited by the standing result request everything they hold free in the credited asset. */
  readonly withdrawCredits: boolean;
  readonly deposit: { trader: number; asset: Asset; amount: bigint } | null;
  readonly withdrawReady: boolean;
}

const runArb: fc.Arbitrary<Run> = fc
  .array(
    fc
      .record({
        trader: fc.nat(TRADERS - 1),
        buy: fc.boolean(),
        quantity: fc.bigInt(1n, 2000n),
        limit: fc.bigInt(1n, 250n),
      })
      .map((o) => (o.buy ? { ...o, limit: o.limit + 150n } : o)),
    { minLength: 3, maxLength: 14 },
  )
  // The first two orders cross (a proposal that trades), the third is a buy above every sell (the union
  // of all orders clears differently).
  .map((orders) => [
    { ...orders[0]!, buy: true, limit: 300n + (orders[0]!.limit % 100n) },
    { ...orders[1]!, buy: false, limit: 1n + (orders[1]!.limit % 150n) },
    { ...orders[2]!, buy: true, limit: 400n },
    ...orders.slice(3),
  ])
  .chain((orders) =>
    fc.record({
      orders: fc.constant(orders),
      stage: fc
        .array(fc.integer({ min: 0, max: 2 }), { minLength: orders.length, maxLength: orders.length })
        .map((st) => [0, 0, 1 + (st[2]! % 2), ...st.slice(3)]),
      requests: fc.array(
        fc.record({
          trader: fc.nat(TRADERS - 1),
          asset: fc.constantFrom(Asset.BASE, Asset.QUOTE),
          perMille: fc.integer({ min: 1, max: 1000 }),
          afterChallenge: fc.boolean(),
        }),
        { maxLength: 3 },
      ),
      withdrawCredits: fc.boolean(),
      deposit: fc.option(
        fc.record({
          trader: fc.nat(TRADERS - 1),
          asset: fc.constantFrom(Asset.BASE, Asset.QUOTE),
          amount: fc.bigInt(1n, 1_000_000n),
        }),
        { freq: 6 },
      ),
      withdrawReady: fc.boolean(),
    }),
  );

const key = (market: Hex, who: Hex, asset: Asset) => `${market}/${who}/${asset}`;

// Traders act by impersonated transactions without a pre-flight call (fast); a failure fails the test.
const send = (from: Hex, to: Hex, data: string) => txFrom(env, from, to, data, { blind: true });

const requestWithdrawal = (trader: Hex, market: Hex, asset: Asset, amount: bigint) =>
  send(
    trader,
    env.settlement,
    smartMarketInterface.encodeFunctionData("requestWithdrawal", [market, asset, amount]),
  );

async function deposit(trader: Hex, market: Hex, asset: Asset, amount: bigint): Promise<void> {
  const token = asset === Asset.BASE ? env.base : env.quote;
  await send(trader, token, testTokenInterface.encodeFunctionData("mint", [trader, amount]));
  await send(trader, token, testTokenInterface.encodeFunctionData("approve", [env.settlement, amount]));
  await send(
    trader,
    env.settlement,
    smartMarketInterface.encodeFunctionData("deposit", [market, asset, amount]),
  );
}

async function withdraw(trader: Hex, market: Hex, asset: Asset): Promise<bigint> {
  const r = await send(
    trader,
    env.settlement,
    smartMarketInterface.encodeFunctionData("withdraw", [market, asset]),
  );
  const ev = r.logs.map((l) => smartMarketInterface.parseLog(l)).find((e) => e?.name === "Withdrawn");
  return ev!.args[3] as bigint;
}

describe("undo and conservation", () => {
  it(`over ${RUNS} random propose-then-challenge sequences: final balances = the final result only, totals conserved`, {
    timeout: 600_000,
  }, async () => {
    const fees = [37n, 1000n];
    const markets = [
      await newMarket(env, { feeBps: fees[0]!, bondWei: 10n ** 15n }),
      await newMarket(env, { feeBps: fees[1]!, bondWei: 10n ** 15n }),
    ];
    const traders = makeTraders(TRADERS, "undo");
    for (const m of markets) {
      await fund(
        env,
        m.id,
        traders.flatMap((t, i) => [
          { trader: t, asset: Asset.BASE, amount: 20_000n + BigInt(i) * 1000n },
          { trader: t, asset: Asset.QUOTE, amount: 3_000_000n + BigInt(i) * 100_000n },
        ]),
      );
    }
    const submitters = [1, 2, 3].map((i) => env.anvil.accounts[i]!.address);
    const accounts: Hex[] = [...traders.map((t) => t.address), ...submitters];

    // Balances (free + locked) of both markets; only the market of the run is re-read.
    const latest = new Map<string, { free: bigint; locked: bigint }>();
    const escrowReader = await deployEscrowReader(env);
    const readMarket = async (market: Hex) => {
      const all = await escrowsOf(env, escrowReader, market, accounts);
      for (const [k, e] of all) latest.set(`${market}/${k}`, { free: e.free, locked: e.locked });
    };
    /** free, locked and lockedEpoch of every (trader, asset), in one read. */
    const tradersEscrow = async (market: Hex) => {
      const all = await escrowsOf(
        env,
        escrowReader,
        market,
        traders.map((t) => t.address),
      );
      return traders.flatMap((t) =>
        [Asset.BASE, Asset.QUOTE].map((asset) => ({ t, asset, e: all.get(`${t.address}/${asset}`)! })),
      );
    };
    // Fees held: the fee of every standing (not yet finalized) result, by market and epoch.
    const held = new Map<string, { event: Submission; market: Hex }>();
    const feesHeld = () => [...held.values()].reduce((s, h) => s + h.event.feeTotal, 0n);
    const internalSum = (asset: Asset) => {
      let sum = 0n;
      for (const [k, v] of latest) if (k.endsWith(`/${asset}`)) sum += v.free + v.locked;
      return sum;
    };
    const checkConservation = async () => {
      expect(await env.admin.tokenBalance(env.base, env.settlement)).toBe(internalSum(Asset.BASE));
      expect(await env.admin.tokenBalance(env.quote, env.settlement)).toBe(
        internalSum(Asset.QUOTE) + feesHeld(),
      );
    };

    let run = 0;
    let sequences = 0;
    let challenges = 0;
    let undoFromLocked = 0;
    let creditsRequested = 0;
    for (const m of markets) await readMarket(m.id);
    await checkConservation();

    await fc.assert(
      fc.asyncProperty(runArb, async (r) => {
        const mi = run % 2;
        const m = markets[mi]!;
        const feeBps = fees[mi]!;
        const epoch = BigInt(run);
        run++;
        await moveToEpoch(env, m, epoch + 1n, 2n);

        // Finalize what is final in this market (every earlier epoch): the fees leave `held`.
        const finals = [...held.entries()].filter(([, h]) => h.market === m.id && h.event.epoch < epoch);
        if (finals.length > 0) {
          await finalize(
            env,
            submitters[run % 3]!,
            m.id,
            finals.map(([, h]) => h.event),
          );
          for (const [k] of finals) held.delete(k);
          await readMarket(m.id); // the fees are now the submitters' balances
          await checkConservation();
        }

        const signed: IdentifiedOrder[] = r.orders.map((o, i) =>
          makeOrder(
            m.id,
            epoch,
            {
              trader: traders[o.trader]!,
              side: o.buy ? "buy" : "sell",
              quantity: o.quantity,
              limitPrice: o.limit,
              nonce: BigInt(i),
            },
            env.separator,
          ),
        );
        const collateral = await collateralsOf(
          env,
          escrowReader,
          m.id,
          epoch,
          traders.map((t) => t.address),
        );
        const stages = [0, 1, 2].map((s) => signed.filter((_, i) => r.stage[i]! <= s));
        const first = select(env, m.id, epoch, stages[0]!, collateral);
        const fullResult = select(env, m.id, epoch, signed, collateral);
        // A sequence needs a proposal that trades and a full set whose clearing differs from it.
        fc.pre(
          first.outcome === "batch" &&
            fullResult.outcome === "batch" &&
            fullResult.clearing.resultHash !== first.clearing.resultHash,
        );
        if (first.outcome !== "batch") return;

        // Keep the traders able to trade: top up free balances that withdrawals drained.
        for (const { t, asset, e } of await tradersEscrow(m.id)) {
          const [low, amount] = asset === Asset.BASE ? [5_000n, 200_000n] : [1_000_000n, 30_000_000n];
          if (e.free < low) await deposit(t.address, m.id, asset, amount);
        }
        await readMarket(m.id);
        // The model: totals (free + locked) before the epoch's results, plus deposits, minus withdrawals.
        const base = new Map<string, bigint>();
        for (const a of accounts)
          for (const asset of [Asset.BASE, Asset.QUOTE]) {
            const v = latest.get(key(m.id, a, asset))!;
            base.set(key(m.id, a, asset), v.free + v.locked);
          }
        const adjust = (who: Hex, asset: Asset, delta: bigint) => {
          const k = key(m.id, who, asset);
          base.set(k, base.get(k)! + delta);
        };

        const proposer = submitters[run % 3]!;
        const proposal = await propose(env, proposer, m, epoch, bytesToHex(first.bytes), { blind: true });
        expect(proposal.resultHash).toBe(first.clearing.resultHash);
        let standingEvent: Submission = proposal;
        // The standing batch and its clearing: a challenge's union may clear to no trade.
        let standing: Pick<SelectedBatch, "header" | "orders" | "clearing"> = first;
        held.set(`${m.id}/${epoch}`, { event: standingEvent, market: m.id });

        /** The free balances now, kept up to date by the requests below. */
        const freeNow = async () =>
          new Map((await tradersEscrow(m.id)).map((x) => [`${x.t.address}/${x.asset}`, x.e.free]));
        const requestWithdrawals = async (afterChallenge: boolean) => {
          const requests = r.requests.filter((x) => x.afterChallenge === afterChallenge);
          if (requests.length === 0) return;
          const free = await freeNow();
          for (const q of requests) {
            const t: Trader = traders[q.trader]!;
            const k = `${t.address}/${q.asset}`;
            const amount = (free.get(k)! * BigInt(q.perMille)) / 1000n;
            if (amount > 0n) await requestWithdrawal(t.address, m.id, q.asset, amount);
            free.set(k, free.get(k)! - amount);
          }
        };
        // Traders credited by the standing result request all they hold free in the credited asset.
        if (r.withdrawCredits) {
          const byId = new Map(signed.map((o) => [o.id, o.order]));
          const credited = new Map<string, { trader: Hex; asset: Asset }>();
          for (const f of first.clearing.fills) {
            const o = byId.get(f.id)!;
            const asset = o.side === "buy" ? Asset.BASE : Asset.QUOTE;
            credited.set(`${o.trader}/${asset}`, { trader: o.trader, asset });
          }
          const free = await freeNow();
          for (const { trader, asset } of credited.values()) {
            const amount = free.get(`${trader}/${asset}`)!;
            if (amount > 0n) {
              await requestWithdrawal(trader, m.id, asset, amount);
              creditsRequested++;
            }
          }
        }
        await requestWithdrawals(false);
        if (r.deposit) {
          const t = traders[r.deposit.trader]!.address;
          await deposit(t, m.id, r.deposit.asset, r.deposit.amount);
          adjust(t, r.deposit.asset, r.deposit.amount);
        }
        if (r.withdrawReady) {
          for (const { t, asset, e } of await tradersEscrow(m.id)) {
            if (e.locked > 0n && epoch + 1n >= e.lockedEpoch + 2n) {
              adjust(t.address, asset, -(await withdraw(t.address, m.id, asset)));
            }
          }
        }

        // One or two challenges, each adding the orders of the next stage (when that changes the result).
        let challenged = 0;
        for (const s of [1, 2]) {
          const added = stages[s]!.filter((o) => !standing.orders.some((x) => x.id === o.id));
          if (added.length === 0) continue;
          const ch = selectChallenge(
            {
              market: m.id,
              epoch,
              domainSeparator: env.separator,
              orders: stages[s]!.map((o) => o.order),
              collateral: lookupOf(collateral),
            },
            { header: standing.header, orders: standing.orders, resultHash: standingEvent.resultHash },
          );
          if (ch.outcome !== "challenge") continue;
          const lockedOf = async () => (await tradersEscrow(m.id)).map((x) => x.e.locked);
          const lockedBefore = await lockedOf();
          const challenger = submitters[(run + s) % 3]!;
          // The honest challenge never reverts, whatever was requested or withdrawn meanwhile.
          const challenge = await challengeTx(
            env,
            challenger,
            m,
            epoch,
            standingEvent.submitter,
            bytesToHex(ch.bytes),
            {
              blind: true,
            },
          );
          expect(challenge.resultHash).toBe(ch.selection.clearing.resultHash);
          const lockedAfter = await lockedOf();
          undoFromLocked += lockedAfter.filter((l, k) => l < lockedBefore[k]!).length;
          standingEvent = challenge;
          standing = { header: ch.header, orders: ch.orders, clearing: ch.selection.clearing };
          held.set(`${m.id}/${epoch}`, { event: standingEvent, market: m.id });
          challenged++;
          challenges++;
          if (s === 1) await requestWithdrawals(true);
        }
        if (challenged > 0) sequences++;

        // The final result only, against the totals before the epoch.
        const price = standing.clearing.price ?? 0n; // no fills when nothing trades
        const byId = new Map(signed.map((o) => [o.id, o.order]));
        for (const f of standing.clearing.fills) {
          const o = byId.get(f.id)!;
          const pay = f.quantity * price;
          if (o.side === "buy") {
            adjust(o.trader, Asset.QUOTE, -pay);
            adjust(o.trader, Asset.BASE, f.quantity);
          } else {
            adjust(o.trader, Asset.BASE, -f.quantity);
            adjust(o.trader, Asset.QUOTE, pay - (pay * feeBps) / 10_000n);
          }
        }
        await readMarket(m.id);
        for (const [k, v] of base) {
          const now = latest.get(k)!;
          expect(now.free + now.locked, k).toBe(v);
          expect(now.free >= 0n && now.locked >= 0n).toBe(true);
        }
        await checkConservation();
      }),
      { numRuns: RUNS, seed: 20_260_301, endOnFailure: true },
    );
    expect(run).toBeGreaterThanOrEqual(RUNS);
    // Every counted run is a proposal and at least one challenge (the union of all its orders clears
    // differently from the proposal: the property skips the other runs).
    expect(sequences).toBe(RUNS);
    expect(challenges).toBeGreaterThan(RUNS);
    // The undo took from funds locked in the window (credits requested for withdrawal), as the argument says.
    expect(creditsRequested).toBeGreaterThan(0);
    expect(undoFromLocked).toBeGreaterThan(0);
  });
});
