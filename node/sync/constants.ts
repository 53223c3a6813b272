// Constants of the order-set reconciliation protocol. Units are in the names: _MS milliseconds,
// _BYTES bytes; counts say what they count. Everything a peer can make us hold or compute is bounded
// by one of these. docs/sync.md explains the protocol and why each limit has its value.
import { MAX_ORDER_BYTES } from "../../protocol/constants.ts";

export const SYNC_PROTOCOL_PREFIX = "smartmarket";
export const SYNC_PROTOCOL_NAME = "sync";
export const SYNC_PROTOCOL_VERSION = "1.0.0";
/** The libp2p protocol id negotiated with multistream-select. */
export const SYNC_PROTOCOL = `/${SYNC_PROTOCOL_PREFIX}/${SYNC_PROTOCOL_NAME}/${SYNC_PROTOCOL_VERSION}`;

/** Size of an item (an order id) in bytes. */
export const ID_BYTES = 32;
/** Size of a range fingerprint in bytes: a truncated sha256. */
export const FINGERPRINT_BYTES = 16;

/**
 * Largest frame body (the bytes after the length prefix) either side sends or accepts. 64 KiB holds
 * a full IDLIST (MAX_IDS_PER_IDLIST ids) or a full order batch with room to spare, and keeps the memory
 * a session can pin small.
 */
export const MAX_SYNC_FRAME_BYTES = 65_536;
/**
 * Bytes a peer may send ahead of what we have asked for. The protocol is strict request/response, so
 * an honest peer never has more than one frame in flight; anything beyond that is a flood.
 */
export const MAX_SYNC_READ_AHEAD_BYTES = 2 * MAX_SYNC_FRAME_BYTES + 1_024;

/**
 * Sub-ranges a side splits a differing range into. Isolating one difference costs about
 * B·log_B(n) fingerprints; B = 8 sends ~30% fewer bytes than 16 for the same 3 round trips at
 * n = 10^4 (both sides split, so one round trip descends two levels). See docs/sync.md "Parameters".
 */
export const SYNC_BRANCH_FACTOR = 8;
/**
 * A side that holds at most this many ids in a differing range sends them (IDLIST) instead of
 * splitting it. Tuned on bytes: see docs/sync.md "Parameters".
 */
export const SYNC_IDLIST_THRESHOLD = 8;
/** Most ids in one IDLIST, and most extra ids in one IDLIST_REPLY range (32 KiB of ids). */
export const MAX_IDS_PER_IDLIST = 1_024;
/** Most ranges in one RECONCILE/OPEN message. */
export const MAX_RANGES_PER_MESSAGE = 4_096;
/** Most reconciliation rounds (OPEN + RECONCILE request frames) in one session. */
export const MAX_SYNC_ROUNDS = 64;

/** Most ids in one FETCH request, and most orders in one ORDERS or PUSH batch. */
export const MAX_ORDERS_PER_BATCH = 256;
/** Largest order the sync layer carries: the protocol's MAX_ORDER_BYTES. */
export const MAX_SYNC_ORDER_BYTES = MAX_ORDER_BYTES;
/**
 * Most orders a client may push in one session. The server cannot tell how many of its ids the client
 * lacks, so this caps the validation work (signature recovery) one session can cause.
 */
export const MAX_PUSHED_ORDERS_PER_SESSION = 50_000;
/** Longest reason text in an ERROR frame. */
export const MAX_ERROR_REASON_BYTES = 256;

/** A whole session, dial to close, must finish within this time on either side. */
export const SYNC_SESSION_TIMEOUT_MS = 30_000;
/** Time allowed to flush and close a stream after the session (or an ERROR frame). */
export const SYNC_CLOSE_TIMEOUT_MS = 2_000;
/** Concurrent inbound sessions from one peer (all markets together). */
export const MAX_SESSIONS_PER_PEER = 2;
/** Concurrent inbound sessions from all peers together. */
export const MAX_INBOUND_SESSIONS = 16;
/** Concurrent outbound sessions (reconcile calls) of this node. */
export const MAX_OUTBOUND_SESSIONS = 16;
/**
 * Stream limits given to libp2p's handle(): per connection. Above our own per-peer limit so that a
 * busy server answers with a typed BUSY error instead of libp2p resetting the stream.
 */
export const SYNC_MAX_INBOUND_STREAMS_PER_CONNECTION = MAX_SESSIONS_PER_PEER + 2;
export const SYNC_MAX_OUTBOUND_STREAMS_PER_CONNECTION = MAX_OUTBOUND_SESSIONS;
/**
 * Longest a server waits for the client's next request. An honest client answers at once (its slowest
 * step, validating a fetched batch of MAX_ORDERS_PER_BATCH orders, takes well under a second); a peer
 * that stalls to hold a slot loses it.
 */
export const SYNC_REQUEST_TIMEOUT_MS = 5_000;
/**
 * When every inbound slot is taken, a session of a peer scored no better than the newcomer may be
 * evicted once it has run this long (slots.ts). Honest sessions finish well within it.
 */
export const SYNC_MIN_EVICT_AGE_MS = 2_000;
