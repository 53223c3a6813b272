// Funds thousands of bench traders on anvil in seconds: each trader's six transactions (mint base and quote
// to itself, approve both, deposit both) are signed here and sent as JSON-RPC batches, nonce by nonce,
// without waiting for each receipt (the testnet's own funding waits for every receipt: minutes at this
// scale). Automining is off meanwhile (anvil stalls on thousands of pending transactions when it mines
// each on arrival): blocks are mined until the pool is empty, then automining is back on. The receipts of
// the deposits are checked at the end.
import { Interface, Wallet } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { Asset } from "../../settlement/encoding.ts";
import type { Testnet } from "../../testnet/network.ts";
import { BULK_DEPOSIT } from "./traders.ts";

const TOKEN = new Interface([
  "function mint(address to, uint256 amount)",
  "function approve(address spender, uint256 amount) returns (bool)",
]);
const MARKET = new Interface(["function deposit(bytes32 market, uint8 asset, uint256 amount)"]);
const RPC_BATCH = 400;
const GAS_LIMIT = 300_000n;

async function rpc(url: string, calls: { method: string; params: unknown[] }[]): Promise<unknown[]> {
  const body = calls.map((c, id) => ({ jsonrpc: "2.0", id, ...c }));
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const out = (await res.json()) as { id: number; result?: unknown; error?: { message: string } }[];
  out.sort((a, b) => a.id - b.id);
  return out.map((r) => {
    if (r.error) throw new Error(`${calls[r.id]?.method}: ${r.error.message}`);
    return r.result;
  });
}

export interface BulkTrader {
  readonly privateKey: Hex;
  readonly address: Hex;
}

/** Deposits `base` and `quote` for every trader into `market`; the traders need gas (the testnet gives it). */
export async function bulkFund(
  rpcUrl: string,
  contract: Hex,
  market: { readonly id: Hex; readonly base: Hex; readonly quote: Hex },
  traders: readonly BulkTrader[],
  amounts: { readonly base: bigint; readonly quote: bigint },
): Promise<void> {
  const [chainIdHex] = (await rpc(rpcUrl, [{ method: "eth_chainId", params: [] }])) as [string];
  const chainId = BigInt(chainIdHex);
  const steps = (trader: string): { to: Hex; data: string }[] => [
    { to: market.base, data: TOKEN.encodeFunctionData("mint", [trader, amounts.base]) },
    { to: market.quote, data: TOKEN.encodeFunctionData("mint", [trader, amounts.quote]) },
    { to: market.base, data: TOKEN.encodeFunctionData("approve", [contract, amounts.base]) },
    { to: market.quote, data: TOKEN.encodeFunctionData("approve", [contract, amounts.quote]) },
    { to: contract, data: MARKET.encodeFunctionData("deposit", [market.id, Asset.BASE, amounts.base]) },
    { to: contract, data: MARKET.encodeFunctionData("deposit", [market.id, Asset.QUOTE, amounts.quote]) },
  ];
  const STEPS = 6;
  await rpc(rpcUrl, [{ method: "evm_setAutomine", params: [false] }]);
  const wallets = traders.map((t) => new Wallet(t.privateKey));
  let lastHashes: string[] = [];
  for (let nonce = 0; nonce < STEPS; nonce++) {
    const raw = await Promise.all(
      wallets.map((w) => {
        const step = steps(w.address)[nonce]!;
        return w.signTransaction({
          type: 2,
          chainId,
          nonce,
          to: step.to,
          data: step.data,
          gasLimit: GAS_LIMIT,
          maxFeePerGas: 100_000_000_000n,
          maxPriorityFeePerGas: 1_000_000_000n,
        });
      }),
    );
    lastHashes = (await rpcAll(
      rpcUrl,
      raw.map((r) => ({ method: "eth_sendRawTransaction", params: [r] })),
    )) as string[];
  }
  try {
    for (let blocks = 0; ; blocks++) {
      const [status] = (await rpc(rpcUrl, [{ method: "txpool_status", params: [] }])) as [
        { pending: string; queued: string },
      ];
      if (BigInt(status.pending) === 0n && BigInt(status.queued) === 0n) break;
      if (blocks > 10_000) throw new Error("the pool does not empty");
      await rpc(rpcUrl, [{ method: "evm_mine", params: [] }]);
    }
  } finally {
    await rpc(rpcUrl, [{ method: "evm_setAutomine", params: [true] }]);
  }
  // Every trader's last transaction (its quote deposit) must have succeeded.
  const receipts = (await rpcAll(
    rpcUrl,
    lastHashes.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
  )) as ({ status: string } | null)[];
  const bad = receipts.filter((r) => r === null || r.status !== "0x1").length;
  if (bad > 0) throw new Error(`${bad} of ${receipts.length} deposits did not succeed`);
}

async function rpcAll(url: string, calls: { method: string; params: unknown[] }[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < calls.length; i += RPC_BATCH)
    out.push(...(await rpc(url, calls.slice(i, i + RPC_BATCH))));
  return out;
}

/** Funds the primary market's bench traders of a testnet started with tradersScenario(n, { bulk: true }). */
export function bulkFundTestnet(net: Testnet): Promise<void> {
  return bulkFund(
    net.anvil.rpcUrl,
    net.contract,
    { id: net.market.id, base: net.base, quote: net.quote },
    net.scenario.devices,
    BULK_DEPOSIT,
  );
}
