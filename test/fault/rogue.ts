// A rogue libp2p peer against a running testnet's node 0, from the calling process: the attack of the
// fault test test/fault/rogue-peer.fault.test.ts, shared with `npm run bench -- node`
// (abuse_rss_growth_mb, honest_delivery_under_flood). While the market trades:
//   - sync-slot exhaustion: 9 throwaway identities holding 2 sync streams each, reopened as they close,
//     while an honest newcomer syncs the current epoch with the node every 500 ms;
//   - a duplicate flood (one valid order repeated), random bytes and badly signed orders on the market's
//     order topic, undecodable RPC frames, and frames announcing more than 1 MiB, each from its own
//     rogue identity;
//   - the last look: an order signed 600 ms after its epoch closed, PUSHed in a sync session.
// It returns what happened; the caller asserts (the test) or prints (the bench).
import { readFileSync } from "node:fs";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { RPC } from "@libp2p/gossipsub/message";
import type { Libp2p, Stream } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import * as lp from "it-length-prefixed";
import { createLibp2p } from "libp2p";
import { ApiClient } from "../../node/api/client.ts";
import { orderTopic } from "../../node/gossip/topics.ts";
import { SYNC_PROTOCOL } from "../../node/sync/constants.ts";
import { SyncService } from "../../node/sync/service.ts";
import { encodeOrder } from "../../protocol/codec.ts";
import { domainSeparator, makeDomain, orderDigestBytes } from "../../protocol/eip712.ts";
import { epochAtMs, epochEndMs, epochStartMs } from "../../protocol/epoch.ts";
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import type { Order } from "../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../protocol/signature.ts";
import { SettlementClient } from "../../settlement/client.ts";
import { fundOnDevChain } from "../../settlement/dev-fund.ts";
import { Asset } from "../../settlement/encoding.ts";
import type { Testnet } from "../../testnet/network.ts";
import { deriveSecretKey } from "../../testnet/rng.ts";
import { crossingScenario } from "./harness.ts";

const _EPOCH_SECONDS = 4;
const MESHSUB = ["/meshsub/1.2.0", "/meshsub/1.1.0"];

const _scenario = crossingScenario("rogue", 1);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function rogueHost(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
}

/** A metric's value from Prometheus text (sum over series matching every label given). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

async function send(stream: Stream, bytes: Uint8Array | ReturnType<typeof lp.encode.single>): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain({ signal: AbortSignal.timeout(5_000) });
}

/** What the attack did and what the nodes did about it. */
export type RogueRun = Awaited<ReturnType<typeof runRogueAttack>>;

/**
 * Runs the testnet's epochs (net.run()) with the attack on node 0 from the start of epoch 2; `hosts`
 * collects every libp2p host it creates (the caller stops them).
 */
export async function runRogueAttack(net: Testnet, hosts: Libp2p[], epochSeconds: number) {
  const victim = net.nodes[0]!;
  const victimPid = victim.child!.pid!;
  const victimAddr = multiaddr(victim.multiaddr);
  const client = new ApiClient(victim.apiUrl, victim.token, { timeoutMs: 10_000 });
  const separator = domainSeparator(makeDomain(net.anvil.chainId, net.contract));
  const topic = orderTopic(separator, net.market.id);
  const run = net.run();

  // Let the honest nodes trade (and build gossip scores with each other) for two epochs.
  const attackEpoch = 2n;
  await sleep(Number(epochStartMs(net.market, attackEpoch)) - Date.now());
  const before = await client.metrics();
  const rssBefore = rssBytes(victimPid);

  // --- sync-slot exhaustion: 9 throwaway identities, 2 streams each, reopened whenever they close ---
  let attacking = true;
  const sybils = await Promise.all(Array.from({ length: 9 }, () => rogueHost()));
  hosts.push(...sybils);
  let held = 0;
  const holdSlot = async (h: Libp2p): Promise<void> => {
    while (attacking) {
      try {
        const s = await h.dialProtocol(victimAddr, SYNC_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
        s.send(Uint8Array.of(0x85)); // half a length prefix: the server waits for the rest
        held++;
        await new Promise<void>((r) => {
          s.addEventListener("close", () => r(), { once: true });
          if (s.status !== "open") r();
        });
      } catch {
        await sleep(100);
      }
    }
  };
  const slotAttack = sybils.flatMap((h) => [holdSlot(h), holdSlot(h)]);

  // --- an honest newcomer syncing the current epoch with the victim through the slot attack ---
  // (Honest nodes whose sets are equal at a close open no session, as their announcements suffice; so the
  // attack's check that honest sync gets through needs a session of its own.) A fresh identity scores 0
  // like the sybils: it gets a slot by evicting one held idle for the eviction age (slots.ts).
  const newcomerHost = await rogueHost();
  hosts.push(newcomerHost);
  const NO_IDS: readonly Hex[] = [];
  const newcomer = new SyncService(
    {
      store: {
        ids: () => NO_IDS,
        wire: () => [],
        accept: async (_m, _e, orders) => ({ accepted: orders.length, rejected: 0 }),
        serves: () => true,
      },
    },
    { libp2p: newcomerHost },
  );
  await newcomer.start();
  const newcomerSync = { ok: 0, failed: 0, fetched: 0 };
  const newcomerLoop = (async () => {
    while (attacking) {
      try {
        const epoch = epochAtMs(net.market, BigInt(Date.now()));
        const r = await newcomer.reconcile(victim.multiaddr, net.market.id, epoch, {
          signal: AbortSignal.timeout(8_000),
        });
        newcomerSync.ok++;
        newcomerSync.fetched += r.fetched;
      } catch {
        newcomerSync.failed++;
      }
      await sleep(500);
    }
  })();

  // --- gossip rogues, one identity per kind of garbage ---
  const epochNow = epochAtMs(net.market, BigInt(Date.now()));
  const rogueKey = deriveSecretKey("rogue", "wallet");
  // The rogue pays for one deposit, so that its orders get past the funded-trader rule (an unfunded
  // wallet's orders are IGNOREd before their signature is even looked at) and reach the checks below.
  const rogueWallet = new SettlementClient({
    rpcUrl: net.anvil.rpcUrl,
    privateKey: rogueKey,
    contract: net.contract,
  });
  try {
    await fundOnDevChain(rogueWallet.provider, addressOfPrivateKey(rogueKey), {
      ethWei: 10n ** 18n,
      mints: [{ token: net.quote, amount: 1_000n }],
    });
    await rogueWallet.deposit(net.market.id, Asset.QUOTE, 1_000n);
  } finally {
    rogueWallet.close();
  }
  await sleep(1_500); // the nodes' chain followers (every 400 ms) read the deposit
  const order = (nonce: bigint, signer: Hex = rogueKey): Uint8Array => {
    const o: Order = {
      market: net.market.id,
      epoch: epochNow,
      side: "buy",
      quantity: 25n, // at least the market's minQuantity (20): a smaller order fails before its signature
      limitPrice: 1n,
      nonce,
      trader: addressOfPrivateKey(rogueKey),
    };
    return encodeOrder({ ...o, signature: signDigest(orderDigestBytes(o, separator), signer) });
  };
  const rpc = (datas: Uint8Array[]): Uint8Array =>
    RPC.encode({
      subscriptions: [{ subscribe: true, topic }],
      messages: datas.map((data) => ({ topic, data })),
    });
  const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

  const rogues = new Map<string, Libp2p>();
  const attack = async (kind: string, frames: () => Uint8Array[], rawPrefix = false): Promise<void> => {
    const h = await rogueHost();
    hosts.push(h);
    rogues.set(kind, h);
    // keep sending on fresh streams until the node throws us out (or 40 tries)
    let sent = false;
    for (let i = 0; i < 40; i++) {
      try {
        const s = await h.dialProtocol(victimAddr, MESHSUB, { signal: AbortSignal.timeout(3_000) });
        for (const f of frames()) {
          await send(s, rawPrefix ? f : lp.encode.single(f));
        }
        sent = true;
      } catch {
        // refused (a dial burst from one address may be throttled) or reset: retried, or banned
      }
      await sleep(250);
      if (sent && h.getConnections().length === 0) break;
    }
    if (!sent) throw new Error(`the ${kind} rogue never reached the node`);
  };
  // the same valid order 100 times per RPC
  const dup = order(1n);
  await attack("duplicate", () => [rpc(Array.from({ length: 100 }, () => dup))]);
  // random bytes as order messages
  await attack("random", () => [rpc(Array.from({ length: 20 }, () => random(120)))]);
  // well-formed orders signed by the wrong key
  let nonce = 100n;
  const otherKey = deriveSecretKey("rogue", "other");
  await attack("badsig", () => [rpc(Array.from({ length: 20 }, () => order(nonce++, otherKey)))]);
  // RPC frames that are not protobuf
  await attack("garbage", () => Array.from({ length: 20 }, () => Uint8Array.of(0xff, 0xff, ...random(64))));
  // a length prefix of 2 MiB (the node's limit is 1 MiB): no honest peer sends it
  await attack("oversize", () => [Uint8Array.of(0x80, 0x80, 0x80, 0x01)], true);

  // keep the slot attack running through two more closes (honest sync must get through)
  await sleep(2 * epochSeconds * 1000);
  const during = await client.metrics();
  attacking = false;
  for (const h of sybils) for (const c of h.getConnections()) await c.close().catch(() => {});
  await Promise.allSettled([...slotAttack, newcomerLoop]);
  await newcomer.stop();
  const rssAfter = rssBytes(victimPid);

  // --- the last look: an order signed after its epoch closed, pushed by sync, is refused like gossip ---
  const lateEpoch = epochAtMs(net.market, BigInt(Date.now()));
  await sleep(Number(epochEndMs(net.market, lateEpoch)) + 600 - Date.now());
  const late: Order = {
    market: net.market.id,
    epoch: lateEpoch,
    side: "sell",
    quantity: 50n,
    limitPrice: 1n,
    nonce: 7_000n,
    trader: addressOfPrivateKey(rogueKey),
  };
  const lateWire = encodeOrder({
    ...late,
    signature: signDigest(orderDigestBytes(late, separator), rogueKey),
  });
  const lateId = bytesToHex(orderDigestBytes(late, separator));
  const pusherHost = await rogueHost();
  hosts.push(pusherHost);
  const pusher = new SyncService(
    {
      store: {
        ids: () => [lateId],
        wire: () => [lateWire],
        accept: async (_m, _e, orders) => ({ accepted: 0, rejected: orders.length }),
        serves: () => true,
      },
    },
    { libp2p: pusherHost },
  );
  await pusher.start();
  const pushReport = await pusher.reconcile(victim.multiaddr, net.market.id, lateEpoch);
  await pusher.stop();

  const report = await run;
  const after = await client.metrics();
  const peers = await client.peers();
  const log = readFileSync(victim.logPath, "utf8");

  // --- honest orders: in every node's set, and all nodes agree ---
  const epochs = report.markets[0]!.epochs.filter(
    (e) => e.epoch >= attackEpoch && e.epoch <= attackEpoch + 4n,
  );
  let honest = 0;
  let delivered = 0;
  const disagreed: bigint[] = [];
  for (const e of epochs) {
    const ids = (e.deviceOrders ?? []).filter((o) => o.fate !== "not accepted").map((o) => o.id);
    if (ids.length === 0) throw new Error(`epoch ${e.epoch}: no device order was accepted`);
    for (const n of net.nodes) {
      const held = new Set((await n.client(10_000).orders(net.market.id, e.epoch)).map((o) => o.id));
      honest += ids.length;
      delivered += ids.filter((id) => held.has(id)).length;
    }
    if (new Set(e.nodes.map((n) => n.fingerprint)).size !== 1) disagreed.push(e.epoch);
    else if (new Set(e.nodes.map((n) => n.resultHash)).size !== 1) disagreed.push(e.epoch);
  }
  const deliveredShare = delivered / honest;

  // --- honest sync during the slot attack: refusals happened, and honest sessions still completed ---
  const inboundOk = (t: string) =>
    metric(t, "smartmarket_sync_sessions", { direction: "inbound", outcome: "ok" });
  const refused = (t: string) => metric(t, "smartmarket_sync_refused_total");
  const evicted = (t: string) => metric(t, "smartmarket_sync_refused_total", { reason: "evicted" });

  // --- expulsion: every attributable rogue disconnected, banned, counted and logged at WARN ---
  const expelled = (t: string) => metric(t, "smartmarket_peer_expulsions_total");
  const drops = (reason: string) =>
    metric(after, "smartmarket_p2p_drops_total", { reason }) -
    metric(before, "smartmarket_p2p_drops_total", { reason });

  const summary = {
    deliveredShare,
    honestOrderChecks: honest,
    slotStreamsOpened: held,
    inboundSyncOkDuringAttack: inboundOk(during) - inboundOk(before),
    newcomerSyncOk: newcomerSync.ok,
    newcomerSyncFailed: newcomerSync.failed,
    newcomerSyncFetched: newcomerSync.fetched,
    syncRefusedDuringAttack: refused(during) - refused(before),
    evictedDuringAttack: evicted(during) - evicted(before),
    expulsions: expelled(after) - expelled(before),
    bans: metric(after, "smartmarket_peer_bans"),
    drops: Object.fromEntries(
      [
        "duplicate",
        "duplicate_flood",
        "malformed",
        "bad_signature",
        "oversize",
        "refused_sync",
        "rate_limited",
        "late",
      ].map((r) => [r, drops(r)]),
    ),
    rssBeforeMb: Math.round(rssBefore / 2 ** 20),
    rssAfterMb: Math.round(rssAfter / 2 ** 20),
    abuseRssGrowthMb: Math.round((rssAfter - rssBefore) / 2 ** 20),
  };

  return {
    summary,
    disagreed,
    victimAddr,
    rogues,
    pushReport,
    lateId,
    lateEpoch,
    peers,
    log,
    drops,
  };
}
