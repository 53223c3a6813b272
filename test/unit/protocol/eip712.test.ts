import { keccak_256 } from "@noble/hashes/sha3.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ORDER_TYPE_STRING } from "../../../protocol/constants.ts";
import {
  domainSeparator,
  makeDomain,
  ORDER_TYPEHASH,
  ORDER_TYPES,
  orderId,
  orderIdEthers,
  orderTypedValue,
  signOrder,
  typedDataDigest,
} from "../../../protocol/eip712.ts";
import {
  keccak256,
  TypedDataEncoder,
  toUtf8Bytes,
  verifyTypedData,
  Wallet,
} from "../../../protocol/ethers.ts";
import { bytesToHex, hexToBytes } from "../../../protocol/hex.ts";
import type { Order } from "../../../protocol/order.ts";
import { DOMAIN, makeOrder, SEPARATOR } from "./fixtures.ts";

describe("EIP-712 hashing", () => {
  it("reproduces the EIP's own Mail test vector through our domain separator and digest", () => {
    // From EIP-712 (assets/eip-712/Example.js): domain "Ether Mail", version 1, chain 1, contract 0xCcCC…cC.
    const domain = {
      name: "Ether Mail",
      version: "1",
      chainId: 1n,
      verifyingContract: "0xcccccccccccccccccccccccccccccccccccccccc" as const,
    };
    const separator = domainSeparator(domain);
    expect(bytesToHex(separator)).toBe("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");

    const word = (hex: string) => hexToBytes(hex);
    const keccakText = (text: string) => keccak_256(new TextEncoder().encode(text));
    const personType = "Person(string name,address wallet)";
    const mailType = `Mail(Person from,Person to,string contents)${personType}`;
    const person = (name: string, wallet: string) => {
      const buf = new Uint8Array(96);
      buf.set(keccakText(personType), 0);
      buf.set(keccakText(name), 32);
      buf.set(word(wallet), 64 + 12);
      return keccak_256(buf);
    };
    const mail = new Uint8Array(128);
    mail.set(keccakText(mailType), 0);
    mail.set(person("Cow", "0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826"), 32);
    mail.set(person("Bob", "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), 64);
    mail.set(keccakText("Hello, Bob!"), 96);
    const structHash = keccak_256(mail);
    expect(bytesToHex(structHash)).toBe("0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
    expect(bytesToHex(typedDataDigest(separator, structHash))).toBe(
      "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2",
    );
  });

  it("has the type hash of the order type string, and ethers derives the same string from ORDER_TYPES", () => {
    expect(TypedDataEncoder.from(ORDER_TYPES).encodeType("Order")).toBe(ORDER_TYPE_STRING);
    expect(bytesToHex(ORDER_TYPEHASH)).toBe(keccak256(toUtf8Bytes(ORDER_TYPE_STRING)));
  });

  it("computes the domain separator ethers computes", () => {
    expect(bytesToHex(SEPARATOR)).toBe(
      TypedDataEncoder.hashDomain({
        name: DOMAIN.name,
        version: DOMAIN.version,
        chainId: DOMAIN.chainId,
        verifyingContract: DOMAIN.verifyingContract,
      }),
    );
  });

  it("hand-computed order digests equal ethers' TypedDataEncoder.hash on 10,000 random orders", () => {
    const orderArb: fc.Arbitrary<Order> = fc.record({
      market: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex),
      epoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      side: fc.constantFrom("buy" as const, "sell" as const),
      quantity: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      limitPrice: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      trader: fc.uint8Array({ minLength: 20, maxLength: 20 }).map(bytesToHex),
    });
    const domainArb = fc.record({
      chainId: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
      contract: fc.uint8Array({ minLength: 20, maxLength: 20 }).map(bytesToHex),
    });
    fc.assert(
      fc.property(orderArb, domainArb, (order, d) => {
        const domain = makeDomain(d.chainId, d.contract);
        expect(orderId(order, domainSeparator(domain))).toBe(orderIdEthers(order, domain));
      }),
      { numRuns: 10_000 },
    );
  });

  it("an order signed with an ethers Wallet verifies with ethers and has our id as its digest", async () => {
    const wallet = Wallet.createRandom();
    const order = makeOrder({ trader: wallet.address.toLowerCase() as `0x${string}` });
    const signed = await signOrder(order, wallet, DOMAIN);
    const ethersDomain = { ...DOMAIN };
    expect(
      verifyTypedData(ethersDomain, ORDER_TYPES, orderTypedValue(order), signed.signature).toLowerCase(),
    ).toBe(order.trader);
    expect(orderId(order, SEPARATOR)).toBe(orderIdEthers(order, DOMAIN));
  });
});
