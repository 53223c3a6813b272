// Settlement gas on anvil (version 2, docs/certified-settlement.md): an unchallenged settlement is a commit,
// a propose and a share of a finalize of several epochs; figures per fill for batches of 10 to 128 orders
// (64 + 64: the most that can fill in one epoch under the side cap, docs/clearing.md "Bounds"),
// the fixed overhead from a linear fit, a breakdown of the 100-order proposal (from an opcode trace), the
// calldata per order, and a challenge of a 100-order standing batch that adds one order.
//
// Assumptions (the realistic worst case for one batch, as for version 1):
//   - every order is a different trader (so every balance access is a cold SLOAD and every write a fresh
//     SSTORE of its slot in this transaction), half buyers, half sellers, every order fills: the sells (limits
//     80..99) fully, the buys above the price (101..120) fully, the buys at the price (100) pro rata with
//     leftover units (so the marginal level's arithmetic is measured);
//   - each trader deposited earlier (deposit() also touches the other asset's balance word, so no
//     settlement pays a zero-to-nonzero SSTORE), and this settlement is its first balance change of the
//     epoch (the checkpoint is written, inside the same SSTORE);
//   - limits and price of 2-3 digits, quantities of 4 digits, 64-bit nonces: realistic calldata;
//   - market fee 10 bps; the submitter has committed before (its commitment word is non-zero), already holds
//     a QUOTE balance in the market and unclaimed bonds (the finalize credits are non-zero to non-zero);
//   - finalize: one transaction for FINALIZE_EPOCHS epochs (a node finalizes the epochs of a while at once:
//     anyone may, from T2 on), each epoch charged an equal share.
import type { TransactionResponse } from "ethers";
import type { Collateral } from "../../clearing/coverage.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import { type SelectedBatch, selectChallenge } from "../../settlement/batch.ts";
import {
  Asset,
  challenge,
  type Env,
  finalize,
  fund,
  type IdentifiedOrder,
  lookupOf,
  type MarketV2,
  makeOrder,
  makeTraders,
  moveToEpoch,
  newMarket,
  propose,
  type Submission,
  selectTrading,
  startEnv,
  type Trader,
} from "../unit/settlement-fixture.ts";
import type { BenchFigure, BenchGroup } from "./harness.ts";

/** Up to 128 orders: 64 buys and 64 sells, the most that enter one epoch's clearing (MAX_KEPT_PER_SIDE). */
const SIZES = [10, 50, 100, 128] as const;
const TRADERS = 502;
const VERSION_1_GAS_PER_FILL_100 = 17_376;
const FINALIZE_EPOCHS = 10;

interface StructLog {
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
}

/** Gas per opcode of a transaction, each step charged what it actually consumed (gas before - after). */
function gasByOpcode(logs: readonly StructLog[]): Map<string, number> {
  const by = new Map<string, number>();
  for (let i = 0; i < logs.length; i++) {
    const step = logs[i]!;
    const next = logs[i + 1];
    const cost = next && next.depth === step.depth ? step.gas - next.gas : step.gasCost;
    by.set(step.op, (by.get(step.op) ?? 0) + cost);
  }
  return by;
}

/** Calldata gas of EIP-2028: 4 per zero byte, 16 per non-zero byte. */
function calldataGas(data: string): number {
  let gas = 0;
  for (let i = 2; i < data.length; i += 2) gas += data.slice(i, i + 2) === "00" ? 4 : 16;
  return gas;
}

/** n orders of epoch `epoch` by traders[0..n), as described at the top. */
function book(m: MarketV2, epoch: bigint, traders: readonly Trader[], n: number, separator: Uint8Array) {
  const orders: IdentifiedOrder[] = [];
  for (let i = 0; i < n; i++) {
    const buy = i % 2 === 0;
    const j = Math.floor(i / 2);
    const marginal = buy && j % 2 === 1;
    orders.push(
      makeOrder(
        m.id,
        epoch,
        {
          trader: traders[i]!,
          side: buy ? "buy" : "sell",
          quantity: marginal ? 1000n + BigInt((j * 37) % 200) : 1000n,
          limitPrice: marginal ? 100n : buy ? 101n + BigInt(j % 20) : 80n + BigInt(j % 20),
          nonce: 0x1000_0000_0000_0000n + BigInt(i) * 7919n + epoch,
        },
        separator,
      ),
    );
  }
  return orders;
}

export const bench: BenchGroup = async (log) => {
  const env: Env = await startEnv({ extraArgs: ["--steps-tracing"] });
  try {
    const m = await newMarket(env, {
      epochLengthS: 1000n,
      feeBps: 10n,
      bondWei: 10n ** 16n,
      challengeWindowS: 300n,
    });
    const traders = makeTraders(TRADERS, "bench");
    // Buyers (even) hold QUOTE, sellers (odd) hold BASE; enough for every batch below.
    await fund(
      env,
      m.id,
      traders.map((t, i) => ({
        trader: t,
        asset: i % 2 === 0 ? Asset.QUOTE : Asset.BASE,
        amount: i % 2 === 0 ? 10n ** 12n : 10n ** 9n,
      })),
    );
    const submitter = env.anvil.accounts[1]!.address;
    const collateral = new Map<Hex, Collateral>(
      traders.map((t, i) => [
        t.address,
        i % 2 === 0 ? { base: 0n, quote: 10n ** 12n } : { base: 10n ** 9n, quote: 0n },
      ]),
    );
    let epoch = 0n;
    const proposeBook = async (
      n: number,
      from = traders,
    ): Promise<{ batch: SelectedBatch; s: Submission }> => {
      const batch = selectTrading(env, m.id, epoch, book(m, epoch, from, n, env.separator), collateral);
      if (batch.orders.length !== n || batch.clearing.fills.length !== n)
        throw new Error("the bench book must fill");
      await moveToEpoch(env, m, epoch + 1n);
      const s = await propose(env, submitter, m, epoch, bytesToHex(batch.bytes));
      if (s.resultHash !== batch.clearing.resultHash)
        throw new Error("certified result differs from clear()");
      epoch++;
      return { batch, s };
    };
    const item = (s: Submission) => ({
      epoch: s.epoch,
      batchHash: s.batchHash,
      submitter: s.submitter,
      feeTotal: s.feeTotal,
    });

    // Warm-up: the first proposal and finalization of the submitter pay zero-to-nonzero SSTOREs once (its
    // commitment word, its QUOTE fee balance, its claimable bonds).
    const first = await proposeBook(2);
    const second = await proposeBook(2);
    log(
      `first proposal of a submitter (2 orders): commit ${first.s.commitGas} + propose ${first.s.gasUsed} gas; ` +
        `the same later: ${second.s.commitGas} + ${second.s.gasUsed}`,
    );
    const warm = [first.s, second.s];

    const measured = new Map<number, Submission>();
    const txs = new Map<number, string>();
    for (const n of SIZES) {
      const { s } = await proposeBook(n);
      measured.set(n, s);
      log(
        `${String(n).padStart(3)} orders: commit ${s.commitGas} + propose ${s.gasUsed} gas, ` +
          `${((Number(s.commitGas) + Number(s.gasUsed)) / n).toFixed(0)} per fill (before the finalize share)`,
      );
    }
    for (const [n, s] of measured) txs.set(n, (await lastProposeTx(env, s)) ?? "");
    // More epochs, so that one finalize covers FINALIZE_EPOCHS of them.
    const extra: Submission[] = [];
    while (measured.size + extra.length < FINALIZE_EPOCHS) extra.push((await proposeBook(2)).s);

    // Finalize: the warm-up epochs first (first-time credits), then the measured ones in one transaction.
    await moveToEpoch(env, m, epoch + 1n);
    const warmFinalize = await finalize(env, submitter, m.id, warm.map(item));
    const fin = await finalize(env, submitter, m.id, [...measured.values(), ...extra].map(item));
    const finalizeShare = Number(fin.gasUsed) / FINALIZE_EPOCHS;
    log(
      `finalize of ${warm.length} epochs (first credits): ${warmFinalize.gasUsed}; of ${FINALIZE_EPOCHS} epochs: ` +
        `${fin.gasUsed} gas, ${finalizeShare.toFixed(0)} per epoch`,
    );

    const perFill = new Map<number, number>();
    log("unchallenged settlement (commit + propose + finalize share):");
    for (const [n, s] of measured) {
      const total = Number(s.commitGas) + Number(s.gasUsed) + finalizeShare;
      perFill.set(n, total / n);
      log(
        `  ${String(n).padStart(3)} fills: ${total.toFixed(0).padStart(9)} gas, ${(total / n).toFixed(0)} per fill`,
      );
    }

    // Least squares over the propose transactions: gas = fixed + perFill * n.
    const xs = SIZES.map((n) => n);
    const ys = SIZES.map((n) => Number(measured.get(n)!.gasUsed));
    const mean = (a: readonly number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const mx = mean(xs);
    const my = mean(ys);
    const slope =
      xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    const fixed = my - slope * mx;
    log(`propose linear fit: ${fixed.toFixed(0)} + ${slope.toFixed(1)} * fills`);

    // Where the gas of the 100-order proposal goes.
    const hash = txs.get(100)!;
    const tx = (await env.provider.getTransaction(hash)) as TransactionResponse;
    const calldataBytes = (tx.data.length - 2) / 2;
    const trace = (await env.provider.send("debug_traceTransaction", [
      hash,
      { disableStack: true, disableMemory: true, disableStorage: true },
    ])) as { structLogs: StructLog[] };
    const by = gasByOpcode(trace.structLogs);
    const take = (...ops: string[]) => ops.reduce((s, op) => s + (by.get(op) ?? 0), 0);
    const cd = calldataGas(tx.data);
    const ecrecover = take("STATICCALL");
    const sload = take("SLOAD");
    const sstore = take("SSTORE");
    const transient = take("TLOAD", "TSTORE");
    const keccak = take("KECCAK256");
    const logs = take("LOG0", "LOG1", "LOG2", "LOG3", "LOG4");
    const execution = [...by.values()].reduce((s, x) => s + x, 0);
    const other = execution - ecrecover - sload - sstore - transient - keccak - logs;
    const total = Number(measured.get(100)!.gasUsed);
    const rows: [string, number][] = [
      ["transaction base", 21_000],
      [`calldata (${calldataBytes} bytes)`, cd],
      ["ecrecover (STATICCALL to 0x01)", ecrecover],
      ["SLOAD", sload],
      ["SSTORE", sstore],
      ["TLOAD, TSTORE (coverage)", transient],
      ["KECCAK256", keccak],
      ["LOG (Proposed)", logs],
      ["other execution (stack, memory, control, arithmetic)", other],
    ];
    log("breakdown of the 100-order proposal (total / per fill):");
    for (const [what, g] of rows)
      log(`  ${what.padEnd(54)} ${String(g).padStart(9)} ${(g / 100).toFixed(0).padStart(7)}`);
    log(`  ${"sum (receipt gasUsed)".padEnd(54)} ${String(21_000 + cd + execution).padStart(9)} (${total})`);

    // Challenges: a standing batch of n orders, a union adding k buys above the price (each a new trader).
    // The first challenge of the challenger pays its commitment word's zero-to-nonzero SSTORE once.
    // (The finalize moved time to epoch + 1: the next proposal is of that epoch.)
    epoch++;
    const challenger = env.anvil.accounts[2]!.address;
    const measureChallenge = async (n: number, k: number): Promise<Submission> => {
      const standing = await proposeBook(n);
      // Buyers (even indices hold QUOTE) that are not in the standing batch.
      const added = Array.from({ length: k }, (_, i) => traders[400 + 2 * i]!).map((t, i) =>
        makeOrder(
          m.id,
          standing.s.epoch,
          { trader: t, side: "buy", quantity: 500n, limitPrice: 130n, nonce: 77n + BigInt(i) },
          env.separator,
        ),
      );
      const c = selectChallenge(
        {
          market: m.id,
          epoch: standing.s.epoch,
          domainSeparator: env.separator,
          orders: added.map((o) => o.order),
          collateral: lookupOf(collateral),
        },
        { header: standing.batch.header, orders: standing.batch.orders, resultHash: standing.s.resultHash },
      );
      if (c.outcome !== "challenge") throw new Error(`no challenge: ${c.outcome}`);
      const r = await challenge(
        env,
        challenger,
        m,
        standing.s.epoch,
        standing.s.submitter,
        bytesToHex(c.bytes),
      );
      if (r.resultHash !== c.selection.clearing.resultHash)
        throw new Error("challenge result differs from clear()");
      return r;
    };
    await measureChallenge(10, 2); // warm-up
    const challenges: [number, number, Submission][] = [];
    for (const [n, k] of [
      [10, 1],
      [50, 1],
      [100, 1],
      [100, 10],
      [128, 1],
    ] as const) {
      challenges.push([n, k, await measureChallenge(n, k)]);
    }
    log("challenge (standing batch of n orders, k added; commit separately):");
    for (const [n, k, c] of challenges) {
      log(
        `  n ${String(n).padStart(3)} + k ${String(k).padStart(2)}: ${String(c.gasUsed).padStart(9)} gas, ` +
          `${(Number(c.gasUsed) / (n + k)).toFixed(0)} per union order (commit ${c.commitGas})`,
      );
    }
    const c = challenges.find(([n, k]) => n === 100 && k === 1)![2];

    const gas100 = perFill.get(100)!;
    log(
      `gas_per_fill_100 ${gas100.toFixed(0)} vs version 1 ${VERSION_1_GAS_PER_FILL_100}: ` +
        `${(((gas100 - VERSION_1_GAS_PER_FILL_100) / VERSION_1_GAS_PER_FILL_100) * 100).toFixed(2)} %`,
    );
    return [
      { name: "gas_per_fill_10", value: Math.round(perFill.get(10)!), unit: "gas" },
      {
        name: "gas_per_fill_100",
        value: Math.round(gas100),
        unit: "gas",
        target: `<= ${Math.round(VERSION_1_GAS_PER_FILL_100 * 1.05)} (v1 + 5 %)`,
      },
      { name: "gas_per_fill_128", value: Math.round(perFill.get(128)!), unit: "gas" },
      { name: "gas_propose_fixed", value: Math.round(fixed), unit: "gas" },
      { name: "gas_propose_per_fill_marginal", value: Math.round(slope), unit: "gas" },
      { name: "gas_finalize_per_epoch", value: Math.round(finalizeShare), unit: "gas" },
      {
        name: "calldata_bytes_per_fill",
        value: Math.round((calldataBytes / 100) * 10) / 10,
        unit: "bytes",
        target: "<= 160",
      },
      { name: "gas_challenge_100_plus_1", value: Number(c.gasUsed), unit: "gas" },
    ] satisfies BenchFigure[];
  } finally {
    await env.close();
  }
};

/** The hash of the propose transaction behind a submission (the latest Proposed log of its epoch). */
async function lastProposeTx(env: Env, s: Submission): Promise<string | null> {
  const topic = smartMarketInterface.getEvent("Proposed")!.topicHash;
  const logs = await env.provider.getLogs({
    address: env.settlement,
    topics: [topic, s.market, `0x${s.epoch.toString(16).padStart(64, "0")}`],
    fromBlock: 0,
    toBlock: "latest",
  });
  const last = logs.at(-1);
  return last ? (last.transactionHash as Hex) : null;
}
