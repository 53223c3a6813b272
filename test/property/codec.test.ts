// Property tests of the canonical wire codec: a bijection on accepted bytes; only typed errors otherwise.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeOrder, encodeOrder } from "../../protocol/codec.ts";
import { MAX_ORDER_BYTES } from "../../protocol/constants.ts";
import {
  domainSeparator,
  makeDomain,
  orderDigestBytes,
  orderDigestFromWire,
  orderIdEthers,
} from "../../protocol/eip712.ts";
import { OrderError } from "../../protocol/errors.ts";
import { bytesToHex } from "../../protocol/hex.ts";
import type { SignedOrder } from "../../protocol/order.ts";

/** SMARTMARKET_LONG_PROPERTIES=1 runs the long versions (>= 100,000 cases each). */
const LONG = process.env.SMARTMARKET_LONG_PROPERTIES === "1";
const RUNS = LONG ? 100_000 : 5_000;

const hexBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map(bytesToHex);
const uintOfBits = (bits: bigint) =>
  fc.oneof(
    fc.bigInt({ min: 0n, max: 255n }),
    fc.bigInt({ min: 0n, max: (1n << bits) - 1n }),
    fc.constant((1n << bits) - 1n),
    fc.constant(0n),
  );

const signedOrderArb: fc.Arbitrary<SignedOrder> = fc.record({
  market: hexBytes(32),
  epoch: uintOfBits(64n),
  side: fc.constantFrom("buy" as const, "sell" as const),
  quantity: uintOfBits(128n),
  limitPrice: uintOfBits(128n),
  nonce: uintOfBits(64n),
  trader: hexBytes(20),
  signature: hexBytes(65),
});

function decodeOrTyped(bytes: Uint8Array): SignedOrder | OrderError {
  try {
    return decodeOrder(bytes);
  } catch (err) {
    if (err instanceof OrderError) return err;
    throw err; // anything else fails the property
  }
}

describe("wire codec", () => {
  it("decode(encode(x)) = x, and the encoding is at most MAX_ORDER_BYTES", () => {
    fc.assert(
      fc.property(signedOrderArb, (order) => {
        const bytes = encodeOrder(order);
        expect(bytes.length).toBeLessThanOrEqual(MAX_ORDER_BYTES);
        expect(decodeOrder(bytes)).toEqual(order);
      }),
      { numRuns: RUNS },
    );
  });

  it("the digest hashed from the wire bytes is the order's EIP-712 digest (and ethers' on a sample)", () => {
    const domain = makeDomain(31337n, `0x${"5f".repeat(20)}`);
    const separator = domainSeparator(domain);
    let i = 0;
    fc.assert(
      fc.property(signedOrderArb, (order) => {
        // one scratch buffer serves every call: runs alternate long and short encodings, so a byte left
        // from the previous order would show
        const fromWire = bytesToHex(orderDigestFromWire(encodeOrder(order), separator));
        expect(fromWire).toBe(bytesToHex(orderDigestBytes(order, separator)));
        if (i++ % 50 === 0) expect(fromWire).toBe(orderIdEthers(order, domain));
      }),
      { numRuns: RUNS },
    );
  });

  it("the largest order is exactly MAX_ORDER_BYTES", () => {
    const max = (bits: bigint) => (1n << bits) - 1n;
    const order: SignedOrder = {
      market: `0x${"ff".repeat(32)}`,
      epoch: max(64n),
      side: "sell",
      quantity: max(128n),
      limitPrice: max(128n),
      nonce: max(64n),
      trader: `0x${"ff".repeat(20)}`,
      signature: `0x${"ff".repeat(65)}`,
    };
    expect(encodeOrder(order).length).toBe(MAX_ORDER_BYTES);
  });

  it("encode(decode(b)) = b for every accepted b, and the decoder throws only OrderError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: MAX_ORDER_BYTES + 8 }), (bytes) => {
        const out = decodeOrTyped(bytes);
        if (!(out instanceof OrderError)) expect(encodeOrder(out)).toEqual(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it("mutations of valid encodings either decode to an order that re-encodes identically or throw OrderError", () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant("append" as const),
        extra: fc.uint8Array({ minLength: 1, maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(signedOrderArb, fc.array(mutation, { minLength: 1, maxLength: 3 }), (order, mutations) => {
        let bytes = encodeOrder(order);
        for (const m of mutations) {
          const at = "at" in m ? m.at % Math.max(bytes.length, 1) : 0;
          if (m.kind === "flip" && bytes.length > 0) {
            bytes = new Uint8Array(bytes);
            bytes[at] = bytes[at]! ^ (1 << m.bit);
          } else if (m.kind === "truncate") bytes = bytes.subarray(0, at);
          else if (m.kind === "append") bytes = Uint8Array.from([...bytes, ...m.extra]);
          else if (m.kind === "set" && bytes.length > 0) {
            bytes = new Uint8Array(bytes);
            bytes[at] = m.value;
          } else if (m.kind === "delete")
            bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]);
        }
        const out = decodeOrTyped(bytes);
        if (!(out instanceof OrderError)) expect(encodeOrder(out)).toEqual(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it("rejects non-minimal integers, reserved flags, unknown versions, trailing bytes and oversize input", () => {
    const order: SignedOrder = {
      market: `0x${"11".repeat(32)}`,
      epoch: 7n,
      side: "buy",
      quantity: 500n,
      limitPrice: 3n,
      nonce: 0n,
      trader: `0x${"22".repeat(20)}`,
      signature: `0x${"33".repeat(65)}`,
    };
    const good = encodeOrder(order);
    const codeOf = (b: Uint8Array) => (decodeOrTyped(b) as OrderError).code;
    // epoch 7 is at offset 34: length 1, byte 7. Re-encode it as length 2, bytes 00 07.
    const nonMinimal = Uint8Array.from([...good.subarray(0, 34), 2, 0, 7, ...good.subarray(36)]);
    expect(codeOf(nonMinimal)).toBe("MALFORMED");
    const flags = new Uint8Array(good);
    flags[1] = 0x02;
    expect(codeOf(flags)).toBe("MALFORMED");
    const version = new Uint8Array(good);
    version[0] = 0x02;
    expect(codeOf(version)).toBe("MALFORMED");
    expect(codeOf(Uint8Array.from([...good, 0]))).toBe("MALFORMED");
    expect(codeOf(new Uint8Array(MAX_ORDER_BYTES + 1))).toBe("OVERSIZE");
    expect(codeOf(new Uint8Array(0))).toBe("MALFORMED");
  });
});
