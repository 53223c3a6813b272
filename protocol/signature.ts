// Signature recovery for orders: native libsecp256k1 (npm `secp256k1`) when it loads, @noble/curves otherwise.
// Both paths apply the same checks before recovering: v in {27, 28}, 0 < r < n, 0 < s <= n/2.
import { createRequire } from "node:module";
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { SECP256K1_HALF_N, SECP256K1_N } from "./constants.ts";
import { OrderError, OrderErrorCode } from "./errors.ts";
import { bytesToHex, compareBytes, type Hex, hexToBytes, uintToBytes } from "./hex.ts";
import { keccak256 } from "./keccak.ts";

interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
}

function loadNative(): NativeSecp256k1 | null {
  if (process.env.SMARTMARKET_NO_NATIVE_SECP256K1 === "1") return null;
  try {
    const require = createRequire(import.meta.url);
    // The package's own `bindings.js` loads the prebuilt N-API addon and throws when it cannot.
    return require("secp256k1/bindings.js") as NativeSecp256k1;
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
  return bytesToHex(keccak256(uncompressed.subarray(1)).subarray(12));
}

const N_BYTES = uintToBytes(SECP256K1_N, 32);
const HALF_N_BYTES = uintToBytes(SECP256K1_HALF_N, 32);

function isZero(word: Uint8Array): boolean {
  for (let i = 0; i < word.length; i++) if (word[i] !== 0) return false;
  return true;
}

/** Checks r, s and v of a 65-byte signature r || s || v; returns the recovery id (0 or 1). */
export function checkSignatureShape(sig: Uint8Array): number {
  if (sig.length !== 65)
    throw new OrderError(OrderErrorCode.MALFORMED, `signature is ${sig.length} bytes, not 65`);
  const v = sig[64]!;
  if (v !== 27 && v !== 28)
    throw new OrderError(OrderErrorCode.BAD_SIGNATURE_V, `v = ${v}, must be 27 or 28`);
  // Compared as 32-byte big-endian strings (the order of the numbers), without converting to bigint.
  const r = sig.subarray(0, 32);
  const s = sig.subarray(32, 64);
  if (isZero(r) || compareBytes(r, N_BYTES) >= 0)
    throw new OrderError(OrderErrorCode.BAD_SIGNATURE_RS, "r is 0 or >= n");
  if (isZero(s)) throw new OrderError(OrderErrorCode.BAD_SIGNATURE_RS, "s is 0");
  if (compareBytes(s, HALF_N_BYTES) > 0)
    throw new OrderError(OrderErrorCode.HIGH_S, "s > n/2 (malleable twin of a low-s signature)");
  return v - 27;
}

/**
 * Recovers the signer of a 32-byte digest from a 65-byte signature r || s || v.
 * Throws OrderError for every malformed or unrecoverable signature; never returns the zero address.
 */
export function recoverSigner(digest: Uint8Array, sig: Uint8Array): Hex {
  const recid = checkSignatureShape(sig);
  let pub: Uint8Array;
  try {
    if (native) {
      pub = native.ecdsaRecover(sig.subarray(0, 64), recid, digest, false);
    } else {
      const recovered = new Uint8Array(65);
      recovered[0] = recid;
      recovered.set(sig.subarray(0, 64), 1);
      pub = noble.recoverPublicKey(recovered, digest, { prehash: false });
      if (pub.length !== 65) pub = noble.Point.fromBytes(pub).toBytes(false);
    }
  } catch {
    throw new OrderError(
      OrderErrorCode.UNRECOVERABLE_SIGNATURE,
      "no public key recovers from this signature",
    );
  }
  const address = addressOfPublicKey(pub);
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
    const { signature, recid } = native.ecdsaSign(digest, key);
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
