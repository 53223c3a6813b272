// One market of a running testnet, driven epoch by epoch: its devices' orders, signed and sent to
// their nodes' control APIs early in each epoch, and each epoch's outcome collected from every node
// (through the market-scoped API) once it is final, fed back to the devices and kept as a report row.
// The launcher (network.ts) runs one driver per market, each on its market's own schedule. Under
// --adversary the primary market's driver also records each epoch's attack (adversary/observer.ts).

import type { EpochDetail } from "../node/api/types.ts";
import { orderDigestBytes } from "../protocol/eip712.ts";
import { epochAtMs, epochEndMs, epochStartMs } from "../protocol/epoch.ts";
import { bytesToHex, type Hex } from "../protocol/hex.ts";
import { type Order, orderToJson } from "../protocol/order.ts";
import { signDigest } from "../protocol/signature.ts";
import type { AttackObserver } from "./adversary/observer.ts";
import { sendWithFailover } from "./failover.ts";
import type { NodeProcess } from "./node-process.ts";
import { deviceOrderOutcomes, deviceReports, type PlacedOrder } from "./report-devices.ts";
import type {
  CurrentEpoch,
  EpochAttack,
  EpochOutcome,
  EpochReport,
  MarketInfo,
  MarketReport,
  NodeEpochView,
  Scenario,
} from "./types.ts";

/** Devices send their orders this far into the epoch (in eighths of the epoch length). */
const DEVICE_SEND_EIGHTHS = 1n;
/** How long after the settlement window an epoch may stay unfinished before it is reported as is. */
const COLLECT_GRACE_MS = 3000;
const POLL_MS = 200;
/** How long a row waits, beyond the epoch's final state, for the attacker to journal it closed. */
const ATTACK_WAIT_EXTRA_MS = 3000;

/** What a driver needs from the launcher. */
export interface DriverContext {
  /** The node processes now (nodes can be added while the testnet runs). */
  nodes(): readonly NodeProcess[];
  /** The EIP-712 domain separator of the settlement contract, for signing orders. */
  readonly separator: Uint8Array;
  /** Resolves at `ms` (unix time) or as soon as the launcher stops. */
  sleepUntil(ms: number): Promise<void>;
  stopping(): boolean;
  log(line: string): void;
  /** An epoch of this market settled. */
  onSettled(): void;
}

interface EpochTrack {
  readonly orderIds: Map<string, Hex[]>;
  /** Every order of the epoch, in the order placed; `accepted` once its node took it. */
  readonly placed: { -readonly [K in keyof PlacedOrder]: PlacedOrder[K] }[];
  sent: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export class MarketDriver {
  /** The market's short name ("energy", "data"). */
  readonly name: string;
  readonly info: MarketInfo;
  /** Its token pair. */
  readonly base: Hex;
  readonly quote: Hex;
  readonly scenario: Scenario;
  /** Final epochs, oldest first. */
  readonly rows: EpochReport[] = [];
  /** Set by the launcher under --adversary (primary market only): each row then records its attack. */
  attacks: AttackObserver | null = null;
  private readonly history: EpochOutcome[] = [];
  private readonly nonces = new Map<string, bigint>();
  private readonly tracks = new Map<bigint, EpochTrack>();
  /** When (unix ms) the launcher first saw an epoch of this market settled; null: not yet. */
  firstSettledAtMs: number | null = null;
  /** The newest epoch driven so far (a second run() does not drive an epoch twice). */
  private lastDriven = -1n;

  constructor(opts: { name: string; info: MarketInfo; base: Hex; quote: Hex; scenario: Scenario }) {
    this.name = opts.name;
    this.info = opts.info;
    this.base = opts.base;
    this.quote = opts.quote;
    this.scenario = opts.scenario;
  }

  /** The first epoch that starts at or after `ms` (unix time), and after every epoch driven so far. */
  firstEpochFrom(ms: bigint): bigint {
    const since = ms - this.info.genesisTimeS * 1000n;
    const lengthMs = this.info.epochLengthS * 1000n;
    const e = since <= 0n ? 0n : (since + lengthMs - 1n) / lengthMs;
    return e > this.lastDriven ? e : this.lastDriven + 1n;
  }

  /**
   * Drives every epoch that starts in [fromMs, untilMs) (until stopped, with untilMs null): sends its
   * orders, then collects it; resolves when every driven epoch is collected.
   */
  async drive(ctx: DriverContext, fromMs: bigint, untilMs: bigint | null): Promise<void> {
    const pending: Promise<void>[] = [];
    let epoch = this.firstEpochFrom(fromMs);
    while (!ctx.stopping() && (untilMs === null || epochStartMs(this.info, epoch) < untilMs)) {
      const lengthMs = this.info.epochLengthS * 1000n;
      await ctx.sleepUntil(Number(epochStartMs(this.info, epoch) + (lengthMs * DEVICE_SEND_EIGHTHS) / 8n));
      if (ctx.stopping()) break;
      this.lastDriven = epoch;
      await this.send(ctx, epoch);
      pending.push(this.collect(ctx, epoch));
      epoch++;
    }
    await Promise.all(pending);
  }

  /** The current epoch and how far into it `nowMs` is; null before genesis. */
  current(nowMs: bigint): CurrentEpoch | null {
    const e = epochAtMs(this.info, nowMs);
    if (e < 0n) return null;
    const progress = Number(nowMs - epochStartMs(this.info, e)) / Number(this.info.epochLengthS * 1000n);
    return { epoch: e, progress, orders: this.tracks.get(e)?.sent ?? 0 };
  }

  report(): MarketReport {
    return {
      market: this.info,
      name: this.name,
      epochs: [...this.rows],
      devices: deviceReports(this.rows, this.scenario.devices),
    };
  }

  private async send(ctx: DriverContext, epoch: bigint): Promise<void> {
    const track: EpochTrack = { orderIds: new Map(), placed: [], sent: 0 };
    this.tracks.set(epoch, track);
    const nodes = ctx.nodes();
    const jobs: Promise<void>[] = [];
    for (const dev of this.scenario.devices) {
      const wanted = this.scenario.ordersFor(dev, epoch, this.history);
      const home = dev.nodeIndex % nodes.length;
      const ids: Hex[] = [];
      track.orderIds.set(dev.name, ids);
      for (const w of wanted) {
        const nonce = this.nonces.get(dev.address) ?? 0n;
        this.nonces.set(dev.address, nonce + 1n);
        const order: Order = {
          market: this.info.id,
          epoch,
          side: w.side,
          quantity: w.quantity,
          limitPrice: w.limitPrice,
          nonce,
          trader: dev.address,
        };
        const digest = orderDigestBytes(order, ctx.separator);
        const signed = { ...order, signature: signDigest(digest, dev.privateKey) };
        const id = bytesToHex(digest);
        ids.push(id);
        const placed = {
          device: dev.name,
          id,
          side: w.side,
          quantity: w.quantity,
          limitPrice: w.limitPrice,
          accepted: false,
        };
        track.placed.push(placed);
        // Its own node first; another when that one does not answer (a restart loses no order).
        const json = orderToJson(signed);
        const targets = nodes.map((n) => ({
          running: n.running,
          send: () =>
            n
              .client()
              .submitOrder(this.info.id, json)
              .then(() => undefined),
        }));
        jobs.push(
          sendWithFailover(targets, home)
            .then((via) => {
              placed.accepted = true;
              track.sent++;
              if (via !== home)
                ctx.log(`${this.name} device ${dev.name}: node ${home} down, order sent via node ${via}`);
            })
            .catch((err) =>
              ctx.log(`${this.name} device ${dev.name}: order not accepted: ${(err as Error).message}`),
            ),
        );
      }
    }
    await Promise.all(jobs);
  }

  /** Waits until every node has a final record of the epoch (or its settlement window passed). */
  private async collect(ctx: DriverContext, epoch: bigint): Promise<void> {
    const closeMs = Number(epochEndMs(this.info, epoch));
    const windowEndMs = Number(epochEndMs(this.info, epoch + 1n));
    await ctx.sleepUntil(closeMs + POLL_MS);
    let nodes = ctx.nodes();
    let recs: (EpochDetail | null)[] = [];
    let final = false;
    for (;;) {
      nodes = ctx.nodes();
      recs = await Promise.all(
        nodes.map((n) =>
          n.running
            ? n
                .client()
                .epoch(this.info.id, epoch, { orders: false })
                .catch(() => null)
            : Promise.resolve(null),
        ),
      );
      final = recs.every((r) => r === null || r.phase === "settled" || r.phase === "unsettled");
      if (final || Date.now() > windowEndMs + COLLECT_GRACE_MS || ctx.stopping()) break;
      await sleep(POLL_MS);
    }
    const detail = await nodes[0]
      ?.client()
      .epoch(this.info.id, epoch)
      .catch(() => undefined);
    const orderList = detail?.orderList ?? [];
    const views: NodeEpochView[] = recs.map((r, i) => ({
      node: i,
      peerId: nodes[i]!.peerId,
      phase: r?.phase ?? "unknown",
      orders: r?.orders ?? null,
      fingerprint: r?.fingerprint ?? null,
      resultHash: r?.resultHash ?? null,
      agreed: r?.agreed ?? null,
    }));
    const ref = recs.find((r) => r !== null) ?? null;
    const settlement = recs.find((r) => r?.settlement)?.settlement ?? null;
    const allSame =
      recs.every((r) => r !== null) &&
      new Set(recs.map((r) => `${r?.fingerprint}|${r?.resultHash}`)).size === 1 &&
      recs.every((r) => r?.agreed !== false);
    const volume = BigInt(ref?.volume ?? "0");
    const submitter = settlement?.submitter ?? null;
    const settledBy = submitter === null ? -1 : nodes.findIndex((n) => n.wallet === submitter);
    let attack: EpochAttack | null = null;
    // An epoch cut short by a stop has no final result to judge the attack by.
    if (this.attacks && (final || !ctx.stopping())) {
      const waitMs = ctx.stopping() ? 0 : Number(this.info.epochLengthS) * 1000 + ATTACK_WAIT_EXTRA_MS;
      attack = await this.attacks
        .epochAttack(
          epoch,
          nodes.map((n) => n.wallet),
          recs.map((r) => (r ? { resultHash: r.resultHash, volume: r.volume } : null)),
          waitMs,
        )
        .catch((err) => {
          ctx.log(`${this.name} epoch ${epoch}: cannot read the attack: ${(err as Error).message}`);
          return null;
        });
    }
    // Stopped (Ctrl-C) before every node had a final record: the row says so, and is not judged.
    // (Not final without a stop: a node is stuck; reported as is, and not agreed.)
    const unfinished = !final && ctx.stopping();
    const track = this.tracks.get(epoch);
    const sent = track?.sent ?? 0;
    const fillsById = new Map(
      (ref?.result?.fills ?? detail?.result?.fills ?? []).map((f) => [
        f.id.toLowerCase(),
        BigInt(f.quantity),
      ]),
    );
    const excluded = new Map(
      ((detail as { excluded?: readonly { id: string; reason: string }[] } | undefined)?.excluded ?? []).map(
        (x) => [x.id.toLowerCase(), x.reason],
      ),
    );
    const price = ref?.price ? BigInt(ref.price) : null;
    const row: EpochReport = {
      epoch,
      orders: unfinished ? Math.max(ref?.orders ?? 0, sent) : (ref?.orders ?? 0),
      price,
      volume,
      welfare: BigInt(ref?.welfare ?? "0"),
      nodes: views,
      agreed: allSame && final,
      settled: settlement !== null,
      settlementTx: settlement?.tx ?? null,
      settledBy: settlement ? (settledBy < 0 ? null : settledBy) : null,
      gasUsed: settlement?.gasUsed ? BigInt(settlement.gasUsed) : null,
      bids: orderList
        .filter((o) => o.side === "buy")
        .map((o) => ({ limitPrice: BigInt(o.limitPrice), quantity: BigInt(o.quantity) })),
      asks: orderList
        .filter((o) => o.side === "sell")
        .map((o) => ({ limitPrice: BigInt(o.limitPrice), quantity: BigInt(o.quantity) })),
      ...(attack ? { attack } : {}),
      ...(unfinished ? { unfinished: true } : {}),
      ordersSent: sent,
      deviceOrders: deviceOrderOutcomes(track?.placed ?? [], {
        price,
        fills: fillsById,
        excluded,
        unfinished,
      }),
      challenges: settlement?.challenges ?? 0,
      submitter: settlement?.submitter ?? null,
    };
    if (settlement) {
      if (this.firstSettledAtMs === null) this.firstSettledAtMs = Date.now();
      ctx.onSettled();
    }
    this.rows.push(row);
    this.rows.sort((a, b) => (a.epoch < b.epoch ? -1 : 1));

    const fills = new Map((ref?.result?.fills ?? []).map((f) => [f.id, BigInt(f.quantity)]));
    // An unfinished epoch taught the devices nothing final; they are not told about it.
    if (unfinished) return;
    const filled = new Map<string, bigint[]>();
    for (const [name, ids] of this.tracks.get(epoch)?.orderIds ?? [])
      filled.set(
        name,
        ids.map((id) => fills.get(id) ?? 0n),
      );
    const outcome: EpochOutcome = { epoch, price: row.price, volume, filled };
    this.history.push(outcome);
    this.history.sort((a, b) => (a.epoch < b.epoch ? -1 : 1));
    this.scenario.observe(outcome);
    this.tracks.delete(epoch - 4n);
  }
}
