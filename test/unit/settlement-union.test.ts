// A challenge's new standing batch is the union's certificate (docs/certified-settlement.md, "Proposing,
// challenging, finalising" and "Attacks this defeats", the padded union and the left-out first orders), in
// TypeScript: certify.ts's certifyChallenge (flags, BatchTooLarge of a new batch, NewBatchMismatch, the new
// batch's hash) and selectChallenge (the new batch is the union set's own certificate; a standing order that
// the full set excludes as the third of its trader and side gets its first two into the union). The same
// attacks against the contract are in settlement-contract.test.ts ("issue 10").
import { describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import { MAX_BATCH_ORDERS, MAX_UNION_ORDERS } from "../../clearing/limits.ts";
import type { Hex } from "../../protocol/hex.ts";
import {
  encodeBatch,
  encodeUnion,
  hashBytes,
  type IdentifiedOrder,
  newBatchOf,
  type SelectedBatch,
  selectBatch,
  selectChallenge,
  toBatchOrder,
  type UnionEntry,
} from "../../settlement/batch.ts";
import {
  CertificationError,
  type CertifyContext,
  certifyBatchBytes,
  certifyChallenge,
} from "../../settlement/certify.ts";
import { settlementRecord } from "../../settlement/encoding.ts";
import {
  byId,
  collateralTable,
  EPOCH,
  MARKET,
  makeTraders,
  SEPARATOR,
  sign,
  signedOrders,
  signWhere,
} from "./batch-fixture.ts";

function certError(f: () => unknown): CertificationError {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CertificationError);
  return caught as CertificationError;
}

type Lookup = ReturnType<typeof collateralTable>;

function contextOf(collateral: Lookup): CertifyContext {
  return {
    market: MARKET,
    epoch: EPOCH,
    domainSeparator: SEPARATOR,
    collateral,
    feeBps: 0n,
    minQuantity: 1n,
  };
}

function selected(orders: readonly IdentifiedOrder[], collateral: Lookup): SelectedBatch {
  const s = selectBatch({
    market: MARKET,
    epoch: EPOCH,
    domainSeparator: SEPARATOR,
    orders: signedOrders(orders),
    collateral,
  });
  if (s.outcome !== "batch") throw new Error("no trade");
  return s;
}

/** Union entries over `orders` (ascending id), with the flag each one gets from `flag`. */
function entries(orders: readonly IdentifiedOrder[], flag: (o: IdentifiedOrder) => number): UnionEntry[] {
  return byId(orders).map((o) => {
    const f = flag(o);
    return { standing: (f & 1) !== 0, inNewBatch: (f & 2) !== 0, order: toBatchOrder(o.order) };
  });
}

function clearOf(orders: readonly IdentifiedOrder[]) {
  return clear(
    orders.map((o) => ({
      id: o.id,
      side: o.order.side,
      limitPrice: o.order.limitPrice,
      quantity: o.order.quantity,
    })),
    { market: MARKET, epoch: EPOCH },
  );
}

const BATCH = Number(MAX_BATCH_ORDERS);
const UNION = Number(MAX_UNION_ORDERS);

describe("the padded union", () => {
  const [a, b, h, z] = makeTraders(4, "union-padded");
  const sell = sign({ trader: a!, side: "sell", quantity: 10n, limitPrice: 10n });
  const buy = sign({ trader: b!, side: "buy", quantity: 10n, limitPrice: 12n });
  const honest = sign({ trader: h!, side: "buy", quantity: 10n, limitPrice: 15n });
  const extra = sign({ trader: z!, side: "buy", quantity: 1n, limitPrice: 13n });
  // Fresh wallets without collateral: their valid orders are excluded by coverage.
  const padding = makeTraders(UNION, "union-padding").map((t) =>
    sign({ trader: t, side: "buy", quantity: 1n, limitPrice: 1n }),
  );
  const plenty = { base: 1_000_000n, quote: 1_000_000_000n };
  const collateral = collateralTable(new Map([a!, b!, h!, z!].map((t) => [t.address, plenty])));
  const context = contextOf(collateral);
  const attacker = `0x${"a1".repeat(20)}` as Hex;

  it("a union over 512 entries or with a new batch over 128 reverts BatchTooLarge; one of 128 stands, and the honest challenge still fits", () => {
    const s0 = selected([sell, buy], collateral); // leaves out the honest buy
    const s0Cert = certifyBatchBytes(context, s0.bytes);
    const record = settlementRecord(s0.batchHash, attacker, s0Cert.feeTotal);
    const withExtra = selected([sell, buy, extra], collateral);
    const standingIds = new Set(s0.orders.map((o) => o.id));
    const flag = (o: IdentifiedOrder) => (standingIds.has(o.id) ? 3 : 2);
    const unionOf = (pad: readonly IdentifiedOrder[], padFlag = 2) =>
      encodeUnion({
        standingHeader: s0.header,
        unionHeader: withExtra.header,
        entries: entries([...withExtra.orders, ...pad], (o) => (padding.includes(o) ? padFlag : flag(o))),
      });
    const input = { ...context, standingSubmitter: attacker, record };
    const n = withExtra.orders.length;
    // 513 entries: refused with the length.
    const over = certError(() =>
      certifyChallenge({ ...input, union: unionOf(padding.slice(0, UNION + 1 - n)) }),
    );
    expect([over.code, over.args]).toEqual([
      "BatchTooLarge",
      { orders: BigInt(UNION + 1), max: BigInt(UNION) },
    ]);
    // 512 entries, all in the new batch (the union that would have stood whole): refused by the flags.
    const full = certError(() => certifyChallenge({ ...input, union: unionOf(padding.slice(0, UNION - n)) }));
    expect([full.code, full.args]).toEqual(["BatchTooLarge", { orders: BigInt(UNION), max: BigInt(BATCH) }]);
    // 512 entries with the padding in the union only (flag 0): accepted, the new batch is the certificate.
    const lean = certifyChallenge({ ...input, union: unionOf(padding.slice(0, UNION - n), 0) });
    expect(lean.nextBatch.orders.length).toBe(n);
    // A new batch of 128: it stands; its hash (the new record's) is the new batch's, not the union's.
    const padded = unionOf(padding.slice(0, BATCH - n));
    const self = certifyChallenge({ ...input, union: padded });
    expect(self.nextBatch.orders.length).toBe(BATCH);
    expect(self.newBatch.resultHash).toBe(self.union.resultHash);
    expect(self.union.resultHash).toBe(withExtra.clearing.resultHash);
    const newBytes = encodeBatch(self.nextBatch);
    expect(self.newBatch.batchHash).toBe(hashBytes(newBytes));

    // The honest node challenges that standing batch: its union is the 128 standing orders and the left-out
    // one; the padding is dropped from the new batch (flag 1). 129 entries.
    const standing = {
      header: self.nextBatch.header,
      orders: byId([...withExtra.orders, ...padding.slice(0, BATCH - n)]),
      resultHash: self.newBatch.resultHash,
    };
    const ch = selectChallenge(
      {
        market: MARKET,
        epoch: EPOCH,
        domainSeparator: SEPARATOR,
        orders: signedOrders([sell, buy, extra, honest]),
        collateral,
      },
      standing,
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.union.entries.length).toBe(BATCH + 1);
    expect(ch.added).toBe(1);
    expect(ch.union.entries.filter((x) => x.inNewBatch === false).length).toBe(BATCH - ch.orders.length + 1);
    const r = certifyChallenge({
      ...context,
      union: ch.bytes,
      standingSubmitter: attacker,
      record: settlementRecord(self.newBatch.batchHash, attacker, self.newBatch.feeTotal),
    });
    expect(r.union.resultHash).toBe(clearOf([sell, buy, extra, honest]).resultHash);
    expect(r.newBatch.batchHash).toBe(ch.batchHash);
    expect(hashBytes(encodeBatch(newBatchOf(ch.union)))).toBe(ch.batchHash);
  });

  it("flags 4 and more are MalformedBatch; a flag-0 order is in the union only; dropping an order that matters fails the new batch", () => {
    const s0 = selected([sell, buy], collateral);
    const s0Cert = certifyBatchBytes(context, s0.bytes);
    const record = settlementRecord(s0.batchHash, attacker, s0Cert.feeTotal);
    const all = selected([sell, buy, honest], collateral);
    const standingIds = new Set(s0.orders.map((o) => o.id));
    const union = {
      standingHeader: s0.header,
      unionHeader: all.header,
      entries: entries(all.orders, (o) => (standingIds.has(o.id) ? 3 : 2)),
    };
    const input = { ...context, standingSubmitter: attacker, record };
    expect(certifyChallenge({ ...input, union }).union.resultHash).toBe(all.clearing.resultHash);
    const bytes = encodeUnion(union);
    for (const flag of [4, 5, 255]) {
      const bad = new Uint8Array(bytes);
      bad[864] = flag;
      const e = certError(() => certifyChallenge({ ...input, union: bad }));
      expect(e.code).toBe("MalformedBatch");
      expect(e.args).toEqual({ length: BigInt(bytes.length) });
    }
    // Every entry flag 0: no new batch (MalformedBatch, with the flags).
    const zero = {
      ...union,
      entries: union.entries.map((x) => ({ ...x, standing: false, inNewBatch: false })),
    };
    expect(certError(() => certifyChallenge({ ...input, union: zero })).code).toBe("MalformedBatch");
    // Flags 0 and 1 only (the standing batch dropped whole, an order added to the union only): a new batch
    // of no order would stand as a record nobody can present in a later challenge. Refused.
    const empty = {
      ...union,
      entries: union.entries.map((x) => ({ ...x, inNewBatch: false })),
    };
    const e = certError(() => certifyChallenge({ ...input, union: empty }));
    expect([e.code, e.args]).toEqual(["MalformedBatch", { length: BigInt(bytes.length) }]);
    // The honest buy in the union only (flag 0): it fills in the union, so the new batch without it does
    // not certify under the union's header (its sums are not the header's).
    const unionOnly = {
      ...union,
      entries: union.entries.map((x, k) =>
        all.orders[k]!.id === honest.id ? { ...x, inNewBatch: false } : x,
      ),
    };
    expect(certError(() => certifyChallenge({ ...input, union: unionOnly })).code).toBe("AggregateMismatch");
    // The sell fills: without it the new batch's sums are not the header's (its own error).
    const dropSell = {
      ...union,
      entries: union.entries.map((x, k) => (all.orders[k]!.id === sell.id ? { ...x, inNewBatch: false } : x)),
    };
    expect(certError(() => certifyChallenge({ ...input, union: dropSell })).code).toBe("AggregateMismatch");
  });
});

describe("NewBatchMismatch and the first orders of a standing order's side", () => {
  // tee's two buys at 5 (smaller ids) take its two places on the buy side, so its buy of 2 at 15 is
  // excluded when all three are present.
  const [a, u, tee, w, v] = makeTraders(5, "union-mismatch");
  const sellA = sign({ trader: a!, side: "sell", quantity: 4n, limitPrice: 10n });
  const o1 = sign({ trader: u!, side: "buy", quantity: 2n, limitPrice: 15n });
  const o0a = sign({ trader: tee!, side: "buy", quantity: 1n, limitPrice: 5n });
  const o0b = sign({ trader: tee!, side: "buy", quantity: 2n, limitPrice: 5n });
  const o2 = signWhere(
    { trader: tee!, side: "buy", quantity: 2n, limitPrice: 15n },
    (id) => id > o0a.id && id > o0b.id,
    100n,
  );
  const bw = sign({ trader: w!, side: "buy", quantity: 2n, limitPrice: 12n });
  const bv = sign({ trader: v!, side: "buy", quantity: 1n, limitPrice: 5n });
  const collateral = collateralTable(
    new Map([
      [a!.address, { base: 8n, quote: 0n }],
      [u!.address, { base: 0n, quote: 60n }],
      [tee!.address, { base: 0n, quote: 60n }],
      [w!.address, { base: 0n, quote: 48n }],
      [v!.address, { base: 0n, quote: 10n }],
    ]),
  );
  const context = contextOf(collateral);
  const submitter = `0x${"5b".repeat(20)}` as Hex;

  it("a new batch that certifies under the union's header to another result: NewBatchMismatch", () => {
    const s = selected([sellA, o1, o0a, o0b], collateral);
    const sCert = certifyBatchBytes(context, s.bytes);
    const all = [sellA, o1, o0a, o0b, o2, bw, bv];
    const u1 = selected(all, collateral);
    const standingIds = new Set(s.orders.map((o) => o.id));
    // The new batch leaves out tee's buys at 5: in it, the buy at 15 is tee's first and is kept.
    const newIds = new Set([sellA.id, o2.id, bw.id, bv.id]);
    const union = {
      standingHeader: s.header,
      unionHeader: u1.header,
      entries: entries(all, (o) => (standingIds.has(o.id) ? 1 : 0) | (newIds.has(o.id) ? 2 : 0)),
    };
    const e = certError(() =>
      certifyChallenge({
        ...context,
        union,
        standingSubmitter: submitter,
        record: settlementRecord(s.batchHash, submitter, sCert.feeTotal),
      }),
    );
    expect(e.code).toBe("NewBatchMismatch");
    expect(e.args).toEqual({
      unionResultHash: u1.clearing.resultHash,
      newBatchResultHash: clearOf([sellA, o2, bw, bv]).resultHash,
    });
  });

  it("selectChallenge adds the first two buys of a standing third buy's trader (into the new batch when they fit)", () => {
    // The standing batch trades tee's buy at 15 without its two buys at 5, which the node holds: over the
    // full set the buy at 15 is excluded. The buy at 7 realises the worse edge, so the set's own certificate
    // does not need the buys at 5; without them, the union's pass would keep the buy at 15.
    const b7 = sign({ trader: u!, side: "buy", quantity: 1n, limitPrice: 7n });
    const s = selected([sellA, o2], collateral);
    const sCert = certifyBatchBytes(context, s.bytes);
    expect(sCert.fills.some((f) => f.id === o2.id)).toBe(true);
    const record = settlementRecord(s.batchHash, submitter, sCert.feeTotal);
    const set = [sellA, o0a, o0b, o2, bw, b7];
    const own = selected(set, collateral);
    expect(own.orders.some((o) => o.id === o0a.id || o.id === o0b.id)).toBe(false);
    // The union of the standing batch and the set's certificate alone does not certify to the set's result.
    const standingIds = new Set(s.orders.map((o) => o.id));
    const ownIds = new Set(own.orders.map((o) => o.id));
    const naive = {
      standingHeader: s.header,
      unionHeader: own.header,
      entries: entries(
        [...new Set([...s.orders, ...own.orders])],
        (o) => (standingIds.has(o.id) ? 1 : 0) | (ownIds.has(o.id) ? 2 : 0),
      ),
    };
    certError(() => certifyChallenge({ ...context, union: naive, standingSubmitter: submitter, record }));
    const ch = selectChallenge(
      { market: MARKET, epoch: EPOCH, domainSeparator: SEPARATOR, orders: signedOrders(set), collateral },
      { header: s.header, orders: s.orders, resultHash: sCert.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    // They fit the new batch (flag 2): a later challenge cannot re-add the buy at 15 to change the result.
    expect(ch.orders.filter((o) => o.id === o0a.id || o.id === o0b.id)).toHaveLength(2);
    const r = certifyChallenge({ ...context, union: ch.bytes, standingSubmitter: submitter, record });
    expect(r.union.resultHash).toBe(own.clearing.resultHash);
    expect(r.newBatch.batchHash).toBe(ch.batchHash);
    expectReAddRefused(ch, r.newBatch.feeTotal, o2);
  });

  it("a standing first order that the certificate does not need stays in the new batch (flag 3), so the third cannot come back", () => {
    // Found in review: the standing batch carries tee's buy at 5 (a first order, kept, worse: the
    // certificate does not need it) and its third buy at 15. Dropping the buy at 5 (flag 1) and adding
    // only the other first order would let a later union of the new batch and the buy at 15 keep it
    // again (it is then tee's second buy): the result would change back and forth until the deadline.
    const b7 = sign({ trader: u!, side: "buy", quantity: 1n, limitPrice: 7n });
    const s = selectBatch({
      market: MARKET,
      epoch: EPOCH,
      domainSeparator: SEPARATOR,
      orders: signedOrders([sellA, o2]),
      collateral,
      mustInclude: signedOrders([o0a]),
    });
    if (s.outcome !== "batch") throw new Error("no trade");
    expect(s.orders.map((o) => o.id)).toContain(o0a.id);
    const sCert = certifyBatchBytes(context, s.bytes);
    expect(sCert.fills.some((f) => f.id === o2.id)).toBe(true);
    const record = settlementRecord(s.batchHash, submitter, sCert.feeTotal);
    const set = [sellA, o0a, o0b, o2, bw, b7];
    const ch = selectChallenge(
      { market: MARKET, epoch: EPOCH, domainSeparator: SEPARATOR, orders: signedOrders(set), collateral },
      { header: s.header, orders: s.orders, resultHash: sCert.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    // The standing buy at 5 stays in the new batch (flag 3), with tee's other first buy (flag 2).
    expect(ch.orders.map((o) => o.id)).toEqual(expect.arrayContaining([o0a.id, o0b.id]));
    const r = certifyChallenge({ ...context, union: ch.bytes, standingSubmitter: submitter, record });
    expect(r.union.resultHash).toBe(selected(set, collateral).clearing.resultHash);
    expectReAddRefused(ch, r.newBatch.feeTotal, o2);
  });

  /** A later challenge of `ch`'s new batch that re-adds `third`: its pair is standing, so nothing changes. */
  function expectReAddRefused(
    ch: Extract<ReturnType<typeof selectChallenge>, { outcome: "challenge" }>,
    fee: bigint,
    third: IdentifiedOrder,
  ): void {
    const standingIds = new Set(ch.orders.map((o) => o.id));
    const again = {
      standingHeader: ch.header,
      unionHeader: ch.header,
      entries: entries([...ch.orders, third], (o) => (standingIds.has(o.id) ? 3 : 2)),
    };
    const e = certError(() =>
      certifyChallenge({
        ...context,
        union: again,
        standingSubmitter: submitter,
        record: settlementRecord(ch.batchHash, submitter, fee),
      }),
    );
    expect(e.code).toBe("ResultUnchanged");
  }
});

describe("a standing batch of third orders (the attack that made a standing result unchallengeable)", () => {
  // Attack (issue 10, found in review): a standing batch carries, for many funded wallets, an order that
  // the full set excludes because the wallet's smaller orders of that side come first, and leaves those
  // smaller orders out. Under the old rule (4 kept orders per trader, a running total) the honest new
  // batch had to carry each such wallet's smaller kept orders: about 100 wallets pushed it past the
  // contract's bound, and the standing result could not be challenged. Now an order is excluded by at
  // most two orders of its own trader and side, the challenge carries them in the union (flag 0 when the
  // new batch is full), and the whole union fits MAX_UNION_ORDERS whatever the standing batch leaves out.
  const half = BATCH / 2;
  const buyers = makeTraders(half, "third-buyers");
  const sellers = makeTraders(half, "third-sellers");
  const [hb, hs] = makeTraders(2, "third-honest");
  const lows: IdentifiedOrder[] = [];
  const thirds: IdentifiedOrder[] = [];
  for (const t of buyers) {
    // Two buys at 1 (they never trade), then a crossing buy of larger id: the third of its side.
    const l1 = sign({ trader: t, side: "buy", quantity: 1n, limitPrice: 1n });
    const l2 = sign({ trader: t, side: "buy", quantity: 1n, limitPrice: 1n, nonce: 1n });
    lows.push(l1, l2);
    thirds.push(
      signWhere(
        { trader: t, side: "buy", quantity: 1n, limitPrice: 100n },
        (id) => id > l1.id && id > l2.id,
        2n,
      ),
    );
  }
  for (const t of sellers) {
    const l1 = sign({ trader: t, side: "sell", quantity: 1n, limitPrice: 1000n });
    const l2 = sign({ trader: t, side: "sell", quantity: 1n, limitPrice: 1000n, nonce: 1n });
    lows.push(l1, l2);
    thirds.push(
      signWhere(
        { trader: t, side: "sell", quantity: 1n, limitPrice: 1n },
        (id) => id > l1.id && id > l2.id,
        2n,
      ),
    );
  }
  const honestBuy = sign({ trader: hb!, side: "buy", quantity: 10n, limitPrice: 20n });
  const honestSell = sign({ trader: hs!, side: "sell", quantity: 10n, limitPrice: 10n });
  const plenty = { base: 1_000_000n, quote: 1_000_000_000n };
  const collateral = collateralTable(
    new Map([...buyers, ...sellers, hb!, hs!].map((t) => [t.address, plenty])),
  );
  const context = contextOf(collateral);
  const attacker = `0x${"a7".repeat(20)}` as Hex;

  it("when the full set keeps nothing, the new batch is made of first-order pairs and undoes the trade", () => {
    // Found in review: every third order's two smaller siblings need more than half their wallet's
    // escrow, so the full set keeps no order and clears to nothing, and the certificate is empty. With the
    // siblings in the union only, the new batch had no order (the contract now refuses that, and a node
    // could not build the challenge at all); now as many pairs as fit form it.
    const need = (o: IdentifiedOrder) =>
      o.order.side === "buy" ? o.order.quantity * o.order.limitPrice : o.order.quantity;
    const bigLows = [...buyers, ...sellers].flatMap((t, i) => {
      const side = i < half ? ("buy" as const) : ("sell" as const);
      return [
        sign({ trader: t, side, quantity: 1000n, limitPrice: 1000n, nonce: 10n }),
        sign({ trader: t, side, quantity: 1001n, limitPrice: 1000n, nonce: 11n }),
      ];
    });
    const smallThirds = [...buyers, ...sellers].map((t, i) => {
      const side = i < half ? ("buy" as const) : ("sell" as const);
      const mine = bigLows.filter((o) => o.order.trader === t.address);
      return signWhere(
        { trader: t, side, quantity: 1n, limitPrice: side === "buy" ? 100n : 1n },
        (id) => mine.every((o) => id > o.id),
        20n,
      );
    });
    // Half of 200 quote covers a third buy (100), never a low one; half of 10 base a third sell (1).
    const tight = collateralTable(
      new Map(
        [...buyers, ...sellers].map((t, i) => [
          t.address,
          i < half ? { base: 0n, quote: 200n } : { base: 10n, quote: 0n },
        ]),
      ),
    );
    expect(smallThirds.every((o) => need(o) <= (o.order.side === "buy" ? 100n : 5n))).toBe(true);
    const tightContext = contextOf(tight);
    const s = selectBatch({
      market: MARKET,
      epoch: EPOCH,
      domainSeparator: SEPARATOR,
      orders: signedOrders(smallThirds),
      collateral: tight,
    });
    if (s.outcome !== "batch") throw new Error("no trade");
    const sCert = certifyBatchBytes(tightContext, s.bytes);
    expect(sCert.volume).toBe(BigInt(half));
    const set = [...bigLows, ...smallThirds];
    expect(
      selectBatch({
        market: MARKET,
        epoch: EPOCH,
        domainSeparator: SEPARATOR,
        orders: signedOrders(set),
        collateral: tight,
      }).outcome,
    ).toBe("no-trade");
    const ch = selectChallenge(
      {
        market: MARKET,
        epoch: EPOCH,
        domainSeparator: SEPARATOR,
        orders: signedOrders(set),
        collateral: tight,
      },
      { header: s.header, orders: s.orders, resultHash: sCert.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.orders.length).toBe(BATCH);
    expect(ch.union.entries.length).toBe(BATCH + 2 * BATCH);
    const r = certifyChallenge({
      ...tightContext,
      union: ch.bytes,
      standingSubmitter: attacker,
      record: settlementRecord(s.batchHash, attacker, sCert.feeTotal),
    });
    expect([r.union.price, r.union.volume, r.newBatch.volume]).toEqual([0n, 0n, 0n]);
  });

  it("the honest challenge carries their first orders, fits 512 entries and restores the full set's result", () => {
    // The attacker's standing batch: its 128 third orders cross each other and fill (128 = MAX_BATCH_ORDERS).
    const s = selected(thirds, collateral);
    expect(s.orders).toHaveLength(BATCH);
    const sCert = certifyBatchBytes(context, s.bytes);
    expect(sCert.volume).toBe(BigInt(half));
    const record = settlementRecord(s.batchHash, attacker, sCert.feeTotal);
    // Every node holds everything that was gossiped: the lows, the thirds and the honest orders.
    const set = [...lows, ...thirds, honestBuy, honestSell];
    const own = selected(set, collateral);
    expect(own.excluded.filter((x) => x.reason === "trader-cap")).toHaveLength(BATCH);
    const ch = selectChallenge(
      { market: MARKET, epoch: EPOCH, domainSeparator: SEPARATOR, orders: signedOrders(set), collateral },
      { header: s.header, orders: s.orders, resultHash: sCert.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.union.entries.length).toBeLessThanOrEqual(UNION);
    expect(ch.orders.length).toBeLessThanOrEqual(BATCH);
    // The new batch is full with the set's certificate (both sides are cut at 64), so the first orders it
    // does not carry are in the union only.
    expect(ch.union.entries.some((x) => !x.standing && x.inNewBatch === false)).toBe(true);
    const r = certifyChallenge({ ...context, union: ch.bytes, standingSubmitter: attacker, record });
    expect(r.union.resultHash).toBe(own.clearing.resultHash);
    expect(r.newBatch.resultHash).toBe(own.clearing.resultHash);
    const filled = new Set(r.union.fills.map((f) => f.id));
    expect(thirds.some((o) => filled.has(o.id))).toBe(false);
    expect(filled.has(honestBuy.id) && filled.has(honestSell.id)).toBe(true);
  });
});
