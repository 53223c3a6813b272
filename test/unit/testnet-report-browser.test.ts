// report.html in Debian's headless Chromium, driven over the Chrome DevTools Protocol with Node's
// built-in WebSocket (no npm dependency): the page must load with no console error, no exception, no
// error log entry and no network request, and every chart must be drawn.
//
// Where the browser test runs (browserPlan below): CI installs Chromium (.ci/install-chromium.sh) and sets
// SMARTMARKET_REQUIRE_BROWSER=1, and there (or wherever CI is set) a missing browser FAILS the test. On a
// fresh machine without Chromium and without CI, `npm install && npm test` must still pass: the test is
// skipped and says why on stderr. SMARTMARKET_SKIP_BROWSER=1 always skips; SMARTMARKET_CHROMIUM points at
// another binary.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { writeReport } from "../../testnet/report.ts";
import { epochsOf, syntheticReport } from "./testnet-fixtures.ts";

const CHROMIUM = process.env.SMARTMARKET_CHROMIUM ?? "/usr/bin/chromium";

/** Whether to run the browser tests, and why not. A missing browser is a failure only where one is required. */
function browserPlan(
  env: NodeJS.ProcessEnv,
  browserExists: boolean,
): { run: boolean; skipReason: string | null } {
  if (env.SMARTMARKET_SKIP_BROWSER === "1") return { run: false, skipReason: "SMARTMARKET_SKIP_BROWSER=1" };
  const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "0" && env.CI.toLowerCase() !== "false";
  const required = ci || env.SMARTMARKET_REQUIRE_BROWSER === "1";
  if (browserExists || required) return { run: true, skipReason: null };
  return {
    run: false,
    skipReason:
      `no Chromium at ${env.SMARTMARKET_CHROMIUM ?? "/usr/bin/chromium"} and CI is not set ` +
      "(install it with `apt-get install -y chromium` or .ci/install-chromium.sh to run this test)",
  };
}

const PLAN = browserPlan(process.env, existsSync(CHROMIUM));
const SKIP_BROWSER = !PLAN.run;
if (PLAN.skipReason) process.stderr.write(`testnet-report-browser: skipped: ${PLAN.skipReason}\n`);
const STARTUP_TIMEOUT_MS = 30_000;
const LOAD_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 5_000;
/** Errors logged after the load event (late layout, lazy resources) still count: wait this long. */
const SETTLE_MS = 300;

type Json = Record<string, unknown>;

/** A minimal CDP client over one WebSocket: commands with ids, events to listeners. */
class Cdp {
  private readonly ws: WebSocket;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((method: string, params: Json, sessionId?: string) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data)) as {
        id?: number;
        result?: Json;
        error?: { message: string };
        method?: string;
        params?: Json;
        sessionId?: string;
      };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`CDP: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method) {
        for (const l of this.listeners) l(msg.method, msg.params ?? {}, msg.sessionId);
      }
    });
    ws.addEventListener("close", () => {
      for (const p of this.pending.values()) p.reject(new Error("CDP connection closed"));
      this.pending.clear();
    });
  }

  static connect(url: string): Promise<Cdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.addEventListener("open", () => resolve(new Cdp(ws)), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
  }

  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(listener: (method: string, params: Json, sessionId?: string) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.ws.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Starts Chromium and resolves with its DevTools WebSocket URL (from "DevTools listening on ws://…"). */
function startChromium(profileDir: string): {
  child: ChildProcess;
  wsUrl: Promise<string>;
  exited: Promise<void>;
} {
  const child = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--mute-audio",
      `--user-data-dir=${profileDir}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    // Its own process group, so that the browser and every helper process it forks can be ended together.
    { detached: true, stdio: ["ignore", "ignore", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const wsUrl = new Promise<string>((resolve, reject) => {
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      stderr += chunk;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once("error", (err) => reject(new Error(`cannot start ${CHROMIUM}: ${err.message}`)));
    child.once("exit", (code, signal) =>
      reject(
        new Error(`Chromium exited (${code ?? signal}) before DevTools listened:\n${stderr.slice(-2000)}`),
      ),
    );
  });
  return { child, wsUrl, exited };
}

/** Ends the browser's whole process group: politely (the CDP Browser.close was tried), then SIGKILL. */
async function stopChromium(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  if (child.exitCode === null && child.signalCode === null) {
    killGroup("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, EXIT_TIMEOUT_MS))]);
  }
  // Helpers (zygote, renderer) may outlive the main process for a moment: make sure none stays.
  killGroup("SIGKILL");
  await Promise.race([exited, new Promise((r) => setTimeout(r, EXIT_TIMEOUT_MS))]);
}

interface ChartInfo {
  kind: string;
  /** The data-market attribute (market id) of the market section the chart is in. */
  market: string | null;
  width: number;
  height: number;
  marks: number;
  demand: number;
  supply: number;
  priceLine: number;
  bars: number;
}

interface Inspection {
  /** Console errors, uncaught exceptions and error log entries. */
  problems: string[];
  /** Requests for anything but file:, data: and about: URLs. */
  requests: string[];
  page: { title: string; rows: number; markets: { id: string | null; rows: number }[]; charts: ChartInfo[] };
}

/** What the page reports about itself once loaded: its charts and the epoch tables' rows, per market. */
const PAGE_CHECK = `(() => {
  const charts = [...document.querySelectorAll("[data-chart]")].map((fig) => {
    const svg = fig.querySelector("svg");
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    const count = (sel) => (svg ? svg.querySelectorAll(sel).length : 0);
    return {
      kind: fig.getAttribute("data-chart"),
      market: fig.closest("section.market")?.getAttribute("data-market") ?? null,
      width: box.width,
      height: box.height,
      marks: count("path, rect, circle, line"),
      demand: count("path.demand"),
      supply: count("path.supply"),
      priceLine: count("path.price"),
      bars: count("rect.bar"),
    };
  });
  const rowsOf = (root) => root.querySelectorAll("section.epochs > table > tbody > tr").length;
  const markets = [...document.querySelectorAll("section.market")].map((s) => ({
    id: s.getAttribute("data-market"),
    rows: rowsOf(s),
  }));
  return { title: document.title, rows: rowsOf(document), markets, charts };
})()`;

/** Loads `htmlPath` in a fresh headless Chromium and reports what happened; always ends the browser. */
async function inspectInChromium(htmlPath: string, work: string): Promise<Inspection> {
  const { child, wsUrl, exited } = startChromium(join(work, "profile"));
  let cdp: Cdp | null = null;
  try {
    const client = await withTimeout(
      wsUrl.then((u) => Cdp.connect(u)),
      STARTUP_TIMEOUT_MS,
      "Chromium DevTools",
    );
    cdp = client;
    const problems: string[] = [];
    const requests: string[] = [];
    let loaded: () => void = () => {};
    const loadFired = new Promise<void>((r) => {
      loaded = r;
    });
    client.on((method, params) => {
      if (method === "Runtime.consoleAPICalled" && (params.type === "error" || params.type === "assert")) {
        problems.push(`console.${params.type}: ${JSON.stringify(params.args)}`);
      } else if (method === "Runtime.exceptionThrown") {
        problems.push(`exception: ${JSON.stringify(params.exceptionDetails)}`);
      } else if (method === "Log.entryAdded") {
        const entry = params.entry as { level: string; text: string; url?: string };
        if (entry.level === "error") problems.push(`log: ${entry.text} ${entry.url ?? ""}`);
      } else if (method === "Network.requestWillBeSent") {
        const url = (params.request as { url: string }).url;
        if (!/^(file|data|about):/.test(url)) requests.push(url);
      } else if (method === "Page.loadEventFired") {
        loaded();
      }
    });
    const { targetId } = (await client.send("Target.createTarget", { url: "about:blank" })) as {
      targetId: string;
    };
    const { sessionId } = (await client.send("Target.attachToTarget", { targetId, flatten: true })) as {
      sessionId: string;
    };
    // Listen before navigating, so that nothing the page does while loading is missed.
    for (const domain of ["Runtime", "Log", "Network", "Page"])
      await client.send(`${domain}.enable`, {}, sessionId);
    await client.send("Page.navigate", { url: pathToFileURL(htmlPath).href }, sessionId);
    await withTimeout(loadFired, LOAD_TIMEOUT_MS, "page load event");
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const evaluated = (await client.send(
      "Runtime.evaluate",
      { expression: PAGE_CHECK, returnByValue: true },
      sessionId,
    )) as { result: { value: Inspection["page"] } };
    await client.send("Browser.close").catch(() => {});
    return { problems, requests, page: evaluated.result.value };
  } finally {
    cdp?.close();
    await stopChromium(child, exited);
  }
}

function requireChromium(): void {
  // Reached only where the browser runs or is required (browserPlan): a missing one fails.
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}, and a browser is required here (CI or SMARTMARKET_REQUIRE_BROWSER=1). ` +
        "Install it (.ci/install-chromium.sh), or point SMARTMARKET_CHROMIUM at a Chromium binary.",
    );
  }
}

describe("where the browser test runs", () => {
  it("runs when Chromium is there; without it, fails under CI and skips (saying why) elsewhere", () => {
    expect(browserPlan({}, true)).toEqual({ run: true, skipReason: null });
    const fresh = browserPlan({}, false);
    expect(fresh.run).toBe(false);
    expect(fresh.skipReason).toMatch(/no Chromium at \/usr\/bin\/chromium and CI is not set/);
    expect(browserPlan({ CI: "true" }, false).run).toBe(true);
    expect(browserPlan({ CI: "1" }, false).run).toBe(true);
    expect(browserPlan({ CI: "false" }, false).run).toBe(false);
    expect(browserPlan({ SMARTMARKET_REQUIRE_BROWSER: "1" }, false).run).toBe(true);
    expect(browserPlan({ CI: "true", SMARTMARKET_SKIP_BROWSER: "1" }, true).run).toBe(false);
  });
});

describe("report.html in headless Chromium", () => {
  it.skipIf(SKIP_BROWSER)(
    "loads with no console errors and no network requests, and draws every chart",
    async () => {
      requireChromium();
      const work = mkdtempSync(join(tmpdir(), "smartmarket-browser-"));
      try {
        const report = syntheticReport({ epochs: 20, nodes: 4 });
        const { htmlPath } = writeReport(join(work, "report"), report);
        const { problems, requests, page } = await inspectInChromium(htmlPath, work);
        expect(problems).toEqual([]);
        expect(requests).toEqual([]);
        expect(page.title).toContain("neighbourhood");
        expect(page.rows).toBe(epochsOf(report).length);
        expect(page.markets).toEqual([{ id: report.markets[0]!.market.id, rows: epochsOf(report).length }]);
        const curves = page.charts.filter((c) => c.kind === "curve");
        expect(curves).toHaveLength(6);
        for (const c of page.charts) {
          expect(c.width).toBeGreaterThan(100);
          expect(c.height).toBeGreaterThan(50);
          expect(c.marks).toBeGreaterThan(0);
        }
        for (const c of curves) {
          expect(c.demand).toBe(1);
          expect(c.supply).toBe(1);
        }
        expect(page.charts.find((c) => c.kind === "price")?.priceLine).toBe(1);
        expect(page.charts.find((c) => c.kind === "volume")?.bars).toBe(epochsOf(report).length);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it.skipIf(SKIP_BROWSER)(
    "two markets: each market's section draws its own curves, price line and volume bars, and lists its epochs",
    async () => {
      requireChromium();
      const work = mkdtempSync(join(tmpdir(), "smartmarket-browser-"));
      try {
        const report = syntheticReport({ epochs: 20, nodes: 4, twoMarkets: true });
        const { htmlPath } = writeReport(join(work, "report"), report);
        const { problems, requests, page } = await inspectInChromium(htmlPath, work);
        expect(problems).toEqual([]);
        expect(requests).toEqual([]);
        expect(page.title).toContain("two-markets");
        expect(page.markets).toEqual(report.markets.map((m) => ({ id: m.market.id, rows: m.epochs.length })));
        expect(page.rows).toBe(report.markets.reduce((n, m) => n + m.epochs.length, 0));
        for (const m of report.markets) {
          const charts = page.charts.filter((c) => c.market === m.market.id);
          const curves = charts.filter((c) => c.kind === "curve");
          expect(curves, m.name).toHaveLength(6);
          for (const c of charts) {
            expect(c.width).toBeGreaterThan(100);
            expect(c.height).toBeGreaterThan(50);
            expect(c.marks).toBeGreaterThan(0);
          }
          for (const c of curves) {
            expect(c.demand).toBe(1);
            expect(c.supply).toBe(1);
          }
          expect(charts.find((c) => c.kind === "price")?.priceLine).toBe(1);
          expect(charts.find((c) => c.kind === "volume")?.bars).toBe(m.epochs.length);
        }
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it.skipIf(SKIP_BROWSER)(
    "the harness itself sees console errors, exceptions and network requests (no vacuous pass)",
    async () => {
      requireChromium();
      const work = mkdtempSync(join(tmpdir(), "smartmarket-browser-"));
      try {
        const bad = join(work, "bad.html");
        // Port 9 (discard) on loopback: a request that goes nowhere, without leaving the machine.
        writeFileSync(
          bad,
          '<!doctype html><title>bad</title><img src="http://127.0.0.1:9/x.png">' +
            '<script>console.error("boom");</script><script>undefinedFunction();</script>',
        );
        const { problems, requests, page } = await inspectInChromium(bad, work);
        expect(page.title).toBe("bad");
        expect(problems.some((p) => p.startsWith("console.error") && p.includes("boom"))).toBe(true);
        expect(problems.some((p) => p.startsWith("exception") && p.includes("undefinedFunction"))).toBe(true);
        expect(requests).toContain("http://127.0.0.1:9/x.png");
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
