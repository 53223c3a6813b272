// ERC-20 metadata and balances read over plain calls (symbol, decimals, balanceOf): any token, not only
// TestToken. A token without symbol() or decimals() (both optional in ERC-20) gets a fallback.
import { Interface, type JsonRpcProvider } from "ethers";
import type { Hex } from "../protocol/hex.ts";

const erc20 = new Interface([
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
  "function balanceOf(address) view returns (uint256)",
]);

export interface TokenInfo {
  readonly address: Hex;
  /** symbol(), or null when the token has none. */
  readonly symbol: string | null;
  /** decimals(), or null when the token has none (amounts are then shown in raw units). */
  readonly decimals: number | null;
}

async function read(provider: JsonRpcProvider, token: Hex, fn: string, args: unknown[]): Promise<unknown> {
  const data = erc20.encodeFunctionData(fn, args);
  const ret = await provider.call({ to: token, data });
  return erc20.decodeFunctionResult(fn, ret)[0] as unknown;
}

/** The token's symbol and decimals; null for a function it does not have (or answers badly). */
export async function tokenInfo(provider: JsonRpcProvider, token: Hex): Promise<TokenInfo> {
  const [symbol, decimals] = await Promise.all([
    read(provider, token, "symbol", []).catch(() => null),
    read(provider, token, "decimals", []).catch(() => null),
  ]);
  return {
    address: token.toLowerCase() as Hex,
    symbol: typeof symbol === "string" ? symbol : null,
    decimals: typeof decimals === "bigint" && decimals <= 77n ? Number(decimals) : null,
  };
}

/** balanceOf(owner) of an ERC-20. */
export async function tokenBalanceOf(provider: JsonRpcProvider, token: Hex, owner: Hex): Promise<bigint> {
  return (await read(provider, token, "balanceOf", [owner])) as bigint;
}
