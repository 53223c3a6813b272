// settlement/certify.ts: every error of the certification and of a challenge with its exact arguments,
// in the spec's check order; coverage inside the pass; fees.
import { describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import { SECP256K1_N } from "../../protocol/constants.ts";
import type { Hex } from "../../protocol/hex.ts";
import {
  type BatchHeader,
  type BatchOrder,
  encodeBatch,
  encodeUnion,
  hashBytes,
  NO_BONUS_ID,
  NO_BONUS_REMAINDER,
  NO_CUT,
  type SelectedBatch,
  selectBatch,
  toBatchOrder,
} from "../../settlement/batch.ts";
import {
  CertificationError,
  type CertifyInput,
  certify,
  certifyBatchBytes,
  certifyChallenge,
  checkHeader,
} from "../../settlement/certify.ts";
import { settlementRecord } from "../../settlement/encoding.ts";
import {
  byId,
  collateralTable,
  EPOCH,
  MARKET,
  makeTraders,
  PLENTY,
  SEPARATOR,
  sign,
  signedOrders,
  signWhere,
  unlimited,
} from "./batch-fixture.ts";

const traders = makeTraders(8, "settlement-certify");
const t = (i: number) => traders[i]!;
const context = {
  market: MARKET,
  epoch: EPOCH,
  domainSeparator: SEPARATOR,
  collateral: unlimited,
  feeBps: 0n,
  minQuantity: 1n,
};

function expectCertError(f: () => unknown, code: string, args?: Record<string, unknown>): CertificationError {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(CertificationError);
  const e = caught as CertificationError;
  expect(e.code).toBe(code);
  if (args) expect(e.args).toEqual(args);
  return e;
}

function selected(orders: ReturnType<typeof sign>[], collateral = unlimited): SelectedBatch {
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

// clearing.md's example B: V = 2, lo = 12, hi = 15, p = 13, nothing at the price.
const exampleB = [
  sign({ trader: t(0), side: "buy", limitPrice: 20n, quantity: 1n }),
  sign({ trader: t(1), side: "buy", limitPrice: 18n, quantity: 1n }),
  sign({ trader: t(2), side: "buy", limitPrice: 12n, quantity: 1n }),
  sign({ trader: t(3), side: "sell", limitPrice: 5n, quantity: 1n }),
  sign({ trader: t(4), side: "sell", limitPrice: 6n, quantity: 1n }),
  sign({ trader: t(5), side: "sell", limitPrice: 15n, quantity: 1n }),
];
const b = selected(exampleB);
const bOrders: BatchOrder[] = b.orders.map((o) => toBatchOrder(o.order));
const bInput: CertifyInput = { ...context, header: b.header, orders: bOrders };
const withHeader = (header: BatchHeader): CertifyInput => ({ ...bInput, header });
const withOrder = (i: number, o: Partial<BatchOrder>): CertifyInput => ({
  ...bInput,
  orders: bOrders.map((x, j) => (j === i ? { ...x, ...o } : x)),
});

describe("certify: an honest batch", () => {
  it("gives clearing.md's example B", () => {
    expect(b.header).toEqual({
      price: 13n,
      buy: {
        better: 2n,
        equal: 0n,
        betterEdge: 18n,
        worseEdge: 12n,
        remainder: NO_BONUS_REMAINDER,
        id: NO_BONUS_ID,
        ...NO_CUT.buy,
      },
      sell: {
        better: 2n,
        equal: 0n,
        betterEdge: 6n,
        worseEdge: 15n,
        remainder: NO_BONUS_REMAINDER,
        id: NO_BONUS_ID,
        ...NO_CUT.sell,
      },
    });
    expect(checkHeader(b.header)).toMatchObject({ volume: 2n, lo: 12n, hi: 15n });
    const c = certifyBatchBytes(context, b.bytes);
    expect(c.price).toBe(13n);
    expect(c.volume).toBe(2n);
    expect(c.ids).toEqual(b.orders.map((o) => o.id));
    expect(c.batchHash).toBe(b.batchHash);
    expect(c.resultHash).toBe(b.clearing.resultHash);
    expect(certify(bInput)).toEqual(c);
  });

  it("takes the fee from each sell fill, floor per fill", () => {
    // Sells fill 1 each at 13: ⌊13·333/10000⌋ = 0 each; at 10000 bps, 13 each.
    expect(certify({ ...bInput, feeBps: 333n }).feeTotal).toBe(0n);
    expect(certify({ ...bInput, feeBps: 770n }).feeTotal).toBe(2n * ((13n * 770n) / 10_000n));
    expect(certify({ ...bInput, feeBps: 10_000n }).feeTotal).toBe(26n);
  });

  it("applies coverage in batch order, reading each trader's collateral once per asset", () => {
    // One trader with three buys: the first fits half its quote, the second does not, the third is
    // funded but the third of its side (trader-cap).
    const buyer = t(6);
    const seller = t(7);
    const first = sign({ trader: buyer, side: "buy", quantity: 2n, limitPrice: 10n });
    const middle = signWhere(
      { trader: buyer, side: "buy", quantity: 5n, limitPrice: 10n },
      (id) => id > first.id,
    );
    const last = signWhere(
      { trader: buyer, side: "buy", quantity: 1n, limitPrice: 10n },
      (id) => id > middle.id,
    );
    const orders = [
      first,
      middle,
      last,
      sign({ trader: seller, side: "sell", quantity: 9n, limitPrice: 10n }),
    ];
    const sorted = byId(orders);
    // A share of 25 quote: the first buy (20) fits, the middle one (50) does not.
    const quote = 50n;
    const calls = { count: 0 };
    const table = new Map([
      [buyer.address, { base: 0n, quote }],
      [seller.address, { base: PLENTY, quote: 0n }],
    ]);
    const s = selected(orders, collateralTable(table));
    // The selection leaves the excluded buys out; the whole set with the same header certifies the same.
    expect(s.orders.map((o) => o.id)).not.toContain(middle.id);
    expect(s.orders.map((o) => o.id)).not.toContain(last.id);
    const c = certify({
      ...context,
      collateral: collateralTable(table, calls),
      header: s.header,
      orders: sorted.map((o) => toBatchOrder(o.order)),
    });
    expect(calls.count).toBe(2);
    expect(c.kept).toEqual(sorted.map((o) => o.id !== middle.id && o.id !== last.id));
    expect(c.orderFills[sorted.findIndex((o) => o.id === last.id)]).toBe(0n);
    const kept = orders.filter((o) => o.id !== middle.id && o.id !== last.id);
    const expected = clear(
      kept.map((o) => ({
        id: o.id,
        side: o.order.side,
        limitPrice: o.order.limitPrice,
        quantity: o.order.quantity,
      })),
      { market: MARKET, epoch: EPOCH },
    );
    expect(c.fills).toEqual(expected.fills);
    expect(c.resultHash).toBe(expected.resultHash);
  });
});

describe("certify: header checks, in order", () => {
  it("PriceOutOfRange", () => {
    expectCertError(() => certify(withHeader({ ...b.header, price: 0n })), "PriceOutOfRange", { price: 0n });
    expectCertError(() => certify(withHeader({ ...b.header, price: 1n << 128n })), "PriceOutOfRange", {
      price: 1n << 128n,
    });
  });

  it("NoTrade", () => {
    const zero = { ...b.header.buy, better: 0n, equal: 0n };
    expectCertError(() => certify(withHeader({ ...b.header, buy: zero })), "NoTrade", {});
    expectCertError(
      () => certify(withHeader({ ...b.header, sell: { ...b.header.sell, better: 0n } })),
      "NoTrade",
    );
  });

  it("VolumeNotMaximal", () => {
    // D = 3 > S = 2 = V: buy.better 3 > V.
    expectCertError(
      () => certify(withHeader({ ...b.header, buy: { ...b.header.buy, better: 3n } })),
      "VolumeNotMaximal",
      { side: 0n, better: 3n, volume: 2n },
    );
    expectCertError(
      () => certify(withHeader({ ...b.header, sell: { ...b.header.sell, better: 3n } })),
      "VolumeNotMaximal",
      { side: 1n, better: 3n, volume: 2n },
    );
  });

  it("WrongPrice", () => {
    expectCertError(() => certify(withHeader({ ...b.header, price: 14n })), "WrongPrice", {
      price: 14n,
      lo: 12n,
      hi: 15n,
    });
    expectCertError(() => certify(withHeader({ ...b.header, price: 12n })), "WrongPrice", {
      price: 12n,
      lo: 12n,
      hi: 15n,
    });
    // An edge claimed absent: hi = min(b_V = 18, a_{V+1} absent) = 18.
    expectCertError(
      () => certify(withHeader({ ...b.header, sell: { ...b.header.sell, worseEdge: 0n } })),
      "WrongPrice",
      { price: 13n, lo: 12n, hi: 18n },
    );
    // lo > hi: buy.betterEdge (b_V) below a_V.
    expectCertError(
      () => certify(withHeader({ ...b.header, buy: { ...b.header.buy, betterEdge: 5n } })),
      "WrongPrice",
      { price: 13n, lo: 12n, hi: 5n },
    );
  });

  it("header sums beyond 2^256 − 1 saturate, as the contract's do", () => {
    const huge = (1n << 256n) - 1n;
    // D saturates, V = S = 2: b_{V+1} = p, so lo = 13, hi = min(18, 15): the price would be 14.
    expectCertError(
      () => certify(withHeader({ ...b.header, buy: { ...b.header.buy, equal: huge } })),
      "WrongPrice",
      {
        price: 13n,
        lo: 13n,
        hi: 15n,
      },
    );
    // Both saturate: V = 2^256 − 1 and the price passes; the pass finds no order at 13.
    const both = {
      ...b.header,
      buy: { ...b.header.buy, equal: huge },
      sell: { ...b.header.sell, equal: huge },
    };
    expectCertError(() => certify(withHeader(both)), "AggregateMismatch", {
      field: 1n,
      claimed: huge,
      actual: 0n,
    });
  });

  it("header errors come before any order error", () => {
    const input = { ...withOrder(0, { side: 7 }), header: { ...b.header, price: 14n } };
    expectCertError(() => certify(input), "WrongPrice");
  });
});

describe("certify: the pass, in order", () => {
  it("InvalidSide and MalformedOrder", () => {
    expectCertError(() => certify(withOrder(2, { side: 2 })), "InvalidSide", { index: 2n, side: 2n });
    expectCertError(() => certify(withOrder(1, { quantity: 0n })), "MalformedOrder", { index: 1n });
    expectCertError(() => certify(withOrder(3, { limitPrice: 0n })), "MalformedOrder", { index: 3n });
    // Side before amounts.
    expectCertError(() => certify(withOrder(1, { side: 9, quantity: 0n })), "InvalidSide", {
      index: 1n,
      side: 9n,
    });
  });

  it("OrdersNotAscending: swapped and repeated orders", () => {
    const ids = b.orders.map((o) => o.id);
    const swapped = [...bOrders];
    [swapped[1], swapped[4]] = [swapped[4]!, swapped[1]!];
    expectCertError(() => certify({ ...bInput, orders: swapped }), "OrdersNotAscending", {
      index: 2n,
      previousId: ids[4],
      id: ids[2],
    });
    const twice = [bOrders[0]!, ...bOrders];
    expectCertError(() => certify({ ...bInput, orders: twice }), "OrdersNotAscending", {
      index: 1n,
      previousId: ids[0],
      id: ids[0],
    });
  });

  it("MalformedSignature: v, and the high-s twin", () => {
    expectCertError(() => certify(withOrder(0, { v: 29 })), "MalformedSignature", {
      index: 0n,
      v: 29n,
      s: bOrders[0]!.s,
    });
    const o = bOrders[3]!;
    const twinS = `0x${(SECP256K1_N - BigInt(o.s)).toString(16).padStart(64, "0")}` as Hex;
    expectCertError(
      () => certify(withOrder(3, { s: twinS, v: o.v === 27 ? 28 : 27 })),
      "MalformedSignature",
      {
        index: 3n,
        v: BigInt(o.v === 27 ? 28 : 27),
        s: twinS,
      },
    );
  });

  it("InvalidSigner: another trader, another field, an unrecoverable signature", () => {
    const o = bOrders[1]!;
    // Another trader's signature over this order: recovers to that trader.
    const forged = sign({ trader: t(7), side: "buy", quantity: 1n, limitPrice: 1n });
    const e = expectCertError(
      () => certify(withOrder(1, { r: toBatchOrder(forged.order).r, s: toBatchOrder(forged.order).s })),
      "InvalidSigner",
    );
    expect(e.args.index).toBe(1n);
    expect(e.args.orderId).toBe(b.orders[1]!.id);
    expect(e.args.trader).toBe(o.trader);
    expect(e.args.recovered).not.toBe(o.trader);
    // r = 0: ecrecover gives the zero address.
    expectCertError(() => certify(withOrder(1, { r: `0x${"00".repeat(32)}` })), "InvalidSigner", {
      index: 1n,
      orderId: b.orders[1]!.id,
      recovered: `0x${"00".repeat(20)}`,
      trader: o.trader,
    });
  });

  it("a trusted order's signature is not checked", () => {
    const bad = withOrder(1, { r: `0x${"00".repeat(32)}` });
    const trusted = bOrders.map((_, i) => i === 1);
    expect(certify({ ...bad, trusted }).resultHash).toBe(b.clearing.resultHash);
  });
});

describe("certify: after the pass", () => {
  it("AggregateMismatch names the first field in header order", () => {
    // b_{V+1} = buy.worseEdge when D = V: 11 keeps lo = 12 and the price, but the batch's edge is 12.
    expectCertError(
      () => certify(withHeader({ ...b.header, buy: { ...b.header.buy, worseEdge: 11n } })),
      "AggregateMismatch",
      { field: 3n, claimed: 11n, actual: 12n },
    );
    expectCertError(
      () => certify(withHeader({ ...b.header, sell: { ...b.header.sell, worseEdge: 14n } })),
      "AggregateMismatch",
      { field: 7n, claimed: 14n, actual: 15n },
    );
    // A dropped order: the sell worse edge realiser (the sell at 15).
    const at15 = b.orders.findIndex((o) => o.order.limitPrice === 15n);
    expectCertError(
      () => certify({ ...bInput, orders: bOrders.filter((_, i) => i !== at15) }),
      "AggregateMismatch",
      { field: 7n, claimed: 15n, actual: 0n },
    );
  });

  it("WrongBonusCount for a threshold on either side of the bonus boundary", () => {
    // clearing.md's example A: four buys at 10, remainder 5 each, two bonus units.
    const spec = [
      ["sell", 8n, 6n],
      ["buy", 10n, 3n],
      ["sell", 13n, 5n],
      ["buy", 12n, 4n],
      ["buy", 10n, 1n],
      ["sell", 9n, 3n],
      ["buy", 10n, 3n],
      ["buy", 10n, 3n],
    ] as const;
    const orders = spec.map(([side, limitPrice, quantity], i) =>
      sign({ trader: t(i), side, limitPrice, quantity }),
    );
    const a = selected(orders);
    const input: CertifyInput = {
      ...context,
      header: a.header,
      orders: a.orders.map((o) => toBatchOrder(o.order)),
    };
    expect(certify(input).resultHash).toBe(a.clearing.resultHash);
    const marginal = byId(orders.filter((o) => o.order.limitPrice === 10n)).map((o) => o.id);
    expect(a.header.buy.id).toBe(marginal[1]);
    const buyAt = (remainder: bigint, id: Hex) => ({
      ...input,
      header: { ...a.header, buy: { ...a.header.buy, remainder, id } },
    });
    expectCertError(() => certify(buyAt(5n, marginal[2]!)), "WrongBonusCount", {
      side: 0n,
      counted: 3n,
      expected: 2n,
    });
    expectCertError(() => certify(buyAt(5n, marginal[0]!)), "WrongBonusCount", {
      side: 0n,
      counted: 1n,
      expected: 2n,
    });
    expectCertError(() => certify(buyAt(4n, NO_BONUS_ID)), "WrongBonusCount", {
      side: 0n,
      counted: 4n,
      expected: 2n,
    });
    expectCertError(() => certify(buyAt(NO_BONUS_REMAINDER, NO_BONUS_ID)), "WrongBonusCount", {
      side: 0n,
      counted: 0n,
      expected: 2n,
    });
    // A threshold between the second and third id selects the same two orders: accepted.
    const between = `0x${(BigInt(marginal[1]!) + 1n).toString(16).padStart(64, "0")}` as Hex;
    if (between !== marginal[2]) expect(certify(buyAt(5n, between)).resultHash).toBe(a.clearing.resultHash);
    // Without orders at the price on a side, its threshold selects nothing whatever it is.
    const sellAny = {
      ...input,
      header: { ...a.header, sell: { ...a.header.sell, remainder: 0n, id: marginal[3]! } },
    };
    expect(certify(sellAny).resultHash).toBe(a.clearing.resultHash);
  });

  it("MalformedBatch for bytes of a wrong length", () => {
    expectCertError(() => certifyBatchBytes(context, new Uint8Array(432)), "MalformedBatch", {
      length: 432n,
    });
    expectCertError(
      () => certifyBatchBytes(context, b.bytes.subarray(0, b.bytes.length - 1)),
      "MalformedBatch",
      {
        length: BigInt(b.bytes.length - 1),
      },
    );
  });
});

describe("certifyChallenge", () => {
  const submitter = `0x${"77".repeat(20)}` as Hex;
  const standing = selected(exampleB.slice(0, 2).concat(exampleB.slice(3, 5)));
  const standingCert = certify({
    ...context,
    header: standing.header,
    orders: standing.orders.map((o) => toBatchOrder(o.order)),
  });
  const record = settlementRecord(standing.batchHash, submitter, standingCert.feeTotal);
  const standingIds = new Set(standing.orders.map((o) => o.id));
  const unionBytes = encodeUnion({
    standingHeader: standing.header,
    unionHeader: b.header,
    entries: b.orders.map((o) => ({ standing: standingIds.has(o.id), order: toBatchOrder(o.order) })),
  });

  it("accepts the union of the standing batch and the added orders", () => {
    expect(standingCert.resultHash).not.toBe(b.clearing.resultHash);
    const r = certifyChallenge({ ...context, union: unionBytes, standingSubmitter: submitter, record });
    expect(r.standing.resultHash).toBe(standingCert.resultHash);
    expect(r.union.resultHash).toBe(b.clearing.resultHash);
    expect(r.union.batchHash).toBe(b.batchHash);
    expect(encodeBatch(r.nextBatch)).toEqual(b.bytes);
  });

  it("MalformedBatch, StandingMismatch, NoNewOrders, ResultUnchanged", () => {
    const base = { ...context, standingSubmitter: submitter, record };
    expectCertError(() => certifyChallenge({ ...base, union: unionBytes.subarray(1) }), "MalformedBatch", {
      length: BigInt(unionBytes.length - 1),
    });
    for (const flag of [4, 8]) {
      const badFlag = new Uint8Array(unionBytes);
      badFlag[864] = flag;
      expectCertError(() => certifyChallenge({ ...base, union: badFlag }), "MalformedBatch", {
        length: BigInt(unionBytes.length),
      });
    }
    expectCertError(
      () => certifyChallenge({ ...base, union: unionBytes, standingSubmitter: `0x${"78".repeat(20)}` }),
      "StandingMismatch",
      { record },
    );
    // Another batch that certifies (a truncated standing batch: one buy and one sell) is not the record.
    const truncated = selected([exampleB[0]!, exampleB[3]!]);
    const truncatedIds = new Set(truncated.orders.map((o) => o.id));
    const other = encodeUnion({
      standingHeader: truncated.header,
      unionHeader: b.header,
      entries: b.orders.map((o) => ({ standing: truncatedIds.has(o.id), order: toBatchOrder(o.order) })),
    });
    expectCertError(() => certifyChallenge({ ...base, union: other }), "StandingMismatch", { record });
    const noNew = encodeUnion({
      standingHeader: standing.header,
      unionHeader: standing.header,
      entries: standing.orders.map((o) => ({ standing: true, order: toBatchOrder(o.order) })),
    });
    expectCertError(() => certifyChallenge({ ...base, union: noNew }), "NoNewOrders", {});
    // Adding an order that changes nothing: a buy at 1 far below the price, certified with its edge.
    const far = sign({ trader: t(6), side: "buy", limitPrice: 1n, quantity: 1n });
    const same = selected([...exampleB, far]);
    const sameIds = new Set(b.orders.map((o) => o.id));
    const bRecord = settlementRecord(b.batchHash, submitter, 0n);
    const unchanged = encodeUnion({
      standingHeader: b.header,
      unionHeader: same.header,
      entries: byId([...b.orders, far]).map((o) => ({
        standing: sameIds.has(o.id),
        order: toBatchOrder(o.order),
      })),
    });
    expectCertError(
      () => certifyChallenge({ ...base, record: bRecord, union: unchanged }),
      "ResultUnchanged",
      {
        resultHash: b.clearing.resultHash,
      },
    );
  });
});

// ================================================================ no trade (a challenge's union)

describe("certify with allowNoTrade: a union that clears to no trade", () => {
  // Buys at 10 and 8, sells at 12 and 15: nothing trades. Every kept buy is ≤ 10 and every kept sell ≥ 12,
  // so 10, 11 and 12 separate them.
  const book = [
    sign({ trader: t(0), side: "buy", limitPrice: 10n, quantity: 3n }),
    sign({ trader: t(1), side: "buy", limitPrice: 8n, quantity: 2n }),
    sign({ trader: t(2), side: "sell", limitPrice: 12n, quantity: 4n }),
    sign({ trader: t(3), side: "sell", limitPrice: 15n, quantity: 1n }),
  ];
  const orders = byId(book).map((o) => toBatchOrder(o.order));
  const none = { remainder: NO_BONUS_REMAINDER, id: NO_BONUS_ID };
  const side = (fields: Partial<BatchHeader["buy"]>) => ({
    better: 0n,
    equal: 0n,
    betterEdge: 0n,
    worseEdge: 0n,
    ...none,
    ...fields,
  });
  const buySide = (fields: Partial<BatchHeader["buy"]>) => ({ ...side(fields), ...NO_CUT.buy });
  const sellSide = (fields: Partial<BatchHeader["buy"]>) => ({ ...side(fields), ...NO_CUT.sell });
  const header: BatchHeader = {
    price: 10n,
    buy: buySide({ equal: 3n, worseEdge: 8n }),
    sell: sellSide({ worseEdge: 12n }),
  };
  const input = (h: BatchHeader): CertifyInput => ({ ...context, header: h, orders, allowNoTrade: true });
  const noTrade = clear([], { market: MARKET, epoch: EPOCH });
  const tweak = (s: "buy" | "sell", fields: Partial<BatchHeader["buy"]>, h = header): BatchHeader => ({
    ...h,
    [s]: { ...h[s], ...fields },
  });

  it("certifies to price 0, volume 0, no fills, fee 0 and clear()'s no-trade result hash", () => {
    expect(
      clear(
        book.map((o) => ({
          id: o.id,
          side: o.order.side,
          limitPrice: o.order.limitPrice,
          quantity: o.order.quantity,
        })),
        { market: MARKET, epoch: EPOCH },
      ).resultHash,
    ).toBe(noTrade.resultHash);
    const c = certify({ ...input(header), feeBps: 1000n });
    expect(c).toMatchObject({
      price: 0n,
      volume: 0n,
      fills: [],
      feeTotal: 0n,
      resultHash: noTrade.resultHash,
    });
    expect(c.orderFills).toEqual([0n, 0n, 0n, 0n]);
    expect(c.kept).toEqual([true, true, true, true]);
    expect(c.batchHash).toBe(hashBytes(encodeBatch({ header, orders })));
    expect(checkHeader(header, { allowNoTrade: true })).toEqual({
      volume: 0n,
      lo: null,
      hi: null,
      buyUnits: 0n,
      buyLevel: 3n,
      sellUnits: 0n,
      sellLevel: 0n,
    });
    // Any separating price certifies the same result (the price is not pinned: nothing trades at any).
    const at11 = { price: 11n, buy: buySide({ worseEdge: 10n }), sell: sellSide({ worseEdge: 12n }) };
    const at12 = {
      price: 12n,
      buy: buySide({ worseEdge: 10n }),
      sell: sellSide({ equal: 4n, worseEdge: 15n }),
    };
    for (const h of [at11, at12]) expect(certify(input(h)).resultHash).toBe(noTrade.resultHash);
  });

  it("a proposal's certification (the default) still throws NoTrade", () => {
    expectCertError(() => certify({ ...input(header), allowNoTrade: false }), "NoTrade", {});
    expectCertError(() => certify({ ...context, header, orders }), "NoTrade", {});
    expectCertError(() => checkHeader(header), "NoTrade", {});
    expectCertError(() => certifyBatchBytes(context, encodeBatch({ header, orders })), "NoTrade", {});
  });

  it("a wrong header fails in the spec's order: PriceOutOfRange, VolumeNotMaximal, the aggregates, the bonus count", () => {
    expectCertError(() => certify(input({ ...header, price: 0n })), "PriceOutOfRange", { price: 0n });
    // p = 9 does not separate: the buy at 10 is better. Claimed honestly, V = 0 < buy.better.
    expectCertError(
      () =>
        certify(
          input({
            price: 9n,
            buy: buySide({ better: 3n, betterEdge: 10n, worseEdge: 8n }),
            sell: sellSide({ worseEdge: 12n }),
          }),
        ),
      "VolumeNotMaximal",
      { side: 0n, better: 3n, volume: 0n },
    );
    // p = 13: the sell at 12 is better.
    expectCertError(
      () =>
        certify(
          input({
            price: 13n,
            buy: buySide({ worseEdge: 10n }),
            sell: sellSide({ better: 4n, betterEdge: 12n, worseEdge: 15n }),
          }),
        ),
      "VolumeNotMaximal",
      { side: 1n, better: 4n, volume: 0n },
    );
    // Claimed as separating although it is not: the pass finds the better orders.
    expectCertError(
      () =>
        certify(input({ price: 9n, buy: buySide({ worseEdge: 8n }), sell: sellSide({ worseEdge: 12n }) })),
      "AggregateMismatch",
      { field: 0n, claimed: 0n, actual: 3n },
    );
    expectCertError(
      () =>
        certify(input({ price: 13n, buy: buySide({ worseEdge: 10n }), sell: sellSide({ worseEdge: 15n }) })),
      "AggregateMismatch",
      { field: 4n, claimed: 0n, actual: 4n },
    );
    // Wrong sums and edges at a separating price.
    expectCertError(() => certify(input(tweak("buy", { equal: 0n }))), "AggregateMismatch", {
      field: 1n,
      claimed: 0n,
      actual: 3n,
    });
    expectCertError(() => certify(input(tweak("buy", { worseEdge: 7n }))), "AggregateMismatch", {
      field: 3n,
      claimed: 7n,
      actual: 8n,
    });
    expectCertError(() => certify(input(tweak("sell", { worseEdge: 15n }))), "AggregateMismatch", {
      field: 7n,
      claimed: 15n,
      actual: 12n,
    });
    expectCertError(() => certify(input(tweak("buy", { betterEdge: 11n }))), "AggregateMismatch", {
      field: 2n,
      claimed: 11n,
      actual: 0n,
    });
    // A threshold that selects the order at p gives it a bonus unit where R = 0 gives none.
    const buyAt10 = byId(book).find((o) => o.order.limitPrice === 10n)!;
    expectCertError(
      () => certify(input(tweak("buy", { remainder: 0n, id: buyAt10.id }))),
      "WrongBonusCount",
      { side: 0n, counted: 1n, expected: 0n },
    );
    // Both sides claimed at p: V = 1 > 0, the trading checks apply (10 is the midpoint of [10, 10] then),
    // and the batch has no sell at 10.
    expectCertError(() => certify(input(tweak("sell", { equal: 1n }))), "AggregateMismatch", {
      field: 5n,
      claimed: 1n,
      actual: 0n,
    });
    // ...and with the price above the claimed sell worse edge, WrongPrice.
    expectCertError(() => certify(input({ ...tweak("sell", { equal: 1n }), price: 13n })), "WrongPrice", {
      price: 13n,
      lo: 13n,
      hi: 12n,
    });
  });

  it("certifyChallenge: a no-trade union replaces a trade, and a no-trade standing result is re-certified", () => {
    // The standing batch trades the buy at 10 with a sell at 9 that the full set excludes: its trader has
    // two sells of smaller id that the standing batch did not carry (cheap is its third).
    const seller = t(4);
    const first1 = sign({ trader: seller, side: "sell", limitPrice: 20n, quantity: 1n });
    const first2 = sign({ trader: seller, side: "sell", limitPrice: 21n, quantity: 1n });
    const cheap = signWhere(
      { trader: seller, side: "sell", limitPrice: 9n, quantity: 1n },
      (id) => id > first1.id && id > first2.id,
    );
    const table = new Map([
      [t(0).address, { base: 0n, quote: PLENTY }],
      [t(1).address, { base: 0n, quote: PLENTY }],
      [t(2).address, { base: PLENTY, quote: 0n }],
      [t(3).address, { base: PLENTY, quote: 0n }],
      [seller.address, { base: 2n, quote: 0n }],
    ]);
    const collateral = collateralTable(table);
    // t(5) joins later, with plenty of both.
    const collateral2 = collateralTable(new Map([...table, [t(5).address, { base: PLENTY, quote: PLENTY }]]));
    const standing = selected([book[0]!, cheap], collateral);
    expect(standing.clearing.volume).toBe(1n);
    const submitter = `0x${"66".repeat(20)}` as Hex;
    const ctx = { ...context, collateral };
    const standingCert = certify({
      ...ctx,
      header: standing.header,
      orders: standing.orders.map((o) => toBatchOrder(o.order)),
    });
    const record = settlementRecord(standing.batchHash, submitter, standingCert.feeTotal);
    // The union: the whole book and the seller's three sells; the sells at 20 and 21 take its two places,
    // the sell at 9 is excluded, and nothing trades at the separating price 10.
    const all = byId([...book, cheap, first1, first2]);
    const standingIds = new Set(standing.orders.map((o) => o.id));
    const unionHeader = tweak("sell", { worseEdge: 12n });
    const unionBytes = encodeUnion({
      standingHeader: standing.header,
      unionHeader,
      entries: all.map((o) => ({ standing: standingIds.has(o.id), order: toBatchOrder(o.order) })),
    });
    const r = certifyChallenge({ ...ctx, union: unionBytes, standingSubmitter: submitter, record });
    expect(r.standing.resultHash).toBe(standingCert.resultHash);
    expect(r.union).toMatchObject({
      price: 0n,
      volume: 0n,
      fills: [],
      feeTotal: 0n,
      resultHash: noTrade.resultHash,
    });
    expect(r.union.kept).toEqual(all.map((o) => o.id !== cheap.id));
    // The no-trade union now stands; a union that adds an order that does not trade either is unchanged.
    const unionRecord = settlementRecord(r.union.batchHash, submitter, 0n);
    const extra = sign({ trader: t(5), side: "buy", limitPrice: 1n, quantity: 1n });
    const all2 = byId([...all, extra]);
    const again = encodeUnion({
      standingHeader: unionHeader,
      unionHeader: tweak("buy", { worseEdge: 8n }, unionHeader),
      entries: all2.map((o) => ({ standing: o.id !== extra.id, order: toBatchOrder(o.order) })),
    });
    const ctx2 = { ...ctx, collateral: collateral2 };
    expectCertError(
      () => certifyChallenge({ ...ctx2, union: again, standingSubmitter: submitter, record: unionRecord }),
      "ResultUnchanged",
      { resultHash: noTrade.resultHash },
    );
    // A buy at 13 trades with the sell at 12: the standing no-trade result is replaced.
    const buyer = sign({ trader: t(5), side: "buy", limitPrice: 13n, quantity: 1n });
    const all3 = byId([...all, buyer]);
    const trading = selected(
      all3.filter((o) => o.id !== cheap.id),
      collateral2,
    );
    const entries = all3.map((o) => ({ standing: o.id !== buyer.id, order: toBatchOrder(o.order) }));
    const third = encodeUnion({ standingHeader: unionHeader, unionHeader: trading.header, entries });
    const r3 = certifyChallenge({ ...ctx2, union: third, standingSubmitter: submitter, record: unionRecord });
    expect(r3.standing).toMatchObject({ price: 0n, volume: 0n, resultHash: noTrade.resultHash });
    expect(r3.union.volume).toBe(1n);
    expect(r3.union.resultHash).toBe(trading.clearing.resultHash);
  });
});
