// The embedded chain launcher: anvil from the npm package on a free port, JSON-RPC up when startAnvil
// resolves, accounts usable, and no process left behind by stop() (or by a failed start).

import { describe, expect, it } from "vitest";
import { Wallet } from "../../protocol/ethers.ts";
import {
  AnvilError,
  alignDevChainClock,
  anvilBinaryPath,
  deployLocal,
  startAnvil,
} from "../../settlement/anvil.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

/** Whole seconds the chain's pending block is stamped behind the host's clock (read within one host second). */
async function secondsBehind(url: string): Promise<number> {
  for (;;) {
    const t0 = Date.now();
    const block = (await rpc(url, "eth_getBlockByNumber", ["pending", false])) as { timestamp: string };
    const t1 = Date.now();
    if (Math.floor(t0 / 1000) === Math.floor(t1 / 1000))
      return Math.floor(t0 / 1000) - Number(block.timestamp);
  }
}

describe("startAnvil", () => {
  it("uses the binary from the npm package", () => {
    expect(anvilBinaryPath()).toMatch(/@foundry-rs[/\\]anvil-[a-z0-9]+-[a-z0-9]+[/\\]bin[/\\]anvil(\.exe)?$/);
  });

  it("starts two chains on distinct free ports with the requested ids and accounts, and stops them", async () => {
    const [a, b] = await Promise.all([
      startAnvil({ chainId: 777, accounts: 3 }),
      startAnvil({ accounts: 2 }),
    ]);
    try {
      expect(a.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(a.rpcUrl).not.toBe(b.rpcUrl);
      expect(a.chainId).toBe(777n);
      expect(b.chainId).toBe(31337n);
      expect(await rpc(a.rpcUrl, "eth_chainId")).toBe("0x309");
      expect(a.accounts).toHaveLength(3);
      for (const acc of a.accounts)
        expect(new Wallet(acc.privateKey).address.toLowerCase()).toBe(acc.address);
      expect(alive(a.pid) && alive(b.pid)).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(alive(a.pid)).toBe(false);
    expect(alive(b.pid)).toBe(false);
    await a.stop(); // idempotent
    await expect(fetch(a.rpcUrl, { method: "POST", body: "{}" })).rejects.toThrow();
  });

  it("honours the genesis timestamp and interval mining", async () => {
    const a = await startAnvil({ accounts: 1, genesisTimestampS: 2_000_000_000n, blockTimeS: 1 });
    try {
      const genesis = (await rpc(a.rpcUrl, "eth_getBlockByNumber", ["0x0", false])) as { timestamp: string };
      expect(BigInt(genesis.timestamp)).toBe(2_000_000_000n);
      // No transaction is sent, yet blocks come every second.
      const deadline = Date.now() + 5000;
      let block = 0;
      while (block < 1 && Date.now() < deadline) {
        block = Number(await rpc(a.rpcUrl, "eth_blockNumber"));
        if (block < 1) await new Promise((r) => setTimeout(r, 50));
      }
      expect(block).toBeGreaterThanOrEqual(1);
    } finally {
      await a.stop();
    }
    expect(alive(a.pid)).toBe(false);
  });

  it("runs a chain started now on the host's clock, and puts one that runs seconds behind back on it", async () => {
    // A genesis in the past gives anvil the offset a startup straddling a second gives it (-1 s, seen in
    // CI): every block stamped behind the host's clock, and the nodes, which follow the chain's time, an
    // epoch behind the devices that follow the host's.
    const behind = await startAnvil({ accounts: 1, genesisTimestampS: Math.floor(Date.now() / 1000) - 3 });
    const now = await startAnvil({ accounts: 1 });
    try {
      expect(await secondsBehind(behind.rpcUrl)).toBeGreaterThanOrEqual(3);
      const added = await alignDevChainClock(behind.rpcUrl);
      expect(added).toBeGreaterThanOrEqual(3);
      expect(await secondsBehind(behind.rpcUrl)).toBe(0);
      expect(await alignDevChainClock(behind.rpcUrl)).toBe(0);
      // Blocks mined from now on carry the host's second too.
      await rpc(behind.rpcUrl, "evm_mine");
      const t = Math.floor(Date.now() / 1000);
      const latest = (await rpc(behind.rpcUrl, "eth_getBlockByNumber", ["latest", false])) as {
        timestamp: string;
      };
      expect(t - Number(latest.timestamp)).toBeLessThanOrEqual(1);
      expect(await secondsBehind(now.rpcUrl)).toBe(0);
    } finally {
      await Promise.all([behind.stop(), now.stop()]);
    }
  });

  it("a start that fails leaves no process and says why", async () => {
    const err = await startAnvil({ extraArgs: ["--no-such-flag"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnvilError);
    expect((err as Error).message).toMatch(/no-such-flag|unexpected argument/);
  });
});

describe("deployLocal", () => {
  it("deploys the settlement contract and two tokens on a running chain", async () => {
    const a = await startAnvil({ accounts: 1 });
    try {
      const d = await deployLocal({ rpcUrl: a.rpcUrl, privateKey: a.accounts[0]!.privateKey });
      expect(d.chainId).toBe(31337n);
      expect(d.deployer).toBe(a.accounts[0]!.address);
      for (const address of [d.settlement, d.base, d.quote]) {
        expect(address).toMatch(/^0x[0-9a-f]{40}$/);
        expect(((await rpc(a.rpcUrl, "eth_getCode", [address, "latest"])) as string).length).toBeGreaterThan(
          100,
        );
      }
      expect(new Set([d.settlement, d.base, d.quote]).size).toBe(3);
    } finally {
      await a.stop();
    }
  });
});
