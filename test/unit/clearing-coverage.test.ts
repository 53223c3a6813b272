import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyCoverage, type CoverageOrder } from "../../clearing/coverage.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";

const A = `0x${"aa".repeat(20)}` as Hex;
const B = `0x${"bb".repeat(20)}` as Hex;
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;

describe("coverage rule", () => {
  it("keeps a trader's orders in id order while the worst case fits, skipping those that do not", () => {
    const orders: CoverageOrder[] = [
      { id: id(3), trader: A, side: "buy", quantity: 10n, limitPrice: 5n }, // needs 50 quote
      { id: id(1), trader: A, side: "buy", quantity: 10n, limitPrice: 8n }, // needs 80 quote
      { id: id(2), trader: A, side: "buy", quantity: 1n, limitPrice: 100n }, // needs 100 quote
      { id: id(4), trader: A, side: "sell", quantity: 7n, limitPrice: 1n }, // needs 7 base
      { id: id(5), trader: B, side: "sell", quantity: 7n, limitPrice: 1n },
    ];
    const res = applyCoverage(orders, (t) => (t === A ? { base: 7n, quote: 135n } : { base: 6n, quote: 0n }));
    // id 1 (80) fits; id 2 (100) would make 180 > 135: out; id 3 (50) makes 130: in; id 4 sells 7 of 7: in.
    expect(res.covered.map((o) => o.id)).toEqual([id(1), id(3), id(4)]);
    expect(res.excluded.map((e) => [e.order.id, e.needed, e.available, e.reason])).toEqual([
      [id(2), 100n, 55n, "collateral"],
      [id(5), 7n, 6n, "collateral"],
    ]);
  });

  it("keeps at most 4 orders per trader (buys and sells together); an order that is not kept does not count", () => {
    const orders: CoverageOrder[] = [
      { id: id(1), trader: A, side: "buy", quantity: 1n, limitPrice: 10n },
      { id: id(2), trader: A, side: "sell", quantity: 1n, limitPrice: 10n },
      { id: id(3), trader: A, side: "buy", quantity: 1n, limitPrice: 1000n }, // unfunded: not kept, not counted
      { id: id(4), trader: A, side: "buy", quantity: 1n, limitPrice: 10n },
      { id: id(5), trader: A, side: "sell", quantity: 1n, limitPrice: 10n },
      { id: id(6), trader: A, side: "buy", quantity: 1n, limitPrice: 10n }, // the 5th funded one: trader-cap
      { id: id(7), trader: B, side: "buy", quantity: 1n, limitPrice: 10n }, // another trader: its own count
    ];
    const res = applyCoverage(orders, () => ({ base: 100n, quote: 100n }));
    expect(res.covered.map((o) => o.id)).toEqual([id(1), id(2), id(4), id(5), id(7)]);
    expect(res.excluded.map((e) => [e.order.id, e.needed, e.available, e.reason])).toEqual([
      [id(3), 1000n, 90n, "collateral"],
      [id(6), 10n, 80n, "trader-cap"],
    ]);
    // The cap is checked first: a 5th order that is also unfunded is "trader-cap".
    const capped = applyCoverage(
      [...orders.slice(0, 5), { id: id(8), trader: A, side: "buy", quantity: 1n, limitPrice: 10_000n }],
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
            expect(mine.length).toBeLessThanOrEqual(4);
          }
          expect(res.covered.length + res.excluded.length).toBe(orders.length);
          const reversed = applyCoverage([...orders].reverse(), col);
          expect(reversed.covered.map((o) => o.id)).toEqual(res.covered.map((o) => o.id));
        },
      ),
    );
  });
});
