// What a market session needs from the peer-to-peer layer, and nothing more. The node root implements it
// over its one libp2p host (gossipsub topics, the sync protocol, the peer key); session tests implement
// it in memory (test/unit/node/memory-network.ts).
import type { Hex } from "../../protocol/hex.ts";
import type { TopicHandler, TopicKind } from "../gossip/service.ts";
import type { SyncReport } from "../sync/service.ts";

/** One market's order sets as the sync protocol serves them (the node root routes by market). */
export interface MarketSyncStore {
  /** Sorted ascending, distinct ids of the orders held for the epoch right now. */
  ids(epoch: bigint): readonly Hex[];
  /** Wire bytes of the held orders with these ids; unknown ids are skipped. */
  wire(epoch: bigint, ids: readonly Hex[]): Uint8Array[];
  /** Validates and stores orders a peer sent for the epoch; never throws. */
  accept(epoch: bigint, orders: Uint8Array[], from: string): Promise<{ accepted: number; rejected: number }>;
  /** Whether the epoch may still be synced (near the current one). */
  serves(epoch: bigint): boolean;
}

export interface SessionNetwork {
  /** This node's peer id, string form. */
  readonly peerId: string;
  /** Subscribes to a topic; its messages go to `handler` (full validation) from now on. */
  serveTopic(topic: string, kind: TopicKind, handler: TopicHandler): void;
  unserveTopic(topic: string): void;
  /** Publishes on a topic; resolves to the number of peers it was sent to. */
  publish(topic: string, data: Uint8Array): Promise<number>;
  /** Connected peers subscribed to `topic`, sorted: the ones that hold an order set of its market. */
  topicPeers(topic: string): string[];
  /**
   * Whether messages of `topic` that arrived before `ms` (node clock) still wait for validation: an epoch
   * is not frozen while orders that reached the node before its close are queued (pipeline.ts).
   */
  queuedBefore(topic: string, ms: number): boolean;
  /** Serves a market's order sets to peers' sync sessions. */
  serveSync(market: Hex, store: MarketSyncStore): void;
  unserveSync(market: Hex): void;
  /** Reconciles (market, epoch) with a peer: fetches what we lack, pushes what it lacks. */
  reconcile(peer: string, market: Hex, epoch: bigint, signal: AbortSignal): Promise<SyncReport>;
  /** Signs with the node's libp2p identity key (announcements carry it). */
  signAsPeer(data: Uint8Array): Promise<Uint8Array>;
}
