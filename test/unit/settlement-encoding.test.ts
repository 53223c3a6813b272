// Pure parts of settlement/: the result hash (equal to clearing/'s), settle() calldata both ways, batch
// building checks, and revert decoding. No chain.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeResultHash } from "../../clearing/clear.ts";
import { domainSeparator, makeDomain } from "../../protocol/eip712.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import {
  BatchEncodingError,
  buildSignedFills,
  decodeSettleCall,
  encodeSettleCall,
  joinSignature,
  settlementResultHash,
  signedOrderOf,
  splitSignature,
  toSignedFill,
} from "../../settlement/encoding.ts";
import {
  decodeRevertData,
  findRevertData,
  SettlementRevertError,
  toSettlementError,
} from "../../settlement/errors.ts";
import { handBatch, makeOrder, makeTraders } from "./settlement-fixture.ts";

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
const separator = domainSeparator(makeDomain(31337n, `0x${"5f".repeat(20)}`));
const market = `0x${"ab".repeat(32)}` as Hex;
const traders = makeTraders(4, "encoding");

describe("result hash", () => {
  it("equals clearing/'s computeResultHash", () => {
    fc.assert(
      fc.property(
        hex32,
        fc.bigInt(0n, (1n << 64n) - 1n),
        fc.bigInt(1n, (1n << 128n) - 1n),
        fc.bigInt(0n, (1n << 200n) - 1n),
        fc.uniqueArray(hex32, { maxLength: 20 }),
        (m, epoch, price, volume, ids) => {
          const fills = [...ids].sort().map((id, i) => ({ id, quantity: BigInt(i + 1) * 12_345n }));
          expect(settlementResultHash(m, epoch, price, volume, fills)).toBe(
            computeResultHash(m, epoch, price, volume, fills),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("settle() calldata", () => {
  it("round-trips fills and signed orders", () => {
    const orders = traders.map((t, i) =>
      makeOrder(
        market,
        9n,
        {
          trader: t,
          side: i % 2 ? "sell" : "buy",
          quantity: 10n ** 30n + BigInt(i),
          limitPrice: 7n,
          nonce: (1n << 64n) - 1n,
        },
        separator,
      ),
    );
    const fills = orders.map((o, i) => toSignedFill(o.order, BigInt(i + 1)));
    const data = encodeSettleCall({ market, epoch: 9n, price: 5n, fills });
    expect(data.length).toBe(2 + 2 * (4 + 5 * 32 + 288 * fills.length));
    const decoded = decodeSettleCall(data);
    expect(decoded).toEqual({ market, epoch: 9n, price: 5n, fills });
    for (const [i, f] of decoded.fills.entries())
      expect(signedOrderOf(market, 9n, f)).toEqual(orders[i]!.order);
    expect(() => decodeSettleCall("0x12345678")).toThrow(BatchEncodingError);
  });

  it("splits and joins signatures", () => {
    const sig = `0x${"11".repeat(32)}${"22".repeat(32)}1c` as Hex;
    const parts = splitSignature(sig);
    expect(parts).toEqual({ r: `0x${"11".repeat(32)}`, s: `0x${"22".repeat(32)}`, v: 28 });
    expect(joinSignature(parts.v, parts.r, parts.s)).toBe(sig);
    expect(() => splitSignature("0x1234")).toThrow(BatchEncodingError);
  });
});

describe("buildSignedFills", () => {
  const buy = makeOrder(
    market,
    3n,
    { trader: traders[0]!, side: "buy", quantity: 5n, limitPrice: 10n },
    separator,
  );
  const sell = makeOrder(
    market,
    3n,
    { trader: traders[1]!, side: "sell", quantity: 5n, limitPrice: 9n },
    separator,
  );
  const batch = handBatch(market, 3n, 10n, [
    { order: buy, fill: 5n },
    { order: sell, fill: 5n },
  ]);

  it("builds the fills of a batch in id order", () => {
    const fills = buildSignedFills(batch, batch.orders, separator);
    expect(fills.map((f) => f.trader)).toEqual(batch.fills.map((f) => batch.orders.get(f.id)!.trader));
  });

  it("rejects what the contract would: no trade, unsorted, missing order, other epoch, other domain", () => {
    expect(() => buildSignedFills({ ...batch, price: null, fills: [] }, batch.orders, separator)).toThrow(
      /no trade/,
    );
    expect(() =>
      buildSignedFills({ ...batch, fills: [...batch.fills].reverse() }, batch.orders, separator),
    ).toThrow(/ascending/);
    expect(() => buildSignedFills(batch, new Map([[buy.id, buy.order]]), separator)).toThrow(
      /no signed order/,
    );
    expect(() => buildSignedFills({ ...batch, epoch: 4n }, batch.orders, separator)).toThrow(
      /not this batch/,
    );
    expect(() => buildSignedFills(batch, batch.orders, new Uint8Array(32))).toThrow(/hashes to/);
  });
});

describe("revert decoding", () => {
  it("decodes custom errors with named arguments, from wherever ethers nests the data", () => {
    const data = smartMarketInterface.encodeErrorResult("InsufficientCollateral", [
      traders[0]!.address,
      1,
      1000n,
      999n,
    ]);
    expect(decodeRevertData(data)).toMatchObject({
      errorName: "InsufficientCollateral",
      args: { trader: traders[0]!.address, asset: 1n, needed: 1000n, available: 999n },
    });
    expect(findRevertData({ info: { error: { code: 3, data } } })).toBe(data);
    const err = toSettlementError("settle", { shortMessage: "reverted", info: { error: { data } } });
    expect(err).toBeInstanceOf(SettlementRevertError);
    expect(err.message).toBe(
      `settle reverted: InsufficientCollateral(trader=${traders[0]!.address}, asset=1, needed=1000, available=999)`,
    );
    expect(decodeRevertData("0xdeadbeef")).toBeNull();
    expect(toSettlementError("settle", new Error("socket hang up")).name).toBe("SettlementClientError");
  });
});
