// ERC-20 metadata and balances read over plain calls (symbol, decimals, balanceOf): any token, not only
// TestToken. A token without symbol() or decimals() (both optional in ERC-20) gets a fallback.
import type { JsonRpcProvider } from "ethers";
import { Interface } from "../protocol/ethers.ts";
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

/** Longest symbol shown: a token's symbol() is any string its deployer chose. */
const SYMBOL_MAX_CHARS = 16;
/** Most decimals a token can have and still count: 10^77 is the largest power of ten in a uint256. */
const DECIMALS_MAX = 77n;

async function read(provider: JsonRpcProvider, token: Hex, fn: string, args: unknown[]): Promise<unknown> {
  const data = erc20.encodeFunctionData(fn, args);
  const ret = await provider.call({ to: token, data });
  return erc20.decodeFunctionResult(fn, ret)[0] as unknown;
}

/** An optional ERC-20 function: null when the token reverts or answers something undecodable. */
async function optional(provider: JsonRpcProvider, token: Hex, fn: string): Promise<unknown> {
  try {
    return await read(provider, token, fn, []);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "CALL_EXCEPTION" || code === "BAD_DATA") return null;
    throw err;
  }
}

/**
 * The token's symbol and decimals: null for a function it does not have (it reverts or answers badly).
 * A transport failure (the chain does not answer) is thrown, not folded into "no metadata": the caller
 * says the chain is unreachable instead of silently showing raw units.
 */
export async function tokenInfo(provider: JsonRpcProvider, token: Hex): Promise<TokenInfo> {
  const [symbol, decimals] = await Promise.all([
    optional(provider, token, "symbol"),
    optional(provider, token, "decimals"),
  ]);
  return {
    address: token.toLowerCase() as Hex,
    symbol: typeof symbol === "string" ? symbol.slice(0, SYMBOL_MAX_CHARS) : null,
    decimals: typeof decimals === "bigint" && decimals <= DECIMALS_MAX ? Number(decimals) : null,
  };
}

/** Both symbol and decimals, or null when the token lacks either (amounts are then shown in raw units). */
export async function tokenMeta(
  provider: JsonRpcProvider,
  token: Hex,
): Promise<{ readonly symbol: string; readonly decimals: number } | null> {
  const info = await tokenInfo(provider, token);
  return info.symbol === null || info.decimals === null
    ? null
    : { symbol: info.symbol, decimals: info.decimals };
}

/** balanceOf(owner) of an ERC-20. */
export async function tokenBalanceOf(provider: JsonRpcProvider, token: Hex, owner: Hex): Promise<bigint> {
  return (await read(provider, token, "balanceOf", [owner])) as bigint;
}
