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

/**
 * Clock disparity tolerated between honest devices: an order for epoch e is on time from
 * `start(e) - MAX_CLOCK_DISPARITY_MS` until `end(e) + MAX_CLOCK_DISPARITY_MS`.
 */
export const MAX_CLOCK_DISPARITY_MS = 500n;
/**
 * Orders a node keeps per trader and epoch: the MAX_STORED_ORDERS_PER_TRADER of smallest id. A smaller id
 * evicts the trader's largest; a larger one is IGNOREd (TRADER_CAP). Every node keeps the same ones (the
 * smallest ids it has seen, and reconciliation shows each node the others'), so order sets still agree.
 * Four times the clearing's MAX_KEPT_PER_TRADER (clearing/limits.ts): room for orders that coverage
 * excludes, and a bound on what one funded wallet costs every node per epoch.
 */
export const MAX_STORED_ORDERS_PER_TRADER = 16;

/** Orders for up to this many epochs ahead of the current one are IGNOREd (not forwarded, not penalised). */
export const EARLY_EPOCHS_IGNORED = 1n;
/** Orders for up to this many epochs behind the current one are IGNOREd; older ones are REJECTed. */
export const LATE_EPOCHS_IGNORED = 2n;
