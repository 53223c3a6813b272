// The contract's certification of a batch, in TypeScript (docs/certified-settlement.md, "Certification:
// what the contract computes from a batch"): the same checks in the same order — header checks, one
// pass over the orders with coverage, post-pass checks — throwing a CertificationError whose code is the
// contract's error name and whose args are its arguments, naming the first wrong value.
//
// An independent check of clearing: it never calls clearing/clear.ts (only clearing's result hash
// encoding), so tests can compare the two to the last unit. Integers only; every division says how it
// rounds.

import { encodeResult } from "../clearing/abi.ts";
import type { Fill } from "../clearing/clear.ts";
import { needOf, orderShareOf } from "../clearing/coverage.ts";
import {
  MAX_BATCH_ORDERS,
  MAX_KEPT_PER_SIDE,
  MAX_ORDERS_PER_TRADER_SIDE,
  MAX_UNION_ORDERS,
} from "../clearing/limits.ts";
import { isIn } from "../clearing/side-cap.ts";
import { MAX_UINT256, SECP256K1_HALF_N } from "../protocol/constants.ts";
import { orderDigestBytes } from "../protocol/eip712.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import { keccak256 } from "../protocol/keccak.ts";
import { recoverSigner } from "../protocol/signature.ts";
import {
  type Batch,
  type BatchHeader,
  type BatchOrder,
  batchOrderCount,
  type CollateralLookup,
  decodeUnion,
  encodeBatch,
  HEADER_BYTES,
  hashBytes,
  newBatchOf,
  ORDER_BYTES,
  readHeader,
  readOrder,
  standingBatchOf,
  toBytes,
  UNION_ENTRY_BYTES,
  UNION_HEADERS_BYTES,
  type Union,
  unionBatchOf,
  unionEntryCount,
} from "./batch.ts";
import { Asset, settlementRecord } from "./encoding.ts";
import { BatchError } from "./errors.ts";

// ================================================================ errors

/** The contract's errors of certification and challenge, by name: a CertificationError's code. */
export const CertificationErrorCode = {
  /**
   * (length) The batch is not 432 + 126·n bytes, n ≥ 1; a union not 864 + 127·n, a flag not 0, 1, 2 or 3,
   * or no entry in the new batch (flag 2 or 3).
   */
  MalformedBatch: "MalformedBatch",
  /**
   * (orders, max) A proposal's (or certify()'s) batch has more than MAX_BATCH_ORDERS orders, a union more
   * than MAX_UNION_ORDERS entries; checked with the length. Or a challenge's new batch (flag bit 1) has more
   * than MAX_BATCH_ORDERS orders; checked with the flags.
   */
  BatchTooLarge: "BatchTooLarge",
  /** (price) p is 0 (or ≥ 2^128: the 16-byte field cannot hold it). */
  PriceOutOfRange: "PriceOutOfRange",
  /** () V = min(D, S) = 0 in a proposal (a challenge's union may certify to no trade). */
  NoTrade: "NoTrade",
  /** (side, better, volume) A side's better sum exceeds V. */
  VolumeNotMaximal: "VolumeNotMaximal",
  /** (price, lo, hi) lo > hi, or p ≠ lo + ⌊(hi − lo)/2⌋. */
  WrongPrice: "WrongPrice",
  /** (index, side) side > 1. */
  InvalidSide: "InvalidSide",
  /** (index) quantity or limitPrice is 0. */
  MalformedOrder: "MalformedOrder",
  /** (index, quantity, minQuantity) quantity < the market's minQuantity (after InvalidSide and MalformedOrder). */
  OrderBelowMinimum: "OrderBelowMinimum",
  /** (index, previousId, id) The id does not exceed the previous order's. */
  OrdersNotAscending: "OrdersNotAscending",
  /** (index, v, s) v ∉ {27, 28} or s > n/2. */
  MalformedSignature: "MalformedSignature",
  /** (index, orderId, recovered, trader) ecrecover(orderId) is 0 or not the trader. */
  InvalidSigner: "InvalidSigner",
  /** (side, count, max) More than MAX_KEPT_PER_SIDE kept orders of the side pass its cap threshold. */
  SideOverCap: "SideOverCap",
  /** (side, count, max) The threshold cuts a kept order of the side while fewer than MAX_KEPT_PER_SIDE are in. */
  CapNotTight: "CapNotTight",
  /** (field, claimed, actual) A header sum or edge (field 0 buy.better … 7 sell.worseEdge) is not the batch's. */
  AggregateMismatch: "AggregateMismatch",
  /** (side, counted, expected) A threshold gives a bonus to `counted` orders, the rule to R − Σ shares. */
  WrongBonusCount: "WrongBonusCount",
  /** (record) The union's standing batch, submitter and fee do not hash to the stored record. */
  StandingMismatch: "StandingMismatch",
  /** () A union adds no order to the standing batch (no entry with flag 0 or 2). */
  NoNewOrders: "NoNewOrders",
  /**
   * (unionResultHash, newBatchResultHash) A challenge's new batch certifies to another result than its union
   * (a new batch that fails its certification throws that certification's own error instead).
   */
  NewBatchMismatch: "NewBatchMismatch",
  /** (resultHash) The union's result is the standing one. */
  ResultUnchanged: "ResultUnchanged",
} as const;
export type CertificationErrorCode = (typeof CertificationErrorCode)[keyof typeof CertificationErrorCode];

/** Arguments as the client's revert decoding gives them: bigint for integers, lowercase hex for bytes32 and addresses. */
export type CertificationErrorArgs = Readonly<Record<string, bigint | Hex>>;

export class CertificationError extends Error {
  /** The contract's error name. */
  readonly code: CertificationErrorCode;
  /** Its arguments by name, in declaration order. */
  readonly args: CertificationErrorArgs;

  constructor(code: CertificationErrorCode, args: CertificationErrorArgs = {}) {
    const shown = Object.entries(args).map(([k, v]) => `${k}=${v}`);
    super(`${code}(${shown.join(", ")})`);
    this.name = "CertificationError";
    this.code = code;
    this.args = args;
  }
}

/**
 * A header sum as the contract computes it: a + b, or 2^256 − 1 when that overflows (true sums are
 * below 2^144, so a saturated sum is wrong anyway and fails a later check).
 */
function saturatingSum(a: bigint, b: bigint): bigint {
  const s = a + b;
  if (s > MAX_UINT256) return MAX_UINT256;
  return s;
}

// ================================================================ header

/** AggregateMismatch's field numbers: the header's sums and edges, in header order. */
export const AGGREGATE_FIELDS = [
  "buy.better",
  "buy.equal",
  "buy.betterEdge",
  "buy.worseEdge",
  "sell.better",
  "sell.equal",
  "sell.betterEdge",
  "sell.worseEdge",
] as const;

/** What the header checks establish (docs/certified-settlement.md, "1. Header checks"). */
export interface HeaderFacts {
  readonly volume: bigint;
  /** The clearing interval [lo, hi] the price is the midpoint of; null at V = 0 (no trade: no interval). */
  readonly lo: bigint | null;
  readonly hi: bigint | null;
  /** R and L of each side: the units left for the marginal level, and its claimed size. */
  readonly buyUnits: bigint;
  readonly buyLevel: bigint;
  readonly sellUnits: bigint;
  readonly sellLevel: bigint;
}

export interface HeaderOptions {
  /**
   * Accept V = 0 (a challenge's union, and the standing batch a challenge re-certifies): the price is then
   * a separating price (no kept buy above it, no kept sell below it, one side empty at it), step 4 is
   * skipped and R = 0 on both sides. Otherwise V = 0 throws NoTrade (a proposal: nothing to settle).
   */
  readonly allowNoTrade?: boolean;
}

/** Header checks 1–5, in order; throws the first failure. */
export function checkHeader(header: BatchHeader, options: HeaderOptions = {}): HeaderFacts {
  const p = header.price;
  const { buy, sell } = header;
  // 1. The price.
  if (p < 1n || p >= 1n << 128n)
    throw new CertificationError(CertificationErrorCode.PriceOutOfRange, { price: p });
  // 2. The volume.
  const D = saturatingSum(buy.better, buy.equal);
  const S = saturatingSum(sell.better, sell.equal);
  let V = D; // min(D, S), in bigints
  if (S < V) V = S;
  if (V === 0n && options.allowNoTrade !== true) throw new CertificationError(CertificationErrorCode.NoTrade);
  // 3. V is maximal (given the sums, verified after the pass). At V = 0: both better sums are 0.
  if (buy.better > V) {
    throw new CertificationError(CertificationErrorCode.VolumeNotMaximal, {
      side: 0n,
      better: buy.better,
      volume: V,
    });
  }
  if (sell.better > V) {
    throw new CertificationError(CertificationErrorCode.VolumeNotMaximal, {
      side: 1n,
      better: sell.better,
      volume: V,
    });
  }
  // V = 0: no units V and V + 1, no interval. With better = 0 on both sides (3) and one side empty at p,
  // p separates the kept buys (≤ p) from the kept sells (≥ p): nothing trades at any price.
  if (V === 0n) {
    return {
      volume: 0n,
      lo: null,
      hi: null,
      buyUnits: 0n,
      buyLevel: buy.equal,
      sellUnits: 0n,
      sellLevel: sell.equal,
    };
  }
  // 4. The limits of units V and V + 1, and the pinned price. Absent terms (edge 0) are left out.
  const bV = buy.better === V ? buy.betterEdge : p;
  const bNext = D > V ? p : buy.worseEdge;
  const aV = sell.better === V ? sell.betterEdge : p;
  const aNext = S > V ? p : sell.worseEdge;
  let lo = aV;
  if (bNext !== 0n && bNext > lo) lo = bNext;
  let hi = bV;
  if (aNext !== 0n && aNext < hi) hi = aNext;
  // lo + ⌊(hi − lo)/2⌋: floor of a non-negative number (lo ≤ hi is checked first).
  if (lo > hi || p !== lo + (hi - lo) / 2n) {
    throw new CertificationError(CertificationErrorCode.WrongPrice, { price: p, lo, hi });
  }
  // 5. R and L per side.
  return {
    volume: V,
    lo,
    hi,
    buyUnits: V - buy.better,
    buyLevel: buy.equal,
    sellUnits: V - sell.better,
    sellLevel: sell.equal,
  };
}

// ================================================================ certification

export interface CertifyContext {
  /** bytes32, 0x + 64 hex digits. */
  readonly market: Hex;
  /** uint64. */
  readonly epoch: bigint;
  /** The contract's EIP-712 domain separator: order ids are computed under it. */
  readonly domainSeparator: Uint8Array;
  /** collateralOf(market, trader, asset, epoch); called once per trader and asset. */
  readonly collateral: CollateralLookup;
  /** The market's fee, basis points. */
  readonly feeBps: bigint;
  /** The market's minQuantity (getMarket's 8th value, ≥ 1): an order with a smaller quantity fails OrderBelowMinimum. */
  readonly minQuantity: bigint;
}

export interface CertifyInput extends CertifyContext {
  readonly header: BatchHeader;
  readonly orders: readonly BatchOrder[];
  /**
   * In a challenge: true at the positions of the standing batch's orders, whose signatures are not
   * checked again. Everything else is checked.
   */
  readonly trusted?: readonly boolean[];
  /** The batch bytes, when known (their keccak is the batch hash; otherwise header and orders are encoded). */
  readonly bytes?: Uint8Array;
  /**
   * Certify as a challenge does (its union, and the standing batch): a no-trade result (V = 0) is accepted
   * and certifies to price 0, volume 0, no fills, fee 0. A proposal's certification (the default) throws
   * NoTrade instead.
   */
  readonly allowNoTrade?: boolean;
}

/** What certify returns: the contract's view `certify`, plus the per-order detail. */
export interface Certificate {
  /** The clearing price; 0 when nothing trades (a challenge's no-trade union). */
  readonly price: bigint;
  readonly volume: bigint;
  /**
   * Per batch order, in batch order: its id, whether coverage (with the per-(trader, side) cap) keeps it, whether
   * the side cap cuts it (a kept order its side's threshold leaves out), its fill (0 for excluded, cut and
   * worse orders).
   */
  readonly ids: readonly Hex[];
  readonly kept: readonly boolean[];
  readonly cut: readonly boolean[];
  readonly orderFills: readonly bigint[];
  /** The non-zero fills in batch (ascending id) order: clearing's `fills`. */
  readonly fills: readonly Fill[];
  /** clearing.md's result hash over `fills`. */
  readonly resultHash: Hex;
  /** Σ ⌊fill · p · feeBps / 10000⌋ over sell fills (floor per fill). */
  readonly feeTotal: bigint;
  readonly batchHash: Hex;
}

interface SideTally {
  /** Kept orders that pass the side's threshold, and whether one did not. */
  inCount: bigint;
  anyCut: boolean;
  better: bigint;
  equal: bigint;
  betterEdge: bigint;
  worseEdge: bigint;
  shares: bigint;
  bonuses: bigint;
}

const ZERO_ADDRESS: Hex = `0x${"00".repeat(20)}`;
const ZERO_ID: Hex = `0x${"00".repeat(32)}`;

/** ecrecover: the signer, or the zero address when nothing recovers (r or s out of range, no curve point). */
function ecrecover(digest: Uint8Array, o: BatchOrder): Hex {
  const sig = new Uint8Array(65);
  const buf = Buffer.from(sig.buffer);
  buf.write(o.r.slice(2), 0, 32, "hex");
  buf.write(o.s.slice(2), 32, 32, "hex");
  sig[64] = o.v;
  try {
    return recoverSigner(digest, sig);
  } catch {
    return ZERO_ADDRESS;
  }
}

/**
 * Certifies a batch: header checks, one pass over the orders (side and amounts, ascending ids,
 * signatures, coverage, classification and fills), then the eight aggregates and the bonus counts.
 * Throws CertificationError with the first wrong value.
 */
export function certify(input: CertifyInput): Certificate {
  const { header, orders, trusted } = input;
  const market = input.market.toLowerCase() as Hex;
  const epoch = input.epoch;
  const p = header.price;
  const facts = checkHeader(header, { allowNoTrade: input.allowNoTrade === true });

  const n = orders.length;
  const ids = new Array<Hex>(n);
  const kept = new Array<boolean>(n);
  const cut = new Array<boolean>(n).fill(false);
  const orderFills = new Array<bigint>(n);
  const fills: Fill[] = [];
  const tally = (): SideTally => ({
    inCount: 0n,
    anyCut: false,
    better: 0n,
    equal: 0n,
    betterEdge: 0n,
    worseEdge: 0n,
    shares: 0n,
    bonuses: 0n,
  });
  const buys = tally();
  const sells = tally();
  /** Orders met so far per (trader, asset spent), i.e. per trader and side, kept or not. */
  const seen = new Map<string, bigint>();
  /** Each (trader, asset)'s share, read once. */
  const shares = new Map<string, bigint>();
  let previousId: Hex = ZERO_ID;
  let feeTotal = 0n;

  for (let i = 0; i < n; i++) {
    const o = orders[i]!;
    const index = BigInt(i);
    // 1. Side and amounts.
    if (o.side > 1)
      throw new CertificationError(CertificationErrorCode.InvalidSide, { index, side: BigInt(o.side) });
    if (o.quantity < 1n || o.limitPrice < 1n)
      throw new CertificationError(CertificationErrorCode.MalformedOrder, { index });
    if (o.quantity < input.minQuantity) {
      throw new CertificationError(CertificationErrorCode.OrderBelowMinimum, {
        index,
        quantity: o.quantity,
        minQuantity: input.minQuantity,
      });
    }
    const isBuy = o.side === 0;
    const trader = o.trader.toLowerCase() as Hex;
    // 2. The id, strictly ascending.
    const digest = orderDigestBytes(
      {
        market,
        epoch,
        side: isBuy ? "buy" : "sell",
        quantity: o.quantity,
        limitPrice: o.limitPrice,
        nonce: o.nonce,
        trader,
      },
      input.domainSeparator,
    );
    const id = bytesToHex(digest);
    if (id <= previousId) {
      throw new CertificationError(CertificationErrorCode.OrdersNotAscending, { index, previousId, id });
    }
    previousId = id;
    ids[i] = id;
    // 3. The signature (not for a standing order in a challenge).
    if (trusted?.[i] !== true) {
      const s = BigInt(o.s);
      if ((o.v !== 27 && o.v !== 28) || s > SECP256K1_HALF_N) {
        throw new CertificationError(CertificationErrorCode.MalformedSignature, {
          index,
          v: BigInt(o.v),
          s: o.s.toLowerCase() as Hex,
        });
      }
      const recovered = ecrecover(digest, o);
      if (recovered === ZERO_ADDRESS || recovered !== trader) {
        throw new CertificationError(CertificationErrorCode.InvalidSigner, {
          index,
          orderId: id,
          recovered,
          trader,
        });
      }
    }
    // 4. Coverage: only the first MAX_ORDERS_PER_TRADER_SIDE orders of a (trader, side) in the batch can
    // be kept (every order counts, kept or not); one of them is kept iff it needs at most
    // ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋ of the asset it spends.
    const asset = isBuy ? Asset.QUOTE : Asset.BASE;
    const key = `${trader}/${asset}`;
    const before = seen.get(key) ?? 0n;
    seen.set(key, before + 1n);
    let share = shares.get(key);
    if (share === undefined && before < MAX_ORDERS_PER_TRADER_SIDE) {
      share = orderShareOf(input.collateral(trader, asset));
      shares.set(key, share);
    }
    const need = needOf({ side: isBuy ? "buy" : "sell", quantity: o.quantity, limitPrice: o.limitPrice });
    if (before >= MAX_ORDERS_PER_TRADER_SIDE || need > share!) {
      kept[i] = false;
      orderFills[i] = 0n;
      continue;
    }
    kept[i] = true;
    // The side cap: a kept order its side's threshold leaves out is cut (fill 0, no sum, no edge).
    const side = isBuy ? buys : sells;
    const limit = o.limitPrice;
    const cap = isBuy ? header.buy : header.sell;
    if (!isIn(isBuy ? "buy" : "sell", { limit: cap.capLimit, id: BigInt(cap.capId) }, limit, id)) {
      side.anyCut = true;
      cut[i] = true;
      orderFills[i] = 0n;
      continue;
    }
    side.inCount += 1n;
    // 5. Classification and fill.
    let fill = 0n;
    if (isBuy ? limit > p : limit < p) {
      fill = o.quantity;
      side.better += o.quantity;
      if (side.betterEdge === 0n || (isBuy ? limit < side.betterEdge : limit > side.betterEdge))
        side.betterEdge = limit;
    } else if (limit !== p) {
      if (side.worseEdge === 0n || (isBuy ? limit > side.worseEdge : limit < side.worseEdge))
        side.worseEdge = limit;
    } else {
      side.equal += o.quantity;
      const R = isBuy ? facts.buyUnits : facts.sellUnits;
      const L = isBuy ? facts.buyLevel : facts.sellLevel;
      let share = 0n;
      let rem = 0n;
      if (L !== 0n) {
        // Exact. The contract's R·q is unchecked: with collateral below 2^112 (escrow balances are), it can
        // wrap only when the header's sums are wrong, and then AggregateMismatch comes before any share is used.
        const product = R * o.quantity;
        share = product / L; // floor: non-negative operands
        rem = product % L;
      }
      side.shares += share;
      const threshold = isBuy ? header.buy : header.sell;
      const bonus =
        rem > threshold.remainder || (rem === threshold.remainder && id <= threshold.id.toLowerCase());
      if (bonus) side.bonuses += 1n;
      fill = share + (bonus ? 1n : 0n);
    }
    orderFills[i] = fill;
    if (fill !== 0n) {
      fills.push({ id, quantity: fill });
      // The fee on a sell's proceeds, floor per fill: non-negative operands.
      if (!isBuy) feeTotal += (fill * p * input.feeBps) / 10_000n;
    }
  }

  // 0. The side cap: at most MAX_KEPT_PER_SIDE in-orders per side, and exactly that many when the
  // threshold cut a kept order (so it is the rule's: the top MAX_KEPT_PER_SIDE by price priority).
  for (const [sideCode, t] of [
    [0n, buys],
    [1n, sells],
  ] as const) {
    if (t.inCount > MAX_KEPT_PER_SIDE) {
      throw new CertificationError(CertificationErrorCode.SideOverCap, {
        side: sideCode,
        count: t.inCount,
        max: MAX_KEPT_PER_SIDE,
      });
    }
    if (t.anyCut && t.inCount !== MAX_KEPT_PER_SIDE) {
      throw new CertificationError(CertificationErrorCode.CapNotTight, {
        side: sideCode,
        count: t.inCount,
        max: MAX_KEPT_PER_SIDE,
      });
    }
  }
  // 1. The aggregates, in header order.
  const actual = [
    buys.better,
    buys.equal,
    buys.betterEdge,
    buys.worseEdge,
    sells.better,
    sells.equal,
    sells.betterEdge,
    sells.worseEdge,
  ];
  const claimed = [
    header.buy.better,
    header.buy.equal,
    header.buy.betterEdge,
    header.buy.worseEdge,
    header.sell.better,
    header.sell.equal,
    header.sell.betterEdge,
    header.sell.worseEdge,
  ];
  for (let f = 0; f < actual.length; f++) {
    if (claimed[f] !== actual[f]) {
      throw new CertificationError(CertificationErrorCode.AggregateMismatch, {
        field: BigInt(f),
        claimed: claimed[f]!,
        actual: actual[f]!,
      });
    }
  }
  // 2. The bonus counts: R − Σ shares on each side.
  for (const [side, t, R] of [
    [0n, buys, facts.buyUnits],
    [1n, sells, facts.sellUnits],
  ] as const) {
    if (t.bonuses !== R - t.shares) {
      throw new CertificationError(CertificationErrorCode.WrongBonusCount, {
        side,
        counted: t.bonuses,
        expected: R - t.shares,
      });
    }
  }

  // No trade: price 0 in the result, as clearing.md's result of a book that does not trade.
  const volume = facts.volume;
  const price = volume === 0n ? 0n : p;
  const resultHash = bytesToHex(keccak256(encodeResult(market, epoch, price, volume, fills)));
  const batchHash = input.bytes ? hashBytes(input.bytes) : hashBytes(encodeBatch({ header, orders }));
  return { price, volume, ids, kept, cut, orderFills, fills, resultHash, feeTotal, batchHash };
}

/** certify() of batch bytes: MalformedBatch(length), then BatchTooLarge(orders, max), as the contract does. */
export function certifyBatchBytes(context: CertifyContext, data: Uint8Array | string): Certificate {
  const bytes = toBytes(data);
  const n = batchOrderCount(bytes.length);
  if (n === null)
    throw new CertificationError(CertificationErrorCode.MalformedBatch, { length: BigInt(bytes.length) });
  if (BigInt(n) > MAX_BATCH_ORDERS) {
    throw new CertificationError(CertificationErrorCode.BatchTooLarge, {
      orders: BigInt(n),
      max: MAX_BATCH_ORDERS,
    });
  }
  const orders = new Array<BatchOrder>(n);
  for (let i = 0; i < n; i++) orders[i] = readOrder(bytes, HEADER_BYTES + ORDER_BYTES * i);
  return certify({ ...context, header: readHeader(bytes, 0), orders, bytes });
}

// ================================================================ challenge

export interface CertifyChallengeInput extends CertifyContext {
  /** The union bytes (or the decoded union). */
  readonly union: Uint8Array | string | Union;
  readonly standingSubmitter: Hex;
  /** recordOf(market, epoch): the standing record. */
  readonly record: Hex;
}

export interface ChallengeCertificate {
  /** The standing batch's certificate (signatures not checked: the record proves them). */
  readonly standing: Certificate;
  /** The union's certificate (its result is the new standing result). */
  readonly union: Certificate;
  /** The new batch's certificate: the union's result; its batchHash is the new record's and Challenged's. */
  readonly newBatch: Certificate;
  /** union header ‖ the flag-bit-1 orders: the batch that becomes the standing one. */
  readonly nextBatch: Batch;
}

/** BatchTooLarge(orders, max) for a union of more than MAX_UNION_ORDERS entries (or a new batch of more than MAX_BATCH_ORDERS). */
function checkSize(n: number, max: bigint): void {
  if (BigInt(n) > max) {
    throw new CertificationError(CertificationErrorCode.BatchTooLarge, { orders: BigInt(n), max });
  }
}

/**
 * The checks of challenge() after its timing, bond and commitment, in the contract's order: the union's
 * form (MalformedBatch of the length, BatchTooLarge, then MalformedBatch of a flag — not 0, 1, 2 or 3 — and
 * BatchTooLarge of a new batch over MAX_BATCH_ORDERS: the contract checks the commitment between the size
 * and the flags), the standing batch against the record (its certification without signature checks gives
 * the fee the record binds; any failure of it is StandingMismatch too), an added order (NoNewOrders: an
 * entry with flag 0 or 2), the union's certification (signatures of added orders only), a different result
 * (ResultUnchanged), then the new batch's certification (no signatures; its own errors) and its result
 * equal to the union's (NewBatchMismatch). Every certification accepts no trade (V = 0: price 0, volume 0,
 * no fills): a union whose clearing is no trade replaces a standing result that traded (a forced trade),
 * and a no-trade standing result is re-certified like any other (so that it can be challenged in turn).
 */
export function certifyChallenge(input: CertifyChallengeInput): ChallengeCertificate {
  let union: Union;
  if (typeof input.union === "string" || input.union instanceof Uint8Array) {
    const bytes = toBytes(input.union);
    const n = unionEntryCount(bytes.length);
    if (n === null) {
      throw new CertificationError(CertificationErrorCode.MalformedBatch, { length: BigInt(bytes.length) });
    }
    checkSize(n, MAX_UNION_ORDERS);
    try {
      union = decodeUnion(bytes);
    } catch (err) {
      if (err instanceof BatchError) {
        throw new CertificationError(CertificationErrorCode.MalformedBatch, { length: BigInt(bytes.length) });
      }
      throw err;
    }
  } else {
    union = input.union;
    checkSize(union.entries.length, MAX_UNION_ORDERS);
  }
  const next = newBatchOf(union);
  // A new batch of no order: no later challenge could present it (MalformedBatch, with the flags).
  if (next.orders.length === 0) {
    const length = BigInt(UNION_HEADERS_BYTES + UNION_ENTRY_BYTES * union.entries.length);
    throw new CertificationError(CertificationErrorCode.MalformedBatch, { length });
  }
  checkSize(next.orders.length, MAX_BATCH_ORDERS);

  const standingBatch = standingBatchOf(union);
  const record = input.record.toLowerCase() as Hex;
  // An empty standing batch (every flag 0 or 2) is no batch, so it matches no record.
  if (standingBatch.orders.length === 0) {
    throw new CertificationError(CertificationErrorCode.StandingMismatch, { record });
  }
  // The standing batch was certified from the same collateral when it was submitted: any failure now
  // proves it is not the standing batch, and the contract reports it as StandingMismatch.
  let standing: Certificate;
  try {
    standing = certify({
      ...input,
      header: standingBatch.header,
      orders: standingBatch.orders,
      trusted: standingBatch.orders.map(() => true),
      // A standing result may be a no-trade union (a challenge made it standing): it must stay challengeable.
      allowNoTrade: true,
    });
  } catch (err) {
    if (err instanceof CertificationError)
      throw new CertificationError(CertificationErrorCode.StandingMismatch, { record });
    throw err;
  }
  if (settlementRecord(standing.batchHash, input.standingSubmitter, standing.feeTotal) !== record) {
    throw new CertificationError(CertificationErrorCode.StandingMismatch, { record });
  }
  if (union.entries.every((e) => e.standing))
    throw new CertificationError(CertificationErrorCode.NoNewOrders);
  const unionBatch = unionBatchOf(union);
  const certified = certify({
    ...input,
    header: unionBatch.header,
    orders: unionBatch.orders,
    trusted: union.entries.map((e) => e.standing),
    // The union may clear to no trade: a standing result that traded is then undone and nothing applied.
    allowNoTrade: true,
  });
  if (certified.resultHash === standing.resultHash) {
    throw new CertificationError(CertificationErrorCode.ResultUnchanged, {
      resultHash: certified.resultHash,
    });
  }
  // The new batch: standing orders and added ones whose signatures were just checked.
  const newBatch = certify({
    ...input,
    header: next.header,
    orders: next.orders,
    trusted: next.orders.map(() => true),
    allowNoTrade: true,
  });
  if (newBatch.resultHash !== certified.resultHash) {
    throw new CertificationError(CertificationErrorCode.NewBatchMismatch, {
      unionResultHash: certified.resultHash,
      newBatchResultHash: newBatch.resultHash,
    });
  }
  return { standing, union: certified, newBatch, nextBatch: next };
}
