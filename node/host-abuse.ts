// Makes gossipsub's silent drops visible. Gossipsub discards, without any event we could listen to:
//   - RPC frames longer than maxInboundDataLength (1 MiB): the peer's inbound stream fails;
//   - RPC frames that do not decode (random bytes);
//   - duplicate messages (caught by its seen-caches before our topic validator runs).
// Attacks defeated: a rogue peer sending frames over 1 MiB, random bytes or duplicate floods without a
// trace in any counter or log. The hooks wrap three methods of the router instance (the library's own
// extension points for tests: handlePeerReadStreamError, decodeRpc, score.duplicateMessage); a library
// change that removes one makes instrumentGossipsub throw at start-up rather than go silently blind.
import { Uint8ArrayList } from "uint8arraylist";
import { DropReason } from "./abuse.ts";

/** (peer, message) pairs remembered as duplicates, oldest forgotten first. */
const MAX_TRACKED_DUPLICATES = 16_384;

export interface GossipAbuseSink {
  drop(reason: DropReason, source: "gossip", peer?: string, n?: number, detail?: string): void;
}

interface DeliveryRecords {
  ensureRecord(msgId: string): { peers: Set<string> };
}

type Frames = AsyncIterable<Uint8ArrayList | Uint8Array>;

interface RouterInternals {
  pipePeerReadStream(peerId: { toString(): string }, source: Frames): Promise<void>;
  handlePeerReadStreamError(err: unknown, peerId: { toString(): string }): void;
  decodeRpc(bytes: Uint8Array): unknown;
  score: {
    duplicateMessage(from: string, msgIdStr: string, topic: string): void;
    deliveryRecords?: DeliveryRecords;
  };
}

function errorName(err: unknown): string {
  return String((err as { name?: unknown } | null)?.name ?? "");
}

export function instrumentGossipsub(pubsub: unknown, sink: GossipAbuseSink): void {
  const router = pubsub as Partial<RouterInternals>;
  const score = router.score;
  if (
    typeof router.pipePeerReadStream !== "function" ||
    typeof router.handlePeerReadStreamError !== "function" ||
    typeof router.decodeRpc !== "function" ||
    typeof score?.duplicateMessage !== "function"
  ) {
    throw new Error("gossipsub no longer has the hooks host-abuse.ts instruments");
  }
  const r = router as RouterInternals;

  // A failed inbound stream: an oversize frame (length prefix above 1 MiB) is the peer's doing.
  const onStreamError = r.handlePeerReadStreamError.bind(r);
  r.handlePeerReadStreamError = (err, peerId) => {
    const name = errorName(err);
    if (name === "InvalidDataLengthError" || name === "InvalidDataLengthLengthError") {
      sink.drop(DropReason.OVERSIZE, "gossip", peerId.toString(), 1, "RPC frame over the inbound limit");
    } else if (name === "InvalidMessageLengthError") {
      sink.drop(DropReason.MALFORMED, "gossip", peerId.toString(), 1, "bad RPC frame length");
    }
    onStreamError(err, peerId);
  };

  // An RPC frame that does not decode. decodeRpc is not told whose frame it is: each frame is handed to
  // the router as a one-buffer list whose subarray() is the very Uint8Array decodeRpc then receives, so
  // the sender is looked up by identity (a frame we cannot attribute is still counted).
  const owners = new WeakMap<Uint8Array, string>();
  const pipe = r.pipePeerReadStream.bind(r);
  r.pipePeerReadStream = (peerId, source) => {
    const peer = peerId.toString();
    async function* tagged(): AsyncGenerator<Uint8ArrayList> {
      for await (const frame of source) {
        const bytes = frame.subarray();
        owners.set(bytes, peer);
        yield new Uint8ArrayList(bytes);
      }
    }
    return pipe(peerId, tagged());
  };
  const decode = r.decodeRpc.bind(r);
  r.decodeRpc = (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      sink.drop(DropReason.MALFORMED, "gossip", owners.get(bytes), 1, "undecodable RPC frame");
      throw err;
    }
  };

  // Duplicates are normal in a mesh (each peer forwards a message once); the same peer sending the same
  // message again is not, and is a strike (DUPLICATE_FLOOD). Gossipsub's delivery record forgets the
  // senders of a message it IGNOREd (late, early, rate-limited), so repeats of such a message would pass
  // as plain duplicates forever: the (peer, message) pairs already seen as duplicates are kept here too,
  // in a bounded table.
  const dup = score.duplicateMessage.bind(score);
  const records = score.deliveryRecords;
  const seenDuplicates = new Set<string>();
  score.duplicateMessage = (from, msgIdStr, topic) => {
    let repeated = false;
    try {
      repeated = records?.ensureRecord(msgIdStr).peers.has(from) ?? false;
    } catch {
      repeated = false;
    }
    const key = `${from}|${msgIdStr}`;
    if (seenDuplicates.has(key)) repeated = true;
    else {
      seenDuplicates.add(key);
      if (seenDuplicates.size > MAX_TRACKED_DUPLICATES) {
        seenDuplicates.delete(seenDuplicates.values().next().value as string);
      }
    }
    sink.drop(repeated ? DropReason.DUPLICATE_FLOOD : DropReason.DUPLICATE, "gossip", from);
    dup(from, msgIdStr, topic);
  };
}
