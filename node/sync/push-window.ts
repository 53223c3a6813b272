// The time rule for orders a peer PUSHes to us in a sync session: the gossip rule, unchanged.
//
// Attack defeated: the last look. An order signed after an epoch closed could be pushed through sync
// (which only checked that the order belonged to the session's epoch) until the book froze: its signer
// saw the closed book first, and nodes froze different sets (divergent result hashes). Gossip refuses
// such an order (IGNORE EPOCH_CLOSED) because the epoch is no longer in the acceptance window at the
// receiver's clock; a PUSH is unsolicited just like a gossip message, so it gets the same window and
// the same codes. Orders we FETCH are the ones we asked for after comparing sets with a peer that held
// them, which is what reconciliation after close is for, so they keep the session-epoch rule.
import { classifyEpoch, type EpochSchedule } from "../../protocol/epoch.ts";
import { OrderErrorCode } from "../../protocol/errors.ts";

export interface PushRefusal {
  readonly action: "IGNORE" | "REJECT";
  readonly code: string;
}

/** Null when orders of `epoch` may be pushed at `nowMs`; else the verdict gossip gives them. */
export function pushTimeVerdict(schedule: EpochSchedule, epoch: bigint, nowMs: bigint): PushRefusal | null {
  switch (classifyEpoch(schedule, epoch, nowMs)) {
    case "on-time":
      return null;
    case "early":
      return { action: "IGNORE", code: OrderErrorCode.EPOCH_NOT_YET_OPEN };
    case "late":
      return { action: "IGNORE", code: OrderErrorCode.EPOCH_CLOSED };
    default:
      return { action: "REJECT", code: OrderErrorCode.EPOCH_OUT_OF_WINDOW };
  }
}
