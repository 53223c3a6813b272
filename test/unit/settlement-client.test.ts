// The settlement client's version-2 methods on a local chain (anvil) with the compiled contract: markets
// with default bond and window, commit + propose, a challenge of a censoring self-trade, the one reader
// of settlement events, the standing batch rebuilt from calldata (directly and through a forwarder, by
// tracing), the contract's certify against certify.ts, finalize and bonds.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { DEFAULT_BOND_WEI } from "../../protocol/market.ts";
import type { Side } from "../../protocol/order.ts";
import { type AnvilInstance, latestTimestamp, mineBlock, startAnvil } from "../../settlement/anvil.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import { type CollateralLookup, selectBatch, selectChallenge, toBatchOrder } from "../../settlement/batch.ts";
import { certify } from "../../settlement/certify.ts";
import { finalizeItemOf, SettlementClient, waitForReceipt } from "../../settlement/client.ts";
import { Asset, commitmentOf, FINALIZED_RECORD, settlementRecord } from "../../settlement/encoding.ts";
import { SettlementRevertError } from "../../settlement/errors.ts";
import { sign } from "./batch-fixture.ts";

const isVersion2 = smartMarketInterface.getFunction("propose") !== null;
const EPOCH_S = 100n;

describe.skipIf(!isVersion2)("SettlementClient (version 2) on anvil", () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;
  const clients: SettlementClient[] = [];
  let admin: SettlementClient;
  let base: Hex;
  let quote: Hex;
  let separator: Uint8Array;

  const clientOf = (i: number): SettlementClient => {
    const c = new SettlementClient(
      {
        rpcUrl: anvil.rpcUrl,
        privateKey: anvil.accounts[i]!.privateKey,
        contract: admin.contract,
        pollingIntervalMs: 20,
      },
      { provider },
    );
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    anvil = await startAnvil({ accounts: 8 });
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
      batchStallTime: 0,
      pollingInterval: 20,
    });
    admin = new SettlementClient(
      { rpcUrl: anvil.rpcUrl, privateKey: anvil.accounts[0]!.privateKey, pollingIntervalMs: 20 },
      { provider },
    );
    const deployed = await admin.deployContracts({
      base: { name: "Energy", symbol: "WH", decimals: 3 },
      quote: { name: "Dollar", symbol: "USD", decimals: 6 },
    });
    base = deployed.base;
    quote = deployed.quote;
    separator = await admin.domainSeparator();
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    admin?.close();
    provider?.destroy();
    await anvil?.stop();
  });

  it("runs an epoch: a censoring proposal, its challenge, the events, the standing batch, finalize and bonds", async () => {
    const genesis = (await latestTimestamp(provider)) + 2n;
    const created = await admin.createMarket({
      base,
      quote,
      genesisTimeS: genesis,
      epochLengthS: EPOCH_S,
      feeBps: 30n,
    });
    expect(created.params.bondWei).toBe(DEFAULT_BOND_WEI);
    expect(created.params.challengeWindowS).toBe(50n);
    const m = created.id;
    const reader = clientOf(7);
    expect(await reader.getMarket(m)).toEqual(created.params);
    const moveTo = (epoch: bigint, offset = 1n) => mineBlock(provider, genesis + epoch * EPOCH_S + offset);

    // Traders are dev accounts 1 (buyer), 2 (seller), 3 (the attacker); 4 challenges; 5 watches.
    const [buyer, seller, attacker] = [clientOf(1), clientOf(2), clientOf(3)];
    const challenger = clientOf(4);
    const watcher = clientOf(5);
    const fund = async (c: SettlementClient, asset: Asset, amount: bigint) => {
      await admin.mintTestToken(asset === Asset.BASE ? base : quote, c.address, amount);
      await c.deposit(m, asset, amount);
    };
    await fund(buyer, Asset.QUOTE, 1000n);
    await fund(seller, Asset.BASE, 100n);
    await fund(attacker, Asset.QUOTE, 1000n);
    await fund(attacker, Asset.BASE, 100n);
    const from = await provider.getBlockNumber();

    const trader = (c: SettlementClient, i: number) => ({
      privateKey: anvil.accounts[i]!.privateKey,
      address: c.address,
    });
    const order = (
      c: SettlementClient,
      i: number,
      side: Side,
      quantity: bigint,
      limitPrice: bigint,
      epoch = 0n,
    ) => sign({ trader: trader(c, i), side, quantity, limitPrice }, m, epoch, separator);
    const censor = [order(attacker, 3, "buy", 1n, 100n), order(attacker, 3, "sell", 1n, 1n)];
    const honest = [
      order(buyer, 1, "buy", 10n, 12n),
      order(seller, 2, "sell", 10n, 8n),
      order(buyer, 1, "buy", 3n, 5n),
    ];

    await moveTo(1n);
    const collateral = await readCollateral(
      reader,
      m,
      0n,
      [buyer, seller, attacker].map((c) => c.address),
    );
    const context = {
      market: m,
      epoch: 0n,
      domainSeparator: separator,
      collateral,
      feeBps: 30n,
      minQuantity: 1n,
    };

    // The censor proposes its self-trade first.
    const censorSel = selectBatch({ ...context, orders: censor.map((o) => o.order) });
    if (censorSel.outcome !== "batch") throw new Error("no trade");
    const chainCert = await reader.certify(m, 0n, censorSel.bytes);
    const localCert = certify({
      ...context,
      header: censorSel.header,
      orders: censorSel.orders.map((o) => toBatchOrder(o.order)),
    });
    expect(chainCert).toEqual({
      price: localCert.price,
      volume: localCert.volume,
      fills: localCert.orderFills,
      resultHash: localCert.resultHash,
      feeTotal: localCert.feeTotal,
      batchHash: censorSel.batchHash,
    });
    const proposed = await attacker.submitResult(m, 0n, censorSel.bytes, {
      expectedResultHash: censorSel.clearing.resultHash,
    });
    expect(proposed.commit.blockNumber).toBeLessThan(proposed.proposal.blockNumber);
    expect(proposed.proposal.event).toMatchObject({
      kind: "Proposed",
      market: m,
      epoch: 0n,
      submitter: attacker.address,
      resultHash: censorSel.clearing.resultHash,
      batchHash: censorSel.batchHash,
      feeTotal: localCert.feeTotal,
    });
    expect(await reader.isSettled(m, 0n)).toBe(true);
    expect(await reader.recordOf(m, 0n)).toBe(
      settlementRecord(censorSel.batchHash, attacker.address, localCert.feeTotal),
    );
    // A second proposal is refused, decoded.
    await expect(buyer.propose(m, 0n, censorSel.bytes)).rejects.toSatisfy(
      (e) => e instanceof SettlementRevertError && e.errorName === "AlreadyProposed",
    );

    // An honest node rebuilds the standing batch from calldata and challenges with the union.
    const standing = await watcher.standingBatch(m, 0n);
    expect(standing?.submitter).toBe(attacker.address);
    expect(standing?.orders).toEqual(censorSel.orders);
    expect(standing?.header).toEqual(censorSel.header);
    const ch = selectChallenge({ ...context, orders: [...censor, ...honest].map((o) => o.order) }, standing!);
    if (ch.outcome !== "challenge") throw new Error(ch.outcome);
    const challenged = await challenger.submitChallenge(m, 0n, standing!.submitter, ch.bytes, {
      expectedResultHash: ch.selection.clearing.resultHash,
    });
    expect(challenged.challenge.event).toMatchObject({
      kind: "Challenged",
      challenger: challenger.address,
      replaced: attacker.address,
      batchHash: ch.batchHash,
      price: ch.selection.clearing.price,
      volume: ch.selection.clearing.volume,
    });
    const decoded = await watcher.decodeProposalTx(challenged.challenge.txHash);
    expect(decoded).toHaveLength(1);
    expect(decoded[0]).toMatchObject({ kind: "challenge", standingSubmitter: attacker.address });
    const after = await watcher.standingBatch(m, 0n);
    expect(after?.submitter).toBe(challenger.address);
    expect(after?.orders).toEqual(ch.orders);
    expect(after?.resultHash).toBe(ch.selection.clearing.resultHash);

    // Final at the close of epoch 1: the challenger gets the fee and both bonds.
    await moveTo(2n);
    const events = await watcher.settlementEvents({
      fromBlock: from,
      toBlock: await provider.getBlockNumber(),
      markets: [m],
    });
    expect(events.map((e) => e.kind)).toEqual(["Proposed", "Challenged"]);
    const last = events[1]!;
    if (last.kind === "Finalized") throw new Error("unexpected");
    const fin = await watcher.finalize(m, [finalizeItemOf(last)]);
    expect(fin.events).toMatchObject([
      { kind: "Finalized", epoch: 0n, submitter: challenger.address, feeTotal: last.feeTotal },
    ]);
    expect(await reader.recordOf(m, 0n)).toBe(FINALIZED_RECORD);
    // Intake's funded-trader rule reads these accounts: the challenger never deposited, but its fee is
    // escrow in the market now, so its orders must be carried.
    const credited = await watcher.depositors({ fromBlock: 0, toBlock: "latest", markets: [m] });
    expect(credited.filter((d) => d.trader === challenger.address)).toHaveLength(1);
    expect(credited.every((d) => d.market === m)).toBe(true);
    expect(credited.some((d) => d.trader === buyer.address)).toBe(true); // a Deposited event
    expect(await reader.bondsOf(challenger.address)).toBe(2n * DEFAULT_BOND_WEI);
    expect((await challenger.claimBonds()).amount).toBe(2n * DEFAULT_BOND_WEI);
    expect(await reader.bondsOf(challenger.address)).toBe(0n);
    const all = await watcher.settlementEvents({ fromBlock: from, toBlock: await provider.getBlockNumber() });
    expect(all.map((e) => e.kind)).toEqual(["Proposed", "Challenged", "Finalized"]);
    expect(
      await watcher.settlementEvents({
        fromBlock: from,
        toBlock: await provider.getBlockNumber(),
        markets: [`0x${"42".repeat(32)}`],
      }),
    ).toEqual([]);
  }, 120_000);

  it("rebuilds a batch proposed through another contract by tracing", async () => {
    const genesis = (await latestTimestamp(provider)) + 2n;
    const { id: m } = await admin.createMarket({
      base,
      quote,
      genesisTimeS: genesis,
      epochLengthS: EPOCH_S,
      feeBps: 0n,
      bondWei: 5n,
      challengeWindowS: 10n,
    });
    const [buyer, seller, sender] = [clientOf(1), clientOf(2), clientOf(6)];
    await admin.mintTestToken(quote, buyer.address, 500n);
    await buyer.deposit(m, Asset.QUOTE, 500n);
    await admin.mintTestToken(base, seller.address, 50n);
    await seller.deposit(m, Asset.BASE, 50n);
    // A forwarder: copies its calldata, calls the settlement contract with its value, bubbles the result.
    const runtime = `365f5f375f5f365f3473${admin.contract.slice(2)}5af13d5f5f3e602a573d5ffd5b3d5ff3`;
    const size = (runtime.length / 2).toString(16);
    const signer = await provider.getSigner(6);
    const deployTx = await signer.sendTransaction({ data: `0x60${size}600a5f3960${size}5ff3${runtime}` });
    const forwarder = (await waitForReceipt(provider, deployTx.hash)).contractAddress!.toLowerCase() as Hex;

    const orders = [
      sign(
        {
          trader: { privateKey: anvil.accounts[1]!.privateKey, address: buyer.address },
          side: "buy",
          quantity: 5n,
          limitPrice: 20n,
        },
        m,
        0n,
        separator,
      ),
      sign(
        {
          trader: { privateKey: anvil.accounts[2]!.privateKey, address: seller.address },
          side: "sell",
          quantity: 5n,
          limitPrice: 10n,
        },
        m,
        0n,
        separator,
      ),
    ];
    await mineBlock(provider, genesis + EPOCH_S + 1n);
    const collateral = await readCollateral(sender, m, 0n, [buyer.address, seller.address]);
    const sel = selectBatch({
      market: m,
      epoch: 0n,
      domainSeparator: separator,
      orders: orders.map((o) => o.order),
      collateral,
    });
    if (sel.outcome !== "batch") throw new Error("no trade");
    const commitment = commitmentOf(m, 0n, sel.batchHash, forwarder);
    const send = async (data: string, value = 0n) => {
      const tx = await signer.sendTransaction({ to: forwarder, data, value, gasLimit: 2_000_000n });
      expect((await waitForReceipt(provider, tx.hash)).status).toBe(1);
      return tx.hash.toLowerCase() as Hex;
    };
    await send(smartMarketInterface.encodeFunctionData("commit", [m, commitment]));
    const txHash = await send(smartMarketInterface.encodeFunctionData("propose", [m, 0n, sel.bytes]), 5n);
    const rebuilt = await sender.standingBatch(m, 0n);
    expect(rebuilt?.event.txHash).toBe(txHash);
    expect(rebuilt?.submitter).toBe(forwarder);
    expect(rebuilt?.orders).toEqual(sel.orders);
    expect(rebuilt?.bytes).toEqual(sel.bytes);
    expect(rebuilt?.resultHash).toBe(sel.clearing.resultHash);
  }, 120_000);
});

/** Every trader's collateral of `epoch`, read from the chain, as a lookup. */
async function readCollateral(
  c: SettlementClient,
  market: Hex,
  epoch: bigint,
  traders: readonly Hex[],
): Promise<CollateralLookup> {
  const table = new Map<string, bigint>();
  for (const t of traders) {
    for (const asset of [Asset.BASE, Asset.QUOTE]) {
      table.set(`${t}/${asset}`, await c.collateralOf(market, t, asset, epoch, "pending"));
    }
  }
  return (trader, asset) => table.get(`${trader}/${asset}`) ?? 0n;
}
