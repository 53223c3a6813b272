import { describe, expect, it } from "vitest";
import { formatBase, formatPrice, formatQuote, padFraction } from "../../node/api/units.ts";
import type { CurrentEpoch, EpochReport, MarketProgress } from "../../testnet/types.ts";
import { LiveView, MIN_REDRAW_INTERVAL_MS, stripAnsi } from "../../testnet/view.ts";
import { DATA_MARKET, epochsOf, MARKET, syntheticAttackReport, syntheticReport } from "./testnet-fixtures.ts";

/** A write stream that records what it is given. */
class Capture {
  text = "";
  isTTY: boolean;
  columns = 140;
  constructor(isTTY: boolean) {
    this.isTTY = isTTY;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  asStream(): NodeJS.WriteStream {
    return this as unknown as NodeJS.WriteStream;
  }
}

const report = syntheticReport({ epochs: 7, nodes: 3 });
const rows = epochsOf(report);
const current = (progress: number) => ({ epoch: 7n, progress, orders: 12 });
/** The energy market's rows and current epoch, as the launcher reports them. */
const energy = (r: readonly EpochReport[], c: CurrentEpoch | null): MarketProgress[] => [
  { market: MARKET.id, rows: r, current: c },
];
const ENERGY_ONLY = [{ name: "energy", market: MARKET }];

describe("testnet live view", () => {
  it("not a TTY: a header, then each finished epoch once as plain text, no progress bar", () => {
    const out = new Capture(false);
    const view = new LiveView({ nodes: 3, out: out.asStream(), interactive: false, markets: ENERGY_ONLY });
    view.update(energy([], current(0.1)));
    expect(out.text).toBe(""); // nothing final yet, and no progress line in logs
    view.update(energy(rows.slice(0, 2), current(0.5)));
    view.update(energy(rows.slice(0, 2), current(0.75))); // same rows again: not printed twice
    view.update(energy(rows.slice(0, 6), current(0.9))); // cumulative list, as the launcher passes it
    view.log("a launcher message");
    view.close();
    const text = out.text;
    expect(text).not.toContain("\x1b");
    expect(text).not.toContain("█");
    expect(text).not.toContain("\r");
    const lines = text.trimEnd().split("\n");
    // Header (titles + what the columns mean), then six rows, then the message.
    const H = 3;
    expect(lines).toHaveLength(H + 6 + 1);
    for (const title of [
      "epoch",
      "orders",
      "price USD/kWh",
      "volume kWh",
      "welfare USD",
      "settled by",
      "gas",
      "agreement",
    ]) {
      expect(lines[0]).toContain(title);
    }
    expect(lines[2]).toContain("3 nodes");
    expect(text.match(/price USD\/kWh/g)).toHaveLength(1);
    rows.slice(0, 6).forEach((r, i) => {
      const line = lines[H + i]!;
      expect(line.trimStart().startsWith(`${r.epoch} `)).toBe(true);
      expect(line).toContain(` ${r.orders} `);
      // Exact decimals, zero-padded so that the columns line up.
      expect(line).toContain(padFraction(formatPrice(r.price!, MARKET), 3));
      expect(line).toContain(padFraction(formatBase(r.volume, MARKET), 3));
      expect(line).toContain(padFraction(formatQuote(r.welfare, MARKET), 6));
    });
    expect(lines[H]).toContain("all 3 agreed");
    expect(lines[H]).toContain("node 0");
    expect(lines[H]).toContain(rows[0]!.gasUsed!.toString());
    expect(lines[H + 3]).toContain("node 2 diverged");
    expect(lines[H + 4]).toContain("unsettled");
    expect(lines[H + 5]).toContain("node 1 no result");
    expect(lines[H + 6]).toBe("a launcher message");
    expect(padFraction("2.07", 3)).toBe("2.070");
    expect(padFraction("5", 3)).toBe("5.000");
    expect(padFraction("0.123456", 3)).toBe("0.123456");
  });

  it("interactive: colours, a progress line redrawn in place at most 4 times a second, cleaned up on close", async () => {
    const out = new Capture(true);
    const view = new LiveView({ nodes: 3, out: out.asStream(), interactive: true, markets: ENERGY_ONLY });
    expect(out.text).toContain("\x1b[?25l"); // cursor hidden while drawing
    for (let i = 0; i < 50; i++) view.update(energy(rows.slice(0, 2), current(i / 98)));
    const draws = () => out.text.split("epoch 7 ").length - 1;
    // 50 updates in a burst: the first draws at once, the rest wait for the throttle.
    expect(draws()).toBe(1);
    await new Promise((r) => setTimeout(r, MIN_REDRAW_INTERVAL_MS + 100));
    expect(draws()).toBe(2); // one deferred redraw, with the latest progress
    expect(stripAnsi(out.text)).toContain(" 50%");
    expect(out.text).toContain("\x1b[32m"); // green "all 3 agreed"
    expect(out.text).toContain("\r\x1b[2K"); // redrawn in place
    // A finished epoch is printed above the progress line: erase it, print the row, redraw it.
    view.update(energy(rows.slice(0, 3), current(0.6)));
    const plain = stripAnsi(out.text);
    const rowAt = plain.lastIndexOf(`${rows[2]!.epoch.toString().padStart(7)}  `);
    expect(rowAt).toBeGreaterThan(plain.lastIndexOf("50%"));
    expect(plain.indexOf("epoch 7 ", rowAt)).toBeGreaterThan(rowAt);
    // Never wider than the terminal.
    out.columns = 40;
    await new Promise((r) => setTimeout(r, MIN_REDRAW_INTERVAL_MS + 20));
    view.update(energy([], current(0.7)));
    const last = stripAnsi(out.text.slice(out.text.lastIndexOf("\r\x1b[2K")));
    expect(last.length).toBeLessThanOrEqual(40);
    view.close();
    view.close(); // idempotent
    expect(out.text.endsWith("\r\x1b[2K\x1b[?25h")).toBe(true);
    const before = out.text;
    view.update(energy(rows, current(0.9))); // after close: ignored
    expect(out.text).toBe(before);
  });

  it("two markets: each row names its market and carries its units, rows in the order the epochs ended, one progress line for both", () => {
    const two = syntheticReport({ epochs: 6, nodes: 3, twoMarkets: true });
    const energyRows = epochsOf(two, 0);
    const dataRows = epochsOf(two, 1);
    const markets = [
      { name: "energy", market: MARKET },
      { name: "data", market: DATA_MARKET },
    ];
    const progress = (e: number, d: number, c: boolean): MarketProgress[] => [
      {
        market: MARKET.id,
        rows: energyRows.slice(0, e),
        current: c ? { epoch: 6n, progress: 0.5, orders: 9 } : null,
      },
      {
        market: DATA_MARKET.id,
        rows: dataRows.slice(0, d),
        current: c ? { epoch: 3n, progress: 0.25, orders: 4 } : null,
      },
    ];

    // Logs: plain lines.
    const out = new Capture(false);
    const view = new LiveView({ nodes: 3, out: out.asStream(), interactive: false, markets });
    view.update(progress(2, 1, true));
    view.update(progress(2, 1, true)); // nothing new
    view.update(progress(6, 3, false));
    view.close();
    const lines = out.text.trimEnd().split("\n");
    const H = 3;
    expect(lines).toHaveLength(H + 6 + 3);
    for (const title of [
      "market",
      "epoch",
      "orders",
      "price",
      "volume",
      "welfare",
      "settled by",
      "agreement",
    ])
      expect(lines[0]).toContain(title);
    const body = lines.slice(H);
    // Energy epoch e ends at (e + 1) × 5 s, data epoch d at (d + 1) × 10 s: e0 e1 d0 e2 e3 d1 e4 e5 d2 (ties:
    // energy first, the primary market).
    const order = body.map((l) => {
      const [market, epoch] = l.trim().split(/\s+/);
      return `${market}:${epoch}`;
    });
    expect(order).toEqual([
      "energy:0",
      "energy:1",
      "data:0",
      "energy:2",
      "energy:3",
      "data:1",
      "energy:4",
      "energy:5",
      "data:2",
    ]);
    for (const line of body) {
      const isData = line.trimStart().startsWith("data");
      const epoch = BigInt(line.trim().split(/\s+/)[1]!);
      const r = (isData ? dataRows : energyRows).find((x) => x.epoch === epoch)!;
      const m = isData ? DATA_MARKET : MARKET;
      if (r.price !== null)
        expect(line).toContain(`${padFraction(formatPrice(r.price, m), isData ? 6 : 3)} ${m.priceLabel}`);
      expect(line).toContain(`${padFraction(formatBase(r.volume, m), m.baseDecimals)} ${m.baseLabel}`);
      expect(line).toContain(`${padFraction(formatQuote(r.welfare, m), 6)} ${m.quoteLabel}`);
      // No energy unit on a data row, and no data unit on an energy row.
      expect(line).not.toContain(isData ? "kWh" : "reading");
    }
    // The data market's rows use its own integer readings: "468 reading", not "0.468".
    expect(body.find((l) => l.trimStart().startsWith("data"))).toMatch(/ \d+ reading/);

    // A terminal: one progress line with both markets' current epochs, each with its own time left.
    const tty = new Capture(true);
    tty.columns = 200;
    const live = new LiveView({ nodes: 3, out: tty.asStream(), interactive: true, markets });
    live.update(progress(1, 0, true));
    const last = stripAnsi(tty.text.slice(tty.text.lastIndexOf("\r\x1b[2K")));
    expect(last).toContain("energy epoch 6 ");
    expect(last).toContain("data epoch 3 ");
    expect(last).toContain(" 50%");
    expect(last).toContain(" 25%");
    expect(last).toContain("2.5 s left"); // energy: 5 s epochs, half gone
    expect(last).toContain("7.5 s left"); // data: 10 s epochs, a quarter gone
    live.close();
  });
});

describe("testnet live view under --adversary", () => {
  const attacked = syntheticAttackReport("censor", { epochs: 5, nodes: 3 });
  const attackRows = epochsOf(attacked);

  it("prints an attack line under each attacked row: the submission, the challenge, the bond, the final result", () => {
    const out = new Capture(false);
    const view = new LiveView({
      nodes: 3,
      out: out.asStream(),
      interactive: false,
      markets: ENERGY_ONLY,
      adversary: "censor",
    });
    view.update(energy(attackRows, null));
    view.close();
    const lines = out.text.trimEnd().split("\n");
    // Header: titles, two notes, and the attack line's legend.
    expect(lines[3]).toContain("↳ censor attack on the energy market");
    const body = lines.slice(4);
    expect(body).toHaveLength(attackRows.length * 2);
    const line = (epoch: number) => body[2 * epoch + 1]!;
    for (let e = 0; e < attackRows.length; e++)
      expect(body[2 * e]!.trimStart().startsWith(`${e} `)).toBe(true);
    // Epoch 1: proposed, replaced by node 1's challenge, bond to node 1, final = honest.
    const a1 = attackRows[1]!.attack!;
    expect(line(1)).toContain(`↳ censor: proposed ${a1.tx!.slice(0, 10)}…`);
    expect(line(1)).toContain(`replaced by node 1's challenge ${a1.challengeTx!.slice(0, 10)}…`);
    expect(line(1)).toContain("bond 0.01 ETH to node 1");
    expect(line(1)).toMatch(/final: node 1's 0x[0-9a-f]{8}….* = honest$/);
    // Epoch 2: nothing sent, and why.
    expect(line(2)).toContain("none (not sent: nothing trades without the 3 orders it leaves out (of 9))");
    expect(line(2)).toContain("no challenge · no bond paid");
    // Epoch 3: its result stood and is final: not the honest one.
    expect(line(3)).toContain("not challenged · no bond paid · final: the attacker's");
    expect(line(3)).toMatch(/≠ honest$/);
  });

  it("copy: names the copied transaction and its node; colours the final result green when honest, red when not", () => {
    const copy = epochsOf(syntheticAttackReport("copy", { epochs: 3, nodes: 3 }));
    const out = new Capture(true);
    const view = new LiveView({
      nodes: 3,
      out: out.asStream(),
      interactive: true,
      markets: ENERGY_ONLY,
      adversary: "copy",
    });
    view.update(energy(copy, null));
    view.close();
    const plain = stripAnsi(out.text);
    expect(plain).toContain(`↳ copy: copy ${copy[0]!.attack!.tx!.slice(0, 10)}…`);
    expect(plain).toContain(
      `of node 0's tx ${copy[0]!.attack!.copiedTx!.slice(0, 10)}…${copy[0]!.attack!.copiedTx!.slice(-6)}: reverted NotCommitted`,
    );
    expect(plain).toContain("2 copies, first ");
    expect(plain).toContain("2 reverted NotCommitted");
    expect(out.text).toContain(`\x1b[32mfinal: node 0's`);
    const censor = new Capture(true);
    const v2 = new LiveView({ nodes: 3, out: censor.asStream(), interactive: true, markets: ENERGY_ONLY });
    expect(stripAnsi(v2.formatAttack(attackRows[3]!))).toMatch(/≠ honest$/);
    expect(v2.formatAttack(attackRows[3]!)).toContain("\x1b[31mfinal: the attacker's");
    expect(v2.formatAttack(rows[0]!)).toBe(""); // a row without an attack
    v2.close();
  });
});
