// Signature recovery for orders: native libsecp256k1 (npm `secp256k1`) when it loads, @noble/curves otherwise.
// Both paths apply the same checks before recovering: v in {27, 28}, 0 < r < n, 0 < s <= n/2.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { SECP256K1_HALF_N, SECP256K1_N } from "./constants.ts";
import { OrderError, OrderErrorCode } from "./errors.ts";
import { bytesToHex, type Hex, hexToBytes, uintToBytes } from "./hex.ts";
import { keccak256 } from "./keccak.ts";

interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
}

/** The N-API addon under the `secp256k1` package's JavaScript wrapper. */
export interface Secp256k1Addon {
  /**
   * Writes the public key recovered from (sig64, recid, msg32) into `output` (65 bytes: uncompressed);
   * 0 when it did, 1 when the signature does not parse, 2 when no key recovers. Throws TypeError unless
   * sig64 and msg32 are Uint8Arrays of 64 and 32 bytes.
   */
  ecdsaRecover(output: Uint8Array, sig64: Uint8Array, recid: number, msg32: Uint8Array): number;
}

/**
 * The `secp256k1` package's addon (libsecp256k1) and its JavaScript wrapper around it; throws when the
 * addon does not load. node-gyp-build loads the package's prebuilt addon (or its local build), as the
 * package's own `bindings.js` does. The benchmarks' native reference uses the same addon.
 */
export function loadSecp256k1(): { addon: Secp256k1Addon; wrapper: NativeSecp256k1 } {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("secp256k1/package.json"));
  const fromPackage = createRequire(join(dir, "package.json"));
  const built = fromPackage("node-gyp-build")(dir) as { Secp256k1: new () => Secp256k1Addon };
  const addon = new built.Secp256k1();
  return { addon, wrapper: fromPackage("./lib/index.js")(addon) as NativeSecp256k1 };
}

/**
 * The addon itself for recovery, and the package's wrapper (its argument checks) for signing. Every order
 * a node receives is recovered: the wrapper's checks build three error messages per call before they are
 * needed (template strings) and allocate the output, about a third of what a recovery allocated besides
 * the key. recoverSigner checks the signature's shape and the digest's length itself.
 */
function loadNative(): { recover: Secp256k1Addon; sign: NativeSecp256k1 } | null {
  if (process.env.SMARTMARKET_NO_NATIVE_SECP256K1 === "1") return null;
  try {
    const { addon, wrapper } = loadSecp256k1();
    return { recover: addon, sign: wrapper };
  } catch {
    return null;
  }
}

const native = loadNative();

/** Which backend recovers signatures in this process: "native" (libsecp256k1) or "noble" (pure JS). */
export const signatureBackend: "native" | "noble" = native ? "native" : "noble";

const ZERO_ADDRESS = `0x${"00".repeat(20)}`;

/** Address of an uncompressed public key (65 bytes, 0x04 prefix): the last 20 bytes of keccak256(x || y). */
function addressOfPublicKey(uncompressed: Uint8Array): Hex {
  return addressOfKeyXY(uncompressed.subarray(1));
}

/** Address of a public key's 64 bytes x || y. */
function addressOfKeyXY(xy: Uint8Array): Hex {
  const h = keccak256(xy);
  return `0x${Buffer.from(h.buffer, h.byteOffset + 12, 20).toString("hex")}` as Hex;
}

// The key recovered by the native addon is written here and hashed at once (nothing yields in between).
const recoveredKey = new Uint8Array(65);
const recoveredKeyXY = recoveredKey.subarray(1);

const N_BYTES = uintToBytes(SECP256K1_N, 32);
const HALF_N_BYTES = uintToBytes(SECP256K1_HALF_N, 32);

/** Whether the 32-byte word at `at` of `b` is 0. */
function isZeroWord(b: Uint8Array, at: number): boolean {
  for (let i = at; i < at + 32; i++) if (b[i] !== 0) return false;
  return true;
}

/** Compares the 32-byte big-endian word at `at` of `b` with `ref` (the order of the numbers). */
function compareWord(b: Uint8Array, at: number, ref: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = b[at + i]! - ref[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Checks r, s and v of a 65-byte signature r || s || v; returns the recovery id (0 or 1). */
export function checkSignatureShape(sig: Uint8Array): number {
  if (sig.length !== 65)
    throw new OrderError(OrderErrorCode.MALFORMED, `signature is ${sig.length} bytes, not 65`);
  const v = sig[64]!;
  if (v !== 27 && v !== 28)
    throw new OrderError(OrderErrorCode.BAD_SIGNATURE_V, `v = ${v}, must be 27 or 28`);
  // r (bytes 0..31) and s (32..63) compared as big-endian words, without converting to bigint.
  if (isZeroWord(sig, 0) || compareWord(sig, 0, N_BYTES) >= 0)
    throw new OrderError(OrderErrorCode.BAD_SIGNATURE_RS, "r is 0 or >= n");
  if (isZeroWord(sig, 32)) throw new OrderError(OrderErrorCode.BAD_SIGNATURE_RS, "s is 0");
  if (compareWord(sig, 32, HALF_N_BYTES) > 0)
    throw new OrderError(OrderErrorCode.HIGH_S, "s > n/2 (malleable twin of a low-s signature)");
  return v - 27;
}

/**
 * Recovers the signer of a 32-byte digest from a 65-byte signature r || s || v.
 * Throws OrderError for every malformed or unrecoverable signature; never returns the zero address.
 */
export function recoverSigner(digest: Uint8Array, sig: Uint8Array): Hex {
  if (!native) return recoverSignerNoble(digest, sig);
  const recid = checkSignatureShape(sig);
  let status: number;
  try {
    // 0: recovered into recoveredKey; 1, 2: no key (a TypeError for a digest that is not 32 bytes)
    status = native.recover.ecdsaRecover(recoveredKey, sig.subarray(0, 64), recid, digest);
  } catch {
    status = -1;
  }
  if (status !== 0) {
    throw new OrderError(
      OrderErrorCode.UNRECOVERABLE_SIGNATURE,
      "no public key recovers from this signature",
    );
  }
  const address = addressOfKeyXY(recoveredKeyXY);
  if (address === ZERO_ADDRESS)
    throw new OrderError(OrderErrorCode.UNRECOVERABLE_SIGNATURE, "recovers to address 0");
  return address;
}

/** Recovery through @noble/curves regardless of the native module (for cross-checks). */
export function recoverSignerNoble(digest: Uint8Array, sig: Uint8Array): Hex {
  const recid = checkSignatureShape(sig);
  const recovered = new Uint8Array(65);
  recovered[0] = recid;
  recovered.set(sig.subarray(0, 64), 1);
  let pub: Uint8Array;
  try {
    pub = noble.recoverPublicKey(recovered, digest, { prehash: false });
  } catch {
    throw new OrderError(
      OrderErrorCode.UNRECOVERABLE_SIGNATURE,
      "no public key recovers from this signature",
    );
  }
  if (pub.length !== 65) pub = noble.Point.fromBytes(pub).toBytes(false);
  const address = addressOfPublicKey(pub);
  if (address === ZERO_ADDRESS)
    throw new OrderError(OrderErrorCode.UNRECOVERABLE_SIGNATURE, "recovers to address 0");
  return address;
}

/**
 * Signs a 32-byte digest with a raw private key, deterministically (RFC 6979), low-s, v in {27, 28}.
 * A fast synchronous path for simulated devices and benchmarks; real devices may use an ethers Signer.
 */
export function signDigest(digest: Uint8Array, privateKey: Uint8Array | Hex): Hex {
  const key = typeof privateKey === "string" ? hexToBytes(privateKey) : privateKey;
  const out = new Uint8Array(65);
  if (native) {
    const { signature, recid } = native.sign.ecdsaSign(digest, key);
    out.set(signature, 0);
    out[64] = 27 + recid;
  } else {
    const recovered = noble.sign(digest, key, { prehash: false, lowS: true, format: "recovered" });
    out.set(recovered.subarray(1, 65), 0);
    out[64] = 27 + recovered[0]!;
  }
  return bytesToHex(out);
}

/** The address of a raw private key. */
export function addressOfPrivateKey(privateKey: Uint8Array | Hex): Hex {
  const key = typeof privateKey === "string" ? hexToBytes(privateKey) : privateKey;
  return addressOfPublicKey(noble.getPublicKey(key, false));
}
