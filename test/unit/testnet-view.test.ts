import { describe, expect, it } from "vitest";
import { formatEnergy, formatPrice, formatQuote } from "../../testnet/devices.ts";
import { padFraction } from "../../testnet/report.ts";
import { LiveView, MIN_REDRAW_INTERVAL_MS, stripAnsi } from "../../testnet/view.ts";
import { MARKET, syntheticReport } from "./testnet-fixtures.ts";

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
const rows = report.epochs;
const current = (progress: number) => ({ epoch: 7n, progress, orders: 12 });

describe("testnet live view", () => {
  it("not a TTY: a header, then each finished epoch once as plain text, no progress bar", () => {
    const out = new Capture(false);
    const view = new LiveView({
      nodes: 3,
      epochSeconds: 5,
      out: out.asStream(),
      interactive: false,
      market: MARKET,
    });
    view.update([], current(0.1));
    expect(out.text).toBe(""); // nothing final yet, and no progress line in logs
    view.update(rows.slice(0, 2), current(0.5));
    view.update(rows.slice(0, 2), current(0.75)); // same rows again: not printed twice
    view.update(rows.slice(0, 6), current(0.9)); // cumulative list, as the launcher passes it
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
      "price $/kWh",
      "volume kWh",
      "welfare $",
      "settled by",
      "gas",
      "agreement",
    ]) {
      expect(lines[0]).toContain(title);
    }
    expect(lines[2]).toContain("3 nodes");
    expect(text.match(/price \$\/kWh/g)).toHaveLength(1);
    rows.slice(0, 6).forEach((r, i) => {
      const line = lines[H + i]!;
      expect(line.trimStart().startsWith(`${r.epoch} `)).toBe(true);
      expect(line).toContain(` ${r.orders} `);
      // Exact decimals, zero-padded so that the columns line up.
      expect(line).toContain(padFraction(formatPrice(r.price!, MARKET), 3));
      expect(line).toContain(padFraction(formatEnergy(r.volume, MARKET), 3));
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
    const view = new LiveView({
      nodes: 3,
      epochSeconds: 5,
      out: out.asStream(),
      interactive: true,
      market: MARKET,
    });
    expect(out.text).toContain("\x1b[?25l"); // cursor hidden while drawing
    for (let i = 0; i < 50; i++) view.update(rows.slice(0, 2), current(i / 98));
    const draws = () => out.text.split("epoch 7 ").length - 1;
    // 50 updates in a burst: the first draws at once, the rest wait for the throttle.
    expect(draws()).toBe(1);
    await new Promise((r) => setTimeout(r, MIN_REDRAW_INTERVAL_MS + 100));
    expect(draws()).toBe(2); // one deferred redraw, with the latest progress
    expect(stripAnsi(out.text)).toContain(" 50%");
    expect(out.text).toContain("\x1b[32m"); // green "all 3 agreed"
    expect(out.text).toContain("\r\x1b[2K"); // redrawn in place
    // A finished epoch is printed above the progress line: erase it, print the row, redraw it.
    view.update(rows.slice(0, 3), current(0.6));
    const plain = stripAnsi(out.text);
    const rowAt = plain.lastIndexOf(`${rows[2]!.epoch.toString().padStart(7)}  `);
    expect(rowAt).toBeGreaterThan(plain.lastIndexOf("50%"));
    expect(plain.indexOf("epoch 7 ", rowAt)).toBeGreaterThan(rowAt);
    // Never wider than the terminal.
    out.columns = 40;
    await new Promise((r) => setTimeout(r, MIN_REDRAW_INTERVAL_MS + 20));
    view.update([], current(0.7));
    const last = stripAnsi(out.text.slice(out.text.lastIndexOf("\r\x1b[2K")));
    expect(last.length).toBeLessThanOrEqual(40);
    view.close();
    view.close(); // idempotent
    expect(out.text.endsWith("\r\x1b[2K\x1b[?25h")).toBe(true);
    const before = out.text;
    view.update(rows, current(0.9)); // after close: ignored
    expect(out.text).toBe(before);
  });
});
