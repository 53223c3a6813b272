// Protocol constants. Units are in the names: _MS milliseconds, _S seconds, _BYTES bytes.

/** EIP-712 domain name and version of the settlement contract. */
export const EIP712_DOMAIN_NAME = "smartmarket";
export const EIP712_DOMAIN_VERSION = "1";

/** The EIP-712 type string of an order. The Solidity contract hashes the same string. */
export const ORDER_TYPE_STRING =
  "Order(bytes32 market,uint64 epoch,uint8 side,uint128 quantity,uint128 limitPrice,uint64 nonce,address trader)";

export const MAX_UINT64 = (1n << 64n) - 1n;
export const MAX_UINT128 = (1n << 128n) - 1n;
export const MAX_UINT256 = (1n << 256n) - 1n;

/** secp256k1 group order n, and n/2 (the largest accepted `s`: low-s rule of EIP-2). */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const SECP256K1_HALF_N = SECP256K1_N >> 1n;

/** First byte of every wire-encoded order. A new encoding gets a new version byte. */
export const WIRE_VERSION = 0x01;
/** Size of a wire-encoded order with every variable-length integer at its maximum width. */
export const MAX_ORDER_BYTES = 1 + 1 + 32 + (1 + 8) + (1 + 16) + (1 + 16) + (1 + 8) + 20 + 65;
/** A signature r ‖ s ‖ v: the last field of an order's wire encoding. */
export const SIGNATURE_BYTES = 65;

/**
 * First byte of a bundle: several wire-encoded orders in one gossip message (protocol/bundle.ts). It can
 * never start an order (WIRE_VERSION), so a message is either one order or one bundle.
 */
export const BUNDLE_WIRE_VERSION = 0x81;
/**
 * Most orders in one bundle. libp2p's receive path costs about 120 µs a message whatever it carries
 * (issue 13's profile), several times the cost of verifying an order: a publisher with many orders at once
 * (a gateway, a device fleet) sends them as bundles of up to this many.
 */
export const MAX_ORDERS_PER_BUNDLE = 64;
/** Size of the largest bundle: version, count, and per order a length byte and the order. */
export const MAX_BUNDLE_BYTES = 2 + MAX_ORDERS_PER_BUNDLE * (1 + MAX_ORDER_BYTES);

/**
 * Clock disparity tolerated between honest devices: an order for epoch e is on time from
 * `start(e) - MAX_CLOCK_DISPARITY_MS` until `end(e) + MAX_CLOCK_DISPARITY_MS`.
 */
export const MAX_CLOCK_DISPARITY_MS = 500n;
/**
 * How many times gossip may evict an order of one trader in one epoch. A node keeps, per trader, side and
 * epoch, the clearing's MAX_ORDERS_PER_TRADER_SIDE orders of smallest id (the only ones that can ever be
 * kept, clearing/limits.ts): a smaller id evicts the largest, a larger one is IGNOREd (TRADER_CAP). A
 * wallet that publishes its orders in descending id would make every one an eviction, verified, stored
 * and forwarded by every node; past this many, gossip IGNOREs them and they come in by the close's
 * reconciliation, which still evicts, so every node ends with the same smallest ids. A count of evictions.
 */
export const MAX_GOSSIP_EVICTIONS_PER_TRADER = 16;

/** Orders for up to this many epochs ahead of the current one are IGNOREd (not forwarded, not penalised). */
export const EARLY_EPOCHS_IGNORED = 1n;
/** Orders for up to this many epochs behind the current one are IGNOREd; older ones are REJECTed. */
export const LATE_EPOCHS_IGNORED = 2n;
