// The device owner's view of its orders and fills, end to end in process: a real market session (store,
// signatures, coverage, clearing, proposal, finality) on the fake chain of session-harness.ts, the real
// control API server in front of it, and the CLI commands run through runCli against that API. The fake
// chain's collateral table is the wallet's escrow; its port is given token metadata for display units.
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CoverageCheck, FillRow, OrderStatusView } from "../../../node/api/types.ts";
import { type ApiNode, ApiServer } from "../../../node/api-server.ts";
import type { CliCommand } from "../../../node/cli/command.ts";
import { fillsCommand } from "../../../node/cli/commands/fills.ts";
import { epochCommand, epochsCommand, statusCommand } from "../../../node/cli/commands/inspect.ts";
import { orderCommand } from "../../../node/cli/commands/order.ts";
import { ordersCommand } from "../../../node/cli/commands/orders.ts";
import { runCli } from "../../../node/cli/main.ts";
import { createLogger } from "../../../node/logger.ts";
import { NodeMetrics } from "../../../node/metrics.ts";
import type { Hex } from "../../../protocol/hex.ts";
import { SessionWorld, type TestNode, waitFor } from "./session-harness.ts";

const COMMANDS: readonly CliCommand[] = [
  orderCommand,
  ordersCommand,
  fillsCommand,
  epochCommand,
  epochsCommand,
  statusCommand,
];
const TOKEN = "test-token";

let world: SessionWorld;
let node: TestNode;
let api: ApiServer;
let wallet: Hex;

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(
    [...argv, "--api", api.url, "--token", TOKEN],
    {
      stdout: new PassThrough().on("data", (d) => (stdout += String(d))),
      stderr: new PassThrough().on("data", (d) => (stderr += String(d))),
      stdin: new PassThrough(),
      isTTY: false,
      env: {},
    },
    COMMANDS,
  );
  await new Promise((r) => setImmediate(r));
  return { code, stdout, stderr };
}

/** The API's view of a node built around one market session (what SmartNode gives the server). */
function apiNode(n: TestNode): ApiNode {
  const session = n.session;
  const metrics = new NodeMetrics();
  const node = {
    apiToken: TOKEN,
    chain: n.port,
    wallet: { address: n.port.sender, privateKey: "0x" as Hex },
    store: n.store,
    metrics,
    sessions: new Map([[session.market, session]]),
    session: () => session,
    status: () => ({
      version: "test",
      peerId: n.peerId,
      addresses: [],
      wallet: n.port.sender,
      chainId: "31337",
      contract: n.port.contract,
      markets: [session.views.status()],
      peers: 0,
      uptimeS: 0,
      gossipQueue: 0,
    }),
  };
  return node as unknown as ApiNode;
}

beforeAll(async () => {
  world = new SessionWorld({ epochLengthS: 3n });
  node = await world.addNode("a");
  wallet = node.port.sender;
  // The market's tokens: 3-decimal energy (1 unit = 1 Wh) and a 6-decimal dollar, as on the testnet.
  const { base } = world.params;
  Object.assign(node.port, {
    tokenMeta: async (t: Hex) =>
      t === base ? { symbol: "kWh", decimals: 3 } : { symbol: "USD", decimals: 6 },
  });
  // The node's wallet holds 0.001 USD (1000 units) of quote and no base in escrow.
  world.chain.collateral.set(`${world.market}:${wallet}`, { base: 0n, quote: 1000n });
  api = new ApiServer(
    { host: "127.0.0.1", port: 0 },
    { node: apiNode(node), logger: createLogger({ level: "error", write: () => {} }) },
  );
  await api.start();
  await world.at(0n, 50);
});

afterAll(async () => {
  await api?.stop();
  await world?.close();
});

describe("smartmarket order: the coverage check before sending", () => {
  it("an uncovered buy is not sent: exit 1 with needed, what one order may need and the deposit, in display units and raw", async () => {
    const r = await cli("order", "buy", "--quantity", "10", "--price", "300");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "needed 0.003 USD, one order may need at most 0.0005 USD (1/2 of the 0.001 USD in escrow)",
    );
    expect(r.stderr).toContain("estimate");
    expect(r.stderr).toContain("--force");
    // An escrow of 2 × 0.003 covers it: 0.005 more.
    expect(r.stderr).toContain("deposit 0.005 USD more (smartmarket deposit quote 0.005)");
    expect(node.store.ordersBetween(world.market, 0n, 0n, wallet)).toHaveLength(0);

    const j = await cli("order", "buy", "--quantity", "10", "--price", "300", "--json");
    expect(j.code).toBe(1);
    const out = JSON.parse(j.stdout) as { sent: boolean; coverage: CoverageCheck };
    expect(out.sent).toBe(false);
    expect(out.coverage).toMatchObject({
      needed: "3000",
      perOrder: "500",
      available: "500",
      short: "5000",
      asset: "QUOTE",
      covered: false,
      estimate: true,
      epoch: "0",
    });
    expect(node.store.ordersBetween(world.market, 0n, 0n, wallet)).toHaveLength(0);
  });

  it("--force sends it anyway, with the warning; a covered order is sent without one", async () => {
    const forced = await cli("order", "buy", "--quantity", "10", "--price", "300", "--force");
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain("deposit 0.005 USD more");
    expect(forced.stderr).toContain("sending anyway (--force)");
    expect(forced.stdout).toMatch(/^order 0x[0-9a-f]{64}/);
    // 1 × 300 = 300 ≤ 500, half the escrow: covered whatever the other buy needs (no running total).
    const ok = await cli("order", "buy", "--quantity", "1", "--price", "300", "--json");
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe("");
    const sent = JSON.parse(ok.stdout) as { sent: boolean; coverage: CoverageCheck };
    expect(sent.sent).toBe(true);
    expect(sent.coverage).toMatchObject({
      covered: true,
      needed: "300",
      otherOrders: 1,
      sideFull: false,
      short: "0",
    });
    // Someone sells 5 Wh at 200: the covered buy fills.
    await world.order(node, 3, "sell", 5n, 200n, 0n);
    expect(node.store.ordersBetween(world.market, 0n, 0n, wallet)).toHaveLength(2);
  });

  it("before the close, orders shows them pending", async () => {
    const r = await cli("orders", "--mine", "--json");
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as OrderStatusView[];
    expect(rows).toHaveLength(2);
    expect(rows.every((o) => o.status === "pending" && o.trader === wallet)).toBe(true);
  });

  it("a quantity of 10^45 exits 2 and says the limit", async () => {
    const r = await cli("order", "buy", "--quantity", `1${"0".repeat(45)}`, "--price", "1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("at most 2^128 - 1");
    expect(r.stderr).not.toContain("INTERNAL");
    // The control API answers the same input with a 400 and the rule, never a 500.
    const huge = `1${"0".repeat(45)}`;
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const post = await fetch(`${api.url}/markets/${world.market}/orders`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ side: "buy", quantity: huge, price: "1" }),
    });
    expect(post.status).toBe(400);
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe("QUANTITY_OUT_OF_RANGE");
    const cov = await fetch(`${api.url}/markets/${world.market}/coverage?side=buy&quantity=${huge}&price=1`, {
      headers: auth,
    });
    expect(cov.status).toBe(400);
  });
});

describe("after clearing: orders, epoch and fills", () => {
  let big: Hex;
  let small: Hex;
  beforeAll(async () => {
    await waitFor("epoch 0 final", () => node.record(0n)?.phase === "settled", 20_000);
    const mine = node.store.ordersBetween(world.market, 0n, 0n, wallet);
    big = mine.find((o) => o.order.quantity === 10n)!.id;
    small = mine.find((o) => o.order.quantity === 1n)!.id;
  }, 25_000);

  it("epoch N lists the order left out of clearing with the reason", async () => {
    // One order may need half the wallet's 1000, whatever the order of their ids.
    const raw = await cli("epoch", "0", "--raw");
    expect(raw.code).toBe(0);
    expect(raw.stdout).toContain("left out of clearing (1)");
    expect(raw.stdout).toContain(
      "not covered: needed 3000 QUOTE, one order may need at most 500 (1/2 of the escrow)",
    );
    const shown = await cli("epoch", "0");
    expect(shown.stdout).toContain("not covered: needed 0.003 USD, one order may need at most 0.0005 USD");
    const j = JSON.parse((await cli("epoch", "0", "--json")).stdout);
    expect(j.excluded).toEqual([
      {
        id: big,
        trader: wallet,
        side: "buy",
        asset: "QUOTE",
        needed: "3000",
        available: "500",
        cause: "collateral",
        reason: "not covered: needed 3000 QUOTE, one order may need at most 500 (1/2 of the escrow)",
      },
    ]);
    expect(j.excludedCounts).toEqual({ collateral: 1, "trader-cap": 0, "side-cap": 0 });
    // The poller's view (?orders=false): the counts without the lists.
    const polled = node.session.views.epoch(0n, false);
    expect(polled.orderList).toBeUndefined();
    expect(polled.excluded).toBeUndefined();
    expect(polled.excludedCounts).toEqual({ collateral: 1, "trader-cap": 0, "side-cap": 0 });
  });

  it("orders shows the excluded one with its reason and the filled one with its quantity", async () => {
    const r = await cli("orders", "--epoch", "0", "--mine", "--json");
    const rows = JSON.parse(r.stdout) as OrderStatusView[];
    const byId = new Map(rows.map((o) => [o.id, o]));
    expect(byId.get(big)).toMatchObject({ status: "excluded", filled: "0", final: true });
    expect(byId.get(big)!.reason).toMatch(/^not covered: needed 3000 QUOTE, one order may need at most 500/);
    expect(byId.get(small)).toMatchObject({ status: "filled", filled: "1", final: true, reason: null });
    const table = await cli("orders", "--epoch", "0");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/ID\s+TRADER\s+SIDE\s+QUANTITY\s+PRICE\s+EPOCH\s+STATUS/);
    expect(table.stdout).toContain("excluded: not covered: needed 0.003 USD");
    expect(table.stdout).toContain("filled 0.001 kWh (final)");
    // The seller's order is in the list without --mine, not with it.
    expect(rows).toHaveLength(2);
    expect(JSON.parse((await cli("orders", "--epoch", "0", "--json")).stdout)).toHaveLength(3);
  });

  it("fills shows the wallet's fill with the price, the amount paid, finality and the settlement tx", async () => {
    const rec = node.record(0n)!;
    expect(rec.settleTx).not.toBeNull();
    const j = await cli("fills", "--json");
    const fills = JSON.parse(j.stdout) as FillRow[];
    expect(fills).toHaveLength(1);
    expect(fills[0]).toMatchObject({
      epoch: "0",
      id: small,
      side: "buy",
      quantity: "1",
      price: rec.price,
      amount: (1n * BigInt(rec.price!)).toString(),
      settlement: "final",
      final: true,
      tx: rec.settleTx,
    });
    const t = await cli("fills");
    expect(t.stdout).toContain(rec.settleTx!);
    expect(t.stdout).toContain("bought");
    expect(t.stdout).toMatch(/paid 0\.000\d+ USD/);
    expect(t.stdout).toContain("final");
  });

  it("status and epochs show display units, raw with --raw", async () => {
    const st = await cli("status");
    expect(st.stdout).toContain("(kWh, 3 decimals)");
    expect(st.stdout).toContain("(USD, 6 decimals)");
    const price = BigInt(node.record(0n)!.price!);
    const e = await cli("epochs", "--last", "3");
    expect(e.stdout).toMatch(/USD\/kWh/);
    expect(e.stdout).toContain("0.001 kWh");
    const raw = await cli("epochs", "--last", "3", "--raw");
    expect(raw.stdout).not.toContain("USD");
    expect(raw.stdout).toMatch(new RegExp(`\\b${price}\\b`));
  });
});
