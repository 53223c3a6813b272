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

export interface HostOptions {
  readonly privateKey: PrivateKey;
  readonly listen: readonly string[];
  readonly announce?: readonly string[];
  readonly bootstrap: readonly string[];
  readonly mdns: boolean;
  readonly domainSeparator: Uint8Array;
  readonly orderTopics: readonly string[];
  readonly announceTopics: readonly string[];
  readonly maxConnections?: number;
  /** Where libp2p's own metrics (connections, streams, protocols, dials) are registered. */
  readonly metricsRegistry?: Registry;
}

export interface HostServices {
  identify: ReturnType<ReturnType<typeof identify>>;
  ping: ReturnType<ReturnType<typeof ping>>;
  pubsub: GossipSub;
}

export type Host = Libp2p<HostServices & Record<string, unknown>>;

/** Message ids: an order's id is its EIP-712 digest (so re-signed copies of one order are one message). */
function makeMsgIdFn(domainSeparator: Uint8Array, orderTopics: ReadonlySet<string>) {
  return (msg: { topic: string; data: Uint8Array }): Uint8Array => {
    if (orderTopics.has(msg.topic)) {
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

export async function createHost(opts: HostOptions): Promise<Host> {
  const orderTopics = new Set(opts.orderTopics);
  const topics = [...opts.orderTopics, ...opts.announceTopics];
  const topicScores: Record<string, ReturnType<typeof createTopicScoreParams>> = {};
  for (const t of opts.orderTopics) {
    topicScores[t] = createTopicScoreParams({
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
  for (const t of opts.announceTopics) {
    topicScores[t] = createTopicScoreParams({
      topicWeight: 0.5,
      timeInMeshWeight: 0,
      firstMessageDeliveriesWeight: 0,
      meshMessageDeliveriesWeight: 0,
      meshFailurePenaltyWeight: 0,
      invalidMessageDeliveriesWeight: -100,
      invalidMessageDeliveriesDecay: 0.99,
    });
  }

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
        msgIdFn: makeMsgIdFn(opts.domainSeparator, orderTopics),
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
        allowedTopics: topics,
        maxInboundDataLength: GOSSIP_MAX_INBOUND_RPC_BYTES,
        maxOutboundBufferSize: GOSSIP_MAX_OUTBOUND_BUFFER_BYTES,
        maxTopicBytesPerPeer: 16 * 1024,
        decodeRpcLimits: {
          maxSubscriptions: 2 * topics.length + 8,
          maxMessages: 1024,
          maxIhaveMessageIDs: 5000,
          maxIwantMessageIDs: 5000,
          maxControlMessages: 128,
          maxIdontwantMessageIDs: 512,
          maxPeerInfos: 16,
        },
        scoreParams: createPeerScoreParams({
          topics: topicScores,
          // Testnets run many nodes on one address; real deployments are spread out.
          IPColocationFactorWhitelist: new Set(["127.0.0.1", "::1"]),
        }),
        scoreThresholds: createPeerScoreThresholds({
          gossipThreshold: -100,
          publishThreshold: -200,
          graylistThreshold: -400,
          acceptPXThreshold: 100,
          opportunisticGraftThreshold: 5,
        }),
      }),
    },
  });
  return node as unknown as Host;
}
