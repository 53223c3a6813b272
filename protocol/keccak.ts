// keccak-256, the hash of Ethereum (EIP-712 digests, addresses, fingerprints, result hashes).
//
// Every node hashes each order three times (struct hash, digest, and the signer's address after
// recovery), so this is on the hot path of the order: @noble/hashes' pure-JS keccak took about 22 µs of
// the ~90 µs an order's verification cost (issue 13). hash-wasm's WebAssembly keccak computes the same
// function in about 2 µs. One hasher per thread, created when the module loads (top-level await: the
// WebAssembly module compiles asynchronously); a call runs init, update and digest without yielding, so
// calls never interleave. test/unit/protocol/keccak.test.ts checks it against @noble/hashes.
import { createKeccak } from "hash-wasm";

const hasher = await createKeccak(256);

/** keccak-256 of `data` (32 bytes, a new array). */
export function keccak256(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest("binary");
}
