// Gossip topic names: /<prefix>/<version>/<network>/<market>/<name>
//   network = first 8 bytes of the EIP-712 domain separator (binds chain id and settlement contract),
//   market  = the 32-byte market id; both lowercase hex without 0x.
// Nodes on another chain, contract or market never share a topic.
import { bytesToHex, type Hex } from "../../protocol/hex.ts";
import { PROTOCOL_PREFIX, PROTOCOL_VERSION, TOPIC_ANNOUNCE, TOPIC_ORDERS } from "../constants.ts";

export function networkTag(domainSeparator: Uint8Array): string {
  return bytesToHex(domainSeparator.subarray(0, 8)).slice(2);
}

export function orderTopic(domainSeparator: Uint8Array, market: Hex): string {
  return `/${PROTOCOL_PREFIX}/${PROTOCOL_VERSION}/${networkTag(domainSeparator)}/${market.slice(2)}/${TOPIC_ORDERS}`;
}

export function announceTopic(domainSeparator: Uint8Array, market: Hex): string {
  return `/${PROTOCOL_PREFIX}/${PROTOCOL_VERSION}/${networkTag(domainSeparator)}/${market.slice(2)}/${TOPIC_ANNOUNCE}`;
}

/** The two topics of one market on one network. */
export interface MarketTopics {
  readonly orders: string;
  readonly announce: string;
}

export function marketTopics(domainSeparator: Uint8Array, market: Hex): MarketTopics {
  return { orders: orderTopic(domainSeparator, market), announce: announceTopic(domainSeparator, market) };
}

/** Whether `topic` is an order topic of the network with this domain separator (any market). */
export function isOrderTopic(domainSeparator: Uint8Array, topic: string): boolean {
  return (
    topic.startsWith(`/${PROTOCOL_PREFIX}/${PROTOCOL_VERSION}/${networkTag(domainSeparator)}/`) &&
    topic.endsWith(`/${TOPIC_ORDERS}`)
  );
}
