// Typed errors of the sync protocol. Every way a session can fail has one code; codes that travel in an
// ERROR frame have a fixed wire number (docs/sync.md "Errors").

export const SyncErrorCode = {
  /** Bytes that do not decode: unknown type, truncation, trailing bytes, non-canonical varint or bound,
   * ids out of order or outside their range, nonzero bitmap padding. */
  MALFORMED: "MALFORMED",
  /** A frame longer than MAX_SYNC_FRAME_BYTES (or a length prefix that is not a varint). */
  FRAME_TOO_LARGE: "FRAME_TOO_LARGE",
  /** A count above its limit: ranges, ids, orders, fetched or pushed orders per session, read-ahead. */
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
  /** More reconciliation rounds than MAX_SYNC_ROUNDS. */
  TOO_MANY_ROUNDS: "TOO_MANY_ROUNDS",
  /** A well-formed message at the wrong time, from the wrong role, or inconsistent with our set. */
  PROTOCOL_VIOLATION: "PROTOCOL_VIOLATION",
  /** The responder does not serve this market or no longer accepts sync for this epoch. */
  NOT_SERVED: "NOT_SERVED",
  /** The responder is at its per-peer or global session limit (or we are at our outbound limit). */
  BUSY: "BUSY",
  /** The session did not finish within its time limit. */
  TIMEOUT: "TIMEOUT",
  /** The caller aborted the session (its AbortSignal fired). */
  ABORTED: "ABORTED",
  /** The stream ended or was reset before the session was done. */
  STREAM_CLOSED: "STREAM_CLOSED",
  /** No stream to the peer could be opened (dial or protocol negotiation failed). */
  DIAL_FAILED: "DIAL_FAILED",
  /** The service is not started. */
  NOT_STARTED: "NOT_STARTED",
  /** A bug or a store that broke its contract. */
  INTERNAL: "INTERNAL",
} as const;
export type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

export const SYNC_ERROR_CODES: readonly SyncErrorCode[] = Object.values(SyncErrorCode);

/** Wire numbers of the codes an ERROR frame can carry. Local-only codes have none. */
export const SYNC_ERROR_WIRE_CODE: Readonly<Partial<Record<SyncErrorCode, number>>> = {
  MALFORMED: 1,
  FRAME_TOO_LARGE: 2,
  LIMIT_EXCEEDED: 3,
  TOO_MANY_ROUNDS: 4,
  PROTOCOL_VIOLATION: 5,
  NOT_SERVED: 6,
  BUSY: 7,
  TIMEOUT: 8,
  INTERNAL: 9,
  ABORTED: 10,
};

const BY_WIRE_CODE = new Map<number, SyncErrorCode>(
  Object.entries(SYNC_ERROR_WIRE_CODE).map(([code, n]) => [n, code as SyncErrorCode]),
);

export function syncErrorCodeFromWire(n: number): SyncErrorCode | undefined {
  return BY_WIRE_CODE.get(n);
}

export class SyncError extends Error {
  readonly code: SyncErrorCode;
  /** True when the peer reported the error in an ERROR frame; false when we detected it. */
  readonly remote: boolean;
  readonly detail: string;

  constructor(code: SyncErrorCode, detail: string, options: { remote?: boolean; cause?: unknown } = {}) {
    super(`${code}${options.remote ? " (remote)" : ""}: ${detail}`, { cause: options.cause });
    this.name = "SyncError";
    this.code = code;
    this.remote = options.remote ?? false;
    this.detail = detail;
  }
}

export function isSyncError(err: unknown): err is SyncError {
  return err instanceof SyncError;
}
