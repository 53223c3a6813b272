// The libp2p host: TCP + noise + yamux, identify, ping, gossipsub, bootstrap and (optionally) mDNS.
// Gossipsub limits are set here deliberately; several library defaults are unbounded.

import { createHash } from "node:crypto";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { bootstrap } from "@libp2p/bootstrap";
import type { GossipSub } from "@libp2p/gossipsub";
import { gossipsub, StrictNoSign } from "@libp2p/gossipsub";
import {
  createPeerScoreParams,
  createPeerScoreThresholds,
  createTopicScoreParams,
} from "@libp2p/gossipsub/score";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { mdns } from "@libp2p/mdns";
import { ping } from "@libp2p/ping";
import { prometheusMetrics } from "@libp2p/prometheus-metrics";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import type { Registry } from "prom-client";
import { decodeOrder } from "../protocol/codec.ts";
import { orderDigestBytes } from "../protocol/eip712.ts";
import {
  GOSSIP_MAX_INBOUND_RPC_BYTES,
  GOSSIP_MAX_OUTBOUND_BUFFER_BYTES,
  PROTOCOL_PREFIX,
} from "./constants.ts";
import { isOrderTopic } from "./gossip/topics.ts";
import { type GossipAbuseSink, instrumentGossipsub } from "./host-abuse.ts";

export interface HostOptions {
  readonly privateKey: PrivateKey;
  readonly listen: readonly string[];
  readonly announce?: readonly string[];
  readonly bootstrap: readonly string[];
  readonly mdns: boolean;
  /** The network's EIP-712 domain separator: order topics of this network have digest message ids. */
  readonly domainSeparator: Uint8Array;
  readonly maxConnections?: number;
  /** Where libp2p's own metrics (connections, streams, protocols, dials) are registered. */
  readonly metricsRegistry?: Registry;
  /**
   * Banned peers: the connection gater refuses their connections both ways. Attack defeated: an
   * expelled abuser reconnecting at once (node/abuse.ts expels, node/ban-list.ts holds the bans).
   */
  readonly bans?: { isBanned(peer: string): boolean };
  /** Where gossipsub's otherwise silent drops are reported (oversize frames, undecodable RPCs, duplicates). */
  readonly abuse?: GossipAbuseSink;
}

export interface HostServices {
  identify: ReturnType<ReturnType<typeof identify>>;
  ping: ReturnType<ReturnType<typeof ping>>;
  pubsub: GossipSub;
}

export type Host = Libp2p<HostServices & Record<string, unknown>>;

/** Gossipsub score below which a peer's RPCs are ignored; peers.ts also disconnects and bans it. */
export const GRAYLIST_THRESHOLD = -400;

/** Most markets one node serves at once: bounds the topics a peer may make us track. */
export const MAX_MARKETS_PER_NODE = 16;

/** Message ids: an order's id is its EIP-712 digest (so re-signed copies of one order are one message). */
function makeMsgIdFn(domainSeparator: Uint8Array) {
  return (msg: { topic: string; data: Uint8Array }): Uint8Array => {
    if (isOrderTopic(domainSeparator, msg.topic)) {
      try {
        return orderDigestBytes(decodeOrder(msg.data), domainSeparator);
      } catch {
        // Not an order: a distinct id namespace (leading 0xff) so it cannot collide with a digest
        // that a real order could have; validation REJECTs the message anyway.
      }
    }
    const h = createHash("sha256").update(msg.data).digest();
    h[0] = 0xff;
    return new Uint8Array(h);
  };
}

function orderTopicScore() {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 100,
    // Devices publish sparsely and in bursts: penalising low mesh delivery rates would punish honest
    // peers, so the mesh-delivery terms are off (as Lodestar does for low-rate topics).
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    // One invalid order (counter squared) costs 100: the sender goes below zero at once and is
    // graylisted after a few.
    invalidMessageDeliveriesWeight: -100,
    invalidMessageDeliveriesDecay: 0.99,
  });
}

function announceTopicScore() {
  return createTopicScoreParams({
    topicWeight: 0.5,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -100,
    invalidMessageDeliveriesDecay: 0.99,
  });
}

/**
 * The parts of the gossipsub router that decide which topics exist for us. Gossipsub takes both at
 * creation only (`allowedTopics`, `scoreParams.topics`) and keeps them as a Set and a record, which are
 * updated here in place so markets can be joined and left at run time. `checkRouter` verifies the shape
 * at start-up, so a library change fails loudly instead of silently admitting every topic.
 */
interface TopicTables {
  readonly allowedTopics: Set<string>;
  readonly score: { readonly params: { readonly topics: Record<string, unknown> } };
}

function topicTables(host: Host): TopicTables {
  const router = host.services.pubsub as unknown as Partial<TopicTables>;
  if (!(router.allowedTopics instanceof Set) || typeof router.score?.params?.topics !== "object") {
    throw new Error("gossipsub no longer exposes allowedTopics / score.params.topics: cannot admit topics");
  }
  return router as TopicTables;
}

/** Admits a market's topics: gossipsub then tracks subscriptions and messages on them, and scores them. */
export function admitTopics(host: Host, topics: { orders: string; announce: string }): void {
  const t = topicTables(host);
  t.allowedTopics.add(topics.orders);
  t.allowedTopics.add(topics.announce);
  t.score.params.topics[topics.orders] = orderTopicScore();
  t.score.params.topics[topics.announce] = announceTopicScore();
}

/** Forgets topics admitted by admitTopics: peers' messages and subscriptions on them are dropped again. */
export function forgetTopics(host: Host, topics: readonly string[]): void {
  const t = topicTables(host);
  for (const topic of topics) {
    t.allowedTopics.delete(topic);
    delete t.score.params.topics[topic];
  }
}

/** A connection gater that refuses banned peers, inbound and outbound. */
function banGater(bans: { isBanned(peer: string): boolean }) {
  const denied = (peerId: { toString(): string }): boolean => bans.isBanned(peerId.toString());
  return {
    denyDialPeer: denied,
    denyInboundEncryptedConnection: denied,
    denyOutboundEncryptedConnection: denied,
  };
}

export async function createHost(opts: HostOptions): Promise<Host> {
  const peerDiscovery = [];
  if (opts.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: [...opts.bootstrap], timeout: 100 }));
  if (opts.mdns) peerDiscovery.push(mdns({ serviceTag: `${PROTOCOL_PREFIX}.local` }));

  const node = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: [...opts.listen], announce: opts.announce ? [...opts.announce] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    connectionManager: { maxConnections: opts.maxConnections ?? 64 },
    ...(opts.bans ? { connectionGater: banGater(opts.bans) } : {}),
    ...(opts.metricsRegistry
      ? {
          metrics: prometheusMetrics({
            registry: opts.metricsRegistry,
            collectDefaultMetrics: false,
            preserveExistingMetrics: true,
          }),
        }
      : {}),
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign,
        msgIdFn: makeMsgIdFn(opts.domainSeparator),
        // A cheap content hash for the seen-cache, before the (keccak) message id is computed.
        fastMsgIdFn: (msg) =>
          createHash("sha1")
            .update(msg.data ?? new Uint8Array(0))
            .digest("base64"),
        asyncValidation: true,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        doPX: false,
        // Empty at first: admitTopics adds each market's two topics when the node joins it.
        allowedTopics: [],
        maxInboundDataLength: GOSSIP_MAX_INBOUND_RPC_BYTES,
        maxOutboundBufferSize: GOSSIP_MAX_OUTBOUND_BUFFER_BYTES,
        maxTopicBytesPerPeer: 16 * 1024,
        decodeRpcLimits: {
          maxSubscriptions: 4 * MAX_MARKETS_PER_NODE + 8,
          maxMessages: 1024,
          maxIhaveMessageIDs: 5000,
          maxIwantMessageIDs: 5000,
          maxControlMessages: 128,
          maxIdontwantMessageIDs: 512,
          maxPeerInfos: 16,
        },
        scoreParams: createPeerScoreParams({
          topics: {},
          // Testnets run many nodes on one address; real deployments are spread out.
          IPColocationFactorWhitelist: new Set(["127.0.0.1", "::1"]),
        }),
        scoreThresholds: createPeerScoreThresholds({
          gossipThreshold: -100,
          publishThreshold: -200,
          graylistThreshold: GRAYLIST_THRESHOLD,
          acceptPXThreshold: 100,
          opportunisticGraftThreshold: 5,
        }),
      }),
    },
  });
  const host = node as unknown as Host;
  topicTables(host); // fail at start-up, not at the first join, if gossipsub changed shape
  if (opts.abuse) instrumentGossipsub(host.services.pubsub, opts.abuse);
  return host;
}
