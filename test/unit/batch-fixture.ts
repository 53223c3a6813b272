// Shared by the batch, certification and property tests: deterministic traders, signed orders with their
// ids, collateral tables, and a reference of the certificate's required orders (independent of
// settlement/batch.ts's selection).

import { domainSeparator, makeDomain, orderDigestBytes } from "../../protocol/eip712.ts";
import { keccak256, toUtf8Bytes } from "../../protocol/ethers.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import type { Side, SignedOrder } from "../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../protocol/signature.ts";
import type { CollateralLookup, IdentifiedOrder } from "../../settlement/batch.ts";
import { Asset } from "../../settlement/encoding.ts";

export const MARKET = `0x${"ab".repeat(32)}` as Hex;
export const EPOCH = 7n;
export const SEPARATOR: Uint8Array = domainSeparator(makeDomain(31337n, `0x${"5f".repeat(20)}`));
/** Enough for any book of the tests. */
export const PLENTY = 1n << 250n;

export interface Trader {
  readonly privateKey: Hex;
  readonly address: Hex;
}

/** `count` traders with keys derived from `seed`. */
export function makeTraders(count: number, seed = "batch-test"): Trader[] {
  return Array.from({ length: count }, (_, i) => {
    const privateKey = keccak256(toUtf8Bytes(`${seed}/${i}`)).toLowerCase() as Hex;
    return { privateKey, address: addressOfPrivateKey(privateKey) };
  });
}

export interface Spec {
  readonly trader: Trader;
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  readonly nonce?: bigint;
}

/** Signs an order of MARKET, EPOCH under SEPARATOR (or the given ones). */
export function sign(spec: Spec, market = MARKET, epoch = EPOCH, separator = SEPARATOR): IdentifiedOrder {
  const order = {
    market,
    epoch,
    side: spec.side,
    quantity: spec.quantity,
    limitPrice: spec.limitPrice,
    nonce: spec.nonce ?? 0n,
    trader: spec.trader.address,
  };
  const digest = orderDigestBytes(order, separator);
  return {
    id: bytesToHex(digest),
    order: { ...order, signature: signDigest(digest, spec.trader.privateKey) },
  };
}

/**
 * Signs `spec` with the first nonce from `from` whose id satisfies `accept`: orders in a wanted id order
 * (ids are digests, so their order is otherwise random).
 */
export function signWhere(spec: Spec, accept: (id: Hex) => boolean, from = 0n): IdentifiedOrder {
  for (let nonce = from; ; nonce++) {
    const o = sign({ ...spec, nonce });
    if (accept(o.id)) return o;
  }
}

/** A collateral lookup from a table; traders not in it have nothing. */
export function collateralTable(
  table: ReadonlyMap<Hex, { base: bigint; quote: bigint }>,
  calls?: { count: number },
): CollateralLookup {
  return (trader, asset) => {
    if (calls) calls.count++;
    const c = table.get(trader);
    if (!c) return 0n;
    return asset === Asset.BASE ? c.base : c.quote;
  };
}

export const unlimited: CollateralLookup = () => PLENTY;

export function byId(orders: readonly IdentifiedOrder[]): IdentifiedOrder[] {
  return [...orders].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function signedOrders(orders: readonly IdentifiedOrder[]): SignedOrder[] {
  return orders.map((o) => o.order);
}

/** The rule's caps, written out from docs/clearing.md ("Bounds"), not imported from clearing/limits.ts. */
export const SPEC_MAX_ORDERS_PER_TRADER_SIDE = 2;
export const SPEC_MAX_KEPT_PER_SIDE = 64;

/**
 * The coverage rule, written out: per trader and side in ascending id, only the first 2 orders (funded or
 * not) can be kept; one of them is kept iff its need is at most half (rounded down) of its trader's
 * collateral of the asset it spends.
 */
export function keptIds(orders: readonly IdentifiedOrder[], collateral: CollateralLookup): Set<Hex> {
  const count = new Map<string, number>();
  const kept = new Set<Hex>();
  for (const o of byId(orders)) {
    const isBuy = o.order.side === "buy";
    const asset = isBuy ? Asset.QUOTE : Asset.BASE;
    const need = isBuy ? o.order.quantity * o.order.limitPrice : o.order.quantity;
    const key = `${o.order.trader}/${asset}`;
    const n = count.get(key) ?? 0;
    count.set(key, n + 1);
    const share = collateral(o.order.trader, asset) / BigInt(SPEC_MAX_ORDERS_PER_TRADER_SIDE);
    if (n < SPEC_MAX_ORDERS_PER_TRADER_SIDE && need <= share) kept.add(o.id);
  }
  return kept;
}

/**
 * The orders that exclude `ids` as the 3rd or later of their trader and side: for each such one, the
 * first 2 orders of its trader and side in `orders` (ascending id).
 */
export function firstsOfSide(orders: readonly IdentifiedOrder[], ids: Iterable<Hex>): Set<Hex> {
  const bySide = new Map<string, Hex[]>();
  const firsts = new Map<Hex, Hex[]>();
  for (const o of byId(orders)) {
    const key = `${o.order.trader}/${o.order.side}`;
    const list = bySide.get(key) ?? [];
    if (list.length < SPEC_MAX_ORDERS_PER_TRADER_SIDE) list.push(o.id);
    else firsts.set(o.id, list);
    bySide.set(key, list);
  }
  const out = new Set<Hex>();
  for (const id of ids) for (const f of firsts.get(id) ?? []) out.add(f);
  return out;
}

/**
 * The side cap, written out: per side, the kept orders by price priority (buys limit descending, sells
 * ascending, then id ascending); the first 64 are in. Returns the in-orders' ids.
 */
export function inIds(orders: readonly IdentifiedOrder[], kept: ReadonlySet<Hex>): Set<Hex> {
  const out = new Set<Hex>();
  for (const side of ["buy", "sell"] as const) {
    const mine = orders.filter((o) => kept.has(o.id) && o.order.side === side);
    mine.sort((a, b) => {
      const la = a.order.limitPrice;
      const lb = b.order.limitPrice;
      if (la !== lb) return (side === "buy" ? la > lb : la < lb) ? -1 : 1;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    for (const o of mine.slice(0, SPEC_MAX_KEPT_PER_SIDE)) out.add(o.id);
  }
  return out;
}

/**
 * Checks that `batch` is exactly what the spec requires of a batch of the full set `orders` at `price`
 * with `fills`: R0 ∪ E, where R0 = the filled in-orders, the in-orders at the price, every in-order of a
 * side that was cut, the must-include orders and the first 2 orders of the trader and side of each
 * must-include order that is a 3rd or later, and E holds at most one in-order per side realising that
 * side's worse edge (some batch order must realise each edge that exists). Nothing else. `inSet` is the in-orders (default: every kept order,
 * no cut). Returns a description of the first difference, or null.
 */
export function batchDifference(
  batch: readonly Hex[],
  orders: readonly IdentifiedOrder[],
  kept: ReadonlySet<Hex>,
  price: bigint,
  fills: ReadonlyMap<Hex, bigint>,
  mustInclude: ReadonlySet<Hex> = new Set(),
  inSet: ReadonlySet<Hex> = kept,
): string | null {
  const all = new Map(orders.map((o) => [o.id, o.order]));
  const inBatch = new Set(batch);
  if (inBatch.size !== batch.length) return "an order twice";
  for (let i = 1; i < batch.length; i++) if (!(batch[i - 1]! < batch[i]!)) return `not ascending at ${i}`;
  const r0 = new Set<Hex>([...mustInclude, ...firstsOfSide(orders, mustInclude)]);
  for (const id of inSet) if ((fills.get(id) ?? 0n) > 0n || all.get(id)!.limitPrice === price) r0.add(id);
  const cutSides = new Set<Side>();
  for (const id of kept) if (!inSet.has(id)) cutSides.add(all.get(id)!.side);
  for (const id of inSet) if (cutSides.has(all.get(id)!.side)) r0.add(id);
  // Worse edges of the in-orders.
  const edge = { buy: 0n, sell: 0n };
  for (const id of inSet) {
    const o = all.get(id)!;
    if (o.side === "buy" && o.limitPrice < price && o.limitPrice > edge.buy) edge.buy = o.limitPrice;
    if (o.side === "sell" && o.limitPrice > price && (edge.sell === 0n || o.limitPrice < edge.sell))
      edge.sell = o.limitPrice;
  }
  const base = r0;
  for (const id of base) if (!inBatch.has(id)) return `missing required order ${id}`;
  for (const side of ["buy", "sell"] as const) {
    if (edge[side] === 0n) continue;
    if (
      !batch.some(
        (id) => inSet.has(id) && all.get(id)!.side === side && all.get(id)!.limitPrice === edge[side],
      )
    )
      return `no order realises the ${side} worse edge ${edge[side]}`;
  }
  // The batch must be closure(R0 ∪ E) for E at most one edge realiser per side (those not required anyway).
  const realisers = (side: Side): (Hex | null)[] => [
    null,
    ...batch.filter(
      (id) =>
        !base.has(id) &&
        inSet.has(id) &&
        all.get(id)!.side === side &&
        all.get(id)!.limitPrice === edge[side],
    ),
  ];
  for (const b of realisers("buy")) {
    for (const s of realisers("sell")) {
      const chosen = [b, s].filter((x): x is Hex => x !== null);
      const full = new Set([...r0, ...chosen]);
      if (full.size === inBatch.size && [...full].every((id) => inBatch.has(id))) return null;
    }
  }
  const extra = batch.find((id) => !base.has(id));
  return extra === undefined
    ? "not the required orders"
    : `extra order ${extra} is neither required nor an edge's`;
}
