// Peer upkeep: dial what discovery finds, keep at least `minConnections` connections (redialling the
// bootstrap list, then known peers), expel peers whose gossipsub score fell below the graylist threshold,
// and the peer views of the control API.
import type { PeerId, Startable } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { AbuseMonitor } from "./abuse.ts";
import type { PeerDetail, PeerView } from "./api/types.ts";
import { NodeInputError } from "./errors.ts";
import type { OrderGossip } from "./gossip/service.ts";
import { GRAYLIST_THRESHOLD, type Host } from "./host.ts";
import type { Logger } from "./logger.ts";

const MAINTAIN_EVERY_MS = 2000;
const DIAL_TIMEOUT_MS = 5000;
const REDIAL_TIMEOUT_MS = 3000;
const PING_TIMEOUT_MS = 2000;

export interface PeerKeeperOptions {
  readonly bootstrap: readonly string[];
  /** Keep at least this many connections (default 4). */
  readonly minConnections?: number;
}

export interface PeerKeeperComponents {
  readonly host: Host;
  readonly gossip: OrderGossip;
  readonly logger: Logger;
  /** Our topics by kind, each labelled with its market: what `topics` of a peer view lists. */
  readonly topics: () => readonly { topic: string; label: string }[];
  /** A peer connected (a new connection): the markets catch up with it. */
  readonly onConnect: (peer: string) => void;
  /** A peer's last connection closed. */
  readonly onDisconnect?: (peer: string) => void;
  /** Expels (disconnects and bans) abusive peers; without it graylisted peers are only ignored. */
  readonly abuse?: AbuseMonitor;
}

export class PeerKeeper implements Startable {
  private readonly opts: PeerKeeperOptions;
  private readonly c: PeerKeeperComponents;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>) => void this.dialIfNeeded(evt.detail.id);
  private readonly onConnection = (evt: CustomEvent<{ remotePeer: PeerId }>) => {
    if (this.running) this.c.onConnect(evt.detail.remotePeer.toString());
  };
  private readonly onDisconnect = (evt: CustomEvent<PeerId>) => {
    this.c.gossip.forgetPeer(evt.detail.toString());
    this.c.onDisconnect?.(evt.detail.toString());
  };

  constructor(opts: PeerKeeperOptions, components: PeerKeeperComponents) {
    this.opts = opts;
    this.c = components;
  }

  async start(): Promise<void> {
    this.running = true;
    const { host } = this.c;
    host.addEventListener("peer:discovery", this.onDiscovery);
    host.addEventListener("connection:open", this.onConnection);
    host.addEventListener("peer:disconnect", this.onDisconnect);
    this.c.abuse?.setDisconnect(async (peer) => {
      await host.hangUp(peerIdFromString(peer), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
    });
    this.timer = setInterval(() => {
      this.expelGraylisted();
      void this.maintain();
    }, MAINTAIN_EVERY_MS);
  }

  /**
   * Attack defeated: a peer whose gossipsub score fell below the graylist threshold (invalid messages,
   * broken promises) used to stay connected forever, its RPCs ignored but its connection, streams and
   * sync sessions kept. It is disconnected and banned now.
   */
  expelGraylisted(): void {
    const abuse = this.c.abuse;
    if (!this.running || abuse === undefined) return;
    for (const id of this.c.host.getPeers()) {
      const peer = id.toString();
      const score = this.c.gossip.score(peer);
      if (score < GRAYLIST_THRESHOLD) abuse.expel(peer, "graylisted", { score: Math.round(score) });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    const { host } = this.c;
    host.removeEventListener("peer:discovery", this.onDiscovery);
    host.removeEventListener("connection:open", this.onConnection);
    host.removeEventListener("peer:disconnect", this.onDisconnect);
  }

  private async dialIfNeeded(peer: PeerId): Promise<void> {
    const { host } = this.c;
    if (!this.running || peer.equals(host.peerId)) return;
    if (host.getConnections(peer).length > 0) return;
    try {
      await host.dial(peer, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
    } catch (err) {
      this.c.logger.debug("dial failed", { peer: peer.toString(), err });
    }
  }

  private async maintain(): Promise<void> {
    if (!this.running) return;
    const { host } = this.c;
    const min = this.opts.minConnections ?? 4;
    const connected = new Set(host.getPeers().map((p) => p.toString()));
    if (connected.size >= min) return;
    for (const addr of this.opts.bootstrap) {
      try {
        const ma = multiaddr(addr);
        const id = ma.getComponents().find((c) => c.name === "p2p")?.value;
        if (id && !connected.has(id)) await host.dial(ma, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) });
      } catch (err) {
        this.c.logger.debug("bootstrap redial failed", { addr, err });
      }
    }
    for (const p of await host.peerStore.all()) {
      if (connected.size >= min) break;
      if (!connected.has(p.id.toString()) && !p.id.equals(host.peerId) && p.addresses.length > 0) {
        await this.dialIfNeeded(p.id);
        connected.add(p.id.toString());
      }
    }
  }

  async peers(): Promise<PeerView[]> {
    const subs = this.subscriptions();
    const out: PeerView[] = [];
    for (const id of this.c.host.getPeers()) out.push(await this.peerView(id, subs));
    return out.sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  }

  async peer(idText: string): Promise<PeerDetail> {
    let id: PeerId;
    try {
      id = peerIdFromString(idText);
    } catch {
      throw new NodeInputError("BAD_PEER_ID", `"${idText}" is not a peer id`);
    }
    if (this.c.host.getConnections(id).length === 0) {
      throw new NodeInputError("UNKNOWN_PEER", `peer ${idText} is not connected`, 404);
    }
    const info = await this.peerView(id, this.subscriptions());
    let pingMs: number | null = null;
    try {
      pingMs = await this.c.host.services.ping.ping(id, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
    } catch {
      pingMs = null;
    }
    return { ...info, pingMs };
  }

  /** Subscribers of each of our topics, labelled. */
  private subscriptions(): { label: string; peers: Set<string> }[] {
    return this.c
      .topics()
      .map(({ topic, label }) => ({ label, peers: new Set(this.c.gossip.subscribers(topic)) }));
  }

  private async peerView(
    id: PeerId,
    subs: readonly { label: string; peers: Set<string> }[],
  ): Promise<PeerView> {
    const key = id.toString();
    const conns = this.c.host.getConnections(id);
    let protocols: string[] = [];
    try {
      protocols = [...(await this.c.host.peerStore.get(id)).protocols].sort();
    } catch {
      // not in the peer store yet
    }
    // Round-trip time measured by libp2p's connection monitor (a ping every few seconds).
    const rtts = conns
      .map((c) => c.rtt)
      .filter((r): r is number => typeof r === "number" && Number.isFinite(r));
    return {
      peerId: key,
      addresses: conns.map((c) => c.remoteAddr.toString()),
      direction: conns[0]?.direction ?? null,
      latencyMs: rtts.length > 0 ? Math.round(Math.min(...rtts)) : null,
      protocols,
      gossipScore: Math.round(this.c.gossip.score(key) * 1000) / 1000,
      topics: subs.filter((s) => s.peers.has(key)).map((s) => s.label),
    };
  }
}
