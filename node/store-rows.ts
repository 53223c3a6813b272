// The store's rows <-> records: how an order, an epoch and an exclusion are read back from SQLite, and
// the epoch record's column names (store.ts writes through them).
import { type Hex, writeHexBytes } from "../protocol/hex.ts";
import type { SignedOrder } from "../protocol/order.ts";
import type {
  EpochPhase,
  EpochRecord,
  ExclusionCause,
  ExclusionRecord,
  OrderSource,
  StoredOrder,
} from "./store.ts";

export type Row = Record<string, unknown>;

export function rowToOrder(row: Row): StoredOrder {
  const order: SignedOrder = {
    market: row.market as Hex,
    epoch: BigInt(row.epoch as number | bigint),
    side: row.side as "buy" | "sell",
    quantity: BigInt(row.quantity as string),
    limitPrice: BigInt(row.limit_price as string),
    nonce: BigInt(row.nonce as string),
    trader: row.trader as Hex,
    signature: row.signature as Hex,
  };
  return {
    id: row.id as Hex,
    order,
    wire: new Uint8Array(row.wire as Uint8Array),
    source: row.source as OrderSource,
    receivedMs: Number(row.received_ms),
  };
}

export function rowToEpoch(row: Row): EpochRecord {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    market: row.market as Hex,
    epoch: BigInt(row.epoch as number | bigint),
    phase: row.phase as EpochPhase,
    orderCount: n(row.order_count),
    fingerprint: s(row.fingerprint) as Hex | null,
    coveredCount: n(row.covered_count),
    resultHash: s(row.result_hash) as Hex | null,
    price: s(row.price),
    volume: s(row.volume),
    welfare: s(row.welfare),
    resultJson: s(row.result_json),
    settleTx: s(row.settle_tx) as Hex | null,
    settleSubmitter: s(row.settle_submitter) as Hex | null,
    settleResultHash: s(row.settle_result_hash) as Hex | null,
    batchHash: s(row.batch_hash) as Hex | null,
    feeTotal: s(row.fee_total),
    challenges: Number(row.challenges ?? 0),
    finalizeTx: s(row.finalize_tx) as Hex | null,
    weChallenged: Number(row.we_challenged ?? 0) === 1,
    adoptedCount: Number(row.adopted_count ?? 0),
    settlePrice: s(row.settle_price),
    settleVolume: s(row.settle_volume),
    gasUsed: s(row.gas_used),
    agreed: row.agreed === null || row.agreed === undefined ? null : Number(row.agreed) === 1,
    weSubmitted: Number(row.we_submitted) === 1,
    timingsJson: s(row.timings_json),
    reason: s(row.reason),
    updatedMs: Number(row.updated_ms),
  };
}

export const EPOCH_COLUMNS: Record<keyof Omit<EpochRecord, "market" | "epoch">, string> = {
  phase: "phase",
  orderCount: "order_count",
  fingerprint: "fingerprint",
  coveredCount: "covered_count",
  resultHash: "result_hash",
  price: "price",
  volume: "volume",
  welfare: "welfare",
  resultJson: "result_json",
  settleTx: "settle_tx",
  settleSubmitter: "settle_submitter",
  settleResultHash: "settle_result_hash",
  batchHash: "batch_hash",
  feeTotal: "fee_total",
  challenges: "challenges",
  finalizeTx: "finalize_tx",
  weChallenged: "we_challenged",
  adoptedCount: "adopted_count",
  settlePrice: "settle_price",
  settleVolume: "settle_volume",
  gasUsed: "gas_used",
  agreed: "agreed",
  weSubmitted: "we_submitted",
  timingsJson: "timings_json",
  reason: "reason",
  updatedMs: "updated_ms",
};

export function toSql(value: unknown): string | number | bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "string") return value;
  throw new TypeError(`cannot store ${typeof value}`);
}

export function rowToExclusion(r: Row): ExclusionRecord {
  return {
    id: r.id as Hex,
    trader: r.trader as Hex,
    side: r.side as "buy" | "sell",
    needed: String(r.needed),
    available: String(r.available),
    cause: (r.cause ?? "collateral") as ExclusionCause,
  };
}

/** An order the side cap cut from an epoch's clearing (an exclusion with cause "side-cap"). */
export interface CutOrder {
  readonly id: Hex;
  readonly trader: Hex;
  readonly side: "buy" | "sell";
}

/** Bytes per cut order in an epoch_cuts row: id (32), trader (20), side (1: 0 buy, 1 sell). */
const CUT_BYTES = 53;

/** An epoch's cut orders as one epoch_cuts blob. Throws a TypeError for an id or trader that is not hex of its size. */
export function encodeCuts(cut: readonly CutOrder[]): Uint8Array {
  const buf = Buffer.alloc(cut.length * CUT_BYTES);
  for (let i = 0; i < cut.length; i++) {
    const c = cut[i]!;
    const at = i * CUT_BYTES;
    if (
      c.id.length !== 66 ||
      !writeHexBytes(buf, at, c.id, 2, 32) ||
      c.trader.length !== 42 ||
      !writeHexBytes(buf, at + 32, c.trader, 2, 20)
    ) {
      throw new TypeError(
        `cut order ${i}: id ${c.id} or trader ${c.trader} is not 0x-hex of 32 and 20 bytes`,
      );
    }
    buf[at + 52] = c.side === "buy" ? 0 : 1;
  }
  return buf;
}

/** The side-cap exclusions of an epoch_cuts blob; throws a TypeError for a blob that is not whole records. */
export function decodeCuts(blob: Uint8Array): ExclusionRecord[] {
  if (blob.length % CUT_BYTES !== 0) {
    throw new TypeError(`an epoch_cuts blob of ${blob.length} bytes is not ${CUT_BYTES}-byte records`);
  }
  const hex = Buffer.from(blob.buffer, blob.byteOffset, blob.length).toString("hex");
  const out: ExclusionRecord[] = [];
  for (let at = 0; at < hex.length; at += 2 * CUT_BYTES) {
    out.push({
      id: `0x${hex.slice(at, at + 64)}` as Hex,
      trader: `0x${hex.slice(at + 64, at + 104)}` as Hex,
      side: hex.slice(at + 104, at + 106) === "00" ? "buy" : "sell",
      needed: "0",
      available: "0",
      cause: "side-cap",
    });
  }
  return out;
}

/** How many cut orders an epoch_cuts blob holds. */
export function cutCount(blob: Uint8Array): number {
  return Math.floor(blob.length / CUT_BYTES);
}
