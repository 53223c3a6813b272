// The chain reads behind the API's display units and the coverage check, on a real anvil: RpcChain's
// tokenMeta (ERC-20 decimals()/symbol(), null for an address that has neither) and freeBalance (the free
// escrow now, what the check estimates with before an epoch's close), then the check itself over them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCoverage } from "../../../node/api/coverage.ts";
import { RpcChain } from "../../../node/chain/rpc.ts";
import { NodeStore } from "../../../node/store.ts";
import type { Hex } from "../../../protocol/hex.ts";
import {
  type AnvilInstance,
  deployLocal,
  type LocalDeployment,
  startAnvil,
} from "../../../settlement/anvil.ts";
import { SettlementClient } from "../../../settlement/client.ts";
import { Asset } from "../../../settlement/encoding.ts";

let anvil: AnvilInstance;
let d: LocalDeployment;
let chain: RpcChain;
let market: Hex;

beforeAll(async () => {
  anvil = await startAnvil({ accounts: 2 });
  const key = anvil.accounts[1]!.privateKey;
  d = await deployLocal({ rpcUrl: anvil.rpcUrl, privateKey: anvil.accounts[0]!.privateKey });
  const client = new SettlementClient({ rpcUrl: anvil.rpcUrl, privateKey: key, contract: d.settlement });
  try {
    const now = BigInt(Math.floor(Date.now() / 1000));
    ({ id: market } = await client.createMarket({
      base: d.base,
      quote: d.quote,
      genesisTimeS: now,
      epochLengthS: 60n,
      feeBps: 0n,
    }));
    await client.mintTestToken(d.quote, client.address, 5_000_000n);
    await client.deposit(market, Asset.QUOTE, 1_250_000n);
  } finally {
    client.close();
  }
  chain = await RpcChain.connect({ rpcUrl: anvil.rpcUrl, contract: d.settlement, privateKey: key });
}, 60_000);

afterAll(async () => {
  await chain?.close();
  await anvil?.stop();
});

describe("RpcChain reads for the control API", () => {
  it("reads the tokens' symbol and decimals, and null for a contract without them", async () => {
    expect(await chain.tokenMeta(d.base)).toEqual({ symbol: "kWh", decimals: 3 });
    expect(await chain.tokenMeta(d.quote)).toEqual({ symbol: "USD", decimals: 6 });
    // The settlement contract has neither function.
    expect(await chain.tokenMeta(d.settlement)).toBeNull();
  });

  it("reads the free escrow now, and the coverage check estimates with it before the close", async () => {
    expect(await chain.freeBalance(market, chain.sender)).toEqual({ base: 0n, quote: 1_250_000n });
    const store = new NodeStore(":memory:");
    try {
      const check = await checkCoverage(
        { market, trader: chain.sender, epoch: 0n, current: 0n, chain, store },
        { side: "buy", quantity: 1000n, limitPrice: 2000n },
      );
      // One order may need half the escrow: an escrow of 2 × 2,000,000 covers it, 2,750,000 more.
      expect(check).toMatchObject({
        needed: "2000000",
        collateral: "1250000",
        perOrder: "625000",
        short: "2750000",
        covered: false,
        estimate: true,
      });
    } finally {
      store.close();
    }
  });
});
