// The side cap ranks only the best MAX_KEPT_PER_SIDE orders of a side (clearing/side-cap.ts): held equal,
// on random sets with many equal limits, to the rule as written (each side sorted in full by price
// priority, the first `max` in, the rest cut, both ascending id).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applySideCap, type CapOrder, comparePriority, noCutThreshold } from "../../clearing/side-cap.ts";
import { compareHex, type Hex } from "../../protocol/hex.ts";
import type { Side } from "../../protocol/order.ts";

function reference(kept: readonly CapOrder[], max: number) {
  const byId = (a: CapOrder, b: CapOrder) => compareHex(a.id, b.id);
  const inOrders: CapOrder[] = [];
  const cut: CapOrder[] = [];
  const threshold = { buy: noCutThreshold("buy"), sell: noCutThreshold("sell") };
  const wasCut = { buy: false, sell: false };
  for (const side of ["buy", "sell"] as const) {
    const ranked = kept.filter((o) => o.side === side).sort((a, b) => comparePriority(side, a, b));
    if (ranked.length > max) {
      wasCut[side] = true;
      threshold[side] = { limit: ranked[max - 1]!.limitPrice, id: BigInt(ranked[max - 1]!.id) };
    }
    inOrders.push(...ranked.slice(0, max));
    cut.push(...ranked.slice(max));
  }
  return { in: inOrders.sort(byId), cut: cut.sort(byId), threshold, wasCut };
}

const order = fc.record({
  id: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }).map((n) => `0x${n.toString(16).padStart(64, "0")}` as Hex),
  side: fc.constantFrom<Side>("buy", "sell"),
  // Few distinct limits: ties are decided by id.
  limitPrice: fc.bigInt({ min: 1n, max: 6n }),
});

describe("applySideCap", () => {
  it("equals the rule's full sort, whatever the input order and the cap", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(order, { selector: (o) => o.id, maxLength: 80 }),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        (orders, max, sortedInput) => {
          const input = sortedInput ? [...orders].sort((a, b) => compareHex(a.id, b.id)) : orders;
          expect(applySideCap(input, BigInt(max))).toEqual(reference(orders, max));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
