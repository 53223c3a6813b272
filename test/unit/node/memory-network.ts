// An in-memory peer-to-peer layer for unit tests of market sessions: every attached node is connected to
// every other (unless disconnected), gossip is delivered to every peer serving the topic on a later turn
// of the event loop, and reconciliation exchanges the two sides' order sets through their sync stores,
// with the real validation on accept. Peer identities are real Ed25519 keys (announcements verify them).
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { TopicHandler, TopicKind, Verdict } from "../../../node/gossip/service.ts";
import type { MarketSyncStore, SessionNetwork } from "../../../node/market/network.ts";
import type { SyncReport } from "../../../node/sync/service.ts";
import type { Hex } from "../../../protocol/hex.ts";

interface Member {
  readonly peerId: string;
  readonly key: PrivateKey;
  readonly topics: Map<string, TopicHandler>;
  readonly sync: Map<Hex, MarketSyncStore>;
  connected: boolean;
  /** Orders gossiped to this member wait this long before validation, as in a loaded node's queue (0: none). */
  queueDelayMs: number;
  /** Messages waiting in that queue: topic and arrival time. */
  readonly queued: Set<{ readonly topic: string; readonly receivedMs: number }>;
}

export class MemoryNetwork {
  private readonly members = new Map<string, Member>();
  /** Every gossip verdict, by receiving peer: what gossipsub would have been told. */
  readonly verdicts: { to: string; topic: string; kind: TopicKind; verdict: Verdict }[] = [];
  readonly reconciliations: { from: string; to: string; market: Hex; epoch: bigint }[] = [];

  async attach(): Promise<SessionNetwork & { readonly member: Member }> {
    const key = await generateKeyPair("Ed25519");
    const member: Member = {
      peerId: peerIdFromPrivateKey(key).toString(),
      key,
      topics: new Map(),
      sync: new Map(),
      connected: true,
      queueDelayMs: 0,
      queued: new Set(),
    };
    this.members.set(member.peerId, member);
    const kinds = new Map<string, TopicKind>();
    const others = () =>
      [...this.members.values()].filter((m) => m !== member && m.connected && member.connected);
    return {
      member,
      peerId: member.peerId,
      serveTopic: (topic, kind, handler) => {
        kinds.set(topic, kind);
        member.topics.set(topic, handler);
      },
      unserveTopic: (topic) => {
        member.topics.delete(topic);
      },
      publish: async (topic, data) => {
        const to = others().filter((m) => m.topics.has(topic));
        for (const m of to) {
          const item = { topic, receivedMs: Date.now() };
          const validate = () => {
            m.queued.delete(item);
            const handler = m.topics.get(topic);
            if (!handler) return;
            this.verdicts.push({
              to: m.peerId,
              topic,
              kind: kinds.get(topic) ?? "order",
              verdict: handler(data, member.peerId, item.receivedMs),
            });
          };
          // Orders only: a node validates announcements ahead of its order queue (gossip/service.ts).
          if (m.queueDelayMs > 0 && (kinds.get(topic) ?? "order") === "order") {
            m.queued.add(item);
            setTimeout(validate, m.queueDelayMs);
          } else setImmediate(validate);
        }
        return to.length;
      },
      topicPeers: (topic) =>
        others()
          .filter((m) => m.topics.has(topic))
          .map((m) => m.peerId)
          .sort(),
      queuedBefore: (topic, ms) => [...member.queued].some((q) => q.topic === topic && q.receivedMs < ms),
      serveSync: (market, store) => {
        member.sync.set(market, store);
      },
      unserveSync: (market) => {
        member.sync.delete(market);
      },
      reconcile: (peer, market, epoch) => this.reconcile(member, peer, market, epoch),
      signAsPeer: async (data) => member.key.sign(data),
    };
  }

  /** Makes orders gossiped to a node wait `ms` before their validation (a loaded node's queue); 0 for none. */
  setQueueDelay(peerId: string, ms: number): void {
    const m = this.members.get(peerId);
    if (m) m.queueDelayMs = ms;
  }

  /** Cuts a node off (it neither sends nor receives) or reconnects it. */
  setConnected(peerId: string, connected: boolean): void {
    const m = this.members.get(peerId);
    if (m) m.connected = connected;
  }

  private async reconcile(self: Member, peer: string, market: Hex, epoch: bigint): Promise<SyncReport> {
    const remote = this.members.get(peer);
    const theirs = remote?.sync.get(market);
    const ours = self.sync.get(market);
    if (
      !remote?.connected ||
      !self.connected ||
      !theirs ||
      !ours ||
      !theirs.serves(epoch) ||
      !ours.serves(epoch)
    ) {
      throw new Error(`NOT_SERVED: ${peer} does not sync ${market} epoch ${epoch}`);
    }
    this.reconciliations.push({ from: self.peerId, to: peer, market, epoch });
    const mine = new Set(ours.ids(epoch));
    const their = new Set(theirs.ids(epoch));
    const missingLocal = [...their].filter((id) => !mine.has(id));
    const missingRemote = [...mine].filter((id) => !their.has(id));
    const fetched = await ours.accept(epoch, theirs.wire(epoch, missingLocal), peer);
    const pushed = await theirs.accept(epoch, ours.wire(epoch, missingRemote), self.peerId);
    return {
      peer,
      market,
      epoch,
      rounds: 1,
      fetched: missingLocal.length,
      pushed: missingRemote.length,
      bytesSent: 0,
      bytesReceived: 0,
      durationMs: 0,
      missingLocal: missingLocal.length,
      missingRemote: missingRemote.length,
      fetchedAccepted: fetched.accepted,
      fetchedRejected: fetched.rejected,
      pushedAccepted: pushed.accepted,
      pushedRejected: pushed.rejected,
    };
  }
}
