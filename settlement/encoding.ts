// Pure encodings of settlement shared by the client, the batch selection and the certification: escrow
// assets, signatures, the result hash, the record a standing result is stored as, and the commitment a
// proposal or challenge is preceded by. No I/O. The batch bytes themselves are settlement/batch.ts's.
import { AbiCoder, keccak256 } from "../protocol/ethers.ts";
import type { Hex } from "../protocol/hex.ts";
import { BatchError, BatchErrorCode } from "./errors.ts";

/** Escrow assets, numbered as in the contract. */
export const Asset = { BASE: 0, QUOTE: 1 } as const;
export type Asset = (typeof Asset)[keyof typeof Asset];

/** One fill of a result: the order id (its EIP-712 digest) and the quantity filled. */
export interface SettlementFill {
  readonly id: Hex;
  readonly quantity: bigint;
}

/** Splits a 65-byte signature r || s || v; BatchError(BAD_ORDER) if it is not 65 bytes of hex. */
export function splitSignature(signature: Hex): { v: number; r: Hex; s: Hex } {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new BatchError(
      BatchErrorCode.BAD_ORDER,
      `a signature is 65 bytes of hex, got ${signature.slice(0, 20)}...`,
    );
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

/**
 * keccak256(abi.encode(bytes32 market, uint64 epoch, uint256 price, uint256 volume, (bytes32,uint256)[] fills)),
 * what the contract emits in Proposed and Challenged, through ethers' AbiCoder: the reference that
 * clearing/'s hand-written encoding (computeResultHash) is tested against.
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

/** The record of a standing result: keccak256(abi.encode(bytes32 batchHash, address submitter, uint256 feeTotal)). */
export function settlementRecord(batchHash: Hex, submitter: Hex, feeTotal: bigint): Hex {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["bytes32", "address", "uint256"],
    [batchHash, submitter, feeTotal],
  );
  return keccak256(encoded).toLowerCase() as Hex;
}

/** recordOf's value for a final (finalized, paid) result. */
export const FINALIZED_RECORD: Hex = `0x${"00".repeat(31)}01`;

/**
 * The commitment a proposal or challenge must be preceded by: keccak256(abi.encode(bytes32 market, uint64
 * epoch, bytes32 dataHash, address sender)), dataHash being keccak256 of the batch (propose) or union
 * (challenge) bytes and sender the account that will send the call.
 */
export function commitmentOf(market: Hex, epoch: bigint, dataHash: Hex, sender: Hex): Hex {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["bytes32", "uint64", "bytes32", "address"],
    [market, epoch, dataHash, sender],
  );
  return keccak256(encoded).toLowerCase() as Hex;
}
