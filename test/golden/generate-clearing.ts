// Generates test/golden/clearing.json: clearing cases (input and expected output) that pin the rule,
// so that any change to its outcome shows up in review as a diff of this file.
//
//   node test/golden/generate-clearing.ts
//
// Run it only when the rule changes on purpose. test/unit/clearing-golden.test.ts compares clear()
// with the committed file and never regenerates it. Every case is cross-checked here against the slow
// reference implementation before it is written.
import { writeFileSync } from "node:fs";
import { clear, DEFAULT_CONTEXT } from "../../clearing/clear.ts";
import type { ClearingContext, ClearingOrder } from "../../clearing/types.ts";
import type { Hex } from "../../protocol/hex.ts";
import { createPrng, uniformBelow } from "../perf/clearing-book.ts";
import { referenceClear } from "../property/clearing-reference.ts";

const OUTPUT = new URL("./clearing.json", import.meta.url);
const MAX_UINT128 = (1n << 128n) - 1n;
const SCALE = 100_000n;
const RANDOM_CASES = 30;
const SEED = 0x5eed;

interface Case {
  readonly name: string;
  readonly ctx?: ClearingContext;
  readonly orders: readonly ClearingOrder[];
}

const hexId = (n: bigint): Hex => `0x${n.toString(16).padStart(64, "0")}`;

/** Orders from [side, limit, quantity] with ids 1, 2, 3, ... (or the given ids). */
function book(rows: readonly (readonly ["buy" | "sell", bigint, bigint, bigint?])[]): ClearingOrder[] {
  return rows.map(([side, limitPrice, quantity, id], i) => ({
    id: hexId(id ?? BigInt(i + 1)),
    side,
    limitPrice,
    quantity,
  }));
}

const handCrafted: Case[] = [
  {
    name: "worked example 1: bids 1@10 2@15 3@20 vs offers 1.00001@25 5@30 2.4@35 (x100000): 25 at 2",
    orders: book([
      ["buy", 1n * SCALE, 10n],
      ["buy", 2n * SCALE, 15n],
      ["buy", 3n * SCALE, 20n],
      ["sell", 100_001n, 25n],
      ["sell", 5n * SCALE, 30n],
      ["sell", 240_000n, 35n],
    ]),
  },
  {
    name: "worked example 2: bids 1.5@40 2@45 6@50 vs offers 1@55 5@60 1@65 (x100000): 120 at 1.5",
    orders: book([
      ["buy", 150_000n, 40n],
      ["buy", 2n * SCALE, 45n],
      ["buy", 6n * SCALE, 50n],
      ["sell", 1n * SCALE, 55n],
      ["sell", 5n * SCALE, 60n],
      ["sell", 1n * SCALE, 65n],
    ]),
  },
  {
    name: "worked example 3: buys of 1 at 9 and 8 vs sells of 1 at 3 and 4: 2 at 6",
    orders: book([
      ["buy", 9n, 1n],
      ["buy", 8n, 1n],
      ["sell", 3n, 1n],
      ["sell", 4n, 1n],
    ]),
  },
  { name: "empty book", orders: [] },
  { name: "single buy", orders: book([["buy", 5n, 3n]]) },
  { name: "single sell", orders: book([["sell", 5n, 3n]]) },
  {
    name: "one-sided: buys only",
    orders: book([
      ["buy", 5n, 3n],
      ["buy", 7n, 1n],
      ["buy", 7n, 2n],
    ]),
  },
  {
    name: "one-sided: sells only",
    orders: book([
      ["sell", 5n, 3n],
      ["sell", 1n, 1n],
    ]),
  },
  {
    name: "no overlap: best buy one below best sell",
    orders: book([
      ["buy", 9n, 10n],
      ["buy", 3n, 10n],
      ["sell", 10n, 10n],
      ["sell", 12n, 1n],
    ]),
  },
  {
    name: "equal limits: one buy and one sell at 10",
    orders: book([
      ["buy", 10n, 5n],
      ["sell", 10n, 3n],
    ]),
  },
  {
    name: "equal limits: every order at 10 on both sides",
    orders: book([
      ["buy", 10n, 2n],
      ["buy", 10n, 3n],
      ["sell", 10n, 1n],
      ["sell", 10n, 1n],
      ["sell", 10n, 1n],
    ]),
  },
  {
    name: "ties at the price on both sides",
    orders: book([
      ["buy", 5n, 2n],
      ["buy", 5n, 3n],
      ["buy", 9n, 1n],
      ["sell", 5n, 1n],
      ["sell", 5n, 1n],
      ["sell", 5n, 1n],
      ["sell", 2n, 1n],
    ]),
  },
  {
    name: "pro rata with one leftover unit to the largest remainder (R=5 over 3, 4, 6)",
    orders: book([
      ["buy", 10n, 3n],
      ["buy", 10n, 4n],
      ["buy", 10n, 6n],
      ["sell", 1n, 5n],
    ]),
  },
  {
    name: "pro rata remainder ties broken by ascending id, input not in id order",
    orders: book([
      ["buy", 7n, 1n, 0xffn << 240n],
      ["buy", 7n, 1n, 0x10n],
      ["buy", 7n, 1n, 0xabcn << 128n],
      ["sell", 7n, 2n],
    ]),
  },
  {
    name: "pro rata: ten equal claims share seven units",
    orders: book([
      ...Array.from({ length: 10 }, (_, i) => ["sell", 4n, 1n, BigInt(100 - i)] as const),
      ["buy", 6n, 7n],
    ]),
  },
  {
    name: "pro rata on the sell side with mixed sizes and leftovers",
    orders: book([
      ["sell", 20n, 7n],
      ["sell", 20n, 11n],
      ["sell", 20n, 13n],
      ["sell", 20n, 2n],
      ["sell", 10n, 4n],
      ["buy", 30n, 25n],
      ["buy", 20n, 1n],
    ]),
  },
  {
    name: "marginal level gets nothing (R = 0): b_{V+1} sets lo at a buy limit",
    orders: book([
      ["buy", 10n, 5n],
      ["buy", 6n, 3n],
      ["sell", 5n, 5n],
      ["sell", 7n, 1n],
    ]),
  },
  {
    name: "marginal level fills fully (R = L)",
    orders: book([
      ["buy", 8n, 2n],
      ["buy", 8n, 3n],
      ["sell", 8n, 5n],
      ["sell", 9n, 5n],
    ]),
  },
  {
    name: "lo set by b_{V+1}, hi by a_{V+1}: [12, 15] -> 13",
    orders: book([
      ["buy", 20n, 1n],
      ["buy", 18n, 1n],
      ["buy", 12n, 1n],
      ["sell", 5n, 1n],
      ["sell", 6n, 1n],
      ["sell", 15n, 1n],
    ]),
  },
  {
    name: "midpoint rounds down: [3, 10] -> 6",
    orders: book([
      ["buy", 10n, 1n],
      ["sell", 3n, 1n],
    ]),
  },
  {
    name: "widest interval: sell at 1, buy at 2^128 - 1",
    orders: book([
      ["buy", MAX_UINT128, 1n],
      ["sell", 1n, 1n],
    ]),
  },
  {
    name: "huge quantities and prices near 2^128 - 1",
    orders: book([
      ["buy", MAX_UINT128, MAX_UINT128],
      ["buy", MAX_UINT128 - 1n, MAX_UINT128],
      ["sell", 1n, MAX_UINT128],
      ["sell", MAX_UINT128 - 1n, MAX_UINT128 - 7n],
      ["sell", MAX_UINT128 - 1n, 3n],
    ]),
  },
  {
    name: "huge pro rata: products R*q near 2^256",
    orders: book([
      ["buy", 1000n, MAX_UINT128],
      ["buy", 1000n, MAX_UINT128 - 1n],
      ["buy", 1000n, MAX_UINT128 / 3n],
      ["sell", 999n, MAX_UINT128 - 12345n],
    ]),
  },
  {
    name: "limits across 32/64/96-bit boundaries",
    orders: book(
      [1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 96n + 5n, MAX_UINT128].flatMap(
        (p, i) =>
          [
            ["buy", p, BigInt(i + 1), BigInt(2 * i + 1)],
            ["sell", p, BigInt(i + 2), BigInt(2 * i + 2)],
          ] as const,
      ),
    ),
  },
  {
    name: "ids sharing their first 64 bits",
    orders: book(
      [9n, 1n, 2n ** 100n, 5n, 2n ** 64n, 77n].map(
        (tail, i) =>
          [i % 2 ? "buy" : "sell", 3n, BigInt(i + 1), (0x0123456789abcdefn << 192n) + tail] as const,
      ),
    ),
  },
  {
    name: "demand equals supply exactly at every unit",
    orders: book([
      ["buy", 5n, 1n],
      ["buy", 5n, 1n],
      ["buy", 5n, 1n],
      ["sell", 5n, 3n],
    ]),
  },
  {
    name: "non-zero market and the largest epoch",
    ctx: { market: `0x${"ab".repeat(32)}`, epoch: (1n << 64n) - 1n },
    orders: book([
      ["buy", 9n, 2n],
      ["sell", 3n, 2n],
    ]),
  },
  {
    name: "non-zero market, no trade",
    ctx: { market: `0x${"01".repeat(32)}`, epoch: 42n },
    orders: book([
      ["buy", 2n, 2n],
      ["sell", 3n, 2n],
    ]),
  },
];

/** Random books in the regimes of the property tests, from a fixed seed. */
function randomCases(): Case[] {
  const next = createPrng(SEED);
  const big = (bits: number): bigint => {
    let v = 0n;
    for (let b = 0; b < bits; b += 32) v = (v << 32n) | BigInt(next());
    return v & ((1n << BigInt(bits)) - 1n);
  };
  const regimes = ["ties", "spread", "huge", "one-sided", "shared-prefix"] as const;
  const cases: Case[] = [];
  for (let c = 0; c < RANDOM_CASES; c++) {
    const regime = regimes[c % regimes.length]!;
    const size = 1 + uniformBelow(next, 60);
    const ids = new Set<bigint>();
    while (ids.size < size) ids.add(regime === "shared-prefix" ? (0xfeedn << 240n) + big(16) : big(256));
    const orders = [...ids].map((id): ClearingOrder => {
      const side = regime === "one-sided" ? "buy" : next() & 1 ? "buy" : "sell";
      const limitPrice =
        regime === "ties" || regime === "shared-prefix"
          ? BigInt(1 + uniformBelow(next, 5))
          : regime === "huge"
            ? MAX_UINT128 - BigInt(uniformBelow(next, 4))
            : BigInt(1 + uniformBelow(next, 1_000_000));
      const quantity =
        regime === "huge"
          ? MAX_UINT128 - big(20)
          : BigInt(1 + uniformBelow(next, regime === "ties" ? 5 : 1000));
      return { id: hexId(id), side, limitPrice, quantity };
    });
    cases.push({ name: `random ${c + 1}: ${regime}, ${size} orders`, orders });
  }
  return cases;
}

function expectedOutput(c: Case) {
  const r = clear(c.orders, c.ctx ?? DEFAULT_CONTEXT);
  const ref = referenceClear(c.orders);
  const same =
    r.price === ref.price &&
    r.volume === ref.volume &&
    r.welfare === ref.welfare &&
    r.buyerSurplus === ref.buyerSurplus &&
    r.sellerSurplus === ref.sellerSurplus &&
    JSON.stringify(r.fills.map((f) => [f.id, String(f.quantity)])) ===
      JSON.stringify(ref.fills.map(([id, q]) => [id, String(q)]));
  if (!same) throw new Error(`case "${c.name}": clear() and the reference disagree`);
  return {
    price: r.price === null ? null : String(r.price),
    volume: String(r.volume),
    fills: r.fills.map((f) => ({ id: f.id, quantity: String(f.quantity) })),
    welfare: String(r.welfare),
    buyerSurplus: String(r.buyerSurplus),
    sellerSurplus: String(r.sellerSurplus),
    resultHash: r.resultHash,
  };
}

/** Pretty JSON with one order or fill per line, so that review diffs stay readable. */
function format(cases: readonly Case[]): string {
  const line = (value: unknown) => JSON.stringify(value);
  const blocks = cases.map((c) => {
    const ctx = c.ctx ?? DEFAULT_CONTEXT;
    const expected = expectedOutput(c);
    const orders = c.orders.map((o) =>
      line({ id: o.id, side: o.side, limitPrice: String(o.limitPrice), quantity: String(o.quantity) }),
    );
    const fills = expected.fills.map(line);
    return [
      "    {",
      `      "name": ${line(c.name)},`,
      `      "market": ${line(ctx.market)},`,
      `      "epoch": ${line(String(ctx.epoch))},`,
      `      "orders": [${orders.length ? `\n        ${orders.join(",\n        ")}\n      ` : ""}],`,
      '      "expected": {',
      `        "price": ${line(expected.price)},`,
      `        "volume": ${line(expected.volume)},`,
      `        "fills": [${fills.length ? `\n          ${fills.join(",\n          ")}\n        ` : ""}],`,
      `        "welfare": ${line(expected.welfare)},`,
      `        "buyerSurplus": ${line(expected.buyerSurplus)},`,
      `        "sellerSurplus": ${line(expected.sellerSurplus)},`,
      `        "resultHash": ${line(expected.resultHash)}`,
      "      }",
      "    }",
    ].join("\n");
  });
  const header = line(
    "Generated by test/golden/generate-clearing.ts; checked by test/unit/clearing-golden.test.ts.",
  );
  return `{\n  "comment": ${header},\n  "cases": [\n${blocks.join(",\n")}\n  ]\n}\n`;
}

const cases = [...handCrafted, ...randomCases()];
const text = format(cases);
JSON.parse(text); // the hand-made layout must still be JSON
writeFileSync(OUTPUT, text);
process.stdout.write(`wrote ${cases.length} cases to ${OUTPUT.pathname}\n`);
