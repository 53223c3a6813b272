// The README's "Join a running testnet with your own node", run as written: the test takes the section's
// shell block from README.md and runs it with bash, so the two cannot drift apart. Only two things are
// added around it: `npx smartmarket` runs this checkout's bin/smartmarket.js (npx would do the same after
// `npm install`, slower), and the testnet gets three nodes and 4-second epochs so that the walk (a fill
// that becomes final, a withdrawal two epochs later) takes about a minute. A new node joins by bootstrap,
// gets gas and tokens, deposits, orders, is filled, sees its fill, requests a withdrawal and withdraws.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin/smartmarket.js");
const SECTION = "### Join a running testnet with your own node";
const WALK_TIMEOUT_S = 200;

/** The first ```sh block after the section's heading. */
function walkthrough(readme: string): string {
  const at = readme.indexOf(SECTION);
  if (at < 0) throw new Error(`README.md has no "${SECTION}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error(`no sh block under "${SECTION}"`);
  return block[1];
}

const work = mkdtempSync(join(tmpdir(), "smartmarket-join-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

describe("README: join a running testnet with your own node", () => {
  it("the walkthrough runs as written: join by bootstrap, fund, deposit, order, fill, withdraw", async () => {
    const steps = walkthrough(readFileSync(join(ROOT, "README.md"), "utf8"));
    const upLine = /^npx smartmarket testnet up .*$/m;
    expect(steps).toMatch(upLine);
    const script = [
      // Job control: each background job (the testnet, the node) is a process group of its own.
      "set -euo pipefail -m",
      `smartmarket() { "${process.execPath}" "${BIN}" "$@"; }`,
      'npx() { if [ "$1" = smartmarket ]; then shift; smartmarket "$@"; else command npx "$@"; fi; }',
      // Whatever happens, nothing is left running: the node and the testnet started in the background.
      'cleanup() { for p in $(jobs -p); do kill -- "-$p" 2>/dev/null || true; done; wait || true; }',
      "trap cleanup EXIT",
      steps.replace(upLine, (line) => line.replace("testnet up", "testnet up --nodes 3 --epoch-seconds 4")),
    ].join("\n");
    writeFileSync(join(work, "walk.sh"), script);
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const env = { ...process.env };
      for (const k of Object.keys(env)) if (k.startsWith("SMARTMARKET_")) delete env[k];
      const child = spawn("timeout", [String(WALK_TIMEOUT_S), "bash", "walk.sh"], { cwd: work, env });
      children.push(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
    const logs = () =>
      ["testnet.log", "my-node.log"]
        .map((f) => {
          try {
            return `--- ${f}\n${readFileSync(join(work, f), "utf8").slice(-3000)}`;
          } catch {
            return `--- ${f}: none`;
          }
        })
        .join("\n");
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}\n${logs()}`).toBe(0);
    // keys new printed the wallet; the faucet gave it tokens; the deposit and the order went through.
    const address = /^(0x[0-9a-f]{40})$/im.exec(run.stdout)?.[1];
    expect(address).toBeDefined();
    // The fill: a buy, final, with its settlement transaction.
    expect(run.stdout).toMatch(/final/);
    expect(run.stdout).toMatch(/0x[0-9a-f]{64}/);
    // The last `wallet`: 100 USD from the faucet − 20 deposited + 5 withdrawn, nothing locked any more.
    const quoteRows = [
      ...run.stdout.matchAll(/^quote \(USD\)\s+0x[0-9a-f]{40}\s+(\S+) USD\s+\S+ USD\s+(\S+) USD/gm),
    ];
    expect(quoteRows.map((m) => [m[1], m[2]])).toEqual([
      ["80", "0"],
      ["85", "0"],
    ]);
    // The buy filled: the base token's free escrow grew by the 200 Wh (0.2 kWh) bought.
    expect(run.stdout).toMatch(/^base \(kWh\)\s+0x[0-9a-f]{40}\s+100 kWh\s+0\.2 kWh/m);
  }, 240_000);
});
