import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../../../node/config.ts";
import {
  AnnouncementError,
  decodeAnnouncement,
  encodeAnnouncement,
} from "../../../node/gossip/announcement.ts";
import { PeerRateLimiter } from "../../../node/gossip/rate-limit.ts";
import { submitterRank } from "../../../node/market/submitter.ts";
import { EpochBook } from "../../../node/orderbook.ts";
import type { Hex } from "../../../protocol/hex.ts";
import { ADDRESSES, KEYS, MARKET, makeOrder, sign } from "../protocol/fixtures.ts";

const market = `0x${"ab".repeat(32)}` as const;
const contract = `0x${"cd".repeat(20)}` as const;

describe("node configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "smartmarket-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes flags over environment over the config file over defaults", () => {
    const file = join(dir, "c.json");
    writeFileSync(
      file,
      JSON.stringify({
        market,
        rpcUrl: "http://file",
        contract,
        apiPort: 1111,
        mdns: false,
        bootstrap: ["/a"],
      }),
    );
    const c = resolveConfig(
      { "rpc-url": "http://flag" },
      { SMARTMARKET_API_PORT: "2222", SMARTMARKET_DATA_DIR: dir },
      file,
    );
    expect(c.rpcUrl).toBe("http://flag");
    expect(c.apiPort).toBe(2222);
    expect(c.mdns).toBe(false);
    expect(c.bootstrap).toEqual(["/a"]);
    expect(c.apiHost).toBe("127.0.0.1");
    expect(c.listen).toEqual(["/ip4/0.0.0.0/tcp/7401"]);
    expect(c.dataDir).toBe(dir);
    const env = resolveConfig(
      {},
      {
        SMARTMARKET_MARKET: market,
        SMARTMARKET_RPC_URL: "http://e",
        SMARTMARKET_CONTRACT: contract,
        SMARTMARKET_BOOTSTRAP: "/x,/y",
        SMARTMARKET_DATA_DIR: dir,
      },
      undefined,
    );
    expect(env.bootstrap).toEqual(["/x", "/y"]);
  });

  it("takes several markets: a repeated --market, a comma list in the environment, a list in the file", () => {
    const other = `0x${"ef".repeat(32)}`;
    const base = { "rpc-url": "http://x", contract, "data-dir": dir };
    expect(
      resolveConfig({ ...base, market: [market, other.toUpperCase().replace("0X", "0x")] }, {}).markets,
    ).toEqual([market, other]);
    expect(resolveConfig(base, { SMARTMARKET_MARKET: `${market}, ${other}` }).markets).toEqual([
      market,
      other,
    ]);
    const file = join(dir, "multi.json");
    writeFileSync(file, JSON.stringify({ markets: [other, market, other], rpcUrl: "http://x", contract }));
    expect(resolveConfig({ "data-dir": dir }, {}, file).markets).toEqual([other, market]);
    // A one-market config file of before (key "market") still works.
    const legacy = join(dir, "legacy.json");
    writeFileSync(legacy, JSON.stringify({ market, rpcUrl: "http://x", contract }));
    expect(resolveConfig({ "data-dir": dir }, {}, legacy).markets).toEqual([market]);
    expect(() => resolveConfig({ ...base, market: [market, "0x12"] }, {})).toThrow(
      /"0x12" must be 0x followed by 64 hex/,
    );
  });

  it("resolves a relative dataDir in the config file against the file's folder", () => {
    const file = join(dir, "rel.json");
    writeFileSync(file, JSON.stringify({ dataDir: "sub", market, rpcUrl: "http://x", contract }));
    expect(resolveConfig({}, {}, file).dataDir).toBe(join(dir, "sub"));
  });

  it("rejects bad values, unknown settings and missing required ones with the setting's name", () => {
    const bad =
      (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
      () =>
        resolveConfig({ market, "rpc-url": "http://x", contract, "data-dir": dir, ...flags }, env);
    expect(bad({ "api-port": "70000" })).toThrow(/api-port .* port number/);
    expect(bad({ market: "0x12" })).toThrow(/market .* 64 hex/);
    expect(bad({}, { SMARTMARKET_MDNS: "maybe" })).toThrow(/SMARTMARKET_MDNS/);
    expect(bad({ "log-level": "loud" })).toThrow(ConfigError);
    expect(() => resolveConfig({ "data-dir": dir }, {})).toThrow(/missing --market/);
    const file = join(dir, "unknown.json");
    writeFileSync(file, JSON.stringify({ colour: "blue" }));
    expect(() => resolveConfig({}, {}, file)).toThrow(/unknown setting "colour"/);
    expect(() => resolveConfig({}, {}, join(dir, "absent.json"))).toThrow(/does not exist/);
  });
});

describe("announcements", () => {
  const keys = Promise.all([generateKeyPair("Ed25519"), generateKeyPair("Ed25519")]);
  const base = async () => {
    const [key] = await keys;
    return {
      market: MARKET,
      epoch: 12n,
      fingerprint: `0x${"0f".repeat(32)}` as Hex,
      orderCount: 77,
      resultHash: null,
      wallet: ADDRESSES[2]!,
      peerId: peerIdFromPrivateKey(key!).toString(),
    };
  };

  it("round-trip, authenticated by the wallet's and the peer key's signatures", async () => {
    const [key] = await keys;
    const a = await base();
    const bytes = await encodeAnnouncement(a, KEYS[2]!, (d) => key!.sign(d));
    expect(decodeAnnouncement(bytes)).toEqual(a);
    const withResult = { ...a, resultHash: `0x${"aa".repeat(32)}` as Hex };
    expect(decodeAnnouncement(await encodeAnnouncement(withResult, KEYS[2]!, (d) => key!.sign(d)))).toEqual(
      withResult,
    );
  });

  it("reject a tampered field, a wrong wallet, another peer's key, and malformed lengths", async () => {
    const [key, other] = await keys;
    const a = await base();
    const bytes = await encodeAnnouncement(a, KEYS[2]!, (d) => key!.sign(d));
    const tampered = new Uint8Array(bytes);
    tampered[76] = tampered[76]! ^ 1; // order count
    expect(() => decodeAnnouncement(tampered)).toThrow(AnnouncementError);
    const wrongWallet = await encodeAnnouncement(a, KEYS[3]!, (d) => key!.sign(d));
    expect(() => decodeAnnouncement(wrongWallet)).toThrow(/BAD_SIGNATURE.*claims/);
    // A peer that claims another peer's id cannot sign for it: the relay cannot vouch for anyone.
    const impostor = await encodeAnnouncement(a, KEYS[2]!, (d) => other!.sign(d));
    expect(() => decodeAnnouncement(impostor)).toThrow(/not signed by the key of peer/);
    expect(() => decodeAnnouncement(bytes.subarray(0, 100))).toThrow(/MALFORMED/);
    const badLen = new Uint8Array(bytes);
    badLen[129] = 10;
    expect(() => decodeAnnouncement(badLen)).toThrow(/MALFORMED/);
  });
});

describe("submitter ranking", () => {
  it("gives each candidate a distinct rank, independent of the order the candidates are known in", () => {
    const wallets = ADDRESSES.slice(0, 6);
    for (const epoch of [0n, 1n, 2n, 1000n]) {
      const ranks = wallets.map((w) => submitterRank(market, epoch, w, wallets));
      expect([...ranks].sort()).toEqual([0, 1, 2, 3, 4, 5]);
      const reversed = wallets.map((w) => submitterRank(market, epoch, w, [...wallets].reverse()));
      expect(reversed).toEqual(ranks);
    }
    // The first submitter changes from epoch to epoch (no fixed operator).
    const firsts = new Set(
      Array.from({ length: 30 }, (_, e) =>
        wallets.find((w) => submitterRank(market, BigInt(e), w, wallets) === 0),
      ),
    );
    expect(firsts.size).toBeGreaterThan(2);
  });
});

describe("rate limiter and epoch book", () => {
  it("allows the burst, then the sustained rate", () => {
    const lim = new PeerRateLimiter(10, 5);
    const results = Array.from({ length: 7 }, () => lim.take("p", 0));
    expect(results).toEqual([true, true, true, true, true, false, false]);
    expect(lim.take("p", 100)).toBe(true); // 100 ms at 10/s refills one token
    expect(lim.take("p", 100)).toBe(false);
    expect(lim.take("q", 100)).toBe(true);
  });

  it("keeps ids sorted and refuses additions once frozen", () => {
    const book = new EpochBook(MARKET, 1n);
    const orders = [3n, 1n, 2n].map((n) => sign(makeOrder({ nonce: n })));
    const ids = [`0x${"03".repeat(32)}`, `0x${"01".repeat(32)}`, `0x${"02".repeat(32)}`] as Hex[];
    for (const [i, o] of orders.entries()) expect(book.add(ids[i]!, o, new Uint8Array([i]))).toBe(true);
    expect(book.add(ids[0]!, orders[0]!, new Uint8Array())).toBe(false);
    expect(book.ids()).toEqual([...ids].sort());
    expect(book.wire([ids[2]!, `0x${"ff".repeat(32)}`])).toEqual([new Uint8Array([2])]);
    book.freeze();
    expect(book.add(`0x${"04".repeat(32)}`, orders[0]!, new Uint8Array())).toBe(false);
    expect(book.size).toBe(3);
  });
});
