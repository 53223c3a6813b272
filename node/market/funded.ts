// Which traders a market's intake admits: those that have deposited into the market (its Deposited
// events) or were paid a fee in it (Finalized: a node wallet may hold escrow it never deposited). An order of any other trader can never be covered at the close, so it is IGNOREd before its
// signature is recovered: not stored, not forwarded, not reconciled.
//
// Attack: an unfunded order flood. Fresh wallets are free, so before this rule every node verified, stored
// and forwarded every order of thousands of wallets that held nothing, and reconciled them at the close.
// Now each such order costs its first receiver a decode and a set lookup, and goes no further. A wallet
// that wants its orders carried must first pay for a deposit transaction (gas, and at least one unit).
//
// Until the market's deposit history has been read once, every trader is admitted (fail open): an RPC
// outage at start must not make a node refuse its own devices' orders. Depositors only ever join the set
// (a deposit is a fact of the chain's history), so nodes that have read the same blocks admit the same
// traders; a node that is a few blocks behind IGNOREs (never REJECTs) and takes the order at the
// close's reconciliation, when it has caught up.
import type { Hex } from "../../protocol/hex.ts";

export class FundedTraders {
  private readonly traders = new Set<Hex>();
  private historyRead = false;

  /** Whether the full deposit history has been read (until then every trader is admitted). */
  get ready(): boolean {
    return this.historyRead;
  }

  get size(): number {
    return this.traders.size;
  }

  /** Records depositors; `complete` marks the history up to now as read. */
  add(traders: Iterable<Hex>, complete = false): void {
    for (const t of traders) this.traders.add(t.toLowerCase() as Hex);
    if (complete) this.historyRead = true;
  }

  /** Whether intake admits an order of `trader`. */
  admits(trader: Hex): boolean {
    return !this.historyRead || this.traders.has(trader.toLowerCase() as Hex);
  }
}
