import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatUnits, parseUint, parseUnits } from "../../../protocol/amount.ts";
import { epochAtMs, epochAtS, epochEndMs, epochStartMs } from "../../../protocol/epoch.ts";
import { AmountError } from "../../../protocol/errors.ts";
import { concat, keccak256 as ethersKeccak, toBeHex, zeroPadValue } from "../../../protocol/ethers.ts";
import { orderSetFingerprint, sortIds } from "../../../protocol/fingerprint.ts";
import { bytesToHex, type Hex, writeHexBytes } from "../../../protocol/hex.ts";
import { marketId } from "../../../protocol/market.ts";

const schedule = { genesisTimeS: 1_000n, epochLengthS: 4n };

describe("epoch arithmetic", () => {
  it("maps times to epochs with half-open intervals", () => {
    expect(epochAtMs(schedule, 999_999n)).toBe(-1n);
    expect(epochAtMs(schedule, 1_000_000n)).toBe(0n);
    expect(epochAtMs(schedule, 1_003_999n)).toBe(0n);
    expect(epochAtMs(schedule, 1_004_000n)).toBe(1n);
    expect(epochStartMs(schedule, 3n)).toBe(1_012_000n);
    expect(epochEndMs(schedule, 3n)).toBe(1_016_000n);
    expect(epochAtS(schedule, 1_015n)).toBe(3n);
    expect(epochAtS(schedule, 999n)).toBe(-1n);
  });

  it("every time lies in the epoch whose interval contains it", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1_000_000n, max: 10n ** 15n }), (t) => {
        const e = epochAtMs(schedule, t);
        expect(epochStartMs(schedule, e) <= t && t < epochEndMs(schedule, e)).toBe(true);
      }),
    );
  });
});

describe("order-set fingerprint", () => {
  const idArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
  const setArb = fc.uniqueArray(idArb, { maxLength: 50 });

  it("does not depend on arrival order and ignores hex case", () => {
    fc.assert(
      fc.property(setArb, fc.integer(), (ids, seed) => {
        const shuffled = [...ids].sort(
          (a, b) => ((a.charCodeAt(5) ^ seed) & 7) - ((b.charCodeAt(5) ^ seed) & 7),
        );
        expect(orderSetFingerprint(shuffled)).toBe(orderSetFingerprint(ids));
        expect(orderSetFingerprint(ids.map((i) => i.toUpperCase().replace("0X", "0x") as Hex))).toBe(
          orderSetFingerprint(ids),
        );
      }),
    );
  });

  it("differs when one id is added or removed", () => {
    fc.assert(
      fc.property(setArb, idArb, (ids, extra) => {
        fc.pre(!ids.includes(extra));
        expect(orderSetFingerprint([...ids, extra])).not.toBe(orderSetFingerprint(ids));
      }),
    );
  });

  it("rejects duplicate ids and sorts ids as 256-bit numbers", () => {
    const id = `0x${"01".repeat(32)}` as Hex;
    expect(() => orderSetFingerprint([id, id])).toThrow(/duplicate/);
    const a = `0x${"0f".repeat(32)}` as Hex;
    const b = `0x${"f0".repeat(32)}` as Hex;
    expect(sortIds([b, a])).toEqual([a, b]);
    expect(orderSetFingerprint([])).toBe(
      "0x290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563",
    );
  });

  it("is keccak256(uint256(count) || sorted ids), sorted or not as given, duplicates anywhere refused", () => {
    fc.assert(
      fc.property(setArb, (ids) => {
        const sorted = [...ids].sort();
        const spec = ethersKeccak(concat([zeroPadValue(toBeHex(sorted.length), 32), ...sorted]));
        expect(orderSetFingerprint(sorted)).toBe(spec);
        expect(orderSetFingerprint([...sorted].reverse())).toBe(spec);
        if (sorted.length > 1) {
          expect(() => orderSetFingerprint([...sorted, sorted[0]!])).toThrow(/duplicate/);
          expect(() => orderSetFingerprint([sorted[0]!, ...sorted])).toThrow(/duplicate/);
        }
      }),
    );
  });

  it("refuses an id that is not 32 bytes of hex", () => {
    const good = `0x${"01".repeat(32)}` as Hex;
    for (const bad of [
      `0x${"01".repeat(31)}`,
      `0x${"01".repeat(33)}`,
      `0x${"0g".repeat(32)}`,
      `0x${"01".repeat(31)}0z`,
      `0x${"01".repeat(31)}0\u0130`, // a non-ASCII unit (İ) where the last digit should be
      `1x${"01".repeat(32)}`,
    ]) {
      expect(() => orderSetFingerprint([good, bad as Hex])).toThrow(/32 bytes/);
      expect(() => orderSetFingerprint([bad as Hex])).toThrow(/32 bytes/);
    }
  });
});

describe("writeHexBytes", () => {
  it("decodes hex of either case as Buffer does, at any offset and start", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.nat(8), (bytes, upper, offset) => {
        const hex = `0x${Buffer.from(bytes).toString("hex")}`;
        const text = upper ? hex.toUpperCase() : hex;
        const target = new Uint8Array(offset + bytes.length);
        expect(writeHexBytes(target, offset, text, 2, bytes.length)).toBe(true);
        expect(target.subarray(offset)).toEqual(bytes);
      }),
    );
  });

  it("is false for a character that is not a hex digit, a string too short or a target too small", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.nat(),
        fc.constantFrom("g", "x", " ", "\u0660", "\u0130", "\uffff", "G", "/", ":"),
        (bytes, at, bad) => {
          const hex = Buffer.from(bytes).toString("hex");
          const i = at % hex.length;
          const broken = `${hex.slice(0, i)}${bad}${hex.slice(i + 1)}`;
          expect(writeHexBytes(new Uint8Array(bytes.length), 0, broken, 0, bytes.length)).toBe(false);
        },
      ),
    );
    expect(writeHexBytes(new Uint8Array(4), 0, "0x010203", 2, 4)).toBe(false);
    expect(writeHexBytes(new Uint8Array(3), 1, "0x010203", 2, 3)).toBe(false);
  });
});

describe("amounts", () => {
  it("parses canonical decimal integers and rejects everything else with a message", () => {
    expect(parseUint("0")).toBe(0n);
    expect(parseUint("340282366920938463463374607431768211455")).toBe((1n << 128n) - 1n);
    for (const bad of ["", "01", "-1", "1.5", "1e3", " 1", "0x10", "abc"]) {
      expect(() => parseUint(bad)).toThrow(AmountError);
    }
    expect(() => parseUint("-3", "quantity")).toThrow(/quantity must not be negative/);
    expect(() => parseUint("2.5", "quantity")).toThrow(/whole number/);
  });

  it("parses and formats decimal units without floats, exactly", () => {
    expect(parseUnits("1.5", 3)).toBe(1500n);
    expect(parseUnits("0.000000000000000001", 18)).toBe(1n);
    expect(parseUnits("12", 0)).toBe(12n);
    expect(() => parseUnits("1.0001", 3)).toThrow(/more than 3 decimal places/);
    expect(() => parseUnits("-1", 3)).toThrow(/negative/);
    expect(() => parseUnits("1.", 3)).toThrow(AmountError);
    expect(formatUnits(1500n, 3)).toBe("1.5");
    expect(formatUnits(-1n, 2)).toBe("-0.01");
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 200n }), fc.integer({ min: 0, max: 30 }), (v, d) => {
        expect(parseUnits(formatUnits(v, d), d)).toBe(v);
      }),
    );
  });
});

describe("market id", () => {
  it("commits to every parameter", () => {
    const base = {
      base: `0x${"11".repeat(20)}`,
      quote: `0x${"22".repeat(20)}`,
      genesisTimeS: 1n,
      epochLengthS: 5n,
      feeBps: 0n,
      bondWei: 10n ** 16n,
      challengeWindowS: 2n,
      minQuantity: 1n,
    } as const;
    const ids = new Set([
      marketId(base),
      marketId({ ...base, base: base.quote, quote: base.base }),
      marketId({ ...base, genesisTimeS: 2n }),
      marketId({ ...base, epochLengthS: 6n }),
      marketId({ ...base, feeBps: 1n }),
      marketId({ ...base, bondWei: 10n ** 16n + 1n }),
      marketId({ ...base, challengeWindowS: 3n }),
      marketId({ ...base, minQuantity: 2n }),
    ]);
    expect(ids.size).toBe(8);
  });
});
