// What "last look" buys an attacker in the skim setting (docs/certified-settlement.md, "What is left").
// A trader has a sell in an epoch's book. After the honest result stands (price p0, its sell filled f0),
// it signs one more order of epoch e — a buy from another wallet of its own — and adds it with a
// challenge, choosing limit and quantity with the result in hand. Valuing base at p0, the change of its
// wealth against the honest result is (p1 − p0) · (f1s − f1b): the price move times what it sold net.
// Its best order over a grid, over random books, relative to its honest proceeds f0 · p0, in basis points.
// Pure clearing (clear()), deterministic.
import { clear } from "../../clearing/clear.ts";
import type { ClearingOrder } from "../../clearing/types.ts";
import type { Hex } from "../../protocol/hex.ts";

const BOOKS = 100;
const ORDERS_PER_SIDE = 20;
const LIMIT_STEPS = 30;
const LIMIT_STEP = 10n;
const QUANTITIES = [1n, 5n, 20n, 50n, 100n, 200n] as const;
const BPS = 10_000n;

/** xorshift32: deterministic, integer only. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const id = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;

export interface LastLookFigures {
  /** Books in which some last-look order raised the attacker's wealth. */
  readonly booksWithGain: number;
  readonly books: number;
  /** Gain / honest proceeds, basis points, rounded down: median and maximum over books. */
  readonly medianBps: bigint;
  readonly maxBps: bigint;
}

export function measureLastLook(): LastLookFigures {
  const next = rng(20261201);
  const gains: bigint[] = [];
  let withGain = 0;
  let measured = 0;
  for (let b = 0; b < BOOKS; b++) {
    const orders: ClearingOrder[] = [];
    let n = 1;
    for (let i = 0; i < ORDERS_PER_SIDE; i++) {
      orders.push({
        id: id(n++),
        side: "buy",
        limitPrice: BigInt(800 + (next() % 400)),
        quantity: BigInt(1 + (next() % 100)),
      });
      orders.push({
        id: id(n++),
        side: "sell",
        limitPrice: BigInt(800 + (next() % 400)),
        quantity: BigInt(1 + (next() % 100)),
      });
    }
    const mine = orders.find((o) => o.side === "sell")!;
    const honest = clear(orders);
    const f0 = honest.fills.find((f) => f.id === mine.id)?.quantity ?? 0n;
    if (honest.price === null || f0 === 0n) continue;
    measured++;
    const p0 = honest.price;
    let best = 0n;
    for (let s = 0n; s < BigInt(LIMIT_STEPS); s++) {
      for (const q of QUANTITIES) {
        const extra: ClearingOrder = { id: id(n), side: "buy", limitPrice: p0 + s * LIMIT_STEP, quantity: q };
        const r = clear([...orders, extra]);
        if (r.price === null) continue;
        const f1s = r.fills.find((f) => f.id === mine.id)?.quantity ?? 0n;
        const f1b = r.fills.find((f) => f.id === extra.id)?.quantity ?? 0n;
        const gain = (r.price - p0) * (f1s - f1b);
        if (gain > best) best = gain;
      }
    }
    if (best > 0n) withGain++;
    gains.push((best * BPS) / (f0 * p0)); // floor: a share of the honest proceeds
  }
  gains.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    books: measured,
    booksWithGain: withGain,
    medianBps: gains[Math.floor(gains.length / 2)] ?? 0n,
    maxBps: gains[gains.length - 1] ?? 0n,
  };
}
