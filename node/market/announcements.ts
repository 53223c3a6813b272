// Epoch announcements of one market: what this node tells its peers about an epoch (fingerprint, order
// count, then result hash), and what it hears from them. Reconciliation waits on what peers announce;
// the store keeps the announcements for `smartmarket epoch N` and for the no-trade agreement check.
//
// Bounded against sybil floods: an announcement needs only fresh keys, and 3,000 of them used to grow the
// map and the SQLite table without limit (and capture the submitter ranking, see submitter.ts). At most
// MAX_ANNOUNCERS_PER_EPOCH peers are kept per epoch; when full, a peer connected to us on the market's topic
// displaces one that is not, and a peer kept in an earlier epoch displaces a stranger; strangers beyond the
// cap are IGNOREd (counted, WARN once per epoch). The table keeps KEEP_STORED_ANNOUNCEMENT_EPOCHS epochs.
import { createHash } from "node:crypto";
import { peerIdFromString } from "@libp2p/peer-id";
import { epochEndMs } from "../../protocol/epoch.ts";
import type { Hex } from "../../protocol/hex.ts";
import { type Announcement, decodeAnnouncement, encodeAnnouncement } from "../gossip/announcement.ts";
import type { Verdict } from "../gossip/service.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import type { EpochBook } from "../orderbook.ts";
import type { PeerClock } from "../peer-clock.ts";
import type { NodeStore } from "../store.ts";
import { epochAt, type MarketContext } from "./context.ts";
import type { NodeWallet } from "./intake.ts";
import type { SessionNetwork } from "./network.ts";

/** Announcements are accepted for epochs from 8 behind to 1 ahead of ours; older ones are forgotten. */
const ANNOUNCE_BEHIND_EPOCHS = 8n;
const ANNOUNCE_AHEAD_EPOCHS = 1n;
const KEEP_ANNOUNCED_EPOCHS = 16n;
/** Peers whose announcements are kept per epoch (map and table); see the header for who goes first. */
export const MAX_ANNOUNCERS_PER_EPOCH = 128;
/** Announcements stay in the store this many epochs (`smartmarket epoch N` of recent epochs). */
export const KEEP_STORED_ANNOUNCEMENT_EPOCHS = 64n;

export interface AnnouncementBoardComponents {
  readonly store: NodeStore;
  readonly network: SessionNetwork;
  readonly wallet: NodeWallet;
  readonly metrics: MarketMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
  /** Where the arrival times of peers' close announcements go (the node's clock against its peers'). */
  readonly peerClock?: PeerClock;
}

export class AnnouncementBoard {
  private readonly ctx: MarketContext;
  private readonly c: AnnouncementBoardComponents;
  /** Latest announcement per epoch and peer (peer id string). */
  private readonly byEpoch = new Map<bigint, Map<string, Announcement>>();
  private readonly waiters = new Set<() => void>();
  /** Epochs in which an announcement was refused for the cap (WARN once per epoch). */
  private readonly warnedFull = new Set<bigint>();

  constructor(ctx: MarketContext, components: AnnouncementBoardComponents) {
    this.ctx = ctx;
    this.c = components;
  }

  /** Full validation of an announcement gossiped on the market's topic (signatures checked in decode). */
  onGossip(data: Uint8Array, from: string): Verdict {
    let a: Announcement;
    try {
      a = decodeAnnouncement(data);
    } catch (err) {
      return { action: "REJECT", code: (err as { code?: string }).code ?? "MALFORMED" };
    }
    if (a.market !== this.ctx.market) return { action: "REJECT", code: "UNKNOWN_MARKET" };
    const current = epochAt(this.ctx, this.c.clock());
    if (a.epoch > current + ANNOUNCE_AHEAD_EPOCHS || a.epoch + ANNOUNCE_BEHIND_EPOCHS < current) {
      return { action: "IGNORE", code: "EPOCH_OUT_OF_WINDOW" };
    }
    let origin: string;
    try {
      origin = peerIdFromString(a.peerId).toString();
    } catch {
      return { action: "REJECT", code: "MALFORMED" };
    }
    // Relayed or direct alike: the announcement is signed by the peer it names.
    if (!this.record(a, origin)) return { action: "IGNORE", code: "TOO_MANY_ANNOUNCERS" };
    // Sent by its own origin, at the origin's close of the epoch: a reading of its clock against ours.
    if (a.resultHash === null && from === origin) {
      const lateMs = this.c.clock() - Number(epochEndMs(this.ctx.schedule, a.epoch));
      this.c.peerClock?.observe(origin, this.ctx.market, a.epoch, lateMs);
    }
    return { action: "ACCEPT", code: "OK" };
  }

  /**
   * Who is kept first when an epoch is full: 2 a peer connected on the topic, 1 one kept in an earlier
   * epoch, 0 others. Only earlier epochs count: a sybil that fills the next epoch's table first must not
   * earn a standing from it.
   */
  private priority(peer: string, epoch: bigint, connected: ReadonlySet<string>): number {
    if (connected.has(peer)) return 2;
    for (const [e, byPeer] of this.byEpoch) if (e < epoch && byPeer.has(peer)) return 1;
    return 0;
  }

  /**
   * Makes room for `origin` in a full epoch: evicts the lowest-priority peer if it ranks below `origin`;
   * among equals the one with the greatest evictionKey (not arrival order, and not the peer id itself,
   * which an attacker could grind once for every epoch). False: no room.
   */
  private makeRoom(byPeer: Map<string, Announcement>, epoch: bigint, origin: string): boolean {
    const connected = new Set(this.c.network.topicPeers(this.ctx.topics.announce));
    const mine = this.priority(origin, epoch, connected);
    if (mine === 0) return false;
    // The lowest priority below ours; among equals the greatest peer id.
    let victim: string | null = null;
    let victimPriority = mine;
    for (const peer of byPeer.keys()) {
      const p = this.priority(peer, epoch, connected);
      const lower = p < victimPriority;
      const tieAbove =
        p === victimPriority && victim !== null && evictionKey(epoch, peer) > evictionKey(epoch, victim);
      if (lower || tieAbove) {
        victim = peer;
        victimPriority = p;
      }
    }
    if (victim === null) return false;
    byPeer.delete(victim);
    this.c.store.deleteAnnouncement(this.ctx.market, epoch, victim);
    return true;
  }

  private record(a: Announcement, origin: string): boolean {
    let byPeer = this.byEpoch.get(a.epoch);
    if (!byPeer) {
      byPeer = new Map();
      this.byEpoch.set(a.epoch, byPeer);
      for (const e of this.byEpoch.keys()) if (e + KEEP_ANNOUNCED_EPOCHS < a.epoch) this.byEpoch.delete(e);
      for (const e of this.warnedFull) if (e + KEEP_ANNOUNCED_EPOCHS < a.epoch) this.warnedFull.delete(e);
      this.c.store.pruneAnnouncements(this.ctx.market, a.epoch - KEEP_STORED_ANNOUNCEMENT_EPOCHS);
    }
    if (
      !byPeer.has(origin) &&
      byPeer.size >= MAX_ANNOUNCERS_PER_EPOCH &&
      !this.makeRoom(byPeer, a.epoch, origin)
    ) {
      if (!this.warnedFull.has(a.epoch)) {
        this.warnedFull.add(a.epoch);
        this.c.logger.warn(
          "announcements from more peers than an epoch keeps: ignoring strangers (sybil flood?)",
          {
            epoch: a.epoch,
            kept: byPeer.size,
            ignored: origin,
          },
        );
      }
      return false;
    }
    byPeer.set(origin, a);
    this.c.store.putAnnouncement({
      market: a.market,
      epoch: a.epoch,
      peer: origin,
      wallet: a.wallet,
      fingerprint: a.fingerprint,
      orderCount: a.orderCount,
      resultHash: a.resultHash,
      receivedMs: this.c.clock(),
    });
    this.wakeAll();
    return true;
  }

  /** Peers kept for the epoch (at most MAX_ANNOUNCERS_PER_EPOCH). */
  peerCount(epoch: bigint): number {
    return this.byEpoch.get(epoch)?.size ?? 0;
  }

  /** What each peer last announced for the epoch. */
  latest(epoch: bigint): ReadonlyMap<string, Announcement> {
    return this.byEpoch.get(epoch) ?? new Map();
  }

  /** Announces the book's fingerprint (and the result hash once cleared) for its epoch. */
  async announce(book: EpochBook, resultHash: Hex | null): Promise<void> {
    const a: Announcement = {
      market: this.ctx.market,
      epoch: book.epoch,
      fingerprint: book.fingerprint(),
      orderCount: book.size,
      resultHash,
      wallet: this.c.wallet.address,
      peerId: this.c.network.peerId,
    };
    try {
      const bytes = await encodeAnnouncement(a, this.c.wallet.privateKey, (d) =>
        this.c.network.signAsPeer(d),
      );
      await this.c.network.publish(this.ctx.topics.announce, bytes);
    } catch (err) {
      this.c.logger.debug("announce failed", { epoch: book.epoch, err });
    }
  }

  /** Resolves at the next announcement received, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
    });
  }

  /** Releases every waiter (an announcement arrived, or the session stops). */
  wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The eviction order among equals in a full epoch: a hash of the epoch and the peer, new every epoch. */
function evictionKey(epoch: bigint, peer: string): string {
  return createHash("sha256").update(`${epoch}:${peer}`).digest("hex");
}
