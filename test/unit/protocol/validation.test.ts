import { describe, expect, it } from "vitest";
import { encodeOrder } from "../../../protocol/codec.ts";
import { MAX_ORDER_BYTES, SECP256K1_N } from "../../../protocol/constants.ts";
import { domainSeparator, makeDomain, orderId } from "../../../protocol/eip712.ts";
import { GossipAction, OrderError, type OrderErrorCode } from "../../../protocol/errors.ts";
import { bytesToHex, bytesToUint, hexToBytes, uintToBytes } from "../../../protocol/hex.ts";
import { orderToJson } from "../../../protocol/order.ts";
import {
  type ValidationContext,
  validateOrder,
  validateOrderBytes,
  validateOrderJson,
} from "../../../protocol/validation.ts";
import { ADDRESSES, ctxAt, DOMAIN, MARKET, makeOrder, SCHEDULE, SEPARATOR, sign } from "./fixtures.ts";

function failure(fn: () => unknown): { code: OrderErrorCode; action: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof OrderError) return { code: err.code, action: err.action };
    throw err;
  }
  throw new Error("expected an OrderError");
}

const epochStartMs = (e: bigint) => (SCHEDULE.genesisTimeS + e * SCHEDULE.epochLengthS) * 1000n;

describe("validateOrder", () => {
  it("accepts a well-formed signed order for the current epoch and returns its id", () => {
    const signed = sign(makeOrder());
    const valid = validateOrderBytes(encodeOrder(signed), ctxAt());
    expect(valid.id).toBe(orderId(signed, SEPARATOR));
    expect(valid.order).toEqual(signed);
  });

  it("[REJECT OVERSIZE] and [REJECT MALFORMED] on bytes", () => {
    expect(failure(() => validateOrderBytes(new Uint8Array(MAX_ORDER_BYTES + 1), ctxAt()))).toEqual({
      code: "OVERSIZE",
      action: GossipAction.REJECT,
    });
    expect(failure(() => validateOrderBytes(new Uint8Array(40), ctxAt())).code).toBe("MALFORMED");
  });

  it("[REJECT UNKNOWN_MARKET] for a market the node does not serve", () => {
    const signed = sign(makeOrder({ market: `0x${"cd".repeat(32)}` }));
    expect(failure(() => validateOrder(signed, ctxAt())).code).toBe("UNKNOWN_MARKET");
  });

  it("[REJECT ZERO_QUANTITY] and [REJECT ZERO_PRICE]", () => {
    expect(failure(() => validateOrder(sign(makeOrder({ quantity: 0n })), ctxAt())).code).toBe(
      "ZERO_QUANTITY",
    );
    expect(failure(() => validateOrder(sign(makeOrder({ limitPrice: 0n })), ctxAt())).code).toBe(
      "ZERO_PRICE",
    );
  });

  it("[REJECT BELOW_MIN_QUANTITY] for a dust order, from every source (bytes, JSON, decoded)", () => {
    // A market whose smallest order is 20 base units: the contract reverts OrderBelowMinimum on a batch
    // holding a smaller one, so a node that stored it would gossip an order that can never settle.
    const ctx: ValidationContext = {
      ...ctxAt(),
      market: (id) => (id === MARKET ? { ...SCHEDULE, minQuantity: 20n } : undefined),
    };
    const dust = sign(makeOrder({ quantity: 19n }));
    expect(failure(() => validateOrder(dust, ctx))).toEqual({
      code: "BELOW_MIN_QUANTITY",
      action: GossipAction.REJECT,
    });
    expect(failure(() => validateOrderBytes(encodeOrder(dust), ctx)).code).toBe("BELOW_MIN_QUANTITY");
    expect(failure(() => validateOrderJson(orderToJson(dust), ctx)).code).toBe("BELOW_MIN_QUANTITY");
    expect(validateOrder(sign(makeOrder({ quantity: 20n })), ctx).order.quantity).toBe(20n);
  });

  it("applies the acceptance window: on time ACCEPT, next epoch IGNORE, recent IGNORE, far REJECT", () => {
    const at = (e: bigint, nowMs: bigint) => () => validateOrder(sign(makeOrder({ epoch: e })), ctxAt(nowMs));
    const mid5 = epochStartMs(5n) + 5000n;
    expect(() => at(5n, mid5)()).not.toThrow();
    // Clock disparity: 400 ms before the start and 400 ms after the end are still on time.
    expect(() => at(5n, epochStartMs(5n) - 400n)()).not.toThrow();
    expect(() => at(5n, epochStartMs(6n) + 400n)()).not.toThrow();
    expect(failure(at(6n, mid5))).toEqual({ code: "EPOCH_NOT_YET_OPEN", action: "IGNORE" });
    expect(failure(at(4n, mid5))).toEqual({ code: "EPOCH_CLOSED", action: "IGNORE" });
    expect(failure(at(3n, mid5))).toEqual({ code: "EPOCH_CLOSED", action: "IGNORE" });
    expect(failure(at(2n, mid5))).toEqual({ code: "EPOCH_OUT_OF_WINDOW", action: "REJECT" });
    expect(failure(at(7n, mid5))).toEqual({ code: "EPOCH_OUT_OF_WINDOW", action: "REJECT" });
    expect(failure(at(0n, (SCHEDULE.genesisTimeS - 100n) * 1000n)).code).toBe("EPOCH_OUT_OF_WINDOW");
  });

  it("in reconciliation mode accepts only the epoch being reconciled, whatever the time", () => {
    const ctx: ValidationContext = { ...ctxAt(), time: { epoch: 2n } };
    expect(() => validateOrder(sign(makeOrder({ epoch: 2n })), ctx)).not.toThrow();
    expect(failure(() => validateOrder(sign(makeOrder({ epoch: 3n })), ctx)).code).toBe(
      "EPOCH_OUT_OF_WINDOW",
    );
  });

  it("[REJECT SIGNER_MISMATCH] for an order signed by someone other than its trader", () => {
    const order = makeOrder({ trader: ADDRESSES[1]! });
    expect(failure(() => validateOrder(sign(order, 0), ctxAt())).code).toBe("SIGNER_MISMATCH");
  });

  it("[REJECT SIGNER_MISMATCH] for an order signed for another chain or contract", () => {
    const order = makeOrder();
    const otherChain = domainSeparator(makeDomain(1n, DOMAIN.verifyingContract));
    const otherContract = domainSeparator(makeDomain(DOMAIN.chainId, `0x${"99".repeat(20)}`));
    expect(failure(() => validateOrder(sign(order, 0, otherChain), ctxAt())).code).toBe("SIGNER_MISMATCH");
    expect(failure(() => validateOrder(sign(order, 0, otherContract), ctxAt())).code).toBe("SIGNER_MISMATCH");
  });

  it("[REJECT HIGH_S] [REJECT BAD_SIGNATURE_V] [REJECT BAD_SIGNATURE_RS] on malleated signatures", () => {
    const signed = sign(makeOrder());
    const sig = hexToBytes(signed.signature);
    const withSig = (bytes: Uint8Array) => ({ ...signed, signature: bytesToHex(bytes) });
    const twin = new Uint8Array(sig);
    twin.set(uintToBytes(SECP256K1_N - bytesToUint(sig.subarray(32, 64)), 32), 32);
    twin[64] = sig[64] === 27 ? 28 : 27;
    expect(failure(() => validateOrder(withSig(twin), ctxAt()))).toEqual({
      code: "HIGH_S",
      action: "REJECT",
    });
    const badV = new Uint8Array(sig);
    badV[64] = 0;
    expect(failure(() => validateOrder(withSig(badV), ctxAt())).code).toBe("BAD_SIGNATURE_V");
    const zeroR = new Uint8Array(sig);
    zeroR.fill(0, 0, 32);
    expect(failure(() => validateOrder(withSig(zeroR), ctxAt())).code).toBe("BAD_SIGNATURE_RS");
    // Flipping v alone recovers another key: a mismatch, never an acceptance.
    const flipped = new Uint8Array(sig);
    flipped[64] = sig[64] === 27 ? 28 : 27;
    expect(failure(() => validateOrder(withSig(flipped), ctxAt())).code).toBe("SIGNER_MISMATCH");
  });

  it("validates the JSON form: domain claims, id claims, strict fields", () => {
    const signed = sign(makeOrder());
    const json = orderToJson(signed);
    expect(validateOrderJson(json, ctxAt()).id).toBe(orderId(signed, SEPARATOR));
    expect(failure(() => validateOrderJson({ ...json, chainId: "1" }, ctxAt())).code).toBe("WRONG_CHAIN");
    expect(
      failure(() => validateOrderJson({ ...json, verifyingContract: `0x${"12".repeat(20)}` }, ctxAt())).code,
    ).toBe("WRONG_CONTRACT");
    expect(
      validateOrderJson(
        { ...json, chainId: "31337", verifyingContract: DOMAIN.verifyingContract.toUpperCase() },
        ctxAt(),
      ).id,
    ).toBe(orderId(signed, SEPARATOR));
    expect(failure(() => validateOrderJson({ ...json, id: `0x${"00".repeat(32)}` }, ctxAt())).code).toBe(
      "MALFORMED",
    );
    expect(failure(() => validateOrderJson({ ...json, quantity: 5 }, ctxAt())).code).toBe("MALFORMED");
    expect(failure(() => validateOrderJson({ ...json, quantity: "1.5" }, ctxAt())).code).toBe("MALFORMED");
    expect(failure(() => validateOrderJson({ ...json, quantity: "-1" }, ctxAt())).code).toBe("MALFORMED");
    expect(
      failure(() => validateOrderJson({ ...json, quantity: (1n << 128n).toString() }, ctxAt())).code,
    ).toBe("QUANTITY_OUT_OF_RANGE");
    expect(
      failure(() => validateOrderJson({ ...json, limitPrice: (1n << 128n).toString() }, ctxAt())).code,
    ).toBe("PRICE_OUT_OF_RANGE");
    expect(failure(() => validateOrderJson({ ...json, nonce: (1n << 64n).toString() }, ctxAt())).code).toBe(
      "UINT64_OUT_OF_RANGE",
    );
    expect(failure(() => validateOrderJson({ ...json, side: "hold" }, ctxAt())).code).toBe("MALFORMED");
    expect(failure(() => validateOrderJson({ ...json, extra: 1 }, ctxAt())).code).toBe("MALFORMED");
    const { signature: _sig, ...unsigned } = json;
    expect(failure(() => validateOrderJson(unsigned, ctxAt())).code).toBe("MALFORMED");
    expect(failure(() => validateOrderJson("order", ctxAt())).code).toBe("MALFORMED");
    expect(MARKET).toBe(json.market);
  });
});

describe("acceptance window around genesis", () => {
  it("IGNOREs epoch 0 shortly before genesis, REJECTs it long before", () => {
    const at = (nowMs: bigint) => () => validateOrder(sign(makeOrder({ epoch: 0n })), ctxAt(nowMs));
    expect(failure(at(SCHEDULE.genesisTimeS * 1000n - 3000n)).code).toBe("EPOCH_NOT_YET_OPEN");
    expect(() => at(SCHEDULE.genesisTimeS * 1000n - 300n)()).not.toThrow();
  });
});
