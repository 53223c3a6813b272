// Epoch announcements of one market: what this node tells its peers about an epoch (fingerprint, order
// count, then result hash), and what it hears from them. Reconciliation waits on what peers announce;
// the store keeps every announcement for `smartmarket epoch N` and for the no-trade agreement check.
import { peerIdFromString } from "@libp2p/peer-id";
import type { Hex } from "../../protocol/hex.ts";
import { type Announcement, decodeAnnouncement, encodeAnnouncement } from "../gossip/announcement.ts";
import type { Verdict } from "../gossip/service.ts";
import type { Logger } from "../logger.ts";
import type { MarketMetrics } from "../metrics.ts";
import type { EpochBook } from "../orderbook.ts";
import type { NodeStore } from "../store.ts";
import { epochAt, type MarketContext } from "./context.ts";
import type { NodeWallet } from "./intake.ts";
import type { SessionNetwork } from "./network.ts";

/** Announcements are accepted for epochs from 8 behind to 1 ahead of ours; older ones are forgotten. */
const ANNOUNCE_BEHIND_EPOCHS = 8n;
const ANNOUNCE_AHEAD_EPOCHS = 1n;
const KEEP_ANNOUNCED_EPOCHS = 16n;

export interface AnnouncementBoardComponents {
  readonly store: NodeStore;
  readonly network: SessionNetwork;
  readonly wallet: NodeWallet;
  readonly metrics: MarketMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
}

export class AnnouncementBoard {
  private readonly ctx: MarketContext;
  private readonly c: AnnouncementBoardComponents;
  /** Latest announcement per epoch and peer (peer id string). */
  private readonly byEpoch = new Map<bigint, Map<string, Announcement>>();
  private readonly waiters = new Set<() => void>();

  constructor(ctx: MarketContext, components: AnnouncementBoardComponents) {
    this.ctx = ctx;
    this.c = components;
  }

  /** Full validation of an announcement gossiped on the market's topic (signatures checked in decode). */
  onGossip(data: Uint8Array, _from: string): Verdict {
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
    this.record(a, origin);
    return { action: "ACCEPT", code: "OK" };
  }

  private record(a: Announcement, origin: string): void {
    let byPeer = this.byEpoch.get(a.epoch);
    if (!byPeer) {
      byPeer = new Map();
      this.byEpoch.set(a.epoch, byPeer);
      for (const e of this.byEpoch.keys()) if (e + KEEP_ANNOUNCED_EPOCHS < a.epoch) this.byEpoch.delete(e);
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
