// Random books for the certification property tests (pure, and against the contract): traders holding
// several orders, ties at the price, amounts up to 2^112, partial coverage; and mutations of an honest
// batch (price, a header sum or edge, a bonus threshold, a dropped marginal order, two orders swapped).
import fc from "fast-check";
import { type ClearingResult, clear } from "../../clearing/clear.ts";
import type { Hex } from "../../protocol/hex.ts";
import {
  type BatchHeader,
  type CollateralLookup,
  type IdentifiedOrder,
  NO_BONUS_ID,
  NO_BONUS_REMAINDER,
  NO_CUT,
  type SelectedBatch,
  selectBatch,
} from "../../settlement/batch.ts";
import type { CertifyContext } from "../../settlement/certify.ts";
import { Asset } from "../../settlement/encoding.ts";
import {
  byId,
  EPOCH,
  inIds,
  MARKET,
  makeTraders,
  PLENTY,
  SEPARATOR,
  sign,
  signedOrders,
} from "../unit/batch-fixture.ts";

/** The traders of every book: small books use the first SMALL_BOOK_TRADERS, big books (past the caps) all. */
export const TRADERS = makeTraders(96, "certify-property");
const SMALL_BOOK_TRADERS = 6;
const MAX_112 = (1n << 112n) - 1n;

// ================================================================ books

export interface OrderSpec {
  readonly trader: number;
  readonly side: "buy" | "sell";
  readonly limitPrice: bigint;
  readonly quantity: bigint;
  readonly nonce: bigint;
}

/** Per trader: plenty, nothing, or a fraction (per mille) of what its orders need in each asset. */
export type CoverageSpec =
  | { kind: "plenty" }
  | { kind: "none" }
  | { kind: "part"; base: number; quote: number };

export interface Book {
  readonly orders: readonly OrderSpec[];
  readonly coverage: readonly CoverageSpec[];
  readonly feeBps: bigint;
}

const PRICE_REGIMES = {
  // Few distinct limits: ties at the price, marginal levels with several orders.
  ties: fc.bigInt({ min: 8n, max: 12n }),
  spread: fc.bigInt({ min: 1n, max: 40n }),
  // The same few limits, scaled up to 2^112.
  scaledTies: fc.bigInt({ min: 8n, max: 12n }).map((x) => x << 108n),
  huge: fc.bigInt({ min: 1n, max: MAX_112 }),
} as const;
const QUANTITY_REGIMES = {
  small: fc.bigInt({ min: 1n, max: 6n }),
  spread: fc.bigInt({ min: 1n, max: 1_000_000n }),
  huge: fc.oneof(fc.bigInt({ min: 1n, max: MAX_112 }), fc.constant(MAX_112)),
} as const;

const coverageArb: fc.Arbitrary<CoverageSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: "plenty" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("part" as const),
      base: fc.integer({ min: 0, max: 1000 }),
      quote: fc.integer({ min: 0, max: 1000 }),
    }),
  },
);

export const bookArb: fc.Arbitrary<Book> = fc
  .record({
    price: fc.constantFrom(...(Object.keys(PRICE_REGIMES) as (keyof typeof PRICE_REGIMES)[])),
    quantity: fc.constantFrom(...(Object.keys(QUANTITY_REGIMES) as (keyof typeof QUANTITY_REGIMES)[])),
    traders: fc.integer({ min: 1, max: SMALL_BOOK_TRADERS }),
  })
  .chain((regime) =>
    fc.record({
      orders: fc.array(
        fc.record({
          trader: fc.integer({ min: 0, max: regime.traders - 1 }),
          side: fc.constantFrom("buy" as const, "sell" as const),
          limitPrice: PRICE_REGIMES[regime.price],
          quantity: QUANTITY_REGIMES[regime.quantity],
          nonce: fc.bigInt({ min: 0n, max: 3n }),
        }),
        { minLength: 1, maxLength: 24 },
      ),
      coverage: fc.array(coverageArb, { minLength: TRADERS.length, maxLength: TRADERS.length }),
      feeBps: fc.constantFrom(0n, 5n, 30n, 1000n),
    }),
  );

/**
 * Books past the caps: 160 to 260 orders of 70 to 96 traders, most on one side or both past
 * MAX_KEPT_PER_SIDE = 64, traders past MAX_ORDERS_PER_TRADER_SIDE = 2, ties at the threshold, partial
 * coverage.
 */
export const bigBookArb: fc.Arbitrary<Book> = fc
  .record({
    price: fc.constantFrom("ties" as const, "spread" as const),
    traders: fc.integer({ min: 70, max: TRADERS.length }),
    buyShare: fc.integer({ min: 30, max: 70 }),
  })
  .chain((regime) =>
    fc.record({
      orders: fc.array(
        fc.record({
          trader: fc.integer({ min: 0, max: regime.traders - 1 }),
          side: fc
            .integer({ min: 0, max: 99 })
            .map((x) => (x < regime.buyShare ? ("buy" as const) : ("sell" as const))),
          limitPrice: PRICE_REGIMES[regime.price],
          quantity: QUANTITY_REGIMES.small,
          nonce: fc.bigInt({ min: 0n, max: 7n }),
        }),
        { minLength: 160, maxLength: 260 },
      ),
      coverage: fc.array(
        fc.oneof(
          { weight: 6, arbitrary: fc.constant({ kind: "plenty" as const }) },
          { weight: 1, arbitrary: coverageArb },
        ),
        { minLength: TRADERS.length, maxLength: TRADERS.length },
      ),
      feeBps: fc.constantFrom(0n, 30n),
    }),
  );

export interface Built {
  /** Signed, unique by id, ascending id. */
  readonly orders: IdentifiedOrder[];
  readonly collateral: CollateralLookup;
  /** The collateral of every trader (TRADERS), per asset. */
  readonly table: ReadonlyMap<Hex, { readonly base: bigint; readonly quote: bigint }>;
  readonly context: CertifyContext;
}

export interface BuildOptions {
  readonly market?: Hex;
  readonly epoch?: bigint;
  readonly separator?: Uint8Array;
  /** The largest collateral (the contract's escrow balances are below 2^112); default unbounded. */
  readonly maxCollateral?: bigint;
}

export function build(book: Book, options: BuildOptions = {}): Built {
  const { market = MARKET, epoch = EPOCH, separator = SEPARATOR, maxCollateral = PLENTY } = options;
  const cap = (x: bigint) => (x > maxCollateral ? maxCollateral : x);
  const unique = new Map<Hex, IdentifiedOrder>();
  for (const o of book.orders) {
    const signed = sign({ ...o, trader: TRADERS[o.trader]! }, market, epoch, separator);
    unique.set(signed.id, signed);
  }
  const orders = byId([...unique.values()]);
  // What each trader's orders need in total, per asset; collateral is a fraction of it.
  const need = new Map<Hex, { base: bigint; quote: bigint }>();
  for (const { order } of orders) {
    const n = need.get(order.trader) ?? { base: 0n, quote: 0n };
    if (order.side === "buy") n.quote += order.quantity * order.limitPrice;
    else n.base += order.quantity;
    need.set(order.trader, n);
  }
  const table = new Map<Hex, { base: bigint; quote: bigint }>();
  for (const [i, t] of TRADERS.entries()) {
    const c = book.coverage[i]!;
    const n = need.get(t.address) ?? { base: 0n, quote: 0n };
    table.set(
      t.address,
      c.kind === "plenty"
        ? { base: maxCollateral, quote: maxCollateral }
        : c.kind === "none"
          ? { base: 0n, quote: 0n }
          : // Floor: non-negative operands.
            { base: cap((n.base * BigInt(c.base)) / 1000n), quote: cap((n.quote * BigInt(c.quote)) / 1000n) },
    );
  }
  const collateral: CollateralLookup = (trader, asset) => {
    const c = table.get(trader)!;
    return asset === Asset.BASE ? c.base : c.quote;
  };
  return {
    orders,
    collateral,
    table,
    context: { market, epoch, domainSeparator: separator, collateral, feeBps: book.feeBps, minQuantity: 1n },
  };
}

export function select(b: Built, orders = b.orders) {
  return selectBatch({
    market: b.context.market,
    epoch: b.context.epoch,
    domainSeparator: b.context.domainSeparator,
    orders: signedOrders(orders),
    collateral: b.collateral,
  });
}

/** clear() of the in-orders of `kept` (the side cap applied, written out: batch-fixture's inIds). */
export function clearKept(
  orders: readonly IdentifiedOrder[],
  kept: ReadonlySet<Hex>,
  context: { market: Hex; epoch: bigint } = { market: MARKET, epoch: EPOCH },
): ClearingResult {
  const inSet = inIds(orders, kept);
  return clear(
    orders
      .filter((o) => inSet.has(o.id))
      .map((o) => ({
        id: o.id,
        side: o.order.side,
        limitPrice: o.order.limitPrice,
        quantity: o.order.quantity,
      })),
    context,
  );
}

export const trustedAll = (n: number): boolean[] => new Array<boolean>(n).fill(true);

export type Mutation =
  | { kind: "price"; delta: bigint }
  | { kind: "field"; field: number; delta: bigint }
  | { kind: "threshold"; side: "buy" | "sell"; more: boolean }
  | { kind: "drop"; pick: number }
  | { kind: "swap"; i: number; j: number }
  /** Moves a side's cap threshold one batch order up or down its price ranking, or to no cut (step 0). */
  | { kind: "cap"; side: "buy" | "sell"; step: -1 | 0 | 1 };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("price" as const), delta: fc.constantFrom(-1n, 1n) }),
  fc.record({
    kind: fc.constant("field" as const),
    field: fc.integer({ min: 0, max: 7 }),
    delta: fc.constantFrom(-1n, 1n),
  }),
  fc.record({
    kind: fc.constant("threshold" as const),
    side: fc.constantFrom("buy" as const, "sell" as const),
    more: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("drop" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("swap" as const), i: fc.nat(), j: fc.nat() }),
  fc.record({
    kind: fc.constant("cap" as const),
    side: fc.constantFrom("buy" as const, "sell" as const),
    step: fc.constantFrom(-1 as const, 0 as const, 1 as const),
  }),
);

export const FIELD_NAMES = ["better", "equal", "betterEdge", "worseEdge"] as const;

/** The marginal batch orders of a side in the ranking (remainder descending, id ascending), with their remainders. */
export function ranking(s: SelectedBatch, side: "buy" | "sell"): { id: Hex; rem: bigint }[] {
  const h = s.header[side];
  const R = s.clearing.volume - h.better;
  const L = h.equal;
  return s.orders
    .filter((o) => o.order.side === side && o.order.limitPrice === s.header.price)
    .map((o) => ({ id: o.id, rem: (R * o.order.quantity) % L }))
    .sort((x, y) => (x.rem !== y.rem ? (x.rem > y.rem ? -1 : 1) : x.id < y.id ? -1 : 1));
}

export interface Mutated {
  readonly header: BatchHeader;
  readonly orders: IdentifiedOrder[];
  /** threshold: the honest bonus count and the mutated one. */
  readonly bonuses?: { readonly honest: number; readonly mutated: number };
  /** drop: the order left out. */
  readonly dropped?: IdentifiedOrder;
  /** swap: the positions swapped, lo < hi, and the ids before. */
  readonly swapped?: { readonly lo: number; readonly hi: number; readonly ids: readonly Hex[] };
}

/** Applies `m` to the honest batch `s`; null when it does not apply (no marginal level, a field at its bound...). */
export function mutate(s: SelectedBatch, m: Mutation): Mutated | null {
  const header = s.header;
  const orders = [...s.orders];
  switch (m.kind) {
    case "price": {
      const price = header.price + m.delta;
      return price < 0n ? null : { header: { ...header, price }, orders };
    }
    case "field": {
      const side = m.field < 4 ? "buy" : "sell";
      const name = FIELD_NAMES[m.field % 4]!;
      const value = header[side][name] + m.delta;
      const width = name === "better" || name === "equal" ? 256n : 128n;
      if (value < 0n || value >= 1n << width) return null;
      return { header: { ...header, [side]: { ...header[side], [name]: value } }, orders };
    }
    case "threshold": {
      const ranked = ranking(s, m.side);
      const h = header[m.side];
      const honest = h.remainder === NO_BONUS_REMAINDER ? 0 : ranked.findIndex((r) => r.id === h.id) + 1;
      const target = m.more ? honest + 1 : honest - 1;
      if (target < 0 || target > ranked.length) return null;
      const moved =
        target === 0
          ? { remainder: NO_BONUS_REMAINDER, id: NO_BONUS_ID }
          : { remainder: ranked[target - 1]!.rem, id: ranked[target - 1]!.id };
      return {
        header: { ...header, [m.side]: { ...h, ...moved } },
        orders,
        bonuses: { honest, mutated: target },
      };
    }
    case "drop": {
      const marginal = orders.filter((o) => o.order.limitPrice === header.price);
      if (marginal.length === 0) return null;
      const dropped = marginal[m.pick % marginal.length]!;
      const rest = orders.filter((o) => o.id !== dropped.id);
      return rest.length === 0 ? null : { header, orders: rest, dropped };
    }
    case "cap": {
      const h = header[m.side];
      if (m.step === 0) {
        if (h.capLimit === NO_CUT[m.side].capLimit && h.capId === NO_CUT[m.side].capId) return null;
        return { header: { ...header, [m.side]: { ...h, ...NO_CUT[m.side] } }, orders };
      }
      // The batch's orders of the side by price priority; the threshold at the honest one's position ± 1.
      const ranked = orders
        .filter((o) => o.order.side === m.side)
        .sort((a, b) => {
          const la = a.order.limitPrice;
          const lb = b.order.limitPrice;
          if (la !== lb) return (m.side === "buy" ? la > lb : la < lb) ? -1 : 1;
          return a.id < b.id ? -1 : 1;
        });
      const honest = ranked.findIndex((o) => o.order.limitPrice === h.capLimit && o.id === h.capId);
      const at = (honest === -1 ? ranked.length : honest) + m.step;
      if (at < 0 || at >= ranked.length) return null;
      const o = ranked[at]!;
      return { header: { ...header, [m.side]: { ...h, capLimit: o.order.limitPrice, capId: o.id } }, orders };
    }
    case "swap": {
      if (orders.length < 2) return null;
      const i = m.i % orders.length;
      let j = m.j % orders.length;
      if (i === j) j = (j + 1) % orders.length;
      const [lo, hi] = i < j ? [i, j] : [j, i];
      const ids = orders.map((o) => o.id);
      [orders[lo], orders[hi]] = [orders[hi]!, orders[lo]!];
      return { header, orders, swapped: { lo, hi, ids } };
    }
  }
}
