// What a node process keeps resident that it does not use: Node's TypeScript stripper (amaro: its
// source and WebAssembly, ~20 MB) and Node's fetch/WebSocket implementation (undici, ~10 MB). A node
// process must load neither: its TypeScript comes stripped from the compile cache that the process
// fills before it replaces itself (bin/smartmarket.js), and nothing in its module graph imports
// `node:http` or ethers as ES modules. Through the real entry point, with a fresh cache folder; and the
// daemon's memory settings are those bin/smartmarket.js sets.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../../../bin/smartmarket.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "smartmarket-footprint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Preloaded into the process: at exit, writes which of Node's internal modules it loaded. */
const PROBE = `
import { writeFileSync } from "node:fs";
process.on("exit", () => {
  const loaded = (name) => process.moduleLoadList.some((m) => m.includes(name));
  writeFileSync(process.env.FOOTPRINT_OUT, JSON.stringify({
    stripper: loaded("internal/deps/amaro"),
    fetch: loaded("internal/deps/undici"),
    semiSpace: process.execArgv.find((a) => a.startsWith("--max-semi-space-size=")) ?? null,
    mallocMmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null,
  }));
});
`;

interface Footprint {
  readonly stripper: boolean;
  readonly fetch: boolean;
  readonly semiSpace: string | null;
  readonly mallocMmapThreshold: string | null;
}

function startNode(cacheDir: string, out: string): Promise<{ code: number | null; stderr: string }> {
  const probe = join(dir, "probe.mjs");
  writeFileSync(probe, PROBE);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SMARTMARKET_")) env[k] = v;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  Object.assign(env, {
    NODE_COMPILE_CACHE: cacheDir,
    NODE_OPTIONS: `--import ${probe}`,
    FOOTPRINT_OUT: out,
    SMARTMARKET_DATA_DIR: join(dir, "data"),
  });
  return new Promise((resolve) => {
    // A config file that does not exist: the process loads its whole module graph, then exits 2.
    execFile(
      process.execPath,
      [BIN, "node", "start", "--config", join(dir, "missing.json")],
      { env },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

describe("a node process's footprint", () => {
  it("loads neither Node's TypeScript stripper nor its fetch implementation, on a cold cache and a warm one", async () => {
    const cacheDir = join(dir, "compile-cache");
    for (const run of ["cold", "warm"]) {
      const out = join(dir, `footprint-${run}.json`);
      const { code, stderr } = await startNode(cacheDir, out);
      expect(code, stderr).toBe(2);
      expect(stderr).toMatch(/missing\.json/);
      const footprint = JSON.parse(readFileSync(out, "utf8")) as Footprint;
      expect({ run, ...footprint }).toEqual({
        run,
        stripper: false,
        fetch: false,
        // the daemon's memory settings (bin/smartmarket.js): the young generation's bound, glibc's
        // fixed mmap threshold
        semiSpace: "--max-semi-space-size=16",
        mallocMmapThreshold: "131072",
      });
    }
  }, 60_000);
});
