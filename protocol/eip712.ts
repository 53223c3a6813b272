// EIP-712 hashing of orders, computed by hand (fast path) and with ethers (reference, signing).

import { type Signer, TypedDataEncoder, type TypedDataField } from "ethers";
import { EIP712_DOMAIN_NAME, EIP712_DOMAIN_VERSION, ORDER_TYPE_STRING } from "./constants.ts";
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

function writeUint(buf: Uint8Array, offset: number, value: bigint, width: number): void {
  // Big-endian, right-aligned in a 32-byte word; the rest of the word is already zero.
  let v = value;
  for (let i = offset + 31; i >= offset + 32 - width; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function writeHex(buf: Uint8Array, offset: number, hex: string): void {
  // hex is validated canonical (0x + even length); Buffer.write decodes pairs of digits.
  Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(hex.slice(2), offset, "hex");
}

/** hashStruct(order) = keccak256(abi.encode(ORDER_TYPEHASH, market, epoch, side, quantity, limitPrice, nonce, trader)). */
export function orderStructHash(order: Order): Uint8Array {
  const buf = new Uint8Array(32 * 8);
  buf.set(ORDER_TYPEHASH, 0);
  writeHex(buf, 32, order.market);
  writeUint(buf, 64, order.epoch, 8);
  buf[127] = SIDE_CODE[order.side];
  writeUint(buf, 128, order.quantity, 16);
  writeUint(buf, 160, order.limitPrice, 16);
  writeUint(buf, 192, order.nonce, 8);
  writeHex(buf, 224 + 12, order.trader);
  return keccak256(buf);
}

/** The EIP-712 digest of any struct: keccak256(0x19 0x01 || domainSeparator || structHash). */
export function typedDataDigest(separator: Uint8Array, structHash: Uint8Array): Uint8Array {
  const buf = new Uint8Array(66);
  buf[0] = 0x19;
  buf[1] = 0x01;
  buf.set(separator, 2);
  buf.set(structHash, 34);
  return keccak256(buf);
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
