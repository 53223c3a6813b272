// Pure parts of settlement/: the result hash (equal to clearing/'s), the record and the commitment of
// certified settlement, signatures, revert decoding, and the artifact's ABI against the spec
// (docs/certified-settlement.md) and the client. No chain.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeResultHash } from "../../clearing/clear.ts";
import { AbiCoder, concat, Interface, keccak256, toBeHex, zeroPadValue } from "../../protocol/ethers.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import { CertificationErrorCode } from "../../settlement/certify.ts";
import {
  commitmentOf,
  joinSignature,
  settlementRecord,
  settlementResultHash,
  splitSignature,
} from "../../settlement/encoding.ts";
import {
  BatchError,
  decodeRevertData,
  findRevertData,
  SettlementRevertError,
  toSettlementError,
} from "../../settlement/errors.ts";
import { makeTraders } from "./batch-fixture.ts";

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
const hex20 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => bytesToHex(b));
const traders = makeTraders(2, "encoding");

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

describe("record and commitment", () => {
  const word = (v: bigint | string) => (typeof v === "bigint" ? toBeHex(v, 32) : zeroPadValue(v, 32));

  it("record = keccak256(abi.encode(bytes32 batchHash, address submitter, uint256 feeTotal)), word by word", () => {
    fc.assert(
      fc.property(hex32, hex20, fc.bigInt(0n, (1n << 256n) - 1n), (batchHash, submitter, fee) => {
        const expected = keccak256(concat([batchHash, word(submitter), word(fee)])).toLowerCase();
        expect(settlementRecord(batchHash, submitter, fee)).toBe(expected);
      }),
      { numRuns: 100 },
    );
  });

  it("commitment = keccak256(abi.encode(bytes32 market, uint64 epoch, bytes32 dataHash, address sender))", () => {
    fc.assert(
      fc.property(hex32, fc.bigInt(0n, (1n << 64n) - 1n), hex32, hex20, (market, epoch, dataHash, sender) => {
        const expected = keccak256(concat([market, word(epoch), dataHash, word(sender)])).toLowerCase();
        expect(commitmentOf(market, epoch, dataHash, sender)).toBe(expected);
        // The sender is bound: copied calldata from another account commits to something else.
        expect(commitmentOf(market, epoch, dataHash, traders[0]!.address)).not.toBe(
          commitmentOf(market, epoch, dataHash, traders[1]!.address),
        );
      }),
      { numRuns: 100 },
    );
    expect(AbiCoder.defaultAbiCoder().encode(["uint64"], [5n])).toBe(word(5n));
  });
});

describe("signatures", () => {
  it("splits and joins signatures", () => {
    const sig = `0x${"11".repeat(32)}${"22".repeat(32)}1c` as Hex;
    const parts = splitSignature(sig);
    expect(parts).toEqual({ r: `0x${"11".repeat(32)}`, s: `0x${"22".repeat(32)}`, v: 28 });
    expect(joinSignature(parts.v, parts.r, parts.s)).toBe(sig);
    expect(() => splitSignature("0x1234")).toThrow(BatchError);
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
    const err = toSettlementError("propose", { shortMessage: "reverted", info: { error: { data } } });
    expect(err).toBeInstanceOf(SettlementRevertError);
    expect(err.message).toBe(
      `propose reverted: InsufficientCollateral(trader=${traders[0]!.address}, asset=1, needed=1000, available=999)`,
    );
    expect(decodeRevertData("0xdeadbeef")).toBeNull();
    expect(toSettlementError("propose", new Error("socket hang up")).name).toBe("SettlementClientError");
  });
});

/** The ABI the spec and the client expect of version 2 (names, argument names and types, in order). */
const SPEC_FUNCTIONS = [
  "function createMarket(address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps, uint96 bond, uint32 challengeWindow, uint128 minQuantity) returns (bytes32 market)",
  "function getMarket(bytes32 market) view returns (address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps, uint96 bond, uint32 challengeWindow, uint128 minQuantity)",
  "function marketId(address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps, uint96 bond, uint32 challengeWindow, uint128 minQuantity) pure returns (bytes32)",
  "function MAX_ORDERS_PER_TRADER_SIDE() view returns (uint256)",
  "function MAX_KEPT_PER_SIDE() view returns (uint256)",
  "function MAX_BATCH_ORDERS() view returns (uint256)",
  "function MAX_UNION_ORDERS() view returns (uint256)",
  "function commit(bytes32 market, bytes32 commitment)",
  "function propose(bytes32 market, uint64 epoch, bytes batch) payable",
  "function challenge(bytes32 market, uint64 epoch, address standingSubmitter, bytes union) payable",
  "function finalize(bytes32 market, (uint64 epoch, bytes32 batchHash, address submitter, uint256 feeTotal)[] items)",
  "function claimBonds()",
  "function bondsOf(address account) view returns (uint256)",
  "function certify(bytes32 market, uint64 epoch, bytes batch) returns (uint256 price, uint256 volume, uint256[] fills, bytes32 resultHash, uint256 feeTotal, bytes32 batchHash)",
  "function recordOf(bytes32 market, uint64 epoch) view returns (bytes32)",
  "function isSettled(bytes32 market, uint64 epoch) view returns (bool)",
  "function collateralOf(bytes32 market, address trader, uint8 asset, uint64 epoch) view returns (uint256)",
];
const SPEC_EVENTS = [
  "event Proposed(bytes32 indexed market, uint64 indexed epoch, address indexed submitter, bytes32 resultHash, bytes32 batchHash, uint256 price, uint256 volume, uint256 feeTotal)",
  "event Challenged(bytes32 indexed market, uint64 indexed epoch, address indexed challenger, address replaced, bytes32 resultHash, bytes32 batchHash, uint256 price, uint256 volume, uint256 feeTotal)",
  "event Finalized(bytes32 indexed market, uint64 indexed epoch, address indexed submitter, uint256 feeTotal)",
  "event BondsClaimed(address indexed account, uint256 amount)",
  "event MarketCreated(bytes32 indexed market, address indexed base, address indexed quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps, uint96 bond, uint32 challengeWindow, uint128 minQuantity)",
];
/** certify.ts's errors with the argument names its CertificationError carries. */
const SPEC_ERRORS: Record<string, string[]> = {
  MalformedBatch: ["length"],
  BatchTooLarge: ["orders", "max"],
  PriceOutOfRange: ["price"],
  NoTrade: [],
  VolumeNotMaximal: ["side", "better", "volume"],
  WrongPrice: ["price", "lo", "hi"],
  InvalidSide: ["index", "side"],
  MalformedOrder: ["index"],
  OrderBelowMinimum: ["index", "quantity", "minQuantity"],
  SideOverCap: ["side", "count", "max"],
  CapNotTight: ["side", "count", "max"],
  OrdersNotAscending: ["index", "previousId", "id"],
  MalformedSignature: ["index", "v", "s"],
  InvalidSigner: ["index", "orderId", "recovered", "trader"],
  AggregateMismatch: ["field", "claimed", "actual"],
  WrongBonusCount: ["side", "counted", "expected"],
  StandingMismatch: ["record"],
  NoNewOrders: [],
  ResultUnchanged: ["resultHash"],
  NewBatchMismatch: ["unionResultHash", "newBatchResultHash"],
};

const isVersion2 = smartMarketInterface.getFunction("propose") !== null;

describe.skipIf(!isVersion2)("the SmartMarket artifact (version 2)", () => {
  it("has the spec's functions and events, argument for argument", () => {
    for (const text of [...SPEC_FUNCTIONS, ...SPEC_EVENTS]) {
      const kind = text.startsWith("event") ? "event" : "function";
      const name = text.split(/[ (]/)[1]!;
      const actual =
        kind === "event" ? smartMarketInterface.getEvent(name) : smartMarketInterface.getFunction(name);
      expect(actual, text).not.toBeNull();
      const spec = new Interface([text]);
      const expected = kind === "event" ? spec.getEvent(name) : spec.getFunction(name);
      expect(actual!.format("full"), name).toBe(expected!.format("full"));
    }
  });

  it("has every error of certify.ts with the same argument names", () => {
    const codes = Object.keys(CertificationErrorCode);
    expect(codes.sort()).toEqual(Object.keys(SPEC_ERRORS).sort());
    for (const [name, args] of Object.entries(SPEC_ERRORS)) {
      const e = smartMarketInterface.getError(name);
      expect(e, name).not.toBeNull();
      expect(
        e!.inputs.map((i) => i.name),
        name,
      ).toEqual(args);
    }
  });
});
