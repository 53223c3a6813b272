// In-memory order sets per (market, epoch), backed by the store. The sync protocol and the clearing
// step read from here; the store is the durable copy that a restart reloads.
import { orderSetFingerprint } from "../protocol/fingerprint.ts";
import { compareHex, type Hex } from "../protocol/hex.ts";
import type { Side, SignedOrder } from "../protocol/order.ts";

export interface BookEntry {
  readonly order: SignedOrder;
  readonly wire: Uint8Array;
}

function slotKey(trader: Hex, side: Side): string {
  return `${trader.toLowerCase()}/${side}`;
}

/** The orders of one epoch of one market. Frozen once the epoch's set is final for clearing. */
export class EpochBook {
  readonly market: Hex;
  readonly epoch: bigint;
  private readonly entries = new Map<Hex, BookEntry>();
  /** Each (trader, side)'s order ids (at most a few: intake bounds them), keyed by slotKey. */
  private readonly bySlot = new Map<string, Set<Hex>>();
  /** Evictions by trader (intake bounds how many gossip may cause). */
  private readonly evicted = new Map<Hex, number>();
  private sortedIds: Hex[] | null = [];
  private cachedFingerprint: Hex | null = null;
  private frozenFlag = false;

  constructor(market: Hex, epoch: bigint) {
    this.market = market;
    this.epoch = epoch;
  }

  get frozen(): boolean {
    return this.frozenFlag;
  }

  get size(): number {
    return this.entries.size;
  }

  freeze(): void {
    this.frozenFlag = true;
  }

  has(id: Hex): boolean {
    return this.entries.has(id);
  }

  get(id: Hex): BookEntry | undefined {
    return this.entries.get(id);
  }

  /** Adds an order; false if it is already present or the book is frozen. */
  add(id: Hex, order: SignedOrder, wire: Uint8Array): boolean {
    if (this.frozenFlag || this.entries.has(id)) return false;
    this.entries.set(id, { order, wire });
    const key = slotKey(order.trader, order.side);
    const ids = this.bySlot.get(key) ?? new Set<Hex>();
    ids.add(id);
    this.bySlot.set(key, ids);
    this.sortedIds = null;
    this.cachedFingerprint = null;
    return true;
  }

  /** Removes an order (an eviction by a smaller id of the same trader and side); false if absent or frozen. */
  remove(id: Hex): boolean {
    const e = this.entries.get(id);
    if (this.frozenFlag || !e) return false;
    this.entries.delete(id);
    const trader = e.order.trader.toLowerCase() as Hex;
    this.evicted.set(trader, (this.evicted.get(trader) ?? 0) + 1);
    const key = slotKey(trader, e.order.side);
    const ids = this.bySlot.get(key);
    ids?.delete(id);
    if (ids?.size === 0) this.bySlot.delete(key);
    this.sortedIds = null;
    this.cachedFingerprint = null;
    return true;
  }

  /** The traders of the orders held now, distinct, ascending (as the orders give them). */
  traders(): Hex[] {
    const out = new Set<Hex>();
    for (const e of this.entries.values()) out.add(e.order.trader);
    return [...out].sort();
  }

  /** How many of `trader`'s orders were removed from the book. */
  evictionsOf(trader: Hex): number {
    return this.evicted.get(trader.toLowerCase() as Hex) ?? 0;
  }

  /** How many orders of `trader` on `side` the book holds. */
  countOf(trader: Hex, side: Side): number {
    return this.bySlot.get(slotKey(trader, side))?.size ?? 0;
  }

  /** The largest id among `trader`'s orders on `side`, or undefined. */
  largestIdOf(trader: Hex, side: Side): Hex | undefined {
    let max: Hex | undefined;
    for (const id of this.bySlot.get(slotKey(trader, side)) ?? []) {
      if (max === undefined || compareHex(id, max) > 0) max = id;
    }
    return max;
  }

  /** Ids sorted ascending (as 256-bit numbers). Cached until the next add. */
  ids(): readonly Hex[] {
    if (this.sortedIds === null) this.sortedIds = [...this.entries.keys()].sort(compareHex);
    return this.sortedIds;
  }

  /** The order-set fingerprint of the book (protocol/fingerprint.ts). Cached until the next add. */
  fingerprint(): Hex {
    if (this.cachedFingerprint === null) this.cachedFingerprint = orderSetFingerprint(this.ids());
    return this.cachedFingerprint;
  }

  wire(ids: readonly Hex[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e) out.push(e.wire);
    }
    return out;
  }

  /** Entries sorted by id: the canonical iteration order (never arrival order). */
  sortedEntries(): { id: Hex; entry: BookEntry }[] {
    return this.ids().map((id) => ({ id, entry: this.entries.get(id)! }));
  }
}

/** All books of the markets a node serves, keyed by market and epoch. */
export class OrderBooks {
  private readonly books = new Map<string, EpochBook>();

  private key(market: Hex, epoch: bigint): string {
    return `${market}:${epoch}`;
  }

  get(market: Hex, epoch: bigint): EpochBook | undefined {
    return this.books.get(this.key(market, epoch));
  }

  getOrCreate(market: Hex, epoch: bigint): EpochBook {
    const k = this.key(market, epoch);
    let book = this.books.get(k);
    if (!book) {
      book = new EpochBook(market, epoch);
      this.books.set(k, book);
    }
    return book;
  }

  /** Forgets books of epochs before `epoch` (memory bound; the store keeps what matters). */
  dropBefore(market: Hex, epoch: bigint): void {
    for (const [k, book] of this.books)
      if (book.market === market && book.epoch < epoch) this.books.delete(k);
  }
}
