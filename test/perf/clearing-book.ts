// A deterministic random book for the clearing benchmark (and the RSS child process), without
// Math.random: the same seed gives the same orders on every machine.
import type { ClearingOrder } from "../../clearing/types.ts";

/** xoshiro128** (Blackman & Vigna) seeded through splitmix32: small, fast, 32-bit integer only. */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  const splitmix32 = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  return (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform integer in [0, bound) for bound <= 2^32 (rejection sampling: no modulo bias). */
export function uniformBelow(next: () => number, bound: number): number {
  const limit = 2 ** 32 - (2 ** 32 % bound);
  for (;;) {
    const x = next();
    if (x < limit) return x % bound;
  }
}

export interface BookShape {
  readonly orders: number;
  readonly seed: number;
  /** The mid price in quote units per base unit. */
  readonly midPrice: bigint;
  /** Limits spread uniformly over mid ± spreadBps basis points. */
  readonly spreadBps: number;
  /** Share of orders placed on round price levels (multiples of tickBps around mid), creating ties. */
  readonly tiePercent: number;
  readonly tickBps: number;
  readonly maxQuantity: number;
}

/**
 * One million orders: half buys, half sells, limits uniform over mid ± 2% (both sides the same
 * spread, so about half of each side trades: the heavy case for fills and the result hash), 10% of
 * them on round levels every 0.1% (ties, including at the clearing price), quantities 1..1000.
 */
export const BENCH_BOOK: BookShape = {
  orders: 1_000_000,
  seed: 20240601,
  midPrice: 1_000_000_000n,
  spreadBps: 200,
  tiePercent: 10,
  tickBps: 10,
  maxQuantity: 1000,
};

const BPS = 10_000;

export function generateBook(shape: BookShape): ClearingOrder[] {
  const next = createPrng(shape.seed);
  const orders = new Array<ClearingOrder>(shape.orders);
  const idBytes = Buffer.alloc(32);
  const mid = shape.midPrice;
  const spreadUnits = (mid * BigInt(shape.spreadBps)) / BigInt(BPS); // floor
  const tickUnits = (mid * BigInt(shape.tickBps)) / BigInt(BPS); // floor
  const ticksEachSide = Math.floor(shape.spreadBps / shape.tickBps);
  for (let i = 0; i < shape.orders; i++) {
    for (let w = 0; w < 8; w++) idBytes.writeUInt32BE(next(), 4 * w);
    const side = (next() & 1) === 0 ? "buy" : "sell";
    let limitPrice: bigint;
    if (uniformBelow(next, 100) < shape.tiePercent) {
      limitPrice = mid + BigInt(uniformBelow(next, 2 * ticksEachSide + 1) - ticksEachSide) * tickUnits;
    } else {
      const offset = BigInt(uniformBelow(next, 2 ** 30)) % (2n * spreadUnits + 1n);
      limitPrice = mid - spreadUnits + offset;
    }
    orders[i] = {
      id: `0x${idBytes.toString("hex")}`,
      side,
      limitPrice,
      quantity: BigInt(1 + uniformBelow(next, shape.maxQuantity)),
    };
  }
  return orders;
}
