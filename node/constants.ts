// Node-level constants. Units are in the names.

import { MAX_BUNDLE_BYTES } from "../protocol/constants.ts";

/** Protocol ids: /<prefix>/<name>/<version>. */
export const PROTOCOL_PREFIX = "smartmarket";
export const PROTOCOL_VERSION = "1";

/** Gossip: one order topic and one announcement topic per market. */
export const TOPIC_ORDERS = "orders";
export const TOPIC_ANNOUNCE = "announce";

/** Largest gossip message accepted at the stream level: a full bundle of orders (protocol/bundle.ts). */
export const MAX_GOSSIP_MESSAGE_BYTES = Math.max(MAX_BUNDLE_BYTES, 1024);
/**
 * Orders waiting for signature verification (a bundle counts its orders); beyond this, new gossip is
 * IGNOREd (not penalised).
 */
export const MAX_GOSSIP_QUEUE_ORDERS = 8192;
/** Announcements waiting for validation (they go before orders); beyond this, IGNOREd. */
export const MAX_ANNOUNCE_QUEUE_LENGTH = 1024;
/** Orders verified per turn of the event loop before yielding (a bundle is never split). */
export const GOSSIP_VALIDATION_BATCH_ORDERS = 64;
/**
 * Per-peer token bucket for gossip, in orders (a bundle of n orders takes n tokens, a sync PUSH one per
 * order): sustained rate and burst. A node with a single mesh peer receives the whole market through it,
 * so the rate is above a market's throughput target (issue 13: 2,000 orders/s); it bounds what one peer
 * identity makes a node verify.
 */
export const PEER_GOSSIP_RATE_ORDERS_PER_S = 4000;
export const PEER_GOSSIP_BURST_ORDERS = 8000;
/** Most orders in one batch submission to the control API (POST of a JSON array): 4 full gossip bundles. */
export const MAX_ORDERS_PER_SUBMISSION = 256;
/**
 * Orders a node publishes as one bundle at most, and how long an order of the control API may wait for
 * others to share its message: orders taken in within this window go out together (one message per
 * MAX_ORDERS_PER_BUNDLE), a lone order goes out bare after it.
 */
export const PUBLISH_BUNDLE_WINDOW_MS = 2;
/** Outbound gossipsub stream buffer per peer (the library default is unbounded). */
export const GOSSIP_MAX_OUTBOUND_BUFFER_BYTES = 4 * 1024 * 1024;
/** Largest gossipsub RPC frame accepted from a peer (the library default is 4 MiB via it-length-prefixed). */
export const GOSSIP_MAX_INBOUND_RPC_BYTES = 1024 * 1024;

/** Epoch pipeline timing, as fractions of the epoch length and absolute caps. */
export const RECONCILE_WINDOW_MAX_MS = 2000;
/** Share of the epoch length after close spent reconciling before the set freezes (numerator / 8). */
export const RECONCILE_WINDOW_EIGHTHS = 2;
/** Delay between successive submitters in the deterministic ranking. */
export const SUBMIT_BACKOFF_MS = 800;
/** How often the chain is polled for new blocks and Settled events. */
export const CHAIN_POLL_MS = 400;

/** Network orders older than this many epochs are dropped from the store (epoch summaries and this
 * device's own orders are kept). */
export const KEEP_ORDER_EPOCHS = 1024n;

/** Default ports: the control API and the libp2p TCP listener. */
export const DEFAULT_API_PORT = 7400;
export const DEFAULT_P2P_PORT = 7401;

/** Files in the data directory. */
export const PEER_KEY_FILE = "peer.key";
export const API_TOKEN_FILE = "api-token";
export const DB_FILE = "node.db";
export const KEYSTORE_FILE = "keystore.json";
export const CONFIG_FILE = "config.json";

/** A node's clock this far from its peers' median (ms) is reported: status, /metrics, WARN (node/peer-clock.ts). */
export const PEER_SKEW_WARN_MS = 1000;

/**
 * A market's deposit history (its Deposited and Finalized logs) is read in pages of this many blocks: RPC
 * providers refuse eth_getLogs over wider ranges or too many results (node/market/funded.ts).
 */
export const DEPOSIT_LOG_PAGE_BLOCKS = 10_000;
/** A page the provider refuses is halved, down to this many blocks. */
export const DEPOSIT_LOG_PAGE_MIN_BLOCKS = 8;
/**
 * At start, a chain head this many blocks or fewer below the stored deposit cursor is a provider that
 * lags (a load-balanced RPC answering from a node a few blocks behind): nothing new to read yet. Further
 * below, it is another chain (a development chain started afresh), and the history is read again.
 */
export const DEPOSIT_CURSOR_LAG_TOLERANCE_BLOCKS = 64;
