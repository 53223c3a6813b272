// Native secp256k1 public-key recovery on one core (libsecp256k1 through the `secp256k1` package's N-API
// addon, called directly, without the package's JavaScript argument checks, as protocol/signature.ts
// calls it): the bound every node's order path is measured against (issue 13).
import { hexToBytes } from "../../protocol/hex.ts";
import { keccak256 } from "../../protocol/keccak.ts";
import { loadSecp256k1, signDigest } from "../../protocol/signature.ts";
import { opsPerSecond } from "./harness.ts";

/** Recoveries per second of `sigs` (65-byte r‖s‖v) over `digests`, on this thread. */
export function nativeRecoverRate(digests: readonly Uint8Array[], sigs: readonly Uint8Array[]): number {
  const native = loadSecp256k1().addon;
  const key = new Uint8Array(65);
  return opsPerSecond(digests.length, (i) => {
    const sig = sigs[i]!;
    if (native.ecdsaRecover(key, sig.subarray(0, 64), sig[64]! - 27, digests[i]!) !== 0)
      throw new Error("no key recovered");
  });
}

/** Native recoveries per second of `n` fresh signatures. */
export function nativeRecoverPerS(n = 5000): number {
  const key = `0x${"2a".repeat(32)}` as const;
  const digests = Array.from({ length: n }, (_, i) => keccak256(Uint8Array.of(i & 0xff, i >> 8)));
  const sigs = digests.map((d) => hexToBytes(signDigest(d, key)));
  return nativeRecoverRate(digests, sigs);
}
