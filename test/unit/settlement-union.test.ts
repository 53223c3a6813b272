// A challenge's new standing batch is the union's certificate (docs/certified-settlement.md, "Proposing,
// challenging, finalising" and "Attacks this defeats", the padded union), in TypeScript: certify.ts's
// certifyChallenge (flags, BatchTooLarge of a new batch, NewBatchMismatch, the new batch's hash) and
// selectChallenge (the new batch is the union set's own certificate; a standing trader whose smaller kept
// orders the standing batch leaves out). The same attack against the contract is in
// settlement-contract.test.ts ("issue 10", "the padded union").
import { describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
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

describe("the padded union", () => {
  const [a, b, h, z] = makeTraders(4, "union-padded");
  const sell = sign({ trader: a!, side: "sell", quantity: 10n, limitPrice: 10n });
  const buy = sign({ trader: b!, side: "buy", quantity: 10n, limitPrice: 12n });
  const honest = sign({ trader: h!, side: "buy", quantity: 10n, limitPrice: 15n });
  const extra = sign({ trader: z!, side: "buy", quantity: 1n, limitPrice: 13n });
  // Fresh wallets without collateral: their valid orders are excluded by coverage.
  const padding = makeTraders(1024, "union-padding").map((t) =>
    sign({ trader: t, side: "buy", quantity: 1n, limitPrice: 1n }),
  );
  const plenty = { base: 1_000_000n, quote: 1_000_000_000n };
  const collateral = collateralTable(new Map([a!, b!, h!, z!].map((t) => [t.address, plenty])));
  const context = contextOf(collateral);
  const attacker = `0x${"a1".repeat(20)}` as Hex;

  it("a union whose new batch exceeds 512 reverts BatchTooLarge; one of 512 stands, and the honest challenge still fits", () => {
    const s0 = selected([sell, buy], collateral); // leaves out the honest buy
    const s0Cert = certifyBatchBytes(context, s0.bytes);
    const record = settlementRecord(s0.batchHash, attacker, s0Cert.feeTotal);
    const withExtra = selected([sell, buy, extra], collateral);
    const standingIds = new Set(s0.orders.map((o) => o.id));
    const flag = (o: IdentifiedOrder) => (standingIds.has(o.id) ? 3 : 2);
    const unionOf = (pad: readonly IdentifiedOrder[]) =>
      encodeUnion({
        standingHeader: s0.header,
        unionHeader: withExtra.header,
        entries: entries([...withExtra.orders, ...pad], flag),
      });
    const input = { ...context, standingSubmitter: attacker, record };
    // 1024 entries, all in the new batch (the union that would have stood whole): refused.
    const full = unionOf(padding.slice(0, 1024 - withExtra.orders.length));
    const e = certError(() => certifyChallenge({ ...input, union: full }));
    expect(e.code).toBe("BatchTooLarge");
    expect(e.args).toEqual({ orders: 1024n, max: 512n });
    // A new batch of 512: it stands; its hash (the new record's) is the new batch's, not the union's.
    const padded = unionOf(padding.slice(0, 512 - withExtra.orders.length));
    const self = certifyChallenge({ ...input, union: padded });
    expect(self.nextBatch.orders.length).toBe(512);
    expect(self.newBatch.resultHash).toBe(self.union.resultHash);
    expect(self.union.resultHash).toBe(withExtra.clearing.resultHash);
    const newBytes = encodeBatch(self.nextBatch);
    expect(self.newBatch.batchHash).toBe(hashBytes(newBytes));

    // The honest node challenges that standing batch: its union is the 512 standing orders and the left-out
    // one; the padding is dropped from the new batch (flag 1). 513 entries.
    const standing = {
      header: self.nextBatch.header,
      orders: byId([...withExtra.orders, ...padding.slice(0, 512 - withExtra.orders.length)]),
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
    expect(ch.union.entries.length).toBe(513);
    expect(ch.added).toBe(1);
    expect(ch.union.entries.filter((x) => x.inNewBatch === false).length).toBe(512 - ch.orders.length + 1);
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

  it("flags 0 and 4 are MalformedBatch (bytes and a decoded union); dropping an order that matters fails the new batch", () => {
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
    for (const flag of [0, 4]) {
      const bad = new Uint8Array(bytes);
      bad[864] = flag;
      const e = certError(() => certifyChallenge({ ...input, union: bad }));
      expect(e.code).toBe("MalformedBatch");
      expect(e.args).toEqual({ length: BigInt(bytes.length) });
    }
    const zero = {
      ...union,
      entries: union.entries.map((x) => ({ ...x, standing: false, inNewBatch: false })),
    };
    expect(certError(() => certifyChallenge({ ...input, union: zero })).code).toBe("MalformedBatch");
    // The sell fills: without it the new batch's sums are not the header's (its own error).
    const dropSell = {
      ...union,
      entries: union.entries.map((x, k) => (all.orders[k]!.id === sell.id ? { ...x, inNewBatch: false } : x)),
    };
    expect(certError(() => certifyChallenge({ ...input, union: dropSell })).code).toBe("AggregateMismatch");
  });
});

describe("NewBatchMismatch and the standing traders' closure", () => {
  // tee's buy at 5 (smaller id) takes 5 of its 30 quote, so its buy of 2 at 15 (30 quote) is excluded when
  // both are present.
  const [a, u, tee, w, v] = makeTraders(5, "union-mismatch");
  const sellA = sign({ trader: a!, side: "sell", quantity: 4n, limitPrice: 10n });
  const o1 = sign({ trader: u!, side: "buy", quantity: 2n, limitPrice: 15n });
  const o2 = sign({ trader: tee!, side: "buy", quantity: 2n, limitPrice: 15n, nonce: 100n });
  const o0 = signWhere({ trader: tee!, side: "buy", quantity: 1n, limitPrice: 5n }, (id) => id < o2.id);
  const bw = sign({ trader: w!, side: "buy", quantity: 2n, limitPrice: 12n });
  const bv = sign({ trader: v!, side: "buy", quantity: 1n, limitPrice: 5n });
  const collateral = collateralTable(
    new Map([
      [a!.address, { base: 4n, quote: 0n }],
      [u!.address, { base: 0n, quote: 30n }],
      [tee!.address, { base: 0n, quote: 30n }],
      [w!.address, { base: 0n, quote: 24n }],
      [v!.address, { base: 0n, quote: 5n }],
    ]),
  );
  const context = contextOf(collateral);
  const submitter = `0x${"5b".repeat(20)}` as Hex;

  it("a new batch that certifies under the union's header to another result: NewBatchMismatch", () => {
    const s = selected([sellA, o1, o0], collateral);
    expect(new Set(s.orders.map((o) => o.id))).toEqual(new Set([sellA.id, o1.id, o0.id]));
    const sCert = certifyBatchBytes(context, s.bytes);
    const u1 = selected([sellA, o1, o0, o2, bw, bv], collateral);
    const standingIds = new Set(s.orders.map((o) => o.id));
    const newIds = new Set([sellA.id, o2.id, bw.id, bv.id]);
    const union = {
      standingHeader: s.header,
      unionHeader: u1.header,
      entries: entries(
        [sellA, o1, o0, o2, bw, bv],
        (o) => (standingIds.has(o.id) ? 1 : 0) | (newIds.has(o.id) ? 2 : 0),
      ),
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

  it("selectChallenge takes a standing trader's smaller kept orders into the new batch when the standing batch leaves them out", () => {
    // The standing batch trades tee's buy at 15 without its smaller buy at 5, which the node holds: over the
    // full set that buy at 15 is excluded. The buy at 7 realises the worse edge, so the set's own certificate
    // does not need the buy at 5; without it, the union's pass would keep the buy at 15 (not the set's result).
    const b7 = sign({ trader: u!, side: "buy", quantity: 1n, limitPrice: 7n });
    const s = selected([sellA, o2], collateral);
    const sCert = certifyBatchBytes(context, s.bytes);
    expect(sCert.fills.some((f) => f.id === o2.id)).toBe(true);
    const record = settlementRecord(s.batchHash, submitter, sCert.feeTotal);
    const set = [sellA, o0, o2, bw, b7];
    const own = selected(set, collateral);
    expect(own.orders.some((o) => o.id === o0.id)).toBe(false);
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
    // selectChallenge closes over tee: its buy at 5 joins the new batch, and the challenge certifies.
    const ch = selectChallenge(
      { market: MARKET, epoch: EPOCH, domainSeparator: SEPARATOR, orders: signedOrders(set), collateral },
      { header: s.header, orders: s.orders, resultHash: sCert.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.orders.some((o) => o.id === o0.id)).toBe(true);
    const r = certifyChallenge({ ...context, union: ch.bytes, standingSubmitter: submitter, record });
    expect(r.union.resultHash).toBe(own.clearing.resultHash);
    expect(r.newBatch.batchHash).toBe(ch.batchHash);
  });
});
