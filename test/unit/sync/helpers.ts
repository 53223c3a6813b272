// Helpers of the sync tests: deterministic id sets and an in-memory run of the reconciliation rounds
// through the real codec (so that byte counts are the protocol's, minus libp2p's own framing).
import { createHash } from "node:crypto";
import {
  decodeMessage,
  encodeMessage,
  MessageType,
  type SyncMessage,
  varintBytes,
} from "../../../node/sync/codec.ts";
import { IdSnapshot } from "../../../node/sync/ids.ts";
import { DEFAULT_RECONCILE_PARAMS, type ReconcileParams, Reconciler } from "../../../node/sync/reconcile.ts";
import type { SyncStore } from "../../../node/sync/service.ts";
import { compareHex, type Hex } from "../../../protocol/hex.ts";

export const MARKET: Hex = `0x${"ab".repeat(32)}`;

/** Id number i of a family: sha256(family ‖ i), as canonical hex. */
export function idOf(family: number, i: number): Hex {
  return `0x${createHash("sha256").update(`${family}/${i}`).digest("hex")}` as Hex;
}

/** `n` distinct ids of one family. */
export function ids(family: number, n: number, from = 0): Hex[] {
  return Array.from({ length: n }, (_, i) => idOf(family, from + i));
}

/** Ids that share a 30-byte prefix (consecutive numbers): stress for bounds of full length. */
export function clusteredIds(family: number, n: number, from = 0): Hex[] {
  const base = idOf(family, 0).slice(0, 2 + 60);
  return Array.from({ length: n }, (_, i) => `${base}${(from + i).toString(16).padStart(4, "0")}` as Hex);
}

export function sorted(list: Iterable<Hex>): Hex[] {
  return [...new Set(list)].sort(compareHex);
}

export function minus(a: readonly Hex[], b: readonly Hex[]): Hex[] {
  const set = new Set(b);
  return sorted(a.filter((x) => !set.has(x)));
}

export interface LocalRun {
  have: Hex[];
  need: Hex[];
  rounds: number;
  /** Frame bytes of the range messages, both directions, length prefixes included. */
  bytes: number;
  maxFrameBytes: number;
}

function wire(msg: SyncMessage, acc: { bytes: number; max: number }): SyncMessage {
  const body = encodeMessage(msg);
  acc.bytes += varintBytes(body.length) + body.length;
  acc.max = Math.max(acc.max, body.length);
  return decodeMessage(body);
}

/** Runs the reconciliation rounds between a client holding `a` and a server holding `b`, in memory. */
export function reconcileLocally(
  a: readonly Hex[],
  b: readonly Hex[],
  params: ReconcileParams = DEFAULT_RECONCILE_PARAMS,
  maxRounds = 1_000,
): LocalRun {
  const client = new Reconciler(IdSnapshot.fromHex(sorted(a)), "client", params);
  const server = new Reconciler(IdSnapshot.fromHex(sorted(b)), "server", params);
  const acc = { bytes: 0, max: 0 };
  let ranges = client.initialRanges();
  let rounds = 0;
  for (;;) {
    if (rounds >= maxRounds) throw new Error(`no agreement after ${rounds} rounds`);
    const req = wire(
      rounds === 0
        ? { type: MessageType.OPEN, market: MARKET, epoch: 7n, ranges }
        : { type: MessageType.RECONCILE, ranges },
      acc,
    );
    rounds++;
    if (req.type !== MessageType.OPEN && req.type !== MessageType.RECONCILE) throw new Error("bad type");
    const res = wire({ type: MessageType.RECONCILE, ranges: server.respond(req.ranges) }, acc);
    if (res.type !== MessageType.RECONCILE) throw new Error("bad type");
    ranges = client.respond(res.ranges);
    if (ranges.length === 0) break;
  }
  return {
    have: sorted(client.have),
    need: sorted(client.need),
    rounds,
    bytes: acc.bytes,
    maxFrameBytes: acc.max,
  };
}

/**
 * An in-memory SyncStore for network tests. Orders are opaque bytes whose id is sha256(bytes); a
 * predicate decides which ones accept() rejects (standing in for protocol validation).
 */
export class MemoryStore implements SyncStore {
  readonly orders = new Map<Hex, Uint8Array>();
  readonly acceptCalls: { from: string; count: number }[] = [];
  serving = true;
  /** The push time rule, when a test sets one (SyncStore.admitPush). */
  admitPush?: SyncStore["admitPush"];
  private readonly rejects: (order: Uint8Array) => boolean;

  constructor(orders: readonly Uint8Array[] = [], rejects: (order: Uint8Array) => boolean = () => false) {
    this.rejects = rejects;
    for (const o of orders) this.orders.set(orderId(o), o);
  }

  ids(_market: Hex, _epoch: bigint): readonly Hex[] {
    return [...this.orders.keys()].sort(compareHex);
  }

  wire(_market: Hex, _epoch: bigint, ids: readonly Hex[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const id of ids) {
      const o = this.orders.get(id);
      if (o) out.push(o);
    }
    return out;
  }

  async accept(_market: Hex, _epoch: bigint, orders: Uint8Array[], from: string) {
    this.acceptCalls.push({ from, count: orders.length });
    let accepted = 0;
    let rejected = 0;
    for (const o of orders) {
      if (this.rejects(o)) rejected++;
      else {
        this.orders.set(orderId(o), o);
        accepted++;
      }
    }
    return { accepted, rejected };
  }

  serves(_market: Hex, _epoch: bigint): boolean {
    return this.serving;
  }
}

export function orderId(order: Uint8Array): Hex {
  return `0x${createHash("sha256").update(order).digest("hex")}` as Hex;
}

/** `n` distinct opaque "orders" of 130 bytes (the size of a typical wire order); byte 0 is `tag`. */
export function fakeOrders(family: number, n: number, tag = 0x01): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const o = new Uint8Array(130);
    o.set(createHash("sha256").update(`order/${family}/${i}`).digest(), 1);
    o[0] = tag;
    return o;
  });
}
