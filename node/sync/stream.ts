// Length-prefixed sync frames on a libp2p 3 stream, with bounded buffering and byte accounting.
//
// Reading: a libp2p 3 stream hands out data through 'message' events and its own async iterator
// buffers everything a peer sends, however far ahead of us it is. The protocol is strict
// request/response, so we read through a source that fails the session once a peer is more than
// MAX_SYNC_READ_AHEAD_BYTES ahead, and pipe it through it-length-prefixed with maxDataLength =
// MAX_SYNC_FRAME_BYTES, so that no frame (or length prefix) can make us allocate more.
// Writing: one lp-encoded frame per send(); when send() reports a full buffer we wait for drain.
import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import { pipe } from "it-pipe";
import type { Uint8ArrayList } from "uint8arraylist";
import { decodeMessage, encodeMessage, type SyncMessage, varintBytes } from "./codec.ts";
import { MAX_SYNC_FRAME_BYTES, MAX_SYNC_READ_AHEAD_BYTES } from "./constants.ts";
import { SyncError, SyncErrorCode } from "./errors.ts";

type Chunk = Uint8Array | Uint8ArrayList;

/**
 * The stream's data as an async iterable that holds at most `maxAheadBytes` unread bytes; beyond that
 * it aborts the stream with LIMIT_EXCEEDED. Ends when the remote closes its writable end; throws the
 * error of a reset or abort (our own aborts first, a remote reset after the data that came before it).
 */
export async function* boundedSource(stream: Stream, maxAheadBytes: number): AsyncGenerator<Chunk> {
  const queue: Chunk[] = [];
  let queued = 0;
  let ended = false;
  let localFailure: Error | undefined;
  let remoteFailure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onMessage = (evt: StreamMessageEvent): void => {
    if (localFailure !== undefined) return;
    queue.push(evt.data);
    queued += evt.data.byteLength;
    if (queued > maxAheadBytes) {
      localFailure = new SyncError(
        SyncErrorCode.LIMIT_EXCEEDED,
        `peer sent ${queued} bytes ahead of the protocol`,
      );
      stream.abort(localFailure);
    }
    notify();
  };
  const onClose = (evt: StreamCloseEvent): void => {
    ended = true;
    if (evt.error !== undefined) {
      if (evt.local === true) localFailure ??= evt.error;
      else remoteFailure ??= evt.error;
    }
    notify();
  };
  const onRemoteCloseWrite = (): void => {
    ended = true;
    notify();
  };
  // data that arrived before we listened sits in the stream's read buffer (bounded by it)
  stream.maxReadBufferLength = Math.min(stream.maxReadBufferLength, maxAheadBytes);
  stream.addEventListener("message", onMessage);
  stream.addEventListener("close", onClose);
  stream.addEventListener("remoteCloseWrite", onRemoteCloseWrite);
  if (stream.status !== "open" || stream.remoteWriteStatus === "closed") ended = true;
  try {
    for (;;) {
      if (localFailure !== undefined) throw localFailure;
      const chunk = queue.shift();
      if (chunk !== undefined) {
        queued -= chunk.byteLength;
        yield chunk;
        continue;
      }
      if (remoteFailure !== undefined) throw remoteFailure;
      // the read buffer is dispatched in a microtask after the listener is added: wait for it
      if (ended && stream.readBufferLength === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (ended) setImmediate(notify);
      });
    }
  } finally {
    stream.removeEventListener("message", onMessage);
    stream.removeEventListener("close", onClose);
    stream.removeEventListener("remoteCloseWrite", onRemoteCloseWrite);
  }
}

/** it-length-prefixed's errors, by name (their classes are not exported from the package root). */
function mapReadError(err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === "InvalidDataLengthError" || name === "InvalidDataLengthLengthError") {
    return new SyncError(SyncErrorCode.FRAME_TOO_LARGE, `frame length above ${MAX_SYNC_FRAME_BYTES}`, {
      cause: err,
    });
  }
  if (name === "InvalidMessageLengthError") {
    return new SyncError(SyncErrorCode.MALFORMED, "bad frame length", { cause: err });
  }
  if (name === "UnexpectedEOFError") {
    return new SyncError(SyncErrorCode.STREAM_CLOSED, "stream ended inside a frame", { cause: err });
  }
  return new SyncError(
    SyncErrorCode.STREAM_CLOSED,
    `stream failed: ${String((err as Error)?.message ?? err)}`,
    {
      cause: err,
    },
  );
}

export interface FramedStreamOptions {
  readonly maxFrameBytes?: number;
  readonly maxReadAheadBytes?: number;
}

/** Reads and writes whole sync messages on a stream; counts bytes including length prefixes. */
export class FramedStream {
  readonly stream: Stream;
  bytesSent = 0;
  bytesReceived = 0;
  private readonly frames: AsyncIterator<Uint8ArrayList>;

  constructor(stream: Stream, options: FramedStreamOptions = {}) {
    this.stream = stream;
    const maxDataLength = options.maxFrameBytes ?? MAX_SYNC_FRAME_BYTES;
    const source = boundedSource(stream, options.maxReadAheadBytes ?? MAX_SYNC_READ_AHEAD_BYTES);
    this.frames = pipe(source, (src) => lp.decode(src, { maxDataLength }))[Symbol.asyncIterator]();
  }

  /** The next message, or undefined when the peer closed its writable end between frames. */
  async read(): Promise<SyncMessage | undefined> {
    let next: IteratorResult<Uint8ArrayList>;
    try {
      next = await this.frames.next();
    } catch (err) {
      throw mapReadError(err);
    }
    if (next.done === true) return undefined;
    const body = next.value.subarray();
    this.bytesReceived += varintBytes(body.length) + body.length;
    return decodeMessage(body);
  }

  /** Writes one message; waits for drain when the stream's buffer is full. */
  async write(msg: SyncMessage, signal?: AbortSignal): Promise<void> {
    const body = encodeMessage(msg);
    const frame = lp.encode.single(body);
    try {
      const ok = this.stream.send(frame);
      this.bytesSent += frame.byteLength;
      if (!ok) await this.stream.onDrain({ signal });
    } catch (err) {
      if (signal?.aborted && signal.reason instanceof SyncError) throw signal.reason;
      throw mapReadError(err);
    }
  }

  /** Sends what we can without waiting (used for ERROR frames on the way out). Never throws. */
  trySend(msg: SyncMessage): void {
    try {
      if (this.stream.writeStatus !== "writable") return;
      const frame = lp.encode.single(encodeMessage(msg));
      this.stream.send(frame);
      this.bytesSent += frame.byteLength;
    } catch {
      // the stream is already gone: nothing to tell the peer
    }
  }

  /**
   * Closes our writable end after flushing, then waits up to `timeoutMs` in all for the peer to close
   * its end, and aborts the stream if it does not: a peer must not keep our streams (and libp2p's
   * per-connection stream slots) half-open after a session.
   */
  async close(timeoutMs: number): Promise<void> {
    const stream = this.stream;
    const live = (): boolean => stream.status === "open" || stream.status === "closing";
    if (!live()) return;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      await stream.close({ signal });
      if (live()) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stream.removeEventListener("close", done);
            signal.removeEventListener("abort", done);
            resolve();
          };
          stream.addEventListener("close", done);
          signal.addEventListener("abort", done);
          if (!live() || signal.aborted) done();
        });
      }
    } catch {
      // fall through to abort
    }
    if (live()) {
      stream.abort(new SyncError(SyncErrorCode.STREAM_CLOSED, "peer did not close the stream"));
    }
  }
}
