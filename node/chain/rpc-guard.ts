// Every JSON-RPC call of the node goes through one guard (fault: a hung or unreachable chain, e.g. anvil
// stopped with SIGSTOP, or an RPC endpoint that accepts connections and never answers). Before it, a call
// could hang for ethers' default 300 s with no log at all. Now:
//   - every attempt has a timeout and ends in a ChainError (code TIMEOUT when the chain did not answer);
//   - reads are retried with exponential back-off, a fixed number of times (they are idempotent);
//   - writes are never re-sent here: a write that timed out may have landed. Its caller re-checks the
//     chain (isSettled, the standing event) before it sends again (node/market/epoch-retry.ts);
//   - every failed attempt counts in smartmarket_rpc_errors_total{operation,code}, and a chain that does
//     not answer is logged at WARN, rate-limited per operation (the first failure, then at most one line
//     per RPC_WARN_INTERVAL_MS).
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../logger.ts";
import { ChainError, ChainErrorCode } from "./port.ts";

/** One attempt of a read (several requests for a compound read) may take this long. */
export const RPC_TIMEOUT_MS = 5000;
/** A read is tried this many times in all before its error leaves the port. */
export const RPC_READ_ATTEMPTS = 3;
/** Back-off before the second attempt; doubled for each further one. */
export const RPC_BACKOFF_MS = 200;
/** A failing operation is logged at most this often. */
export const RPC_WARN_INTERVAL_MS = 30_000;

export const RPC_ERRORS_METRIC = "smartmarket_rpc_errors_total";

/** Whether a ChainError is about reaching the chain (worth another try), not about what it answered. */
export function isTransient(err: unknown): boolean {
  const code = (err as Partial<ChainError> | null)?.code;
  return code === ChainErrorCode.TIMEOUT || code === ChainErrorCode.UNAVAILABLE;
}

/** Whether an ethers / fetch error (or one it wraps) is a timeout. */
export function isTimeoutError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "TIMEOUT" || code === "ETIMEDOUT" || code === "UND_ERR_HEADERS_TIMEOUT") return true;
    e = (e as { cause?: unknown }).cause ?? (e as { error?: unknown }).error;
  }
  return false;
}

export interface RpcGuardOptions {
  readonly timeoutMs?: number;
  readonly readAttempts?: number;
  readonly backoffMs?: number;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export class RpcGuard {
  readonly timeoutMs: number;
  private readonly readAttempts: number;
  private readonly backoffMs: number;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly toError: (operation: string, err: unknown) => ChainError;
  private logger: Logger | null = null;
  private errors: Counter<"operation" | "code"> | null = null;
  /** Per operation: when it was last logged, and failures since then. */
  private readonly warned = new Map<string, { atMs: number; suppressed: number }>();
  private closed = false;

  constructor(toError: (operation: string, err: unknown) => ChainError, opts: RpcGuardOptions = {}) {
    this.toError = toError;
    this.timeoutMs = opts.timeoutMs ?? RPC_TIMEOUT_MS;
    this.readAttempts = Math.max(1, opts.readAttempts ?? RPC_READ_ATTEMPTS);
    this.backoffMs = opts.backoffMs ?? RPC_BACKOFF_MS;
    this.clock = opts.clock ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** Where failures are logged and counted (the node's logger and metrics registry), once the node has them. */
  attach(opts: { readonly registry?: Registry; readonly logger?: Logger }): void {
    if (opts.logger) this.logger = opts.logger;
    if (opts.registry) {
      const known = opts.registry.getSingleMetric(RPC_ERRORS_METRIC) as
        | Counter<"operation" | "code">
        | undefined;
      this.errors =
        known ??
        new Counter({
          name: RPC_ERRORS_METRIC,
          help: "Failed JSON-RPC attempts of the node, by operation and ChainError code (TIMEOUT: no answer in time)",
          labelNames: ["operation", "code"],
          registers: [opts.registry],
        });
    }
  }

  /** Stops retrying (the port is closing). */
  close(): void {
    this.closed = true;
  }

  /** An idempotent read: a timeout per attempt, retried with back-off on TIMEOUT / UNAVAILABLE. */
  async read<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let delay = this.backoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(operation, fn, this.timeoutMs);
      } catch (err) {
        const e = this.failed(operation, err, attempt);
        if (!isTransient(e) || attempt >= this.readAttempts || this.closed) throw e;
        await this.sleep(delay);
        delay *= 2;
      }
    }
  }

  /**
   * A write (a transaction and its receipt): one attempt, never re-sent here. Each request inside it has
   * the provider's own timeout (RpcChain builds the provider with it); `timeoutMs`, if given, bounds the
   * whole (the caller then no longer waits, though the transaction may still land).
   */
  async write<T>(operation: string, fn: () => Promise<T>, timeoutMs: number | null = null): Promise<T> {
    try {
      return await this.once(operation, fn, timeoutMs);
    } catch (err) {
      throw this.failed(operation, err, 1);
    }
  }

  private async once<T>(operation: string, fn: () => Promise<T>, timeoutMs: number | null): Promise<T> {
    if (timeoutMs === null) return fn();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ChainError(ChainErrorCode.TIMEOUT, operation, `no answer from the chain in ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([fn(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Maps, counts and (rate-limited) logs one failed attempt; returns the ChainError. */
  private failed(operation: string, err: unknown, attempt: number): ChainError {
    const e = this.toError(operation, err);
    this.errors?.inc({ operation, code: e.code });
    // A revert is the contract's answer (e.g. another node proposed first): its caller logs it.
    if (!isTransient(e)) return e;
    const now = this.clock();
    const w = this.warned.get(operation);
    if (w && now - w.atMs < RPC_WARN_INTERVAL_MS) {
      w.suppressed++;
      return e;
    }
    this.warned.set(operation, { atMs: now, suppressed: 0 });
    this.logger?.warn("chain RPC failed", {
      operation,
      code: e.code,
      attempt,
      err: e.message,
      ...(w && w.suppressed > 0 ? { suppressedSinceLastLog: w.suppressed } : {}),
    });
    return e;
  }
}
