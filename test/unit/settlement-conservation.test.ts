// Conservation over many random epochs on a real anvil: each run signs random orders, does what every
// node does (read collateralOf, apply the coverage rule, clear), lets traders request withdrawals,
// deposit and withdraw during the settlement window, settles, and checks that
//   - the honest settlement never reverts (the collateral rule's safety),
//   - per token, the sum of all internal balances (free + locked, fees included) is unchanged by settle,
//   - the contract's token balance equals the sum of the internal balances (over both markets),
//   - every balance equals an off-chain model of the fills (payment = fill x price, fee rounded down),
//     so no trader ends below zero.
// Time moves by explicit block timestamps, never by sleeping.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import { applyCoverage } from "../../clearing/coverage.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { SettlementClient } from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import {
  clientFor,
  type Env,
  fund,
  type IdentifiedOrder,
  makeOrder,
  makeTraders,
  moveToEpoch,
  newMarket,
  startEnv,
  type Trader,
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

interface Run {
  readonly orders: { trader: number; buy: boolean; quantity: bigint; limit: bigint }[];
  /** Withdrawal requests made during the window, before the settlement: a per-mille of the free balance. */
  readonly requests: { trader: number; asset: Asset; perMille: number }[];
  readonly deposit: { trader: number; asset: Asset; amount: bigint } | null;
  readonly withdrawReady: boolean;
}

const runArb: fc.Arbitrary<Run> = fc.record({
  // Buys mostly above sells so that most books trade (a run whose book does not trade is skipped, so
  // that exactly RUNS settlements are checked); the overlap still leaves many orders unfilled.
  orders: fc.array(
    fc
      .record({
        trader: fc.nat(TRADERS - 1),
        buy: fc.boolean(),
        quantity: fc.bigInt(1n, 2000n),
        limit: fc.bigInt(1n, 250n),
      })
      .map((o) => (o.buy ? { ...o, limit: o.limit + 150n } : o)),
    { minLength: 2, maxLength: 14 },
  ),
  requests: fc.array(
    fc.record({
      trader: fc.nat(TRADERS - 1),
      asset: fc.constantFrom(Asset.BASE, Asset.QUOTE),
      perMille: fc.integer({ min: 1, max: 1000 }),
    }),
    { maxLength: 3 },
  ),
  deposit: fc.option(
    fc.record({
      trader: fc.nat(TRADERS - 1),
      asset: fc.constantFrom(Asset.BASE, Asset.QUOTE),
      amount: fc.bigInt(1n, 1_000_000n),
    }),
    { freq: 8 },
  ),
  withdrawReady: fc.boolean(),
});

type Balances = Map<string, { free: bigint; locked: bigint }>;
const key = (market: Hex, who: Hex, asset: Asset) => `${market}/${who}/${asset}`;

describe("conservation", () => {
  it(`holds over ${RUNS} random settlements with withdrawals, deposits and fees`, async () => {
    const markets = [await newMarket(env, 1000n, 37n), await newMarket(env, 1000n, 1000n)];
    const traders = makeTraders(TRADERS, "conservation");
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
    const clients = new Map<Hex, SettlementClient>(
      traders.map((t) => [t.address, clientFor(env, t.privateKey)]),
    );
    const submitters = [
      clientFor(env, env.anvil.accounts[1]!.privateKey),
      clientFor(env, env.anvil.accounts[2]!.privateKey),
    ];
    const accounts: Hex[] = [...traders.map((t) => t.address), ...submitters.map((s) => s.address)];
    const reader = submitters[0]!;

    // Balances of both markets; only the market being settled is re-read (the other one cannot change).
    const latest: Balances = new Map();
    const readMarket = async (market: Hex): Promise<Balances> => {
      const reads: Promise<void>[] = [];
      for (const a of accounts)
        for (const asset of [Asset.BASE, Asset.QUOTE])
          reads.push(
            reader.escrowOf(market, a, asset).then((e) => {
              latest.set(key(market, a, asset), { free: e.free, locked: e.locked });
            }),
          );
      await Promise.all(reads);
      return new Map(latest);
    };
    const internalSum = (b: Balances, asset: Asset) => {
      let sum = 0n;
      for (const [k, v] of b) if (k.endsWith(`/${asset}`)) sum += v.free + v.locked;
      return sum;
    };
    const checkContractHoldings = async (b: Balances) => {
      expect(await reader.tokenBalance(env.base, env.settlement)).toBe(internalSum(b, Asset.BASE));
      expect(await reader.tokenBalance(env.quote, env.settlement)).toBe(internalSum(b, Asset.QUOTE));
    };

    let run = 0;
    let settledCount = 0;
    let lockedDebits = 0;
    for (const m of markets) await readMarket(m.id);
    await checkContractHoldings(latest);
    await fc.assert(
      fc.asyncProperty(runArb, async (r) => {
        const m = markets[run % 2]!;
        const submitter = submitters[run % 2]!;
        // Epoch `epoch` is cleared and settled during epoch + 1, reached by mining a block in it.
        const epoch = BigInt(run);
        run++;
        await moveToEpoch(env, m, epoch + 1n, 2n);

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
        // What every node does: collateral at the close of the epoch, coverage rule, clearing.
        const involved = [...new Set(signed.map((o) => o.order.trader))];
        const collateral = new Map(
          await Promise.all(
            involved.map(
              async (t) =>
                [
                  t,
                  {
                    base: await reader.collateralOf(m.id, t, Asset.BASE, epoch),
                    quote: await reader.collateralOf(m.id, t, Asset.QUOTE, epoch),
                  },
                ] as const,
            ),
          ),
        );
        const { covered } = applyCoverage(
          signed.map((o) => ({ ...o.order, id: o.id })),
          (t) => collateral.get(t)!,
        );
        const result = clear(covered, { market: m.id, epoch });

        // Meanwhile, during the window: withdrawal requests, a deposit, a withdrawal of ready funds.
        for (const q of r.requests) {
          const t: Trader = traders[q.trader]!;
          const { free } = await reader.escrowOf(m.id, t.address, q.asset);
          const amount = (free * BigInt(q.perMille)) / 1000n;
          if (amount > 0n) await clients.get(t.address)!.requestWithdrawal(m.id, q.asset, amount);
        }
        if (r.deposit) {
          const c = clients.get(traders[r.deposit.trader]!.address)!;
          await c.mintTestToken(
            r.deposit.asset === Asset.BASE ? env.base : env.quote,
            c.address,
            r.deposit.amount,
          );
          await c.deposit(m.id, r.deposit.asset, r.deposit.amount);
        }
        if (r.withdrawReady) {
          const ready = traders.flatMap((t) =>
            [Asset.BASE, Asset.QUOTE].map((asset) => ({
              t,
              asset,
              e: latest.get(key(m.id, t.address, asset))!,
            })),
          );
          for (const { t, asset, e } of ready) {
            // `latest` is from before this run's requests, which only lock in epoch + 1: not ready yet.
            if (
              e.locked > 0n &&
              epoch + 1n >= (await reader.escrowOf(m.id, t.address, asset)).lockedEpoch + 2n
            ) {
              await clients.get(t.address)!.withdraw(m.id, asset);
            }
          }
        }

        const before = await readMarket(m.id);
        await checkContractHoldings(before);
        // No trade, nothing to settle: not one of the RUNS settlements (fast-check draws another run).
        fc.pre(result.price !== null);
        if (result.price === null) return;

        // The model: each fill moves exactly fill x price; sellers pay floor(fill x price x fee / 10000).
        const feeBps = m === markets[0] ? 37n : 1000n;
        const expected = new Map([...before].map(([k, v]) => [k, v.free + v.locked]));
        const add = (who: Hex, asset: Asset, delta: bigint) => {
          const k = key(m.id, who, asset);
          expected.set(k, expected.get(k)! + delta);
        };
        const byId = new Map(signed.map((o) => [o.id, o.order]));
        for (const f of result.fills) {
          const o = byId.get(f.id)!;
          const pay = f.quantity * result.price;
          if (o.side === "buy") {
            add(o.trader, Asset.QUOTE, -pay);
            add(o.trader, Asset.BASE, f.quantity);
          } else {
            const fee = (pay * feeBps) / 10_000n;
            add(o.trader, Asset.BASE, -f.quantity);
            add(o.trader, Asset.QUOTE, pay - fee);
            add(submitter.address, Asset.QUOTE, fee);
          }
        }

        // The honest settlement never reverts, whatever was withdrawn meanwhile.
        const settled = await submitter.settle(m.id, epoch, result, byId);
        expect(settled.resultHash).toBe(result.resultHash);
        settledCount++;

        const after = await readMarket(m.id);
        for (const [k, v] of after) {
          expect(v.free + v.locked, k).toBe(expected.get(k));
          expect(v.free + v.locked >= 0n).toBe(true);
          if (v.locked < before.get(k)!.locked) lockedDebits++;
        }
        expect(internalSum(after, Asset.BASE)).toBe(internalSum(before, Asset.BASE));
        expect(internalSum(after, Asset.QUOTE)).toBe(internalSum(before, Asset.QUOTE));
        await checkContractHoldings(after);
      }),
      { numRuns: RUNS, seed: 20_260_101, endOnFailure: true },
    );
    // Every counted run settled: RUNS honest settlements, each conserving every token, plus the skipped
    // runs whose book did not trade (their withdrawals and deposits were checked too).
    expect(settledCount).toBe(RUNS);
    expect(run).toBeGreaterThanOrEqual(RUNS);
    // Debits drawn from funds locked in the window were exercised.
    expect(lockedDebits).toBeGreaterThan(0);
  });
});
