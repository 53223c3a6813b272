// Run by signature.test.ts in a child process with SMARTMARKET_NO_NATIVE_SECP256K1=1: exercises the
// @noble/curves fallback of recoverSigner/signDigest and prints what it observed as one JSON line.
import { SECP256K1_N } from "../../../protocol/constants.ts";
import { orderDigestBytes } from "../../../protocol/eip712.ts";
import { OrderError } from "../../../protocol/errors.ts";
import { bytesToHex, bytesToUint, hexToBytes, uintToBytes } from "../../../protocol/hex.ts";
import { recoverSigner, signatureBackend, signDigest } from "../../../protocol/signature.ts";
import { ADDRESSES, KEYS, makeOrder, SEPARATOR } from "./fixtures.ts";

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return "OK";
  } catch (err) {
    return err instanceof OrderError ? err.code : `UNTYPED ${(err as Error).message}`;
  }
};

const order = makeOrder({ trader: ADDRESSES[5]! }, 5);
const digest = orderDigestBytes(order, SEPARATOR);
const sig = signDigest(digest, KEYS[5]!);
const bytes = hexToBytes(sig);
const twin = new Uint8Array(bytes);
twin.set(uintToBytes(SECP256K1_N - bytesToUint(bytes.subarray(32, 64)), 32), 32);
twin[64] = bytes[64] === 27 ? 28 : 27;
const offCurve = new Uint8Array(bytes);
offCurve.set(uintToBytes(5n, 32), 0);

process.stdout.write(
  `${JSON.stringify({
    backend: signatureBackend,
    signature: sig,
    recovered: recoverSigner(digest, bytes),
    twin: codeOf(() => recoverSigner(digest, twin)),
    offCurve: codeOf(() => recoverSigner(digest, offCurve)),
    tampered: bytesToHex(digest) === bytesToHex(orderDigestBytes({ ...order, quantity: 1n }, SEPARATOR)),
  })}\n`,
);
