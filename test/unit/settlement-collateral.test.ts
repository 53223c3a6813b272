// Collateral against a real anvil (docs/settlement.md "The collateral rule", docs/certified-settlement.md
// "Effects, undo, and why the undo never fails"): collateralOf across epochs, the withdrawal delay, and the
// safety of proposals and challenges — no withdrawal request, withdrawal, deposit or later action makes an
// honest proposal or challenge revert for lack of funds, credits of a result that can still be challenged
// cannot be withdrawn, and a batch selected from clear() settles with exact balances through the client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Collateral } from "../../clearing/coverage.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import type { SignedOrder } from "../../protocol/order.ts";
import { selectChallenge } from "../../settlement/batch.ts";
import { finalizeItemOf, type SettlementClient } from "../../settlement/client.ts";
import { SettlementRevertError } from "../../settlement/errors.ts";
import {
  Asset,
  clientFor,
  type Env,
  fund,
  type IdentifiedOrder,
  lookupOf,
  type MarketV2,
  makeOrder,
  makeTraders,
  moveToEpoch,
  newMarket,
  readCollateral,
  selectTrading,
  startEnv,
  type Trader,
} from "./settlement-fixture.ts";

let env: Env;

beforeAll(async () => {
  env = await startEnv();
});

afterAll(async () => {
  await env?.close();
});

async function expectRevert(
  p: Promise<unknown>,
  name: string,
  args?: Record<string, unknown>,
): Promise<void> {
  const err = await p.then(
    () => new Error("expected a revert, the call succeeded"),
    (e: unknown) => e,
  );
  if (!(err instanceof SettlementRevertError)) throw err;
  expect(err.errorName).toBe(name);
  if (args) expect(err.args).toEqual(args);
}

/** free + locked of (trader, asset). */
async function total(c: SettlementClient, market: Hex, trader: Hex, asset: Asset): Promise<bigint> {
  const e = await c.escrowOf(market, trader, asset);
  return e.free + e.locked;
}

/** What `result`'s fills do to each trader's totals at `price` with `feeBps` (fee rounded down per sell fill). */
function effects(
  fills: readonly { id: Hex; quantity: bigint }[],
  byId: ReadonlyMap<Hex, SignedOrder>,
  price: bigint,
  feeBps: bigint,
): { delta: Map<string, bigint>; fees: bigint } {
  const delta = new Map<string, bigint>();
  const add = (t: Hex, a: Asset, d: bigint) => delta.set(`${t}/${a}`, (delta.get(`${t}/${a}`) ?? 0n) + d);
  let fees = 0n;
  for (const f of fills) {
    const o = byId.get(f.id)!;
    const pay = f.quantity * price;
    if (o.side === "buy") {
      add(o.trader, Asset.QUOTE, -pay);
      add(o.trader, Asset.BASE, f.quantity);
    } else {
      const fee = (pay * feeBps) / 10_000n;
      fees += fee;
      add(o.trader, Asset.BASE, -f.quantity);
      add(o.trader, Asset.QUOTE, pay - fee);
    }
  }
  return { delta, fees };
}

describe("collateralOf", () => {
  it("is the free balance at the close of the epoch, stable during epoch + 1, unknown after a later change", async () => {
    const m = await newMarket(env);
    const c = clientFor(env, env.anvil.accounts[1]!.privateKey);
    const me = c.address;
    await c.mintTestToken(env.quote, me, 10_000n);

    await moveToEpoch(env, m, 0n, 10n);
    await expectRevert(c.collateralOf(m.id, me, Asset.QUOTE, 0n), "EpochNotClosed", {
      epoch: 0n,
      currentEpoch: 0n,
    });
    await c.deposit(m.id, Asset.QUOTE, 1000n); // epoch 0
    await moveToEpoch(env, m, 1n);
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 0n)).toBe(1000n);
    // Changes during epoch 1 do not change what epoch 0's collateral was.
    await c.deposit(m.id, Asset.QUOTE, 500n);
    await c.requestWithdrawal(m.id, Asset.QUOTE, 200n);
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 0n)).toBe(1000n);
    await expectRevert(c.collateralOf(m.id, me, Asset.QUOTE, 1n), "EpochNotClosed", {
      epoch: 1n,
      currentEpoch: 1n,
    });
    await moveToEpoch(env, m, 2n);
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 0n)).toBe(1000n); // no change since: still known
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 1n)).toBe(1300n);
    await moveToEpoch(env, m, 4n);
    // Nothing changed in epochs 2 and 3: the free balance at their close is today's.
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 2n)).toBe(1300n);
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 3n)).toBe(1300n);
    const d = await c.deposit(m.id, Asset.QUOTE, 1n); // a change in epoch 4: checkpoint of the start of epoch 4
    // Reads at a block number (a JSON-RPC quantity) see that block's state, not the head's.
    expect((await c.escrowOf(m.id, me, Asset.QUOTE, d.blockNumber - 1)).free).toBe(1300n);
    expect((await c.escrowOf(m.id, me, Asset.QUOTE, BigInt(d.blockNumber))).free).toBe(1301n);
    expect((await c.escrowOf(m.id, me, Asset.QUOTE, "latest")).free).toBe(1301n);
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 3n)).toBe(1300n);
    await expectRevert(c.collateralOf(m.id, me, Asset.QUOTE, 2n), "CollateralNoLongerKnown", {
      epoch: 2n,
      snapshotEpoch: 4n,
    });
    // The other asset was touched at the first deposit (so that a first credit is cheap) but never changed.
    expect(await c.collateralOf(m.id, me, Asset.BASE, 3n)).toBe(0n);
    expect(await c.escrowOf(m.id, me, Asset.BASE)).toMatchObject({ free: 0n, checkpointEpoch: 0n });
  });
});

describe("withdrawal", () => {
  it("fails before WITHDRAWAL_DELAY_EPOCHS epochs, succeeds after, and restarts the delay on a new request", async () => {
    const m = await newMarket(env);
    const c = clientFor(env, env.anvil.accounts[1]!.privateKey);
    await c.mintTestToken(env.base, c.address, 700n);
    await c.deposit(m.id, Asset.BASE, 700n);
    await moveToEpoch(env, m, 1n);
    await c.requestWithdrawal(m.id, Asset.BASE, 300n); // locked in epoch 1: ready in epoch 3
    expect(await c.escrowOf(m.id, c.address, Asset.BASE)).toMatchObject({
      free: 400n,
      locked: 300n,
      lockedEpoch: 1n,
    });
    await expectRevert(c.withdraw(m.id, Asset.BASE), "WithdrawalNotReady", {
      currentEpoch: 1n,
      readyEpoch: 3n,
    });
    await moveToEpoch(env, m, 2n);
    await c.requestWithdrawal(m.id, Asset.BASE, 100n); // merged: 400 locked in epoch 2, ready in epoch 4
    await moveToEpoch(env, m, 3n);
    await expectRevert(c.withdraw(m.id, Asset.BASE), "WithdrawalNotReady", {
      currentEpoch: 3n,
      readyEpoch: 4n,
    });
    await moveToEpoch(env, m, 4n);
    const before = await c.tokenBalance(env.base, c.address);
    const w = await c.withdraw(m.id, Asset.BASE);
    expect(w.amount).toBe(400n);
    expect(await c.tokenBalance(env.base, c.address)).toBe(before + 400n);
    expect(await c.escrowOf(m.id, c.address, Asset.BASE)).toMatchObject({ free: 300n, locked: 0n });
    await expectRevert(c.withdraw(m.id, Asset.BASE), "NothingToWithdraw");
  });
});

/**
 * One epoch of a market with a fee: traders with several orders (some left out by coverage), an attacker's
 * subset proposed first, and everything the traders can do meanwhile.
 */
describe("proposals and challenges never run short of funds", () => {
  const FEE = 25n;
  let m: MarketV2;
  let traders: Trader[];
  let orders: IdentifiedOrder[];
  let byId: Map<Hex, SignedOrder>;
  let collateral: Map<Hex, Collateral>;
  let node: SettlementClient;
  let attacker: SettlementClient;
  const initial = new Map<string, bigint>();

  beforeAll(async () => {
    m = await newMarket(env, { feeBps: FEE, bondWei: 10n ** 15n });
    traders = makeTraders(6, "safety");
    const fundings = [
      // One order may need half of its trader's escrow of the asset it spends.
      { trader: traders[0]!, asset: Asset.QUOTE, amount: 12_000n },
      { trader: traders[1]!, asset: Asset.QUOTE, amount: 10_000n },
      { trader: traders[2]!, asset: Asset.QUOTE, amount: 20_000n },
      { trader: traders[3]!, asset: Asset.BASE, amount: 200n },
      { trader: traders[4]!, asset: Asset.BASE, amount: 140n },
      { trader: traders[5]!, asset: Asset.BASE, amount: 300n },
    ];
    await fund(env, m.id, fundings);
    node = clientFor(env, env.anvil.accounts[2]!.privateKey);
    attacker = clientFor(env, env.anvil.accounts[3]!.privateKey);
    const o = (i: number, side: "buy" | "sell", quantity: bigint, limitPrice: bigint, nonce = 1n) =>
      makeOrder(m.id, 0n, { trader: traders[i]!, side, quantity, limitPrice, nonce }, env.separator);
    orders = [
      o(0, "buy", 60n, 110n),
      o(0, "buy", 50n, 105n, 2n), // 5250 fits half of 12000; the one above (6600) is not covered
      o(1, "buy", 40n, 120n),
      o(2, "buy", 100n, 98n),
      o(3, "sell", 100n, 95n),
      o(3, "sell", 30n, 99n, 2n), // 100 and 30 each fit half of 200: both covered, 130 in all
      o(4, "sell", 70n, 101n),
      o(5, "sell", 90n, 104n),
    ];
    byId = new Map(orders.map((x) => [x.id, x.order]));
    for (const t of traders)
      for (const a of [Asset.BASE, Asset.QUOTE])
        initial.set(`${t.address}/${a}`, await total(node, m.id, t.address, a));
  });

  it("every trader withdraws everything before the proposal: the honest proposal still settles", async () => {
    await moveToEpoch(env, m, 1n, 3n);
    collateral = await readCollateral(env, m.id, 0n, orders);
    // A subset the attacker proposes: the two cheapest-crossing orders only.
    const subset = selectTrading(env, m.id, 0n, [orders[2]!, orders[4]!], collateral);
    // Everyone pulls its whole free balance out during epoch 1, before any proposal.
    for (const t of traders) {
      const c = clientFor(env, t.privateKey);
      for (const asset of [Asset.BASE, Asset.QUOTE]) {
        const { free } = await c.escrowOf(m.id, t.address, asset);
        if (free > 0n) await c.requestWithdrawal(m.id, asset, free);
      }
    }
    // What nodes read for epoch 0 has not moved.
    expect(await readCollateral(env, m.id, 0n, orders)).toEqual(collateral);
    const { proposal } = await attacker.submitResult(m.id, 0n, subset.bytes, {
      expectedResultHash: subset.clearing.resultHash,
    });
    expect(proposal.event.volume).toBeGreaterThan(0n);
    // Debits came out of the locked funds (free was 0).
    const e = effects(subset.clearing.fills, byId, subset.header.price, FEE);
    for (const t of traders)
      for (const a of [Asset.BASE, Asset.QUOTE]) {
        const k = `${t.address}/${a}`;
        expect(await total(node, m.id, t.address, a)).toBe(initial.get(k)! + (e.delta.get(k) ?? 0n));
      }
  });

  it("credited traders request the credits, others deposit and withdraw: the honest challenge still settles, exactly", async () => {
    // The attacker's result credited BASE to a buyer and QUOTE to a seller: they request all of it (and
    // all of their other free funds), a trader deposits, and the credits cannot be withdrawn yet.
    const credited = [...new Set(orders.map((x) => x.order.trader))];
    for (const t of traders.filter((x) => credited.includes(x.address))) {
      const c = clientFor(env, t.privateKey);
      for (const asset of [Asset.BASE, Asset.QUOTE]) {
        const { free } = await c.escrowOf(m.id, t.address, asset);
        if (free > 0n) await c.requestWithdrawal(m.id, asset, free);
        if ((await c.escrowOf(m.id, t.address, asset)).locked > 0n) {
          await expectRevert(c.withdraw(m.id, asset), "WithdrawalNotReady", {
            currentEpoch: 1n,
            readyEpoch: 3n,
          });
        }
      }
    }
    const depositor = clientFor(env, traders[5]!.privateKey);
    await depositor.mintTestToken(env.quote, depositor.address, 777n);
    await depositor.deposit(m.id, Asset.QUOTE, 777n);

    const standing = await node.standingBatch(m.id, 0n);
    expect(standing).not.toBeNull();
    const ch = selectChallenge(
      {
        market: m.id,
        epoch: 0n,
        domainSeparator: env.separator,
        orders: orders.map((x) => x.order),
        collateral: lookupOf(collateral),
      },
      { header: standing!.header, orders: standing!.orders, resultHash: standing!.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    // The union is the honest clearing of every covered order of the epoch.
    const honest = selectTrading(env, m.id, 0n, orders, collateral);
    expect(ch.selection.clearing.resultHash).toBe(honest.clearing.resultHash);
    const { challenge } = await node.submitChallenge(m.id, 0n, standing!.submitter, ch.bytes, {
      expectedResultHash: honest.clearing.resultHash,
    });
    expect(challenge.event.replaced).toBe(attacker.address);

    // Balances are as if only the honest result had been applied (plus the deposit).
    const e = effects(honest.clearing.fills, byId, honest.header.price, FEE);
    for (const t of traders)
      for (const a of [Asset.BASE, Asset.QUOTE]) {
        const k = `${t.address}/${a}`;
        const deposit = t === traders[5] && a === Asset.QUOTE ? 777n : 0n;
        expect(await total(node, m.id, t.address, a)).toBe(
          initial.get(k)! + (e.delta.get(k) ?? 0n) + deposit,
        );
      }

    // At the close of epoch 1 the result is final: no more challenges, epoch 1 can be proposed, and the
    // collateral of epoch 1 holds the final result of epoch 0. finalize pays the node the fee.
    await moveToEpoch(env, m, 2n);
    await expectRevert(node.submitChallenge(m.id, 0n, node.address, ch.bytes), "ChallengeWindowClosed", {
      epoch: 0n,
      deadline: m.genesis + 2n * m.epochLength,
    });
    for (const t of traders)
      for (const a of [Asset.BASE, Asset.QUOTE])
        expect(await node.collateralOf(m.id, t.address, a, 1n)).toBe(
          (await node.escrowOf(m.id, t.address, a)).free,
        );
    const quoteBefore = (await node.escrowOf(m.id, node.address, Asset.QUOTE)).free;
    await node.finalize(m.id, [finalizeItemOf(challenge.event)]);
    expect((await node.escrowOf(m.id, node.address, Asset.QUOTE)).free).toBe(quoteBefore + e.fees);
    expect(challenge.event.feeTotal).toBe(e.fees);

    // What is locked (the attacker's credits, undone, and the rest) comes out after the delay, now that the
    // result is final: the seller that the attacker's result paid gets what is left of its request.
    await moveToEpoch(env, m, 3n);
    const seller = clientFor(env, traders[3]!.privateKey);
    const locked = (await seller.escrowOf(m.id, seller.address, Asset.BASE)).locked;
    expect(locked).toBeGreaterThan(0n);
    const before = await seller.tokenBalance(env.base, seller.address);
    expect((await seller.withdraw(m.id, Asset.BASE)).amount).toBe(locked);
    expect(await seller.tokenBalance(env.base, seller.address)).toBe(before + locked);
  });

  it("funds locked in an earlier epoch do not back a result: the orders they backed are not covered", async () => {
    // Epoch 3 now. A buyer locks everything in epoch 3: its epoch-3 order is not covered in epoch 4 (its
    // collateral is 0), so the certified result leaves it out instead of reverting.
    const [buyer, seller, other] = makeTraders(3, "stale-lock");
    await fund(env, m.id, [
      { trader: buyer!, asset: Asset.QUOTE, amount: 1000n },
      { trader: seller!, asset: Asset.BASE, amount: 20n },
      { trader: other!, asset: Asset.QUOTE, amount: 1000n },
    ]);
    const book = [
      makeOrder(m.id, 3n, { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 100n }, env.separator),
      makeOrder(m.id, 3n, { trader: other!, side: "buy", quantity: 5n, limitPrice: 100n }, env.separator),
      makeOrder(m.id, 3n, { trader: seller!, side: "sell", quantity: 10n, limitPrice: 100n }, env.separator),
    ];
    await clientFor(env, buyer!.privateKey).requestWithdrawal(m.id, Asset.QUOTE, 1000n);
    await moveToEpoch(env, m, 4n);
    expect(await node.collateralOf(m.id, buyer!.address, Asset.QUOTE, 3n)).toBe(0n);
    const sel = selectTrading(env, m.id, 3n, book, await readCollateral(env, m.id, 3n, book));
    const cert = await node.certify(m.id, 3n, bytesToHex(sel.bytes));
    expect(cert.volume).toBe(5n);
    expect(cert.resultHash).toBe(sel.clearing.resultHash);
    const { proposal } = await node.submitResult(m.id, 3n, sel.bytes, {
      expectedResultHash: sel.clearing.resultHash,
    });
    expect(proposal.event.volume).toBe(5n);
    expect((await node.escrowOf(m.id, buyer!.address, Asset.QUOTE)).locked).toBe(1000n); // untouched
  });
});
