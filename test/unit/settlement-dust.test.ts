// Issue 10, "Dust makes an epoch unsettleable", in TypeScript: the side cap (clearing/side-cap.ts), the
// selection of a bounded certificate from a dust flood (settlement/batch.ts), and certify.ts's new checks
// (OrderBelowMinimum, SideOverCap, CapNotTight, BatchTooLarge) with the contract's arguments. The same
// cases against the contract are in settlement-contract.test.ts ("issue 10").
import { describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import {
  MAX_BATCH_ORDERS,
  MAX_KEPT_PER_SIDE,
  MAX_ORDERS_PER_TRADER_SIDE,
  MAX_UNION_ORDERS,
} from "../../clearing/limits.ts";
import { applySideCap, comparePriority, noCutThreshold } from "../../clearing/side-cap.ts";
import type { Hex } from "../../protocol/hex.ts";
import {
  type BatchHeader,
  encodeUnion,
  type IdentifiedOrder,
  NO_CUT,
  type SelectedBatch,
  selectBatch,
  selectChallenge,
  toBatchOrder,
} from "../../settlement/batch.ts";
import {
  CertificationError,
  certify,
  certifyBatchBytes,
  certifyChallenge,
} from "../../settlement/certify.ts";
import { settlementRecord } from "../../settlement/encoding.ts";
import { BatchError } from "../../settlement/errors.ts";
import {
  byId,
  EPOCH,
  inIds,
  keptIds,
  MARKET,
  makeTraders,
  SEPARATOR,
  sign,
  signedOrders,
  unlimited,
} from "./batch-fixture.ts";

const context = {
  market: MARKET,
  epoch: EPOCH,
  domainSeparator: SEPARATOR,
  collateral: unlimited,
  feeBps: 0n,
  minQuantity: 1n,
};

function expectCertError(f: () => unknown, code: string, args: Record<string, unknown>): void {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(CertificationError);
  expect((caught as CertificationError).code).toBe(code);
  expect((caught as CertificationError).args).toEqual(args);
}

function selected(
  orders: readonly IdentifiedOrder[],
  mustInclude: readonly IdentifiedOrder[] = [],
): SelectedBatch {
  const s = selectBatch({
    market: MARKET,
    epoch: EPOCH,
    domainSeparator: SEPARATOR,
    orders: signedOrders(orders),
    collateral: unlimited,
    mustInclude: signedOrders(mustInclude),
  });
  if (s.outcome !== "batch") throw new Error("no trade");
  return s;
}

const tweak = (h: BatchHeader, side: "buy" | "sell", fields: Partial<BatchHeader["buy"]>): BatchHeader => ({
  ...h,
  [side]: { ...h[side], ...fields },
});

/** 900 + 900 crossing 1-unit orders of 225 + 225 traders, 4 each (issue 10's flood). */
const buyers = makeTraders(225, "dust-buyers");
const sellers = makeTraders(225, "dust-sellers");
const flood: IdentifiedOrder[] = [
  ...buyers.flatMap((t, i) =>
    [0, 1, 2, 3].map((j) =>
      sign({
        trader: t,
        side: "buy",
        quantity: 1n,
        limitPrice: 150n + BigInt((i * 7 + j) % 60),
        nonce: BigInt(j),
      }),
    ),
  ),
  ...sellers.flatMap((t, i) =>
    [0, 1, 2, 3].map((j) =>
      sign({
        trader: t,
        side: "sell",
        quantity: 1n,
        limitPrice: 50n + BigInt((i * 11 + j) % 60),
        nonce: BigInt(j),
      }),
    ),
  ),
];

describe("the side cap (clearing/side-cap.ts)", () => {
  it("keeps the first 64 of a side by price priority (buys high, sells low, then id); the threshold is the last in", () => {
    const t = makeTraders(30, "side-cap");
    const buys = t.flatMap((tr, i) =>
      [0n, 1n, 2n].map((n) =>
        sign({ trader: tr, side: "buy", quantity: 1n, limitPrice: 10n + BigInt(i % 5), nonce: n }),
      ),
    );
    const sells = t
      .slice(0, 10)
      .map((tr) => sign({ trader: tr, side: "sell", quantity: 1n, limitPrice: 3n }));
    const entries = [...buys, ...sells].map((o) => ({
      id: o.id,
      side: o.order.side,
      limitPrice: o.order.limitPrice,
    }));
    const r = applySideCap(entries);
    const ranked = entries.filter((e) => e.side === "buy").sort((a, b) => comparePriority("buy", a, b));
    expect(r.wasCut).toEqual({ buy: true, sell: false });
    expect(r.in.filter((e) => e.side === "buy").length).toBe(64);
    expect(new Set(r.cut.map((e) => e.id))).toEqual(new Set(ranked.slice(64).map((e) => e.id)));
    expect(r.threshold.buy).toEqual({ limit: ranked[63]!.limitPrice, id: BigInt(ranked[63]!.id) });
    expect(r.threshold.sell).toEqual(noCutThreshold("sell"));
    // Input order does not matter.
    expect(applySideCap([...entries].reverse())).toEqual(r);
  });
});

describe("a dust flood (900 + 900 crossing 1-unit orders)", () => {
  const s = selected(flood);

  it("selects 64 in-orders a side, a certificate of those 128 orders only, and certifies to clear() of them", () => {
    const kept = keptIds(flood, unlimited);
    const inSet = inIds(flood, kept);
    // Each trader's first two orders of its side are kept, the other two excluded (trader-cap).
    expect(s.kept.length).toBe(900);
    expect(s.excluded.filter((x) => x.reason === "trader-cap").length).toBe(900);
    expect(s.cut.length).toBe(900 - 128);
    expect(s.orders.length).toBe(Number(MAX_BATCH_ORDERS));
    expect(s.orders.every((o) => inSet.has(o.id))).toBe(true); // a cut side carries every in-order
    const expected = clear(
      flood
        .filter((o) => inSet.has(o.id))
        .map((o) => ({
          id: o.id,
          side: o.order.side,
          limitPrice: o.order.limitPrice,
          quantity: o.order.quantity,
        })),
      { market: MARKET, epoch: EPOCH },
    );
    expect(s.clearing).toEqual(expected);
    const c = certifyBatchBytes(context, s.bytes);
    expect(c.resultHash).toBe(expected.resultHash);
    expect(c.cut.filter((x) => x).length).toBe(0);
    // The header's thresholds are the 64th in-order of each side.
    for (const side of ["buy", "sell"] as const) {
      const ranked = flood
        .filter((o) => o.order.side === side && kept.has(o.id))
        .map((o) => ({ id: o.id, side, limitPrice: o.order.limitPrice }))
        .sort((a, b) => comparePriority(side, a, b));
      expect(s.header[side].capLimit).toBe(ranked[63]!.limitPrice);
      expect(s.header[side].capId).toBe(ranked[63]!.id);
    }
  });

  it("BatchTooLarge: 129 orders in a batch, 513 entries in a union (after MalformedBatch)", () => {
    const batch = (n: number) => new Uint8Array(432 + 126 * n);
    expectCertError(() => certifyBatchBytes(context, batch(129)), "BatchTooLarge", {
      orders: 129n,
      max: 128n,
    });
    expectCertError(() => certifyBatchBytes(context, batch(128)), "PriceOutOfRange", { price: 0n });
    expectCertError(() => certifyBatchBytes(context, new Uint8Array(432 + 126 * 129 + 1)), "MalformedBatch", {
      length: BigInt(432 + 126 * 129 + 1),
    });
    const union = (n: number) => new Uint8Array(864 + 127 * n);
    const challenge = {
      ...context,
      standingSubmitter: `0x${"11".repeat(20)}` as Hex,
      record: `0x${"22".repeat(32)}` as Hex,
    };
    expectCertError(() => certifyChallenge({ ...challenge, union: union(513) }), "BatchTooLarge", {
      orders: 513n,
      max: 512n,
    });
    // Every flag 0 (added, in the union only): no new batch, MalformedBatch with the flags.
    expectCertError(() => certifyChallenge({ ...challenge, union: union(512) }), "MalformedBatch", {
      length: BigInt(864 + 127 * 512),
    });
    expectCertError(
      () => certifyChallenge({ ...challenge, union: union(512).fill(4, 864, 865) }),
      "MalformedBatch",
      { length: BigInt(864 + 127 * 512) },
    );
    const flagged = (n: number, flag: (k: number) => number) => {
      const u = union(n);
      for (let k = 0; k < n; k++) u[864 + 127 * k] = flag(k);
      return u;
    };
    // The new batch (flag bit 1) is at most 128 orders: a union of 512 entries all flagged for it is refused
    // (the padded union: it could never be replaced), before the standing batch is looked at.
    expectCertError(() => certifyChallenge({ ...challenge, union: flagged(512, () => 3) }), "BatchTooLarge", {
      orders: 512n,
      max: 128n,
    });
    expectCertError(
      () => certifyChallenge({ ...challenge, union: flagged(512, (k) => (k < 129 ? 2 : 1)) }),
      "BatchTooLarge",
      { orders: 129n, max: 128n },
    );
    expectCertError(
      () => certifyChallenge({ ...challenge, union: flagged(512, (k) => (k < 128 ? 2 : 1)) }),
      "StandingMismatch",
      { record: challenge.record },
    );
  });

  it("SideOverCap with a threshold that cuts nothing, CapNotTight with one that cuts an order the rule keeps", () => {
    const orders = s.orders.map((o) => toBatchOrder(o.order));
    const inBuys = s.orders.filter((o) => o.order.side === "buy" && !s.cut.some((c) => c.id === o.id));
    expect(inBuys.length).toBe(64);
    // With one cut order of each side more, the honest thresholds still certify; without a cut, 65 are in.
    const cutBuy = s.cut.find((o) => o.order.side === "buy")!;
    const cutSell = s.cut.find((o) => o.order.side === "sell")!;
    const wider = byId([...s.orders, cutBuy, cutSell]).map((o) => toBatchOrder(o.order));
    expect(certify({ ...context, header: s.header, orders: wider }).resultHash).toBe(s.clearing.resultHash);
    expectCertError(
      () => certify({ ...context, header: tweak(s.header, "buy", NO_CUT.buy), orders: wider }),
      "SideOverCap",
      { side: 0n, count: 65n, max: 64n },
    );
    const ranked = inBuys
      .map((o) => ({ id: o.id, side: "buy" as const, limitPrice: o.order.limitPrice }))
      .sort((a, b) => comparePriority("buy", a, b));
    const tighter = ranked[62]!;
    expectCertError(
      () =>
        certify({
          ...context,
          header: tweak(s.header, "buy", { capLimit: tighter.limitPrice, capId: tighter.id }),
          orders,
        }),
      "CapNotTight",
      { side: 0n, count: 63n, max: 64n },
    );
    // Sells are checked after buys.
    expectCertError(
      () => certify({ ...context, header: tweak(s.header, "sell", NO_CUT.sell), orders: wider }),
      "SideOverCap",
      { side: 1n, count: 65n, max: 64n },
    );
  });

  it("a challenge adding a higher-priority order replaces the standing result; a lower-priority one changes nothing", () => {
    const standingCert = certifyBatchBytes(context, s.bytes);
    const standing = { header: s.header, orders: s.orders, resultHash: standingCert.resultHash };
    const submitter = `0x${"5e".repeat(20)}` as Hex;
    const record = settlementRecord(s.batchHash, submitter, standingCert.feeTotal);
    const [lo, hi] = makeTraders(2, "dust-late");
    const low = sign({ trader: lo!, side: "buy", quantity: 1n, limitPrice: 150n });
    const high = sign({ trader: hi!, side: "buy", quantity: 1n, limitPrice: 1000n });
    const input = (extra: IdentifiedOrder[]) => ({
      market: MARKET,
      epoch: EPOCH,
      domainSeparator: SEPARATOR,
      orders: signedOrders([...flood, ...extra]),
      collateral: unlimited,
    });
    // A cut order is no part of any certificate: nothing to add.
    expect(selectChallenge(input([low]), standing).outcome).toBe("no-new-orders");
    // Added by hand under the standing header (in the union only: the new batch is full): it is kept and
    // cut, the result is the standing one.
    const lowUnion = encodeUnion({
      standingHeader: s.header,
      unionHeader: s.header,
      entries: byId([...s.orders, low]).map((o) => ({
        standing: o.id !== low.id,
        inNewBatch: o.id !== low.id,
        order: toBatchOrder(o.order),
      })),
    });
    expectCertError(
      () => certifyChallenge({ ...context, union: lowUnion, standingSubmitter: submitter, record }),
      "ResultUnchanged",
      { resultHash: standingCert.resultHash },
    );
    const ch = selectChallenge(input([low, high]), standing);
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.added).toBe(1);
    expect(ch.union.entries.length).toBeLessThanOrEqual(Number(MAX_UNION_ORDERS));
    const r = certifyChallenge({ ...context, union: ch.bytes, standingSubmitter: submitter, record });
    expect(r.union.resultHash).toBe(ch.selection.clearing.resultHash);
    expect(r.union.fills.some((f) => f.id === high.id)).toBe(true);
  });

  it("selectChallenge throws BATCH_TOO_LARGE rather than build a union over 512 entries (an invariant)", () => {
    // A standing "batch" of 600 orders: no standing batch is that large (every one is a proposal or a
    // challenge's new batch, <= 128), so this only exercises the invariant check.
    const standing = {
      header: s.header,
      orders: byId(flood.slice(0, 600)),
      resultHash: `0x${"33".repeat(32)}` as Hex,
    };
    let caught: unknown;
    try {
      selectChallenge(
        {
          market: MARKET,
          epoch: EPOCH,
          domainSeparator: SEPARATOR,
          orders: signedOrders(flood),
          collateral: unlimited,
        },
        standing,
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BatchError);
    expect((caught as BatchError).code).toBe("BATCH_TOO_LARGE");
  });
});

describe("minimum quantity and the per-trader-side cap in certify.ts", () => {
  const [x, y] = makeTraders(2, "dust-minimum");

  it("OrderBelowMinimum(index, quantity, minQuantity), after MalformedOrder", () => {
    const book = [
      sign({ trader: x!, side: "buy", quantity: 5n, limitPrice: 10n }),
      sign({ trader: y!, side: "sell", quantity: 5n, limitPrice: 8n }),
    ];
    const s = selected(book);
    const orders = s.orders.map((o) => toBatchOrder(o.order));
    expect(certify({ ...context, minQuantity: 5n, header: s.header, orders }).volume).toBe(5n);
    expectCertError(
      () => certify({ ...context, minQuantity: 6n, header: s.header, orders }),
      "OrderBelowMinimum",
      {
        index: 0n,
        quantity: 5n,
        minQuantity: 6n,
      },
    );
    expectCertError(
      () =>
        certify({
          ...context,
          minQuantity: 6n,
          header: s.header,
          orders: [{ ...orders[0]!, quantity: 0n }, orders[1]!],
        }),
      "MalformedOrder",
      { index: 0n },
    );
  });

  it("a trader's third buy gets nothing; a batch without one of its first two is repaired by a challenge", () => {
    const buys = byId(
      [0n, 1n, 2n].map((n) => sign({ trader: x!, side: "buy", quantity: 1n, limitPrice: 20n, nonce: n })),
    );
    const sell = sign({ trader: y!, side: "sell", quantity: 10n, limitPrice: 5n });
    const honest = selected([...buys, sell]);
    expect(honest.excluded.map((e) => [e.order.id, e.reason])).toEqual([[buys[2]!.id, "trader-cap"]]);
    const all = byId([...buys, sell]);
    const c = certify({ ...context, header: honest.header, orders: all.map((o) => toBatchOrder(o.order)) });
    expect(c.kept[all.findIndex((o) => o.id === buys[2]!.id)]).toBe(false);
    expect(c.resultHash).toBe(honest.clearing.resultHash);
    const partial = selected([...buys.slice(1), sell]);
    expect(partial.clearing.fills.some((f) => f.id === buys[2]!.id)).toBe(true);
    const partialCert = certifyBatchBytes(context, partial.bytes);
    const ch = selectChallenge(
      {
        market: MARKET,
        epoch: EPOCH,
        domainSeparator: SEPARATOR,
        orders: signedOrders([...buys, sell]),
        collateral: unlimited,
      },
      { header: partial.header, orders: partial.orders, resultHash: partialCert.resultHash },
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    const submitter = `0x${"5e".repeat(20)}` as Hex;
    const r = certifyChallenge({
      ...context,
      union: ch.bytes,
      standingSubmitter: submitter,
      record: settlementRecord(partial.batchHash, submitter, partialCert.feeTotal),
    });
    expect(r.union.resultHash).toBe(honest.clearing.resultHash);
  });

  it("the cap constants agree with the bounds: a batch 2 × 64, a union 4 × 128, 2 orders a trader and side", () => {
    expect(MAX_BATCH_ORDERS).toBe(2n * MAX_KEPT_PER_SIDE);
    expect(MAX_UNION_ORDERS).toBe(4n * MAX_BATCH_ORDERS);
    expect(MAX_ORDERS_PER_TRADER_SIDE).toBe(2n);
  });
});
