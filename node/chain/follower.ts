// The node's one chain watcher: it polls the head, reads the settlement events (Proposed, Challenged,
// Finalized) of every market the node serves with one call per poll (ChainPort.settlementEvents), and hands each to its market's session in chain
// order. A session that fails to take an event gets it again at the next poll (the cursor stays before
// it). After each poll, every session closes out the epochs whose window has passed.
import type { Startable } from "@libp2p/interface";
import type { Hex } from "../../protocol/hex.ts";
import { CHAIN_POLL_MS } from "../constants.ts";
import type { Logger } from "../logger.ts";
import type { ChainPort, SettlementEvent } from "./port.ts";

/** On start, settlement events of this many past blocks are read again (a restart catches up). */
const START_LOOKBACK_BLOCKS = 256;
/** A failing chain is reported at most this often. */
const FAILURE_LOG_INTERVAL_MS = 30_000;

export interface SettlementListener {
  onSettlement(ev: SettlementEvent): Promise<void>;
  closeOut(): void;
}

export interface ChainFollowerComponents {
  readonly chain: ChainPort;
  readonly logger: Logger;
  /** The sessions by market, read at every poll (markets come and go). */
  readonly listeners: () => ReadonlyMap<Hex, SettlementListener>;
  readonly pollMs?: number;
  readonly clock?: () => number;
}

export class ChainFollower implements Startable {
  private readonly c: ChainFollowerComponents;
  private readonly clock: () => number;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  /** Everything up to (block, index) has been delivered. */
  private cursor = { block: 0, index: -1 };
  private failingSinceMs: number | null = null;
  private lastFailureLogMs = 0;

  constructor(components: ChainFollowerComponents) {
    this.c = components;
    this.clock = components.clock ?? Date.now;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    let head = 0;
    try {
      head = await this.c.chain.blockNumber();
    } catch (err) {
      this.c.logger.warn("cannot read the chain head at start; following from block 0", { err });
    }
    this.cursor = { block: Math.max(0, head - START_LOOKBACK_BLOCKS), index: -1 };
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = null;
        this.schedule(this.c.pollMs ?? CHAIN_POLL_MS);
      });
    }, ms);
  }

  /** One poll: new settlement events to their sessions, then close-out. Never throws. */
  async poll(): Promise<void> {
    try {
      await this.deliver();
      if (this.failingSinceMs !== null) {
        this.c.logger.info("chain reachable again", { downMs: this.clock() - this.failingSinceMs });
        this.failingSinceMs = null;
      }
    } catch (err) {
      const now = this.clock();
      this.failingSinceMs ??= now;
      if (now - this.lastFailureLogMs >= FAILURE_LOG_INTERVAL_MS) {
        this.lastFailureLogMs = now;
        this.c.logger.warn("chain poll failed", {
          err: (err as Error).message,
          failingForMs: now - this.failingSinceMs,
        });
      }
    }
    for (const listener of this.c.listeners().values()) listener.closeOut();
  }

  private async deliver(): Promise<void> {
    const head = await this.c.chain.blockNumber();
    if (head < this.cursor.block) return;
    const listeners = this.c.listeners();
    const markets = [...listeners.keys()].sort();
    const events = await this.c.chain.settlementEvents(markets, this.cursor.block, head);
    for (const ev of events) {
      if (!this.running) return;
      if (ev.blockNumber === this.cursor.block && ev.logIndex <= this.cursor.index) continue;
      const listener = listeners.get(ev.market);
      if (listener) {
        try {
          await listener.onSettlement(ev);
        } catch (err) {
          // The cursor stays before this event: the next poll delivers it again.
          this.c.logger.warn("recording a settlement event failed; retrying at the next poll", {
            market: ev.market,
            epoch: ev.epoch,
            err: (err as Error).message,
          });
          return;
        }
      }
      this.cursor = { block: ev.blockNumber, index: ev.logIndex };
    }
    this.cursor = { block: head + 1, index: -1 };
  }
}
