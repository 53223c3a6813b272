// An epoch cut short by Ctrl-C: the market driver records it as unfinished (the orders sent, no result),
// and the live view, report.html, report.json and the --json summary show it as unfinished: never as
// agreed, never as "no trade"; the progress line never shows an epoch before genesis ("epoch -1").
import { describe, expect, it } from "vitest";
import type { EpochDetail } from "../../node/api/types.ts";
import { epochStartMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import { type DriverContext, MarketDriver } from "../../testnet/market-driver.ts";
import type { NodeProcess } from "../../testnet/node-process.ts";
import { renderReportHtml } from "../../testnet/report.ts";
import { renderCurveSvg } from "../../testnet/report-charts.ts";
import { parseReportJson, reportToJson } from "../../testnet/report-json.ts";
import { describeAgreement, describeSettlement } from "../../testnet/report-words.ts";
import { runSucceeded, summarizeReport } from "../../testnet/summary.ts";
import type { EpochReport, TestnetReport } from "../../testnet/types.ts";
import { LiveView, stripAnsi } from "../../testnet/view.ts";
import { MARKET, scenario, syntheticReport } from "./testnet-fixtures.ts";

const NODES = 3;

/**
 * Nodes whose control API takes every order and, asked about the epoch, answer as a node does while it
 * is still open: phase "open", no fingerprint, no result (the same answer on every node).
 */
function openNodes(): { nodes: NodeProcess[]; received: unknown[] } {
  const received: unknown[] = [];
  const client = {
    submitOrder: async (_market: Hex, order: unknown) => {
      received.push(order);
      return {};
    },
    epoch: async (_market: Hex, epoch: bigint): Promise<Partial<EpochDetail>> => ({
      market: MARKET.id,
      epoch: epoch.toString(),
      phase: "open" as EpochDetail["phase"],
      orders: null,
      fingerprint: null,
      resultHash: null,
      price: null,
      volume: "0",
      settlement: null,
      agreed: null,
      result: null,
      orderList: [],
      excluded: [],
    }),
  };
  const nodes = Array.from(
    { length: NODES },
    (_, i) =>
      ({
        running: true,
        peerId: `peer-${i}`,
        wallet: `0x${String(i + 1).repeat(40)}`,
        client: () => client,
      }) as unknown as NodeProcess,
  );
  return { nodes, received };
}

/** What the driver records for an epoch whose orders were sent when Ctrl-C came before its close. */
async function interruptedRow(): Promise<{ row: EpochReport; sent: number }> {
  const { nodes, received } = openNodes();
  let stopped = false;
  let sleeps = 0;
  const ctx: DriverContext = {
    nodes: () => nodes,
    separator: new Uint8Array(32).fill(7),
    // 1st: until the devices send; 2nd: until the close, which Ctrl-C cuts short.
    sleepUntil: async () => {
      sleeps++;
      if (sleeps >= 2) stopped = true;
    },
    stopping: () => stopped,
    log: () => {},
    onSettled: () => {},
  };
  const driver = new MarketDriver({
    name: "energy",
    info: MARKET,
    base: `0x${"ba".repeat(20)}`,
    quote: `0x${"9a".repeat(20)}`,
    scenario: scenario("neighbourhood", "interrupted", NODES),
  });
  await driver.drive(ctx, epochStartMs(MARKET, 5n), null);
  expect(driver.rows).toHaveLength(1);
  return { row: driver.rows[0]!, sent: received.length };
}

/** A run of `epochs` good epochs, then the interrupted one. */
function reportWith(row: EpochReport, epochs = 3): TestnetReport {
  const base = syntheticReport({ epochs, nodes: NODES });
  const m = base.markets[0]!;
  return { ...base, markets: [{ ...m, epochs: [...m.epochs, { ...row, epoch: BigInt(epochs) }] }] };
}

describe("an epoch interrupted by Ctrl-C", () => {
  it("the driver records it as unfinished: the orders sent, not agreed", async () => {
    const { row, sent } = await interruptedRow();
    expect(sent).toBeGreaterThan(0);
    expect(row.unfinished).toBe(true);
    expect(row.agreed).toBe(false);
    expect(row.orders).toBe(sent);
    expect(row.ordersSent).toBe(sent);
    expect(row.deviceOrders?.length).toBe(sent);
    expect(row.deviceOrders?.every((o) => o.fate === "unfinished")).toBe(true);
    expect(describeAgreement(row)).toMatchObject({ ok: null, text: "unfinished (stopped)" });
    expect(describeSettlement(row)).toBe("unfinished");
  });

  it("the live view: a row that says unfinished, with the orders sent; never agreed or no trade", async () => {
    const { row, sent } = await interruptedRow();
    let text = "";
    const out = {
      isTTY: false,
      columns: 140,
      write: (s: string) => {
        text += s;
        return true;
      },
    };
    const view = new LiveView({
      nodes: NODES,
      out: out as unknown as NodeJS.WriteStream,
      interactive: false,
      markets: [{ name: "energy", market: MARKET }],
    });
    view.update([{ market: MARKET.id, rows: [row], current: null }]);
    view.close();
    const line = text.trimEnd().split("\n").at(-1)!;
    expect(line).toContain("unfinished (stopped)");
    expect(line).toMatch(new RegExp(`^\\s*5\\s+${sent}\\s`));
    expect(line).not.toMatch(/agreed|no trade/);
  });

  it("the progress line never shows an epoch before genesis", () => {
    let text = "";
    const out = {
      isTTY: true,
      columns: 140,
      write: (s: string) => {
        text += s;
        return true;
      },
    };
    const view = new LiveView({
      nodes: NODES,
      out: out as unknown as NodeJS.WriteStream,
      interactive: true,
      markets: [{ name: "energy", market: MARKET }],
    });
    expect(view.progressLine([{ epoch: -1n, progress: 1, orders: 0 }])).toBe("");
    view.update([{ market: MARKET.id, rows: [], current: { epoch: -1n, progress: 1, orders: 0 } }]);
    view.close();
    expect(stripAnsi(text)).not.toContain("epoch -1");
  });

  it("report.html and report.json: unfinished, not counted as agreed, its chart not 'no trade'", async () => {
    const { row } = await interruptedRow();
    // Its curves as the nodes knew them: bids and asks that cross, and no result yet.
    const crossing: EpochReport = {
      ...row,
      bids: [{ limitPrice: 300n, quantity: 2000n }],
      asks: [{ limitPrice: 100n, quantity: 2000n }],
    };
    const svg = renderCurveSvg(crossing, MARKET);
    expect(svg).toContain("unfinished (stopped)");
    expect(svg).not.toContain("no trade");
    const report = reportWith(crossing);
    const html = renderReportHtml(report);
    expect(html).toContain("1 unfinished when the run stopped");
    expect(html).toContain("3 of 3 finished epochs agreed on every node");
    expect(html).toContain('<tr class="unfinished">');
    // The row's own cells (its per-node details table has an "agreed" column of its own).
    const tableRow = html.split('<tr class="unfinished">')[1]!.split("<details>")[0]!;
    expect(tableRow).toContain("unfinished (stopped)");
    expect(tableRow).not.toMatch(/agreed|no trade/);
    const back = parseReportJson(reportToJson(report));
    expect(back.markets[0]!.epochs.at(-1)!.unfinished).toBe(true);
    expect(back).toEqual(report);
  });

  it("the --json summary: unfinished, agreed null; the run still succeeds", async () => {
    const { row } = await interruptedRow();
    const report = reportWith(row);
    const summary = summarizeReport(report);
    const last = summary.markets[0]!.epochs.at(-1)!;
    expect(last).toMatchObject({ unfinished: true, agreed: null, settled: false, settledBy: null });
    expect(summary.markets[0]!.epochs[0]).not.toHaveProperty("unfinished");
    expect(runSucceeded(report)).toBe(true);
    // A finished epoch that did not agree still fails the run.
    expect(runSucceeded(syntheticReport({ epochs: 6, nodes: NODES }))).toBe(false);
  });
});
