// Testnet benchmarks:
//   testnet_first_settlement_s     `npm start` (here with --epochs 2) → the first epoch settled on chain
//   testnet_max_orders_per_epoch   the largest per-epoch order count a 5-node testnet (5 s epochs, anvil's
//                                  default 30M block gas) sustains for 2 consecutive epochs with every
//                                  node agreeing and the settlement landing in every epoch
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { domainSeparator, makeDomain } from "../../protocol/eip712.ts";
import { epochAtMs, epochEndMs, epochStartMs } from "../../protocol/epoch.ts";
import { Testnet } from "../../testnet/network.ts";
import { type BenchFigure, type BenchGroup, round } from "./harness.ts";
import { postOrder, signFor, sleep, tradersScenario } from "./traders.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LEVELS = [250, 500, 1000, 1500, 2000, 3000, 4000, 6000];
const EPOCHS_PER_LEVEL = 2;

async function firstSettlementSeconds(log: (l: string) => void): Promise<number> {
  const dir = join(tmpdir(), `smartmarket-bench-start-${process.pid}`);
  const t0 = Date.now();
  const child = spawn("npm", ["start", "--silent", "--", "--epochs", "2", "--dir", dir, "--json"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.resume();
  child.stderr.resume();
  const code = await new Promise<number>((r) => child.on("exit", (c) => r(c ?? -1)));
  const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as {
    startedAtMs: number;
    firstSettlementS: number | null;
  };
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0 || report.firstSettlementS === null)
    throw new Error(`npm start exited ${code} without a settlement`);
  const s = (report.startedAtMs + report.firstSettlementS * 1000 - t0) / 1000;
  log(
    `npm start → first settlement: ${s.toFixed(1)} s (launcher start ${((report.startedAtMs - t0) / 1000).toFixed(1)} s after spawn)`,
  );
  return s;
}

async function maxOrdersPerEpoch(log: (l: string) => void): Promise<number> {
  const dir = join(tmpdir(), `smartmarket-bench-load-${process.pid}`);
  const net = await Testnet.up({
    nodes: 5,
    epochs: null,
    epochSeconds: 5,
    scenario: tradersScenario(200),
    scenarioName: "bench",
    seed: "load",
    dir,
  });
  let best = 0;
  try {
    const separator = domainSeparator(makeDomain(net.anvil.chainId, net.contract));
    const devices = net.scenario.devices;
    let nonce = 0n;
    for (const n of LEVELS) {
      let ok = true;
      for (let k = 0; k < EPOCHS_PER_LEVEL && ok; k++) {
        const epoch = epochAtMs(net.market, BigInt(Date.now())) + 1n;
        const startMs = Number(epochStartMs(net.market, epoch));
        await sleep(startMs - Date.now() + 100);
        // Orders go out over the first half of the epoch, spread over the nodes' APIs.
        const spanMs = Number(net.market.epochLengthS) * 500;
        let sent = 0;
        const workers = Array.from({ length: 16 }, async (_, w) => {
          for (let i = w; i < n; i += 16) {
            await sleep(startMs + (i * spanMs) / n - Date.now());
            const buy = i % 2 === 0;
            const limitPrice =
              i % 10 === 0
                ? 1000n
                : buy
                  ? 920n + BigInt((i * 7919) % 200)
                  : 880n + BigInt((i * 104_729) % 200);
            const o = signFor(separator, net.market.id, devices[i % devices.length]!, epoch, {
              side: buy ? "buy" : "sell",
              limitPrice,
              quantity: 1n + BigInt(i % 20),
              nonce: nonce + BigInt(i),
            });
            try {
              await postOrder(net.nodes[i % net.nodes.length]!, net.market.id, o.json);
              sent++;
            } catch {
              // counted as not sent
            }
          }
        });
        await Promise.all(workers);
        nonce += BigInt(n);
        const windowEnd = Number(epochEndMs(net.market, epoch + 1n));
        let views: {
          phase: string;
          orders: number | null;
          fingerprint: string | null;
          resultHash: string | null;
          volume: string | null;
          agreed: boolean | null;
        }[] = [];
        while (Date.now() < windowEnd + 2000) {
          views = await Promise.all(
            net.nodes.map((node) =>
              node
                .client(10_000)
                .epoch(net.market.id, epoch, { orders: false })
                .catch(() => ({
                  phase: "unknown",
                  orders: null,
                  fingerprint: null,
                  resultHash: null,
                  volume: null,
                  agreed: null,
                })),
            ),
          );
          if (views.every((v) => v.phase === "settled" || v.phase === "unsettled")) break;
          await sleep(200);
        }
        const agreed = new Set(views.map((v) => `${v.fingerprint}|${v.resultHash}`)).size === 1;
        const allOrders = views.every((v) => v.orders === n);
        const settled = views.every((v) => v.phase === "settled" && v.agreed === true);
        ok = sent === n && agreed && allOrders && settled;
        log(
          `${n} orders, epoch ${epoch}: sent ${sent}, per node ${views.map((v) => v.orders).join("/")}, agreed ${agreed}, settled ${settled}, volume ${views[0]?.volume}`,
        );
      }
      if (!ok) break;
      best = n;
    }
  } finally {
    await net.down();
    rmSync(dir, { recursive: true, force: true });
  }
  return best;
}

export const bench: BenchGroup = async (log) => {
  const figures: BenchFigure[] = [];
  figures.push({
    name: "testnet_first_settlement_s",
    value: round(await firstSettlementSeconds(log), 1),
    unit: "s",
    target: "<= 30",
  });
  figures.push({ name: "testnet_max_orders_per_epoch", value: await maxOrdersPerEpoch(log), unit: "orders" });
  return figures;
};
