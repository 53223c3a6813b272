// Batches of certified settlement (docs/certified-settlement.md, "The batch"): the byte layout and its
// encoders and decoders (batch and challenge union, both ways), and the selection of the batch a node
// proposes or challenges with, from its full order set of an epoch.
//
// Selection: apply the coverage rule (with the per-(trader, side) cap) to the full set, the side cap to
// the kept orders, clear the in-orders, and take the orders the certificate needs — the orders that fill,
// every in-order at the price, one in-order realising buy.worseEdge and one realising sell.worseEdge,
// every in-order of a side that was cut (so that the contract counts MAX_KEPT_PER_SIDE), and the
// must-include orders — so that certifying the batch gives exactly the clearing of the full set's
// in-orders. No other order is needed: an order's kept status depends only on the smaller orders of its
// own trader and side (clearing/coverage.ts). A challenge's union that clears to no trade is built the same
// way around a separating price (no fills).
// Pure: no I/O, no clock, nothing depends on input order (ties are broken by id).

import { type ClearingResult, clear } from "../clearing/clear.ts";
import { applyCoverage, type Collateral, type ExclusionReason } from "../clearing/coverage.ts";
import {
  MAX_BATCH_ORDERS,
  MAX_ORDERS_PER_TRADER_SIDE,
  MAX_UNION_ORDERS,
  NO_CUT_BUY_ID,
  NO_CUT_BUY_LIMIT,
  NO_CUT_SELL_ID,
  NO_CUT_SELL_LIMIT,
} from "../clearing/limits.ts";
import { applySideCap, type SideThreshold } from "../clearing/side-cap.ts";
import { MAX_UINT256 } from "../protocol/constants.ts";
import { orderDigestBytes } from "../protocol/eip712.ts";
import { bytesToHex, compareHex, type Hex } from "../protocol/hex.ts";
import { keccak256 } from "../protocol/keccak.ts";
import { SIDE_CODE, type Side, type SignedOrder } from "../protocol/order.ts";
import { Asset, joinSignature, splitSignature } from "./encoding.ts";
import { BatchError, BatchErrorCode } from "./errors.ts";

// ================================================================ layout (the one place)

/** A field of the layout: `size` bytes, big-endian, at `offset` from the start of its record. */
export interface LayoutField {
  readonly offset: number;
  readonly size: number;
}

/**
 * The header, 432 bytes: the price, then per side (buy, then sell) the six fields of SIDE_HEADER_LAYOUT
 * (offsets 16 and 176), then per side the two fields of CAP_HEADER_LAYOUT (offsets 336 and 384).
 */
export const HEADER_BYTES = 432;
/** One order of a batch, 126 bytes. */
export const ORDER_BYTES = 126;
/**
 * A union's flag before each order, one byte: bit 0 (UNION_FLAG_STANDING) the order is in the standing
 * batch, bit 1 (UNION_FLAG_NEW) it is in the new batch. Valid flags: 0 (added, in the union only: it
 * excludes a standing order of its trader and side, see selectChallenge), 1 (standing, dropped from the
 * new batch), 2 (added: in the new batch), 3 (standing, kept in the new batch); ≥ 4 are MalformedBatch.
 */
export const UNION_FLAG_BYTES = 1;
export const UNION_FLAG_STANDING = 1;
export const UNION_FLAG_NEW = 2;
/** A union starts with two headers: the standing batch's, then the union's. */
export const UNION_HEADERS_BYTES = 2 * HEADER_BYTES;
/** One entry of a union: flag ‖ order. */
export const UNION_ENTRY_BYTES = UNION_FLAG_BYTES + ORDER_BYTES;

/** The price field of the header. */
export const PRICE_FIELD: LayoutField = { offset: 0, size: 16 };
/** Where each side's six fields start in the header. */
export const SIDE_HEADER_OFFSET: Readonly<Record<Side, number>> = { buy: 16, sell: 176 };
/** A side's fields, relative to SIDE_HEADER_OFFSET[side]. */
export const SIDE_HEADER_LAYOUT = {
  better: { offset: 0, size: 32 },
  equal: { offset: 32, size: 32 },
  betterEdge: { offset: 64, size: 16 },
  worseEdge: { offset: 80, size: 16 },
  remainder: { offset: 96, size: 32 },
  id: { offset: 128, size: 32 },
} as const satisfies Record<string, LayoutField>;
/** Where each side's cap threshold (CAP_HEADER_LAYOUT) starts in the header. */
export const CAP_HEADER_OFFSET: Readonly<Record<Side, number>> = { buy: 336, sell: 384 };
/** A side's cap threshold, relative to CAP_HEADER_OFFSET[side]. */
export const CAP_HEADER_LAYOUT = {
  capLimit: { offset: 0, size: 16 },
  capId: { offset: 16, size: 32 },
} as const satisfies Record<string, LayoutField>;
/** An order's fields, relative to its start. Its market and epoch are the batch's. */
export const ORDER_LAYOUT = {
  side: { offset: 0, size: 1 },
  quantity: { offset: 1, size: 16 },
  limitPrice: { offset: 17, size: 16 },
  nonce: { offset: 33, size: 8 },
  trader: { offset: 41, size: 20 },
  v: { offset: 61, size: 1 },
  r: { offset: 62, size: 32 },
  s: { offset: 94, size: 32 },
} as const satisfies Record<string, LayoutField>;

/** The cap fields of a side that cuts nothing: every kept order passes them (buy (0, 0), sell (2^128 − 1, 2^256 − 1)). */
export const NO_CUT: Readonly<Record<Side, { readonly capLimit: bigint; readonly capId: Hex }>> = {
  buy: { capLimit: NO_CUT_BUY_LIMIT, capId: `0x${NO_CUT_BUY_ID.toString(16).padStart(64, "0")}` as Hex },
  sell: { capLimit: NO_CUT_SELL_LIMIT, capId: `0x${NO_CUT_SELL_ID.toString(16).padStart(64, "0")}` as Hex },
};

/** The bonus threshold of a side without a bonus unit: no (remainder, id) passes it. */
export const NO_BONUS_REMAINDER = MAX_UINT256;
export const NO_BONUS_ID: Hex = `0x${"00".repeat(32)}`;

// ================================================================ types

/** One side of the header (docs/certified-settlement.md, "The batch"). */
export interface SideHeader {
  /** Σ quantity of kept orders strictly better than the price (buys above, sells below). uint256. */
  readonly better: bigint;
  /** Σ quantity of kept orders at the price. uint256. */
  readonly equal: bigint;
  /** The worst limit among the better orders (buys: min, sells: max); 0 when none. uint128. */
  readonly betterEdge: bigint;
  /** The best limit among the worse orders (buys: max below p, sells: min above p); 0 when none. uint128. */
  readonly worseEdge: bigint;
  /** Bonus threshold r*: a marginal order gets the bonus unit iff rem > r*, or rem = r* and id ≤ id*. uint256. */
  readonly remainder: bigint;
  /** Bonus threshold id*, bytes32. */
  readonly id: Hex;
  /**
   * Side-cap threshold limit*, uint128: a kept buy is in iff limit > limit* or (limit = limit* and id ≤
   * id*); a kept sell iff limit < limit* or (= and id ≤ id*). No cut: buy 0, sell 2^128 − 1.
   */
  readonly capLimit: bigint;
  /** Side-cap threshold id*, bytes32. No cut: buy 0x00…00, sell 0xff…ff. */
  readonly capId: Hex;
}

export interface BatchHeader {
  /** The uniform price, uint128. */
  readonly price: bigint;
  readonly buy: SideHeader;
  readonly sell: SideHeader;
}

/**
 * An order as a batch carries it, field for field (126 bytes). Side is the raw byte (0 buy, 1 sell; the
 * certification rejects others), so that every byte string of the right length decodes.
 */
export interface BatchOrder {
  readonly side: number;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  readonly nonce: bigint;
  /** 0x + 40 lowercase hex digits. */
  readonly trader: Hex;
  readonly v: number;
  /** 0x + 64 lowercase hex digits each. */
  readonly r: Hex;
  readonly s: Hex;
}

export interface Batch {
  readonly header: BatchHeader;
  readonly orders: readonly BatchOrder[];
}

export interface UnionEntry {
  /** True for an order of the standing batch (flag bit 0), false for an added one. */
  readonly standing: boolean;
  /**
   * True (the default when absent) for an order of the new batch (flag bit 1): the batch that becomes the
   * standing one. An added order is in it (2) or in the union only (0); a standing one is kept (3) or
   * dropped (1).
   */
  readonly inNewBatch?: boolean;
  readonly order: BatchOrder;
}

/** An entry's flag byte: bit 0 standing, bit 1 in the new batch (absent inNewBatch: in it). */
export function unionFlagOf(entry: UnionEntry): number {
  return (entry.standing ? UNION_FLAG_STANDING : 0) | (entry.inNewBatch === false ? 0 : UNION_FLAG_NEW);
}

/** The `union` argument of challenge(): standing header ‖ union header ‖ (flag ‖ order)*. */
export interface Union {
  readonly standingHeader: BatchHeader;
  readonly unionHeader: BatchHeader;
  readonly entries: readonly UnionEntry[];
}

/** A signed order with its id (EIP-712 digest, lowercase hex). */
export interface IdentifiedOrder {
  readonly id: Hex;
  readonly order: SignedOrder;
}

/** The collateral of `trader` in `asset` for the epoch: collateralOf(market, trader, asset, e). */
export type CollateralLookup = (trader: Hex, asset: Asset) => bigint;

// ================================================================ byte helpers

type Bytes = Uint8Array;

function view(bytes: Bytes): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `data` as bytes: a Uint8Array as is, or 0x-prefixed even-length hex. */
export function toBytes(data: Bytes | string): Bytes {
  if (typeof data !== "string") return data;
  if (!/^0x([0-9a-fA-F]{2})*$/.test(data)) {
    throw new BatchError(BatchErrorCode.BAD_HEX, `not 0x-prefixed even-length hex: "${data.slice(0, 40)}…"`);
  }
  return new Uint8Array(Buffer.from(data.slice(2), "hex"));
}

function writeUint(out: Bytes, at: number, field: LayoutField, value: bigint, what: string): void {
  if (typeof value !== "bigint" || value < 0n || value >> BigInt(8 * field.size) !== 0n) {
    throw new BatchError(
      BatchErrorCode.FIELD_OUT_OF_RANGE,
      `${what} = ${String(value)} does not fit ${field.size} unsigned bytes`,
    );
  }
  let v = value;
  for (let i = at + field.offset + field.size - 1; i >= at + field.offset; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function writeSmall(out: Bytes, at: number, field: LayoutField, value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new BatchError(BatchErrorCode.FIELD_OUT_OF_RANGE, `${what} = ${String(value)} is not a byte`);
  }
  out[at + field.offset] = value;
}

function writeHexField(out: Bytes, at: number, field: LayoutField, hex: string, what: string): void {
  if (typeof hex !== "string" || !new RegExp(`^0x[0-9a-fA-F]{${2 * field.size}}$`).test(hex)) {
    throw new BatchError(
      BatchErrorCode.FIELD_OUT_OF_RANGE,
      `${what} must be 0x + ${2 * field.size} hex digits, got ${String(hex).slice(0, 80)}`,
    );
  }
  view(out).write(hex.slice(2), at + field.offset, field.size, "hex");
}

function readHex(bytes: Bytes, at: number, field: LayoutField): Hex {
  const start = at + field.offset;
  return `0x${view(bytes).toString("hex", start, start + field.size)}` as Hex;
}

function readUint(bytes: Bytes, at: number, field: LayoutField): bigint {
  return BigInt(readHex(bytes, at, field));
}

// ================================================================ header and order

/** Writes `header` into out[at .. at + 432). */
export function writeHeader(out: Bytes, at: number, header: BatchHeader): void {
  writeUint(out, at, PRICE_FIELD, header.price, "price");
  for (const side of ["buy", "sell"] as const) {
    const h = header[side];
    const base = at + SIDE_HEADER_OFFSET[side];
    const L = SIDE_HEADER_LAYOUT;
    writeUint(out, base, L.better, h.better, `${side}.better`);
    writeUint(out, base, L.equal, h.equal, `${side}.equal`);
    writeUint(out, base, L.betterEdge, h.betterEdge, `${side}.betterEdge`);
    writeUint(out, base, L.worseEdge, h.worseEdge, `${side}.worseEdge`);
    writeUint(out, base, L.remainder, h.remainder, `${side}.remainder`);
    writeHexField(out, base, L.id, h.id, `${side}.id`);
    const cap = at + CAP_HEADER_OFFSET[side];
    writeUint(out, cap, CAP_HEADER_LAYOUT.capLimit, h.capLimit, `${side}.capLimit`);
    writeHexField(out, cap, CAP_HEADER_LAYOUT.capId, h.capId, `${side}.capId`);
  }
}

/** Reads the header at bytes[at .. at + 432). */
export function readHeader(bytes: Bytes, at: number): BatchHeader {
  const side = (s: Side): SideHeader => {
    const base = at + SIDE_HEADER_OFFSET[s];
    const L = SIDE_HEADER_LAYOUT;
    return {
      better: readUint(bytes, base, L.better),
      equal: readUint(bytes, base, L.equal),
      betterEdge: readUint(bytes, base, L.betterEdge),
      worseEdge: readUint(bytes, base, L.worseEdge),
      remainder: readUint(bytes, base, L.remainder),
      id: readHex(bytes, base, L.id),
      capLimit: readUint(bytes, at + CAP_HEADER_OFFSET[s], CAP_HEADER_LAYOUT.capLimit),
      capId: readHex(bytes, at + CAP_HEADER_OFFSET[s], CAP_HEADER_LAYOUT.capId),
    };
  };
  return { price: readUint(bytes, at, PRICE_FIELD), buy: side("buy"), sell: side("sell") };
}

/** Writes `order` into out[at .. at + 126). */
export function writeOrder(out: Bytes, at: number, order: BatchOrder, index = 0): void {
  const L = ORDER_LAYOUT;
  writeSmall(out, at, L.side, order.side, `order ${index}: side`);
  writeUint(out, at, L.quantity, order.quantity, `order ${index}: quantity`);
  writeUint(out, at, L.limitPrice, order.limitPrice, `order ${index}: limitPrice`);
  writeUint(out, at, L.nonce, order.nonce, `order ${index}: nonce`);
  writeHexField(out, at, L.trader, order.trader, `order ${index}: trader`);
  writeSmall(out, at, L.v, order.v, `order ${index}: v`);
  writeHexField(out, at, L.r, order.r, `order ${index}: r`);
  writeHexField(out, at, L.s, order.s, `order ${index}: s`);
}

/** Reads the order at bytes[at .. at + 126). */
export function readOrder(bytes: Bytes, at: number): BatchOrder {
  const L = ORDER_LAYOUT;
  return {
    side: bytes[at + L.side.offset]!,
    quantity: readUint(bytes, at, L.quantity),
    limitPrice: readUint(bytes, at, L.limitPrice),
    nonce: readUint(bytes, at, L.nonce),
    trader: readHex(bytes, at, L.trader),
    v: bytes[at + L.v.offset]!,
    r: readHex(bytes, at, L.r),
    s: readHex(bytes, at, L.s),
  };
}

// ================================================================ batch and union

/** The number of orders of a batch of `length` bytes, or null when no batch has that length. */
export function batchOrderCount(length: number): number | null {
  const rest = length - HEADER_BYTES;
  if (rest < ORDER_BYTES || rest % ORDER_BYTES !== 0) return null;
  return rest / ORDER_BYTES;
}

/** The number of entries of a union of `length` bytes, or null when no union has that length. */
export function unionEntryCount(length: number): number | null {
  const rest = length - UNION_HEADERS_BYTES;
  if (rest < UNION_ENTRY_BYTES || rest % UNION_ENTRY_BYTES !== 0) return null;
  return rest / UNION_ENTRY_BYTES;
}

/** header ‖ orders. Throws BatchError(MALFORMED_BATCH) without orders, FIELD_OUT_OF_RANGE for a value too wide. */
export function encodeBatch(batch: Batch): Uint8Array {
  const n = batch.orders.length;
  if (n < 1) throw new BatchError(BatchErrorCode.MALFORMED_BATCH, "a batch has at least one order");
  const out = new Uint8Array(HEADER_BYTES + ORDER_BYTES * n);
  writeHeader(out, 0, batch.header);
  for (let i = 0; i < n; i++) writeOrder(out, HEADER_BYTES + ORDER_BYTES * i, batch.orders[i]!, i);
  return out;
}

/** Decodes batch bytes; throws BatchError(MALFORMED_BATCH) unless the length is 432 + 126·n, n ≥ 1. */
export function decodeBatch(data: Bytes | string): Batch {
  const bytes = toBytes(data);
  const n = batchOrderCount(bytes.length);
  if (n === null) {
    throw new BatchError(
      BatchErrorCode.MALFORMED_BATCH,
      `a batch is ${HEADER_BYTES} + ${ORDER_BYTES}·n bytes with n ≥ 1, got ${bytes.length}`,
    );
  }
  const orders = new Array<BatchOrder>(n);
  for (let i = 0; i < n; i++) orders[i] = readOrder(bytes, HEADER_BYTES + ORDER_BYTES * i);
  return { header: readHeader(bytes, 0), orders };
}

/** standing header ‖ union header ‖ (flag ‖ order)*. */
export function encodeUnion(union: Union): Uint8Array {
  const n = union.entries.length;
  if (n < 1) throw new BatchError(BatchErrorCode.MALFORMED_BATCH, "a union has at least one order");
  const out = new Uint8Array(UNION_HEADERS_BYTES + UNION_ENTRY_BYTES * n);
  writeHeader(out, 0, union.standingHeader);
  writeHeader(out, HEADER_BYTES, union.unionHeader);
  for (let i = 0; i < n; i++) {
    const at = UNION_HEADERS_BYTES + UNION_ENTRY_BYTES * i;
    const entry = union.entries[i]!;
    out[at] = unionFlagOf(entry);
    writeOrder(out, at + UNION_FLAG_BYTES, entry.order, i);
  }
  return out;
}

/**
 * Decodes union bytes; throws BatchError(MALFORMED_BATCH) unless the length is 864 + 127·n, n ≥ 1, and
 * every flag is 0, 1, 2 or 3 (the first other flag is named by its entry index).
 */
export function decodeUnion(data: Bytes | string): Union {
  const bytes = toBytes(data);
  const n = unionEntryCount(bytes.length);
  if (n === null) {
    throw new BatchError(
      BatchErrorCode.MALFORMED_BATCH,
      `a union is ${UNION_HEADERS_BYTES} + ${UNION_ENTRY_BYTES}·n bytes with n ≥ 1, got ${bytes.length}`,
    );
  }
  const entries = new Array<UnionEntry>(n);
  for (let i = 0; i < n; i++) {
    const at = UNION_HEADERS_BYTES + UNION_ENTRY_BYTES * i;
    const flag = bytes[at]!;
    if (flag > 3) {
      throw new BatchError(
        BatchErrorCode.MALFORMED_BATCH,
        `union entry ${i}: flag ${flag} is not 0, 1, 2 or 3`,
        i,
      );
    }
    entries[i] = {
      standing: (flag & UNION_FLAG_STANDING) !== 0,
      inNewBatch: (flag & UNION_FLAG_NEW) !== 0,
      order: readOrder(bytes, at + UNION_FLAG_BYTES),
    };
  }
  return {
    standingHeader: readHeader(bytes, 0),
    unionHeader: readHeader(bytes, HEADER_BYTES),
    entries,
  };
}

/** The standing batch a union names: standing header ‖ its orders with flag bit 0, in their order (may be empty). */
export function standingBatchOf(union: Union): Batch {
  return {
    header: union.standingHeader,
    orders: union.entries.filter((e) => e.standing).map((e) => e.order),
  };
}

/** The batch a union certifies: union header ‖ all orders. */
export function unionBatchOf(union: Union): Batch {
  return { header: union.unionHeader, orders: union.entries.map((e) => e.order) };
}

/**
 * The new batch of a union, the standing batch after a successful challenge (its hash is the Challenged
 * event's batchHash): union header ‖ the orders with flag bit 1, in their order (may be empty).
 */
export function newBatchOf(union: Union): Batch {
  return {
    header: union.unionHeader,
    orders: union.entries.filter((e) => e.inNewBatch !== false).map((e) => e.order),
  };
}

/** keccak256 of batch (or union) bytes. */
export function hashBytes(bytes: Bytes): Hex {
  return bytesToHex(keccak256(bytes));
}

// ================================================================ orders

/** The batch form of a signed order (its market and epoch are the batch's). */
export function toBatchOrder(order: SignedOrder): BatchOrder {
  const { v, r, s } = splitSignature(order.signature);
  return {
    side: SIDE_CODE[order.side],
    quantity: order.quantity,
    limitPrice: order.limitPrice,
    nonce: order.nonce,
    trader: order.trader.toLowerCase() as Hex,
    v,
    r,
    s,
  };
}

/** The signed order a batch order carries in `market`, `epoch`; BatchError(BAD_ORDER) for a side other than 0 or 1. */
export function signedOrderOf(market: Hex, epoch: bigint, o: BatchOrder, index = 0): SignedOrder {
  if (o.side !== 0 && o.side !== 1) {
    throw new BatchError(
      BatchErrorCode.BAD_ORDER,
      `order ${index}: side ${o.side} is neither 0 (buy) nor 1 (sell)`,
      index,
    );
  }
  return {
    market: market.toLowerCase() as Hex,
    epoch,
    side: o.side === 0 ? "buy" : "sell",
    quantity: o.quantity,
    limitPrice: o.limitPrice,
    nonce: o.nonce,
    trader: o.trader.toLowerCase() as Hex,
    signature: joinSignature(o.v, o.r, o.s),
  };
}

/** The signed orders of a batch with their ids under `domainSeparator`, in batch order. */
export function identifyBatchOrders(
  market: Hex,
  epoch: bigint,
  orders: readonly BatchOrder[],
  domainSeparator: Uint8Array,
): IdentifiedOrder[] {
  return orders.map((o, i) => {
    const order = signedOrderOf(market, epoch, o, i);
    return { id: bytesToHex(orderDigestBytes(order, domainSeparator)), order };
  });
}

// ================================================================ selection

export interface SelectBatchInput {
  readonly market: Hex;
  readonly epoch: bigint;
  /** The EIP-712 domain separator of the settlement contract: ids are computed under it. */
  readonly domainSeparator: Uint8Array;
  /** The node's full order set of the epoch: valid signed orders of `market`, `epoch` (signatures are not checked here). */
  readonly orders: readonly SignedOrder[];
  /**
   * ids[i] is orders[i]'s id (its EIP-712 digest under `domainSeparator`) when the caller computed it
   * already, as a node did when it validated the order: 10,000 digests are ~30 % of a selection's time.
   * Absent: computed here. Not checked: a wrong id would give a batch the contract refuses.
   */
  readonly ids?: readonly Hex[];
  readonly collateral: CollateralLookup;
  /**
   * Orders the batch must contain whatever their fill: a standing batch's orders, for a challenge. They
   * join the order set (a union is the clearing of both), and their signature wins over another one of
   * the same id, so that the standing orders are carried byte for byte.
   */
  readonly mustInclude?: readonly SignedOrder[];
}

export interface ExcludedOrder {
  readonly order: IdentifiedOrder;
  /** What it needs: quantity × limitPrice QUOTE for a buy, quantity BASE for a sell. */
  readonly needed: bigint;
  /** The most one order of the trader may need of that asset: ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋. */
  readonly available: bigint;
  /**
   * "trader-cap": its trader already had MAX_ORDERS_PER_TRADER_SIDE orders of smaller id on its side;
   * "collateral": it needs more than `available`.
   */
  readonly reason: ExclusionReason;
}

interface SelectionCommon {
  /** clear() of the in-orders (kept and not cut), with the market and epoch as context. */
  readonly clearing: ClearingResult;
  /** The orders coverage keeps (with the per-(trader, side) cap), ascending id: the in-orders and the cut ones. */
  readonly kept: readonly IdentifiedOrder[];
  /**
   * The kept orders the side cap leaves out of the clearing (beyond MAX_KEPT_PER_SIDE of their side by
   * price priority), ascending id: fill 0 (they still took one of their trader's places on the side).
   */
  readonly cut: readonly IdentifiedOrder[];
  /** The orders coverage excludes, ascending id. */
  readonly excluded: readonly ExcludedOrder[];
}

/** Nothing trades (V = 0): nothing to propose. */
export interface NoTradeSelection extends SelectionCommon {
  readonly outcome: "no-trade";
}

/** The batch to propose (or to put in a union). */
export interface SelectedBatch extends SelectionCommon {
  readonly outcome: "batch";
  readonly header: BatchHeader;
  /** The batch's orders, ascending id. */
  readonly orders: readonly IdentifiedOrder[];
  readonly bytes: Uint8Array;
  readonly batchHash: Hex;
}

export type BatchSelection = NoTradeSelection | SelectedBatch;

interface Entry {
  readonly id: Hex;
  readonly order: SignedOrder;
  readonly trader: Hex;
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
}

/** The order set of a selection after coverage and clearing: what the certificate's orders are taken from. */
interface Prepared {
  readonly byId: ReadonlyMap<Hex, Entry>;
  /** Ids of the must-include orders (a challenge's standing orders). */
  readonly mustIds: ReadonlySet<Hex>;
  /** The collateral lookup of the selection, read once per trader. */
  readonly collateralOf: (trader: Hex) => Collateral;
  /**
   * For each order excluded as "trader-cap": the first MAX_ORDERS_PER_TRADER_SIDE orders of its trader
   * and side (ascending id), which exclude it.
   */
  readonly firstOf: ReadonlyMap<Hex, readonly Hex[]>;
  /** The in-orders (kept, not cut), ascending id: what is cleared, and what the sums and edges are over. */
  readonly inOrders: readonly Entry[];
  /** Per side: its threshold, and whether it was cut. */
  readonly threshold: Readonly<Record<Side, SideThreshold>>;
  readonly wasCut: Readonly<Record<Side, boolean>>;
  readonly common: SelectionCommon;
}

/**
 * The rule over the full set (with the must-include orders): dedupe, coverage with the per-trader cap,
 * the side cap, then clear() of the in-orders.
 */
function prepare(input: SelectBatchInput): Prepared {
  const { market, epoch, domainSeparator } = input;
  const byId = new Map<Hex, Entry>();
  const mustIds = new Set<Hex>();
  const marketLower = market.toLowerCase();
  const add = (order: SignedOrder, index: number, must: boolean, knownId?: Hex): Entry => {
    if ((order.market !== market && order.market.toLowerCase() !== marketLower) || order.epoch !== epoch) {
      throw new BatchError(
        BatchErrorCode.WRONG_CONTEXT,
        `order ${index}${must ? " (must include)" : ""} is for ${order.market} epoch ${order.epoch}, not ${market} epoch ${epoch}`,
        index,
      );
    }
    const id = knownId ?? bytesToHex(orderDigestBytes(order, domainSeparator));
    const seen = byId.get(id);
    // One signed order per id. The must-include one wins; otherwise the smallest signature (never the
    // first to arrive). Same id means same fields: only signatures can differ.
    if (
      !seen ||
      must ||
      (!mustIds.has(id) && order.signature.toLowerCase() < seen.order.signature.toLowerCase())
    ) {
      const entry: Entry = {
        id,
        order,
        trader: order.trader.toLowerCase() as Hex,
        side: order.side,
        quantity: order.quantity,
        limitPrice: order.limitPrice,
      };
      byId.set(id, entry);
      return entry;
    }
    return seen;
  };
  for (const [i, o] of (input.mustInclude ?? []).entries()) mustIds.add(add(o, i, true).id);
  const ids = input.ids;
  if (ids !== undefined && ids.length !== input.orders.length) {
    throw new RangeError(`${ids.length} ids for ${input.orders.length} orders`);
  }
  for (const [i, o] of input.orders.entries()) add(o, i, false, ids?.[i]);

  // Coverage, reading each trader's collateral once per asset.
  const collateralCache = new Map<Hex, { base: bigint; quote: bigint }>();
  const collateralOf = (trader: Hex): Collateral => {
    let c = collateralCache.get(trader);
    if (!c) {
      c = { base: input.collateral(trader, Asset.BASE), quote: input.collateral(trader, Asset.QUOTE) };
      collateralCache.set(trader, c);
    }
    return c;
  };
  const coverage = applyCoverage([...byId.values()], collateralOf);
  // The selection's kept and cut orders are the entries themselves (an Entry is an IdentifiedOrder with
  // the fields the rule reads): at a loaded close, 10,000 copies fewer each.
  const kept: IdentifiedOrder[] = coverage.covered;
  // The first orders of each (trader, side) that has a "trader-cap" exclusion (none, mostly: a node holds
  // no order past its trader's cap), in the order coverage met them.
  const firstOf = new Map<Hex, Hex[]>();
  const cappedSlots = new Set<string>();
  for (const x of coverage.excluded)
    if (x.reason === "trader-cap") cappedSlots.add(`${x.order.trader}/${x.order.side}`);
  if (cappedSlots.size > 0) {
    const bySide = new Map<string, Hex[]>();
    for (const e of [...byId.values()].sort((a, b) => compareHex(a.id, b.id))) {
      const key = `${e.trader}/${e.side}`;
      if (!cappedSlots.has(key)) continue;
      const list = bySide.get(key) ?? [];
      if (list.length < Number(MAX_ORDERS_PER_TRADER_SIDE)) list.push(e.id);
      else firstOf.set(e.id, list);
      bySide.set(key, list);
    }
  }
  const excluded = coverage.excluded.map((x) => ({
    order: identified(x.order),
    needed: x.needed,
    available: x.available,
    reason: x.reason,
  }));
  const capped = applySideCap(coverage.covered);

  const clearing = clear(
    capped.in.map((e) => ({ id: e.id, side: e.side, limitPrice: e.limitPrice, quantity: e.quantity })),
    { market: market.toLowerCase() as Hex, epoch },
  );
  return {
    byId,
    mustIds,
    collateralOf,
    firstOf,
    inOrders: capped.in,
    threshold: capped.threshold,
    wasCut: capped.wasCut,
    common: { clearing, kept, cut: capped.cut, excluded },
  };
}

function identified(e: Entry): IdentifiedOrder {
  return { id: e.id, order: e.order };
}

/**
 * The orders a certificate at `price` needs, ascending id: `required` (the in-orders that fill and every
 * in-order at the price), every in-order of a side that was cut (so that the contract counts
 * MAX_KEPT_PER_SIDE in-orders: CapNotTight otherwise), one in-order realising each non-zero worse edge,
 * and, when `must` (selectBatch's must-include orders), those orders with the smaller orders of their
 * trader and side that exclude them (firstOfSide). Nothing else: whether an order is kept depends on no
 * other order of the set than the smaller ones of its own trader and side (clearing/coverage.ts), and an
 * in-order of the set is among the first MAX_ORDERS_PER_TRADER_SIDE of its trader and side in any subset.
 */
function certificateOrders(
  p: Prepared,
  required: Iterable<Hex>,
  worseEdges: { readonly buy: bigint; readonly sell: bigint },
  must: boolean,
): Entry[] {
  const { byId, inOrders } = p;
  const selected = new Set<Hex>(required);
  for (const e of inOrders) if (p.wasCut[e.side]) selected.add(e.id);
  if (must) {
    for (const id of p.mustIds) selected.add(id);
    for (const id of firstOfSide(p, p.mustIds)) selected.add(id);
  }
  for (const side of ["buy", "sell"] as const) {
    const edge = worseEdges[side];
    if (edge === 0n) continue;
    // Any in-order with that limit realises the edge: one already taken, else the smallest id.
    const candidates = inOrders.filter((e) => e.side === side && e.limitPrice === edge);
    if (candidates.some((e) => selected.has(e.id))) continue;
    selected.add(candidates[0]!.id);
  }
  return [...selected].sort(compareHex).map((id) => byId.get(id)!);
}

/**
 * For each of `ids` that the set excludes because it is not among the first MAX_ORDERS_PER_TRADER_SIDE
 * orders of its trader and side ("trader-cap"), those first orders (funded or not): with them in a batch,
 * the batch excludes it too. Ascending id, each once.
 */
function firstOfSide(p: Prepared, ids: Iterable<Hex>): Hex[] {
  const out = new Set<Hex>();
  for (const id of ids) for (const first of p.firstOf.get(id) ?? []) out.add(first);
  return [...out].sort(compareHex);
}

/** A side's cap fields as the header carries them. */
function capFields(p: Prepared, side: Side): { capLimit: bigint; capId: Hex } {
  const t = p.threshold[side];
  return { capLimit: t.limit, capId: `0x${t.id.toString(16).padStart(64, "0")}` as Hex };
}

/**
 * The rule's own bound. A certificate (a proposal, and the new batch of an honest challenge) holds only
 * in-orders, at most MAX_KEPT_PER_SIDE per side: MAX_BATCH_ORDERS. A union is a standing batch (≤
 * MAX_BATCH_ORDERS: every standing batch is a proposal or a new batch), a certificate, and at most
 * MAX_ORDERS_PER_TRADER_SIDE smaller orders per standing order: ≤ MAX_UNION_ORDERS. So this never throws
 * for an honest selection against a contract with the same bounds; it is the guard that turns a bug into
 * BatchError(BATCH_TOO_LARGE) instead of a transaction the contract would reject.
 */
function checkBound(count: number, max: bigint, what: string): void {
  if (BigInt(count) > max) {
    throw new BatchError(
      BatchErrorCode.BATCH_TOO_LARGE,
      `${what} of ${count} orders exceeds the contract's ${max}`,
    );
  }
}

/**
 * Selects the batch of an epoch (docs/certified-settlement.md, end of "Certification"): coverage over the
 * full set (with the must-include orders), clear() of the kept orders, then the orders the certificate
 * needs, ascending id, and the header. Certifying the result gives clear()'s result to the last unit.
 * Throws BatchError(WRONG_CONTEXT) for an order of another market or epoch, ClearingError for an order
 * clearing rejects.
 */
export function selectBatch(input: SelectBatchInput): BatchSelection {
  return selectPrepared(prepare(input), true);
}

function selectPrepared(p: Prepared, must: boolean): BatchSelection {
  const { clearing, kept, cut, excluded } = p.common;
  if (clearing.price === null) return { outcome: "no-trade", clearing, kept, cut, excluded };
  const price = clearing.price;
  const fillOf = new Map<Hex, bigint>();
  for (const f of clearing.fills) fillOf.set(f.id, f.quantity);

  // The header's sums and edges over the in-orders (the batch's are the same: it holds every better
  // and every marginal in-order, and an in-order realising each worse edge; the cut orders it carries
  // enter no sum).
  const buy = sideAggregates(p.inOrders, "buy", price);
  const sell = sideAggregates(p.inOrders, "sell", price);
  const required = p.inOrders
    .filter((e) => (fillOf.get(e.id) ?? 0n) > 0n || e.limitPrice === price)
    .map((e) => e.id);
  const batchEntries = certificateOrders(p, required, { buy: buy.worseEdge, sell: sell.worseEdge }, must);
  // A batch with must-include orders (tests) may be larger; a challenge's new batch is checked by selectChallenge.
  if (p.mustIds.size === 0) checkBound(batchEntries.length, MAX_BATCH_ORDERS, "a proposal");
  const header: BatchHeader = {
    price,
    buy: {
      ...buy,
      ...bonusThreshold(p.inOrders, "buy", price, clearing.volume, buy, fillOf),
      ...capFields(p, "buy"),
    },
    sell: {
      ...sell,
      ...bonusThreshold(p.inOrders, "sell", price, clearing.volume, sell, fillOf),
      ...capFields(p, "sell"),
    },
  };
  const bytes = encodeBatch({ header, orders: batchEntries.map((e) => toBatchOrder(e.order)) });
  return {
    outcome: "batch",
    clearing,
    kept,
    cut,
    excluded,
    header,
    orders: batchEntries.map(identified),
    bytes,
    batchHash: hashBytes(bytes),
  };
}

/**
 * The certificate of a set that clears to no trade (a challenge's union only: a proposal must trade),
 * docs/certified-settlement.md, "V = 0". The price is a separating price: the largest buy in-order limit,
 * or 1 without one; no sell in-order is below it and at most one side has in-orders at it (else the set
 * would trade). Both better sums are 0; the equal sums and the worse edges are the in-orders' at that
 * price; no bonus. The batch holds every in-order at the price (for the equal sums), one in-order
 * realising each worse edge and a cut side's in-orders. Certifying it (as a union) gives clear()'s no-trade result: price 0, volume 0, no fills.
 */
function noTradeBatch(p: Prepared): { header: BatchHeader; orders: Entry[] } {
  let price = 0n;
  for (const e of p.inOrders) if (e.side === "buy" && e.limitPrice > price) price = e.limitPrice;
  if (price === 0n) price = 1n;
  const buy = sideAggregates(p.inOrders, "buy", price);
  const sell = sideAggregates(p.inOrders, "sell", price);
  if (buy.better !== 0n || sell.better !== 0n || (buy.equal !== 0n && sell.equal !== 0n)) {
    throw new BatchError(
      BatchErrorCode.INVARIANT_VIOLATED,
      `no-trade set: ${price} does not separate the kept buys from the kept sells`,
    );
  }
  const required = p.inOrders.filter((e) => e.limitPrice === price).map((e) => e.id);
  const orders = certificateOrders(p, required, { buy: buy.worseEdge, sell: sell.worseEdge }, false);
  const none = { remainder: NO_BONUS_REMAINDER, id: NO_BONUS_ID };
  return {
    header: {
      price,
      buy: { ...buy, ...none, ...capFields(p, "buy") },
      sell: { ...sell, ...none, ...capFields(p, "sell") },
    },
    orders,
  };
}

interface Aggregates {
  readonly better: bigint;
  readonly equal: bigint;
  readonly betterEdge: bigint;
  readonly worseEdge: bigint;
}

/** A side's sums and edges at `price` over `orders` (in-orders). */
function sideAggregates(orders: readonly Entry[], side: Side, price: bigint): Aggregates {
  const isBuy = side === "buy";
  let better = 0n;
  let equal = 0n;
  let betterEdge = 0n;
  let worseEdge = 0n;
  for (const e of orders) {
    if (e.side !== side) continue;
    const limit = e.limitPrice;
    if (limit === price) equal += e.quantity;
    else if (isBuy ? limit > price : limit < price) {
      better += e.quantity;
      // The worst better limit: buys min, sells max. 0 means none (limits are ≥ 1).
      if (betterEdge === 0n || (isBuy ? limit < betterEdge : limit > betterEdge)) betterEdge = limit;
    } else if (worseEdge === 0n || (isBuy ? limit > worseEdge : limit < worseEdge)) worseEdge = limit;
  }
  return { better, equal, betterEdge, worseEdge };
}

/**
 * The bonus threshold that selects exactly the rule's bonus orders of a side: the (remainder, id) of the
 * last bonus order in the ranking (remainder descending, id ascending), or (2^256 − 1, 0) without bonus.
 * Reads the bonus units off clear()'s fills (fill − ⌊R·q/L⌋, which must be 0 or 1).
 */
function bonusThreshold(
  orders: readonly Entry[],
  side: Side,
  price: bigint,
  volume: bigint,
  agg: Aggregates,
  fillOf: ReadonlyMap<Hex, bigint>,
): { remainder: bigint; id: Hex } {
  const R = volume - agg.better;
  const L = agg.equal;
  let remainder = NO_BONUS_REMAINDER;
  let id = NO_BONUS_ID;
  let bonuses = 0n;
  let shares = 0n;
  for (const e of orders) {
    if (e.side !== side || e.limitPrice !== price) continue;
    const product = R * e.quantity;
    const share = product / L; // floor: non-negative operands, L > 0 (this order is in it)
    const rem = product - share * L;
    shares += share;
    const bonus = (fillOf.get(e.id) ?? 0n) - share;
    if (bonus === 0n) continue;
    if (bonus !== 1n) {
      throw new BatchError(
        BatchErrorCode.INVARIANT_VIOLATED,
        `order ${e.id}: fill is share ${share} + ${bonus}`,
      );
    }
    bonuses++;
    // Orders come in ascending id: the last in the ranking is the smallest remainder, then the largest id.
    if (remainder === NO_BONUS_REMAINDER || rem <= remainder) {
      remainder = rem;
      id = e.id;
    }
  }
  if (bonuses !== R - shares) {
    throw new BatchError(
      BatchErrorCode.INVARIANT_VIOLATED,
      `${side}: ${bonuses} bonus units, the rule hands out ${R - shares}`,
    );
  }
  return { remainder, id };
}

// ================================================================ challenge

/** A standing result as the chain holds it (client.standingBatch rebuilds it). */
export interface StandingBatch {
  readonly header: BatchHeader;
  /** Its orders, ascending id. */
  readonly orders: readonly IdentifiedOrder[];
  /** The result hash the contract emitted for it. */
  readonly resultHash: Hex;
}

export type ChallengeSelection =
  | {
      readonly outcome: "challenge";
      /**
       * The selection of the union set (the node's set plus the standing orders): a batch when it trades,
       * or "no-trade" when it clears to nothing (the challenge then undoes a standing result that traded).
       */
      readonly selection: BatchSelection;
      /** The union's header, and the new batch's: the trading selection's, or the no-trade certificate's. */
      readonly header: BatchHeader;
      /** The new batch's orders (flag bit 1), ascending id: the standing batch after the challenge. */
      readonly orders: readonly IdentifiedOrder[];
      /** keccak256 of the new batch (header ‖ `orders`): the batch the Challenged event and the new record carry. */
      readonly batchHash: Hex;
      readonly union: Union;
      readonly bytes: Uint8Array;
      /** keccak256 of the union bytes: the dataHash to commit to. */
      readonly unionHash: Hex;
      /** Orders the union adds to the standing batch (flags 0 and 2). */
      readonly added: number;
    }
  | {
      /** Nothing to challenge with: the union adds no order, or gives the standing result. */
      readonly outcome: "no-new-orders" | "result-unchanged";
      readonly selection: BatchSelection;
    };

/**
 * The challenge of a standing batch S from the node's full set: U = the node's set ∪ S (the standing
 * orders carried byte for byte), N = U's own certificate (selected as a proposal would be, WITHOUT
 * force-including S), and the union S ∪ N ∪ F ascending by id, F being, for each standing order that U
 * excludes as the 3rd or later of its trader and side, the first MAX_ORDERS_PER_TRADER_SIDE orders of
 * that trader and side (standing ones included). Flags: bit 0 for S, bit 1 for N; F goes into N too, pair
 * by pair while N stays within MAX_BATCH_ORDERS (then a later challenge cannot re-add the excluded order:
 * its pair is in the standing batch), the rest is in the union only (flag 0, or 1 for a standing order).
 * N is never empty: the contract refuses a challenge whose new batch is (no later challenge could present
 * it as the standing batch). Header of the union and of N: N's. When U clears to no trade, N is the no-trade
 * certificate (a separating price; the contract accepts it from a challenge only), which undoes a
 * standing result that traded although U does not (a forced trade). A challenge is worth sending only when
 * it adds an order and its result hash differs from the standing one (the contract reverts NoNewOrders /
 * ResultUnchanged otherwise); the outcome says which.
 *
 * Why the union certifies with N's header to U's result, and N too. Coverage keeps an order iff it is among
 * the first MAX_ORDERS_PER_TRADER_SIDE of its trader and side and its need fits its share of the
 * collateral (clearing/coverage.ts): the share is a chain read, the same in every pass, so an order's
 * status in a pass over a subset of U equals its status in U iff the subset holds the first orders of its
 * trader and side in U whenever U excludes it as "trader-cap". The certificate's orders are kept in U, so they
 * are among the first in any subset; F's orders are the first of their side; a standing order is first in U (then in
 * any subset) or excluded by its F orders, which the union carries. So every union order and every N order
 * has its status in U. Then the union's kept orders are U's kept orders that it carries, its in-orders
 * U's in-orders that it carries (the header's cap thresholds are U's), and every in-order the certificate
 * needs is in N: the better ones (they fill) and those at the price, one realising each worse edge, every
 * in-order of a cut side (so the in-count is U's 64 there, and a cut order exists only on a cut side). A
 * union order outside N that is an in-order of an uncut side is worse and not closer than U's worse edge;
 * any other one is cut or excluded. So every sum, edge, in-count, cut flag and bonus is N's, and the fills
 * are U's. Bounds: S ≤ MAX_BATCH_ORDERS (every standing batch is a proposal or a new batch), N ≤
 * MAX_BATCH_ORDERS (the certificate is in-orders only; pairs join while they fit), F ≤ MAX_ORDERS_PER_TRADER_SIDE × |S|: the union always fits
 * MAX_UNION_ORDERS, whatever the standing batch leaves out.
 */
export function selectChallenge(
  input: Omit<SelectBatchInput, "mustInclude">,
  standing: StandingBatch,
): ChallengeSelection {
  const prepared = prepare({ ...input, mustInclude: standing.orders.map((o) => o.order) });
  const standingIds = new Set(standing.orders.map((o) => o.id));
  const selection = selectPrepared(prepared, false);
  let header: BatchHeader;
  let certificate: readonly IdentifiedOrder[];
  if (selection.outcome === "batch") ({ header, orders: certificate } = selection);
  else {
    const built = noTradeBatch(prepared);
    header = built.header;
    certificate = built.orders.map(identified);
  }
  // The first two orders of each (trader, side) of which S holds an excluded third: in the union, and in
  // N as whole pairs while N stays within MAX_BATCH_ORDERS (ascending by their smaller id). A pair in N
  // keeps the third excluded in every later union; and N is never empty (the contract refuses that)
  // when the certificate is: a standing result that trades has an in-order of U, or a pair.
  const pairs = new Map<Hex, Hex[]>();
  for (const id of standingIds) {
    const pair = prepared.firstOf.get(id);
    if (pair) pairs.set(pair[0]!, [...pair]);
  }
  const firsts = [...pairs.values()].flat();
  const newIds = new Set(certificate.map((o) => o.id));
  for (const key of [...pairs.keys()].sort(compareHex)) {
    const missing = pairs.get(key)!.filter((id) => !newIds.has(id));
    if (newIds.size + missing.length > Number(MAX_BATCH_ORDERS)) continue;
    for (const id of missing) newIds.add(id);
  }
  const orders = [...newIds].sort(compareHex).map((id) => identified(prepared.byId.get(id)!));
  const unionIds = [...new Set([...standingIds, ...newIds, ...firsts])].sort(compareHex);
  const entries: UnionEntry[] = unionIds.map((id) => ({
    standing: standingIds.has(id),
    inNewBatch: newIds.has(id),
    order: toBatchOrder(prepared.byId.get(id)!.order),
  }));
  const added = entries.filter((e) => !e.standing).length;
  if (added === 0) return { outcome: "no-new-orders", selection };
  if (selection.clearing.resultHash === standing.resultHash.toLowerCase()) {
    return { outcome: "result-unchanged", selection };
  }
  checkBound(orders.length, MAX_BATCH_ORDERS, "a challenge's new batch");
  checkBound(entries.length, MAX_UNION_ORDERS, "a union");
  const union: Union = { standingHeader: standing.header, unionHeader: header, entries };
  const bytes = encodeUnion(union);
  return {
    outcome: "challenge",
    selection,
    header,
    orders,
    batchHash: hashBytes(encodeBatch(newBatchOf(union))),
    union,
    bytes,
    unionHash: hashBytes(bytes),
    added,
  };
}
