// Property tests of clear(): random books (heavy ties, one-sided books, single orders, amounts near
// 2^128, ids sharing long prefixes) checked against a slow reference written from the rule text and
// against brute force. SMARTMARKET_LONG_PROPERTIES=1 runs twenty times as many books.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ClearingResult, clear } from "../../clearing/clear.ts";
import type { ClearingOrder } from "../../clearing/types.ts";
import { AbiCoder, keccak256 } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { createPrng } from "../perf/clearing-book.ts";
import { bruteForceMaxWelfare, demandAt, referenceClear, supplyAt } from "./clearing-reference.ts";

const LONG = process.env.SMARTMARKET_LONG_PROPERTIES === "1";
const runs = (n: number): number => (LONG ? 20 * n : n);
/** The long run takes minutes; the default one stays within vitest's default per-test timeout. */
const TIMEOUT_MS = LONG ? 900_000 : undefined;
const MAX_UINT128 = (1n << 128n) - 1n;
const MAX_BOOK = 40;

const hexId = (n: bigint): Hex => `0x${n.toString(16).padStart(64, "0")}`;

/** Ids: random 256-bit, small (sharing the zero prefix), or sharing a fixed first 64 bits. */
const idArb = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }).map(hexId),
  fc.bigInt({ min: 0n, max: 1n << 20n }).map(hexId),
  fc.bigInt({ min: 0n, max: 1n << 16n }).map((n) => hexId((0xabcdef0123456789n << 192n) + n)),
);
const PRICE_REGIMES = {
  ties: fc.bigInt({ min: 1n, max: 5n }),
  spread: fc.bigInt({ min: 1n, max: 1_000_000n }),
  huge: fc.bigInt({ min: MAX_UINT128 - 5n, max: MAX_UINT128 }),
  words: fc.constantFrom(1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n, 2n ** 64n + 1n, 2n ** 96n, MAX_UINT128),
} as const;
const QUANTITY_REGIMES = {
  small: fc.bigInt({ min: 1n, max: 5n }),
  spread: fc.bigInt({ min: 1n, max: 1_000_000_000_000n }),
  huge: fc.bigInt({ min: MAX_UINT128 - 5n, max: MAX_UINT128 }),
} as const;
const SIDE_REGIMES = {
  both: fc.constantFrom("buy" as const, "sell" as const),
  buysOnly: fc.constant("buy" as const),
  sellsOnly: fc.constant("sell" as const),
} as const;

function bookArb(maxLength = MAX_BOOK): fc.Arbitrary<ClearingOrder[]> {
  return fc
    .record({
      price: fc.constantFrom(...(Object.keys(PRICE_REGIMES) as (keyof typeof PRICE_REGIMES)[])),
      quantity: fc.constantFrom(...(Object.keys(QUANTITY_REGIMES) as (keyof typeof QUANTITY_REGIMES)[])),
      side: fc.constantFrom("both", "both", "both", "buysOnly", "sellsOnly") as fc.Arbitrary<
        keyof typeof SIDE_REGIMES
      >,
    })
    .chain((regime) =>
      fc.uniqueArray(
        fc.record({
          id: idArb,
          side: SIDE_REGIMES[regime.side],
          limitPrice: PRICE_REGIMES[regime.price],
          quantity: QUANTITY_REGIMES[regime.quantity],
        }),
        { selector: (o) => o.id, maxLength },
      ),
    );
}

const fillMap = (r: ClearingResult) => new Map(r.fills.map((f) => [f.id, f.quantity]));
const toJson = (r: ClearingResult): string =>
  JSON.stringify(r, (_key, value) => (typeof value === "bigint" ? value.toString() : value));

describe("clear (properties)", () => {
  it(
    "equals the slow reference implementation of the rule, pro-rata shares included",
    () => {
      fc.assert(
        fc.property(bookArb(), (orders) => {
          const r = clear(orders);
          const ref = referenceClear(orders);
          expect(r.price).toBe(ref.price);
          expect(r.volume).toBe(ref.volume);
          expect(r.fills.map((f) => [f.id, f.quantity])).toEqual(ref.fills.map(([id, q]) => [id, q]));
          expect([r.welfare, r.buyerSurplus, r.sellerSurplus]).toEqual([
            ref.welfare,
            ref.buyerSurplus,
            ref.sellerSurplus,
          ]);
        }),
        { numRuns: runs(2000) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "trades the brute-force maximum volume over every integer price",
    () => {
      const smallBook = fc.uniqueArray(
        fc.record({
          id: idArb,
          side: SIDE_REGIMES.both,
          limitPrice: fc.bigInt({ min: 1n, max: 20n }),
          quantity: fc.bigInt({ min: 1n, max: 9n }),
        }),
        { selector: (o) => o.id, maxLength: MAX_BOOK },
      );
      fc.assert(
        fc.property(smallBook, (orders) => {
          let best = 0n;
          for (let p = 0n; p <= 21n; p++) {
            const d = demandAt(orders, p);
            const s = supplyAt(orders, p);
            let matched = d;
            if (s < matched) matched = s;
            if (matched > best) best = matched;
          }
          expect(clear(orders).volume).toBe(best);
        }),
        { numRuns: runs(1000) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "fills respect limits, quantities and volume; better orders fill fully, worse not at all",
    () => {
      fc.assert(
        fc.property(bookArb(), (orders) => {
          const r = clear(orders);
          const fills = fillMap(r);
          let bought = 0n;
          let sold = 0n;
          for (const o of orders) {
            const f = fills.get(o.id) ?? 0n;
            expect(f >= 0n && f <= o.quantity).toBe(true);
            if (o.side === "buy") bought += f;
            else sold += f;
            if (r.price === null) {
              expect(f).toBe(0n);
              continue;
            }
            const better = o.side === "buy" ? o.limitPrice > r.price : o.limitPrice < r.price;
            const worse = o.side === "buy" ? o.limitPrice < r.price : o.limitPrice > r.price;
            if (better) expect(f).toBe(o.quantity);
            if (worse) expect(f).toBe(0n);
          }
          expect([bought, sold]).toEqual([r.volume, r.volume]);
          expect(r.price === null).toBe(r.volume === 0n);
          // Sorted strictly by id, no zero fills.
          r.fills.forEach((f, i) => {
            expect(f.quantity > 0n).toBe(true);
            if (i > 0) expect(BigInt(r.fills[i - 1]!.id) < BigInt(f.id)).toBe(true);
          });
          expect(r.welfare).toBe(r.buyerSurplus + r.sellerSurplus);
          expect(r.buyerSurplus >= 0n && r.sellerSurplus >= 0n).toBe(true);
        }),
        { numRuns: runs(2000) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "gives byte-identical results for every permutation of the input",
    () => {
      fc.assert(
        fc.property(bookArb(), fc.integer({ min: 0, max: 2 ** 31 }), (orders, seed) => {
          const shuffled = [...orders];
          const next = createPrng(seed);
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = next() % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          expect(toJson(clear(shuffled))).toBe(toJson(clear(orders)));
        }),
        { numRuns: runs(1000) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "reaches the welfare of a brute-force welfare-maximizing allocation (small books)",
    () => {
      const tinyBook = fc.uniqueArray(
        fc.record({
          id: idArb,
          side: SIDE_REGIMES.both,
          limitPrice: fc.bigInt({ min: 1n, max: 10n }),
          quantity: fc.bigInt({ min: 1n, max: 3n }),
        }),
        { selector: (o) => o.id, maxLength: 6 },
      );
      fc.assert(
        fc.property(tinyBook, (orders) => {
          expect(clear(orders).welfare).toBe(bruteForceMaxWelfare(orders));
        }),
        { numRuns: runs(500) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "hashes what ethers' AbiCoder encodes",
    () => {
      const market = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }).map(hexId);
      const epoch = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
      fc.assert(
        fc.property(bookArb(20), market, epoch, (orders, m, e) => {
          const r = clear(orders, { market: m, epoch: e });
          const encoded = AbiCoder.defaultAbiCoder().encode(
            ["bytes32", "uint64", "uint256", "uint256", "tuple(bytes32,uint256)[]"],
            [m, e, r.price ?? 0n, r.volume, r.fills.map((f) => [f.id, f.quantity])],
          );
          expect(r.resultHash).toBe(keccak256(encoded));
        }),
        { numRuns: runs(300) },
      );
    },
    TIMEOUT_MS,
  );
});
