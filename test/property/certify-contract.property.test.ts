// certify.ts against the contract, outcome for outcome: on random books (collateral below 2^112, as
// escrow balances are) the honest batch, a mutated one and one with random bytes overwritten are
// certified by settlement/certify.ts and by the contract's certification (CertifyHarness.certifyWith,
// which injects the collateral, by eth_call on anvil); both give the same price, volume, fills, result
// hash, fee and batch hash, or the same error with the same arguments.
// SMARTMARKET_LONG_PROPERTIES=1 runs twenty times as many books.
import { existsSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Interface, JsonRpcProvider, Wallet } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { marketId } from "../../protocol/market.ts";
import { type AnvilInstance, startAnvil } from "../../settlement/anvil.ts";
import { encodeBatch, toBatchOrder } from "../../settlement/batch.ts";
import { CertificationError, certifyBatchBytes } from "../../settlement/certify.ts";
import { waitForReceipt } from "../../settlement/client.ts";
import { decodeRevertData, findRevertData } from "../../settlement/errors.ts";
import { keptIds } from "../unit/batch-fixture.ts";
import {
  type Book,
  bigBookArb,
  bookArb,
  build,
  clearKept,
  mutate,
  mutationArb,
  select,
  TRADERS,
} from "./certify-books.ts";

const LONG = process.env.SMARTMARKET_LONG_PROPERTIES === "1";
const runs = (n: number): number => (LONG ? 20 * n : n);
const TIMEOUT_MS = LONG ? 1_800_000 : 120_000;

const HARNESS = new URL("../contracts/artifacts/CertifyHarness.json", import.meta.url);
const harnessArtifact = existsSync(HARNESS)
  ? (JSON.parse(readFileSync(HARNESS, "utf8")) as { abi: unknown[]; bytecode: Hex })
  : null;
const MAX_COLLATERAL = (1n << 112n) - 1n;
const EPOCH = 3n;
/** fast-check seed of the books-past-the-caps property (see there). */
const CAP_BOOKS_SEED = 20_261_201;
const FEES = [0n, 5n, 30n, 1000n] as const;

type Outcome =
  | {
      ok: {
        price: bigint;
        volume: bigint;
        fills: bigint[];
        resultHash: string;
        feeTotal: bigint;
        batchHash: string;
      };
    }
  | { error: string; args: Record<string, unknown> };

describe.skipIf(harnessArtifact === null)("certify.ts = the contract's certification", () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;
  let harness: Hex;
  let iface: Interface;
  let separator: Uint8Array;
  const markets = new Map<bigint, Hex>();

  beforeAll(async () => {
    anvil = await startAnvil({ accounts: 1, gasLimit: 1_000_000_000 });
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
      batchStallTime: 0,
    });
    const wallet = new Wallet(anvil.accounts[0]!.privateKey, provider);
    iface = new Interface(harnessArtifact!.abi as never);
    const sent = await wallet.sendTransaction({ data: harnessArtifact!.bytecode, gasLimit: 30_000_000n });
    harness = (await waitForReceipt(provider, sent.hash)).contractAddress!.toLowerCase() as Hex;
    const { domainSeparator, makeDomain } = await import("../../protocol/eip712.ts");
    separator = domainSeparator(makeDomain(anvil.chainId, harness));
    // One market per fee (the tokens need not exist for certification).
    let nonce = await wallet.getNonce();
    for (const feeBps of FEES) {
      const params = {
        base: `0x${"0b".repeat(20)}` as Hex,
        quote: `0x${"0c".repeat(20)}` as Hex,
        genesisTimeS: 1n,
        epochLengthS: 100n,
        feeBps,
        bondWei: 1n,
        challengeWindowS: 10n,
        minQuantity: 1n,
      };
      const data = iface.encodeFunctionData("createMarket", [
        params.base,
        params.quote,
        params.genesisTimeS,
        params.epochLengthS,
        params.feeBps,
        params.bondWei,
        params.challengeWindowS,
        params.minQuantity,
      ]);
      const tx = await wallet.sendTransaction({ to: harness, data, nonce: nonce++, gasLimit: 1_000_000n });
      expect((await waitForReceipt(provider, tx.hash)).status).toBe(1);
      markets.set(feeBps, marketId(params));
    }
  }, 60_000);

  afterAll(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  async function onChain(
    market: Hex,
    bytes: Uint8Array,
    table: ReadonlyMap<Hex, { base: bigint; quote: bigint }>,
  ): Promise<Outcome> {
    const traders = TRADERS.map((t) => t.address);
    const data = iface.encodeFunctionData("certifyWith", [
      market,
      EPOCH,
      bytes,
      traders,
      traders.map((t) => table.get(t)?.base ?? 0n),
      traders.map((t) => table.get(t)?.quote ?? 0n),
    ]);
    try {
      const ret = await provider.call({ to: harness, data, gasLimit: 900_000_000n });
      const [price, volume, fills, resultHash, feeTotal, batchHash] = iface.decodeFunctionResult(
        "certifyWith",
        ret,
      );
      return {
        ok: {
          price: price as bigint,
          volume: volume as bigint,
          fills: [...(fills as bigint[])],
          resultHash: (resultHash as string).toLowerCase(),
          feeTotal: feeTotal as bigint,
          batchHash: (batchHash as string).toLowerCase(),
        },
      };
    } catch (err) {
      const revert = findRevertData(err);
      const decoded = revert ? decodeRevertData(revert) : null;
      if (!decoded) throw err;
      return { error: decoded.errorName, args: { ...decoded.args } };
    }
  }

  function inTypeScript(
    book: Book,
    market: Hex,
    bytes: Uint8Array,
    built: ReturnType<typeof build>,
  ): Outcome {
    try {
      const c = certifyBatchBytes({ ...built.context, market, feeBps: book.feeBps }, bytes);
      return {
        ok: {
          price: c.price,
          volume: c.volume,
          fills: [...c.orderFills],
          resultHash: c.resultHash,
          feeTotal: c.feeTotal,
          batchHash: c.batchHash,
        },
      };
    } catch (err) {
      if (err instanceof CertificationError) return { error: err.code, args: { ...err.args } };
      throw err;
    }
  }

  const corruptionArb = fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
    minLength: 1,
    maxLength: 3,
  });

  it(
    "honest, mutated and corrupted batches: the same outcome, to the last argument",
    async () => {
      const seen = new Map<string, number>();
      const count = (o: Outcome) => {
        const key = "ok" in o ? "ok" : o.error;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      };
      await fc.assert(
        fc.asyncProperty(bookArb, mutationArb, corruptionArb, async (book, m, corruption) => {
          const market = markets.get(book.feeBps)!;
          const b = build(book, { market, epoch: EPOCH, separator, maxCollateral: MAX_COLLATERAL });
          const s = select(b);
          if (s.outcome !== "batch") return;
          const candidates: Uint8Array[] = [s.bytes];
          const mutated = mutate(s, m);
          if (mutated) {
            candidates.push(
              encodeBatch({
                header: mutated.header,
                orders: mutated.orders.map((o) => toBatchOrder(o.order)),
              }),
            );
          }
          const corrupted = new Uint8Array(s.bytes);
          for (const { at, byte } of corruption) corrupted[at % corrupted.length] = byte;
          candidates.push(corrupted);
          for (const bytes of candidates) {
            const expected = inTypeScript(book, market, bytes, b);
            const actual = await onChain(market, bytes, b.table);
            expect(actual).toEqual(expected);
            count(expected);
          }
        }),
        { numRuns: runs(1200) },
      );
      for (const key of ["ok", "AggregateMismatch", "WrongPrice", "OrdersNotAscending", "InvalidSigner"]) {
        expect(seen.get(key) ?? 0, key).toBeGreaterThan(0);
      }
    },
    TIMEOUT_MS,
  );

  it(
    "books past the caps (> 64 kept a side, > 2 orders a trader and side): the contract, certify.ts and clear() of the rule agree",
    async () => {
      const seen = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(bigBookArb, mutationArb, async (book, m) => {
          const market = markets.get(book.feeBps)!;
          const b = build(book, { market, epoch: EPOCH, separator, maxCollateral: MAX_COLLATERAL });
          const s = select(b);
          if (s.outcome !== "batch") return;
          // The honest batch certifies to clear() of the rule's in-orders, on chain and in TypeScript.
          const honest = await onChain(market, s.bytes, b.table);
          const expected = clearKept(b.orders, keptIds(b.orders, b.collateral), { market, epoch: EPOCH });
          expect("ok" in honest && honest.ok.resultHash).toBe(expected.resultHash);
          expect(honest).toEqual(inTypeScript(book, market, s.bytes, b));
          const mutated = mutate(s, m);
          if (!mutated) return;
          const bytes = encodeBatch({
            header: mutated.header,
            orders: mutated.orders.map((o) => toBatchOrder(o.order)),
          });
          const want = inTypeScript(book, market, bytes, b);
          expect(await onChain(market, bytes, b.table)).toEqual(want);
          const key = "ok" in want ? "ok" : want.error;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }),
        // A fixed seed: the check below, that the cap errors were exercised at all, failed in 1 CI run of
        // many with a random seed (60 books are few for it); a fixed one keeps it meaningful and stable.
        { numRuns: runs(60), seed: CAP_BOOKS_SEED },
      );
      expect((seen.get("SideOverCap") ?? 0) + (seen.get("CapNotTight") ?? 0)).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
