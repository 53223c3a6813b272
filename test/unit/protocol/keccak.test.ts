// protocol/keccak.ts (hash-wasm's WebAssembly keccak) against @noble/hashes' reference keccak-256, and
// the known vectors: the empty string and "abc".
import { keccak_256 } from "@noble/hashes/sha3.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "../../../protocol/hex.ts";
import { keccak256 } from "../../../protocol/keccak.ts";

describe("keccak256", () => {
  it("gives the known digests", () => {
    expect(bytesToHex(keccak256(new Uint8Array(0)))).toBe(
      "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
    expect(bytesToHex(keccak256(new TextEncoder().encode("abc")))).toBe(
      "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
    );
  });

  it("equals @noble/hashes on every length around the 136-byte rate, and on subarrays", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(8), (data, skip) => {
        expect(bytesToHex(keccak256(data))).toBe(bytesToHex(keccak_256(data)));
        const view = data.subarray(Math.min(skip, data.length));
        expect(bytesToHex(keccak256(view))).toBe(bytesToHex(keccak_256(view)));
      }),
      { numRuns: 500 },
    );
  });

  it("returns a new array each time (a caller may keep or change it)", () => {
    const a = keccak256(new Uint8Array([1]));
    const b = keccak256(new Uint8Array([1]));
    expect(a).not.toBe(b);
    a[0] = (a[0]! + 1) & 0xff;
    expect(bytesToHex(b)).toBe(bytesToHex(keccak_256(new Uint8Array([1]))));
  });
});
