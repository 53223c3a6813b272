// collateral_rpc_calls_per_epoch: the JSON-RPC requests one epoch's collateral read costs a node when
// 2,000 traders with no escrow sent orders (an unfunded-order flood; issue 10 measured 4,000 eth_calls).
// Real parts: anvil, the deployed contract, the node's RpcChain and EpochPipeline.readCollateral; the
// requests are counted by an HTTP proxy in front of anvil (each element of a JSON-RPC batch counts).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { RpcChain } from "../../node/chain/rpc.ts";
import { makeMarketContext } from "../../node/market/context.ts";
import { EpochPipeline, type PipelineComponents } from "../../node/market/pipeline.ts";
import { domainSeparator, makeDomain } from "../../protocol/eip712.ts";
import { keccak256, toUtf8Bytes } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { addressOfPrivateKey } from "../../protocol/signature.ts";
import { latestTimestamp, mineBlock, startAnvil } from "../../settlement/anvil.ts";
import { SettlementClient } from "../../settlement/client.ts";

export interface CollateralCalls {
  /** JSON-RPC requests of the read, by method. */
  readonly byMethod: Record<string, number>;
  readonly total: number;
  readonly ms: number;
  readonly traders: number;
}

export async function measureCollateralCalls(traders = 2000): Promise<CollateralCalls> {
  const anvil = await startAnvil({ accounts: 2 });
  const byMethod: Record<string, number> = {};
  let counting = false;
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (counting) {
        const parsed = JSON.parse(body) as { method: string } | { method: string }[];
        for (const r of Array.isArray(parsed) ? parsed : [parsed])
          byMethod[r.method] = (byMethod[r.method] ?? 0) + 1;
      }
      const upstream = await fetch(anvil.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      res.writeHead(upstream.status, { "content-type": "application/json" });
      res.end(await upstream.text());
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  let chain: RpcChain | null = null;
  const admin = new SettlementClient({ rpcUrl: anvil.rpcUrl, privateKey: anvil.accounts[0]!.privateKey });
  try {
    const deployed = await admin.deployContracts({
      base: { name: "Energy", symbol: "WH", decimals: 3 },
      quote: { name: "Dollar", symbol: "USD", decimals: 6 },
    });
    const genesis = (await latestTimestamp(admin.provider)) + 1n;
    const { id, params } = await admin.createMarket({
      base: deployed.base,
      quote: deployed.quote,
      genesisTimeS: genesis,
      epochLengthS: 60n,
      feeBps: 0n,
    });
    await mineBlock(admin.provider, genesis + 61n); // epoch 1: collateralOf(0) is readable
    chain = await RpcChain.connect({
      rpcUrl: proxyUrl,
      contract: deployed.settlement,
      privateKey: anvil.accounts[1]!.privateKey,
    });
    const domain = makeDomain(anvil.chainId, deployed.settlement);
    const ctx = makeMarketContext(id, params, domain, domainSeparator(domain));
    // readCollateral needs only the chain, the clock and the session's liveness.
    const pipeline = new EpochPipeline(ctx, { submit: false }, {
      chain,
      clock: () => Number(genesis + 61n) * 1000,
      sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)),
      running: () => true,
    } as unknown as PipelineComponents);
    const addresses = Array.from(
      { length: traders },
      (_, i) => addressOfPrivateKey(keccak256(toUtf8Bytes(`unfunded/${i}`)) as Hex).toLowerCase() as Hex,
    ).sort();
    counting = true;
    const t0 = performance.now();
    const read = await pipeline.readCollateral(0n, addresses);
    const ms = performance.now() - t0;
    counting = false;
    if (read.size !== traders) throw new Error(`read ${read.size} of ${traders} traders`);
    const total = Object.values(byMethod).reduce((a, b) => a + b, 0);
    return { byMethod, total, ms, traders };
  } finally {
    await chain?.close();
    admin.close();
    proxy.close();
    await anvil.stop();
  }
}
