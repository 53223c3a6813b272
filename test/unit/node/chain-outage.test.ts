// A chain that stops answering (fault: anvil stopped with SIGSTOP, an RPC endpoint that accepts
// connections and never replies), over a real HTTP JSON-RPC endpoint on loopback: a stub that answers
// the few methods used here until it is told to hang. Before, RpcChain had no request timeout (ethers
// waits 300 s), so a hung call never ended, was never logged and never counted.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CHAIN_UP_METRIC, ChainFollower } from "../../../node/chain/follower.ts";
import { ChainError, ChainErrorCode } from "../../../node/chain/port.ts";
import { RpcChain } from "../../../node/chain/rpc.ts";
import { RPC_ERRORS_METRIC } from "../../../node/chain/rpc-guard.ts";
import { createLogger } from "../../../node/logger.ts";
import type { Hex } from "../../../protocol/hex.ts";

const CONTRACT = `0x${"5f".repeat(20)}` as Hex;
const MARKET = `0x${"5e".repeat(32)}` as Hex;
const KEY = `0x${"41".repeat(32)}` as Hex;

interface RpcRequest {
  id: number;
  method: string;
}

/** A JSON-RPC endpoint that answers eth_chainId, eth_getCode, eth_blockNumber and eth_getLogs, or hangs. */
class StubChain {
  hang = false;
  requests = 0;
  private server: Server | null = null;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        this.requests++;
        if (this.hang) return; // accepted, never answered: what a stopped process looks like
        const parsed = JSON.parse(body) as RpcRequest | RpcRequest[];
        const one = (r: RpcRequest) => ({ jsonrpc: "2.0", id: r.id, result: this.answer(r.method) });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(Array.isArray(parsed) ? parsed.map(one) : one(parsed)));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private answer(method: string): unknown {
    switch (method) {
      case "eth_chainId":
        return "0x7a69";
      case "eth_getCode":
        return "0x6000";
      case "eth_blockNumber":
        return "0x10";
      case "eth_getLogs":
        return [];
      default:
        return null;
    }
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const m = registry.getSingleMetric(name);
  if (!m) return undefined;
  const { values } = await m.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

let stub: StubChain;
let chain: RpcChain | null = null;
beforeEach(async () => {
  stub = new StubChain();
  await stub.start();
});
afterEach(async () => {
  await chain?.close();
  chain = null;
  await stub.stop();
});

describe("RpcChain against a chain that stops answering", () => {
  it("a hung read ends in ChainError TIMEOUT after bounded retries, counted per attempt and logged once at WARN", async () => {
    chain = await RpcChain.connect({ rpcUrl: stub.url, contract: CONTRACT, privateKey: KEY, timeoutMs: 200 });
    const registry = new Registry();
    const logs: string[] = [];
    chain.attach({ registry, logger: createLogger({ level: "debug", write: (l) => logs.push(l) }) });
    expect(await chain.blockNumber()).toBe(16);

    stub.hang = true;
    const err = await chain.blockNumber().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe(ChainErrorCode.TIMEOUT);
    expect((err as ChainError).operation).toBe("blockNumber");
    // Three attempts (RPC_READ_ATTEMPTS), each counted.
    expect(
      await metricValue(registry, RPC_ERRORS_METRIC, { operation: "blockNumber", code: "TIMEOUT" }),
    ).toBe(3);
    expect(
      logs.filter((l) => / WARN .*chain RPC failed .*operation=blockNumber .*code=TIMEOUT/.test(l)),
    ).toHaveLength(1);

    // Still failing: counted again, not logged again (rate-limited per operation).
    await expect(chain.blockNumber()).rejects.toMatchObject({ code: ChainErrorCode.TIMEOUT });
    expect(
      await metricValue(registry, RPC_ERRORS_METRIC, { operation: "blockNumber", code: "TIMEOUT" }),
    ).toBe(6);
    expect(logs.filter((l) => / WARN .*chain RPC failed/.test(l))).toHaveLength(1);

    stub.hang = false;
    expect(await chain.blockNumber()).toBe(16);
  });

  it("connect to an endpoint that never answers fails with TIMEOUT instead of hanging", async () => {
    stub.hang = true;
    const err = await RpcChain.connect({
      rpcUrl: stub.url,
      contract: CONTRACT,
      privateKey: KEY,
      timeoutMs: 150,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe(ChainErrorCode.TIMEOUT);
    expect((err as ChainError).message).toMatch(/cannot reach the chain/);
  });
});

describe("chain follower against a chain that stops answering", () => {
  it("logs the failing poll at WARN once, sets smartmarket_chain_up to 0 then 1, and says when the chain is back", async () => {
    chain = await RpcChain.connect({ rpcUrl: stub.url, contract: CONTRACT, privateKey: KEY, timeoutMs: 150 });
    const registry = new Registry();
    const logs: string[] = [];
    const logger = createLogger({ level: "debug", write: (l) => logs.push(l) });
    chain.attach({ registry, logger: logger.child("rpc") });
    const closeOuts: boolean[] = [];
    const listener = {
      onSettlement: async () => {},
      closeOut: (reachable: boolean) => closeOuts.push(reachable),
    };
    const follower = new ChainFollower({
      chain,
      logger: logger.child("chain"),
      listeners: () => new Map([[MARKET, listener]]),
      registry,
    });
    await follower.poll();
    expect(await metricValue(registry, CHAIN_UP_METRIC)).toBe(1);
    expect(follower.chainUp).toBe(true);

    stub.hang = true;
    await follower.poll();
    await follower.poll();
    expect(await metricValue(registry, CHAIN_UP_METRIC)).toBe(0);
    expect(follower.chainUp).toBe(false);
    expect(logs.filter((l) => / WARN .*chain poll failed .*code=TIMEOUT/.test(l))).toHaveLength(1);
    // Close-out still runs while the chain is away, and is told so (it records why an epoch ends unsettled).
    expect(closeOuts).toEqual([true, false, false]);

    stub.hang = false;
    await follower.poll();
    expect(await metricValue(registry, CHAIN_UP_METRIC)).toBe(1);
    expect(logs.some((l) => / INFO .*chain reachable again after \d+ s .*failedPolls=2/.test(l))).toBe(true);
    expect(closeOuts.at(-1)).toBe(true);
  });

  it("a poll that hangs counts as failing after the stall time, before the reads' timeouts run out", async () => {
    chain = await RpcChain.connect({
      rpcUrl: stub.url,
      contract: CONTRACT,
      privateKey: KEY,
      timeoutMs: 1500,
    });
    const registry = new Registry();
    const logs: string[] = [];
    const follower = new ChainFollower({
      chain,
      logger: createLogger({ level: "debug", write: (l) => logs.push(l) }),
      listeners: () => new Map(),
      registry,
      stallMs: 200,
    });
    await follower.poll();
    expect(await metricValue(registry, CHAIN_UP_METRIC)).toBe(1);
    stub.hang = true;
    const polling = follower.poll();
    await new Promise((r) => setTimeout(r, 600));
    // Still waiting for the chain (3 attempts of 1.5 s), yet already reported.
    expect(await metricValue(registry, CHAIN_UP_METRIC)).toBe(0);
    expect(
      logs.filter((l) => / WARN .*chain poll failed .*has not answered for 200 ms/.test(l)),
    ).toHaveLength(1);
    stub.hang = false;
    await polling;
    await follower.poll();
    expect(await metricValue(registry, CHAIN_UP_METRIC)).toBe(1);
    expect(logs.some((l) => / INFO .*chain reachable again after/.test(l))).toBe(true);
  });
});
