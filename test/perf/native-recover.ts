// Native secp256k1 public-key recovery on one core (the `secp256k1` package's C binding): the bound every
// node's order path is measured against (issue 13).
import { createRequire } from "node:module";
import { hexToBytes } from "../../protocol/hex.ts";
import { keccak256 } from "../../protocol/keccak.ts";
import { signDigest } from "../../protocol/signature.ts";
import { opsPerSecond } from "./harness.ts";

interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg: Uint8Array, compressed: boolean): Uint8Array;
}

/** Recoveries per second of `sigs` (65-byte r‖s‖v) over `digests`, on this thread. */
export function nativeRecoverRate(digests: readonly Uint8Array[], sigs: readonly Uint8Array[]): number {
  const native = createRequire(import.meta.url)("secp256k1/bindings.js") as NativeSecp256k1;
  return opsPerSecond(digests.length, (i) => {
    const sig = sigs[i]!;
    native.ecdsaRecover(sig.subarray(0, 64), sig[64]! - 27, digests[i]!, false);
  });
}

/** Native recoveries per second of `n` fresh signatures. */
export function nativeRecoverPerS(n = 5000): number {
  const key = `0x${"2a".repeat(32)}` as const;
  const digests = Array.from({ length: n }, (_, i) => keccak256(Uint8Array.of(i & 0xff, i >> 8)));
  const sigs = digests.map((d) => hexToBytes(signDigest(d, key)));
  return nativeRecoverRate(digests, sigs);
}
