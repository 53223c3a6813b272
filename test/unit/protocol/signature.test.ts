import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SECP256K1_N } from "../../../protocol/constants.ts";
import { ORDER_TYPES, orderDigestBytes, orderIdEthers, orderTypedValue } from "../../../protocol/eip712.ts";
import { OrderError, OrderErrorCode } from "../../../protocol/errors.ts";
import { recoverAddress, Wallet } from "../../../protocol/ethers.ts";
import { bytesToHex, type Hex, hexToBytes, uintToBytes } from "../../../protocol/hex.ts";
import type { Order } from "../../../protocol/order.ts";
import {
  checkSignatureShape,
  recoverSigner,
  recoverSignerNoble,
  signatureBackend,
} from "../../../protocol/signature.ts";
import { ADDRESSES, DOMAIN, KEYS, makeOrder, SEPARATOR, sign } from "./fixtures.ts";

const orderArb: fc.Arbitrary<{ order: Order; key: number }> = fc
  .record({
    key: fc.integer({ min: 0, max: KEYS.length - 1 }),
    epoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    side: fc.constantFrom("buy" as const, "sell" as const),
    quantity: fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }),
    limitPrice: fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }),
    nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map(({ key, ...fields }) => ({ key, order: makeOrder({ ...fields, trader: ADDRESSES[key]! }, key) }));

function twin(signature: Hex): Hex {
  // (r, n - s) with the opposite recovery id: the other valid ECDSA signature of the same digest.
  const sig = hexToBytes(signature);
  const s = BigInt(bytesToHex(sig.subarray(32, 64)));
  const out = new Uint8Array(sig);
  out.set(uintToBytes(SECP256K1_N - s, 32), 32);
  out[64] = sig[64] === 27 ? 28 : 27;
  return bytesToHex(out);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof OrderError) return err.code;
    throw err;
  }
  return undefined;
}

describe("signature recovery", () => {
  it("runs on the native libsecp256k1 backend in this environment", () => {
    expect(signatureBackend).toBe("native");
  });

  it("the fast path, the noble fallback and ethers recover the same signer for valid orders", () => {
    fc.assert(
      fc.property(orderArb, ({ order, key }) => {
        const signed = sign(order, key);
        const digest = orderDigestBytes(order, SEPARATOR);
        expect(recoverSigner(digest, hexToBytes(signed.signature))).toBe(order.trader);
        expect(recoverSignerNoble(digest, hexToBytes(signed.signature))).toBe(order.trader);
        expect(recoverAddress(orderIdEthers(order, DOMAIN), signed.signature).toLowerCase()).toBe(
          order.trader,
        );
      }),
      { numRuns: 300 },
    );
  });

  it("signatures made by an ethers Wallet recover on the fast path", async () => {
    const wallet = new Wallet(KEYS[3]!);
    const order = makeOrder({ trader: ADDRESSES[3]! }, 3);
    const sig = await wallet.signTypedData({ ...DOMAIN }, ORDER_TYPES, orderTypedValue(order));
    expect(recoverSigner(orderDigestBytes(order, SEPARATOR), hexToBytes(sig))).toBe(ADDRESSES[3]);
  });

  it("a tampered order recovers to another address (never to the trader)", () => {
    fc.assert(
      fc.property(orderArb, fc.integer({ min: 0, max: 5 }), ({ order, key }, field) => {
        const signed = sign(order, key);
        const tampered: Order = [
          { ...order, quantity: order.quantity ^ 1n },
          { ...order, limitPrice: order.limitPrice ^ 1n },
          { ...order, epoch: order.epoch ^ 1n },
          { ...order, nonce: order.nonce ^ 1n },
          { ...order, side: order.side === "buy" ? ("sell" as const) : ("buy" as const) },
          { ...order, market: `0x${"cd".repeat(32)}` as Hex },
        ][field]!;
        const digest = orderDigestBytes(tampered, SEPARATOR);
        let recovered: string | undefined;
        try {
          recovered = recoverSigner(digest, hexToBytes(signed.signature));
        } catch (err) {
          expect(err).toBeInstanceOf(OrderError);
        }
        expect(recovered).not.toBe(order.trader);
        // ethers, on the same tampered order, does not recover the trader either.
        let viaEthers: string | undefined;
        try {
          viaEthers = recoverAddress(orderIdEthers(tampered, DOMAIN), signed.signature).toLowerCase();
        } catch {
          viaEthers = undefined;
        }
        expect(viaEthers).not.toBe(order.trader);
        if (recovered !== undefined) expect(viaEthers).toBe(recovered);
      }),
      { numRuns: 300 },
    );
  });

  it("for every valid signature (r, s) the twin (r, n - s) is rejected as HIGH_S", () => {
    fc.assert(
      fc.property(orderArb, ({ order, key }) => {
        const signed = sign(order, key);
        const digest = orderDigestBytes(order, SEPARATOR);
        const t = twin(signed.signature);
        // The twin is a mathematically valid signature (a permissive verifier accepts it) ...
        const pub = secp256k1.getPublicKey(hexToBytes(KEYS[key]!), false);
        expect(
          secp256k1.verify(hexToBytes(t).subarray(0, 64), digest, pub, { prehash: false, lowS: false }),
        ).toBe(true);
        // ... but the protocol accepts only the low-s form.
        expect(codeOf(() => recoverSigner(digest, hexToBytes(t)))).toBe(OrderErrorCode.HIGH_S);
        expect(codeOf(() => recoverSignerNoble(digest, hexToBytes(t)))).toBe(OrderErrorCode.HIGH_S);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects v outside {27, 28}, r = 0, r >= n, s = 0 and wrong lengths with their codes", () => {
    const signed = sign(makeOrder());
    const sig = hexToBytes(signed.signature);
    const withV = (v: number) => {
      const s = new Uint8Array(sig);
      s[64] = v;
      return s;
    };
    for (const v of [0, 1, 26, 29, 255])
      expect(codeOf(() => checkSignatureShape(withV(v)))).toBe("BAD_SIGNATURE_V");
    const zeroR = new Uint8Array(sig);
    zeroR.fill(0, 0, 32);
    expect(codeOf(() => checkSignatureShape(zeroR))).toBe("BAD_SIGNATURE_RS");
    const bigR = new Uint8Array(sig);
    bigR.set(uintToBytes(SECP256K1_N, 32), 0);
    expect(codeOf(() => checkSignatureShape(bigR))).toBe("BAD_SIGNATURE_RS");
    const zeroS = new Uint8Array(sig);
    zeroS.fill(0, 32, 64);
    expect(codeOf(() => checkSignatureShape(zeroS))).toBe("BAD_SIGNATURE_RS");
    expect(codeOf(() => checkSignatureShape(sig.subarray(0, 64)))).toBe("MALFORMED");
  });

  it("falls back to @noble/curves when the native module cannot load, with the same signatures and checks", () => {
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(new URL("./fallback-child.ts", import.meta.url))],
      {
        env: { ...process.env, SMARTMARKET_NO_NATIVE_SECP256K1: "1" },
        encoding: "utf8",
      },
    );
    expect(child.status, child.stderr).toBe(0);
    const seen = JSON.parse(child.stdout) as Record<string, unknown>;
    const order = makeOrder({ trader: ADDRESSES[5]! }, 5);
    expect(seen.backend).toBe("noble");
    // RFC 6979 signatures are deterministic: the fallback signs exactly as the native path does here.
    expect(seen.signature).toBe(sign(order, 5).signature);
    expect(seen.recovered).toBe(ADDRESSES[5]);
    expect(seen.twin).toBe("HIGH_S");
    expect(seen.offCurve).toBe("UNRECOVERABLE_SIGNATURE");
    expect(seen.tampered).toBe(false);
  });

  it("an r that is not the x coordinate of a curve point is UNRECOVERABLE", () => {
    // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p), so no key recovers.
    const signed = sign(makeOrder());
    const sig = new Uint8Array(hexToBytes(signed.signature));
    sig.set(uintToBytes(5n, 32), 0);
    const digest = orderDigestBytes(makeOrder(), SEPARATOR);
    expect(codeOf(() => recoverSigner(digest, sig))).toBe("UNRECOVERABLE_SIGNATURE");
    expect(codeOf(() => recoverSignerNoble(digest, sig))).toBe("UNRECOVERABLE_SIGNATURE");
  });
});
