// The golden cases of test/golden/clearing.json (written once by test/golden/generate-clearing.ts):
// clear() must reproduce every expected output exactly. A change to the rule's outcome fails here
// and shows up in review as a diff of the golden file when it is regenerated on purpose.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import type { ClearingOrder } from "../../clearing/types.ts";
import type { Hex } from "../../protocol/hex.ts";

interface GoldenCase {
  name: string;
  market: Hex;
  epoch: string;
  orders: { id: Hex; side: "buy" | "sell"; limitPrice: string; quantity: string }[];
  expected: {
    price: string | null;
    volume: string;
    fills: { id: string; quantity: string }[];
    welfare: string;
    buyerSurplus: string;
    sellerSurplus: string;
    resultHash: string;
  };
}

const MIN_CASES = 50;
const golden = JSON.parse(readFileSync(new URL("../golden/clearing.json", import.meta.url), "utf8")) as {
  cases: GoldenCase[];
};

describe("golden clearing cases", () => {
  it(`has at least ${MIN_CASES} uniquely named cases`, () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(MIN_CASES);
    expect(new Set(golden.cases.map((c) => c.name)).size).toBe(golden.cases.length);
  });

  it.each(golden.cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const orders: ClearingOrder[] = c.orders.map((o) => ({
      id: o.id,
      side: o.side,
      limitPrice: BigInt(o.limitPrice),
      quantity: BigInt(o.quantity),
    }));
    const r = clear(orders, { market: c.market, epoch: BigInt(c.epoch) });
    expect({
      price: r.price === null ? null : String(r.price),
      volume: String(r.volume),
      fills: r.fills.map((f) => ({ id: f.id, quantity: String(f.quantity) })),
      welfare: String(r.welfare),
      buyerSurplus: String(r.buyerSurplus),
      sellerSurplus: String(r.sellerSurplus),
      resultHash: r.resultHash,
    }).toEqual(c.expected);
  });
});
