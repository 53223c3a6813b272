// Fault: 3,000 sybil announcements. Measured before the fix: the submitter ranking counted every announced
// wallet, and an announcement needs only fresh keys, so 3,000 fake announcements pushed the 10 honest nodes
// to ranks 188–2,669 and no honest node settled again. Here 3 real node processes on loopback share one
// anvil; a rogue libp2p peer (a plain libp2p host with the node's gossipsub settings, no node code behind
// it) connects to all of them and gossips 3,000 validly signed announcements from fresh peer ids and fresh,
// unfunded wallets, at a rate under the per-peer gossip limit, across several epochs. Every epoch must
// still be agreed and settled, every proposal made at an honest rank (0..2, read from the node's log
// line), each node's announcements table must keep at most MAX_ANNOUNCERS_PER_EPOCH peers per epoch, and
// the flood must show in each node's log at WARN.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeAnnouncement } from "../../node/gossip/announcement.ts";
import { marketTopics } from "../../node/gossip/topics.ts";
import { admitTopics, createHost, type Host } from "../../node/host.ts";
import { MAX_ANNOUNCERS_PER_EPOCH } from "../../node/market/announcements.ts";
import { domainSeparator, makeDomain } from "../../protocol/eip712.ts";
import { epochAtMs } from "../../protocol/epoch.ts";
import { keccak256, toUtf8Bytes } from "../../protocol/ethers.ts";
import type { Hex } from "../../protocol/hex.ts";
import { addressOfPrivateKey } from "../../protocol/signature.ts";
import { SettlementClient } from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import { pidAlive, Testnet } from "../../testnet/network.ts";
import { deriveSecretKey } from "../../testnet/rng.ts";
import { crossingScenario } from "./harness.ts";

const NODES = 3;
const EPOCHS = 6;
/** 10 s epochs: the first-ranked node has 2.7 s to land commit and proposal on a loaded 2-core machine. */
const EPOCH_SECONDS = 10;
const SYBILS = 3000;
/** Under the nodes' per-peer gossip limit (4,000 orders/s sustained): the flood is accepted, not rate-limited. */
const FLOOD_PER_S = 100;
const SEED = "sybil-seed";

const scenario = crossingScenario("sybil", 2);

interface Sybil {
  readonly walletKey: Hex;
  readonly wallet: Hex;
  readonly peerKey: PrivateKey;
  readonly peerId: string;
}

describe("fault: a rogue peer gossips 3,000 sybil announcements", () => {
  let net: Testnet;
  let rogue: Host | null = null;
  const pids: number[] = [];

  beforeAll(async () => {
    net = await Testnet.up({
      nodes: NODES,
      epochs: EPOCHS,
      epochSeconds: EPOCH_SECONDS,
      scenario,
      scenarioName: "sybil",
      seed: SEED,
      dir: join(fileURLToPath(new URL("../../.scratch/", import.meta.url)), `fault-sybil-${process.pid}`),
    });
    pids.push(net.anvil.pid, ...net.nodes.map((n) => n.child!.pid!));
    // Submitter candidates hold escrow in the market: each node's wallet deposits one quote unit (the
    // testnet funds devices, not node wallets).
    await Promise.all(
      net.nodes.map(async (n) => {
        const c = new SettlementClient({
          rpcUrl: net.anvil.rpcUrl,
          privateKey: deriveSecretKey(SEED, "node", n.index),
          contract: net.contract,
        });
        try {
          await c.mintTestToken(net.quote, n.wallet, 1n);
          await c.deposit(net.market.id, Asset.QUOTE, 1n);
        } finally {
          c.close();
        }
      }),
    );
  });

  afterAll(async () => {
    await rogue?.stop();
    await net?.down();
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  });

  it("every epoch is agreed and settled at an honest rank; tables stay bounded; the flood is logged", async () => {
    const separator = domainSeparator(makeDomain(net.anvil.chainId, net.contract));
    const topics = marketTopics(separator, net.market.id);
    const sybils: Sybil[] = await Promise.all(
      Array.from({ length: SYBILS }, async (_, i) => {
        const walletKey = keccak256(toUtf8Bytes(`sybil/${i}`)) as Hex;
        const peerKey = await generateKeyPair("Ed25519");
        return {
          walletKey,
          wallet: addressOfPrivateKey(walletKey),
          peerKey,
          peerId: peerIdFromPrivateKey(peerKey).toString(),
        };
      }),
    );
    // Signed in advance (the test process must not compete with the nodes for CPU during the run), each
    // for the epoch it is planned to be sent in: FLOOD_PER_S from 2 s from now.
    const startMs = Date.now() + 2000;
    const flood = await Promise.all(
      sybils.map(async (s, i) => {
        const atMs = startMs + Math.floor((i * 1000) / FLOOD_PER_S);
        const epoch = epochAtMs(net.market, BigInt(atMs));
        const data = await encodeAnnouncement(
          {
            market: net.market.id,
            epoch: epoch < 0n ? 0n : epoch,
            fingerprint: `0x${"ab".repeat(32)}` as Hex,
            orderCount: 1,
            resultHash: null,
            wallet: s.wallet,
            peerId: s.peerId,
          },
          s.walletKey,
          (d) => s.peerKey.sign(d),
        );
        return { atMs, data };
      }),
    );
    rogue = await createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: [],
      mdns: false,
      domainSeparator: separator,
    });
    admitTopics(rogue, topics);
    rogue.services.pubsub.subscribe(topics.announce);
    await Promise.all(net.nodes.map((n) => rogue!.dial(multiaddr(n.multiaddr))));

    // The flood, in the background while the testnet runs.
    let sent = 0;
    const flooding = (async () => {
      for (const { atMs, data } of flood) {
        if (atMs > Date.now()) await new Promise((r) => setTimeout(r, atMs - Date.now()));
        await rogue!.services.pubsub.publish(topics.announce, data).catch(() => undefined);
        sent++;
      }
    })();

    const report = await net.run();
    await flooding;
    expect(sent).toBe(SYBILS);

    const epochs = report.markets[0]!.epochs;
    expect(epochs).toHaveLength(EPOCHS);
    for (const e of epochs) {
      expect(e.agreed, `epoch ${e.epoch} agreed by all`).toBe(true);
      expect(e.settled, `epoch ${e.epoch} settled`).toBe(true);
      if (e.volume > 0n) expect(e.settledBy, `epoch ${e.epoch} settled by a node`).not.toBeNull();
    }
    const allRanks: number[] = [];
    for (const n of net.nodes) {
      const log = readFileSync(n.logPath, "utf8");
      // Every proposal this node made was at an honest rank (0..2 among 3 nodes; 188+ before the fix).
      const ranks = [...log.matchAll(/proposed the epoch's result.*?"?rank"?[=:](\d+)/g)].map((m) =>
        Number(m[1]),
      );
      for (const r of ranks) expect(r, `node ${n.index} proposal rank`).toBeLessThan(NODES);
      allRanks.push(...ranks);
      // The flood reached the node and was capped, at WARN.
      expect(log, `node ${n.index} log`).toMatch(/WARN.*more peers than an epoch keeps/);
      // Bounded: at most MAX_ANNOUNCERS_PER_EPOCH peers per epoch in the store.
      const db = new DatabaseSync(join(n.dataDir, "node.db"), { readOnly: true });
      try {
        const rows = db
          .prepare("SELECT epoch, COUNT(*) AS n FROM announcements GROUP BY epoch ORDER BY epoch")
          .all() as { epoch: number; n: number }[];
        const most = Math.max(...rows.map((r) => Number(r.n)));
        expect(most, `node ${n.index} announcers per epoch`).toBeLessThanOrEqual(MAX_ANNOUNCERS_PER_EPOCH);
        expect(most, `node ${n.index} kept some sybils`).toBeGreaterThan(NODES);
      } finally {
        db.close();
      }
    }
    // A proposal per trading epoch, each at a small rank; most by the first-ranked node.
    expect(allRanks.length).toBeGreaterThanOrEqual(epochs.filter((e) => e.volume > 0n).length);
    expect(epochs.filter((e) => e.volume > 0n).length).toBeGreaterThanOrEqual(3);
    expect(allRanks.filter((r) => r === 0).length * 2).toBeGreaterThan(allRanks.length);
  });
});
