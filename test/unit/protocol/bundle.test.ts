// The bundle framing (protocol/bundle.ts): several wire-encoded orders in one gossip message. The framing is
// a bijection on what it accepts, so that one set of orders in one order is one message.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { claimedOrderCount, decodeBundle, encodeBundle, isBundle } from "../../../protocol/bundle.ts";
import {
  BUNDLE_WIRE_VERSION,
  MAX_BUNDLE_BYTES,
  MAX_ORDER_BYTES,
  MAX_ORDERS_PER_BUNDLE,
  WIRE_VERSION,
} from "../../../protocol/constants.ts";
import { OrderError } from "../../../protocol/errors.ts";

const wire = (n: number, fill: number) => new Uint8Array(n).fill(fill);

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof OrderError) return err.code;
    throw err;
  }
  return "none";
}

describe("bundle framing", () => {
  it("round-trips 2..MAX_ORDERS_PER_BUNDLE orders of any length 1..MAX_ORDER_BYTES", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: MAX_ORDER_BYTES }), {
          minLength: 2,
          maxLength: MAX_ORDERS_PER_BUNDLE,
        }),
        (wires) => {
          const bytes = encodeBundle(wires);
          expect(isBundle(bytes)).toBe(true);
          expect(claimedOrderCount(bytes)).toBe(wires.length);
          expect(bytes.length).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
          expect(decodeBundle(bytes).map((w) => [...w])).toEqual(wires.map((w) => [...w]));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a single order is not a bundle (it travels bare), and neither is anything starting with another byte", () => {
    expect(isBundle(Uint8Array.of(WIRE_VERSION, 0))).toBe(false);
    expect(claimedOrderCount(Uint8Array.of(WIRE_VERSION, 9))).toBe(1);
    expect(codeOf(() => encodeBundle([wire(10, 1)]))).toBe("MALFORMED");
    expect(codeOf(() => decodeBundle(Uint8Array.of(BUNDLE_WIRE_VERSION, 1, 1, 7)))).toBe("MALFORMED");
  });

  it("refuses every framing fault as MALFORMED, and too many bytes as OVERSIZE", () => {
    const good = encodeBundle([wire(5, 1), wire(6, 2)]);
    const cases: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["no count", Uint8Array.of(BUNDLE_WIRE_VERSION)],
      ["count 0", Uint8Array.of(BUNDLE_WIRE_VERSION, 0)],
      ["count over the maximum", Uint8Array.of(BUNDLE_WIRE_VERSION, MAX_ORDERS_PER_BUNDLE + 1)],
      ["a zero-length order", Uint8Array.of(BUNDLE_WIRE_VERSION, 2, 0, 1, 5)],
      ["an order longer than MAX_ORDER_BYTES", Uint8Array.of(BUNDLE_WIRE_VERSION, 2, MAX_ORDER_BYTES + 1)],
      ["truncated inside an order", good.subarray(0, good.length - 1)],
      ["fewer orders than counted", good.subarray(0, 2 + 6)],
      ["trailing bytes", Uint8Array.of(...good, 0)],
    ];
    for (const [what, bytes] of cases)
      expect([what, codeOf(() => decodeBundle(bytes))]).toEqual([what, "MALFORMED"]);
    expect(codeOf(() => decodeBundle(new Uint8Array(MAX_BUNDLE_BYTES + 1).fill(BUNDLE_WIRE_VERSION)))).toBe(
      "OVERSIZE",
    );
    // a header that claims more orders than it carries is charged what it claims (the rate limit)
    expect(claimedOrderCount(Uint8Array.of(BUNDLE_WIRE_VERSION, 200))).toBe(200);
  });
});
