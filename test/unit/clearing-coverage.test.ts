import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyCoverage, type CoverageOrder } from "../../clearing/coverage.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";

const A = `0x${"aa".repeat(20)}` as Hex;
const B = `0x${"bb".repeat(20)}` as Hex;
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;

describe("coverage rule", () => {
  it("keeps an order of a trader's first two of its side iff it needs at most half the collateral", () => {
    const orders: CoverageOrder[] = [
      { id: id(3), trader: A, side: "buy", quantity: 10n, limitPrice: 5n }, // needs 50 quote: 2nd buy, fits 67
      { id: id(1), trader: A, side: "buy", quantity: 10n, limitPrice: 8n }, // needs 80 quote: 1st buy, > 67
      { id: id(2), trader: A, side: "sell", quantity: 3n, limitPrice: 100n }, // needs 3 base: fits 3
      { id: id(4), trader: A, side: "sell", quantity: 4n, limitPrice: 1n }, // needs 4 base: > 3
      { id: id(5), trader: B, side: "sell", quantity: 3n, limitPrice: 1n }, // needs 3 base: fits 6 / 2
    ];
    const res = applyCoverage(orders, (t) => (t === A ? { base: 7n, quote: 135n } : { base: 6n, quote: 0n }));
    // A's share: ⌊135 / 2⌋ = 67 quote, ⌊7 / 2⌋ = 3 base (rounded down). No running total: id 3 fits
    // although id 1 came first, and two kept orders never need more than the collateral.
    expect(res.covered.map((o) => o.id)).toEqual([id(2), id(3), id(5)]);
    expect(res.excluded.map((e) => [e.order.id, e.needed, e.available, e.reason])).toEqual([
      [id(1), 80n, 67n, "collateral"],
      [id(4), 4n, 3n, "collateral"],
    ]);
  });

  it("only a trader's first two orders of a side can be kept, funded or not; sides and traders count apart", () => {
    const orders: CoverageOrder[] = [
      { id: id(1), trader: A, side: "buy", quantity: 1n, limitPrice: 1000n }, // unfunded, but takes a place
      { id: id(2), trader: A, side: "sell", quantity: 1n, limitPrice: 10n },
      { id: id(3), trader: A, side: "buy", quantity: 1n, limitPrice: 10n },
      { id: id(4), trader: A, side: "sell", quantity: 1n, limitPrice: 10n },
      { id: id(5), trader: A, side: "buy", quantity: 1n, limitPrice: 10n }, // the third buy: trader-cap
      { id: id(6), trader: A, side: "sell", quantity: 1n, limitPrice: 10n }, // the third sell: trader-cap
      { id: id(7), trader: B, side: "buy", quantity: 1n, limitPrice: 10n }, // another trader: its own places
    ];
    const res = applyCoverage(orders, () => ({ base: 100n, quote: 100n }));
    expect(res.covered.map((o) => o.id)).toEqual([id(2), id(3), id(4), id(7)]);
    expect(res.excluded.map((e) => [e.order.id, e.needed, e.available, e.reason])).toEqual([
      [id(1), 1000n, 50n, "collateral"],
      [id(5), 10n, 50n, "trader-cap"],
      [id(6), 1n, 50n, "trader-cap"],
    ]);
    // The cap is checked first: a third order that is also unfunded is "trader-cap".
    const capped = applyCoverage(
      [...orders.slice(0, 4), { id: id(8), trader: A, side: "buy", quantity: 1n, limitPrice: 10_000n }],
      () => ({ base: 100n, quote: 100n }),
    );
    expect(capped.excluded.at(-1)!.reason).toBe("trader-cap");
  });

  it("never exceeds any trader's collateral and does not depend on input order", () => {
    const traders = [A, B, `0x${"cc".repeat(20)}` as Hex];
    const orderArb = fc.record({
      id: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex),
      trader: fc.constantFrom(...traders),
      side: fc.constantFrom("buy" as const, "sell" as const),
      quantity: fc.bigInt({ min: 1n, max: 1000n }),
      limitPrice: fc.bigInt({ min: 1n, max: 1000n }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(orderArb, { selector: (o) => o.id, maxLength: 40 }),
        fc.array(
          fc.record({
            base: fc.bigInt({ min: 0n, max: 5000n }),
            quote: fc.bigInt({ min: 0n, max: 500_000n }),
          }),
          {
            minLength: 3,
            maxLength: 3,
          },
        ),
        (orders, cols) => {
          const col = (t: Hex) => cols[traders.indexOf(t)]!;
          const res = applyCoverage(orders, col);
          for (const t of traders) {
            const mine = res.covered.filter((o) => o.trader === t);
            const quote = mine
              .filter((o) => o.side === "buy")
              .reduce((s, o) => s + o.quantity * o.limitPrice, 0n);
            const base = mine.filter((o) => o.side === "sell").reduce((s, o) => s + o.quantity, 0n);
            expect(quote <= col(t).quote && base <= col(t).base).toBe(true);
            expect(mine.filter((o) => o.side === "buy").length).toBeLessThanOrEqual(2);
            expect(mine.filter((o) => o.side === "sell").length).toBeLessThanOrEqual(2);
          }
          expect(res.covered.length + res.excluded.length).toBe(orders.length);
          const reversed = applyCoverage([...orders].reverse(), col);
          expect(reversed.covered.map((o) => o.id)).toEqual(res.covered.map((o) => o.id));
        },
      ),
    );
  });
});
