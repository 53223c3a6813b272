// `smartmarket clear` as a user runs it: the real bin in a child process, input from a file or stdin.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { clear } from "../../clearing/clear.ts";
import type { ClearingOrder } from "../../clearing/types.ts";
import { makeDomain, orderIdEthers, signOrder } from "../../protocol/eip712.ts";
import { Wallet } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { type Order, orderToJson } from "../../protocol/order.ts";

const BIN = fileURLToPath(new URL("../../bin/smartmarket.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "smartmarket-clear-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: string[], stdin = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

let fileCount = 0;
function inputFile(content: unknown): string {
  const path = join(dir, `book-${fileCount++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const id = (n: number): string => `0x${n.toString(16).padStart(64, "0")}`;
const plain = (i: number, side: string, limitPrice: string, quantity: string) => ({
  id: id(i),
  side,
  limitPrice,
  quantity,
});

/** Worked example 1 (prices ×100000): 25 units at 200000. */
const EXAMPLE = {
  orders: [
    plain(1, "buy", "100000", "10"),
    plain(2, "buy", "200000", "15"),
    plain(3, "buy", "300000", "20"),
    plain(4, "sell", "100001", "25"),
    plain(5, "sell", "500000", "30"),
    plain(6, "sell", "240000", "35"),
  ],
};

/** The output line the command must print for orders cleared in process. */
function expectedLine(orders: ClearingOrder[], market?: Hex, epoch?: bigint): string {
  const r = clear(orders, market === undefined ? undefined : { market, epoch: epoch ?? 0n });
  const json = {
    price: r.price === null ? null : String(r.price),
    volume: String(r.volume),
    fills: r.fills.map((f) => ({ id: f.id, quantity: String(f.quantity) })),
    welfare: String(r.welfare),
    resultHash: r.resultHash,
  };
  return `${JSON.stringify(json)}\n`;
}

const exampleOrders: ClearingOrder[] = EXAMPLE.orders.map((o) => ({
  id: o.id as Hex,
  side: o.side as "buy" | "sell",
  limitPrice: BigInt(o.limitPrice),
  quantity: BigInt(o.quantity),
}));

describe.concurrent("smartmarket clear: good input", () => {
  it("reads a file and prints one JSON line", async ({ expect }) => {
    const r = await run(["clear", inputFile(EXAMPLE)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expectedLine(exampleOrders));
    expect(JSON.parse(r.stdout)).toMatchObject({ price: "200000", volume: "25" });
  });

  it("reads stdin when FILE is absent or -", async ({ expect }) => {
    const [absent, dash] = await Promise.all([
      run(["clear"], JSON.stringify(EXAMPLE)),
      run(["clear", "-"], JSON.stringify(EXAMPLE)),
    ]);
    for (const r of [absent, dash]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expectedLine(exampleOrders));
    }
  });

  it("normalizes uppercase ids and sorts fills by id", async ({ expect }) => {
    const upper = `0x${"AB".repeat(32)}`;
    const r = await run(
      ["clear"],
      JSON.stringify({ orders: [{ ...plain(0, "buy", "9", "1"), id: upper }, plain(1, "sell", "3", "1")] }),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).fills).toEqual([
      { id: id(1), quantity: "1" },
      { id: upper.toLowerCase(), quantity: "1" },
    ]);
  });

  it("prints an empty result for a book that does not trade", async ({ expect }) => {
    const r = await run(
      ["clear"],
      JSON.stringify({ orders: [plain(1, "buy", "4", "1"), plain(2, "sell", "5", "1")] }),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ price: null, volume: "0", fills: [], welfare: "0" });
  });

  it("--explain prints the account after the JSON line", async ({ expect }) => {
    const r = await run(["clear", inputFile(EXAMPLE), "--explain"]);
    expect(r.code).toBe(0);
    const [first, ...rest] = r.stdout.split("\n");
    expect(`${first}\n`).toBe(expectedLine(exampleOrders));
    const account = rest.join("\n");
    expect(account).toContain("Clearing interval [lo, hi] = [200000, 200000]");
    expect(account).toContain("Marginal buys (limit exactly 200000)");
  });

  it("--help documents how the two input forms are told apart", async ({ expect }) => {
    const r = await run(["clear", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"domain"');
    expect(r.stdout).toContain("--explain");
  });

  it("clears signed orders with EIP-712 ids, market and epoch from the orders", async ({ expect }) => {
    const domain = makeDomain(31337n, `0x${"5f".repeat(20)}`);
    const market = `0x${"11".repeat(32)}` as Hex;
    const epoch = 77n;
    const rows: [string, "buy" | "sell", bigint, bigint][] = [
      [`0x${"01".repeat(32)}`, "buy", 9n, 3n],
      [`0x${"02".repeat(32)}`, "buy", 8n, 2n],
      [`0x${"03".repeat(32)}`, "sell", 3n, 4n],
      [`0x${"04".repeat(32)}`, "sell", 10n, 1n],
    ];
    const signed = await Promise.all(
      rows.map(async ([key, side, limitPrice, quantity], nonce) => {
        const wallet = new Wallet(key);
        const order: Order = {
          market,
          epoch,
          side,
          quantity,
          limitPrice,
          nonce: BigInt(nonce),
          trader: wallet.address.toLowerCase() as Hex,
        };
        return signOrder(order, wallet, domain);
      }),
    );
    const input = {
      domain: { chainId: "31337", verifyingContract: domain.verifyingContract },
      orders: signed.map(orderToJson),
    };
    // Ids through ethers' TypedDataEncoder: independent of the hand-written digest the command uses.
    const orders: ClearingOrder[] = signed.map((o) => ({
      id: orderIdEthers(o, domain),
      side: o.side,
      limitPrice: o.limitPrice,
      quantity: o.quantity,
    }));
    const r = await run(["clear", inputFile(input)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expectedLine(orders, market, epoch));
    expect(r.stdout).not.toBe(expectedLine(orders)); // the market and epoch are in the hash

    // Orders of two epochs are not one book.
    const mixed = { ...input, orders: [...input.orders, { ...orderToJson(signed[0]!), epoch: "78" }] };
    const bad = await run(["clear", inputFile(mixed)]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/order 4 \(id 0x[0-9a-f]{64}\).*epoch 78/);

    // Signed orders without a domain get a pointed message.
    const noDomain = await run(["clear", inputFile({ orders: input.orders })]);
    expect(noDomain.code).toBe(2);
    expect(noDomain.stderr).toContain('need a top-level "domain"');

    // Orders that carry their own domain (the protocol's JSON form allows chainId and verifyingContract)
    // need no top-level "domain"; every order must name the same one.
    const claimed = signed.map((o) => ({
      ...orderToJson(o),
      chainId: "31337",
      verifyingContract: domain.verifyingContract,
    }));
    const selfDescribed = await run(["clear", inputFile({ orders: claimed })]);
    expect(selfDescribed.stderr).toBe("");
    expect(selfDescribed.code).toBe(0);
    expect(selfDescribed.stdout).toBe(expectedLine(orders, market, epoch));
    const otherChain = await run([
      "clear",
      inputFile({ orders: [claimed[0], { ...claimed[1], chainId: "1" }] }),
    ]);
    expect(otherChain.code).toBe(2);
    expect(otherChain.stdout).toBe("");
    expect(otherChain.stderr).toMatch(/order 1 .*"chainId" "1" differs/);

    // A signed order that does not parse is named by its index.
    const broken = { ...input, orders: [input.orders[0], { ...input.orders[1], trader: "0x12" }] };
    const brokenRun = await run(["clear", inputFile(broken)]);
    expect(brokenRun.code).toBe(2);
    expect(brokenRun.stdout).toBe("");
    expect(brokenRun.stderr).toContain("order 1");
  });
});

describe.concurrent("smartmarket clear: bad input exits 2, names the order, prints nothing on stdout", () => {
  const withOrder = (patch: Record<string, unknown>, drop?: string) => {
    const bad: Record<string, unknown> = { ...plain(7, "sell", "5", "2"), ...patch };
    if (drop) delete bad[drop];
    return JSON.stringify({ orders: [plain(1, "buy", "5", "1"), bad] });
  };
  const cases: [string, string, RegExp][] = [
    ["a duplicate id", withOrder({ id: id(1) }), /order 1 \(id 0x0+1\): duplicate id, also order 0/],
    [
      "a duplicate id differing only in case",
      JSON.stringify({
        orders: [
          { ...plain(1, "buy", "5", "1"), id: `0x${"ab".repeat(32)}` },
          { ...plain(2, "sell", "5", "1"), id: `0x${"AB".repeat(32)}` },
        ],
      }),
      /order 1 \(id 0x(ab){32}\): duplicate id, also order 0/,
    ],
    ["a zero quantity", withOrder({ quantity: "0" }), /order 1 \(id 0x0+7\): quantity must be positive/],
    ["a negative quantity", withOrder({ quantity: "-3" }), /order 1 \(id 0x0+7\):.*must not be negative/],
    ["a fractional quantity", withOrder({ quantity: "1.5" }), /order 1 \(id 0x0+7\):.*whole number/],
    ["a non-numeric price", withOrder({ limitPrice: "abc" }), /order 1 \(id 0x0+7\):.*not a decimal integer/],
    [
      "a JSON number",
      withOrder({ quantity: 2 }),
      /order 1 \(id 0x0+7\): "quantity" must be a decimal string, got number/,
    ],
    ["a zero price", withOrder({ limitPrice: "0" }), /order 1 \(id 0x0+7\): limitPrice must be positive/],
    [
      "a price above 2^128 - 1",
      withOrder({ limitPrice: (1n << 128n).toString() }),
      /order 1 \(id 0x0+7\): limitPrice .* exceeds/,
    ],
    ["an unknown side", withOrder({ side: "hold" }), /order 1 \(id 0x0+7\): "side" must be "buy" or "sell"/],
    ["a bad id", withOrder({ id: "0x1234" }), /order 1 \(id 0x1234\): "id" must be/],
    ["a missing field", withOrder({}, "quantity"), /order 1 \(id 0x0+7\): missing field "quantity"/],
    ["a missing id", withOrder({}, "id"), /order 1 \(id missing\): missing field "id"/],
    ["an unknown field", withOrder({ price: "5" }), /order 1 \(id 0x0+7\): unknown field "price"/],
    ["malformed JSON", '{"orders": [', /not valid JSON/],
    ["no orders array", '{"orders": {}}', /"orders" must be an array/],
  ];

  it.for(cases)("%s", async ([, stdin, message], { expect }) => {
    const r = await run(["clear"], stdin);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });

  it("a file that does not exist", async ({ expect }) => {
    const r = await run(["clear", join(dir, "missing.json")]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("cannot read");
  });
});

it("the expected-line helper agrees with the golden worked example", () => {
  expect(JSON.parse(expectedLine(exampleOrders))).toMatchObject({
    price: "200000",
    volume: "25",
    welfare: "4499975",
  });
});
