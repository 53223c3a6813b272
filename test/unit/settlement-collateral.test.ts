// Collateral and the client against a real anvil: collateralOf across epochs, the withdrawal delay, the
// safety argument (a withdrawal requested during epoch e+1 right before the settlement of e does not
// make the honest settlement revert), a batch produced by clear() settling with exact balances, and the
// client's reading back (getSettlement, watchSettlements), error mapping and nonce handling.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClearingResult, clear, computeResultHash } from "../../clearing/clear.ts";
import { applyCoverage, type Collateral } from "../../clearing/coverage.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { SignedOrder } from "../../protocol/order.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import { type SettlementClient, waitForReceipt } from "../../settlement/client.ts";
import { Asset, toSignedFill } from "../../settlement/encoding.ts";
import { SettlementRevertError } from "../../settlement/errors.ts";
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

/** What every node does for epoch e during e+1: read collateral, apply the coverage rule, clear. */
async function clearEpoch(
  client: SettlementClient,
  market: Hex,
  epoch: bigint,
  orders: readonly IdentifiedOrder[],
): Promise<{ result: ClearingResult; byId: Map<Hex, SignedOrder>; collateral: Map<Hex, Collateral> }> {
  const traders = [...new Set(orders.map((o) => o.order.trader))];
  const collateral = new Map<Hex, Collateral>();
  for (const t of traders) {
    collateral.set(t, {
      base: await client.collateralOf(market, t, Asset.BASE, epoch),
      quote: await client.collateralOf(market, t, Asset.QUOTE, epoch),
    });
  }
  const { covered } = applyCoverage(
    orders.map((o) => ({ ...o.order, id: o.id })),
    (t) => collateral.get(t)!,
  );
  const result = clear(covered, { market, epoch });
  return { result, byId: new Map(orders.map((o) => [o.id, o.order])), collateral };
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
    await c.deposit(m.id, Asset.QUOTE, 1n); // a change in epoch 4: checkpoint of the start of epoch 4
    expect(await c.collateralOf(m.id, me, Asset.QUOTE, 3n)).toBe(1300n);
    await expectRevert(c.collateralOf(m.id, me, Asset.QUOTE, 2n), "CollateralNoLongerKnown", {
      epoch: 2n,
      snapshotEpoch: 4n,
    });
    await expectRevert(c.collateralOf(m.id, me, Asset.QUOTE, 0n), "CollateralNoLongerKnown", {
      epoch: 0n,
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
    await expectRevert(c.withdraw(m.id, Asset.BASE), "WithdrawalNotReady", {
      currentEpoch: 2n,
      readyEpoch: 3n,
    });
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

describe("settling a batch produced by clear()", () => {
  let m: { id: Hex; genesis: bigint; epochLength: bigint };
  let traders: Trader[];
  let submitter: SettlementClient;
  const orders: IdentifiedOrder[] = [];

  beforeAll(async () => {
    m = await newMarket(env, 1000n, 25n); // 0.25 % fee
    traders = makeTraders(6, "clear");
    await fund(env, m.id, [
      { trader: traders[0]!, asset: Asset.QUOTE, amount: 10_000n },
      { trader: traders[1]!, asset: Asset.QUOTE, amount: 6_000n },
      { trader: traders[2]!, asset: Asset.QUOTE, amount: 20_000n },
      { trader: traders[3]!, asset: Asset.BASE, amount: 120n },
      { trader: traders[4]!, asset: Asset.BASE, amount: 70n },
      { trader: traders[5]!, asset: Asset.BASE, amount: 300n },
    ]);
    submitter = clientFor(env, env.anvil.accounts[2]!.privateKey);
    const o = (i: number, side: "buy" | "sell", quantity: bigint, limitPrice: bigint, nonce = 1n) =>
      makeOrder(m.id, 0n, { trader: traders[i]!, side, quantity, limitPrice, nonce }, env.separator);
    orders.push(
      o(0, "buy", 60n, 110n),
      o(0, "buy", 50n, 105n, 2n), // with the one above: 6600 + 5250 > 10000, one of them is not covered
      o(1, "buy", 40n, 120n),
      o(2, "buy", 100n, 98n),
      o(3, "sell", 100n, 95n),
      o(3, "sell", 30n, 99n, 2n), // 100 + 30 > 120: one of them is not covered
      o(4, "sell", 70n, 101n),
      o(5, "sell", 90n, 104n),
    );
  });

  it("settles during epoch + 1 even when every trader withdraws everything just before", async () => {
    await moveToEpoch(env, m, 1n, 3n);
    const { result, byId, collateral } = await clearEpoch(submitter, m.id, 0n, orders);
    expect(result.price).not.toBeNull();
    expect(result.fills.length).toBeGreaterThanOrEqual(3);
    expect(result.resultHash).toBe(computeResultHash(m.id, 0n, result.price, result.volume, result.fills));
    // Every trader pulls its whole free balance out during epoch 1, before the settlement of epoch 0.
    for (const t of traders) {
      const c = clientFor(env, t.privateKey);
      for (const asset of [Asset.BASE, Asset.QUOTE]) {
        const { free } = await c.escrowOf(m.id, t.address, asset);
        if (free > 0n) await c.requestWithdrawal(m.id, asset, free);
      }
    }
    // What nodes read for epoch 0 has not moved.
    for (const t of traders) {
      expect(await submitter.collateralOf(m.id, t.address, Asset.QUOTE, 0n)).toBe(
        collateral.get(t.address)!.quote,
      );
      expect(await submitter.collateralOf(m.id, t.address, Asset.BASE, 0n)).toBe(
        collateral.get(t.address)!.base,
      );
    }
    const feeBefore = (await submitter.escrowOf(m.id, submitter.address, Asset.QUOTE)).free;
    const settled = await submitter.settle(m.id, 0n, result, byId);
    expect(settled.resultHash).toBe(result.resultHash);

    // Balances equal the clearing result: payment = fill x price exactly, fee rounded down per sell fill.
    const price = result.price!;
    let fees = 0n;
    for (const t of traders) {
      let quote = collateral.get(t.address)!.quote;
      let base = collateral.get(t.address)!.base;
      for (const f of result.fills) {
        const order = byId.get(f.id)!;
        if (order.trader !== t.address) continue;
        if (order.side === "buy") {
          quote -= f.quantity * price;
          base += f.quantity;
        } else {
          const fee = (f.quantity * price * 25n) / 10_000n;
          fees += fee;
          quote += f.quantity * price - fee;
          base -= f.quantity;
        }
      }
      // Debits came out of the locked funds (free was 0); credits went to free.
      const q = await submitter.escrowOf(m.id, t.address, Asset.QUOTE);
      const b = await submitter.escrowOf(m.id, t.address, Asset.BASE);
      expect(q.free + q.locked).toBe(quote);
      expect(b.free + b.locked).toBe(base);
    }
    expect((await submitter.escrowOf(m.id, submitter.address, Asset.QUOTE)).free).toBe(feeBefore + fees);

    // The chain's record rebuilds the same fills and the signed orders.
    const rec = await submitter.getSettlement(m.id, 0n);
    expect(rec).not.toBeNull();
    expect(rec!.fills.map((f) => ({ id: f.id, quantity: f.quantity }))).toEqual(result.fills);
    for (const f of rec!.fills) expect(f.order).toEqual(byId.get(f.id));
    expect([rec!.price, rec!.volume, rec!.resultHash]).toEqual([price, result.volume, result.resultHash]);
    expect(await submitter.getSettlement(m.id, 1n)).toBeNull();

    // A second settlement of the epoch fails with a readable error through the client.
    await expectRevert(submitter.settle(m.id, 0n, result, byId), "AlreadySettled", {
      market: m.id,
      epoch: 0n,
    });

    // The locked remainder comes out after the delay.
    await moveToEpoch(env, m, 3n);
    const t0 = clientFor(env, traders[0]!.privateKey);
    const locked = (await t0.escrowOf(m.id, t0.address, Asset.QUOTE)).locked;
    const before = await t0.tokenBalance(env.quote, t0.address);
    expect((await t0.withdraw(m.id, Asset.QUOTE)).amount).toBe(locked);
    expect(await t0.tokenBalance(env.quote, t0.address)).toBe(before + locked);
  });

  it("funds locked in an earlier epoch do not back a settlement", async () => {
    // Epoch 3 now. A buyer locks everything in epoch 3; in epoch 4 its epoch-3 order needs collateral
    // that is no longer free, and the lock is not of epoch 4: the (dishonest) batch reverts.
    const [buyer, seller] = makeTraders(2, "stale-lock");
    await fund(env, m.id, [
      { trader: buyer!, asset: Asset.QUOTE, amount: 1000n },
      { trader: seller!, asset: Asset.BASE, amount: 10n },
    ]);
    const b = makeOrder(
      m.id,
      3n,
      { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 100n },
      env.separator,
    );
    const s = makeOrder(
      m.id,
      3n,
      { trader: seller!, side: "sell", quantity: 10n, limitPrice: 100n },
      env.separator,
    );
    await clientFor(env, buyer!.privateKey).requestWithdrawal(m.id, Asset.QUOTE, 1000n);
    await moveToEpoch(env, m, 4n);
    expect(await submitter.collateralOf(m.id, buyer!.address, Asset.QUOTE, 3n)).toBe(0n); // not covered
    const fills = [toSignedFill(b.order, 10n), toSignedFill(s.order, 10n)];
    if (b.id > s.id) fills.reverse();
    await expectRevert(
      submitter.settleFills({ market: m.id, epoch: 3n, price: 100n, fills }),
      "InsufficientCollateral",
      { trader: buyer!.address, asset: 1n, needed: 1000n, available: 0n },
    );
  });
});

describe("client", () => {
  it("settledEvents reads every settlement in chain order, filtered by market; getSettlement decodes indirect calls by tracing", async () => {
    const m = await newMarket(env);
    const [buyer, seller] = makeTraders(2, "watch");
    await fund(env, m.id, [
      { trader: buyer!, asset: Asset.QUOTE, amount: 1_000_000n },
      { trader: seller!, asset: Asset.BASE, amount: 1000n },
    ]);
    const from = await env.provider.getBlockNumber();
    const watcher = clientFor(env, env.anvil.accounts[3]!.privateKey);
    // A forwarder contract (hand-assembled: calldatacopy, call the settlement contract, bubble the result)
    // so that settle() is an inner call and the transaction's own calldata is not a settle() call.
    const target = env.settlement.slice(2);
    const runtime = `365f5f375f5f365f5f73${target}5af13d5f5f3e602a573d5ffd5b3d5ff3`;
    const runtimeLength = runtime.length / 2;
    const init = `60${runtimeLength.toString(16)}600a5f3960${runtimeLength.toString(16)}5ff3`;
    const deployer = env.admin;
    const forwarderTx = await env.provider
      .getSigner(3)
      .then((s) => s.sendTransaction({ data: `0x${init}${runtime}` }));
    const forwarder = (
      await waitForReceipt(env.provider, forwarderTx.hash)
    ).contractAddress!.toLowerCase() as Hex;
    expect(await env.provider.getCode(forwarder)).toBe(`0x${runtime}`);

    for (const epoch of [0n, 1n]) {
      const b = makeOrder(
        m.id,
        epoch,
        { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 50n + epoch },
        env.separator,
      );
      const s = makeOrder(
        m.id,
        epoch,
        { trader: seller!, side: "sell", quantity: 10n, limitPrice: 40n },
        env.separator,
      );
      const result = clear(
        [b, s].map((o) => ({ ...o.order, id: o.id })),
        { market: m.id, epoch },
      );
      await moveToEpoch(env, m, epoch + 1n);
      const byId = new Map([b, s].map((o) => [o.id, o.order]));
      if (epoch === 0n) {
        await deployer.settle(m.id, epoch, result, byId);
      } else {
        // Through the forwarder.
        const fills = result.fills.map((f) => toSignedFill(byId.get(f.id)!, f.quantity));
        const data = smartMarketInterface.encodeFunctionData("settle", [
          m.id,
          epoch,
          result.price,
          fills.map((f) => [f.side, f.quantity, f.limitPrice, f.nonce, f.trader, f.fill, f.v, f.r, f.s]),
        ]);
        const signer = await env.provider.getSigner(3);
        const sent = await signer.sendTransaction({ to: forwarder, data, gasLimit: 1_000_000n });
        expect((await waitForReceipt(env.provider, sent.hash)).status).toBe(1);
        const rec = await watcher.getSettlement(m.id, epoch);
        expect(rec?.submitter).toBe(forwarder);
        expect(rec?.fills.map((f) => ({ id: f.id, quantity: f.quantity }))).toEqual(result.fills);
      }
    }
    const to = await env.provider.getBlockNumber();
    const events = await watcher.settledEvents({ fromBlock: from, toBlock: to, markets: [m.id] });
    expect(events.map((r) => r.epoch)).toEqual([0n, 1n]);
    expect(events.every((r) => r.market === m.id)).toBe(true);
    expect(events[0]!.blockNumber).toBeLessThan(events[1]!.blockNumber);
    // Another market's filter sees none of them; no filter sees them among all markets' settlements.
    const other = `0x${"42".repeat(32)}` as Hex;
    expect(await watcher.settledEvents({ fromBlock: from, toBlock: to, markets: [other] })).toEqual([]);
    const all = await watcher.settledEvents({ fromBlock: from, toBlock: to });
    expect(all.filter((r) => r.market === m.id)).toEqual(events);
    const second = await watcher.getSettlement(m.id, 1n);
    expect(second?.fills.length).toBe(2);
    expect(second?.txHash).toBe(events[1]!.txHash);
  });

  it("sends concurrent transactions from one wallet without nonce collisions; a revert burns no nonce", async () => {
    const c = clientFor(env, env.anvil.accounts[1]!.privateKey);
    const start = await env.provider.getTransactionCount(c.address, "latest");
    const unknown = `0x${"77".repeat(32)}` as Hex;
    const results = await Promise.allSettled([
      ...Array.from({ length: 6 }, () => c.mintTestToken(env.base, c.address, 1n)),
      c.deposit(unknown, Asset.BASE, 1n), // reverts at estimation
      ...Array.from({ length: 6 }, () => c.mintTestToken(env.quote, c.address, 1n)),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(12);
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(SettlementRevertError);
    expect(await env.provider.getTransactionCount(c.address, "latest")).toBe(start + 12);
    // And the next transaction goes through at once.
    await c.mintTestToken(env.base, c.address, 1n);
  });

  it("maps a transaction mined as reverted (another node settled first) to the contract's error", async () => {
    const m = await newMarket(env);
    const [buyer, seller] = makeTraders(2, "race");
    await fund(env, m.id, [
      { trader: buyer!, asset: Asset.QUOTE, amount: 10_000n },
      { trader: seller!, asset: Asset.BASE, amount: 100n },
    ]);
    const b = makeOrder(
      m.id,
      0n,
      { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 50n },
      env.separator,
    );
    const s = makeOrder(
      m.id,
      0n,
      { trader: seller!, side: "sell", quantity: 10n, limitPrice: 40n },
      env.separator,
    );
    const result = clear(
      [b, s].map((o) => ({ ...o.order, id: o.id })),
      { market: m.id, epoch: 0n },
    );
    const byId = new Map([b, s].map((o) => [o.id, o.order]));
    await moveToEpoch(env, m, 1n);
    const nodes = [
      clientFor(env, env.anvil.accounts[1]!.privateKey),
      clientFor(env, env.anvil.accounts[2]!.privateKey),
    ];
    await env.provider.send("evm_setAutomine", [false]);
    let attempts: Promise<unknown>[] = [];
    try {
      attempts = nodes.map((n) => n.settle(m.id, 0n, result, byId));
      // Both estimates pass (nothing is settled yet); wait until both transactions are in the pool.
      let pending = 0;
      for (let i = 0; i < 500 && pending < 2; i++) {
        pending = Number(((await env.provider.send("txpool_status", [])) as { pending: string }).pending);
        if (pending < 2) await new Promise((r) => setTimeout(r, 10));
      }
      expect(pending).toBe(2);
      await env.provider.send("evm_mine", []);
    } finally {
      await env.provider.send("evm_setAutomine", [true]);
      await env.provider.send("evm_mine", []); // whatever else is in the pool
    }
    const outcomes = await Promise.allSettled(attempts);
    const ok = outcomes.filter((o) => o.status === "fulfilled");
    const bad = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
    expect(ok).toHaveLength(1);
    expect(bad).toHaveLength(1);
    expect(bad[0]!.reason).toBeInstanceOf(SettlementRevertError);
    expect((bad[0]!.reason as SettlementRevertError).errorName).toBe("AlreadySettled");
  });

  it("refuses to submit what cannot be right: no trade, a missing order, an order of another domain", async () => {
    const m = await newMarket(env);
    const c = clientFor(env, env.anvil.accounts[1]!.privateKey);
    const [buyer, seller] = makeTraders(2, "refuse");
    const noTrade = clear([], { market: m.id, epoch: 0n });
    await expect(c.settle(m.id, 0n, noTrade, new Map())).rejects.toThrow(/no trade/);
    const b = makeOrder(
      m.id,
      0n,
      { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 50n },
      env.separator,
    );
    const s = makeOrder(
      m.id,
      0n,
      { trader: seller!, side: "sell", quantity: 10n, limitPrice: 40n },
      env.separator,
    );
    const result = clear(
      [b, s].map((o) => ({ ...o.order, id: o.id })),
      { market: m.id, epoch: 0n },
    );
    await expect(c.settle(m.id, 0n, result, new Map([[b.id, b.order]]))).rejects.toThrow(/no signed order/);
    const foreign = new Uint8Array(32).fill(7);
    const b2 = makeOrder(m.id, 0n, { trader: buyer!, side: "buy", quantity: 10n, limitPrice: 50n }, foreign);
    const r2 = clear(
      [
        { ...b2.order, id: b2.id },
        { ...s.order, id: s.id },
      ],
      { market: m.id, epoch: 0n },
    );
    await expect(
      c.settle(
        m.id,
        0n,
        r2,
        new Map([
          [b2.id, b2.order],
          [s.id, s.order],
        ]),
      ),
    ).rejects.toThrow(/hashes to/);
    await expect(c.settle(m.id, 1n, result, new Map())).rejects.toThrow(/not/);
  });
});
