// Order and announcement gossip over gossipsub with asynchronous validation (Lodestar-style):
//   1. the topic validator (synchronous, cheap): size cap [REJECT], per-peer rate limit in orders (a
//      bundle's header says how many it carries) [IGNORE], bounded queue full [IGNORE];
//   2. a bounded FIFO of messages awaiting full validation (signature recovery), drained in batches of
//      about GOSSIP_VALIDATION_BATCH_ORDERS orders, each batch in one store transaction (init.inBatch);
//   3. the verdict goes back to gossipsub (ACCEPT forwards; REJECT lowers the sender's score).
// Topics are added and removed at run time (one pair per market the node serves), each with its handler.

import type { GossipsubMessage } from "@libp2p/gossipsub";
import { TopicValidatorResult } from "@libp2p/gossipsub";
import type { PeerId, Startable } from "@libp2p/interface";
import { claimedOrderCount } from "../../protocol/bundle.ts";
import { type DropReason, dropReasonOf } from "../abuse.ts";
import {
  GOSSIP_VALIDATION_BATCH_ORDERS,
  MAX_ANNOUNCE_QUEUE_LENGTH,
  MAX_GOSSIP_MESSAGE_BYTES,
  MAX_GOSSIP_QUEUE_ORDERS,
  PEER_GOSSIP_BURST_ORDERS,
  PEER_GOSSIP_RATE_ORDERS_PER_S,
} from "../constants.ts";
import { PeerRateLimiter } from "./rate-limit.ts";

export type GossipAction = "ACCEPT" | "IGNORE" | "REJECT";

export interface Verdict {
  readonly action: GossipAction;
  /** Why: a protocol OrderErrorCode, or a gossip-level code (RATE_LIMITED, QUEUE_FULL, DUPLICATE, ...). */
  readonly code: string;
  /** The handler counted the message's orders one by one (a bundle): not to be counted again as one. */
  readonly perOrderCounted?: boolean;
}

export type TopicKind = "order" | "announce";

/**
 * Full validation (and storage) of one message of a topic; returns the verdict for gossipsub. `receivedMs`
 * is when the message arrived (this node's clock), which time rules are judged at: a message waiting in
 * the validation queue does not become late by waiting.
 */
export type TopicHandler = (data: Uint8Array, from: string, receivedMs: number) => Verdict;

export interface GossipCounters {
  /** Messages by topic kind, action and code. */
  readonly verdicts: Map<string, number>;
  /** Orders queued for validation (a bundle counts its orders), and the most ever queued. */
  queueLength: number;
  queueHighWater: number;
}

interface Pending {
  readonly topic: string;
  readonly kind: TopicKind;
  readonly msgId: string;
  readonly from: string;
  readonly data: Uint8Array;
  /** The orders it claims to carry (1, or a bundle's count). */
  readonly orders: number;
  /** When it arrived (init.now). */
  readonly receivedMs: number;
}

interface TopicEntry {
  readonly kind: TopicKind;
  readonly handler: TopicHandler;
}

export interface OrderGossipInit {
  /**
   * Verdicts of every message, including those decided before full validation (rate limit, size,
   * queue), with the topic it came on.
   */
  readonly onVerdict?: (kind: TopicKind, topic: string, verdict: Verdict) => void;
  /**
   * Every message not accepted, by drop reason and the peer it came from (node/abuse.ts counts, logs
   * and strikes). Attack defeated: drops that were visible in no counter and logged at debug only.
   */
  readonly drops?: { drop(reason: DropReason, source: "gossip", peer?: string, n?: number): void };
  /** Most orders queued for validation (MAX_GOSSIP_QUEUE_ORDERS). */
  readonly maxQueueOrders?: number;
  readonly now?: () => number;
  /**
   * Runs one drained batch of validations, e.g. inside one store transaction (issue 13: a SQLite commit
   * per gossiped order was 12–14 % of a node's CPU). Must run `work` synchronously, exactly once.
   */
  readonly inBatch?: (work: () => void) => void;
}

/** The subset of the gossipsub router used here (the package's public interface omits some methods). */
interface Router {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  publish(topic: string, data: Uint8Array): Promise<{ recipients: PeerId[] }>;
  reportMessageValidationResult(
    msgId: string,
    propagationSource: string,
    acceptance: TopicValidatorResult,
  ): void;
  getScore(peerId: string): number;
  getSubscribers(topic: string): PeerId[];
  getTopics(): string[];
  topicValidators: Map<string, (peer: PeerId, msg: { data: Uint8Array }) => TopicValidatorResult>;
  addEventListener(type: "gossipsub:message", fn: (evt: CustomEvent<GossipsubMessage>) => void): void;
  removeEventListener(type: "gossipsub:message", fn: (evt: CustomEvent<GossipsubMessage>) => void): void;
}

const RESULT: Record<GossipAction, TopicValidatorResult> = {
  ACCEPT: TopicValidatorResult.Accept,
  IGNORE: TopicValidatorResult.Ignore,
  REJECT: TopicValidatorResult.Reject,
};

export class OrderGossip implements Startable {
  readonly counters: GossipCounters = { verdicts: new Map(), queueLength: 0, queueHighWater: 0 };
  private readonly router: Router;
  private readonly init: OrderGossipInit;
  private readonly limiter = new PeerRateLimiter(PEER_GOSSIP_RATE_ORDERS_PER_S, PEER_GOSSIP_BURST_ORDERS);
  private readonly queue: Pending[] = [];
  private queueHead = 0;
  /** Orders in queue[queueHead..]. */
  private queuedOrders = 0;
  /** Announcements skip the order backlog: they are few, cheap, and reconciliation waits on them. */
  private readonly announceQueue: Pending[] = [];
  private announceHead = 0;
  private draining = false;
  private running = false;
  /** The topics served now, each with its handler. Topics come and go as markets are joined and left. */
  private readonly topics = new Map<string, TopicEntry>();
  private readonly maxQueue: number;
  private readonly now: () => number;
  private readonly onMessage = (evt: CustomEvent<GossipsubMessage>) => this.enqueue(evt.detail);

  constructor(init: OrderGossipInit, components: { pubsub: unknown }) {
    this.init = init;
    this.router = components.pubsub as Router;
    this.maxQueue = init.maxQueueOrders ?? MAX_GOSSIP_QUEUE_ORDERS;
    this.now = init.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.running = true;
    this.router.addEventListener("gossipsub:message", this.onMessage);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.router.removeEventListener("gossipsub:message", this.onMessage);
    for (const topic of [...this.topics.keys()]) this.removeTopic(topic);
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedOrders = 0;
    this.announceQueue.length = 0;
    this.announceHead = 0;
  }

  /** Subscribes to `topic`; its messages are validated by `handler` from now on. */
  addTopic(topic: string, kind: TopicKind, handler: TopicHandler): void {
    if (this.topics.has(topic)) throw new Error(`topic ${topic} is already served`);
    this.topics.set(topic, { kind, handler });
    this.router.topicValidators.set(topic, (peer, msg) => this.preValidate(topic, peer.toString(), msg.data));
    this.router.subscribe(topic);
  }

  /**
   * Whether a message of `topic` that arrived before `ms` still waits for validation. The queue is
   * first-in first-out, so the scan stops at the first message that arrived at `ms` or later.
   */
  queuedBefore(topic: string, ms: number): boolean {
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const p = this.queue[i]!;
      if (p.receivedMs >= ms) return false;
      if (p.topic === topic) return true;
    }
    return false;
  }

  /** Unsubscribes from `topic`; its messages still queued are IGNOREd (NOT_SERVED). */
  removeTopic(topic: string): void {
    if (!this.topics.delete(topic)) return;
    this.router.topicValidators.delete(topic);
    this.router.unsubscribe(topic);
  }

  /** Publishes bytes on a topic; resolves to the number of peers it was sent to. */
  async publish(topic: string, data: Uint8Array): Promise<number> {
    const res = await this.router.publish(topic, data);
    return res.recipients.length;
  }

  score(peerId: string): number {
    return this.router.getScore(peerId);
  }

  subscribers(topic: string): string[] {
    return this.router.getSubscribers(topic).map((p) => p.toString());
  }

  forgetPeer(peerId: string): void {
    this.limiter.forget(peerId);
  }

  /**
   * Takes one token (one order) of `peer`'s gossip rate budget. Sync PUSH spends the same budget, so a
   * peer cannot get around the gossip limit by pushing orders through sync (node/sync/service.ts).
   */
  takeRate(peerId: string): boolean {
    return this.limiter.take(peerId, this.now(), 1);
  }

  /** Counts a message's verdict; a dropped one is reported with the orders it carried (`orders`). */
  private count(kind: TopicKind, topic: string, verdict: Verdict, from?: string, orders = 1): void {
    const key = `${kind}|${verdict.action}|${verdict.code}`;
    this.counters.verdicts.set(key, (this.counters.verdicts.get(key) ?? 0) + 1);
    this.init.onVerdict?.(kind, topic, verdict);
    const reason = dropReasonOf(verdict.action, verdict.code);
    if (reason !== null) this.init.drops?.drop(reason, "gossip", from, orders);
  }

  /** Cheap checks before a message is queued; runs inside gossipsub for every message. */
  private preValidate(topic: string, from: string, data: Uint8Array): TopicValidatorResult {
    const kind = this.topics.get(topic)?.kind ?? "order";
    const orders = kind === "order" ? claimedOrderCount(data) : 1;
    let verdict: Verdict | null = null;
    if (data.length > MAX_GOSSIP_MESSAGE_BYTES) verdict = { action: "REJECT", code: "OVERSIZE" };
    else if (!this.limiter.take(from, this.now(), orders))
      verdict = { action: "IGNORE", code: "RATE_LIMITED" };
    else if (
      kind === "order"
        ? this.queuedOrders + orders > this.maxQueue
        : this.announceQueue.length - this.announceHead >= MAX_ANNOUNCE_QUEUE_LENGTH
    ) {
      verdict = { action: "IGNORE", code: "QUEUE_FULL" };
    }
    if (verdict) {
      this.count(kind, topic, verdict, from, orders);
      return RESULT[verdict.action];
    }
    return TopicValidatorResult.Accept;
  }

  private enqueue(m: GossipsubMessage): void {
    if (!this.running) return;
    const entry = this.topics.get(m.msg.topic);
    if (!entry) return;
    const item: Pending = {
      topic: m.msg.topic,
      kind: entry.kind,
      msgId: m.msgId,
      from: m.propagationSource.toString(),
      data: m.msg.data,
      orders: entry.kind === "order" ? claimedOrderCount(m.msg.data) : 1,
      receivedMs: this.now(),
    };
    if (entry.kind === "announce") this.announceQueue.push(item);
    else {
      this.queue.push(item);
      this.queuedOrders += item.orders;
    }
    const len = this.queuedOrders;
    this.counters.queueLength = len;
    if (len > this.counters.queueHighWater) this.counters.queueHighWater = len;
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  /**
   * Validates messages until about GOSSIP_VALIDATION_BATCH_ORDERS orders are done (in one init.inBatch),
   * then yields to the event loop.
   */
  private drain(): void {
    if (this.init.inBatch) this.init.inBatch(() => this.validateSome());
    else this.validateSome();
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.counters.queueLength = this.queuedOrders;
    if (this.announceHead === this.announceQueue.length) {
      this.announceQueue.length = 0;
      this.announceHead = 0;
    }
    if (
      (this.queueHead < this.queue.length || this.announceHead < this.announceQueue.length) &&
      this.running
    ) {
      setImmediate(() => this.drain());
    } else this.draining = false;
  }

  private validateSome(): void {
    let n = 0;
    while (this.running && n < GOSSIP_VALIDATION_BATCH_ORDERS) {
      let p: Pending;
      if (this.announceHead < this.announceQueue.length) p = this.announceQueue[this.announceHead++]!;
      else if (this.queueHead < this.queue.length) {
        p = this.queue[this.queueHead++]!;
        this.queuedOrders -= p.orders;
      } else break;
      n += p.orders;
      let verdict: Verdict;
      const entry = this.topics.get(p.topic);
      if (!entry) verdict = { action: "IGNORE", code: "NOT_SERVED" };
      else {
        try {
          verdict = entry.handler(p.data, p.from, p.receivedMs);
        } catch {
          verdict = { action: "IGNORE", code: "INTERNAL_ERROR" };
        }
      }
      this.count(p.kind, p.topic, verdict, p.from, p.orders);
      this.router.reportMessageValidationResult(p.msgId, p.from, RESULT[verdict.action]);
    }
  }
}
