// Native secp256k1 public-key recovery on one core (libsecp256k1 through the `secp256k1` package's N-API
// addon, called directly, without the package's JavaScript argument checks, as protocol/signature.ts
// calls it): the bound every node's order path is measured against (issue 13).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { hexToBytes } from "../../protocol/hex.ts";
import { keccak256 } from "../../protocol/keccak.ts";
import { signDigest } from "../../protocol/signature.ts";
import { opsPerSecond } from "./harness.ts";

interface Secp256k1Addon {
  ecdsaRecover(output: Uint8Array, sig64: Uint8Array, recid: number, msg32: Uint8Array): number;
}

function loadAddon(): Secp256k1Addon {
  const dir = dirname(createRequire(import.meta.url).resolve("secp256k1/package.json"));
  const addon = createRequire(join(dir, "package.json"))("node-gyp-build")(dir) as {
    Secp256k1: new () => Secp256k1Addon;
  };
  return new addon.Secp256k1();
}

/** Recoveries per second of `sigs` (65-byte r‖s‖v) over `digests`, on this thread. */
export function nativeRecoverRate(digests: readonly Uint8Array[], sigs: readonly Uint8Array[]): number {
  const native = loadAddon();
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
