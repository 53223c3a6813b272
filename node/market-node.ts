// The market node: the composition root that a device runs. It wires the libp2p host, order gossip,
// the sync protocol, the store, the epoch pipeline, the chain and the control API.
//
// Epoch pipeline for epoch e of the market (times are this node's clock; end(e) = close):
//   open ─▶ close: announce fingerprint ─▶ reconcile with peers whose fingerprint differs (bounded
//   window, early exit once every peer announced ours) ─▶ freeze ─▶ read collateral for e from the
//   chain ─▶ coverage rule ─▶ clear ─▶ announce result hash ─▶ ranked submission (if it trades)
//   ─▶ the chain watcher records the Settled event and whether this node agreed.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Connection, PeerId, PrivateKey } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { AbiCoder, keccak256 } from "ethers";
import { type ClearingResult, clear } from "../clearing/clear.ts";
import { applyCoverage, type Collateral } from "../clearing/coverage.ts";
import { encodeOrder } from "../protocol/codec.ts";
import { domainSeparator, type Eip712Domain, makeDomain, orderDigestBytes } from "../protocol/eip712.ts";
import { type EpochSchedule, epochAtMs, epochEndMs, epochStartMs } from "../protocol/epoch.ts";
import { OrderError } from "../protocol/errors.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import type { MarketParams } from "../protocol/market.ts";
import { type Order, orderToJson, type Side, type SignedOrder } from "../protocol/order.ts";
import { signDigest } from "../protocol/signature.ts";
import {
  type ValidationContext,
  type ValidOrder,
  validateOrderBytes,
  validateOrderJson,
} from "../protocol/validation.ts";
import type { ChainPort, SettledEvent } from "./chain.ts";
import {
  API_TOKEN_FILE,
  CHAIN_POLL_MS,
  DB_FILE,
  KEEP_ORDER_EPOCHS,
  RECONCILE_WINDOW_EIGHTHS,
  RECONCILE_WINDOW_MAX_MS,
  SUBMIT_BACKOFF_MS,
} from "./constants.ts";
import { type Announcement, decodeAnnouncement, encodeAnnouncement } from "./gossip/announcement.ts";
import { OrderGossip, type Verdict } from "./gossip/service.ts";
import { announceTopic, orderTopic } from "./gossip/topics.ts";
import { createHost, type Host } from "./host.ts";
import { loadOrCreatePeerKey } from "./identity.ts";
import type { Logger } from "./logger.ts";
import { NodeMetrics } from "./metrics.ts";
import { OrderBooks } from "./orderbook.ts";
import { type EpochRecord, NodeStore, type OrderSource } from "./store.ts";
import { SyncService, type SyncStore } from "./sync/service.ts";

export interface MarketNodeOptions {
  readonly dataDir: string;
  readonly market: Hex;
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

export interface NodeWallet {
  readonly address: Hex;
  readonly privateKey: Hex;
}

export interface MarketNodeModules {
  readonly chain: ChainPort;
  readonly wallet: NodeWallet;
  readonly logger: Logger;
  /** The node's clock, ms since the epoch (tests may shift it). */
  readonly clock?: () => number;
}

export interface SubmitOrderInput {
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  /** Default: the current epoch. */
  readonly epoch?: bigint;
}

export interface SubmittedOrder {
  readonly id: Hex;
  readonly order: SignedOrder;
  /** Peers the order was first sent to (0 is fine: reconciliation spreads it at close). */
  readonly recipients: number;
}

/** A failure the control API reports as 4xx: bad input, not a node fault. */
export class NodeInputError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = "NodeInputError";
    this.code = code;
    this.status = status;
  }
}

const SUBMITTER_LOOKBACK_EPOCHS = 16n;
const KEEP_EPOCHS_IN_MEMORY = 4n;
const MIN_RECONCILE_MS = 150;
const RECONCILE_CONCURRENCY = 3;
const SETTLE_MARGIN_MS = 300;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** The deterministic submitter score of a wallet for an epoch: lower goes first. */
export function submitterScore(market: Hex, epoch: bigint, wallet: Hex): Hex {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["bytes32", "uint64", "address"], [market, epoch, wallet]),
  ) as Hex;
}

/** This wallet's 0-based rank among `candidates` (itself included) for the epoch. */
export function submitterRank(market: Hex, epoch: bigint, wallet: Hex, candidates: readonly Hex[]): number {
  const all = [...new Set([...candidates.map((c) => c.toLowerCase() as Hex), wallet.toLowerCase() as Hex])];
  const mine = submitterScore(market, epoch, wallet);
  return all.filter((w) => submitterScore(market, epoch, w) < mine).length;
}

export class MarketNode {
  readonly opts: MarketNodeOptions;
  readonly chain: ChainPort;
  readonly wallet: NodeWallet;
  readonly log: Logger;
  readonly metrics = new NodeMetrics();
  readonly books = new OrderBooks();
  private readonly clock: () => number;

  store!: NodeStore;
  host!: Host;
  gossip!: OrderGossip;
  sync!: SyncService;
  params!: MarketParams;
  schedule!: EpochSchedule;
  domain!: Eip712Domain;
  separator!: Uint8Array;
  orderTopicName!: string;
  announceTopicName!: string;
  apiToken!: string;

  private running = false;
  private startedMs = 0;
  private closeTimer: NodeJS.Timeout | null = null;
  private chainTimer: NodeJS.Timeout | null = null;
  private maintainTimer: NodeJS.Timeout | null = null;
  private lastChainBlock = -1;
  /** Latest announcement per epoch and peer (peer id string). */
  private readonly peerAnnouncements = new Map<bigint, Map<string, Announcement>>();
  private readonly announcementWaiters = new Set<() => void>();
  private readonly pipelines = new Set<Promise<void>>();
  private nextNonce = 0n;
  private peerKey!: PrivateKey;
  private warnedNoGas = false;

  constructor(opts: MarketNodeOptions, modules: MarketNodeModules) {
    this.opts = opts;
    this.chain = modules.chain;
    this.wallet = {
      address: modules.wallet.address.toLowerCase() as Hex,
      privateKey: modules.wallet.privateKey,
    };
    this.log = modules.logger;
    this.clock = modules.clock ?? Date.now;
  }

  get peerId(): PeerId {
    return this.host.peerId;
  }

  now(): number {
    return this.clock();
  }

  currentEpoch(): bigint {
    return epochAtMs(this.schedule, BigInt(this.clock()));
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
    this.apiToken = loadOrCreateToken(this.opts.dataDir);
    this.store = new NodeStore(join(this.opts.dataDir, DB_FILE));
    this.nextNonce = this.store.nextNonce();

    this.params = await this.chain.getMarket(this.opts.market);
    this.schedule = { genesisTimeS: this.params.genesisTimeS, epochLengthS: this.params.epochLengthS };
    this.domain = makeDomain(this.chain.chainId, this.chain.contract);
    this.separator = domainSeparator(this.domain);
    this.orderTopicName = orderTopic(this.separator, this.opts.market);
    this.announceTopicName = announceTopic(this.separator, this.opts.market);

    this.peerKey = await loadOrCreatePeerKey(this.opts.dataDir);
    this.host = await createHost({
      privateKey: this.peerKey,
      listen: this.opts.listen,
      announce: this.opts.announce,
      bootstrap: this.opts.bootstrap,
      mdns: this.opts.mdns,
      domainSeparator: this.separator,
      orderTopics: [this.orderTopicName],
      announceTopics: [this.announceTopicName],
      metricsRegistry: this.metrics.registry,
    });
    this.gossip = new OrderGossip(
      {
        orderTopics: [this.orderTopicName],
        announceTopics: [this.announceTopicName],
        handlers: {
          onOrder: (data, from) => this.onGossipOrder(data, from),
          onAnnouncement: (data, from) => this.onGossipAnnouncement(data, from),
        },
        onVerdict: (kind, verdict) =>
          kind === "order"
            ? this.metrics.countOrder("gossip", verdict)
            : this.metrics.countAnnouncement(verdict),
      },
      { host: this.host },
    );
    this.sync = new SyncService({ store: this.syncStore() }, { libp2p: this.host });

    this.reloadRecentOrders();
    await this.host.start();
    await this.gossip.start();
    await this.sync.start();
    this.metrics.attach(this);
    this.running = true;
    this.startedMs = this.clock();

    this.host.addEventListener("peer:discovery", (evt) => {
      void this.dialIfNeeded(evt.detail.id);
    });
    this.host.addEventListener("connection:open", (evt) => this.onConnection(evt.detail));
    this.host.addEventListener("peer:disconnect", (evt) => this.gossip.forgetPeer(evt.detail.toString()));
    this.maintainTimer = setInterval(() => void this.maintainConnections(), 2000);
    this.lastChainBlock = Math.max(-1, (await this.chain.blockNumber()) - 256);
    this.chainTimer = setTimeout(() => void this.pollChain(), 0);
    const current = this.currentEpoch();
    if (current >= 0n) this.store.updateEpoch(this.opts.market, current, { phase: "open" }, this.clock());
    this.scheduleClose();
    this.log.info("node started", {
      peerId: this.host.peerId.toString(),
      wallet: this.wallet.address,
      market: this.opts.market,
      addresses: this.host.getMultiaddrs().map((a) => a.toString()),
      epoch: current,
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (this.chainTimer) clearTimeout(this.chainTimer);
    if (this.maintainTimer) clearInterval(this.maintainTimer);
    for (const w of this.announcementWaiters) w();
    await Promise.allSettled([...this.pipelines]);
    await this.sync.stop();
    await this.gossip.stop();
    await this.host.stop();
    await this.chain.close();
    this.store.close();
    this.log.info("node stopped");
  }

  // ── Order intake ────────────────────────────────────────────────────────────────────────────

  private validationContext(time: ValidationContext["time"]): ValidationContext {
    return {
      domain: this.domain,
      domainSeparator: this.separator,
      market: (id) => (id === this.opts.market ? this.schedule : undefined),
      time,
    };
  }

  /** Adds a validated order to its epoch's book and the store. */
  private admit(valid: ValidOrder, wire: Uint8Array, source: OrderSource): Verdict {
    const book = this.books.getOrCreate(valid.order.market, valid.order.epoch);
    if (book.frozen) return { action: "IGNORE", code: "EPOCH_FROZEN" };
    if (book.has(valid.id)) return { action: "IGNORE", code: "DUPLICATE" };
    if (!this.store.putOrder(valid.id, valid.order, wire, source, this.clock())) {
      book.add(valid.id, valid.order, wire);
      return { action: "IGNORE", code: "DUPLICATE" };
    }
    book.add(valid.id, valid.order, wire);
    return { action: "ACCEPT", code: "OK" };
  }

  private onGossipOrder(data: Uint8Array, _from: string): Verdict {
    let verdict: Verdict;
    try {
      const valid = validateOrderBytes(data, this.validationContext({ nowMs: BigInt(this.clock()) }));
      verdict = this.admit(valid, data, "gossip");
    } catch (err) {
      if (!(err instanceof OrderError)) throw err;
      verdict = { action: err.action, code: err.code };
    }
    return verdict;
  }

  private onGossipAnnouncement(data: Uint8Array, from: string): Verdict {
    let a: Announcement;
    try {
      a = decodeAnnouncement(data);
    } catch (err) {
      return { action: "REJECT", code: (err as { code?: string }).code ?? "MALFORMED" };
    }
    if (a.market !== this.opts.market) return { action: "REJECT", code: "UNKNOWN_MARKET" };
    const current = this.currentEpoch();
    if (a.epoch > current + 1n || a.epoch + 8n < current)
      return { action: "IGNORE", code: "EPOCH_OUT_OF_WINDOW" };
    let origin: string;
    try {
      origin = peerIdFromString(a.peerId).toString();
    } catch {
      return { action: "REJECT", code: "MALFORMED" };
    }
    void from; // relayed or direct alike: the announcement is signed by the peer it names
    this.recordAnnouncement(a, origin);
    return { action: "ACCEPT", code: "OK" };
  }

  private recordAnnouncement(a: Announcement, origin: string): void {
    let byPeer = this.peerAnnouncements.get(a.epoch);
    if (!byPeer) {
      byPeer = new Map();
      this.peerAnnouncements.set(a.epoch, byPeer);
      for (const e of this.peerAnnouncements.keys()) if (e + 16n < a.epoch) this.peerAnnouncements.delete(e);
    }
    byPeer.set(origin, a);
    this.store.putAnnouncement({
      market: a.market,
      epoch: a.epoch,
      peer: origin,
      wallet: a.wallet,
      fingerprint: a.fingerprint,
      orderCount: a.orderCount,
      resultHash: a.resultHash,
      receivedMs: this.clock(),
    });
    for (const w of this.announcementWaiters) w();
  }

  /** Orders received from a peer during reconciliation of a closed epoch. */
  private async acceptSynced(epoch: bigint, wires: Uint8Array[]) {
    let accepted = 0;
    let rejected = 0;
    const ctx = this.validationContext({ epoch });
    for (const wire of wires) {
      let verdict: Verdict;
      try {
        verdict = this.admit(validateOrderBytes(wire, ctx), wire, "sync");
      } catch (err) {
        if (!(err instanceof OrderError)) throw err;
        verdict = { action: err.action, code: err.code };
      }
      this.metrics.countOrder("sync", verdict);
      if (verdict.action === "ACCEPT") accepted++;
      else if (verdict.action === "REJECT") rejected++;
    }
    return { accepted, rejected };
  }

  private syncStore(): SyncStore {
    return {
      ids: (market, epoch) => this.books.get(market, epoch)?.ids() ?? [],
      wire: (market, epoch, ids) => this.books.get(market, epoch)?.wire(ids) ?? [],
      accept: (_market, epoch, orders) => this.acceptSynced(epoch, orders),
      serves: (market, epoch) => {
        if (market !== this.opts.market) return false;
        const current = this.currentEpoch();
        return epoch <= current + 1n && epoch + 2n >= current;
      },
    };
  }

  /** Signs an order with the node's wallet, stores it durably, then gossips it. */
  async submitOrder(input: SubmitOrderInput): Promise<SubmittedOrder> {
    if (input.quantity <= 0n) throw new NodeInputError("ZERO_QUANTITY", "quantity must be > 0");
    if (input.limitPrice <= 0n) throw new NodeInputError("ZERO_PRICE", "price must be > 0");
    const epoch = input.epoch ?? this.currentEpoch();
    if (epoch < 0n) throw new NodeInputError("BEFORE_GENESIS", "the market has not started yet");
    const nonce = this.nextNonce;
    this.nextNonce++;
    this.store.setNextNonce(this.nextNonce);
    const order: Order = {
      market: this.opts.market,
      epoch,
      side: input.side,
      quantity: input.quantity,
      limitPrice: input.limitPrice,
      nonce,
      trader: this.wallet.address,
    };
    const signed: SignedOrder = {
      ...order,
      signature: signDigest(orderDigestBytes(order, this.separator), this.wallet.privateKey),
    };
    return this.submitSigned(signed, "local");
  }

  /** Accepts an order signed elsewhere (a device with its own key) in JSON form. */
  async submitOrderJson(json: unknown): Promise<SubmittedOrder> {
    let valid: ValidOrder;
    try {
      valid = validateOrderJson(json, this.validationContext({ nowMs: BigInt(this.clock()) }));
    } catch (err) {
      if (err instanceof OrderError) throw new NodeInputError(err.code, err.message);
      throw err;
    }
    return this.submitSigned(valid.order, "api");
  }

  private async submitSigned(order: SignedOrder, source: OrderSource): Promise<SubmittedOrder> {
    let valid: ValidOrder;
    const wire = encodeOrder(order);
    try {
      valid = validateOrderBytes(wire, this.validationContext({ nowMs: BigInt(this.clock()) }));
    } catch (err) {
      if (err instanceof OrderError) throw new NodeInputError(err.code, err.message);
      throw err;
    }
    // Durable before gossip: once this returns the order survives a crash (FULL sync on this path).
    const verdict = this.admit(valid, wire, source);
    this.metrics.countOrder(source, verdict);
    if (verdict.action !== "ACCEPT")
      throw new NodeInputError(verdict.code, `order not accepted: ${verdict.code}`, 409);
    let recipients = 0;
    try {
      recipients = await this.gossip.publish(this.orderTopicName, wire);
    } catch (err) {
      this.log.warn("publish failed; the order will spread by reconciliation", { id: valid.id, err });
    }
    return { id: valid.id, order: valid.order, recipients };
  }

  /** After a restart: the orders of recent epochs back into memory. */
  private reloadRecentOrders(): void {
    const current = epochAtMs(this.schedule, BigInt(this.clock()));
    for (let e = current - 1n; e <= current + 1n; e++) {
      if (e < 0n) continue;
      for (const s of this.store.ordersOfEpoch(this.opts.market, e)) {
        this.books.getOrCreate(this.opts.market, e).add(s.id, s.order, s.wire);
      }
    }
  }

  // ── Peers ───────────────────────────────────────────────────────────────────────────────────

  private async dialIfNeeded(peer: PeerId): Promise<void> {
    if (!this.running || peer.equals(this.host.peerId)) return;
    if (this.host.getConnections(peer).length > 0) return;
    try {
      await this.host.dial(peer, { signal: AbortSignal.timeout(5000) });
    } catch (err) {
      this.log.debug("dial failed", { peer: peer.toString(), err });
    }
  }

  private async maintainConnections(): Promise<void> {
    if (!this.running) return;
    const min = this.opts.minConnections ?? 4;
    const connected = new Set(this.host.getPeers().map((p) => p.toString()));
    if (connected.size >= min) return;
    for (const addr of this.opts.bootstrap) {
      try {
        const ma = multiaddr(addr);
        const id = ma.getComponents().find((c) => c.name === "p2p")?.value;
        if (id && !connected.has(id)) await this.host.dial(ma, { signal: AbortSignal.timeout(3000) });
      } catch (err) {
        this.log.debug("bootstrap redial failed", { addr, err });
      }
    }
    for (const p of await this.host.peerStore.all()) {
      if (connected.size >= min) break;
      if (!connected.has(p.id.toString()) && !p.id.equals(this.host.peerId) && p.addresses.length > 0) {
        await this.dialIfNeeded(p.id);
        connected.add(p.id.toString());
      }
    }
  }

  /** A new connection: catch up on the current epoch with that peer (restart, late join). */
  private onConnection(conn: Connection): void {
    const peer = conn.remotePeer;
    const epoch = this.currentEpoch();
    if (epoch < 0n || !this.running) return;
    setTimeout(() => {
      if (!this.running) return;
      this.sync
        .reconcile(peer, this.opts.market, epoch)
        .then((r) => this.metrics.observeSync(r))
        .catch((err) => this.log.debug("catch-up sync failed", { peer: peer.toString(), err }));
    }, 200);
  }

  // ── Epoch pipeline ──────────────────────────────────────────────────────────────────────────

  private scheduleClose(): void {
    if (!this.running) return;
    const now = BigInt(this.clock());
    const current = epochAtMs(this.schedule, now);
    const closeAt = current < 0n ? epochStartMs(this.schedule, 0n) : epochEndMs(this.schedule, current);
    this.closeTimer = setTimeout(
      () => {
        if (!this.running) return;
        if (current >= 0n) {
          const p = this.runEpoch(current).catch((err) =>
            this.log.error("epoch pipeline failed", {
              epoch: current,
              err: (err as Error).stack ?? String(err),
            }),
          );
          this.pipelines.add(p);
          void p.finally(() => this.pipelines.delete(p));
        }
        const next = current + 1n;
        this.store.updateEpoch(this.opts.market, next, { phase: "open" }, this.clock());
        this.books.dropBefore(this.opts.market, next - KEEP_EPOCHS_IN_MEMORY);
        if (next % 64n === 0n) this.store.prune(this.opts.market, next - KEEP_ORDER_EPOCHS);
        this.scheduleClose();
      },
      Number(closeAt - now) + 1,
    );
  }

  private fingerprintOf(epoch: bigint): { fingerprint: Hex; count: number } {
    const book = this.books.getOrCreate(this.opts.market, epoch);
    return { fingerprint: book.fingerprint(), count: book.size };
  }

  private async announce(epoch: bigint, resultHash: Hex | null): Promise<void> {
    const { fingerprint, count } = this.fingerprintOf(epoch);
    const a: Announcement = {
      market: this.opts.market,
      epoch,
      fingerprint,
      orderCount: count,
      resultHash,
      wallet: this.wallet.address,
      peerId: this.host.peerId.toString(),
    };
    try {
      await this.gossip.publish(
        this.announceTopicName,
        await encodeAnnouncement(a, this.wallet.privateKey, (data) => this.peerKey.sign(data)),
      );
    } catch (err) {
      this.log.debug("announce failed", { epoch, err });
    }
  }

  private waitForAnnouncement(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.announcementWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.announcementWaiters.add(done);
    });
  }

  /** Peers subscribed to the market's order topic: the ones that hold an order set for it. */
  private marketPeers(): string[] {
    const subs = new Set(this.gossip.subscribers(this.orderTopicName));
    return this.host
      .getPeers()
      .map((p) => p.toString())
      .filter((p) => subs.has(p))
      .sort();
  }

  /**
   * Reconciles epoch `e` until every market peer announced our fingerprint, or the window ends.
   * A (peer, our fingerprint, their fingerprint) combination is reconciled at most once.
   */
  private async reconcileEpoch(
    epoch: bigint,
    deadlineMs: number,
  ): Promise<{ rounds: number; sessions: number }> {
    const startedMs = this.clock();
    const tried = new Set<string>();
    let rounds = 0;
    let sessions = 0;
    let announced = this.fingerprintOf(epoch).fingerprint;
    while (this.running && this.clock() < deadlineMs) {
      const ours = this.fingerprintOf(epoch).fingerprint;
      if (ours !== announced) {
        announced = ours;
        await this.announce(epoch, null);
      }
      const anns = this.peerAnnouncements.get(epoch) ?? new Map<string, Announcement>();
      const peers = this.marketPeers();
      const differing = peers.filter((p) => anns.get(p)?.fingerprint !== ours);
      if (differing.length === 0 && peers.length > 0 && this.clock() - startedMs >= MIN_RECONCILE_MS) break;
      const todo = differing.filter((p) => !tried.has(`${p}|${ours}|${anns.get(p)?.fingerprint ?? "?"}`));
      if (todo.length === 0) {
        await this.waitForAnnouncement(Math.min(100, deadlineMs - this.clock()));
        continue;
      }
      rounds++;
      for (let i = 0; i < todo.length; i += RECONCILE_CONCURRENCY) {
        const batch = todo.slice(i, i + RECONCILE_CONCURRENCY);
        await Promise.all(
          batch.map(async (p) => {
            tried.add(`${p}|${ours}|${anns.get(p)?.fingerprint ?? "?"}`);
            sessions++;
            try {
              const remaining = Math.max(50, deadlineMs - this.clock());
              const report = await this.sync.reconcile(peerIdFromString(p), this.opts.market, epoch, {
                signal: AbortSignal.timeout(remaining),
              });
              this.metrics.observeSync(report);
            } catch (err) {
              this.log.debug("reconcile failed", { peer: p, epoch, err });
            }
          }),
        );
      }
    }
    return { rounds, sessions };
  }

  private reconcileWindowMs(): number {
    const lengthMs = Number(this.schedule.epochLengthS) * 1000;
    const cap = this.opts.reconcileWindowMs ?? RECONCILE_WINDOW_MAX_MS;
    return Math.min(cap, Math.floor((lengthMs * RECONCILE_WINDOW_EIGHTHS) / 8));
  }

  private async runEpoch(epoch: bigint): Promise<void> {
    const market = this.opts.market;
    const t0 = this.clock();
    const timings: Record<string, number> = {};
    this.store.updateEpoch(market, epoch, { phase: "reconciling" }, t0);
    this.books.getOrCreate(market, epoch);
    await this.announce(epoch, null);
    const rec = await this.reconcileEpoch(epoch, t0 + this.reconcileWindowMs());
    const book = this.books.getOrCreate(market, epoch);
    book.freeze();
    const { fingerprint, count } = this.fingerprintOf(epoch);
    const t1 = this.clock();
    timings.reconcileMs = t1 - t0;
    this.metrics.observePhase("reconcile", t1 - t0);
    this.store.updateEpoch(market, epoch, { phase: "frozen", orderCount: count, fingerprint }, t1);
    if (!this.running) return;

    // Collateral and coverage.
    const entries = book.sortedEntries();
    const traders = [...new Set(entries.map((e) => e.entry.order.trader))].sort();
    const collateral = new Map<Hex, Collateral>();
    for (let i = 0; i < traders.length; i += 16) {
      const batch = traders.slice(i, i + 16);
      const values = await Promise.all(batch.map((t) => this.collateralWithRetry(market, t, epoch)));
      for (const [j, t] of batch.entries()) collateral.set(t, values[j]!);
    }
    const coverage = applyCoverage(
      entries.map(({ id, entry }) => ({ ...entry.order, id })),
      (t) => collateral.get(t) ?? { base: 0n, quote: 0n },
    );
    const t2 = this.clock();
    timings.collateralMs = t2 - t1;
    this.metrics.observePhase("collateral", t2 - t1);

    const result = clear(
      coverage.covered.map((o) => ({
        id: o.id,
        side: o.side,
        limitPrice: o.limitPrice,
        quantity: o.quantity,
      })),
      { market, epoch },
    );
    const t3 = this.clock();
    timings.clearMs = t3 - t2;
    this.metrics.observePhase("clear", t3 - t2);
    this.store.updateEpoch(
      market,
      epoch,
      {
        phase: "cleared",
        coveredCount: coverage.covered.length,
        resultHash: result.resultHash,
        price: result.price === null ? null : result.price.toString(),
        volume: result.volume.toString(),
        welfare: result.welfare.toString(),
        resultJson: resultToJson(result),
        timingsJson: JSON.stringify({
          ...timings,
          reconcileRounds: rec.rounds,
          reconcileSessions: rec.sessions,
        }),
      },
      t3,
    );
    await this.announce(epoch, result.resultHash);
    this.log.info("epoch cleared", {
      epoch,
      orders: count,
      covered: coverage.covered.length,
      price: result.price,
      volume: result.volume,
      resultHash: result.resultHash,
      reconcileMs: timings.reconcileMs,
    });
    if (result.volume > 0n && (this.opts.submit ?? true)) {
      const orders = new Map<Hex, SignedOrder>(coverage.covered.map((o) => [o.id, book.get(o.id)!.order]));
      await this.submitWhenRanked(epoch, result, orders, t0);
    }
  }

  private async collateralWithRetry(market: Hex, trader: Hex, epoch: bigint): Promise<Collateral> {
    // The chain must have passed the epoch's close; right after close that may take a block.
    const deadline = this.clock() + Number(this.schedule.epochLengthS) * 1000;
    for (;;) {
      try {
        return await this.chain.collateralOf(market, trader, epoch);
      } catch (err) {
        if (this.clock() > deadline || !this.running) throw err;
        await sleep(100);
      }
    }
  }

  private async submitWhenRanked(
    epoch: bigint,
    result: ClearingResult,
    orders: ReadonlyMap<Hex, SignedOrder>,
    closedAtMs: number,
  ): Promise<void> {
    const market = this.opts.market;
    const candidates = this.store.knownWallets(market, epoch - SUBMITTER_LOOKBACK_EPOCHS);
    const rank = submitterRank(market, epoch, this.wallet.address, candidates);
    const windowEndMs = Number(epochEndMs(this.schedule, epoch + 1n)) - SETTLE_MARGIN_MS;
    const at = Math.max(this.clock(), closedAtMs + this.reconcileWindowMs() + rank * SUBMIT_BACKOFF_MS);
    if (at >= windowEndMs) {
      this.log.debug("settlement window too short for our rank", { epoch, rank });
      return;
    }
    await sleep(at - this.clock());
    if (!this.running) return;
    if (this.store.getEpoch(market, epoch)?.settleTx) return;
    if (await this.chain.isSettled(market, epoch)) return;
    if ((await this.chain.gasBalance()) === 0n) {
      if (!this.warnedNoGas) {
        this.log.warn("the node's wallet holds no native token for gas, so it does not submit settlements", {
          wallet: this.wallet.address,
        });
        this.warnedNoGas = true;
      }
      return;
    }
    try {
      const res = await this.chain.settle(market, epoch, result, orders);
      this.metrics.observeSettlement("submitted", res.gasUsed);
      this.store.updateEpoch(market, epoch, { weSubmitted: true }, this.clock());
      this.log.info("settled epoch", { epoch, rank, tx: res.txHash, gasUsed: res.gasUsed });
    } catch (err) {
      const msg = (err as Error).message;
      if ((err as { code?: unknown }).code === "AlreadySettled") {
        this.metrics.observeSettlement("lost_race", 0n);
        return;
      }
      this.metrics.observeSettlement("failed", 0n);
      // ethers messages embed the whole signed transaction: keep the reason.
      const short =
        (err as { shortMessage?: string }).shortMessage ?? msg.split(" (transaction=")[0]!.slice(0, 300);
      this.log.warn("settlement failed", { epoch, rank, err: short });
    }
  }

  // ── Chain watcher ───────────────────────────────────────────────────────────────────────────

  private async pollChain(): Promise<void> {
    if (!this.running) return;
    try {
      const head = await this.chain.blockNumber();
      if (head > this.lastChainBlock) {
        const events = await this.chain.settledEvents(this.opts.market, this.lastChainBlock + 1, head);
        for (const ev of events) await this.onSettled(ev);
        this.lastChainBlock = head;
      }
      this.markUnsettled();
    } catch (err) {
      this.log.debug("chain poll failed", { err });
    }
    if (this.running) this.chainTimer = setTimeout(() => void this.pollChain(), CHAIN_POLL_MS);
  }

  private async onSettled(ev: SettledEvent): Promise<void> {
    const rec = this.store.getEpoch(ev.market, ev.epoch);
    const agreed = rec?.resultHash ? rec.resultHash === ev.resultHash : null;
    const patch: Partial<EpochRecord> = {
      phase: "settled",
      settleTx: ev.txHash,
      settleSubmitter: ev.submitter,
      settleResultHash: ev.resultHash,
      settlePrice: ev.price.toString(),
      settleVolume: ev.volume.toString(),
      gasUsed: ev.gasUsed.toString(),
      agreed,
    };
    if (agreed === false) {
      // The chain's result is final: record the settled fills in place of ours.
      try {
        const fills = await this.chain.settledFills(ev.market, ev.epoch);
        patch.resultJson = JSON.stringify({
          source: "chain",
          price: ev.price.toString(),
          volume: ev.volume.toString(),
          resultHash: ev.resultHash,
          fills: fills.map((f) => ({ id: f.id, quantity: f.quantity.toString() })),
          ours: rec?.resultJson ? JSON.parse(rec.resultJson) : null,
        });
      } catch (err) {
        this.log.warn("cannot rebuild settled fills", { tx: ev.txHash, err });
      }
      this.log.warn("diverged from the settled result; adopting the chain's", {
        epoch: ev.epoch,
        ours: rec?.resultHash,
        chain: ev.resultHash,
      });
    }
    this.store.updateEpoch(ev.market, ev.epoch, patch, this.clock());
    this.metrics.observeAgreement(agreed);
  }

  /** Epochs that traded but were not settled within their window; no-trade epochs: agreement by hash. */
  private markUnsettled(): void {
    const current = this.currentEpoch();
    for (const rec of this.store.recentEpochs(this.opts.market, 8)) {
      if (rec.phase !== "cleared" || rec.epoch + 2n > current) continue;
      if (rec.volume !== null && rec.volume !== "0") {
        this.store.updateEpoch(rec.market, rec.epoch, { phase: "unsettled" }, this.clock());
      } else {
        // Nothing to settle: the epoch is final; agreement is whether the announced results match ours.
        const anns = this.store.announcements(rec.market, rec.epoch).filter((a) => a.resultHash !== null);
        const agreed = anns.every((a) => a.resultHash === rec.resultHash);
        this.store.updateEpoch(rec.market, rec.epoch, { phase: "settled", agreed }, this.clock());
        this.metrics.observeAgreement(agreed);
      }
    }
  }

  // ── Views for the control API ───────────────────────────────────────────────────────────────

  status() {
    const epoch = this.currentEpoch();
    const rec = this.store.getEpoch(this.opts.market, epoch);
    const last = this.store.recentEpochs(this.opts.market, 32).find((r) => r.settleTx !== null);
    return {
      version: this.metrics.version,
      peerId: this.host.peerId.toString(),
      addresses: this.host.getMultiaddrs().map((a) => a.toString()),
      wallet: this.wallet.address,
      chainId: this.chain.chainId.toString(),
      contract: this.chain.contract,
      market: {
        id: this.opts.market,
        base: this.params.base,
        quote: this.params.quote,
        genesisTimeS: this.params.genesisTimeS.toString(),
        epochLengthS: this.params.epochLengthS.toString(),
        feeBps: this.params.feeBps.toString(),
      },
      epoch: {
        current: epoch.toString(),
        phase: rec?.phase ?? "open",
        orders: this.books.get(this.opts.market, epoch)?.size ?? 0,
        endsInMs: Number(epochEndMs(this.schedule, epoch) - BigInt(this.clock())),
      },
      peers: this.host.getPeers().length,
      lastSettledEpoch: last ? last.epoch.toString() : null,
      uptimeS: Math.round((this.clock() - this.startedMs) / 1000),
      gossipQueue: this.gossip.counters.queueLength,
    };
  }

  async peers() {
    const subsOrders = new Set(this.gossip.subscribers(this.orderTopicName));
    const subsAnnounce = new Set(this.gossip.subscribers(this.announceTopicName));
    const out = [];
    for (const id of this.host.getPeers()) {
      out.push(await this.peerInfo(id, subsOrders, subsAnnounce));
    }
    return out.sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  }

  async peer(idText: string) {
    let id: PeerId;
    try {
      id = peerIdFromString(idText);
    } catch {
      throw new NodeInputError("BAD_PEER_ID", `"${idText}" is not a peer id`);
    }
    if (this.host.getConnections(id).length === 0) {
      throw new NodeInputError("UNKNOWN_PEER", `peer ${idText} is not connected`, 404);
    }
    const info = await this.peerInfo(
      id,
      new Set(this.gossip.subscribers(this.orderTopicName)),
      new Set(this.gossip.subscribers(this.announceTopicName)),
    );
    let pingMs: number | null = null;
    try {
      pingMs = await this.host.services.ping.ping(id, { signal: AbortSignal.timeout(2000) });
    } catch {
      pingMs = null;
    }
    return { ...info, pingMs };
  }

  private async peerInfo(id: PeerId, subsOrders: Set<string>, subsAnnounce: Set<string>) {
    const key = id.toString();
    const conns = this.host.getConnections(id);
    let protocols: string[] = [];
    try {
      protocols = [...(await this.host.peerStore.get(id)).protocols].sort();
    } catch {
      // not in the peer store yet
    }
    // Round-trip time measured by libp2p's connection monitor (a ping every few seconds).
    const rtts = conns
      .map((c) => c.rtt)
      .filter((r): r is number => typeof r === "number" && Number.isFinite(r));
    const latencyMs = rtts.length > 0 ? Math.round(Math.min(...rtts)) : null;
    const topics: string[] = [];
    if (subsOrders.has(key)) topics.push("orders");
    if (subsAnnounce.has(key)) topics.push("announce");
    return {
      peerId: key,
      addresses: conns.map((c) => c.remoteAddr.toString()),
      direction: conns[0]?.direction ?? null,
      latencyMs,
      protocols,
      gossipScore: Math.round(this.gossip.score(key) * 1000) / 1000,
      topics,
    };
  }

  orders(epoch: bigint) {
    return this.store.ordersOfEpoch(this.opts.market, epoch).map((s) => ({
      id: s.id,
      source: s.source,
      receivedMs: s.receivedMs,
      ...orderToJson(s.order),
    }));
  }

  epochs(last: number) {
    return this.store.recentEpochs(this.opts.market, last).map(epochSummary);
  }

  /** One epoch in detail; `withOrders` false leaves out the order list (cheap enough to poll). */
  epoch(n: bigint, withOrders = true) {
    const rec = this.store.getEpoch(this.opts.market, n);
    if (!rec) throw new NodeInputError("UNKNOWN_EPOCH", `no record of epoch ${n}`, 404);
    return {
      ...epochSummary(rec),
      result: rec.resultJson ? JSON.parse(rec.resultJson) : null,
      timings: rec.timingsJson ? JSON.parse(rec.timingsJson) : null,
      announcements: this.store.announcements(this.opts.market, n).map((a) => ({
        peer: a.peer,
        wallet: a.wallet,
        fingerprint: a.fingerprint,
        orderCount: a.orderCount,
        resultHash: a.resultHash,
      })),
      ...(withOrders ? { orderList: this.orders(n) } : {}),
    };
  }
}

export function epochSummary(r: EpochRecord) {
  return {
    epoch: r.epoch.toString(),
    phase: r.phase,
    orders: r.orderCount,
    covered: r.coveredCount,
    fingerprint: r.fingerprint,
    resultHash: r.resultHash,
    price: r.price,
    volume: r.volume,
    welfare: r.welfare,
    settlement: r.settleTx
      ? {
          tx: r.settleTx,
          submitter: r.settleSubmitter,
          resultHash: r.settleResultHash,
          price: r.settlePrice,
          volume: r.settleVolume,
          gasUsed: r.gasUsed,
          bySelf: r.weSubmitted,
        }
      : null,
    agreed: r.agreed,
  };
}

function resultToJson(r: ClearingResult): string {
  return JSON.stringify({
    source: "local",
    price: r.price === null ? null : r.price.toString(),
    volume: r.volume.toString(),
    welfare: r.welfare.toString(),
    buyerSurplus: r.buyerSurplus.toString(),
    sellerSurplus: r.sellerSurplus.toString(),
    resultHash: r.resultHash,
    fills: r.fills.map((f) => ({ id: f.id, quantity: f.quantity.toString() })),
  });
}

/** The bearer token of the control API: created once, 0600, in the data dir. */
export function loadOrCreateToken(dataDir: string): string {
  const path = join(dataDir, API_TOKEN_FILE);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const token = bytesToHex(randomBytes(32)).slice(2);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}
