// The node's one chain watcher: it polls the head, reads the settlement events (Proposed, Challenged,
// Finalized) of every market the node serves with one call per poll (ChainPort.settlementEvents), and hands each to its market's session in chain
// order. A session that fails to take an event gets it again at the next poll (the cursor stays before
// it). After each poll, every session closes out the epochs whose window has passed.
//
// Fault: the chain stops answering (anvil stopped or killed, an RPC endpoint down). A failing poll is
// logged at WARN — the first failure, then at most one line per FAILURE_LOG_INTERVAL_MS while it lasts —
// and "chain reachable again after N s" when it recovers; smartmarket_chain_up is 1 or 0. Before, these
// were debug lines and nothing in /metrics said the node was cut off from its chain.
import type { Startable } from "@libp2p/interface";
import { Gauge, type Registry } from "prom-client";
import type { Hex } from "../../protocol/hex.ts";
import { CHAIN_POLL_MS } from "../constants.ts";
import type { Logger } from "../logger.ts";
import type { ChainPort, SettlementEvent } from "./port.ts";
import { RPC_TIMEOUT_MS } from "./rpc-guard.ts";

/** On start, settlement events of this many past blocks are read again (a restart catches up). */
const START_LOOKBACK_BLOCKS = 256;
/** A failing chain is reported at most this often. */
const FAILURE_LOG_INTERVAL_MS = 30_000;
/** A poll still waiting for the chain after this long counts as failed (the RPC timeout, and a margin). */
const POLL_STALL_MS = RPC_TIMEOUT_MS + 1000;

export interface SettlementListener {
  onSettlement(ev: SettlementEvent): Promise<void>;
  /**
   * Traders that deposited into the market in blocks [fromBlock, toBlock], just read (repeats possible;
   * called at every poll that reads blocks, with no traders too, so the market's deposit cursor moves on).
   */
  onDepositors?(traders: readonly Hex[], fromBlock: number, toBlock: number): void;
  /** `chainReachable`: whether the poll just before reached the chain (close-out records why if not). */
  closeOut(chainReachable: boolean): void;
}

export const CHAIN_UP_METRIC = "smartmarket_chain_up";

export interface ChainFollowerComponents {
  readonly chain: ChainPort;
  readonly logger: Logger;
  /** The sessions by market, read at every poll (markets come and go). */
  readonly listeners: () => ReadonlyMap<Hex, SettlementListener>;
  readonly pollMs?: number;
  readonly clock?: () => number;
  /** A poll still waiting after this long counts as failed (default RPC_TIMEOUT_MS + 1 s). */
  readonly stallMs?: number;
  /** The node's metrics registry: smartmarket_chain_up is registered there. */
  readonly registry?: Registry;
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
  private failuresSinceLog = 0;
  private readonly up: Gauge | null;

  constructor(components: ChainFollowerComponents) {
    this.c = components;
    this.clock = components.clock ?? Date.now;
    const r = components.registry;
    this.up = r
      ? ((r.getSingleMetric(CHAIN_UP_METRIC) as Gauge | undefined) ??
        new Gauge({
          name: CHAIN_UP_METRIC,
          help: "1 if the node's last chain poll reached the chain (head and settlement events), 0 if it failed",
          registers: [r],
        }))
      : null;
  }

  /** Whether the last poll reached the chain. */
  get chainUp(): boolean {
    return this.failingSinceMs === null;
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
    let reached = true;
    // A hung chain answers nothing until each read's timeout and retries run out (rpc-guard.ts): the
    // gauge and the log must not wait for that, so a poll that takes this long counts as failing already.
    const startedMs = this.clock();
    const stallMs = this.c.stallMs ?? POLL_STALL_MS;
    const watchdog = setTimeout(() => {
      this.failing(startedMs, { code: "TIMEOUT", message: `the chain has not answered for ${stallMs} ms` });
    }, stallMs);
    try {
      await this.deliver();
      if (this.failingSinceMs !== null) {
        const downMs = this.clock() - this.failingSinceMs;
        this.c.logger.info(`chain reachable again after ${Math.round(downMs / 1000)} s`, {
          downMs,
          failedPolls: this.failuresSinceLog,
        });
        this.failingSinceMs = null;
        this.failuresSinceLog = 0;
        this.lastFailureLogMs = 0;
      }
      this.up?.set(1);
    } catch (err) {
      reached = false;
      this.failing(this.clock(), {
        code: (err as { code?: unknown }).code,
        message: (err as Error).message,
      });
    } finally {
      clearTimeout(watchdog);
    }
    for (const listener of this.c.listeners().values()) listener.closeOut(reached);
  }

  /** A poll failed (or has hung since `sinceMs`): the gauge drops to 0; logged at WARN, rate-limited. */
  private failing(sinceMs: number, err: { code: unknown; message: string }): void {
    this.up?.set(0);
    const now = this.clock();
    this.failingSinceMs ??= sinceMs;
    this.failuresSinceLog++;
    if (this.lastFailureLogMs !== 0 && now - this.lastFailureLogMs < FAILURE_LOG_INTERVAL_MS) return;
    this.lastFailureLogMs = now;
    this.c.logger.warn("chain poll failed", {
      err: err.message,
      code: err.code,
      failingForMs: now - this.failingSinceMs,
      failedPolls: this.failuresSinceLog,
    });
  }

  private async deliver(): Promise<void> {
    const head = await this.c.chain.blockNumber();
    if (head < this.cursor.block) return;
    const listeners = this.c.listeners();
    const markets = [...listeners.keys()].sort();
    // Depositors first: if this read fails the poll fails before the cursor moves, so no block's
    // deposits are skipped.
    const fromBlock = this.cursor.block;
    const deposits = await this.c.chain.depositors(markets, fromBlock, head);
    const byMarket = new Map<Hex, Hex[]>();
    for (const d of deposits) {
      const list = byMarket.get(d.market) ?? [];
      list.push(d.trader);
      byMarket.set(d.market, list);
    }
    for (const [market, listener] of listeners)
      listener.onDepositors?.(byMarket.get(market) ?? [], fromBlock, head);
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
