// The device owner's chain-facing commands through the real CLI entry point, against a real anvil: keys
// import/show/export, deploy, market create/list/show, testnet fund and status's join line, deposit,
// wallet, withdraw request/withdraw, and what bad input and an unreachable chain do.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeystore, loadKeystore } from "../../../node/wallet.ts";
import { Wallet } from "../../../protocol/ethers.ts";
import type { Hex } from "../../../protocol/hex.ts";
import { type AnvilInstance, latestTimestamp, mineBlock, startAnvil } from "../../../settlement/anvil.ts";

const BIN = fileURLToPath(new URL("../../../bin/smartmarket.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "smartmarket-cli-wallet-"));
const PASSWORD = "correct horse battery";
const passwordFile = join(dir, "password");
writeFileSync(passwordFile, `${PASSWORD}\n`);

/**
 * Runs the CLI as a child process without blocking this process's event loop: anvil's output is read
 * here, and a blocked loop (spawnSync) would fill its pipe and stall the chain.
 */
function cli(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SMARTMARKET_")) clean[k] = v;
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...clean, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  child.stdin.end(input ?? "");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("keys import, show, export", () => {
  const key = Wallet.createRandom();
  const keyFile = join(dir, "key.txt");
  writeFileSync(keyFile, `${key.privateKey.slice(2)}\n`);
  const env = { SMARTMARKET_PASSWORD: PASSWORD };

  it("imports a key from a file and from stdin, refuses one on the command line, shows the address only", async () => {
    const a = join(dir, "import-a");
    const fromFile = await cli(["keys", "import", "--key-file", keyFile, "--data-dir", a, "--json"], env);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout).address).toBe(key.address.toLowerCase());
    expect((await loadKeystore(a, PASSWORD)).privateKey).toBe(key.privateKey);

    const notAKey = join(dir, "not-a-key");
    writeFileSync(notAKey, "hello\n");
    const c = join(dir, "import-c");
    const b = join(dir, "import-b");
    // Independent: run them side by side.
    const [again, fromStdin, onLine, bareHex, bad, none] = await Promise.all([
      cli(["keys", "import", "--key-file", keyFile, "--data-dir", a], env),
      cli(["keys", "import", "--stdin", "--data-dir", b], env, `${key.privateKey}\n`),
      cli(["keys", "import", key.privateKey, "--data-dir", c], env),
      cli(["keys", "import", key.privateKey.slice(2), "--data-dir", c], env),
      cli(["keys", "import", "--key-file", notAKey, "--data-dir", c], env),
      cli(["keys", "import", "--data-dir", c], env),
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists .*--force/);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.stdout.split("\n")[0]).toBe(key.address.toLowerCase());
    expect(onLine.code).toBe(2);
    expect(onLine.stderr).toMatch(/refusing a private key on the command line: .*shell history/);
    expect(onLine.stderr).not.toContain(key.privateKey.slice(2));
    expect(bareHex.code).toBe(2);
    expect(bareHex.stderr).toMatch(/refusing a private key/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/does not hold a private key/);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/exactly one of --key-file FILE, --stdin, --keystore FILE/);
    expect(existsSync(join(c, "keystore.json"))).toBe(false);

    const show = await cli(["keys", "show", "--data-dir", a]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toBe(`${key.address.toLowerCase()}\n`);
    expect(show.stdout).not.toContain(key.privateKey.slice(2));
    const noKeystore = await cli(["keys", "show", "--data-dir", join(dir, "nothing")]);
    expect(noKeystore.code).toBe(2);
    expect(noKeystore.stderr).toMatch(/no keystore at/);
  });

  it("export then import of the exported keystore gives the same address", async () => {
    const a = join(dir, "import-a");
    const out = join(dir, "exported.json");
    const exported = await cli([
      "keys",
      "export",
      "--out",
      out,
      "--data-dir",
      a,
      "--password-file",
      passwordFile,
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const json = JSON.parse(readFileSync(out, "utf8"));
    expect(json.crypto ?? json.Crypto).toBeDefined();
    expect(readFileSync(out, "utf8")).not.toContain(key.privateKey.slice(2));
    const twice = await cli(["keys", "export", "--out", out, "--data-dir", a], env);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/refusing to overwrite/);

    const d = join(dir, "import-d");
    const imported = await cli(
      [
        "keys",
        "import",
        "--keystore",
        out,
        "--keystore-password-file",
        passwordFile,
        "--data-dir",
        d,
        "--json",
      ],
      env,
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).address).toBe(key.address.toLowerCase());
    expect((await cli(["keys", "show", "--data-dir", d])).stdout.trim()).toBe(key.address.toLowerCase());
  });
});

describe("chain commands against anvil", () => {
  let anvil: AnvilInstance;
  const dataDir = join(dir, "node");
  const env = { SMARTMARKET_PASSWORD: PASSWORD, SMARTMARKET_DATA_DIR: dataDir };
  let wallet: Hex;
  let contract: Hex;
  let base: Hex;
  let quote: Hex;
  let market: Hex;
  const testnetDir = join(dir, "testnet");
  const peerId = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";

  beforeAll(async () => {
    anvil = await startAnvil();
    // The node's wallet: a funded dev account, in a keystore with a cheap scrypt N (speed only).
    wallet = (
      await createKeystore(dataDir, PASSWORD, { privateKey: anvil.accounts[1]!.privateKey, scryptN: 1024 })
    ).address;
  }, 30_000);
  afterAll(async () => {
    await anvil?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deploy --test-tokens prints the contract, chain id and tokens", async () => {
    const r = await cli(["deploy", "--rpc-url", anvil.rpcUrl, "--test-tokens", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.chainId).toBe(anvil.chainId.toString());
    expect(d.deployer).toBe(wallet);
    for (const a of [d.contract, d.baseToken, d.quoteToken]) expect(a).toMatch(/^0x[0-9a-f]{40}$/);
    ({ contract, baseToken: base, quoteToken: quote } = d);
    const text = await cli(["deploy", "--rpc-url", anvil.rpcUrl], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/settlement contract 0x[0-9a-f]{40}\nchain id +31337/);
    // From now on the node's config.json says where the chain is: no more flags.
    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ rpcUrl: anvil.rpcUrl, contract }));
  });

  it("market create, list and show", async () => {
    const noEpoch = await cli(["market", "create", "--base", base, "--quote", quote], env);
    expect(noEpoch.code).toBe(2);
    expect(noEpoch.stderr).toMatch(/missing --epoch-seconds/);
    const badFee = await cli(
      ["market", "create", "--base", base, "--quote", quote, "--epoch-seconds", "10", "--fee-bps", "5000"],
      env,
    );
    expect(badFee.code).toBe(2);
    expect(badFee.stderr).toMatch(/--fee-bps must be at most 1000/);

    const genesis = (await latestTimestamp({ send: (m, p) => rpc(m, p) })) - 1n;
    const r = await cli(
      [
        "market",
        "create",
        "--base",
        base,
        "--quote",
        quote,
        "--epoch-seconds",
        "10",
        "--genesis",
        String(genesis),
        "--fee-bps",
        "5",
        "--json",
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const created = JSON.parse(r.stdout);
    market = created.id;
    expect(market).toMatch(/^0x[0-9a-f]{64}$/);
    expect(created).toMatchObject({
      epochLengthS: "10",
      feeBps: "5",
      challengeWindowS: "5",
      bondWei: "10000000000000000",
    });
    const dup = await cli(
      [
        "market",
        "create",
        "--base",
        base,
        "--quote",
        quote,
        "--epoch-seconds",
        "10",
        "--genesis",
        String(genesis),
        "--fee-bps",
        "5",
      ],
      env,
    );
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/reverted: MarketExists\(market=0x/);

    const list = await cli(["market", "list", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((m: { id: string }) => m.id)).toEqual([market]);
    const table = await cli(["market", "list"], env);
    expect(table.stdout).toMatch(new RegExp(`${market}\\s+kWh\\s+USD\\s+10 s`));

    const show = await cli(["market", "show", market], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/base +0x[0-9a-f]{40} kWh, 3 decimals/);
    expect(show.stdout).toMatch(/challenge window 5 s/);
    const badId = await cli(["market", "show", "0x12"], env);
    expect(badId.code).toBe(2);
    // From now on the config names the market too.
    writeFileSync(
      join(dataDir, "config.json"),
      JSON.stringify({ rpcUrl: anvil.rpcUrl, contract, markets: [market] }),
    );
  });

  function rpc(method: string, params: unknown[]): Promise<unknown> {
    return fetch(anvil.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    })
      .then((r) => r.json())
      .then((b) => (b as { result: unknown }).result);
  }

  it("testnet fund gives gas and test tokens; testnet status prints the join line", async () => {
    // What `testnet up` writes, without a whole testnet: the chain, the contract, a market, one node.
    const nodeDir = join(testnetDir, "node-0");
    mkdirSync(nodeDir, { recursive: true });
    writeFileSync(join(nodeDir, "config.json"), JSON.stringify({ listen: ["/ip4/127.0.0.1/tcp/45123"] }));
    const state = {
      launcherPid: 2 ** 22 + 1,
      anvilPid: anvil.pid,
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId.toString(),
      contract,
      markets: [{ name: "energy", id: market, base, quote, genesisTimeS: "0", epochLengthS: "10" }],
      nodes: [
        { index: 0, pid: 2 ** 22 + 2, apiUrl: "http://127.0.0.1:1", peerId, dataDir: nodeDir, log: "x" },
      ],
      startedAtMs: Date.now(),
    };
    writeFileSync(join(testnetDir, "state.json"), JSON.stringify(state));
    const fresh = Wallet.createRandom().address.toLowerCase();
    const r = await cli([
      "testnet",
      "fund",
      fresh,
      "--energy",
      "50.5",
      "--usd",
      "200",
      "--dir",
      testnetDir,
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.gas).toBe("anvil_setBalance");
    expect(f.balanceWei).toBe(String(10n ** 18n));
    expect(f.base.balance).toBe("50500");
    expect(f.quote.balance).toBe("200000000");
    const tooPrecise = await cli(["testnet", "fund", fresh, "--usd", "1.0000001", "--dir", testnetDir]);
    expect(tooPrecise.code).toBe(2);
    expect(tooPrecise.stderr).toMatch(/more than 6 decimal places/);
    // The node's wallet gets its tokens the same way.
    expect(
      (
        await cli([
          "testnet",
          "fund",
          wallet,
          "--energy",
          "10",
          "--usd",
          "100",
          "--eth",
          "0",
          "--dir",
          testnetDir,
        ])
      ).code,
    ).toBe(0);

    const status = await cli(["testnet", "status", "--dir", testnetDir]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(
      `smartmarket node start --data-dir DIR --rpc-url ${anvil.rpcUrl} --contract ${contract} --market ${market} --bootstrap /ip4/127.0.0.1/tcp/45123/p2p/${peerId}`,
    );
    const json = JSON.parse((await cli(["testnet", "status", "--dir", testnetDir, "--json"])).stdout);
    expect(json.join.bootstrap).toEqual([`/ip4/127.0.0.1/tcp/45123/p2p/${peerId}`]);
  });

  it("deposit, then wallet shows the free escrow in display units and raw", async () => {
    const d = await cli(["deposit", "quote", "12.5"], env);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/deposited 12.5 USD \(quote\)/);
    expect((await cli(["deposit", "kWh", "1.25", "--json"], env)).code).toBe(0);

    const w = await cli(["wallet"], env);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain(`address ${wallet}`);
    expect(w.stdout).toMatch(/quote \(USD\)\s+0x[0-9a-f]{40}\s+87.5 USD\s+12.5 USD\s+0 USD\s+-\s+12.5 USD/);
    expect(w.stdout).toMatch(/base \(kWh\)\s+0x[0-9a-f]{40}\s+8.75 kWh\s+1.25 kWh/);
    const raw = await cli(["wallet", "--raw"], env);
    expect(raw.stdout).toMatch(/quote \(USD\)\s+0x[0-9a-f]{40}\s+87500000\s+12500000\s+0\s/);
    const json = JSON.parse((await cli(["wallet", "--json"], env)).stdout);
    expect(json.assets[1]).toMatchObject({
      asset: "quote",
      symbol: "USD",
      decimals: 6,
      free: "12500000",
      locked: "0",
    });
    expect(json.assets[0]).toMatchObject({ asset: "base", free: "1250" });
  });

  it("withdraw request, withdraw says the ready epoch, and executes once the chain's time has moved", async () => {
    const req = await cli(["withdraw", "request", "quote", "2.5", "--json"], env);
    expect(req.code, req.stderr).toBe(0);
    const { epoch, readyEpoch } = JSON.parse(req.stdout);
    expect(BigInt(readyEpoch)).toBe(BigInt(epoch) + 2n);
    const early = await cli(["withdraw"], env);
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toContain(`quote: 2.5 USD locked, withdrawable at epoch ${readyEpoch}`);
    expect(early.stdout).toMatch(/base: nothing locked/);
    const w = JSON.parse((await cli(["wallet", "--json"], env)).stdout);
    expect(w.assets[1]).toMatchObject({ free: "10000000", locked: "2500000", readyEpoch });

    await mineBlock({ send: rpc }, (await latestTimestamp({ send: rpc })) + 25n);
    const done = await cli(["withdraw", "USD"], env);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/quote: withdrew 2.5 USD to 0x[0-9a-f]{40} \(tx 0x[0-9a-f]{64}\)/);
    const after = JSON.parse((await cli(["wallet", "--json"], env)).stdout);
    expect(after.assets[1]).toMatchObject({ wallet: "90000000", locked: "0", readyEpoch: null });

    const nothing = await cli(["withdraw", "quote"], env);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/withdraw reverted: NothingToWithdraw\(/);
    const tooMuch = await cli(["withdraw", "request", "quote", "1000"], env);
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.stderr).toMatch(
      /requestWithdrawal reverted: InsufficientBalance\(trader=0x[0-9a-f]{40}, asset=1, requested=1000000000, available=10000000\)/,
    );
  });

  it("bad input exits 2 with the reason; an unreachable chain exits 1", async () => {
    const cases: [string[], RegExp][] = [
      [["deposit", "quote", "1.1234567"], /more than 6 decimal places.*USD has 6 decimals/],
      [["deposit", "quote", "0"], /must be greater than 0/],
      [["deposit", "quote", "-1"], /-1/],
      [["deposit", "quote", "abc"], /positive decimal number/],
      [["deposit", "quote"], /missing <amount>/],
      [["deposit", "gold", "1"], /unknown asset "gold": the market's assets are base, kWh, quote, USD/],
      [["wallet", "--market", "0x12"], /not a market id/],
      [["wallet", "--contract", "0x12"], /contract "0x12" must be 0x followed by 40 hex digits/],
    ];
    // Independent: run them side by side.
    const results = await Promise.all(cases.map(([args]) => cli(args, env)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    }
    const noChain = await cli([
      "wallet",
      "--data-dir",
      join(dir, "import-a"),
      "--contract",
      contract,
      "--market",
      market,
    ]);
    expect(noChain.code).toBe(2);
    expect(noChain.stderr).toMatch(/missing --rpc-url/);
    // A port nothing listens on: bound, then released.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const unreachable = await cli(["wallet", "--rpc-url", `http://127.0.0.1:${port}`], env);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      new RegExp(`cannot reach the chain at http://127.0.0.1:${port}: ECONNREFUSED`),
    );
    const deployUnreachable = await cli(["deploy", "--rpc-url", `http://127.0.0.1:${port}`], env);
    expect(deployUnreachable.code).toBe(1);
  });
});
