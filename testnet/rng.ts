// A small seeded PRNG for the simulated devices: xoshiro128** over uint32, seeded from keccak256 of a
// labelled tuple. No Math.random and no clocks anywhere in the simulation, so a scenario is a pure
// function of its seed: the same seed replays the same market, byte for byte, on every machine.
//
// Streams are addressed rather than consumed: `Rng.from(seed, "decide", device, epoch)` gives the same
// numbers whoever asks and whenever, so a device's behaviour in epoch e does not depend on how many
// numbers some other device (or an earlier call) drew.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { SECP256K1_N } from "../protocol/constants.ts";
import { bytesToHex, bytesToUint, type Hex, uintToBytes } from "../protocol/hex.ts";

export type RngLabel = string | number | bigint;

const UINT32_RANGE = 0x1_0000_0000; // 2^32, exact as a double

/**
 * keccak256 of an unambiguous encoding of `parts`: each part is written as its type, its length and
 * its text, so ("ab", "c") and ("a", "bc") — or 1 and "1" — never hash alike.
 */
export function hashLabels(...parts: readonly RngLabel[]): Uint8Array {
  const text = parts.map((p) => `${typeof p}:${String(p).length}:${String(p)}`).join("|");
  return keccak_256(utf8ToBytes(text));
}

/**
 * A secp256k1 private key derived from labels (e.g. seed, "device", 3): hashLabels(...) reduced into
 * [1, n − 1]. Every key of a testnet (nodes, devices, bench traders) comes from here, so keys for
 * different labels never collide and the same labels always give the same key.
 */
export function deriveSecretKey(...labels: readonly RngLabel[]): Hex {
  const k = (bytesToUint(hashLabels("secret-key", ...labels)) % (SECP256K1_N - 1n)) + 1n;
  return bytesToHex(uintToBytes(k, 32));
}

export class Rng {
  // xoshiro128** state: four uint32 words, never all zero.
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A generator whose state is the first 16 bytes of `seed` (at least 16 bytes, not all zero there). */
  constructor(seed: Uint8Array) {
    if (seed.length < 16) throw new RangeError(`an Rng seed needs 16 bytes, got ${seed.length}`);
    const view = new DataView(seed.buffer, seed.byteOffset, 16);
    this.s0 = view.getUint32(0, false);
    this.s1 = view.getUint32(4, false);
    this.s2 = view.getUint32(8, false);
    this.s3 = view.getUint32(12, false);
    // The all-zero state is the one fixed point of xoshiro; a keccak output hits it with p = 2^-128.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The stream named by `labels` (e.g. seed, purpose, device index, epoch). */
  static from(...labels: readonly RngLabel[]): Rng {
    return new Rng(hashLabels(...labels));
  }

  /** Next uniform uint32 (xoshiro128**, Blackman & Vigna). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform integer in [0, n), 1 <= n <= 2^32, without modulo bias (rejection sampling). */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > UINT32_RANGE) throw new RangeError(`bad bound ${n}`);
    const limit = UINT32_RANGE - (UINT32_RANGE % n); // largest multiple of n that fits
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] (inclusive), as a number; hi - lo < 2^32. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo)
      throw new RangeError(`bad range [${lo}, ${hi}]`);
    return lo + this.below(hi - lo + 1);
  }

  /** Uniform integer in [lo, hi] (inclusive), as a bigint; any width. */
  bigint(lo: bigint, hi: bigint): bigint {
    if (hi < lo) throw new RangeError(`bad range [${lo}, ${hi}]`);
    const span = hi - lo + 1n;
    if (span <= BigInt(UINT32_RANGE)) return lo + BigInt(this.below(Number(span)));
    // Wider spans: draw enough 32-bit words to cover span, reject the incomplete last block.
    let words = 0;
    for (let s = span - 1n; s > 0n; s >>= 32n) words++;
    const range = 1n << BigInt(32 * words);
    const limit = range - (range % span);
    for (;;) {
      let x = 0n;
      for (let i = 0; i < words; i++) x = (x << 32n) | BigInt(this.nextU32());
      if (x < limit) return lo + (x % span);
    }
  }

  /** True with probability numerator / denominator (integers, 0 <= numerator <= denominator). */
  chance(numerator: number, denominator: number): boolean {
    if (numerator < 0 || numerator > denominator)
      throw new RangeError(`bad odds ${numerator}/${denominator}`);
    return this.below(denominator) < numerator;
  }

  /** A uniformly chosen element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.below(items.length)]!;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
