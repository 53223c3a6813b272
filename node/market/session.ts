// A market session: everything one node does for one market. It owns the market's parameters, domain and
// topics (context.ts), order intake (intake.ts), announcements (announcements.ts), the epoch pipeline
// (pipeline.ts), ranked submission (submitter.ts), what the chain did with each epoch (settlements.ts) and
// the API views (views.ts). What is shared between markets (the libp2p host, the store, the chain port,
// metrics, the API server) belongs to the node root (node.ts), which starts a session when the node joins
// a market and stops it when it leaves. To add something every market does, add it here.

import type { Startable } from "@libp2p/interface";
import type { Registry } from "prom-client";
import type { Hex } from "../../protocol/hex.ts";
import type { ParsedOrderRequest } from "../api/order-request.ts";
import type { ChainPort, SettlementEvent } from "../chain/port.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import { OrderBooks } from "../orderbook.ts";
import type { PeerClock } from "../peer-clock.ts";
import type { NodeStore } from "../store.ts";
import { AnnouncementBoard } from "./announcements.ts";
import { Challenger } from "./challenger.ts";
import { epochAt, type MarketContext } from "./context.ts";
import { DepositHistory, FundedTraders } from "./funded.ts";
import {
  type BatchItemResult,
  type NodeWallet,
  type NonceSource,
  OrderIntake,
  type SubmittedOrder,
} from "./intake.ts";
import type { MarketSyncStore, SessionNetwork } from "./network.ts";
import { EpochPipeline } from "./pipeline.ts";
import { SettlementRecorder } from "./settlements.ts";
import { RankedSubmitter } from "./submitter.ts";
import { MarketViews } from "./views.ts";
import { EpochWorks } from "./work.ts";

/** A peer that connects is caught up on the current epoch after this delay (it subscribes first). */
const CATCH_UP_DELAY_MS = 200;
/**
 * Before it reconciles a closed epoch, the session waits at most this long for its funded set to catch up
 * with the chain head (one eth_getLogs normally); a slow chain must not eat the reconciliation window.
 */
const FUNDED_CATCH_UP_WAIT_MS = 500;
/** Catch-ups of this many recent closed epochs are remembered (each epoch gets at most one). */
const FUNDED_CATCH_UP_KEEP_EPOCHS = 4n;
/** Sync serves epochs from 2 behind to 1 ahead of the current one. */
const SYNC_BEHIND_EPOCHS = 2n;
const SYNC_AHEAD_EPOCHS = 1n;

export interface MarketSessionOptions {
  readonly context: MarketContext;
  /** Whether this node submits settlements when its turn in the ranking comes. */
  readonly submit: boolean;
  /** Upper bound of the reconciliation window after close. */
  readonly reconcileWindowMs?: number;
}

export interface MarketSessionComponents {
  readonly chain: ChainPort;
  readonly store: NodeStore;
  readonly network: SessionNetwork;
  readonly wallet: NodeWallet;
  readonly nonces: NonceSource;
  readonly metrics: MarketMetrics;
  readonly logger: Logger;
  /** The node's clock, ms since the Unix epoch (tests may shift it). */
  readonly clock: () => number;
  /** The node's metrics registry, for the parts that register their own metrics (the submitter's ranking). */
  readonly registry?: Registry;
  /** The node's clock against its peers' (one for the node, fed by every market's announcements). */
  readonly peerClock?: PeerClock;
}

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export class MarketSession implements Startable {
  readonly market: Hex;
  readonly context: MarketContext;
  readonly books = new OrderBooks();
  /** The traders that deposited into the market: the only ones whose orders intake carries. */
  readonly funded: FundedTraders;
  /** Reads the market's deposit history into `funded`, in pages, from its persisted cursor. */
  readonly deposits: DepositHistory;
  readonly intake: OrderIntake;
  readonly board: AnnouncementBoard;
  readonly recorder: SettlementRecorder;
  readonly submitter: RankedSubmitter;
  readonly pipeline: EpochPipeline;
  readonly challenger: Challenger;
  readonly works = new EpochWorks();
  readonly views: MarketViews;
  private readonly c: MarketSessionComponents;
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The funded set's catch-up before each closed epoch's reconciliation, by epoch. */
  private readonly closeCatchUps = new Map<bigint, Promise<boolean>>();

  constructor(opts: MarketSessionOptions, components: MarketSessionComponents) {
    const ctx = opts.context;
    this.context = ctx;
    this.market = ctx.market;
    this.c = components;
    const { chain, store, network, wallet, metrics, logger, clock } = components;
    const running = () => this.running;
    this.funded = new FundedTraders({ store, market: ctx.market });
    this.deposits = new DepositHistory(ctx.market, this.funded, {
      chain,
      logger,
      clock,
      sleep: realSleep,
      running,
      ...(components.registry ? { registry: components.registry } : {}),
    });
    this.intake = new OrderIntake(ctx, {
      books: this.books,
      store,
      network,
      wallet,
      nonces: components.nonces,
      metrics,
      logger,
      clock,
      funded: this.funded,
    });
    this.board = new AnnouncementBoard(ctx, {
      store,
      network,
      wallet,
      metrics,
      logger,
      clock,
      ...(components.peerClock ? { peerClock: components.peerClock } : {}),
    });
    this.recorder = new SettlementRecorder(ctx, { store, chain, wallet, metrics, logger, clock });
    this.submitter = new RankedSubmitter(ctx, {
      store,
      chain,
      wallet,
      metrics,
      logger,
      clock,
      sleep: realSleep,
      running,
      registry: components.registry,
    });
    this.challenger = new Challenger(
      ctx,
      { submit: opts.submit },
      {
        store,
        chain,
        works: this.works,
        recorder: this.recorder,
        submitter: this.submitter,
        pipeline: () => this.pipeline,
        logger,
        clock,
        sleep: realSleep,
        running,
      },
    );
    this.pipeline = new EpochPipeline(
      ctx,
      { submit: opts.submit, reconcileWindowMs: opts.reconcileWindowMs },
      {
        books: this.books,
        store,
        chain,
        // A lagging follower must not make this node IGNORE, at the close's reconciliation too, the order
        // of a trader that deposited a few blocks ago: the funded set first catches up with the head.
        network: catchingUpBeforeReconcile(network, (epoch) => this.fundedAtClose(epoch)),
        board: this.board,
        recorder: this.recorder,
        submitter: this.submitter,
        challenger: this.challenger,
        works: this.works,
        metrics,
        logger,
        clock,
        sleep: realSleep,
        running,
      },
    );
    this.views = new MarketViews(ctx, { store, books: this.books, network, clock });
  }

  readonly [Symbol.toStringTag] = "smartmarket/market-session";

  isStarted(): boolean {
    return this.running;
  }

  currentEpoch(): bigint {
    return epochAt(this.context, this.c.clock());
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.intake.reloadRecent(this.currentEpoch());
    const { network } = this.c;
    network.serveSync(this.market, this.syncStore());
    // Verdicts are counted where every one of them passes, pre-validation included (the node root).
    network.serveTopic(this.context.topics.orders, "order", (data, from, receivedMs) =>
      this.intake.onGossip(data, from, receivedMs),
    );
    network.serveTopic(this.context.topics.announce, "announce", (data, from) =>
      this.board.onGossip(data, from),
    );
    this.pipeline.start();
    void this.readDepositHistory();
    this.c.logger.info("serving market", {
      market: this.market,
      epoch: this.currentEpoch(),
      epochLengthS: this.context.params.epochLengthS,
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.board.wakeAll();
    const { network } = this.c;
    network.unserveTopic(this.context.topics.orders);
    network.unserveTopic(this.context.topics.announce);
    network.unserveSync(this.market);
    await this.pipeline.stop();
    await this.challenger.stop();
    await this.recorder.stop();
    this.c.logger.info("left market", { market: this.market });
  }

  private syncStore(): MarketSyncStore {
    return {
      ids: (epoch) => this.books.get(this.market, epoch)?.ids() ?? [],
      wire: (epoch, ids) => this.books.get(this.market, epoch)?.wire(ids) ?? [],
      accept: async (epoch, orders) => {
        // A peer pushing a closed epoch's orders (its reconciliation): the same catch-up as ours.
        if (epoch < this.currentEpoch()) await this.fundedAtClose(epoch);
        return this.intake.acceptSynced(epoch, orders);
      },
      serves: (epoch) => {
        if (!this.running) return false;
        const current = this.currentEpoch();
        return epoch <= current + SYNC_AHEAD_EPOCHS && epoch + SYNC_BEHIND_EPOCHS >= current;
      },
    };
  }

  /** A new connection: catch up on the current epoch with that peer (restart, late join). */
  catchUp(peer: string): void {
    if (!this.running || this.currentEpoch() < 0n) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.running) return;
      const epoch = this.currentEpoch();
      this.c.network
        .reconcile(peer, this.market, epoch, AbortSignal.timeout(10_000))
        .then((r) => this.c.metrics.observeSync(r))
        .catch((err) => this.c.logger.debug("catch-up sync failed", { peer, err }));
    }, CATCH_UP_DELAY_MS);
    this.timers.add(t);
  }

  /**
   * Reads the market's deposit history from the persisted cursor to the head, in pages (funded.ts). Until
   * it has, intake admits every trader; failures are logged at WARN and retried while the session runs.
   * Once read, the orders taken from traders that never deposited are dropped.
   */
  private async readDepositHistory(): Promise<void> {
    const fromBlock = this.funded.nextBlock;
    if (!(await this.deposits.readUntilDone())) return;
    const purged = this.intake.dropUnfunded(this.currentEpoch());
    this.c.logger.info("deposit history read", {
      market: this.market,
      fromBlock,
      toBlock: this.funded.nextBlock - 1,
      depositors: this.funded.size,
      pageBlocks: this.deposits.pageSize,
      purged,
    });
  }

  /**
   * The funded set caught up with the chain head before the closed epoch is reconciled: at most one read
   * per epoch, waited for at most FUNDED_CATCH_UP_WAIT_MS (a failure is logged by the reader; the session
   * goes on with what it knows).
   */
  private async fundedAtClose(epoch: bigint): Promise<void> {
    let pass = this.closeCatchUps.get(epoch);
    if (!pass) {
      pass = this.deposits.catchUp();
      this.closeCatchUps.set(epoch, pass);
      for (const e of this.closeCatchUps.keys())
        if (e + FUNDED_CATCH_UP_KEEP_EPOCHS < epoch) this.closeCatchUps.delete(e);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pass,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, FUNDED_CATCH_UP_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Traders that deposited into this market in blocks [fromBlock, toBlock], which the follower just read. */
  onDepositors(traders: readonly Hex[], fromBlock: number, toBlock: number): void {
    try {
      this.funded.record(traders, fromBlock, toBlock);
    } catch (err) {
      // Nothing changed (the write comes first): the next catch-up reads these blocks again from the cursor.
      this.c.logger.error("storing the market's depositors failed", {
        market: this.market,
        err: (err as Error).message,
      });
    }
  }

  /** A settlement event of this market (from the node's chain follower). */
  async onSettlement(ev: SettlementEvent): Promise<void> {
    await this.recorder.onEvent(ev);
    if (ev.kind === "Finalized" || ev.epoch + 2n < this.currentEpoch()) return;
    // The latest standing result of a recent epoch: compared with ours, challenged if it leaves ours out.
    this.works.getOrCreate(ev.epoch).standing = ev;
    this.challenger.consider(ev);
  }

  /** After each chain poll: epochs whose window passed get their final state. */
  closeOut(chainReachable = true): void {
    this.recorder.closeOut(this.currentEpoch(), (e) => this.pipeline.isRunning(e), chainReachable);
  }

  submitRequest(req: ParsedOrderRequest): Promise<SubmittedOrder> {
    return this.intake.submitRequest(req);
  }

  submitJson(json: unknown): Promise<SubmittedOrder> {
    return this.intake.submitJson(json);
  }

  submitBatch(items: readonly unknown[]): Promise<BatchItemResult[]> {
    return this.intake.submitBatch(items);
  }
}

/** `network`, whose reconcile of an epoch first awaits `before(epoch)` (the funded set's catch-up). */
function catchingUpBeforeReconcile(
  network: SessionNetwork,
  before: (epoch: bigint) => Promise<void>,
): SessionNetwork {
  return {
    get peerId() {
      return network.peerId;
    },
    serveTopic: (topic, kind, handler) => network.serveTopic(topic, kind, handler),
    unserveTopic: (topic) => network.unserveTopic(topic),
    publish: (topic, data) => network.publish(topic, data),
    topicPeers: (topic) => network.topicPeers(topic),
    queuedBefore: (topic, ms) => network.queuedBefore(topic, ms),
    serveSync: (market, store) => network.serveSync(market, store),
    unserveSync: (market) => network.unserveSync(market),
    reconcile: async (peer, market, epoch, signal) => {
      await before(epoch);
      return network.reconcile(peer, market, epoch, signal);
    },
    signAsPeer: (data) => network.signAsPeer(data),
  };
}
