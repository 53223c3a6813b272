// abi.encode of a clearing result, by hand: the settlement contract hashes the same bytes, and a
// half-million-fill encoding through ethers' AbiCoder would dominate clear's running time.
//
//   abi.encode(bytes32 market, uint64 epoch, uint256 price, uint256 volume, Fill[] fills)
//   struct Fill { bytes32 id; uint256 quantity; }
//
// Head: five 32-byte words (the array's word is the offset of its tail, 5·32). Tail: the length, then
// each Fill as two words (a static struct is encoded in place).
import { MAX_UINT64, MAX_UINT256 } from "../protocol/constants.ts";
import { ClearingError, ClearingErrorCode } from "./errors.ts";

const WORD_BYTES = 32;
const HEAD_WORDS = 5;
/** The head, then the array's length word. */
const FILLS_OFFSET_BYTES = (HEAD_WORDS + 1) * WORD_BYTES;
const FILL_BYTES = 2 * WORD_BYTES;

/** An encoding being written: the bytes and a view on them for the integer words. */
export interface ResultEncoding {
  readonly bytes: Buffer;
  readonly view: DataView;
}

/**
 * Allocates the encoding of a result with `fillCount` fills and writes everything but the fills.
 * Checks a canonical market, a uint64 epoch and uint256 price and volume (ClearingError BAD_CONTEXT /
 * BAD_FILLS). A null price encodes as 0.
 */
export function beginResultEncoding(
  market: string,
  epoch: bigint,
  price: bigint | null,
  volume: bigint,
  fillCount: number,
): ResultEncoding {
  const bytes = Buffer.alloc(FILLS_OFFSET_BYTES + FILL_BYTES * fillCount);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!writeBytes32(bytes, 0, market)) {
    throw new ClearingError(ClearingErrorCode.BAD_CONTEXT, "market must be 0x + 64 lowercase hex digits");
  }
  if (typeof epoch !== "bigint" || epoch < 0n || epoch > MAX_UINT64) {
    throw new ClearingError(ClearingErrorCode.BAD_CONTEXT, `epoch must be a uint64, got ${String(epoch)}`);
  }
  writeUint256(view, WORD_BYTES, epoch);
  for (const [word, value, what] of [
    [2, price ?? 0n, "price"],
    [3, volume, "volume"],
  ] as const) {
    if (typeof value !== "bigint" || value < 0n || value > MAX_UINT256) {
      throw new ClearingError(ClearingErrorCode.BAD_FILLS, `${what} must be a uint256, got ${String(value)}`);
    }
    writeUint256(view, word * WORD_BYTES, value);
  }
  writeUint256(view, 4 * WORD_BYTES, BigInt(HEAD_WORDS * WORD_BYTES));
  writeUint256(view, 5 * WORD_BYTES, BigInt(fillCount));
  return { bytes, view };
}

/**
 * Writes fill `index` from an id already decoded to bytes (idBytes[idOffset .. idOffset + 32)) and a
 * quantity in 1 .. 2^128 − 1. For clear's own fills, which are canonical by construction.
 */
export function writeDecodedFill(
  encoding: ResultEncoding,
  index: number,
  idBytes: Buffer,
  idOffset: number,
  quantity: bigint,
): void {
  const offset = FILLS_OFFSET_BYTES + FILL_BYTES * index;
  const bytes = encoding.bytes;
  // A plain loop: for 32 bytes it is faster than a call into Buffer.copy.
  for (let b = 0; b < WORD_BYTES; b++) bytes[offset + b] = idBytes[idOffset + b]!;
  writeUint256(encoding.view, offset + WORD_BYTES, quantity);
}

export interface EncodableFill {
  readonly id: string;
  readonly quantity: bigint;
}

/**
 * The whole encoding from fills given as hex. Checks that they are canonical: ids 0x + 64 lowercase
 * hex, strictly ascending; quantities in 1 .. 2^256 − 1 (ClearingError BAD_FILLS otherwise).
 */
export function encodeResult(
  market: string,
  epoch: bigint,
  price: bigint | null,
  volume: bigint,
  fills: readonly EncodableFill[],
): Uint8Array {
  const encoding = beginResultEncoding(market, epoch, price, volume, fills.length);
  let previousId = "";
  for (let i = 0; i < fills.length; i++) {
    const { id, quantity } = fills[i]!;
    const offset = FILLS_OFFSET_BYTES + FILL_BYTES * i;
    if (!writeBytes32(encoding.bytes, offset, id)) {
      throw new ClearingError(
        ClearingErrorCode.BAD_FILLS,
        `fill ${i}: id must be 0x + 64 lowercase hex digits`,
        i,
        typeof id === "string" ? id : undefined,
      );
    }
    // Canonical ids compare as strings exactly as their numbers do: strictly ascending = sorted, unique.
    if (!(id > previousId)) {
      throw new ClearingError(ClearingErrorCode.BAD_FILLS, `fill ${i}: ids must strictly ascend`, i, id);
    }
    previousId = id;
    if (typeof quantity !== "bigint" || quantity <= 0n || quantity > MAX_UINT256) {
      throw new ClearingError(
        ClearingErrorCode.BAD_FILLS,
        `fill ${i} (${id}): quantity must be in 1 .. 2^256 - 1 (zero fills are omitted)`,
        i,
        id,
      );
    }
    writeUint256(encoding.view, offset + WORD_BYTES, quantity);
  }
  return encoding.bytes;
}

/** Decodes a canonical bytes32 (0x + 64 lowercase hex) into bytes[offset..offset+32); false if not canonical. */
function writeBytes32(bytes: Buffer, offset: number, hex: unknown): boolean {
  return (
    typeof hex === "string" &&
    hex.length === 2 + 2 * WORD_BYTES &&
    hex.startsWith("0x") &&
    // Buffer's hex decoder stops at the first pair that is not hex.
    bytes.write(hex.slice(2), offset, WORD_BYTES, "hex") === WORD_BYTES &&
    hex.toLowerCase() === hex
  );
}

/** Big-endian uint256 into a zeroed word. `value` is in 0 .. 2^256 − 1 (checked by the callers). */
function writeUint256(view: DataView, offset: number, value: bigint): void {
  if (value <= MAX_UINT64) {
    // The common case (quantities, prices): one 64-bit store; the word's other bytes stay zero.
    view.setBigUint64(offset + 24, value);
    return;
  }
  let rest = value;
  for (let part = 3; part >= 0; part--) {
    view.setBigUint64(offset + 8 * part, rest & MAX_UINT64);
    rest >>= 64n;
  }
}
