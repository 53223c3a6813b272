import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  describeAgreement,
  describeSettlement,
  escapeHtml,
  niceAxis,
  parseReportJson,
  renderReportHtml,
  reportToJson,
  writeReport,
} from "../../testnet/report.ts";
import type { EpochReport, TestnetReport } from "../../testnet/types.ts";
import { syntheticReport } from "./testnet-fixtures.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "smartmarket-report-"));
  dirs.push(d);
  return d;
}

describe("testnet report", () => {
  const report = syntheticReport({ epochs: 14, nodes: 3 });

  it("writes report.json and report.html (and nothing else) into a new folder", () => {
    const dir = join(tempDir(), "nested", "out");
    const files = writeReport(dir, report);
    expect(files.jsonPath).toBe(join(dir, "report.json"));
    expect(files.htmlPath).toBe(join(dir, "report.html"));
    expect(readdirSync(dir).sort()).toEqual(["report.html", "report.json"]);
    expect(readFileSync(files.htmlPath, "utf8")).toBe(renderReportHtml(report));
    expect(readFileSync(files.jsonPath, "utf8")).toBe(reportToJson(report));
  });

  it("report.json has every bigint as a decimal string and round-trips exactly", () => {
    const text = reportToJson(report);
    const raw = JSON.parse(text);
    expect(raw.chainId).toBe("31337");
    expect(raw.market.genesisTimeS).toBe(report.market.genesisTimeS.toString());
    const e0 = raw.epochs[0];
    const r0 = report.epochs[0]!;
    expect(e0.epoch).toBe("0");
    expect(e0.price).toBe(r0.price!.toString());
    expect(e0.volume).toBe(r0.volume.toString());
    expect(e0.welfare).toBe(r0.welfare.toString());
    expect(e0.gasUsed).toBe(r0.gasUsed!.toString());
    expect(e0.settlementTx).toBe(r0.settlementTx);
    expect(e0.bids[0].limitPrice).toBe(r0.bids[0]!.limitPrice.toString());
    expect(e0.nodes[1]).toEqual(r0.nodes[1]);
    expect(typeof e0.nodes[0].fingerprint).toBe("string");
    // No number in the file is a JSON number that stood for a bigint.
    expect(text).not.toMatch(/"(price|volume|welfare|gasUsed|limitPrice|quantity|epoch|chainId)": \d/);
    expect(parseReportJson(text)).toEqual(report);
    // Huge amounts survive too (no float on the way).
    const big: TestnetReport = {
      ...report,
      epochs: [{ ...r0, volume: (1n << 127n) + 1n, welfare: -(10n ** 30n) - 7n, price: (1n << 128n) - 1n }],
    };
    expect(parseReportJson(reportToJson(big))).toEqual(big);
  });

  it("report.html is self-contained: no network references, no scripts, charts and table present", () => {
    const html = renderReportHtml(report);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}\//i); // protocol-relative URLs
    for (const m of html.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]*)/gi)) {
      expect(m[1]!.startsWith("data:") || m[1]!.startsWith("#")).toBe(true);
    }
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/<script/i);
    expect(html.match(/data-chart="curve"/g)?.length).toBe(6);
    expect(html).toContain('data-chart="price"');
    expect(html).toContain('data-chart="volume"');
    expect(html).toContain("node 2 diverged");
    expect(html).toContain("node 1 no result");
    expect(html).toContain("unsettled");
    // Amounts as text are exact decimals of the bigints.
    const r = report.epochs[1]!;
    expect(html).toContain(`<td>${r.orders}</td>`);
    expect(html).toContain(report.epochs[0]!.settlementTx!.slice(0, 10));
  });

  it("escapes every text it inserts", () => {
    const evil = '<script>alert("x")</script>&\'';
    const r = syntheticReport({ epochs: 3, nodes: 2, seed: evil });
    const html = renderReportHtml({
      ...r,
      scenario: `<img src=x onerror=alert(1)>`,
      epochs: r.epochs.map((e) => ({ ...e, nodes: e.nodes.map((n) => ({ ...n, phase: "<b>phase</b>" })) })),
    });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>phase");
    expect(html).toContain(escapeHtml(evil));
    expect(escapeHtml(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&#39;");
  });

  it("renders an empty run and epochs without orders or trades", () => {
    const empty: TestnetReport = { ...report, epochs: [] };
    expect(renderReportHtml(empty)).toContain("No epochs recorded");
    const quiet: EpochReport = {
      ...report.epochs[0]!,
      price: null,
      volume: 0n,
      welfare: 0n,
      bids: [],
      asks: [],
      settled: false,
      settlementTx: null,
      settledBy: null,
      gasUsed: null,
    };
    const html = renderReportHtml({ ...report, epochs: [quiet] });
    expect(html).toContain("no orders");
    expect(html).toContain("no epoch traded");
    expect(describeSettlement(quiet)).toBe("no trade");
  });

  it("words agreement and settlement", () => {
    const e = report.epochs;
    expect(describeAgreement(e[0]!).text).toBe("all 3 agreed");
    expect(describeAgreement(e[3]!)).toMatchObject({ ok: false, text: "node 2 diverged", diverged: [2] });
    expect(describeAgreement(e[5]!)).toMatchObject({ ok: false, text: "node 1 no result", silent: [1] });
    // Without any node confirmed by the chain, the majority is the reference.
    const split: EpochReport = {
      ...e[0]!,
      agreed: false,
      nodes: e[0]!.nodes.map((n, i) => ({
        ...n,
        agreed: null,
        resultHash: i === 0 ? `0x${"11".repeat(32)}` : n.resultHash,
      })),
    };
    expect(describeAgreement(split).text).toBe("node 0 diverged");
    expect(describeAgreement({ ...e[0]!, nodes: [] }).ok).toBeNull();
    expect(describeSettlement(e[1]!)).toBe("node 1");
    expect(describeSettlement({ ...e[1]!, settledBy: -1 })).toBe("external");
    expect(describeSettlement(e[4]!)).toBe("unsettled");
  });

  it("picks nice axes with exact ticks", () => {
    expect(niceAxis(0n)).toEqual({ max: 1n, ticks: 1 });
    expect(niceAxis(3n)).toEqual({ max: 5n, ticks: 5 });
    expect(niceAxis(283n)).toEqual({ max: 500n, ticks: 5 });
    expect(niceAxis(1000n)).toEqual({ max: 1000n, ticks: 4 });
    expect(niceAxis(1001n)).toEqual({ max: 2000n, ticks: 4 });
    expect(niceAxis(12_000n)).toEqual({ max: 20_000n, ticks: 4 });
  });
});
