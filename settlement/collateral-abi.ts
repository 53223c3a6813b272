// collateralOfMany(bytes32 market, address[] traders, uint64 epoch) returns (uint256[] base, uint256[] quote):
// its calldata and return data in ABI encoding, by hand. Every node reads every trader of an epoch this
// way right after the close; ethers' coder spent ~11 ms encoding and ~20–70 ms decoding each 500 traders
// (an eth_call of 500 traders takes anvil ~10 ms), on the path from the close to the agreed result.
// test/unit/settlement-collateral-abi.test.ts checks both against ethers' coder.
import type { Hex } from "../protocol/hex.ts";
import { SettlementClientError } from "./errors.ts";

/** bytes4(keccak256("collateralOfMany(bytes32,address[],uint64)")). */
export const COLLATERAL_OF_MANY_SELECTOR = "0xe5326a61";

const WORD_HEX = 64;
const ADDRESS_PAD = "0".repeat(24);

function wordOf(value: bigint): string {
  return value.toString(16).padStart(WORD_HEX, "0");
}

/** The calldata of collateralOfMany(market, traders, epoch); addresses and market as 0x-hex. */
export function encodeCollateralOfManyCall(market: Hex, traders: readonly Hex[], epoch: bigint): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(market))
    throw new TypeError(`market must be 32 bytes of hex, got ${market}`);
  if (epoch < 0n || epoch >= 1n << 64n) throw new RangeError(`epoch ${epoch} is not a uint64`);
  const parts: string[] = [
    COLLATERAL_OF_MANY_SELECTOR,
    market.slice(2).toLowerCase(),
    wordOf(0x60n), // the array's offset: after the three head words
    wordOf(epoch),
    wordOf(BigInt(traders.length)),
  ];
  for (const t of traders) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(t)) throw new TypeError(`a trader must be 20 bytes of hex, got ${t}`);
    parts.push(ADDRESS_PAD, t.slice(2).toLowerCase());
  }
  return parts.join("") as Hex;
}

/**
 * The two arrays collateralOfMany returns for `n` traders, as the contract encodes them: offsets 0x40 and
 * 0x40 + 32·(n + 1), each array's length n, nothing after. Anything else (a truncated or padded answer,
 * another layout) is a SettlementClientError: the caller reads again rather than trust it.
 */
export function decodeCollateralOfManyResult(ret: string, n: number): { base: bigint[]; quote: bigint[] } {
  const words = 2 + 2 * (n + 1);
  const bad = (why: string) =>
    new SettlementClientError("collateralOfMany", `unexpected return data for ${n} traders: ${why}`);
  if (!/^0x[0-9a-fA-F]*$/.test(ret)) throw bad("not hex");
  if (ret.length !== 2 + words * WORD_HEX) throw bad(`${(ret.length - 2) / 2} bytes, expected ${words * 32}`);
  const word = (i: number) => BigInt(`0x${ret.slice(2 + i * WORD_HEX, 2 + (i + 1) * WORD_HEX)}`);
  const baseAt = 0x40n;
  const quoteAt = 0x40n + 32n * BigInt(n + 1);
  if (word(0) !== baseAt || word(1) !== quoteAt) throw bad("array offsets");
  if (word(2) !== BigInt(n) || word(3 + n) !== BigInt(n)) throw bad("array lengths");
  const base: bigint[] = new Array(n);
  const quote: bigint[] = new Array(n);
  for (let i = 0; i < n; i++) {
    base[i] = word(3 + i);
    quote[i] = word(4 + n + i);
  }
  return { base, quote };
}
