// Fault: clock skew. Measured before the fix: one node at −2 s refused a quarter of the market's orders
// (EPOCH_NOT_YET_OPEN), its own devices' included; at +2 s it took its submitter turns 2 s early and
// settled 8 of 10 epochs. Here 3 real node processes on loopback share one anvil; node 1's host clock runs
// 2 s ahead and node 2's 2 s behind (SMARTMARKET_CLOCK_OFFSET_MS shifts a process's host clock). Every
// node must agree on every epoch, accept every order its devices send, settle only at its own turn, and
// say in `status`, `/metrics` and its log that its host clock is off.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../node/api/client.ts";
import { submitterScore } from "../../node/market/submitter.ts";
import type { Hex } from "../../protocol/hex.ts";
import { pidAlive, Testnet } from "../../testnet/network.ts";
import { crossingScenario } from "./harness.ts";

const SKEW_MS = [0, 2000, -2000];
const EPOCHS = 6;

const scenario = crossingScenario("skew", 2);

describe("fault: ±2 s of host clock skew on two of three nodes", () => {
  let net: Testnet;
  const pids: number[] = [];

  beforeAll(async () => {
    net = await Testnet.up({
      nodes: 3,
      epochs: EPOCHS,
      epochSeconds: 5,
      scenario,
      scenarioName: "skew",
      seed: "skew-seed",
      dir: join(fileURLToPath(new URL("../../.scratch/", import.meta.url)), `fault-skew-${process.pid}`),
      nodeEnv: (i) => ({ SMARTMARKET_CLOCK_OFFSET_MS: String(SKEW_MS[i] ?? 0) }),
    });
    pids.push(net.anvil.pid, ...net.nodes.map((n) => n.child!.pid!));
  });

  afterAll(async () => {
    await net?.down();
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  });

  it("every epoch is agreed by all three and settled at the ranked turn; no device order is refused; the skew is reported", async () => {
    const api = (i: number) => new ApiClient(net.nodes[i]!.apiUrl, net.nodes[i]!.token);
    // The skew is measured and shown before any epoch runs (the clock samples the chain at start).
    for (const i of [1, 2]) {
      const st = await api(i).status();
      expect(st.clock, `node ${i} status.clock`).not.toBeNull();
      // chain − host: node 1 (host ahead) about −2000, node 2 (host behind) about +2000.
      expect(Math.abs(st.clock!.correctionMs + SKEW_MS[i]!), `node ${i} correction`).toBeLessThan(1000);
      expect(st.clock!.warning, `node ${i} warning`).toMatch(
        i === 1 ? /ahead of the chain's/ : /behind the chain's/,
      );
    }
    expect((await api(0).status()).clock!.warning).toBeNull();

    const report = await net.run();
    const epochs = report.markets[0]!.epochs;
    expect(epochs).toHaveLength(EPOCHS);
    const wallets = net.nodes.map((n) => n.wallet.toLowerCase() as Hex);
    for (const e of epochs) {
      expect(e.agreed, `epoch ${e.epoch} agreed by all`).toBe(true);
      expect(new Set(e.nodes.map((n) => n.resultHash)).size, `epoch ${e.epoch} result hashes`).toBe(1);
      // Every order the devices signed reached every node's agreed set: none refused as early or late.
      const refused = (e.deviceOrders ?? []).filter((o) => o.fate === "not accepted");
      expect(refused, `epoch ${e.epoch} refused device orders`).toEqual([]);
      expect(e.orders, `epoch ${e.epoch} orders in the agreed set`).toBe(e.ordersSent);
      expect(e.settled, `epoch ${e.epoch} settled`).toBe(true);
      // No skewed node goes before its turn: the settler is the node ranked first for the epoch (from
      // epoch 1: in epoch 0 the nodes have not all heard each other's announcements yet).
      if (e.epoch === epochs[0]!.epoch) continue;
      const first = wallets.reduce((best, w) =>
        submitterScore(net.market.id, e.epoch, w) < submitterScore(net.market.id, e.epoch, best) ? w : best,
      );
      expect(e.settledBy, `epoch ${e.epoch} settled by the first-ranked node`).toBe(wallets.indexOf(first));
    }

    // /metrics carries the correction; the log says it at WARN.
    for (const i of [1, 2]) {
      const metrics = await fetch(`${net.nodes[i]!.apiUrl}/metrics`, {
        headers: { authorization: `Bearer ${net.nodes[i]!.token}` },
      }).then((r) => r.text());
      expect(metrics).toMatch(/smartmarket_clock_correction_ms -?\d+/);
      const log = readFileSync(net.nodes[i]!.logPath, "utf8");
      expect(log).toMatch(/WARN.*host clock is (ahead of|behind) the chain's/);
    }
  });
});
