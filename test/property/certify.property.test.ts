// Property tests of certified settlement in TypeScript: on thousands of random books (ties at the price,
// amounts up to 2^112, traders holding several orders, partial coverage), the certification of the
// selected batch is clear() of the kept orders to the last unit, and equals the certification of the
// whole set; mutated headers and batches are rejected with the error the spec's check order predicts;
// challenges of a subset's result reach the clearing of the whole set.
// SMARTMARKET_LONG_PROPERTIES=1 runs twenty times as many books.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Hex } from "../../protocol/hex.ts";
import {
  type BatchHeader,
  type BatchOrder,
  type CollateralLookup,
  type IdentifiedOrder,
  type SelectedBatch,
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
import {
  batchDifference,
  EPOCH,
  inIds,
  keptIds,
  MARKET,
  SEPARATOR,
  signedOrders,
} from "../unit/batch-fixture.ts";
import {
  type Book,
  type Built,
  bigBookArb,
  bookArb,
  build,
  clearKept,
  type Mutation,
  mutate,
  mutationArb,
  select,
  trustedAll,
} from "./certify-books.ts";

const LONG = process.env.SMARTMARKET_LONG_PROPERTIES === "1";
const runs = (n: number): number => (LONG ? 20 * n : n);
const TIMEOUT_MS = LONG ? 1_800_000 : 60_000;

// ================================================================ the oracle of mutations

function bigMin(a: bigint, b: bigint): bigint {
  if (b < a) return b;
  return a;
}

function bigMax(a: bigint, b: bigint): bigint {
  if (b > a) return b;
  return a;
}

interface Expected {
  readonly code: string;
  readonly args: Record<string, bigint | Hex>;
}

/**
 * What the spec says certifying `orders` (already certified-shape: valid sides, amounts, ascending ids,
 * good signatures) under `header` fails with, written from the spec's text: header checks 1–4, then the
 * aggregates of the kept orders, then the bonus counts. null when it passes.
 */
function expectedFailure(
  header: BatchHeader,
  orders: readonly IdentifiedOrder[],
  collateral: CollateralLookup,
): Expected | null {
  const p = header.price;
  const { buy, sell } = header;
  if (p < 1n || p >= 1n << 128n) return { code: "PriceOutOfRange", args: { price: p } };
  const D = buy.better + buy.equal;
  const S = sell.better + sell.equal;
  const V = bigMin(D, S);
  if (V === 0n) return { code: "NoTrade", args: {} };
  if (buy.better > V) return { code: "VolumeNotMaximal", args: { side: 0n, better: buy.better, volume: V } };
  if (sell.better > V)
    return { code: "VolumeNotMaximal", args: { side: 1n, better: sell.better, volume: V } };
  const terms = {
    bV: buy.better === V ? buy.betterEdge : p,
    bNext: D > V ? p : buy.worseEdge,
    aV: sell.better === V ? sell.betterEdge : p,
    aNext: S > V ? p : sell.worseEdge,
  };
  const lo = [terms.aV, terms.bNext].filter((x, i) => i === 0 || x !== 0n).reduce(bigMax);
  const hi = [terms.bV, terms.aNext].filter((x, i) => i === 0 || x !== 0n).reduce(bigMin);
  if (lo > hi || p !== lo + (hi - lo) / 2n) return { code: "WrongPrice", args: { price: p, lo, hi } };
  const kept = keptIds(orders, collateral);
  // The side cap, after the pass: the kept orders that pass each side's threshold are in; at most 64,
  // and exactly 64 when the threshold cut one (buy first, then sell).
  const inSet = new Set<Hex>();
  for (const [code, side, h] of [
    [0n, "buy", buy],
    [1n, "sell", sell],
  ] as const) {
    let count = 0n;
    let cut = false;
    for (const o of orders) {
      if (!kept.has(o.id) || o.order.side !== side) continue;
      const l = o.order.limitPrice;
      const beyond = side === "buy" ? l > h.capLimit : l < h.capLimit;
      if (beyond || (l === h.capLimit && BigInt(o.id) <= BigInt(h.capId))) {
        count++;
        inSet.add(o.id);
      } else cut = true;
    }
    if (count > 64n) return { code: "SideOverCap", args: { side: code, count, max: 64n } };
    if (cut && count !== 64n) return { code: "CapNotTight", args: { side: code, count, max: 64n } };
  }
  const actual: bigint[] = [];
  const bonusCounts: { counted: bigint; expected: bigint }[] = [];
  for (const [side, h] of [
    ["buy", buy],
    ["sell", sell],
  ] as const) {
    const mine = orders.filter((o) => inSet.has(o.id) && o.order.side === side);
    const better = mine.filter((o) => (side === "buy" ? o.order.limitPrice > p : o.order.limitPrice < p));
    const worse = mine.filter((o) => (side === "buy" ? o.order.limitPrice < p : o.order.limitPrice > p));
    const equal = mine.filter((o) => o.order.limitPrice === p);
    const limits = (xs: IdentifiedOrder[]) => xs.map((o) => o.order.limitPrice);
    const min = (xs: bigint[]) => (xs.length === 0 ? 0n : xs.reduce(bigMin));
    const max = (xs: bigint[]) => (xs.length === 0 ? 0n : xs.reduce(bigMax));
    const sum = (xs: IdentifiedOrder[]) => xs.reduce((s, o) => s + o.order.quantity, 0n);
    actual.push(
      sum(better),
      sum(equal),
      side === "buy" ? min(limits(better)) : max(limits(better)),
      side === "buy" ? max(limits(worse)) : min(limits(worse)),
    );
    const R = V - h.better;
    const L = h.equal;
    let shares = 0n;
    let counted = 0n;
    for (const o of equal) {
      const share = L === 0n ? 0n : (R * o.order.quantity) / L;
      const rem = L === 0n ? 0n : (R * o.order.quantity) % L;
      shares += share;
      if (rem > h.remainder || (rem === h.remainder && o.id <= h.id)) counted++;
    }
    bonusCounts.push({ counted, expected: R - shares });
  }
  const claimed = [
    buy.better,
    buy.equal,
    buy.betterEdge,
    buy.worseEdge,
    sell.better,
    sell.equal,
    sell.betterEdge,
    sell.worseEdge,
  ];
  for (let f = 0; f < 8; f++) {
    if (claimed[f] !== actual[f]) {
      return {
        code: "AggregateMismatch",
        args: { field: BigInt(f), claimed: claimed[f]!, actual: actual[f]! },
      };
    }
  }
  for (const [side, c] of bonusCounts.entries()) {
    if (c.counted !== c.expected) {
      return {
        code: "WrongBonusCount",
        args: { side: BigInt(side), counted: c.counted, expected: c.expected },
      };
    }
  }
  return null;
}

function failureOf(f: () => unknown): Expected | null {
  try {
    f();
  } catch (err) {
    if (err instanceof CertificationError) return { code: err.code, args: { ...err.args } };
    throw err;
  }
  return null;
}

// ================================================================ properties

/** A book whose kept orders trade, with its selected batch. */
function tradingBook(book: Book): { b: Built; s: SelectedBatch } | null {
  const b = build(book);
  const s = select(b);
  return s.outcome === "batch" ? { b, s } : null;
}

/**
 * certify(selectBatch(book)) = clear() of the rule's in-orders, to the last unit, and the batch is exactly
 * the required orders. Returns whether the book trades.
 */
function honestSelection(book: Book): boolean {
  const b = build(book);
  const kept = keptIds(b.orders, b.collateral);
  const expected = clearKept(b.orders, kept);
  const s = select(b);
  expect(new Set(s.kept.map((o) => o.id))).toEqual(kept);
  expect(s.clearing).toEqual(expected);
  const inSet = inIds(b.orders, kept);
  expect(new Set(s.cut.map((o) => o.id))).toEqual(new Set([...kept].filter((id) => !inSet.has(id))));
  if (expected.volume === 0n) {
    expect(s.outcome).toBe("no-trade");
    return false;
  }
  if (s.outcome !== "batch") throw new Error("a trading book gave no batch");
  const price = expected.price!;
  const fills = new Map(expected.fills.map((f) => [f.id, f.quantity]));
  expect(
    batchDifference(
      s.orders.map((o) => o.id),
      b.orders,
      kept,
      price,
      fills,
      new Set(),
      inSet,
    ),
  ).toBeNull();
  // The rule's own bound (clearing/limits.ts): a proposal carries at most 512 orders.
  expect(s.orders.length).toBeLessThanOrEqual(512);

  const c = certifyBatchBytes(b.context, s.bytes);
  expect(c.price).toBe(price);
  expect(c.volume).toBe(expected.volume);
  expect(c.fills).toEqual(expected.fills);
  expect(c.resultHash).toBe(expected.resultHash);
  expect(c.batchHash).toBe(s.batchHash);
  expect(c.orderFills).toEqual(s.orders.map((o) => fills.get(o.id) ?? 0n));
  expect(c.kept.every((k) => k)).toBe(true);
  expect(c.ids.filter((_, i) => c.cut[i])).toEqual(s.orders.map((o) => o.id).filter((id) => !inSet.has(id)));
  let fee = 0n;
  for (const o of b.orders) {
    if (o.order.side === "sell") fee += ((fills.get(o.id) ?? 0n) * price * book.feeBps) / 10_000n;
  }
  expect(c.feeTotal).toBe(fee);

  // The same header certifies the whole set (excluded orders included) and the kept set alike.
  for (const set of [b.orders, b.orders.filter((o) => kept.has(o.id))]) {
    const whole = certify({
      ...b.context,
      header: s.header,
      orders: set.map((o) => toBatchOrder(o.order)),
      trusted: trustedAll(set.length),
    });
    expect(whole.resultHash).toBe(expected.resultHash);
    expect(whole.fills).toEqual(expected.fills);
    expect(whole.feeTotal).toBe(c.feeTotal);
  }
  return true;
}

/** fast-check seed of the runs whose coverage (every rejection code met) is checked. */
const MUTATION_COVERAGE_SEED = 20_261_201;

describe("certify(selectBatch(book)) = clear(kept orders)", () => {
  it(
    "to the last unit: price, volume, every fill, result hash, fee; the batch is exactly the required orders",
    () => {
      let trading = 0;
      fc.assert(
        fc.property(bookArb, (book) => {
          if (honestSelection(book)) trading++;
        }),
        { numRuns: runs(2500) },
      );
      // The generator must mostly produce books that trade, or the property says little.
      expect(trading).toBeGreaterThan(runs(2500) / 3);
    },
    TIMEOUT_MS,
  );

  it(
    "books past the caps (more than 64 kept orders a side, more than 2 orders a trader and side): the same",
    () => {
      let cut = 0;
      fc.assert(
        fc.property(bigBookArb, (book) => {
          honestSelection(book);
          const b = build(book);
          if (select(b).cut.length > 0) cut++;
        }),
        { numRuns: runs(40) },
      );
      expect(cut).toBeGreaterThan(runs(40) / 2);
    },
    TIMEOUT_MS,
  );
});

/** The mutation property's check of one book and mutation; counts the rejections met in `seen`. */
function mutationCase(seen: Map<string, number>): (book: Book, m: Mutation) => void {
  return (book, m) => {
    const t = tradingBook(book);
    if (!t) return;
    const { b, s } = t;
    const mutated = mutate(s, m);
    if (!mutated) return;
    const { header, orders } = mutated;
    let expected: Expected | null;
    switch (m.kind) {
      case "price":
      case "field":
        expected = expectedFailure(header, orders, b.collateral);
        break;
      case "cap": {
        // A threshold that cuts none of the batch's kept orders is as good as the honest one.
        expected = expectedFailure(header, orders, b.collateral);
        if (expected === null) {
          const batchOrders = orders.map((o) => toBatchOrder(o.order));
          expect(certify({ ...b.context, header, orders: batchOrders }).resultHash).toBe(
            s.clearing.resultHash,
          );
          return;
        }
        break;
      }
      case "threshold": {
        const { honest, mutated: counted } = mutated.bonuses!;
        expected = {
          code: "WrongBonusCount",
          args: {
            side: m.side === "buy" ? 0n : 1n,
            counted: BigInt(counted),
            expected: BigInt(honest),
          },
        };
        // The other side is untouched, so this side's count is the first wrong one.
        expect(expectedFailure(header, orders, b.collateral)).toEqual(expected);
        break;
      }
      case "drop": {
        const dropped = mutated.dropped!;
        const side = dropped.order.side === "buy" ? header.buy : header.sell;
        // No excluded order is in the batch, so dropping one frees nothing that changes a sum:
        // its level's sum is short by its quantity. Unless the batch carries a cut order of that side:
        // then the side has 63 in-orders and a cut one, CapNotTight (checked before the sums).
        const cutIds = new Set(s.cut.map((o) => o.id));
        if (orders.some((o) => cutIds.has(o.id) && o.order.side === dropped.order.side)) {
          expected = {
            code: "CapNotTight",
            args: { side: dropped.order.side === "buy" ? 0n : 1n, count: 63n, max: 64n },
          };
          expect(expectedFailure(header, orders, b.collateral)).toEqual(expected);
          break;
        }
        expected = {
          code: "AggregateMismatch",
          args: {
            field: dropped.order.side === "buy" ? 1n : 5n,
            claimed: side.equal,
            actual: side.equal - dropped.order.quantity,
          },
        };
        expect(expectedFailure(header, orders, b.collateral)).toEqual(expected);
        break;
      }
      case "swap": {
        const { lo, hi, ids } = mutated.swapped!;
        expected = {
          code: "OrdersNotAscending",
          args: {
            index: BigInt(lo + 1),
            previousId: ids[hi]!,
            id: hi === lo + 1 ? ids[lo]! : ids[lo + 1]!,
          },
        };
        break;
      }
    }
    expect(expected, `${m.kind} mutation must be rejected`).not.toBeNull();
    const batchOrders: BatchOrder[] = orders.map((o) => toBatchOrder(o.order));
    const actual = failureOf(() =>
      certify({ ...b.context, header, orders: batchOrders, trusted: trustedAll(batchOrders.length) }),
    );
    expect(actual).toEqual(expected);
    seen.set(expected!.code, (seen.get(expected!.code) ?? 0) + 1);
  };
}

describe("mutations of an honest batch are rejected", () => {
  it(
    "with the code (and arguments) the spec's check order gives",
    () => {
      // A random seed explores new books every run; the check that every kind of rejection was met runs
      // on a fixed seed (with a random one it failed in 1 CI run of many: VolumeNotMaximal never drawn).
      fc.assert(fc.property(bookArb, mutationArb, mutationCase(new Map())), { numRuns: runs(2500) });
      const seen = new Map<string, number>();
      fc.assert(fc.property(bookArb, mutationArb, mutationCase(seen)), {
        numRuns: runs(2500),
        seed: MUTATION_COVERAGE_SEED,
      });
      // Every kind of rejection was met.
      for (const code of [
        "WrongPrice",
        "AggregateMismatch",
        "WrongBonusCount",
        "OrdersNotAscending",
        "VolumeNotMaximal",
      ]) {
        expect(seen.get(code) ?? 0, code).toBeGreaterThan(0);
      }
    },
    TIMEOUT_MS,
  );

  it(
    "on books past the caps too: a threshold moved by one order is CapNotTight",
    () => {
      fc.assert(fc.property(bigBookArb, mutationArb, mutationCase(new Map())), { numRuns: runs(150) });
      const seen = new Map<string, number>();
      fc.assert(fc.property(bigBookArb, mutationArb, mutationCase(seen)), {
        numRuns: runs(150),
        seed: MUTATION_COVERAGE_SEED,
      });
      // An honest certificate carries in-orders only (no cut order), so no threshold lets more than 64 of
      // its orders in: SideOverCap needs a batch with more kept orders (settlement-dust.test.ts has it).
      expect(seen.get("CapNotTight") ?? 0).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it(
    "a mutated signature or order field is rejected by the signature check",
    () => {
      fc.assert(
        fc.property(bookArb, fc.nat(), fc.integer({ min: 0, max: 3 }), (book, pick, what) => {
          const t = tradingBook(book);
          if (!t) return;
          const { b, s } = t;
          const orders = s.orders.map((o) => toBatchOrder(o.order));
          const i = pick % orders.length;
          const o = orders[i]!;
          const flip = (hex: Hex): Hex =>
            `0x${hex.slice(2, -1)}${((Number.parseInt(hex.slice(-1), 16) + 1) % 16).toString(16)}` as Hex;
          const mutated = [
            { ...o, r: flip(o.r) },
            { ...o, nonce: o.nonce + 1n },
            { ...o, v: o.v === 27 ? 28 : 27 },
            { ...o, trader: flip(o.trader) },
          ][what]!;
          orders[i] = mutated;
          const f = failureOf(() => certify({ ...b.context, header: s.header, orders }));
          // The id moves when a signed field changes: the order may then be out of place first.
          expect(["InvalidSigner", "OrdersNotAscending"]).toContain(f?.code);
          if (f?.code === "InvalidSigner") expect(f.args.index).toBe(BigInt(i));
          if (what === 0 || what === 2) expect(f?.code).toBe("InvalidSigner");
        }),
        { numRuns: runs(500) },
      );
    },
    TIMEOUT_MS,
  );
});

/** The challenge property's check of one book and subset; counts the outcomes in `outcomes`. */
function challengeCase(outcomes: Map<string, number>): (book: Book, seen: boolean[]) => void {
  return (book, seen) => {
    const b = build(book);
    const subset = b.orders.filter((_, i) => seen[i % seen.length]);
    const standingSel = select(b, subset);
    if (standingSel.outcome !== "batch") return;
    const submitter = `0x${"5e".repeat(20)}` as Hex;
    const standingCert = certifyBatchBytes(b.context, standingSel.bytes);
    const standing = {
      header: standingSel.header,
      orders: standingSel.orders,
      resultHash: standingCert.resultHash,
    };
    const whole = clearKept(b.orders, keptIds(b.orders, b.collateral));
    const ch = selectChallenge(
      {
        market: MARKET,
        epoch: EPOCH,
        domainSeparator: SEPARATOR,
        orders: signedOrders(b.orders),
        collateral: b.collateral,
      },
      standing,
    );
    outcomes.set(ch.outcome, (outcomes.get(ch.outcome) ?? 0) + 1);
    // The union is the whole set (the subset is part of it).
    expect(ch.selection.clearing).toEqual(whole);
    if (ch.outcome === "challenge") {
      const r = certifyChallenge({
        ...b.context,
        union: ch.bytes,
        standingSubmitter: submitter,
        record: settlementRecord(standingSel.batchHash, submitter, standingCert.feeTotal),
      });
      expect(r.standing.resultHash).toBe(standingCert.resultHash);
      expect(r.union.resultHash).toBe(whole.resultHash);
      expect(r.union.fills).toEqual(whole.fills);
      // The new batch (flag bit 1) is the whole set's own certificate: the same result, at most 512
      // orders, and its hash is the one the new record and Challenged carry.
      expect(r.newBatch.resultHash).toBe(whole.resultHash);
      expect(r.newBatch.batchHash).toBe(ch.batchHash);
      expect(ch.orders.length).toBeLessThanOrEqual(512);
      expect(ch.union.entries.length).toBeLessThanOrEqual(1024);
      if (whole.volume === 0n) {
        // The whole set does not trade, the subset did (a forced trade): the union certifies no trade.
        expect(ch.selection.outcome).toBe("no-trade");
        expect(r.union.volume).toBe(0n);
        expect(r.union.price).toBe(0n);
      }
    } else {
      // Nothing to add, or adding changes nothing: the standing result is the whole set's.
      expect(standingCert.resultHash).toBe(whole.resultHash);
    }
  };
}

describe("challenges", () => {
  it(
    "the challenge of a subset's result certifies the clearing of the whole set",
    () => {
      const outcomes = new Map<string, number>();
      fc.assert(
        fc.property(
          bookArb,
          fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
          challengeCase(outcomes),
        ),
        { numRuns: runs(800) },
      );
      expect(outcomes.get("challenge") ?? 0).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it(
    "on books past the caps too: the union of a subset's result and the whole set is the rule's clearing",
    () => {
      const outcomes = new Map<string, number>();
      fc.assert(
        fc.property(
          bigBookArb,
          fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
          challengeCase(outcomes),
        ),
        { numRuns: runs(40) },
      );
      expect(outcomes.get("challenge") ?? 0).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
