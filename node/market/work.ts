// What a session keeps in memory about a closed epoch while its result can still change on chain: the
// orders it clears (its frozen set, plus orders adopted from standing batches), the traders' collateral,
// its current batch selection (its local result), and the latest standing result on chain.
import type { Collateral } from "../../clearing/coverage.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { SignedOrder } from "../../protocol/order.ts";
import { type BatchSelection, type CollateralLookup, selectBatch } from "../../settlement/batch.ts";
import { Asset } from "../../settlement/encoding.ts";
import type { StandingEvent } from "../chain/port.ts";
import type { ExclusionRecord } from "../store.ts";
import type { CutOrder } from "../store-rows.ts";
import type { MarketContext } from "./context.ts";

/** Epochs of work kept in memory: the closing one and a few before it. */
const KEEP_WORK_EPOCHS = 4n;

export class EpochWork {
  readonly epoch: bigint;
  /** The orders it clears, by id: the frozen set, then adopted ones. */
  readonly orders = new Map<Hex, SignedOrder>();
  readonly collateral = new Map<Hex, Collateral>();
  /** Ids learned from standing batches. */
  readonly adopted = new Set<Hex>();
  selection: BatchSelection | null = null;
  /** The latest Proposed or Challenged event of the epoch. */
  standing: StandingEvent | null = null;

  constructor(epoch: bigint) {
    this.epoch = epoch;
  }

  lookup(): CollateralLookup {
    return (trader, asset) => {
      const c = this.collateral.get(trader);
      if (!c) return 0n;
      return asset === Asset.BASE ? c.base : c.quote;
    };
  }

  /** The batch selection of the orders held now (coverage, clearing, the certificate's orders). */
  select(ctx: MarketContext): BatchSelection {
    this.selection = selectBatch({
      market: ctx.market,
      epoch: this.epoch,
      domainSeparator: ctx.separator,
      orders: [...this.orders.values()],
      ids: [...this.orders.keys()],
      collateral: this.lookup(),
    });
    return this.selection;
  }

  /**
   * Why each order of the current selection was left out, as the store records it: `rows` not covered or
   * over its trader's cap, `cut` cut by its side's cap (thousands at a loaded close: stored as one blob).
   */
  exclusionRecords(): { rows: ExclusionRecord[]; cut: CutOrder[] } {
    const rows: ExclusionRecord[] = (this.selection?.excluded ?? []).map((x) => ({
      id: x.order.id,
      trader: x.order.order.trader,
      side: x.order.order.side,
      needed: x.needed.toString(),
      available: x.available.toString(),
      cause: x.reason,
    }));
    const cut: CutOrder[] = (this.selection?.cut ?? []).map((o) => ({
      id: o.id,
      trader: o.order.trader,
      side: o.order.side,
    }));
    return { rows, cut };
  }

  /** The local result hash (null before clearing). */
  get resultHash(): Hex | null {
    return this.selection?.clearing.resultHash ?? null;
  }
}

export class EpochWorks {
  private readonly works = new Map<bigint, EpochWork>();

  get(epoch: bigint): EpochWork | undefined {
    return this.works.get(epoch);
  }

  getOrCreate(epoch: bigint): EpochWork {
    const known = this.works.get(epoch);
    if (known) return known;
    const w = new EpochWork(epoch);
    this.works.set(epoch, w);
    for (const e of [...this.works.keys()]) if (e + KEEP_WORK_EPOCHS < epoch) this.works.delete(e);
    return w;
  }
}
