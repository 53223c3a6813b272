// The node root: what a device runs. It owns what every market shares — the libp2p host, gossip and
// sync routing by topic and market, the store, the chain port and its follower, metrics, peer upkeep —
// and a market session (market/session.ts) per market it serves. Markets are joined and left at run
// time; the ones joined or left that way are remembered across restarts (store memberships).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { PeerId, PrivateKey, Startable } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { domainSeparator, type Eip712Domain, makeDomain } from "../protocol/eip712.ts";
import type { Hex } from "../protocol/hex.ts";
import { AbuseMonitor } from "./abuse.ts";
import { loadOrCreateToken } from "./api/token.ts";
import type { NodeStatus } from "./api/types.ts";
import { BanList } from "./ban-list.ts";
import { ChainFollower } from "./chain/follower.ts";
import { ChainError, ChainErrorCode, type ChainPort } from "./chain/port.ts";
import type { ClockStatus } from "./clock.ts";
import { DB_FILE } from "./constants.ts";
import { NodeInputError } from "./errors.ts";
import { OrderGossip, type TopicKind } from "./gossip/service.ts";
import { admitTopics, createHost, forgetTopics, type Host, MAX_MARKETS_PER_NODE } from "./host.ts";
import { loadOrCreatePeerKey } from "./identity.ts";
import type { Logger } from "./logger.ts";
import { makeMarketContext } from "./market/context.ts";
import type { NodeWallet, NonceSource } from "./market/intake.ts";
import type { MarketSyncStore, SessionNetwork } from "./market/network.ts";
import { MarketSession } from "./market/session.ts";
import { NodeMetrics } from "./metrics.ts";
import { PeerClock } from "./peer-clock.ts";
import { PeerKeeper } from "./peers.ts";
import { NodeStore } from "./store.ts";
import { registerSyncMetrics } from "./sync/metrics.ts";
import { pushTimeVerdict } from "./sync/push-window.ts";
import { SyncService, type SyncStore } from "./sync/service.ts";

export interface SmartNodeOptions {
  readonly dataDir: string;
  /** Markets to serve from the start (plus those joined at run time before, minus those left). */
  readonly markets: readonly Hex[];
  readonly listen: readonly string[];
  readonly announce?: readonly string[];
  readonly bootstrap: readonly string[];
  readonly mdns: boolean;
  /** Whether this node submits settlements when its turn in the ranking comes (default true). */
  readonly submit?: boolean;
  /** Keep at least this many connections, dialling known peers when below (default 4). */
  readonly minConnections?: number;
  /** Upper bound of the reconciliation window after close (default RECONCILE_WINDOW_MAX_MS). */
  readonly reconcileWindowMs?: number;
}

export interface SmartNodeModules {
  readonly chain: ChainPort;
  readonly wallet: NodeWallet;
  readonly logger: Logger;
  /** The node's clock, ms since the Unix epoch (tests may shift it; node start runs it on the chain's time). */
  readonly clock?: () => number;
  /** What the clock knows of its skew against the chain's time, for `status` (node/clock.ts). */
  readonly clockStatus?: () => ClockStatus;
}

export class SmartNode implements Startable {
  readonly opts: SmartNodeOptions;
  readonly chain: ChainPort;
  readonly wallet: NodeWallet;
  readonly log: Logger;
  readonly metrics = new NodeMetrics();
  readonly domain: Eip712Domain;
  readonly separator: Uint8Array;
  private readonly clock: () => number;
  private readonly clockStatus: (() => ClockStatus) | undefined;
  /** The node's clock against its peers' (node/peer-clock.ts), fed by every market's announcements. */
  readonly peerClock: PeerClock;
  private readonly sessionsByMarket = new Map<Hex, MarketSession>();
  private readonly syncStores = new Map<Hex, MarketSyncStore>();
  /** Topic → market, for verdict metrics. */
  private readonly topicMarkets = new Map<string, Hex>();
  private readonly joining = new Map<Hex, Promise<MarketSession>>();
  private running = false;
  private startedMs = 0;
  /** Drop counters, abuse log, strikes and bans: one per node (its metrics live as long as it does). */
  private abuseMonitor: AbuseMonitor | null = null;
  private parts: {
    store: NodeStore;
    host: Host;
    peerKey: PrivateKey;
    gossip: OrderGossip;
    sync: SyncService;
    follower: ChainFollower;
    peers: PeerKeeper;
    apiToken: string;
  } | null = null;

  constructor(opts: SmartNodeOptions, modules: SmartNodeModules) {
    this.opts = opts;
    this.chain = modules.chain;
    this.wallet = {
      address: modules.wallet.address.toLowerCase() as Hex,
      privateKey: modules.wallet.privateKey,
    };
    this.log = modules.logger;
    this.clock = modules.clock ?? Date.now;
    this.clockStatus = modules.clockStatus;
    this.peerClock = new PeerClock({
      logger: this.log.child("clock"),
      clock: this.clock,
      registry: this.metrics.registry,
    });
    this.domain = makeDomain(this.chain.chainId, this.chain.contract);
    this.separator = domainSeparator(this.domain);
  }

  readonly [Symbol.toStringTag] = "smartmarket/node";

  private get p() {
    if (!this.parts) throw new Error("the node is not started");
    return this.parts;
  }

  get store(): NodeStore {
    return this.p.store;
  }

  get host(): Host {
    return this.p.host;
  }

  get gossip(): OrderGossip {
    return this.p.gossip;
  }

  get peerKeeper(): PeerKeeper {
    return this.p.peers;
  }

  get apiToken(): string {
    return this.p.apiToken;
  }

  get peerId(): PeerId {
    return this.p.host.peerId;
  }

  isStarted(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
    const apiToken = loadOrCreateToken(this.opts.dataDir, (msg) => this.log.warn(msg));
    this.abuseMonitor ??= new AbuseMonitor({
      registry: this.metrics.registry,
      logger: this.log.child("abuse"),
      bans: new BanList(),
    });
    const abuse = this.abuseMonitor;
    const store = new NodeStore(join(this.opts.dataDir, DB_FILE), {
      onWriteBehindError: (err, orders) => {
        this.metrics.countStoreBatchFailure();
        this.log.error("orders from the network not written to the store (they stay in memory)", {
          orders,
          err,
        });
      },
    });
    const peerKey = await loadOrCreatePeerKey(this.opts.dataDir);
    const host = await createHost({
      privateKey: peerKey,
      listen: this.opts.listen,
      announce: this.opts.announce,
      bootstrap: this.opts.bootstrap,
      mdns: this.opts.mdns,
      domainSeparator: this.separator,
      metricsRegistry: this.metrics.registry,
      bans: abuse.bans,
      abuse,
    });
    const gossip = new OrderGossip(
      {
        onVerdict: (kind, topic, verdict) => {
          const market = this.topicMarkets.get(topic);
          if (!market) this.metrics.countUnroutedOrder("gossip", verdict);
          else if (kind === "order") {
            if (!verdict.perOrderCounted) this.metrics.forMarket(market).countOrder("gossip", verdict);
          } else this.metrics.forMarket(market).countAnnouncement(verdict);
        },
        drops: abuse,
        // Arrival times on the node's clock (the chain's time), the one its time rules and epochs use: a
        // host clock off by seconds would otherwise judge queued orders on the wrong time.
        now: () => this.clock(),
        // One store transaction per validation batch (issue 13: a commit per gossiped order). If it fails
        // the batch's orders stay in the books (they were validated and forwarded; peers hold them too).
        inBatch: (work) => {
          try {
            store.inTransaction(false, work);
          } catch (err) {
            this.metrics.countStoreBatchFailure();
            this.log.error("gossip batch not written to the store", { err });
          }
        },
      },
      { pubsub: host.services.pubsub },
    );
    const sync = new SyncService(
      {
        store: this.syncStore(),
        peerScore: (peer) => gossip.score(peer),
        takeRate: (peer) => gossip.takeRate(peer),
        events: {
          refused: (reason, peer) => abuse.syncRefused(reason, peer),
          dropped: (reason, peer, n, detail) => abuse.drop(reason, "sync", peer, n, detail),
        },
      },
      { libp2p: host },
    );
    registerSyncMetrics(this.metrics.registry, () => this.p.sync.stats());
    // A hung or failing chain is logged and counted (smartmarket_rpc_errors_total, smartmarket_chain_up).
    this.chain.attach?.({ registry: this.metrics.registry, logger: this.log.child("rpc") });
    const follower = new ChainFollower({
      chain: this.chain,
      logger: this.log.child("chain"),
      listeners: () => this.sessionsByMarket,
      registry: this.metrics.registry,
    });
    const peers = new PeerKeeper(
      { bootstrap: this.opts.bootstrap, minConnections: this.opts.minConnections },
      {
        host,
        gossip,
        logger: this.log.child("peers"),
        topics: () =>
          [...this.sessionsByMarket.values()].flatMap((s) => [
            { topic: s.context.topics.orders, label: `orders:${s.market}` },
            { topic: s.context.topics.announce, label: `announce:${s.market}` },
          ]),
        onDisconnect: (peer) => this.peerClock.forget(peer),
        onConnect: (peer) => {
          for (const s of this.sessionsByMarket.values()) s.catchUp(peer);
        },
        abuse,
      },
    );
    this.parts = { store, host, peerKey, gossip, sync, follower, peers, apiToken };
    this.metrics.attach({
      host,
      gossip,
      marketCount: () => this.sessionsByMarket.size,
      meshPeers: () =>
        [...this.sessionsByMarket].map(([market, session]) => ({
          market,
          // on the router, not on the package's exported interface
          peers: (host.services.pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(
            session.context.topics.orders,
          ).length,
        })),
    });

    await host.start();
    await gossip.start();
    await sync.start();
    this.running = true;
    this.startedMs = this.clock();
    try {
      await peers.start();
      const wanted = new Set(this.opts.markets.map((m) => m.toLowerCase() as Hex));
      for (const [market, joined] of store.memberships()) {
        if (joined) wanted.add(market);
        else wanted.delete(market);
      }
      for (const market of [...wanted].sort()) await this.joinMarket(market, { remember: false });
      await follower.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info("node started", {
      peerId: host.peerId.toString(),
      wallet: this.wallet.address,
      markets: [...this.sessionsByMarket.keys()],
      addresses: host.getMultiaddrs().map((a) => a.toString()),
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const p = this.p;
    await p.peers.stop();
    await p.follower.stop();
    await Promise.allSettled([...this.sessionsByMarket.values()].map((s) => s.stop()));
    await p.sync.stop();
    await p.gossip.stop();
    await p.host.stop();
    await this.chain.close();
    p.store.close();
    this.log.info("node stopped");
  }

  /** The sessions by market id. */
  get sessions(): ReadonlyMap<Hex, MarketSession> {
    return this.sessionsByMarket;
  }

  /** The session of a market this node serves; NodeInputError UNKNOWN_MARKET (404) otherwise. */
  session(market: Hex): MarketSession {
    const s = this.sessionsByMarket.get(market.toLowerCase() as Hex);
    if (!s) throw new NodeInputError("UNKNOWN_MARKET", `this node does not serve market ${market}`, 404);
    return s;
  }

  /**
   * Starts serving a market: reads its parameters from the chain, admits and subscribes its topics, and
   * runs its epochs. `remember` (default true) records the join so a restart serves it too.
   */
  async joinMarket(marketId: Hex, opts: { remember?: boolean } = {}): Promise<MarketSession> {
    const market = marketId.toLowerCase() as Hex;
    if (!this.running) throw new Error("the node is not started");
    const existing = this.sessionsByMarket.get(market) ?? (await this.joining.get(market));
    if (existing) return existing;
    if (this.sessionsByMarket.size >= MAX_MARKETS_PER_NODE) {
      throw new NodeInputError(
        "TOO_MANY_MARKETS",
        `a node serves at most ${MAX_MARKETS_PER_NODE} markets`,
        409,
      );
    }
    const p = (async () => {
      let params: Awaited<ReturnType<ChainPort["getMarket"]>>;
      try {
        params = await this.chain.getMarket(market);
      } catch (err) {
        if (err instanceof ChainError && err.code === ChainErrorCode.UNKNOWN_MARKET) {
          throw new NodeInputError(
            "UNKNOWN_MARKET",
            `no market ${market} on contract ${this.chain.contract}`,
            404,
          );
        }
        throw err;
      }
      const context = makeMarketContext(market, params, this.domain, this.separator);
      const session = new MarketSession(
        { context, submit: this.opts.submit ?? true, reconcileWindowMs: this.opts.reconcileWindowMs },
        {
          chain: this.chain,
          store: this.p.store,
          network: this.sessionNetwork(),
          wallet: this.wallet,
          nonces: this.nonces(),
          metrics: this.metrics.forMarket(market),
          logger: this.log.child(`market ${market.slice(0, 10)}`),
          clock: this.clock,
          registry: this.metrics.registry,
          peerClock: this.peerClock,
        },
      );
      admitTopics(this.p.host, context.topics);
      this.topicMarkets.set(context.topics.orders, market);
      this.topicMarkets.set(context.topics.announce, market);
      try {
        await session.start();
      } catch (err) {
        await session.stop();
        forgetTopics(this.p.host, [context.topics.orders, context.topics.announce]);
        this.topicMarkets.delete(context.topics.orders);
        this.topicMarkets.delete(context.topics.announce);
        throw err;
      }
      this.sessionsByMarket.set(market, session);
      if (opts.remember ?? true) this.p.store.setMembership(market, true, this.clock());
      return session;
    })();
    this.joining.set(market, p);
    try {
      return await p;
    } finally {
      this.joining.delete(market);
    }
  }

  /** Stops serving a market: its epochs stop, its topics are left; the store keeps its history. */
  async leaveMarket(marketId: Hex): Promise<void> {
    const market = marketId.toLowerCase() as Hex;
    const session = this.session(market);
    this.sessionsByMarket.delete(market);
    await session.stop();
    const { orders, announce } = session.context.topics;
    forgetTopics(this.p.host, [orders, announce]);
    this.topicMarkets.delete(orders);
    this.topicMarkets.delete(announce);
    this.p.store.setMembership(market, false, this.clock());
  }

  /** The node-wide nonce counter of orders the node's wallet signs (persisted before use). */
  private nonces(): NonceSource {
    return {
      next: () => {
        const store = this.p.store;
        const nonce = store.nextNonce();
        store.setNextNonce(nonce + 1n);
        return nonce;
      },
    };
  }

  /** The sync protocol's store: routes each session to its market's order sets. */
  private syncStore(): SyncStore {
    return {
      ids: (market, epoch) => this.syncStores.get(market)?.ids(epoch) ?? [],
      wire: (market, epoch, ids) => this.syncStores.get(market)?.wire(epoch, ids) ?? [],
      accept: async (market, epoch, orders, from) => {
        const s = this.syncStores.get(market);
        return s ? s.accept(epoch, orders, from) : { accepted: 0, rejected: orders.length };
      },
      serves: (market, epoch) => this.syncStores.get(market)?.serves(epoch) ?? false,
      // pushed orders get the gossip time window (no last look after close): sync/push-window.ts
      admitPush: (market, epoch) => {
        const session = this.sessionsByMarket.get(market);
        return session ? pushTimeVerdict(session.context.schedule, epoch, BigInt(this.clock())) : null;
      },
    };
  }

  /** What a session sees of the p2p layer: this node's one host, gossip and sync. */
  private sessionNetwork(): SessionNetwork {
    const p = this.p;
    return {
      peerId: p.host.peerId.toString(),
      serveTopic: (topic: string, kind: TopicKind, handler) => p.gossip.addTopic(topic, kind, handler),
      unserveTopic: (topic) => p.gossip.removeTopic(topic),
      publish: (topic, data) => p.gossip.publish(topic, data),
      topicPeers: (topic) => {
        const subs = new Set(p.gossip.subscribers(topic));
        return p.host
          .getPeers()
          .map((id) => id.toString())
          .filter((id) => subs.has(id))
          .sort();
      },
      queuedBefore: (topic, ms) => p.gossip.queuedBefore(topic, ms),
      serveSync: (market, store) => this.syncStores.set(market, store),
      unserveSync: (market) => this.syncStores.delete(market),
      reconcile: (peer, market, epoch, signal) =>
        p.sync.reconcile(peerIdFromString(peer), market, epoch, { signal }),
      signAsPeer: async (data) => p.peerKey.sign(data),
    };
  }

  status(): NodeStatus {
    const p = this.p;
    return {
      version: this.metrics.version,
      peerId: p.host.peerId.toString(),
      addresses: p.host.getMultiaddrs().map((a) => a.toString()),
      wallet: this.wallet.address,
      chainId: this.chain.chainId.toString(),
      contract: this.chain.contract,
      markets: [...this.sessionsByMarket.values()].map((s) => s.views.status()),
      peers: p.host.getPeers().length,
      uptimeS: Math.round((this.clock() - this.startedMs) / 1000),
      gossipQueue: p.gossip.counters.queueLength,
      clock: this.clockStatus?.() ?? null,
      peerClock: this.peerClock.status(),
    };
  }
}
