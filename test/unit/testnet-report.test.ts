import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { escapeHtml } from "../../testnet/html.ts";
import {
  describeAgreement,
  describeSettlement,
  parseReportJson,
  renderReportHtml,
  reportToJson,
  writeReport,
} from "../../testnet/report.ts";
import { niceAxis } from "../../testnet/report-charts.ts";
import type { EpochReport, MarketReport, TestnetReport } from "../../testnet/types.ts";
import { formatBase, formatPrice, padFraction } from "../../testnet/units.ts";
import { DATA_MARKET, epochsOf, MARKET, syntheticReport } from "./testnet-fixtures.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "smartmarket-report-"));
  dirs.push(d);
  return d;
}

/** `report` with the primary market's epochs replaced. */
function withEpochs(report: TestnetReport, epochs: readonly EpochReport[]): TestnetReport {
  const [first, ...rest] = report.markets;
  return { ...report, markets: [{ ...(first as MarketReport), epochs }, ...rest] };
}

describe("testnet report", () => {
  const report = syntheticReport({ epochs: 14, nodes: 3 });
  const epochs = epochsOf(report);

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
    expect(raw.markets).toHaveLength(1);
    expect(raw.markets[0].name).toBe("energy");
    expect(raw.markets[0].market.genesisTimeS).toBe(MARKET.genesisTimeS.toString());
    expect(raw.markets[0].market.priceLabel).toBe("$/kWh");
    const e0 = raw.markets[0].epochs[0];
    const r0 = epochs[0]!;
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
    const big = withEpochs(report, [
      { ...r0, volume: (1n << 127n) + 1n, welfare: -(10n ** 30n) - 7n, price: (1n << 128n) - 1n },
    ]);
    expect(parseReportJson(reportToJson(big))).toEqual(big);
    // A report.json of the single-market testnet from before markets were listed reads as one energy market.
    const legacy = { ...raw, market: { ...raw.markets[0].market }, epochs: raw.markets[0].epochs };
    delete legacy.markets;
    for (const k of ["baseLabel", "quoteLabel", "priceLabel"]) delete legacy.market[k];
    expect(parseReportJson(JSON.stringify(legacy))).toEqual(report);
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
    const r = epochs[1]!;
    expect(html).toContain(`<td>${r.orders}</td>`);
    expect(html).toContain(epochs[0]!.settlementTx!.slice(0, 10));
    // One market: one section, in energy units.
    expect(html.match(/<section class="market"/g)).toHaveLength(1);
    expect(html).toContain("<h2>energy market</h2>");
    expect(html).toContain("price ($/kWh)");
    expect(html).not.toContain("reading");
  });

  it("two markets: a section per market (facts, charts, table) in each market's own units", () => {
    const two = syntheticReport({ epochs: 12, nodes: 3, twoMarkets: true });
    const html = renderReportHtml(two);
    expect(html.match(/<section class="market"/g)).toHaveLength(2);
    const energyAt = html.indexOf(`data-market="${MARKET.id}"`);
    const dataAt = html.indexOf(`data-market="${DATA_MARKET.id}"`);
    expect(energyAt).toBeGreaterThan(0);
    expect(dataAt).toBeGreaterThan(energyAt);
    const energyHtml = html.slice(energyAt, dataAt);
    const dataHtml = html.slice(dataAt);
    // Each section: 6 curves (or fewer epochs), a price and a volume chart, a table with every epoch.
    for (const [part, rows] of [
      [energyHtml, epochsOf(two, 0)],
      [dataHtml, epochsOf(two, 1)],
    ] as const) {
      expect(part.match(/data-chart="curve"/g)?.length).toBe(Math.min(6, rows.length));
      expect(part.match(/data-chart="price"/g)).toHaveLength(1);
      expect(part.match(/data-chart="volume"/g)).toHaveLength(1);
      // One table row per epoch, each ending with its nodes' details.
      const table = part.slice(part.indexOf('<section class="epochs"'));
      expect(table.match(/<\/details><\/td><\/tr>/g)).toHaveLength(rows.length);
    }
    expect(energyHtml).toContain("<h2>energy market</h2>");
    expect(energyHtml).toContain("price ($/kWh)");
    expect(energyHtml).not.toContain("reading");
    expect(dataHtml).toContain("<h2>data market</h2>");
    expect(dataHtml).toContain("price ($/reading)");
    expect(dataHtml).toContain("volume (readings)");
    expect(dataHtml).toContain("cumulative readings");
    expect(dataHtml).not.toContain("kWh");
    // Data amounts in its own decimals: prices to 6 places of $, volumes in whole readings.
    const d = epochsOf(two, 1).find((r) => r.price !== null)!;
    expect(dataHtml).toContain(`<td>${padFraction(formatPrice(d.price!, DATA_MARKET), 6)}</td>`);
    expect(dataHtml).toContain(`<td>${formatBase(d.volume, DATA_MARKET)}</td>`);
    expect(formatBase(d.volume, DATA_MARKET)).toMatch(/^[0-9]+$/);
    // The header names both markets with their epoch lengths.
    expect(html).toContain("energy: 12 epochs of 5 s");
    expect(html).toContain("data: 6 epochs of 10 s");
    // And it round-trips.
    expect(parseReportJson(reportToJson(two))).toEqual(two);
  });

  it("escapes every text it inserts", () => {
    const evil = '<script>alert("x")</script>&\'';
    const r = syntheticReport({ epochs: 3, nodes: 2, seed: evil });
    const html = renderReportHtml({
      ...withEpochs(
        r,
        epochsOf(r).map((e) => ({ ...e, nodes: e.nodes.map((n) => ({ ...n, phase: "<b>phase</b>" })) })),
      ),
      scenario: `<img src=x onerror=alert(1)>`,
      markets: r.markets.map((m) => ({ ...m, name: "<i>market</i>" })),
    });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>phase");
    expect(html).not.toContain("<i>market");
    expect(html).toContain(escapeHtml(evil));
    expect(escapeHtml(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&#39;");
  });

  it("renders an empty run and epochs without orders or trades", () => {
    const empty: TestnetReport = withEpochs(report, []);
    expect(renderReportHtml(empty)).toContain("No epochs recorded");
    const quiet: EpochReport = {
      ...epochs[0]!,
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
    const html = renderReportHtml(withEpochs(report, [quiet]));
    expect(html).toContain("no orders");
    expect(html).toContain("no epoch traded");
    expect(describeSettlement(quiet)).toBe("no trade");
  });

  it("words agreement and settlement", () => {
    const e = epochs;
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
