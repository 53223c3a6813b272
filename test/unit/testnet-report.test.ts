import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatBase, formatPrice, padFraction } from "../../node/api/units.ts";
import { summarize } from "../../testnet/cli.ts";
import { escapeHtml } from "../../testnet/html.ts";
import { renderReportHtml, writeReport } from "../../testnet/report.ts";
import { niceAxis } from "../../testnet/report-charts.ts";
import { parseReportJson, reportToJson } from "../../testnet/report-json.ts";
import {
  describeAdversary,
  describeAgreement,
  describeAttack,
  describeSettlement,
  formatEth,
} from "../../testnet/report-words.ts";
import type { EpochReport, MarketReport, TestnetReport } from "../../testnet/types.ts";
import { DATA_MARKET, epochsOf, MARKET, syntheticAttackReport, syntheticReport } from "./testnet-fixtures.ts";

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
    expect(raw.markets[0].market.priceLabel).toBe("USD/kWh");
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
    expect(html).toContain("price (USD/kWh)");
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
    expect(energyHtml).toContain("price (USD/kWh)");
    expect(energyHtml).not.toContain("reading");
    expect(dataHtml).toContain("<h2>data market</h2>");
    expect(dataHtml).toContain("price (USDC/reading)");
    expect(dataHtml).toContain("volume (reading)");
    expect(dataHtml).toContain("cumulative reading");
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

describe("testnet report under --adversary", () => {
  const report = syntheticReport({ epochs: 4, nodes: 3 });
  const censor = syntheticAttackReport("censor", { epochs: 5, nodes: 3 });
  const copy = syntheticAttackReport("copy", { epochs: 3, nodes: 3 });

  it("report.json carries each epoch's attack and the attacker's balances, bigints as strings, and round-trips", () => {
    const text = reportToJson(censor);
    const raw = JSON.parse(text);
    const a1 = raw.markets[0].epochs[1].attack;
    expect(a1.bondPaidWei).toBe("10000000000000000");
    expect(a1.challengerNode).toBe(1);
    expect(a1.finalMatchesHonest).toBe(true);
    expect(raw.adversary.start.eth).toBe((2000n * 10n ** 18n).toString());
    expect(raw.adversary.feesEarned).toBe("0");
    expect(parseReportJson(text)).toEqual(censor);
    expect(parseReportJson(reportToJson(copy))).toEqual(copy);
    // A report without an adversary has neither field.
    expect(text).toContain('"adversary"');
    expect(reportToJson(report)).not.toContain('"attack"');
    expect(parseReportJson(reportToJson(report)).adversary).toBeUndefined();
  });

  it("words each attack in four parts, the same for the view and the page", () => {
    const rows = epochsOf(censor);
    const w1 = describeAttack(rows[1]!.attack!);
    expect(w1.held).toBe(true);
    expect(w1.submission).toMatch(/^proposed 0x[0-9a-f]{8}…[0-9a-f]{6}$/);
    expect(w1.challenge).toMatch(/^replaced by node 1's challenge 0x/);
    expect(w1.bond).toBe("bond 0.01 ETH to node 1");
    expect(w1.final).toMatch(/^final: node 1's 0x[0-9a-f]{8}…[0-9a-f]{6} = honest$/);
    const w2 = describeAttack(rows[2]!.attack!);
    expect(w2.submission).toMatch(/^none \(not sent: /);
    expect(w2.challenge).toBe("no challenge");
    const w3 = describeAttack(rows[3]!.attack!);
    expect(w3).toMatchObject({ held: false, challenge: "not challenged", bond: "no bond paid" });
    expect(w3.final).toMatch(/^final: the attacker's .* ≠ honest$/);
    // A challenger that is none of the nodes, a failed proposal, and an epoch with nothing on chain.
    const external = describeAttack({
      ...rows[1]!.attack!,
      challengerNode: null,
      challenger: `0x${"ee".repeat(20)}`,
      finalNode: null,
      finalSubmitter: `0x${"ee".repeat(20)}`,
    });
    expect(external.challenge).toMatch(/^replaced by external 0xeeeeeeee…eeeeee's challenge/);
    expect(external.final).toMatch(/^final: external 0xeeeeeeee…eeeeee's/);
    expect(
      describeAttack({ ...rows[1]!.attack!, outcome: "failed: AlreadyProposed", tx: null, resultHash: null })
        .submission,
    ).toBe("none (failed: AlreadyProposed)");
    expect(
      describeAttack({ ...rows[1]!.attack!, finalResultHash: null, finalTx: null, finalMatchesHonest: true })
        .final,
    ).toBe("final: none (no trade, = honest)");
    expect(describeAttack(epochsOf(copy)[1]!.attack!).submission).toMatch(
      /^2 copies, first 0x[0-9a-f]{8}…[0-9a-f]{6} of node 1's tx 0x[0-9a-f]{8}…[0-9a-f]{6}: 2 reverted NotCommitted$/,
    );
    expect(formatEth(10n ** 16n)).toBe("0.01");
  });

  it("sums the run up: epochs attacked, challenged and honest, the balance before and after and its change", () => {
    const lines = describeAdversary(censor);
    expect(lines[0]).toBe(
      "adversary censor: attacked 4 of 5 epochs, 3 challenged; the final result is the honest one in 4 of 5",
    );
    expect(lines[1]).toBe("  attacker at start: 2000 ETH · 2000 kWh · 2000 USD");
    expect(lines[2]).toBe(
      "  attacker at end:   1999.959877 ETH · 1998.5 kWh · 2000.307847 USD (−0.040123 ETH · −1.5 kWh · +0.307847 USD); fees earned 0 USD",
    );
    expect(describeAdversary(report)).toEqual([]);
    expect(describeAdversary({ ...censor, adversary: { ...censor.adversary!, end: null } })[2]).toBe(
      "  attacker at end:   unknown",
    );
  });

  it("report.html: an adversary section with the facts and one row per epoch, the final result marked", () => {
    const html = renderReportHtml(censor);
    const at = html.indexOf('<section id="adversary">');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(html.indexOf('<section class="market"'));
    const section = html.slice(at, html.indexOf("</section>", at));
    expect(section).toContain("<h2>adversary: censor</h2>");
    expect(section).toContain("<dt>epochs attacked</dt><dd>4 of 5</dd>");
    expect(section).toContain("<dt>final result = honest</dt><dd>4 of 5</dd>");
    expect(section).toContain("<dt>change</dt><dd>−0.040123 ETH · −1.5 kWh · +0.307847 USD</dd>");
    expect(section.match(/<tr data-epoch=/g)).toHaveLength(5);
    expect(section).toContain("bond 0.01 ETH to node 1");
    expect(section.match(/<td class="l bad">/g)).toHaveLength(1); // epoch 3: the attacker's result is final
    expect(section).toContain(escapeHtml("replaced by node 1's challenge"));
    expect(renderReportHtml(report)).not.toContain('id="adversary"');
  });

  it("--json summary: per epoch attacked, challenged, finalMatchesHonest and the attack; the attacker's balances", () => {
    const s = summarize(censor);
    const e1 = s.markets[0]!.epochs[1]!;
    expect(e1).toMatchObject({ attacked: true, challenged: true, finalMatchesHonest: true });
    expect(e1.attack).toMatchObject({ challengerNode: 1, bondPaidWei: "10000000000000000" });
    expect(s.markets[0]!.epochs[2]).toMatchObject({
      attacked: false,
      challenged: false,
      finalMatchesHonest: true,
    });
    expect(s.markets[0]!.epochs[3]).toMatchObject({
      attacked: true,
      challenged: false,
      finalMatchesHonest: false,
    });
    expect(s.adversary).toEqual({
      mode: "censor",
      addresses: censor.adversary!.addresses,
      start: { eth: "2000000000000000000000", bonds: "0", base: "2000000", quote: "2000000000" },
      end: { eth: "1999959877000000000000", bonds: "0", base: "1998500", quote: "2000307847" },
      feesEarned: "0",
    });
    // Without an adversary the summary is as before.
    const plain = summarize(report);
    expect("adversary" in plain).toBe(false);
    expect("attacked" in plain.markets[0]!.epochs[0]!).toBe(false);
  });
});
