import { describe, expect, it } from "vitest";
import { encodeResult } from "../../clearing/abi.ts";
import { compareByLimitThenId } from "../../clearing/book.ts";
import {
  analyzeClearing,
  type ClearingResult,
  clear,
  computeResultHash,
  ZERO_MARKET,
} from "../../clearing/clear.ts";
import { ClearingError, ClearingErrorCode } from "../../clearing/errors.ts";
import { explainClearing, MAX_LISTED_MARGINAL_ORDERS } from "../../clearing/explain.ts";
import { RADIX_MIN_ELEMENTS, radixSortByWords } from "../../clearing/radix.ts";
import { midpointDown, prorate } from "../../clearing/rule.ts";
import type { ClearingOrder } from "../../clearing/types.ts";
import { AbiCoder, keccak256 } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { createPrng } from "../perf/clearing-book.ts";
import { referenceClear, referenceProrata } from "../property/clearing-reference.ts";

const MAX_UINT128 = (1n << 128n) - 1n;
/** Prices of the worked examples are decimals; ×100000 makes them integers. */
const SCALE = 100_000n;

const id = (n: bigint | number): Hex => `0x${BigInt(n).toString(16).padStart(64, "0")}`;
let nextId = 1n;
function order(
  side: "buy" | "sell",
  limitPrice: bigint,
  quantity: bigint,
  orderId: Hex = id(nextId++),
): ClearingOrder {
  return { id: orderId, side, limitPrice, quantity };
}
const fillOf = (result: ClearingResult, orderId: Hex): bigint =>
  result.fills.find((f) => f.id === orderId)?.quantity ?? 0n;

/** ethers' encoding of the result, the reference for the hand-written encoder. */
function ethersHash(r: Pick<ClearingResult, "market" | "epoch" | "price" | "volume" | "fills">): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "uint64", "uint256", "uint256", "tuple(bytes32,uint256)[]"],
      [r.market, r.epoch, r.price ?? 0n, r.volume, r.fills.map((f) => [f.id, f.quantity])],
    ),
  );
}

function expectClearingError(fn: () => unknown, code: ClearingErrorCode, index?: number): ClearingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClearingError);
    const e = err as ClearingError;
    expect(e.code).toBe(code);
    if (index !== undefined) expect(e.index).toBe(index);
    return e;
  }
  throw new Error(`expected ClearingError ${code}`);
}

describe("worked examples", () => {
  it("bids 1@10, 2@15, 3@20 against offers 1.00001@25, 5@30, 2.4@35: 25 units at 2", () => {
    const bids = [
      order("buy", 1n * SCALE, 10n),
      order("buy", 2n * SCALE, 15n),
      order("buy", 3n * SCALE, 20n),
    ];
    const offers = [
      order("sell", 100_001n, 25n),
      order("sell", 5n * SCALE, 30n),
      order("sell", 240_000n, 35n),
    ];
    const r = clear([...bids, ...offers]);
    expect(r.volume).toBe(25n);
    expect(r.price).toBe(2n * SCALE);
    // The bid at 3 fills fully (20); the bid at exactly 2 gets the remaining 5; the offer at 1.00001 sells 25.
    expect([bids, offers].flat().map((o) => fillOf(r, o.id))).toEqual([0n, 5n, 20n, 25n, 0n, 0n]);
    expect(r.welfare).toBe(20n * 300_000n + 5n * 200_000n - 25n * 100_001n);
  });

  it("bids 1.5@40, 2@45, 6@50 against offers 1@55, 5@60, 1@65: 120 units at 1.5", () => {
    const bids = [order("buy", 150_000n, 40n), order("buy", 2n * SCALE, 45n), order("buy", 6n * SCALE, 50n)];
    const offers = [
      order("sell", 1n * SCALE, 55n),
      order("sell", 5n * SCALE, 60n),
      order("sell", 1n * SCALE, 65n),
    ];
    const r = clear([...offers, ...bids]);
    expect(r.volume).toBe(120n);
    expect(r.price).toBe(150_000n);
    // Bids at 6 and 2 fill fully (95); the bid at exactly 1.5 gets 25 of its 40; both offers at 1 fill.
    expect([bids, offers].flat().map((o) => fillOf(r, o.id))).toEqual([25n, 45n, 50n, 55n, 0n, 65n]);
  });

  it("buyers of one unit at 9 and 8 against sellers at 3 and 4: 2 units at 6", () => {
    const r = clear([
      order("buy", 9n, 1n),
      order("buy", 8n, 1n),
      order("sell", 3n, 1n),
      order("sell", 4n, 1n),
    ]);
    expect(r.volume).toBe(2n);
    expect(r.price).toBe(6n); // [lo, hi] = [max(4, -), min(8, -)] = [4, 8]
    expect(r.fills.map((f) => f.quantity)).toEqual([1n, 1n, 1n, 1n]);
    expect([r.welfare, r.buyerSurplus, r.sellerSurplus]).toEqual([10n, 5n, 5n]);
  });
});

describe("clear: the rule's edges", () => {
  it.each([
    ["an empty book", []],
    ["a single buy", [order("buy", 5n, 1n)]],
    ["a single sell", [order("sell", 5n, 1n)]],
    ["only buys", [order("buy", 5n, 1n), order("buy", 9n, 3n)]],
    ["only sells", [order("sell", 5n, 1n), order("sell", 9n, 3n)]],
    ["no overlap", [order("buy", 9n, 10n), order("sell", 10n, 10n)]],
  ])("%s: no trade, price null, no fills", (_name, orders) => {
    const r = clear(orders as ClearingOrder[]);
    expect(r).toMatchObject({
      price: null,
      volume: 0n,
      fills: [],
      welfare: 0n,
      buyerSurplus: 0n,
      sellerSurplus: 0n,
    });
    expect(r.resultHash).toBe(ethersHash(r));
  });

  it("equal limits trade at that limit", () => {
    const r = clear([order("buy", 10n, 5n), order("sell", 10n, 3n)]);
    expect([r.price, r.volume, r.welfare]).toEqual([10n, 3n, 0n]);
  });

  it("takes the midpoint of [lo, hi] rounded down", () => {
    expect(clear([order("buy", 10n, 1n), order("sell", 3n, 1n)]).price).toBe(6n); // 3 + floor(7/2)
    expect(clear([order("buy", 11n, 1n), order("sell", 3n, 1n)]).price).toBe(7n);
    expect(midpointDown(3n, 10n)).toBe(6n);
    expect(midpointDown(MAX_UINT128 - 1n, MAX_UINT128)).toBe(MAX_UINT128 - 1n);
  });

  it("bounds the interval by the (V+1)-th units: a losing buy raises lo, a losing sell lowers hi", () => {
    // V = 2 (buys 20, 18 vs sells 5, 6); unit 3: buy at 12, sell at 15. [lo, hi] = [max(6, 12), min(18, 15)].
    const r = analyzeClearing([
      order("buy", 20n, 1n),
      order("buy", 18n, 1n),
      order("buy", 12n, 1n),
      order("sell", 5n, 1n),
      order("sell", 6n, 1n),
      order("sell", 15n, 1n),
    ]);
    expect(r.result.volume).toBe(2n);
    expect([r.interval?.lo, r.interval?.hi, r.result.price]).toEqual([12n, 15n, 13n]);
  });

  it("rations a tied level pro rata with the leftover units to the largest remainders", () => {
    // R = 5 over q = 3, 4, 6 (L = 13): 15/13, 20/13, 30/13 -> floors 1, 1, 2 (4), remainders 2, 7, 4.
    const a = order("buy", 10n, 3n);
    const b = order("buy", 10n, 4n);
    const c = order("buy", 10n, 6n);
    const r = clear([a, b, c, order("sell", 1n, 5n)]);
    expect(r.price).toBe(10n);
    expect([fillOf(r, a.id), fillOf(r, b.id), fillOf(r, c.id)]).toEqual([1n, 2n, 2n]);
  });

  it("breaks remainder ties by ascending id as a number, whatever the input order", () => {
    // Three equal claims of 1 sharing 2 units: remainders all 2, so the two smallest ids get one each.
    const ids = [id(0xffn << 240n), id(0x10n), id(0xabcn << 128n)];
    const orders = [
      order("buy", 7n, 1n, ids[0]),
      order("buy", 7n, 1n, ids[1]),
      order("buy", 7n, 1n, ids[2]),
      order("sell", 7n, 2n),
    ];
    for (const input of [orders, [...orders].reverse()]) {
      const r = clear(input);
      expect([fillOf(r, ids[0]!), fillOf(r, ids[1]!), fillOf(r, ids[2]!)]).toEqual([0n, 1n, 1n]);
    }
  });

  it("rations both sides when limits tie at the price on both", () => {
    const buys = [order("buy", 5n, 2n), order("buy", 5n, 3n), order("buy", 9n, 1n)];
    const sells = [
      order("sell", 5n, 1n),
      order("sell", 5n, 1n),
      order("sell", 5n, 1n),
      order("sell", 2n, 1n),
    ];
    const orders = [...buys, ...sells];
    const r = clear(orders);
    expect(r.price).toBe(5n);
    expect(r.volume).toBe(4n);
    // Buys: 9 fills 1; R = 3 over 2 + 3 -> 6/5, 9/5 -> 1, 1 rem 1, 4 -> +1 to the 3-unit order.
    expect(buys.map((o) => fillOf(r, o.id))).toEqual([1n, 2n, 1n]);
    // Sells: 2 fills 1; R = 3 over three of 1 -> each fills fully.
    expect(sells.map((o) => fillOf(r, o.id))).toEqual([1n, 1n, 1n, 1n]);
    expectMatchesReference(orders, r);
  });

  it("handles amounts near 2^128 − 1 without losing a unit", () => {
    const big = MAX_UINT128;
    const orders = [
      order("buy", big, big),
      order("buy", big - 1n, big),
      order("sell", 1n, big),
      order("sell", big - 1n, big - 7n),
      order("sell", big - 1n, 3n),
    ];
    const r = clear(orders);
    expectMatchesReference(orders, r);
    expect(r.resultHash).toBe(ethersHash(r));
    expect(r.volume > big).toBe(true);
  });

  it("ranks limits across 32-bit word boundaries (radix keys of up to four words)", () => {
    const limits = [
      1n,
      2n ** 32n - 1n,
      2n ** 32n,
      2n ** 64n - 1n,
      2n ** 64n,
      2n ** 96n + 5n,
      MAX_UINT128,
      65_536n,
    ];
    const orders = limits.flatMap((p, i) => [
      order("buy", p, BigInt(i + 1)),
      order("sell", p, BigInt(i + 2)),
    ]);
    const { book } = analyzeClearing(orders);
    const ranked = [...book.buys].map((e) => orders[e]!);
    expect(ranked).toEqual(orders.filter((o) => o.side === "buy").sort(compareByLimitThenId));
    expectMatchesReference(orders, clear(orders));
  });

  it("orders ids sharing their first 64 bits by the whole id", () => {
    const prefix = "0123456789abcdef";
    const tails = [9n, 1n, 2n ** 100n, 5n, 2n ** 64n];
    const orders = tails.map((t, i) =>
      order(i % 2 ? "buy" : "sell", 3n, 1n, `0x${prefix}${t.toString(16).padStart(48, "0")}` as Hex),
    );
    const { book, result } = analyzeClearing(orders);
    const byId = [...book.byId].map((e) => orders[e]!.id);
    expect(byId).toEqual([...orders.map((o) => o.id)].sort());
    expectMatchesReference(orders, result);
  });

  it("does not depend on the input order", () => {
    const prng = createPrng(7);
    const orders = Array.from({ length: 500 }, (_, i) =>
      order(
        prng() & 1 ? "buy" : "sell",
        BigInt(90 + (prng() % 20)),
        BigInt(1 + (prng() % 50)),
        id(prng() * 1000 + i),
      ),
    );
    const json = (r: ClearingResult) =>
      JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
    const expected = json(clear(orders));
    expect(json(clear([...orders].reverse()))).toBe(expected);
    const shuffled = [...orders].sort((a, b) =>
      (a.quantity * 7919n) % 101n > (b.quantity * 7919n) % 101n ? 1 : -1,
    );
    expect(json(clear(shuffled))).toBe(expected);
  });

  it("passes the context into the result and its hash", () => {
    const market = `0x${"ab".repeat(32)}` as Hex;
    const r = clear([order("buy", 9n, 2n), order("sell", 3n, 2n)], { market, epoch: 2n ** 64n - 1n });
    expect([r.market, r.epoch]).toEqual([market, 2n ** 64n - 1n]);
    expect(r.resultHash).toBe(ethersHash(r));
    expect(r.resultHash).not.toBe(clear([order("buy", 9n, 2n), order("sell", 3n, 2n)]).resultHash);
  });

  it("shares a marginal level of 100,000 orders exactly, in well under quadratic time", () => {
    const prng = createPrng(100_000);
    const level = Array.from({ length: 100_000 }, (_, i) =>
      order("buy", 1_000n, BigInt(1 + (prng() % 1000)), id((BigInt(prng()) << 64n) + BigInt(i))),
    );
    const orders = [...level, order("buy", 2_000n, 10n), order("sell", 500n, 12_345_677n)];
    const t0 = performance.now();
    const r = clear(orders);
    const elapsedMs = performance.now() - t0;
    expect(r.price).toBe(1_000n);
    const R = r.volume - 10n;
    const expected = referenceProrata(R, level).filter(([, share]) => share > 0n);
    const actual = new Map<string, bigint>(r.fills.map((f) => [f.id, f.quantity]));
    expect(expected.length).toBeGreaterThan(90_000);
    for (const [orderId, share] of expected) expect(actual.get(orderId)).toBe(share);
    expect(r.fills.length).toBe(expected.length + 2);
    // A quadratic step over 10^5 orders would take minutes; the budget is generous for a loaded CI box.
    expect(elapsedMs).toBeLessThan(10_000);
  });
});

describe("clear: invalid input", () => {
  const good = order("buy", 5n, 1n);
  const bad = (patch: Record<string, unknown>) =>
    [good, { ...order("sell", 5n, 1n), ...patch }] as ClearingOrder[];

  it.each([
    ["not an object", [good, null], ClearingErrorCode.BAD_ORDER],
    ["uppercase id", bad({ id: `0x${"AB".repeat(32)}` }), ClearingErrorCode.BAD_ID],
    ["short id", bad({ id: "0x1234" }), ClearingErrorCode.BAD_ID],
    ["non-hex id", bad({ id: `0x${"zz".repeat(32)}` }), ClearingErrorCode.BAD_ID],
    ["id without 0x", bad({ id: "ab".repeat(33) }), ClearingErrorCode.BAD_ID],
    ["id as a number", bad({ id: 7 }), ClearingErrorCode.BAD_ID],
    ["unknown side", bad({ side: "hold" }), ClearingErrorCode.UNKNOWN_SIDE],
    ["quantity a number", bad({ quantity: 1 }), ClearingErrorCode.BAD_QUANTITY],
    ["zero quantity", bad({ quantity: 0n }), ClearingErrorCode.NON_POSITIVE_QUANTITY],
    ["negative quantity", bad({ quantity: -1n }), ClearingErrorCode.NON_POSITIVE_QUANTITY],
    ["quantity 2^128", bad({ quantity: MAX_UINT128 + 1n }), ClearingErrorCode.QUANTITY_OUT_OF_RANGE],
    ["price a string", bad({ limitPrice: "5" }), ClearingErrorCode.BAD_PRICE],
    ["zero price", bad({ limitPrice: 0n }), ClearingErrorCode.NON_POSITIVE_PRICE],
    ["negative price", bad({ limitPrice: -5n }), ClearingErrorCode.NON_POSITIVE_PRICE],
    ["price 2^128", bad({ limitPrice: MAX_UINT128 + 1n }), ClearingErrorCode.PRICE_OUT_OF_RANGE],
  ])("%s: ClearingError naming order 1", (_name, orders, code) => {
    const err = expectClearingError(() => clear(orders as ClearingOrder[]), code, 1);
    expect(err.message).toContain("order 1");
  });

  it("rejects a duplicate id even across sides and limits, naming both orders", () => {
    const dup = id(42);
    const orders = [order("buy", 5n, 1n, dup), order("sell", 1n, 1n), order("sell", 9n, 3n, dup)];
    const err = expectClearingError(() => clear(orders), ClearingErrorCode.DUPLICATE_ID, 2);
    expect(err.orderId).toBe(dup);
    expect(err.message).toContain("order 0");
  });

  it("rejects a duplicate among ids sharing their first 64 bits", () => {
    const same = `0x${"11".repeat(8)}${"22".repeat(24)}` as Hex;
    const orders = [
      order("buy", 5n, 1n, `0x${"11".repeat(8)}${"21".repeat(24)}`),
      order("buy", 5n, 1n, same),
      order("buy", 6n, 1n, same),
    ];
    expectClearingError(() => clear(orders), ClearingErrorCode.DUPLICATE_ID, 2);
  });

  it("rejects a bad context", () => {
    expectClearingError(
      () => clear([], { market: `0x${"AB".repeat(32)}` as Hex, epoch: 0n }),
      ClearingErrorCode.BAD_CONTEXT,
    );
    expectClearingError(
      () => clear([], { market: ZERO_MARKET, epoch: 2n ** 64n }),
      ClearingErrorCode.BAD_CONTEXT,
    );
    expectClearingError(() => clear([], { market: ZERO_MARKET, epoch: -1n }), ClearingErrorCode.BAD_CONTEXT);
  });
});

describe("computeResultHash", () => {
  it("is keccak256 of ethers' abi.encode(bytes32, uint64, uint256, uint256, (bytes32,uint256)[])", () => {
    const market = `0x${"5a".repeat(32)}` as Hex;
    const fills = [
      { id: id(1), quantity: 1n },
      { id: id(2n ** 200n), quantity: 2n ** 64n },
      { id: id(2n ** 255n), quantity: 2n ** 256n - 1n },
    ];
    for (const [price, volume] of [
      [7n, 3n],
      [null, 0n],
      [2n ** 128n - 1n, 2n ** 130n],
    ] as const) {
      const r = { market, epoch: 12345n, price, volume, fills };
      expect(computeResultHash(market, 12345n, price, volume, fills)).toBe(ethersHash(r));
    }
    expect(computeResultHash(market, 0n, null, 0n, [])).toBe(
      ethersHash({ market, epoch: 0n, price: null, volume: 0n, fills: [] }),
    );
  });

  it("encodes exactly the bytes ethers does", () => {
    const fills = [{ id: id(3), quantity: 9n }];
    const ours = Buffer.from(encodeResult(ZERO_MARKET, 1n, 4n, 9n, fills)).toString("hex");
    const theirs = AbiCoder.defaultAbiCoder()
      .encode(
        ["bytes32", "uint64", "uint256", "uint256", "tuple(bytes32,uint256)[]"],
        [ZERO_MARKET, 1n, 4n, 9n, [[id(3), 9n]]],
      )
      .slice(2);
    expect(ours).toBe(theirs);
  });

  it.each([
    [
      "unsorted fills",
      [
        { id: id(2), quantity: 1n },
        { id: id(1), quantity: 1n },
      ],
    ],
    [
      "duplicate fills",
      [
        { id: id(1), quantity: 1n },
        { id: id(1), quantity: 1n },
      ],
    ],
    ["a zero fill", [{ id: id(1), quantity: 0n }]],
    ["an uppercase id", [{ id: `0x${"AB".repeat(32)}` as Hex, quantity: 1n }]],
  ])("rejects %s", (_name, fills) => {
    expectClearingError(
      () => computeResultHash(ZERO_MARKET, 0n, 1n, 1n, fills),
      ClearingErrorCode.BAD_FILLS,
      fills.length - 1,
    );
  });
});

describe("building blocks", () => {
  it("radixSortByWords sorts stably by multi-word keys (by comparisons below RADIX_MIN_ELEMENTS, by digits from it)", () => {
    const prng = createPrng(3);
    for (const n of [0, 1, 2, 100, RADIX_MIN_ELEMENTS - 1, RADIX_MIN_ELEMENTS, 70_000]) {
      const high = Uint32Array.from({ length: n }, () => prng() % 3); // many equal high words
      // Low words over the whole unsigned range in half of the elements (the top bit set: no signed compare).
      const low = Uint32Array.from({ length: n }, (_, i) =>
        i % 2 === 0 ? prng() % 100_000 : 0xffff_0000 + (prng() % 7),
      );
      const elements = Uint32Array.from({ length: n }, (_, i) => n - 1 - i);
      const sorted = [...radixSortByWords(elements, [high, low])];
      const expected = [...elements].sort(
        (a, b) => high[a]! - high[b]! || low[a]! - low[b]! || n - 1 - a - (n - 1 - b),
      );
      expect(sorted).toEqual(expected);
    }
  });

  it("prorate hands out exactly R units", () => {
    expect(prorate(0n, [3n, 4n]).shares).toEqual([0n, 0n]);
    expect(prorate(7n, [3n, 4n]).shares).toEqual([3n, 4n]);
    const split = prorate(5n, [3n, 4n, 6n]);
    expect(split.shares).toEqual([1n, 2n, 2n]);
    expect(split.remainders).toEqual([2n, 7n, 4n]);
    expect([...split.extraUnit]).toEqual([0, 1, 0]);
    expect(split.leftover).toBe(1n);
    expect(() => prorate(8n, [3n, 4n])).toThrow(ClearingError);
    expect(() => prorate(-1n, [3n])).toThrow(/INVARIANT_VIOLATED/);
  });
});

describe("explain", () => {
  it("accounts for the price, the interval, its setters and the rationing", () => {
    const a = order("buy", 10n, 3n);
    const text = explainClearing([
      a,
      order("buy", 10n, 3n),
      order("buy", 10n, 3n),
      order("sell", 10n, 4n),
      order("sell", 3n, 1n),
    ]);
    expect(text).toContain("Volume V = 5");
    expect(text).toContain("Price 10.");
    expect(text).toContain("D(p) = 9");
    expect(text).toContain("S(p) = 5");
    expect(text).toContain("Clearing interval [lo, hi] = [10, 10]");
    expect(text).toContain("a_{V+1}   absent");
    expect(text).toContain("lo = max(a_V, b_{V+1}) = 10, set by a_V (sell");
    expect(text).toContain(
      "Marginal buys (limit exactly 10): 3 orders, L = 9 units, sharing R = V - 0 = 5 units",
    );
    expect(text).toMatch(new RegExp(`${a.id}\\s+3\\s+1\\s+6\\s+\\+1\\s+2`));
  });

  it("says why nothing trades", () => {
    expect(explainClearing([order("buy", 4n, 1n), order("sell", 5n, 1n)])).toContain(
      "the highest buy limit 4 is below the lowest sell limit 5",
    );
    expect(explainClearing([order("sell", 5n, 1n)])).toContain("there are no buy orders");
  });

  it("lists a large marginal level only in part", () => {
    const orders = [...Array.from({ length: 50 }, () => order("buy", 10n, 1n)), order("sell", 1n, 25n)];
    const text = explainClearing(orders);
    expect(text).toContain(`... and ${50 - MAX_LISTED_MARGINAL_ORDERS} more`);
  });
});

function expectMatchesReference(orders: readonly ClearingOrder[], r: ClearingResult): void {
  const ref = referenceClear(orders);
  expect({ price: r.price, volume: r.volume, fills: r.fills.map((f) => [f.id, f.quantity]) }).toEqual({
    price: ref.price,
    volume: ref.volume,
    fills: ref.fills.map(([i, q]) => [i, q]),
  });
  expect([r.welfare, r.buyerSurplus, r.sellerSurplus]).toEqual([
    ref.welfare,
    ref.buyerSurplus,
    ref.sellerSurplus,
  ]);
}
