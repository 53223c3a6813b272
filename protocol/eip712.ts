// EIP-712 hashing of orders, computed by hand (fast path) and with ethers (reference, signing).

import type { Signer, TypedDataField } from "ethers";
import { writeStructWords } from "./codec.ts";
import { EIP712_DOMAIN_NAME, EIP712_DOMAIN_VERSION, ORDER_TYPE_STRING } from "./constants.ts";
import { TypedDataEncoder } from "./ethers.ts";
import { bytesToHex, type Hex, hexToBytes, uintToBytes } from "./hex.ts";
import { keccak256 } from "./keccak.ts";
import { type Order, SIDE_CODE, type SignedOrder } from "./order.ts";

export interface Eip712Domain {
  readonly name: string;
  readonly version: string;
  readonly chainId: bigint;
  /** The settlement contract, lowercase hex. */
  readonly verifyingContract: Hex;
}

export function makeDomain(chainId: bigint, verifyingContract: string): Eip712Domain {
  return {
    name: EIP712_DOMAIN_NAME,
    version: EIP712_DOMAIN_VERSION,
    chainId,
    verifyingContract: verifyingContract.toLowerCase() as Hex,
  };
}

/** The order type in ethers' form, field order as in ORDER_TYPE_STRING. */
export const ORDER_TYPES: Record<string, TypedDataField[]> = {
  Order: [
    { name: "market", type: "bytes32" },
    { name: "epoch", type: "uint64" },
    { name: "side", type: "uint8" },
    { name: "quantity", type: "uint128" },
    { name: "limitPrice", type: "uint128" },
    { name: "nonce", type: "uint64" },
    { name: "trader", type: "address" },
  ],
};

const EIP712_DOMAIN_TYPE_STRING =
  "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
const textEncoder = new TextEncoder();

export const ORDER_TYPEHASH: Uint8Array = keccak256(textEncoder.encode(ORDER_TYPE_STRING));
export const DOMAIN_TYPEHASH: Uint8Array = keccak256(textEncoder.encode(EIP712_DOMAIN_TYPE_STRING));

/** keccak256(abi.encode(DOMAIN_TYPEHASH, keccak(name), keccak(version), chainId, verifyingContract)). */
export function domainSeparator(domain: Eip712Domain): Uint8Array {
  const buf = new Uint8Array(32 * 5);
  buf.set(DOMAIN_TYPEHASH, 0);
  buf.set(keccak256(textEncoder.encode(domain.name)), 32);
  buf.set(keccak256(textEncoder.encode(domain.version)), 64);
  buf.set(uintToBytes(domain.chainId, 32), 96);
  buf.set(hexToBytes(domain.verifyingContract), 128 + 12);
  return keccak256(buf);
}

// One scratch word array for the struct encoding and one for the digest input: keccak256 consumes them
// before returning, and nothing here yields, so reusing them is safe and saves two allocations per order
// (this is the hot path of every order a node verifies: issue 13).
const structScratch = Buffer.alloc(32 * 8);
const structView = new DataView(structScratch.buffer, structScratch.byteOffset, structScratch.byteLength);
structScratch.set(ORDER_TYPEHASH, 0);
const digestScratch = new Uint8Array(66);
digestScratch[0] = 0x19;
digestScratch[1] = 0x01;

const MASK_64 = (1n << 64n) - 1n;

/** Writes a uint64 or uint128 big-endian at the end of the 32-byte word at `offset` (the rest is zeroed). */
function writeWord(offset: number, value: bigint, width: 8 | 16): void {
  structScratch.fill(0, offset, offset + 32);
  if (width === 16) structView.setBigUint64(offset + 16, (value >> 64n) & MASK_64);
  structView.setBigUint64(offset + 24, value & MASK_64);
}

/** Writes canonical 0x-hex right-aligned in the 32-byte word at `offset` (the rest is zeroed). */
function writeHexWord(offset: number, hex: string, bytes: number): void {
  // The whole word first: Buffer.write stops at the first non-hex digit (input is canonical, but a stale
  // byte of the previous order must never be hashed).
  structScratch.fill(0, offset, offset + 32);
  structScratch.write(hex.slice(2), offset + 32 - bytes, bytes, "hex");
}

/** hashStruct(order) = keccak256(abi.encode(ORDER_TYPEHASH, market, epoch, side, quantity, limitPrice, nonce, trader)). */
export function orderStructHash(order: Order): Uint8Array {
  writeHexWord(32, order.market, 32);
  writeWord(64, order.epoch, 8);
  structScratch.fill(0, 96, 127);
  structScratch[127] = SIDE_CODE[order.side];
  writeWord(128, order.quantity, 16);
  writeWord(160, order.limitPrice, 16);
  writeWord(192, order.nonce, 8);
  writeHexWord(224, order.trader, 20);
  return keccak256(structScratch);
}

/** The EIP-712 digest of any struct: keccak256(0x19 0x01 || domainSeparator || structHash). */
export function typedDataDigest(separator: Uint8Array, structHash: Uint8Array): Uint8Array {
  digestScratch.set(separator, 2);
  digestScratch.set(structHash, 34);
  return keccak256(digestScratch);
}

/**
 * The EIP-712 digest of an order from its canonical wire bytes (which decodeOrder accepted): equal to
 * orderDigestBytes of the decoded order.
 */
export function orderDigestFromWire(wire: Uint8Array, separator: Uint8Array): Uint8Array {
  writeStructWords(wire, structScratch, 32);
  return typedDataDigest(separator, keccak256(structScratch));
}

/** The EIP-712 digest of an order, as bytes. */
export function orderDigestBytes(order: Order, separator: Uint8Array): Uint8Array {
  return typedDataDigest(separator, orderStructHash(order));
}

/** The order id: its EIP-712 digest, lowercase hex. */
export function orderId(order: Order, separator: Uint8Array): Hex {
  return bytesToHex(orderDigestBytes(order, separator));
}

/** The order as the value object ethers' TypedDataEncoder expects. */
export function orderTypedValue(order: Order): Record<string, unknown> {
  return {
    market: order.market,
    epoch: order.epoch,
    side: SIDE_CODE[order.side],
    quantity: order.quantity,
    limitPrice: order.limitPrice,
    nonce: order.nonce,
    trader: order.trader,
  };
}

function ethersDomain(domain: Eip712Domain) {
  return {
    name: domain.name,
    version: domain.version,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  };
}

/** Reference digest through ethers (slow path; used by tests and as a cross-check). */
export function orderIdEthers(order: Order, domain: Eip712Domain): Hex {
  return TypedDataEncoder.hash(ethersDomain(domain), ORDER_TYPES, orderTypedValue(order)) as Hex;
}

/** Signs an order with an ethers Signer (a Wallet, a keystore-decrypted wallet, ...). */
export async function signOrder(order: Order, signer: Signer, domain: Eip712Domain): Promise<SignedOrder> {
  const signature = await signer.signTypedData(ethersDomain(domain), ORDER_TYPES, orderTypedValue(order));
  return { ...order, signature: signature.toLowerCase() as Hex };
}
