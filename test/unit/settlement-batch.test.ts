// settlement/batch.ts: the byte layout (batch and union, both ways, and malformed input) and the
// selection of a batch (exactly the required orders, coverage closure included, and the header).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import { MAX_UINT256 } from "../../protocol/constants.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import {
  type Batch,
  type BatchHeader,
  type BatchOrder,
  CAP_HEADER_LAYOUT,
  CAP_HEADER_OFFSET,
  decodeBatch,
  decodeUnion,
  encodeBatch,
  encodeUnion,
  HEADER_BYTES,
  hashBytes,
  identifyBatchOrders,
  NO_BONUS_ID,
  NO_BONUS_REMAINDER,
  NO_CUT,
  newBatchOf,
  ORDER_BYTES,
  ORDER_LAYOUT,
  PRICE_FIELD,
  type SelectedBatch,
  SIDE_HEADER_LAYOUT,
  SIDE_HEADER_OFFSET,
  selectBatch,
  selectChallenge,
  signedOrderOf,
  standingBatchOf,
  toBatchOrder,
  UNION_ENTRY_BYTES,
  UNION_HEADERS_BYTES,
  type Union,
  unionBatchOf,
} from "../../settlement/batch.ts";
import { certify, certifyChallenge } from "../../settlement/certify.ts";
import { settlementRecord } from "../../settlement/encoding.ts";
import { BatchError, BatchErrorCode } from "../../settlement/errors.ts";
import {
  batchDifference,
  byId,
  collateralTable,
  EPOCH,
  keptIds,
  MARKET,
  makeTraders,
  PLENTY,
  SEPARATOR,
  sign,
  signedOrders,
  signWhere,
  unlimited,
} from "./batch-fixture.ts";

const traders = makeTraders(12, "settlement-batch");
const [t0, t1, t2, t3, t4, t5, t6, t7] = traders as [
  (typeof traders)[0],
  (typeof traders)[0],
  (typeof traders)[0],
  (typeof traders)[0],
  (typeof traders)[0],
  (typeof traders)[0],
  (typeof traders)[0],
  (typeof traders)[0],
];

const uint = (bytes: number) =>
  fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << BigInt(8 * bytes)) - 1n }),
    fc.constant(0n),
    fc.constant((1n << BigInt(8 * bytes)) - 1n),
  );
const hexOf = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(bytesToHex);
const sideHeaderArb = fc.record({
  better: uint(32),
  equal: uint(32),
  betterEdge: uint(16),
  worseEdge: uint(16),
  remainder: uint(32),
  id: hexOf(32),
  capLimit: uint(16),
  capId: hexOf(32),
});
const headerArb: fc.Arbitrary<BatchHeader> = fc.record({
  price: uint(16),
  buy: sideHeaderArb,
  sell: sideHeaderArb,
});
const orderArb: fc.Arbitrary<BatchOrder> = fc.record({
  side: fc.integer({ min: 0, max: 255 }),
  quantity: uint(16),
  limitPrice: uint(16),
  nonce: uint(8),
  trader: hexOf(20),
  v: fc.integer({ min: 0, max: 255 }),
  r: hexOf(32),
  s: hexOf(32),
});
const batchArb: fc.Arbitrary<Batch> = fc.record({
  header: headerArb,
  orders: fc.array(orderArb, { minLength: 1, maxLength: 6 }),
});
const unionArb: fc.Arbitrary<Union> = fc.record({
  standingHeader: headerArb,
  unionHeader: headerArb,
  // Valid flags only: 1 (standing, dropped), 2 (added), 3 (standing, kept).
  entries: fc.array(
    fc
      .record({ flag: fc.integer({ min: 1, max: 3 }), order: orderArb })
      .map(({ flag, order }) => ({ standing: (flag & 1) !== 0, inNewBatch: (flag & 2) !== 0, order })),
    { minLength: 1, maxLength: 6 },
  ),
});

function batchErrorCode(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof BatchError) return err.code;
    throw err;
  }
  return "no error";
}

describe("batch layout", () => {
  it("is contiguous: 432-byte header, 126-byte orders, as the spec's table", () => {
    const header = [
      PRICE_FIELD,
      ...(["buy", "sell"] as const).flatMap((side) =>
        Object.values(SIDE_HEADER_LAYOUT).map((f) => ({
          offset: SIDE_HEADER_OFFSET[side] + f.offset,
          size: f.size,
        })),
      ),
      ...(["buy", "sell"] as const).flatMap((side) =>
        Object.values(CAP_HEADER_LAYOUT).map((f) => ({
          offset: CAP_HEADER_OFFSET[side] + f.offset,
          size: f.size,
        })),
      ),
    ];
    let at = 0;
    for (const f of header) {
      expect(f.offset).toBe(at);
      at += f.size;
    }
    expect(at).toBe(HEADER_BYTES);
    expect(header.map((f) => f.offset)).toEqual([
      0, 16, 48, 80, 96, 112, 144, 176, 208, 240, 256, 272, 304, 336, 352, 384, 400,
    ]);
    expect(HEADER_BYTES).toBe(432);
    at = 0;
    for (const f of Object.values(ORDER_LAYOUT)) {
      expect(f.offset).toBe(at);
      at += f.size;
    }
    expect(at).toBe(ORDER_BYTES);
    expect(UNION_HEADERS_BYTES).toBe(864);
    expect(UNION_ENTRY_BYTES).toBe(127);
  });

  it("puts every field at its offset, big-endian", () => {
    const header: BatchHeader = {
      price: 0x0102n,
      buy: {
        better: 3n,
        equal: 4n,
        betterEdge: 5n,
        worseEdge: 6n,
        remainder: 7n,
        id: `0x${"08".repeat(32)}`,
        capLimit: 0x0fn,
        capId: `0x${"10".repeat(32)}`,
      },
      sell: {
        better: 9n,
        equal: 10n,
        betterEdge: 11n,
        worseEdge: 12n,
        remainder: 13n,
        id: `0x${"0e".repeat(32)}`,
        capLimit: 0x11n,
        capId: `0x${"12".repeat(32)}`,
      },
    };
    const order: BatchOrder = {
      side: 1,
      quantity: 0x21n,
      limitPrice: 0x22n,
      nonce: 0x23n,
      trader: `0x${"24".repeat(20)}`,
      v: 27,
      r: `0x${"26".repeat(32)}`,
      s: `0x${"27".repeat(32)}`,
    };
    const bytes = encodeBatch({ header, orders: [order] });
    expect(bytes.length).toBe(432 + 126);
    const at = (offset: number, size: number) => bytesToHex(bytes.subarray(offset, offset + size));
    expect(at(0, 16)).toBe(`0x${"00".repeat(14)}0102`);
    expect(at(16, 32)).toBe(`0x${"00".repeat(31)}03`);
    expect(at(48, 32)).toBe(`0x${"00".repeat(31)}04`);
    expect(at(80, 16)).toBe(`0x${"00".repeat(15)}05`);
    expect(at(96, 16)).toBe(`0x${"00".repeat(15)}06`);
    expect(at(112, 32)).toBe(`0x${"00".repeat(31)}07`);
    expect(at(144, 32)).toBe(`0x${"08".repeat(32)}`);
    expect(at(176, 32)).toBe(`0x${"00".repeat(31)}09`);
    expect(at(208, 32)).toBe(`0x${"00".repeat(31)}0a`);
    expect(at(240, 16)).toBe(`0x${"00".repeat(15)}0b`);
    expect(at(256, 16)).toBe(`0x${"00".repeat(15)}0c`);
    expect(at(272, 32)).toBe(`0x${"00".repeat(31)}0d`);
    expect(at(304, 32)).toBe(`0x${"0e".repeat(32)}`);
    expect(at(336, 16)).toBe(`0x${"00".repeat(15)}0f`);
    expect(at(352, 32)).toBe(`0x${"10".repeat(32)}`);
    expect(at(384, 16)).toBe(`0x${"00".repeat(15)}11`);
    expect(at(400, 32)).toBe(`0x${"12".repeat(32)}`);
    const o = 432;
    expect(at(o, 1)).toBe("0x01");
    expect(at(o + 1, 16)).toBe(`0x${"00".repeat(15)}21`);
    expect(at(o + 17, 16)).toBe(`0x${"00".repeat(15)}22`);
    expect(at(o + 33, 8)).toBe(`0x${"00".repeat(7)}23`);
    expect(at(o + 41, 20)).toBe(`0x${"24".repeat(20)}`);
    expect(at(o + 61, 1)).toBe("0x1b");
    expect(at(o + 62, 32)).toBe(`0x${"26".repeat(32)}`);
    expect(at(o + 94, 32)).toBe(`0x${"27".repeat(32)}`);
  });
});

describe("batch and union encoding", () => {
  it("decode(encode(batch)) = batch, also from hex", () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const bytes = encodeBatch(batch);
        expect(bytes.length).toBe(HEADER_BYTES + ORDER_BYTES * batch.orders.length);
        expect(decodeBatch(bytes)).toEqual(batch);
        expect(decodeBatch(bytesToHex(bytes))).toEqual(batch);
      }),
      { numRuns: 300 },
    );
  });

  it("encode(decode(bytes)) = bytes for every byte string of a batch's length", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.uint8Array({ minLength: 432 + 4 * 126, maxLength: 432 + 4 * 126 }),
        (n, raw) => {
          const bytes = raw.subarray(0, HEADER_BYTES + ORDER_BYTES * n);
          expect(encodeBatch(decodeBatch(bytes))).toEqual(bytes);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("decode(encode(union)) = union, and its standing and union batches", () => {
    fc.assert(
      fc.property(unionArb, (union) => {
        const bytes = encodeUnion(union);
        expect(bytes.length).toBe(UNION_HEADERS_BYTES + UNION_ENTRY_BYTES * union.entries.length);
        const decoded = decodeUnion(bytes);
        expect(decoded).toEqual(union);
        expect(encodeUnion(decoded)).toEqual(bytes);
        expect(standingBatchOf(decoded)).toEqual({
          header: union.standingHeader,
          orders: union.entries.filter((e) => e.standing).map((e) => e.order),
        });
        const batch = unionBatchOf(decoded);
        expect(batch.header).toEqual(union.unionHeader);
        expect(batch.orders).toEqual(union.entries.map((e) => e.order));
        expect(newBatchOf(decoded)).toEqual({
          header: union.unionHeader,
          orders: union.entries.filter((e) => e.inNewBatch).map((e) => e.order),
        });
        // The union batch's bytes are the union's without the standing header and the flags.
        const unionBatchBytes = encodeBatch(batch);
        expect(unionBatchBytes.subarray(0, HEADER_BYTES)).toEqual(
          bytes.subarray(HEADER_BYTES, UNION_HEADERS_BYTES),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("rejects malformed lengths, flags and hex with typed errors", () => {
    for (const length of [0, 1, 431, 432, 433, 432 + 125, 432 + 127, 432 + 2 * 126 - 1]) {
      expect(batchErrorCode(() => decodeBatch(new Uint8Array(length)))).toBe(BatchErrorCode.MALFORMED_BATCH);
    }
    for (const length of [0, 432, 863, 864, 865, 864 + 126, 864 + 128, 864 + 126 * 2]) {
      expect(batchErrorCode(() => decodeUnion(new Uint8Array(length)))).toBe(BatchErrorCode.MALFORMED_BATCH);
    }
    // Flags: bit 0 standing, bit 1 in the new batch; 0 (added, union only), 1, 2 and 3 are valid, >= 4 not.
    const union = new Uint8Array(864 + 127 * 4);
    union[864] = 2;
    union[864 + 127] = 1;
    union[864 + 2 * 127] = 3;
    union[864 + 3 * 127] = 0;
    expect(decodeUnion(union).entries.map((e) => [e.standing, e.inNewBatch])).toEqual([
      [false, true],
      [true, false],
      [true, true],
      [false, false],
    ]);
    for (const bad of [4, 8, 255]) {
      union[864 + 2 * 127] = bad;
      let caught: unknown;
      try {
        decodeUnion(union);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(BatchError);
      expect((caught as BatchError).code).toBe(BatchErrorCode.MALFORMED_BATCH);
      expect((caught as BatchError).index).toBe(2);
    }
    for (const hex of ["", "0x0", "12", "0xzz", `0x${"00".repeat(432 + 126)}0`]) {
      expect(batchErrorCode(() => decodeBatch(hex))).toBe(BatchErrorCode.BAD_HEX);
    }
    expect(
      batchErrorCode(() => encodeBatch({ header: decodeBatch(new Uint8Array(462)).header, orders: [] })),
    ).toBe(BatchErrorCode.MALFORMED_BATCH);
    expect(batchErrorCode(() => encodeUnion({ ...decodeUnion(new Uint8Array(799)), entries: [] }))).toBe(
      BatchErrorCode.MALFORMED_BATCH,
    );
  });

  it("rejects values that do not fit their fields", () => {
    const ok = decodeBatch(new Uint8Array(432 + 126));
    const h = ok.header;
    const o = ok.orders[0]!;
    const bad: Batch[] = [
      { header: { ...h, price: 1n << 128n }, orders: [o] },
      { header: { ...h, price: -1n }, orders: [o] },
      { header: { ...h, buy: { ...h.buy, better: MAX_UINT256 + 1n } }, orders: [o] },
      { header: { ...h, sell: { ...h.sell, betterEdge: 1n << 128n } }, orders: [o] },
      { header: { ...h, sell: { ...h.sell, id: "0x12" } }, orders: [o] },
      { header: h, orders: [{ ...o, side: 256 }] },
      { header: h, orders: [{ ...o, quantity: 1n << 128n }] },
      { header: h, orders: [{ ...o, nonce: 1n << 64n }] },
      { header: h, orders: [{ ...o, trader: `0x${"11".repeat(19)}` }] },
      { header: h, orders: [{ ...o, v: -1 }] },
      { header: h, orders: [{ ...o, r: `0x${"1".repeat(63)}` as Hex }] },
    ];
    for (const b of bad) expect(batchErrorCode(() => encodeBatch(b))).toBe(BatchErrorCode.FIELD_OUT_OF_RANGE);
  });

  it("converts signed orders both ways, ids recomputed", () => {
    const orders = [
      sign({ trader: t0, side: "buy", quantity: (1n << 128n) - 1n, limitPrice: 1n, nonce: (1n << 64n) - 1n }),
      sign({ trader: t1, side: "sell", quantity: 1n, limitPrice: (1n << 128n) - 1n }),
    ];
    const batchOrders = orders.map((o) => toBatchOrder(o.order));
    expect(batchOrders.map((o, i) => signedOrderOf(MARKET, EPOCH, o, i))).toEqual(signedOrders(orders));
    expect(identifyBatchOrders(MARKET, EPOCH, batchOrders, SEPARATOR)).toEqual(orders);
    expect(batchErrorCode(() => signedOrderOf(MARKET, EPOCH, { ...batchOrders[0]!, side: 2 }))).toBe(
      BatchErrorCode.BAD_ORDER,
    );
    expect(batchErrorCode(() => toBatchOrder({ ...orders[0]!.order, signature: "0x1234" }))).toBe(
      BatchErrorCode.BAD_ORDER,
    );
  });
});

/** The batch of `orders` (all signed orders of the epoch) or a failure. */
function select(
  orders: readonly ReturnType<typeof sign>[],
  collateral = unlimited,
  mustInclude: readonly ReturnType<typeof sign>[] = [],
): SelectedBatch {
  const s = selectBatch({
    market: MARKET,
    epoch: EPOCH,
    domainSeparator: SEPARATOR,
    orders: signedOrders(orders),
    collateral,
    mustInclude: signedOrders(mustInclude),
  });
  if (s.outcome !== "batch") throw new Error("no trade");
  return s;
}

function certifySelection(s: SelectedBatch, collateral = unlimited, feeBps = 0n) {
  return certify({
    market: MARKET,
    epoch: EPOCH,
    domainSeparator: SEPARATOR,
    collateral,
    feeBps,
    minQuantity: 1n,
    header: s.header,
    orders: s.orders.map((o) => toBatchOrder(o.order)),
    bytes: s.bytes,
  });
}

describe("selectBatch", () => {
  it("clearing.md's example A: every order fills or sits at the price; the header pins the bonus", () => {
    const spec = [
      [t0, "sell", 8n, 6n],
      [t1, "buy", 10n, 3n],
      [t2, "sell", 13n, 5n],
      [t3, "buy", 12n, 4n],
      [t4, "buy", 10n, 1n],
      [t5, "sell", 9n, 3n],
      [t6, "buy", 10n, 3n],
      [t7, "buy", 10n, 3n],
    ] as const;
    const orders = spec.map(([trader, side, limitPrice, quantity]) =>
      sign({ trader, side, limitPrice, quantity }),
    );
    const s = select(orders);
    expect(s.clearing.price).toBe(10n);
    expect(s.clearing.volume).toBe(9n);
    // Every order is in: fills, the level at 10, and the worse sell at 13 (the sell worse edge).
    expect(s.orders.map((o) => o.id)).toEqual(byId(orders).map((o) => o.id));
    const marginal = byId(orders.filter((o) => o.order.limitPrice === 10n));
    // R = 5, L = 10, every remainder 5: the two smallest ids get the bonus; the threshold is the second.
    expect(s.header).toEqual({
      price: 10n,
      buy: {
        better: 4n,
        equal: 10n,
        betterEdge: 12n,
        worseEdge: 0n,
        remainder: 5n,
        id: marginal[1]!.id,
        ...NO_CUT.buy,
      },
      sell: {
        better: 9n,
        equal: 0n,
        betterEdge: 9n,
        worseEdge: 13n,
        remainder: NO_BONUS_REMAINDER,
        id: NO_BONUS_ID,
        ...NO_CUT.sell,
      },
    });
    expect(s.bytes).toEqual(
      encodeBatch({ header: s.header, orders: s.orders.map((o) => toBatchOrder(o.order)) }),
    );
    expect(s.batchHash).toBe(hashBytes(s.bytes));
    const c = certifySelection(s);
    expect(c.resultHash).toBe(s.clearing.resultHash);
    expect(c.fills).toEqual(s.clearing.fills);
  });

  it("takes the in-orders it needs, one order per worse edge, and nothing else (no other order of their traders)", () => {
    const [seller, tee, buyerU, sellerV, other] = traders.slice(0, 5) as [
      typeof t0,
      typeof t0,
      typeof t0,
      typeof t0,
      typeof t0,
    ];
    // tee's buys, in this id order: small (kept, worse) < fill (fills) < excl (its third buy: trader-cap).
    const fill = sign({ trader: tee, side: "buy", quantity: 5n, limitPrice: 12n });
    const small = signWhere({ trader: tee, side: "buy", quantity: 1n, limitPrice: 3n }, (id) => id < fill.id);
    const excl = signWhere(
      { trader: tee, side: "buy", quantity: 100n, limitPrice: 9n },
      (id) => id > fill.id,
      1000n,
    );
    const s1 = sign({ trader: seller, side: "sell", quantity: 5n, limitPrice: 8n });
    const u = sign({ trader: buyerU, side: "buy", quantity: 1n, limitPrice: 4n });
    const v = sign({ trader: sellerV, side: "sell", quantity: 1n, limitPrice: 20n });
    // Farther from the price than the edges: never needed.
    const far = [
      sign({ trader: other, side: "buy", quantity: 2n, limitPrice: 2n }),
      sign({ trader: other, side: "sell", quantity: 2n, limitPrice: 30n }),
    ];
    const orders = [fill, small, excl, s1, u, v, ...far];
    const table = new Map([
      // One order may need half: 60 = fill's need.
      [tee.address, { base: 0n, quote: 120n }],
      [seller.address, { base: 10n, quote: 0n }],
      [buyerU.address, { base: 0n, quote: 8n }],
      [sellerV.address, { base: 2n, quote: 0n }],
      [other.address, { base: PLENTY, quote: PLENTY }],
    ]);
    const collateral = collateralTable(table);
    const s = select(orders, collateral);
    expect(s.excluded.map((x) => [x.order.id, x.reason])).toEqual([[excl.id, "trader-cap"]]);
    expect(s.excluded[0]).toMatchObject({ needed: 900n, available: 60n });
    expect(s.clearing.price).toBe(10n);
    // small is kept but needed by nothing: tee's fill is among its first two buys in any batch.
    expect(s.orders.map((o) => o.id)).toEqual(byId([fill, s1, u, v]).map((o) => o.id));
    expect(s.header).toEqual({
      price: 10n,
      buy: {
        better: 5n,
        equal: 0n,
        betterEdge: 12n,
        worseEdge: 4n,
        remainder: NO_BONUS_REMAINDER,
        id: NO_BONUS_ID,
        ...NO_CUT.buy,
      },
      sell: {
        better: 5n,
        equal: 0n,
        betterEdge: 8n,
        worseEdge: 20n,
        remainder: NO_BONUS_REMAINDER,
        id: NO_BONUS_ID,
        ...NO_CUT.sell,
      },
    });
    const fills = new Map(s.clearing.fills.map((f) => [f.id, f.quantity]));
    const ids = s.orders.map((o) => o.id);
    expect(batchDifference(ids, orders, keptIds(orders, collateral), 10n, fills)).toBeNull();
    const c = certifySelection(s, collateral);
    expect(c.resultHash).toBe(s.clearing.resultHash);
    // The reference check notices a missing edge order and an order nobody needs.
    const kept = keptIds(orders, collateral);
    expect(
      batchDifference(
        ids.filter((id) => id !== u.id),
        orders,
        kept,
        10n,
        fills,
      ),
    ).toMatch(/worse edge/);
    expect(batchDifference([...ids, small.id].sort(), orders, kept, 10n, fills)).toMatch(/extra order/);
  });

  it("with must-include orders: the first two of its side keep a third one excluded", () => {
    const [tee, seller, buyer] = traders.slice(0, 3) as [typeof t0, typeof t0, typeof t0];
    // must (a buy that would fill) is tee's third buy in the full set; a batch with must but without
    // tee's two smaller buys would keep it.
    const small1 = sign({ trader: tee, side: "buy", quantity: 10n, limitPrice: 3n });
    const small2 = sign({ trader: tee, side: "buy", quantity: 11n, limitPrice: 3n });
    const must = signWhere(
      { trader: tee, side: "buy", quantity: 2n, limitPrice: 15n },
      (id) => id > small1.id && id > small2.id,
    );
    const sell = sign({ trader: seller, side: "sell", quantity: 4n, limitPrice: 9n });
    const buy = sign({ trader: buyer, side: "buy", quantity: 4n, limitPrice: 11n });
    const collateral = collateralTable(
      new Map([
        [tee.address, { base: 0n, quote: 100n }],
        [seller.address, { base: 8n, quote: 0n }],
        [buyer.address, { base: 0n, quote: 88n }],
      ]),
    );
    const s = select([small1, small2, sell, buy], collateral, [must]);
    expect(s.excluded.map((x) => [x.order.id, x.reason])).toEqual([[must.id, "trader-cap"]]);
    expect(s.orders.map((o) => o.id)).toEqual(byId([must, small1, small2, sell, buy]).map((o) => o.id));
    const c = certifySelection(s, collateral);
    expect(c.resultHash).toBe(s.clearing.resultHash);
    expect(c.kept[s.orders.findIndex((o) => o.id === must.id)]).toBe(false);
    const fills = new Map(s.clearing.fills.map((f) => [f.id, f.quantity]));
    const all = [small1, small2, sell, buy, must];
    expect(
      batchDifference(
        s.orders.map((o) => o.id),
        all,
        keptIds(all, collateral),
        s.clearing.price!,
        fills,
        new Set([must.id]),
      ),
    ).toBeNull();
    // Without small1, the certificate keeps must (it is then the second buy) and clears another result.
    const other = clear(
      [must, small2, sell, buy].map((o) => ({
        id: o.id,
        side: o.order.side,
        limitPrice: o.order.limitPrice,
        quantity: o.order.quantity,
      })),
      { market: MARKET, epoch: EPOCH },
    );
    expect(other.resultHash).not.toBe(s.clearing.resultHash);
  });

  it("returns no-trade when nothing crosses, and rejects orders of another market or epoch", () => {
    const orders = [
      sign({ trader: t0, side: "buy", quantity: 5n, limitPrice: 8n }),
      sign({ trader: t1, side: "sell", quantity: 5n, limitPrice: 9n }),
    ];
    const s = selectBatch({
      market: MARKET,
      epoch: EPOCH,
      domainSeparator: SEPARATOR,
      orders: signedOrders(orders),
      collateral: unlimited,
    });
    expect(s.outcome).toBe("no-trade");
    expect(s.clearing.volume).toBe(0n);
    const stranger = sign({ trader: t2, side: "buy", quantity: 1n, limitPrice: 9n }, MARKET, EPOCH + 1n);
    expect(
      batchErrorCode(() =>
        selectBatch({
          market: MARKET,
          epoch: EPOCH,
          domainSeparator: SEPARATOR,
          orders: signedOrders([...orders, stranger]),
          collateral: unlimited,
        }),
      ),
    ).toBe(BatchErrorCode.WRONG_CONTEXT);
  });

  it("does not depend on input order or duplicates, and reads collateral once per trader and asset", () => {
    const orders = [
      sign({ trader: t0, side: "buy", quantity: 5n, limitPrice: 12n }),
      sign({ trader: t0, side: "buy", quantity: 2n, limitPrice: 10n }),
      sign({ trader: t1, side: "sell", quantity: 3n, limitPrice: 10n }),
      sign({ trader: t2, side: "sell", quantity: 6n, limitPrice: 7n }),
    ];
    const calls = { count: 0 };
    const collateral = collateralTable(
      new Map(traders.slice(0, 3).map((t) => [t.address, { base: PLENTY, quote: PLENTY }])),
      calls,
    );
    const a = select(orders, collateral);
    expect(calls.count).toBe(6);
    const b = select([...orders].reverse().concat(orders), collateral);
    expect(b.bytes).toEqual(a.bytes);
  });

  it("takes the ids a caller computed already (a node's, from validation) and gives the same batch", () => {
    const orders = [
      sign({ trader: t0, side: "buy", quantity: 5n, limitPrice: 12n }),
      sign({ trader: t1, side: "sell", quantity: 3n, limitPrice: 10n }),
      sign({ trader: t2, side: "sell", quantity: 6n, limitPrice: 7n }),
    ];
    const input = {
      market: MARKET,
      epoch: EPOCH,
      domainSeparator: SEPARATOR,
      orders: signedOrders(orders),
      collateral: unlimited,
    };
    const computed = selectBatch(input);
    const given = selectBatch({ ...input, ids: orders.map((o) => o.id) });
    expect(given.outcome).toBe("batch");
    expect(given).toEqual(computed);
    expect(() => selectBatch({ ...input, ids: orders.slice(1).map((o) => o.id) })).toThrow(
      /2 ids for 3 orders/,
    );
  });
});

describe("selectChallenge", () => {
  const [attacker, buyer, seller] = traders.slice(8, 11) as [typeof t0, typeof t0, typeof t0];
  // The censor: a 1-unit self-trade proposed first. The honest orders trade 10 at 10.
  const selfBuy = sign({ trader: attacker, side: "buy", quantity: 1n, limitPrice: 100n });
  const selfSell = sign({ trader: attacker, side: "sell", quantity: 1n, limitPrice: 1n });
  const honest = [
    sign({ trader: buyer, side: "buy", quantity: 10n, limitPrice: 12n }),
    sign({ trader: seller, side: "sell", quantity: 10n, limitPrice: 8n }),
    sign({ trader: buyer, side: "buy", quantity: 3n, limitPrice: 5n }),
  ];
  const context = {
    market: MARKET,
    epoch: EPOCH,
    domainSeparator: SEPARATOR,
    collateral: unlimited,
    feeBps: 30n,
    minQuantity: 1n,
  };

  it("replaces a self-trade with the clearing of the union", () => {
    const standingSel = select([selfBuy, selfSell]);
    const standingCert = certifySelection(standingSel, unlimited, 30n);
    const standing = {
      header: standingSel.header,
      orders: standingSel.orders,
      resultHash: standingCert.resultHash,
    };
    const ch = selectChallenge(
      {
        market: MARKET,
        epoch: EPOCH,
        domainSeparator: SEPARATOR,
        orders: signedOrders(honest),
        collateral: unlimited,
      },
      standing,
    );
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.added).toBe(ch.union.entries.length - 2);
    expect(ch.union.entries.filter((e) => e.standing).length).toBe(2);
    expect(ch.unionHash).toBe(hashBytes(ch.bytes));
    // The union's standing part is the standing batch, byte for byte.
    expect(encodeBatch(standingBatchOf(decodeUnion(ch.bytes)))).toEqual(standingSel.bytes);
    const submitter = `0x${"99".repeat(20)}` as Hex;
    const result = certifyChallenge({
      ...context,
      union: ch.bytes,
      standingSubmitter: submitter,
      record: settlementRecord(standingSel.batchHash, submitter, standingCert.feeTotal),
    });
    expect(result.union.resultHash).toBe(ch.selection.clearing.resultHash);
    expect(result.union.batchHash).toBe(hashBytes(encodeBatch(unionBatchOf(ch.union))));
    expect(result.union.batchHash).toBe(ch.batchHash);
    if (ch.selection.outcome !== "batch") throw new Error("the union trades");
    expect(ch.batchHash).toBe(ch.selection.batchHash);
    expect(ch.header).toEqual(ch.selection.header);
    expect(ch.orders).toEqual(ch.selection.orders);
    const all = [selfBuy, selfSell, ...honest];
    expect(ch.selection.clearing.resultHash).toBe(
      clear(
        all.map((o) => ({
          id: o.id,
          side: o.order.side,
          limitPrice: o.order.limitPrice,
          quantity: o.order.quantity,
        })),
        {
          market: MARKET,
          epoch: EPOCH,
        },
      ).resultHash,
    );
  });

  // The forced trade: tee's first two buys (at 1, below every sell) take its two places on the buy side,
  // so its buy at 20 is excluded and the whole set does not trade. A proposal that leaves the buys at 1
  // out trades the buy at 20 (coverage keeps it there).
  const tee = traders[11]!;
  const low1 = sign({ trader: tee, side: "buy", quantity: 20n, limitPrice: 1n });
  const low2 = sign({ trader: tee, side: "buy", quantity: 21n, limitPrice: 1n });
  const high = signWhere(
    { trader: tee, side: "buy", quantity: 1n, limitPrice: 20n },
    (id) => id > low1.id && id > low2.id,
  );
  const forcedSell = sign({ trader: seller, side: "sell", quantity: 1n, limitPrice: 5n });
  const forcedCollateral = collateralTable(
    new Map([
      [tee.address, { base: 0n, quote: 60n }],
      [seller.address, { base: 2n, quote: 0n }],
    ]),
  );
  const forcedInput = {
    market: MARKET,
    epoch: EPOCH,
    domainSeparator: SEPARATOR,
    orders: signedOrders([low1, low2, high, forcedSell]),
    collateral: forcedCollateral,
  };
  const noTradeHash = clear([], { market: MARKET, epoch: EPOCH }).resultHash;

  it("undoes a forced trade: the union of a set that does not trade certifies to no trade", () => {
    expect(selectBatch(forcedInput).outcome).toBe("no-trade"); // a proposal of the whole set: nothing to settle
    const subset = select([high, forcedSell], forcedCollateral);
    const subsetCert = certifySelection(subset, forcedCollateral);
    expect([subsetCert.price, subsetCert.volume]).toEqual([12n, 1n]);
    const ch = selectChallenge(forcedInput, {
      header: subset.header,
      orders: subset.orders,
      resultHash: subsetCert.resultHash,
    });
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    expect(ch.selection.outcome).toBe("no-trade");
    expect(ch.selection.clearing.resultHash).toBe(noTradeHash);
    expect(ch.added).toBe(2);
    // The separating price: the largest kept buy limit (tee's buys at 1); the sell at 5 is the sell worse edge.
    expect(ch.header).toEqual({
      price: 1n,
      buy: {
        better: 0n,
        equal: 41n,
        betterEdge: 0n,
        worseEdge: 0n,
        remainder: NO_BONUS_REMAINDER,
        id: NO_BONUS_ID,
        ...NO_CUT.buy,
      },
      sell: {
        better: 0n,
        equal: 0n,
        betterEdge: 0n,
        worseEdge: 5n,
        remainder: NO_BONUS_REMAINDER,
        id: NO_BONUS_ID,
        ...NO_CUT.sell,
      },
    });
    // The new batch is the union set's certificate: tee's buy at 20 (standing) is in the union (flag 1) but
    // not in the new batch; the buys at 1 are added (flag 2), the sell kept (flag 3).
    expect(ch.orders.map((o) => o.id)).toEqual(byId([low1, low2, forcedSell]).map((o) => o.id));
    const flags = new Map(ch.union.entries.map((e, k) => [k, (e.standing ? 1 : 0) | (e.inNewBatch ? 2 : 0)]));
    const unionIds = byId([low1, low2, high, forcedSell]).map((o) => o.id);
    expect(unionIds.map((id, k) => [id, flags.get(k)])).toEqual(
      unionIds.map((id) => [id, id === high.id ? 1 : id === forcedSell.id ? 3 : 2]),
    );
    expect(ch.union.unionHeader).toEqual(ch.header);
    expect(ch.batchHash).toBe(hashBytes(encodeBatch(newBatchOf(ch.union))));
    const submitter = `0x${"99".repeat(20)}` as Hex;
    const r = certifyChallenge({
      ...context,
      collateral: forcedCollateral,
      union: ch.bytes,
      standingSubmitter: submitter,
      record: settlementRecord(subset.batchHash, submitter, subsetCert.feeTotal),
    });
    expect(r.standing.resultHash).toBe(subsetCert.resultHash);
    expect(r.union).toMatchObject({
      price: 0n,
      volume: 0n,
      fills: [],
      feeTotal: 0n,
      resultHash: noTradeHash,
    });
    expect(r.union.orderFills).toEqual([0n, 0n, 0n, 0n]);
    expect(r.union.kept).toEqual(unionIds.map((id) => id !== high.id));
    expect(r.newBatch.resultHash).toBe(noTradeHash);
    expect(r.newBatch.batchHash).toBe(ch.batchHash);
    // As a proposal the same batch is refused: nothing to settle.
    expect(() =>
      certify({
        ...context,
        collateral: forcedCollateral,
        header: ch.header,
        orders: ch.union.entries.map((e) => e.order),
      }),
    ).toThrow(/NoTrade/);
  });

  it("against a no-trade standing result: result-unchanged when the union does not trade either, else a challenge", () => {
    const subset = select([high, forcedSell], forcedCollateral);
    const first = selectChallenge(forcedInput, {
      header: subset.header,
      orders: subset.orders,
      resultHash: certifySelection(subset, forcedCollateral).resultHash,
    });
    if (first.outcome !== "challenge") throw new Error(first.outcome);
    const standing = { header: first.header, orders: first.orders, resultHash: noTradeHash };
    // An order that does not trade but the certificate needs (a sell at 3, the new sell worse edge): the union
    // adds it and is still no trade, the standing result.
    const other = traders[10]!;
    const far = sign({ trader: other, side: "sell", quantity: 2n, limitPrice: 3n });
    const table = new Map([
      [tee.address, { base: 0n, quote: 60n }],
      [seller.address, { base: 2n, quote: 0n }],
      [other.address, { base: 10n, quote: 100n }],
    ]);
    const input = {
      ...forcedInput,
      orders: signedOrders([low1, low2, high, forcedSell, far]),
      collateral: collateralTable(table),
    };
    expect(selectChallenge(input, standing).outcome).toBe("result-unchanged");
    expect(selectChallenge(forcedInput, standing).outcome).toBe("no-new-orders");
    // A buy at 6 by that trader trades: the no-trade standing result is re-certified and replaced.
    const buy = sign({ trader: other, side: "buy", quantity: 1n, limitPrice: 6n });
    const trading = { ...input, orders: signedOrders([low1, low2, high, forcedSell, far, buy]) };
    const ch = selectChallenge(trading, standing);
    if (ch.outcome !== "challenge" || ch.selection.outcome !== "batch") throw new Error(ch.outcome);
    const submitter = `0x${"98".repeat(20)}` as Hex;
    const standingBatchHash = hashBytes(encodeBatch(newBatchOf(first.union)));
    expect(standingBatchHash).toBe(first.batchHash);
    const r = certifyChallenge({
      ...context,
      collateral: collateralTable(table),
      union: ch.bytes,
      standingSubmitter: submitter,
      record: settlementRecord(first.batchHash, submitter, 0n),
    });
    expect(r.standing).toMatchObject({ price: 0n, volume: 0n, resultHash: noTradeHash });
    expect(r.union.volume).toBe(1n);
    expect(r.union.resultHash).toBe(ch.selection.clearing.resultHash);
  });

  it("says when there is nothing to challenge", () => {
    const own = select(honest);
    const ownCert = certifySelection(own);
    const standing = { header: own.header, orders: own.orders, resultHash: ownCert.resultHash };
    const input = {
      market: MARKET,
      epoch: EPOCH,
      domainSeparator: SEPARATOR,
      orders: signedOrders(honest),
      collateral: unlimited,
    };
    expect(selectChallenge(input, standing).outcome).toBe("no-new-orders");
    // A standing batch without the worse buy at 5: lo = max(a_V = 8, b_{V+1} = 5) is 8 with or without it,
    // so adding it changes nothing.
    const trimmed = select(honest.slice(0, 2));
    const trimmedCert = certifySelection(trimmed);
    expect(trimmedCert.resultHash).toBe(ownCert.resultHash);
    expect(
      selectChallenge(input, {
        header: trimmed.header,
        orders: trimmed.orders,
        resultHash: trimmedCert.resultHash,
      }).outcome,
    ).toBe("result-unchanged");
  });
});
