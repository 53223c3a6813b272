// createMarket's bounds and collateralOfMany, against a real anvil over JSON-RPC (raw ABI calls, as an
// outsider would make them).
//   - Trapped deposits: a market with epochLength = 2^64 − 1, or a genesis far in the future, held every
//     deposit behind a withdrawal delay that never ends. createMarket now reverts EpochLengthTooLong and
//     GenesisTooFar (the old contract accepted both: these tests fail on it).
//   - Unfunded-order floods: collateral was read with two eth_calls per trader (4,000 at 2,000 traders).
//     collateralOfMany returns exactly collateralOf of every trader, both assets, in one call; the client
//     chunks it at COLLATERAL_MANY_CHUNK traders per call.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hex } from "../../protocol/hex.ts";
import { latestTimestamp } from "../../settlement/anvil.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import { COLLATERAL_MANY_CHUNK, MAX_EPOCH_LENGTH_S, MAX_GENESIS_DELAY_S } from "../../settlement/client.ts";
import {
  Asset,
  callFrom,
  createMarketRaw,
  type Env,
  fund,
  makeTraders,
  moveToEpoch,
  newMarket,
  outsider,
  revertOf,
  startEnv,
} from "./settlement-fixture.ts";

let env: Env;

beforeAll(async () => {
  env = await startEnv();
});

afterAll(async () => {
  await env?.close();
});

const good = () => ({
  genesisTimeS: 1n,
  epochLengthS: 10n,
  feeBps: 0n,
  bondWei: 7n,
  challengeWindowS: 3n,
  minQuantity: 1n,
});

describe("createMarket bounds (markets that would trap deposits)", () => {
  it("the contract's constants are the client's", async () => {
    const read = async (fn: string) =>
      smartMarketInterface.decodeFunctionResult(
        fn,
        await callFrom(env, outsider(1), env.settlement, smartMarketInterface.encodeFunctionData(fn, [])),
      )[0] as bigint;
    expect(await read("MAX_EPOCH_LENGTH")).toBe(MAX_EPOCH_LENGTH_S);
    expect(await read("MAX_GENESIS_DELAY")).toBe(MAX_GENESIS_DELAY_S);
  });

  it("an epoch longer than one day reverts EpochLengthTooLong; one day is accepted", async () => {
    for (const epochLengthS of [2n ** 64n - 1n, MAX_EPOCH_LENGTH_S + 1n]) {
      const err = await revertOf(createMarketRaw(env, env.base, env.quote, { ...good(), epochLengthS }));
      expect(err.errorName).toBe("EpochLengthTooLong");
      expect(err.args).toEqual({ epochLength: epochLengthS, maxEpochLength: MAX_EPOCH_LENGTH_S });
    }
    const id = await createMarketRaw(env, env.base, env.quote, {
      ...good(),
      epochLengthS: MAX_EPOCH_LENGTH_S,
    });
    expect((await env.admin.getMarket(id)).epochLengthS).toBe(MAX_EPOCH_LENGTH_S);
  });

  it("a genesis more than 30 days ahead reverts GenesisTooFar; 29 days ahead is accepted", async () => {
    const now = await latestTimestamp(env.provider);
    for (const genesisTimeS of [2n ** 64n - 1n, now + MAX_GENESIS_DELAY_S + 3600n]) {
      const err = await revertOf(createMarketRaw(env, env.base, env.quote, { ...good(), genesisTimeS }));
      expect(err.errorName).toBe("GenesisTooFar");
      const args = err.args as { genesisTime: bigint; latestGenesisTime: bigint };
      expect(args.genesisTime).toBe(genesisTimeS);
      // block.timestamp of the reverting call + 30 days: at least now + 30 days, within the hour.
      expect(args.latestGenesisTime >= now + MAX_GENESIS_DELAY_S).toBe(true);
      expect(args.latestGenesisTime < now + MAX_GENESIS_DELAY_S + 3600n).toBe(true);
    }
    const genesisTimeS = now + MAX_GENESIS_DELAY_S - 86_400n;
    const id = await createMarketRaw(env, env.base, env.quote, { ...good(), genesisTimeS });
    expect((await env.admin.getMarket(id)).genesisTimeS).toBe(genesisTimeS);
  });
});

describe("collateralOfMany", () => {
  it("equals collateralOf of every trader and asset, in the order given; reverts EpochNotClosed like it", async () => {
    const m = await newMarket(env);
    const traders = makeTraders(6, "collateral-many");
    await fund(env, m.id, [
      { trader: traders[0]!, asset: Asset.BASE, amount: 5n },
      { trader: traders[1]!, asset: Asset.QUOTE, amount: 700n },
      { trader: traders[2]!, asset: Asset.BASE, amount: 11n },
      { trader: traders[2]!, asset: Asset.QUOTE, amount: 13n },
      // traders[3..5]: no escrow at all
    ]);
    const c = env.admin;
    const addresses = [...traders.map((t) => t.address), traders[1]!.address].reverse();
    const open = await revertOf(c.collateralOfMany(m.id, addresses, 0n));
    expect(open.errorName).toBe("EpochNotClosed");
    await moveToEpoch(env, m, 1n);
    const many = await c.collateralOfMany(m.id, addresses, 0n);
    expect(many).toHaveLength(addresses.length);
    for (const [i, t] of addresses.entries()) {
      expect(many[i]).toEqual({
        base: await c.collateralOf(m.id, t, Asset.BASE, 0n),
        quote: await c.collateralOf(m.id, t, Asset.QUOTE, 0n),
      });
    }
    expect(many.filter((x) => x.base > 0n || x.quote > 0n)).toHaveLength(4); // traders 0, 1, 2 and 1 again
    expect(await c.collateralOfMany(m.id, [], 0n)).toEqual([]);
  });

  it("reads 1,200 traders in ceil(1200 / 500) eth_calls, and 500 traders fit an eth_call's gas", async () => {
    const m = await newMarket(env);
    await moveToEpoch(env, m, 1n);
    const addresses = Array.from(
      { length: 1200 },
      (_, i) => `0x${(0xc0ffee0000 + i).toString(16).padStart(40, "0")}` as Hex,
    );
    const provider = env.provider;
    const original = provider.send.bind(provider);
    let calls = 0;
    provider.send = (method, params) => {
      if (method === "eth_call") calls++;
      return original(method, params);
    };
    try {
      const many = await env.admin.collateralOfMany(m.id, addresses, 0n);
      expect(many).toHaveLength(1200);
      expect(many.every((x) => x.base === 0n && x.quote === 0n)).toBe(true);
    } finally {
      provider.send = original;
    }
    expect(calls).toBe(Math.ceil(1200 / COLLATERAL_MANY_CHUNK));
    const gas = await provider.estimateGas({
      to: env.settlement,
      data: smartMarketInterface.encodeFunctionData("collateralOfMany", [
        m.id,
        addresses.slice(0, COLLATERAL_MANY_CHUNK),
        0n,
      ]),
    });
    console.log(`collateralOfMany of ${COLLATERAL_MANY_CHUNK} traders: ${gas} gas`);
    expect(gas < 10_000_000n).toBe(true);
  });
});
