// Order validation: the checklist every node runs on every order, whatever its source (gossip, sync,
// the control API). Each rule is tagged with its action; the first failing rule throws an OrderError.
import { decodeOrder } from "./codec.ts";
import { MAX_ORDER_BYTES, SIGNATURE_BYTES } from "./constants.ts";
import { type Eip712Domain, orderDigestBytes, orderDigestFromWire } from "./eip712.ts";
import { classifyEpoch, type EpochSchedule } from "./epoch.ts";
import { OrderError, OrderErrorCode } from "./errors.ts";
import { bytesToHex, type Hex, hexToBytes } from "./hex.ts";
import { checkOrderAmounts, orderFromJson, type SignedOrder } from "./order.ts";
import { recoverSigner } from "./signature.ts";

/** What validation needs to know of a served market: its clock and its smallest order. */
export interface MarketRules extends EpochSchedule {
  /** The market's minQuantity, base units (≥ 1): smaller orders are REJECTed (BELOW_MIN_QUANTITY). */
  readonly minQuantity: bigint;
}

export interface ValidationContext {
  readonly domain: Eip712Domain;
  /** domainSeparator(domain), computed once by the caller. */
  readonly domainSeparator: Uint8Array;
  /** The rules of a market this node serves, or undefined for any other market. */
  readonly market: (id: Hex) => MarketRules | undefined;
  /**
   * Either the receiver's time (gossip and API: the acceptance window applies), or the one epoch an
   * order must belong to (reconciliation of a closed epoch: only that epoch is acceptable).
   */
  readonly time: { readonly nowMs: bigint } | { readonly epoch: bigint };
  /**
   * Whether the node carries orders of this trader at all (a node's knowledge of the chain: the traders
   * that deposited into the market). Absent: every trader. Checked before the signature, so that an
   * order of a trader who can never be covered costs a decode and a lookup, nothing more.
   */
  readonly admits?: (trader: Hex) => boolean;
  /**
   * Whether the node already holds this very order: this id with this signature (an id does not cover the
   * signature). Absent: none. Checked after the digest, before the signature (rule 4b), so that orders a
   * peer repeats, in bundle after bundle, cost no recovery.
   */
  readonly known?: (order: SignedOrder, id: Hex) => boolean;
}

export interface ValidOrder {
  readonly order: SignedOrder;
  /** The order id: the EIP-712 digest. */
  readonly id: Hex;
}

/**
 * Validates a decoded order. Rules, in order:
 * 1. [REJECT UNKNOWN_MARKET]   the market is served by this node
 * 2. [REJECT ZERO_QUANTITY, QUANTITY_OUT_OF_RANGE]  0 < quantity < 2^128 (checkOrderAmounts)
 * 3. [REJECT ZERO_PRICE, PRICE_OUT_OF_RANGE]        0 < limitPrice < 2^128 (checkOrderAmounts)
 * 3b. [REJECT BELOW_MIN_QUANTITY]  quantity ≥ the market's minQuantity (the contract's OrderBelowMinimum)
 * 3c. [IGNORE UNFUNDED]  the node admits the trader (ctx.admits: it has deposited into the market)
 * 4. [IGNORE EPOCH_NOT_YET_OPEN / IGNORE EPOCH_CLOSED / REJECT EPOCH_OUT_OF_WINDOW]  epoch in the window
 * 4b. [IGNORE KNOWN]  the node does not hold the order yet (ctx.known, by its id)
 * 5. [REJECT BAD_SIGNATURE_V, BAD_SIGNATURE_RS, HIGH_S]  signature shape (EIP-2 low-s, v in {27, 28})
 * 6. [REJECT UNRECOVERABLE_SIGNATURE]  a non-zero address recovers from the signature
 * 7. [REJECT SIGNER_MISMATCH]  the recovered address is `trader`
 * Range rules (uint64/uint128 widths) hold by construction of the wire codec and the JSON parser.
 */
export function validateOrder(order: SignedOrder, ctx: ValidationContext): ValidOrder {
  return validate(order, ctx, undefined);
}

/**
 * validateOrder's rules; `wire`: the canonical bytes `order` was decoded from (validateOrderBytes), from
 * which the digest is hashed and whose last 65 bytes are the signature; else both come from `order`.
 */
function validate(order: SignedOrder, ctx: ValidationContext, wire: Uint8Array | undefined): ValidOrder {
  const schedule = ctx.market(order.market);
  if (!schedule)
    throw new OrderError(OrderErrorCode.UNKNOWN_MARKET, `market ${order.market} is not served here`);
  checkOrderAmounts(order.quantity, order.limitPrice);
  if (order.quantity < schedule.minQuantity) {
    throw new OrderError(
      OrderErrorCode.BELOW_MIN_QUANTITY,
      `quantity ${order.quantity} is below the market's minimum of ${schedule.minQuantity}`,
    );
  }
  if (ctx.admits && !ctx.admits(order.trader)) {
    throw new OrderError(
      OrderErrorCode.UNFUNDED,
      `trader ${order.trader} has never deposited into market ${order.market}: deposit first`,
    );
  }

  if ("epoch" in ctx.time) {
    if (order.epoch !== ctx.time.epoch) {
      throw new OrderError(
        OrderErrorCode.EPOCH_OUT_OF_WINDOW,
        `order is for epoch ${order.epoch}, expected ${ctx.time.epoch}`,
      );
    }
  } else {
    const timing = classifyEpoch(schedule, order.epoch, ctx.time.nowMs);
    if (timing === "early")
      throw new OrderError(OrderErrorCode.EPOCH_NOT_YET_OPEN, `epoch ${order.epoch} not open`);
    if (timing === "late")
      throw new OrderError(OrderErrorCode.EPOCH_CLOSED, `epoch ${order.epoch} has closed`);
    if (timing === "out-of-window") {
      throw new OrderError(OrderErrorCode.EPOCH_OUT_OF_WINDOW, `epoch ${order.epoch} is outside the window`);
    }
  }

  const digest =
    wire === undefined
      ? orderDigestBytes(order, ctx.domainSeparator)
      : orderDigestFromWire(wire, ctx.domainSeparator);
  const id = bytesToHex(digest);
  if (ctx.known?.(order, id)) throw new OrderError(OrderErrorCode.KNOWN, `order ${id} is already held`);
  // The signature is the wire's last 65 bytes (codec.ts; decodeOrder refuses trailing bytes).
  const sig = wire === undefined ? hexToBytes(order.signature) : wire.subarray(wire.length - SIGNATURE_BYTES);
  const signer = recoverSigner(digest, sig);
  if (signer !== order.trader) {
    throw new OrderError(
      OrderErrorCode.SIGNER_MISMATCH,
      `signed by ${signer}, not by trader ${order.trader}`,
    );
  }
  return { order, id };
}

/**
 * Validates wire bytes from the network:
 * 0. [REJECT OVERSIZE] at most MAX_ORDER_BYTES; [REJECT MALFORMED] a canonical encoding (codec.ts)
 * then every rule of validateOrder.
 */
export function validateOrderBytes(bytes: Uint8Array, ctx: ValidationContext): ValidOrder {
  if (bytes.length > MAX_ORDER_BYTES) {
    throw new OrderError(
      OrderErrorCode.OVERSIZE,
      `${bytes.length} bytes > MAX_ORDER_BYTES ${MAX_ORDER_BYTES}`,
    );
  }
  return validate(decodeOrder(bytes), ctx, bytes);
}

/**
 * Validates an order in JSON form (CLI, control API):
 * 0. [REJECT MALFORMED] strict JSON shape (order.ts); a signature is required
 * 0. [REJECT WRONG_CHAIN / WRONG_CONTRACT] a claimed chainId / verifyingContract equals the node's
 * 0. [REJECT MALFORMED] a claimed id equals the computed one
 * then every rule of validateOrder.
 */
export function validateOrderJson(value: unknown, ctx: ValidationContext): ValidOrder {
  const order = orderFromJson(value);
  if (!("signature" in order)) throw new OrderError(OrderErrorCode.MALFORMED, 'missing field "signature"');
  const obj = value as Record<string, unknown>;
  if (obj.chainId !== undefined && String(obj.chainId) !== ctx.domain.chainId.toString()) {
    throw new OrderError(
      OrderErrorCode.WRONG_CHAIN,
      `order is for chain ${String(obj.chainId)}, this node is on chain ${ctx.domain.chainId}`,
    );
  }
  if (
    obj.verifyingContract !== undefined &&
    String(obj.verifyingContract).toLowerCase() !== ctx.domain.verifyingContract
  ) {
    throw new OrderError(
      OrderErrorCode.WRONG_CONTRACT,
      `order is for contract ${String(obj.verifyingContract)}, this node settles on ${ctx.domain.verifyingContract}`,
    );
  }
  const valid = validateOrder(order, ctx);
  if (obj.id !== undefined && String(obj.id).toLowerCase() !== valid.id) {
    throw new OrderError(
      OrderErrorCode.MALFORMED,
      `claimed id ${String(obj.id)} is not the order's digest ${valid.id}`,
    );
  }
  return valid;
}
