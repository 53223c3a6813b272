// A device's order path with failover: it sends to its own node, and when that node does not answer
// (stopped, restarting, killed) to the next ones in turn, so that a node restart loses none of the
// device's orders. An answer that refuses the order (4xx, 5xx) is final: another node would refuse
// the same signed order for the same reason, and sending it twice would only hide the refusal.
import { ApiError } from "../node/api/client.ts";

/** A node as the device sees it: whether its process runs, and how to send it an order. */
export interface OrderTarget {
  readonly running: boolean;
  send(): Promise<void>;
}

/** Whether the node did not answer at all (as opposed to answering with a refusal). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof ApiError && err.status === null;
}

/**
 * Sends to targets[home], then, while the one tried does not answer, to home + 1, home + 2, … (mod n).
 * Targets whose process is known to be down are skipped without a request. Resolves to the index of the
 * node that accepted the order; rejects with the refusal, or with the last "unreachable" error when no
 * node answered.
 */
export async function sendWithFailover(targets: readonly OrderTarget[], home: number): Promise<number> {
  if (targets.length === 0) throw new Error("no node to send the order to");
  let last: unknown = null;
  for (let k = 0; k < targets.length; k++) {
    const i = (home + k) % targets.length;
    const t = targets[i]!;
    if (!t.running) continue;
    try {
      await t.send();
      return i;
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      last = err;
    }
  }
  throw last ?? new ApiError(null, "UNREACHABLE", "no node of the testnet is running");
}
