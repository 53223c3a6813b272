// Pure encoding of settlement batches: signed orders + fills <-> settle() calldata, and the result hash.
// No I/O: the client (client.ts) sends what this builds and decodes what the chain returns.
import { AbiCoder, keccak256 } from "ethers";
import { orderDigestBytes } from "../protocol/eip712.ts";
import { bytesToHex, compareHex, type Hex } from "../protocol/hex.ts";
import { SIDE_CODE, type SignedOrder, sideFromCode } from "../protocol/order.ts";
import { smartMarketInterface } from "./artifacts.ts";

/** Escrow assets, numbered as in the contract. */
export const Asset = { BASE: 0, QUOTE: 1 } as const;
export type Asset = (typeof Asset)[keyof typeof Asset];

/** One fill of a settlement: the order id (its EIP-712 digest) and the quantity filled. */
export interface SettlementFill {
  readonly id: Hex;
  readonly quantity: bigint;
}

/**
 * What settle() needs from a clearing result. clearing/'s ClearingResult has this shape (structural typing:
 * any ClearingResult is a SettlementBatch); `price` is null when nothing trades, and then nothing settles.
 */
export interface SettlementBatch {
  readonly market: Hex;
  readonly epoch: bigint;
  readonly price: bigint | null;
  readonly volume: bigint;
  /** Sorted by id ascending, zero fills omitted. */
  readonly fills: readonly SettlementFill[];
  readonly resultHash?: Hex;
}

/** The contract's SignedFill struct (ISmartMarket.SignedFill), field for field. */
export interface SignedFillStruct {
  readonly side: number;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  readonly nonce: bigint;
  readonly trader: Hex;
  readonly fill: bigint;
  readonly v: number;
  readonly r: Hex;
  readonly s: Hex;
}

/** The decoded arguments of a settle() call. */
export interface SettleCall {
  readonly market: Hex;
  readonly epoch: bigint;
  readonly price: bigint;
  readonly fills: readonly SignedFillStruct[];
}

/** A settle() argument that cannot be built from the inputs (missing order, wrong id, unsorted fills...). */
export class BatchEncodingError extends Error {
  readonly code = "BAD_BATCH" as const;
  constructor(message: string) {
    super(message);
    this.name = "BatchEncodingError";
  }
}

/** Splits a 65-byte signature r || s || v. */
export function splitSignature(signature: Hex): { v: number; r: Hex; s: Hex } {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new BatchEncodingError(`a signature is 65 bytes of hex, got ${signature.slice(0, 20)}...`);
  }
  const lower = signature.toLowerCase();
  return {
    r: `0x${lower.slice(2, 66)}` as Hex,
    s: `0x${lower.slice(66, 130)}` as Hex,
    v: Number.parseInt(lower.slice(130, 132), 16),
  };
}

/** Joins r, s, v back into the 65-byte signature r || s || v (lowercase hex). */
export function joinSignature(v: number, r: Hex, s: Hex): Hex {
  return `0x${r.slice(2)}${s.slice(2)}${v.toString(16).padStart(2, "0")}`.toLowerCase() as Hex;
}

/** The SignedFill of `order` filled by `fill`. */
export function toSignedFill(order: SignedOrder, fill: bigint): SignedFillStruct {
  const { v, r, s } = splitSignature(order.signature);
  return {
    side: SIDE_CODE[order.side],
    quantity: order.quantity,
    limitPrice: order.limitPrice,
    nonce: order.nonce,
    trader: order.trader,
    fill,
    v,
    r,
    s,
  };
}

/** The signed order a SignedFill carries, given the batch's market and epoch. */
export function signedOrderOf(market: Hex, epoch: bigint, f: SignedFillStruct): SignedOrder {
  return {
    market: market.toLowerCase() as Hex,
    epoch,
    side: sideFromCode(f.side),
    quantity: f.quantity,
    limitPrice: f.limitPrice,
    nonce: f.nonce,
    trader: f.trader.toLowerCase() as Hex,
    signature: joinSignature(f.v, f.r, f.s),
  };
}

/**
 * Builds settle()'s fills from a clearing result and the signed orders it fills. Checks what the contract
 * would reject anyway, to fail early with a clear message: the result trades, the ids ascend strictly,
 * every fill has its order, and that order is for this market and epoch and hashes to the fill's id under
 * `domainSeparator` (so a node never submits an order signed for another contract or chain).
 */
export function buildSignedFills(
  batch: SettlementBatch,
  signedOrdersById: ReadonlyMap<Hex, SignedOrder>,
  domainSeparator: Uint8Array,
): SignedFillStruct[] {
  if (batch.price === null || batch.fills.length === 0) {
    throw new BatchEncodingError(`epoch ${batch.epoch} of ${batch.market} has no trade: nothing to settle`);
  }
  const out: SignedFillStruct[] = [];
  let previous: Hex | null = null;
  for (const fill of batch.fills) {
    const id = fill.id.toLowerCase() as Hex;
    if (previous !== null && compareHex(id, previous) <= 0) {
      throw new BatchEncodingError(`fills are not strictly ascending by id at ${id}`);
    }
    previous = id;
    const order = signedOrdersById.get(id) ?? signedOrdersById.get(fill.id);
    if (!order) throw new BatchEncodingError(`no signed order for fill ${id}`);
    if (order.market.toLowerCase() !== batch.market.toLowerCase() || order.epoch !== batch.epoch) {
      throw new BatchEncodingError(`order ${id} is for ${order.market} epoch ${order.epoch}, not this batch`);
    }
    const actual = bytesToHex(orderDigestBytes(order, domainSeparator));
    if (actual !== id) throw new BatchEncodingError(`order ${id} hashes to ${actual} in this domain`);
    out.push(toSignedFill(order, fill.quantity));
  }
  return out;
}

/** settle(market, epoch, price, fills) calldata. */
export function encodeSettleCall(call: SettleCall): Hex {
  return smartMarketInterface.encodeFunctionData("settle", [
    call.market,
    call.epoch,
    call.price,
    call.fills.map((f) => [f.side, f.quantity, f.limitPrice, f.nonce, f.trader, f.fill, f.v, f.r, f.s]),
  ]) as Hex;
}

/** Decodes settle() calldata; throws BatchEncodingError when `data` is not a settle() call. */
export function decodeSettleCall(data: string): SettleCall {
  const fn = smartMarketInterface.getFunction("settle");
  if (!fn || !data.toLowerCase().startsWith(fn.selector)) {
    throw new BatchEncodingError(`calldata is not a settle() call (selector ${data.slice(0, 10)})`);
  }
  const [market, epoch, price, fills] = smartMarketInterface.decodeFunctionData(fn, data) as unknown as [
    string,
    bigint,
    bigint,
    [bigint, bigint, bigint, bigint, string, bigint, bigint, string, string][],
  ];
  return {
    market: market.toLowerCase() as Hex,
    epoch,
    price,
    fills: fills.map(([side, quantity, limitPrice, nonce, trader, fill, v, r, s]) => ({
      side: Number(side),
      quantity,
      limitPrice,
      nonce,
      trader: trader.toLowerCase() as Hex,
      fill,
      v: Number(v),
      r: r.toLowerCase() as Hex,
      s: s.toLowerCase() as Hex,
    })),
  };
}

/**
 * keccak256(abi.encode(bytes32 market, uint64 epoch, uint256 price, uint256 volume, (bytes32,uint256)[] fills)),
 * what the contract computes and emits in Settled, and what clearing/'s computeResultHash computes.
 */
export function settlementResultHash(
  market: Hex,
  epoch: bigint,
  price: bigint,
  volume: bigint,
  fills: readonly SettlementFill[],
): Hex {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["bytes32", "uint64", "uint256", "uint256", "tuple(bytes32,uint256)[]"],
    [market, epoch, price, volume, fills.map((f) => [f.id, f.quantity])],
  );
  return keccak256(encoded).toLowerCase() as Hex;
}
