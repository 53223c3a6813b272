// Readable errors for contract reverts: the revert data is decoded with the contracts' ABIs, so a caller
// sees `AlreadySettled(market=0x.., epoch=4)` and can branch on `errorName` and `args`.
import type { Interface } from "ethers";
import type { Hex } from "../protocol/hex.ts";
import { smartMarketInterface, testTokenInterface } from "./artifacts.ts";

export interface DecodedRevert {
  /** The custom error's name, e.g. "InsufficientCollateral"; "Error" for require strings, "Panic" for panics. */
  readonly errorName: string;
  /** Its arguments by name, in declaration order. */
  readonly args: Readonly<Record<string, unknown>>;
  readonly signature: string;
  /** The raw revert data. */
  readonly data: Hex;
}

/** A contract call or transaction reverted; `errorName`/`args` are the decoded custom error. */
export class SettlementRevertError extends Error implements DecodedRevert {
  /** The contract's custom error name (e.g. "AlreadySettled"): the typed code of a revert. */
  get code(): string {
    return this.errorName;
  }
  readonly errorName: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly signature: string;
  readonly data: Hex;
  /** What the client was doing, e.g. "settle". */
  readonly operation: string;

  constructor(operation: string, decoded: DecodedRevert, cause?: unknown) {
    super(`${operation} reverted: ${formatRevert(decoded)}`, { cause });
    this.name = "SettlementRevertError";
    this.errorName = decoded.errorName;
    this.args = decoded.args;
    this.signature = decoded.signature;
    this.data = decoded.data;
    this.operation = operation;
  }
}

/** Any other failure of a client operation (transport, a revert without data, a malformed answer...). */
export class SettlementClientError extends Error {
  readonly code = "CLIENT_FAILURE" as const;
  readonly operation: string;
  constructor(operation: string, message: string, cause?: unknown) {
    super(`${operation}: ${message}`, { cause });
    this.name = "SettlementClientError";
    this.operation = operation;
  }
}

function formatValue(value: unknown): string {
  return typeof value === "bigint" ? value.toString() : String(value);
}

export function formatRevert(decoded: DecodedRevert): string {
  const args = Object.entries(decoded.args).map(([k, v]) => `${k}=${formatValue(v)}`);
  return `${decoded.errorName}(${args.join(", ")})`;
}

const INTERFACES: readonly Interface[] = [smartMarketInterface, testTokenInterface];

/** Decodes revert data with the settlement contract's ABI (then TestToken's); null if no ABI knows it. */
export function decodeRevertData(data: string): DecodedRevert | null {
  if (!/^0x[0-9a-fA-F]{8}/.test(data)) return null;
  for (const iface of INTERFACES) {
    try {
      const parsed = iface.parseError(data);
      if (!parsed) continue;
      const args: Record<string, unknown> = {};
      parsed.fragment.inputs.forEach((input, i) => {
        const value = parsed.args[i] as unknown;
        args[input.name || `arg${i}`] = typeof value === "string" ? value.toLowerCase() : value;
      });
      return { errorName: parsed.name, args, signature: parsed.signature, data: data.toLowerCase() as Hex };
    } catch {
      // not this interface's error, or malformed arguments: try the next one
    }
  }
  return null;
}

/**
 * The revert data inside an ethers error: ethers puts it in `data` of a CallExceptionError, JSON-RPC servers
 * nest it in `error.data` or `info.error.data`. Searches a few levels deep.
 */
export function findRevertData(err: unknown, depth = 0): string | null {
  if (depth > 5 || err === null || typeof err !== "object") return null;
  const obj = err as Record<string, unknown>;
  const data = obj.data;
  if (typeof data === "string" && /^0x[0-9a-fA-F]{8}/.test(data)) return data;
  for (const key of ["error", "info", "cause", "data", "revert"]) {
    const found = findRevertData(obj[key], depth + 1);
    if (found) return found;
  }
  return null;
}

/** Maps any error of a client operation to a SettlementRevertError when its revert data decodes. */
export function toSettlementError(operation: string, err: unknown): Error {
  if (err instanceof SettlementRevertError || err instanceof SettlementClientError) return err;
  const data = findRevertData(err);
  if (data) {
    const decoded = decodeRevertData(data);
    if (decoded) return new SettlementRevertError(operation, decoded, err);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SettlementClientError(operation, message, err);
}

/** Every way batch bytes or a batch selection can be wrong; settlement/batch.ts. */
export const BatchErrorCode = {
  /**
   * The bytes are not a batch (432 + 126·n bytes, n ≥ 1) or not a union (864 + 127·n bytes, n ≥ 1, flags
   * 0 or 1): what the contract reverts as MalformedBatch.
   */
  MALFORMED_BATCH: "MALFORMED_BATCH",
  /** A hex string that is not 0x-prefixed, even-length hex. */
  BAD_HEX: "BAD_HEX",
  /** A value to encode does not fit its field (a price of 17 bytes, a negative sum, a side above 255...). */
  FIELD_OUT_OF_RANGE: "FIELD_OUT_OF_RANGE",
  /** A batch order is not a signed order (side neither 0 nor 1), or a signature is not 65 bytes. */
  BAD_ORDER: "BAD_ORDER",
  /** A signed order given to the selection is for another market or epoch. */
  WRONG_CONTEXT: "WRONG_CONTEXT",
  /**
   * A selection would exceed the contract's bound (MAX_BATCH_ORDERS for a proposal and for a challenge's
   * new batch, MAX_UNION_ORDERS for a union; clearing/limits.ts), which the contract reverts as
   * BatchTooLarge. A proposal never does (the rule bounds it), nor a union (a standing batch and a new
   * batch are each at most 512 orders); a challenge's new batch can, against a standing batch that leaves
   * out many of its traders' smaller kept orders (settlement/batch.ts, selectChallenge).
   */
  BATCH_TOO_LARGE: "BATCH_TOO_LARGE",
  /** An internal invariant failed: a bug, never a property of the input. */
  INVARIANT_VIOLATED: "INVARIANT_VIOLATED",
} as const;
export type BatchErrorCode = (typeof BatchErrorCode)[keyof typeof BatchErrorCode];

export class BatchError extends Error {
  readonly code: BatchErrorCode;
  readonly detail: string;
  /** The position of the offending order in the caller's array or the batch, when the error is about one. */
  readonly index: number | undefined;

  constructor(code: BatchErrorCode, detail: string, index?: number) {
    super(`${code}: ${detail}`);
    this.name = "BatchError";
    this.code = code;
    this.detail = detail;
    this.index = index;
  }
}
