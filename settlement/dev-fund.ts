// Funding an address on a local dev chain (anvil, hardhat): gas with anvil_setBalance (or a transfer from
// the chain's first unlocked dev account), and TestTokens minted by that dev account.
import type { JsonRpcProvider } from "ethers";
import type { Hex } from "../protocol/hex.ts";
import { testTokenInterface } from "./artifacts.ts";
import { waitForReceipt } from "./client.ts";

export interface DevFunding {
  /** Wei added to the address's balance (0 = none). */
  readonly ethWei: bigint;
  /** TestTokens to mint to the address. */
  readonly mints: readonly { readonly token: Hex; readonly amount: bigint }[];
}

export interface DevFundResult {
  readonly devAccount: Hex;
  /** How the gas was paid: "anvil_setBalance", "transfer" or "none". */
  readonly gas: "anvil_setBalance" | "transfer" | "none";
  readonly balanceWei: bigint;
  readonly mintTxs: readonly Hex[];
}

async function sendFromDev(provider: JsonRpcProvider, tx: Record<string, string>): Promise<Hex> {
  const hash = (await provider.send("eth_sendTransaction", [tx])) as string;
  const receipt = await waitForReceipt(provider, hash, { intervalMs: 100, timeoutMs: 30_000 });
  if (receipt.status !== 1) throw new Error(`transaction ${hash} reverted`);
  return hash.toLowerCase() as Hex;
}

/** Funds `to` from the chain's first dev account (eth_accounts[0], unlocked on anvil and hardhat). */
export async function fundOnDevChain(
  provider: JsonRpcProvider,
  to: Hex,
  funding: DevFunding,
): Promise<DevFundResult> {
  const accounts = (await provider.send("eth_accounts", [])) as string[];
  const dev = accounts[0]?.toLowerCase() as Hex | undefined;
  if (dev === undefined)
    throw new Error("the chain has no unlocked dev account (eth_accounts is empty): not a dev chain");
  let gas: DevFundResult["gas"] = "none";
  if (funding.ethWei > 0n) {
    const current = await provider.getBalance(to);
    try {
      await provider.send("anvil_setBalance", [to, `0x${(current + funding.ethWei).toString(16)}`]);
      gas = "anvil_setBalance";
    } catch {
      await sendFromDev(provider, { from: dev, to, value: `0x${funding.ethWei.toString(16)}` });
      gas = "transfer";
    }
  }
  const mintTxs: Hex[] = [];
  for (const m of funding.mints) {
    if (m.amount === 0n) continue;
    const data = testTokenInterface.encodeFunctionData("mint", [to, m.amount]);
    mintTxs.push(await sendFromDev(provider, { from: dev, to: m.token, data }));
  }
  return { devAccount: dev, gas, balanceWei: await provider.getBalance(to), mintTxs };
}
