// Settlement gas on anvil: settle() gasUsed per fill for batches of 10, 100 and 500 fills, the fixed
// overhead from a linear fit, and a breakdown of where the gas goes (from an opcode trace).
//
// Assumptions (the realistic worst case for one batch):
//   - every fill is a different trader (so every balance access is a cold SLOAD and every write a fresh
//     SSTORE of its slot in this transaction), half buyers, half sellers, all at one price;
//   - each trader deposited earlier (deposit() also touches the other asset's balance word, so no
//     settlement pays a zero-to-nonzero SSTORE), and this settlement is its first balance change of the
//     epoch (the checkpoint is written, inside the same SSTORE);
//   - partial fills (900 of 1000), limits and price of 2-3 digits, 64-bit nonces: realistic calldata;
//   - market fee 10 bps; the submitter already holds a balance in the market and the epoch's word of the
//     settled bitmap is already non-zero (both first-time costs are measured separately, see the log).
import type { TransactionResponse } from "ethers";
import { Asset } from "../../settlement/encoding.ts";
import {
  fund,
  type IdentifiedOrder,
  makeOrder,
  makeTraders,
  moveToEpoch,
  newMarket,
  startEnv,
} from "../unit/settlement-fixture.ts";
import type { BenchFigure, BenchGroup } from "./harness.ts";

const SIZES = [10, 50, 100, 200, 500] as const;
const TRADERS = 500;

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

export const bench: BenchGroup = async (log) => {
  const env = await startEnv({ extraArgs: ["--steps-tracing"] });
  try {
    const m = await newMarket(env, 1000n, 10n);
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
    const submitter = env.admin;
    let epoch = 0n;
    const settleBatch = async (n: number) => {
      const entries: { order: IdentifiedOrder; fill: bigint }[] = [];
      for (let i = 0; i < n; i++) {
        const side = i % 2 === 0 ? "buy" : "sell";
        const order = makeOrder(
          m.id,
          epoch,
          {
            trader: traders[i]!,
            side,
            quantity: 1000n,
            limitPrice: side === "buy" ? 120n : 80n,
            nonce: 0x1000_0000_0000_0000n + BigInt(i) * 7919n + epoch,
          },
          env.separator,
        );
        entries.push({ order, fill: 900n });
      }
      entries.sort((a, b) => (a.order.id < b.order.id ? -1 : 1));
      const fills = entries.map((e) => ({ id: e.order.id, quantity: e.fill }));
      const orders = new Map(entries.map((e) => [e.order.id, e.order.order]));
      await moveToEpoch(env, m, epoch + 1n);
      const volume = BigInt(n / 2) * 900n;
      const r = await submitter.settle(
        m.id,
        epoch,
        { market: m.id, epoch, price: 100n, volume, fills },
        orders,
      );
      epoch++;
      return r;
    };

    // First settlement of the market: pays for the bitmap word and the submitter's fee balance.
    const first = await settleBatch(2);
    const second = await settleBatch(2);
    log(
      `first settlement of a market (2 fills): ${first.gasUsed} gas; the same batch later: ${second.gasUsed} ` +
        `(difference = zero-to-nonzero SSTOREs of the settled-bitmap word and the submitter's fee balance)`,
    );

    const gas = new Map<number, bigint>();
    const txs = new Map<number, string>();
    for (const n of SIZES) {
      const r = await settleBatch(n);
      gas.set(n, r.gasUsed);
      txs.set(n, r.txHash);
      log(`${String(n).padStart(3)} fills: ${r.gasUsed} gas, ${Number(r.gasUsed) / n} per fill`);
    }

    // Least squares: gas = fixed + perFill * n.
    const xs = SIZES.map((n) => n);
    const ys = SIZES.map((n) => Number(gas.get(n)!));
    const mean = (a: readonly number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const mx = mean(xs);
    const my = mean(ys);
    const slope =
      xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    const fixed = my - slope * mx;
    log(`linear fit: ${fixed.toFixed(0)} + ${slope.toFixed(1)} * fills`);

    // Where the gas of the 100-fill settlement goes.
    const hash = txs.get(100)!;
    const tx = (await env.provider.getTransaction(hash)) as TransactionResponse;
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
    const keccak = take("KECCAK256");
    const logs = take("LOG0", "LOG1", "LOG2", "LOG3", "LOG4");
    const execution = [...by.values()].reduce((s, x) => s + x, 0);
    const other = execution - ecrecover - sload - sstore - keccak - logs;
    const total = Number(gas.get(100)!);
    const rows: [string, number][] = [
      ["transaction base", 21_000],
      [`calldata (${(tx.data.length - 2) / 2} bytes)`, cd],
      ["ecrecover (STATICCALL to 0x01)", ecrecover],
      ["SLOAD", sload],
      ["SSTORE", sstore],
      ["KECCAK256", keccak],
      ["LOG (Settled)", logs],
      ["other execution (stack, memory, control, arithmetic)", other],
    ];
    log("breakdown of the 100-fill settlement (total / per fill):");
    for (const [what, g] of rows)
      log(`  ${what.padEnd(54)} ${String(g).padStart(9)} ${(g / 100).toFixed(0).padStart(7)}`);
    log(`  ${"sum (receipt gasUsed)".padEnd(54)} ${String(21_000 + cd + execution).padStart(9)} (${total})`);

    return [
      { name: "gas_per_fill_10", value: Math.round(Number(gas.get(10)!) / 10), unit: "gas" },
      {
        name: "gas_per_fill_100",
        value: Math.round(Number(gas.get(100)!) / 100),
        unit: "gas",
        target: "<= 20000",
      },
      { name: "gas_per_fill_500", value: Math.round(Number(gas.get(500)!) / 500), unit: "gas" },
      { name: "gas_settle_fixed", value: Math.round(fixed), unit: "gas" },
      { name: "gas_per_fill_marginal", value: Math.round(slope), unit: "gas" },
    ] satisfies BenchFigure[];
  } finally {
    await env.close();
  }
};
