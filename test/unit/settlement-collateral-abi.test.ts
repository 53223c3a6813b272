// The hand-written ABI of collateralOfMany (settlement/collateral-abi.ts) against ethers' coder and the
// contract's ABI: the same calldata byte for byte, the same values back, and every other layout refused.
import { describe, expect, it } from "vitest";
import { AbiCoder, keccak256, toUtf8Bytes } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import {
  COLLATERAL_OF_MANY_SELECTOR,
  decodeCollateralOfManyResult,
  encodeCollateralOfManyCall,
} from "../../settlement/collateral-abi.ts";
import { SettlementClientError } from "../../settlement/errors.ts";

/** Deterministic pseudo-random hex of `bytes` bytes (keccak chain from a label). */
function hexOf(label: string, bytes: number): string {
  let out = "";
  let h = keccak256(toUtf8Bytes(label));
  while (out.length < bytes * 2) {
    out += h.slice(2);
    h = keccak256(h);
  }
  return out.slice(0, bytes * 2);
}

const market = `0x${hexOf("market", 32)}` as Hex;
const tradersOf = (n: number) =>
  Array.from({ length: n }, (_, i) => {
    const raw = hexOf(`trader ${i}`, 20);
    // Mixed case, as checksummed addresses are: the calldata is the same.
    return `0x${i % 2 === 0 ? raw.toUpperCase() : raw}` as Hex;
  });
const uint = (label: string) => BigInt(`0x${hexOf(label, 32)}`) >> BigInt(label.length % 200);
const coder = AbiCoder.defaultAbiCoder();

describe("collateralOfMany ABI by hand", () => {
  it("the selector is the contract's", () => {
    expect(COLLATERAL_OF_MANY_SELECTOR).toBe(smartMarketInterface.getFunction("collateralOfMany")!.selector);
  });

  it.each([0, 1, 2, 7, 500])("calldata for %i traders is ethers' byte for byte", (n) => {
    const traders = tradersOf(n);
    for (const epoch of [0n, 7n, (1n << 64n) - 1n]) {
      expect(encodeCollateralOfManyCall(market, traders, epoch)).toBe(
        smartMarketInterface.encodeFunctionData("collateralOfMany", [market, traders, epoch]),
      );
    }
  });

  it("refuses what is not a market, a trader or a uint64 epoch", () => {
    expect(() => encodeCollateralOfManyCall("0x12" as Hex, [], 1n)).toThrow(/market/);
    expect(() => encodeCollateralOfManyCall(market, ["0x1234" as Hex], 1n)).toThrow(/trader/);
    expect(() => encodeCollateralOfManyCall(market, [], -1n)).toThrow(/uint64/);
    expect(() => encodeCollateralOfManyCall(market, [], 1n << 64n)).toThrow(/uint64/);
  });

  it.each([0, 1, 3, 500])("decodes the return data of %i traders as ethers does", (n) => {
    const base = Array.from({ length: n }, (_, i) => uint(`base ${i}`));
    const quote = Array.from({ length: n }, (_, i) => (i === 0 ? (1n << 256n) - 1n : uint(`quote ${i}`)));
    const ret = coder.encode(["uint256[]", "uint256[]"], [base, quote]);
    const mine = decodeCollateralOfManyResult(ret, n);
    const theirs = smartMarketInterface.decodeFunctionResult("collateralOfMany", ret);
    expect(mine.base).toEqual([...theirs[0]]);
    expect(mine.quote).toEqual([...theirs[1]]);
    expect(mine).toEqual({ base, quote });
  });

  it("refuses return data of another length, layout or trader count", () => {
    const ret = coder.encode(
      ["uint256[]", "uint256[]"],
      [
        [1n, 2n],
        [3n, 4n],
      ],
    );
    const refuse = (data: string, n = 2) => {
      expect(() => decodeCollateralOfManyResult(data, n)).toThrow(SettlementClientError);
    };
    refuse(ret, 3); // fewer traders answered than asked
    refuse(ret, 1); // more
    refuse(ret.slice(0, -64)); // truncated
    refuse(`${ret}${"00".repeat(32)}`); // padded
    refuse(`${ret.slice(0, -1)}g`); // not hex
    refuse("0x"); // empty (an account without code answers so)
    // The same values, the second array placed one word further (valid ABI, not the contract's layout).
    const moved = coder.encode(
      ["uint256[]", "uint256[]"],
      [
        [1n, 2n],
        [3n, 4n],
      ],
    );
    const words = moved.slice(2).match(/.{64}/g)!;
    words[1] = (BigInt(`0x${words[1]}`) + 32n).toString(16).padStart(64, "0");
    words.splice(5, 0, "0".repeat(64));
    refuse(`0x${words.join("")}`.slice(0, moved.length));
    // Lengths that disagree with the count asked.
    const lengths = moved.slice(2).match(/.{64}/g)!;
    lengths[2] = `${"0".repeat(63)}3`;
    refuse(`0x${lengths.join("")}`);
  });
});
