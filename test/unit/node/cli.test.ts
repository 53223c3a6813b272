// The node's CLI on bad input and its key management, through the real entry point.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadKeystore } from "../../../node/wallet.ts";

const BIN = fileURLToPath(new URL("../../../bin/smartmarket.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "smartmarket-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SMARTMARKET_")) clean[k] = v;
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("smartmarket CLI", () => {
  it("keys new writes an encrypted keystore once and refuses to overwrite it", async () => {
    const dataDir = join(dir, "keys");
    const passwordFile = join(dir, "password");
    writeFileSync(passwordFile, "correct horse battery\n");
    const made = cli(["keys", "new", "--data-dir", dataDir, "--password-file", passwordFile, "--json"]);
    expect(made.code, made.stderr).toBe(0);
    const { address, keystore } = JSON.parse(made.stdout) as { address: string; keystore: string };
    expect(address).toMatch(/^0x[0-9a-f]{40}$/);
    expect(
      JSON.parse(readFileSync(keystore, "utf8")).crypto ?? JSON.parse(readFileSync(keystore, "utf8")).Crypto,
    ).toBeDefined();
    expect((await loadKeystore(dataDir, "correct horse battery")).address).toBe(address);
    await expect(loadKeystore(dataDir, "wrong password")).rejects.toThrow(/cannot decrypt/);

    const again = cli(["keys", "new", "--data-dir", dataDir], { SMARTMARKET_PASSWORD: "another password" });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists .* refusing to overwrite/);
    expect(again.stdout).toBe("");

    const noPassword = cli(["keys", "new", "--data-dir", join(dir, "other")]);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toMatch(/no keystore password/);
    expect(existsSync(join(dir, "other", "keystore.json"))).toBe(false);

    const short = cli(["keys", "new", "--data-dir", join(dir, "short")], { SMARTMARKET_PASSWORD: "short" });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 8 characters/);
  });

  it("node start says what is missing or wrong and exits 2 before touching the network", () => {
    const missing = cli(["node", "start", "--data-dir", join(dir, "n1")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing --market/);
    const badMarket = cli([
      "node",
      "start",
      "--data-dir",
      join(dir, "n1"),
      "--market",
      "0x12",
      "--rpc-url",
      "http://x",
      "--contract",
      `0x${"11".repeat(20)}`,
    ]);
    expect(badMarket.code).toBe(2);
    expect(badMarket.stderr).toMatch(/market .* 64 hex digits/);
    const noKeys = cli(
      [
        "node",
        "start",
        "--data-dir",
        join(dir, "n1"),
        "--market",
        `0x${"ab".repeat(32)}`,
        "--rpc-url",
        "http://127.0.0.1:9",
        "--contract",
        `0x${"11".repeat(20)}`,
      ],
      { SMARTMARKET_PASSWORD: "whatever1" },
    );
    expect(noKeys.code).toBe(2);
    expect(noKeys.stderr).toMatch(/no keystore .* keys new/);
    const badFlag = cli(["node", "start", "--colour", "blue"]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/colour/);
  });

  it("order, epochs and epoch reject bad arguments with a message and exit 2", () => {
    const noSide = cli(["order", "hold", "--quantity", "1", "--price", "1", "--token", "t"]);
    expect(noSide.code).toBe(2);
    expect(noSide.stderr).toMatch(/"buy" or "sell"/);
    const fractional = cli(["order", "buy", "--quantity", "1.5", "--price", "1", "--token", "t"]);
    expect(fractional.code).toBe(2);
    expect(fractional.stderr).toMatch(/whole number/);
    const zero = cli(["order", "sell", "--quantity", "0", "--price", "1", "--token", "t"]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/greater than 0/);
    const last = cli(["epochs", "--last", "-3"]);
    expect(last.code).toBe(2);
    const epoch = cli(["epoch", "twelve"]);
    expect(epoch.code).toBe(2);
    expect(epoch.stderr).toMatch(/not a decimal integer/);
    const unknown = cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const none = cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing command/);
    const version = cli(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")).version,
    );
  });
});
