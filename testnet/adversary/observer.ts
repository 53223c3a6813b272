// The launcher's side of an attack: what the attacker did in each epoch of the primary market and what
// became of it (EpochAttack), from three witnesses — the chain's settlement events, the attacker's own
// journal (files.ts: copies that reverted leave no event), and the honest nodes' control APIs (their local
// result hash) — and the attacker's balance, read from the chain.
import type { Hex } from "../../protocol/hex.ts";
import {
  type ChallengedEvent,
  type ProposedEvent,
  type SettlementClient,
  type SettlementEvent,
  type StandingEvent,
  submitterOf,
} from "../../settlement/client.ts";
import { Asset } from "../../settlement/encoding.ts";
import type { AdversaryBalance, AdversaryMode, EpochAttack } from "../types.ts";
import { type JournalEntry, readJournal } from "./files.ts";

/** What one node reported about the epoch through its API (null: it did not answer). */
export interface HonestView {
  /** Its local result hash (the clearing of its orders, plus any it learned from standing batches). */
  readonly resultHash: Hex | null;
  readonly volume: string | null;
}

export interface AttackFacts {
  readonly mode: AdversaryMode;
  readonly epoch: bigint;
  /** The attacker's wallets. */
  readonly addresses: readonly Hex[];
  /** The nodes' wallets, by node index. */
  readonly nodeWallets: readonly Hex[];
  readonly bondWei: bigint;
  /** The journal entries of this market and epoch. */
  readonly journal: readonly JournalEntry[];
  /** The settlement events of this market and epoch, in chain order. */
  readonly events: readonly SettlementEvent[];
  /** Each node's report of the epoch. */
  readonly views: readonly (HonestView | null)[];
}

/** Whether the final on-chain result equals the honest nodes' local result (module comment of EpochAttack). */
export function finalMatchesHonest(
  finalResultHash: Hex | null,
  views: readonly (HonestView | null)[],
): boolean {
  const reported = views.filter((v): v is HonestView => v !== null && v.resultHash !== null);
  if (reported.length === 0) return false;
  if (finalResultHash === null) return reported.every((v) => v.volume === null || v.volume === "0");
  return reported.every((v) => v.resultHash!.toLowerCase() === finalResultHash.toLowerCase());
}

/** "reverted NotCommitted", "2 reverted NotCommitted, 1 landed": what became of the attacker's transactions. */
function outcomeOf(entries: readonly JournalEntry[]): string {
  const counts = new Map<string, number>();
  for (const e of entries) {
    const what = e.ok
      ? e.kind === "copy"
        ? "landed"
        : "stood"
      : e.tx
        ? `reverted ${e.error}`
        : `failed: ${e.error}`;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  const parts = [...counts].map(([what, n]) => (entries.length === 1 ? what : `${n} ${what}`));
  return parts.join(", ");
}

/** The EpochAttack of one epoch from its facts. Pure. */
export function attackOf(f: AttackFacts): EpochAttack {
  const mine = new Set(f.addresses.map((a) => a.toLowerCase()));
  const nodeOf = (a: string | null): number | null => {
    if (a === null) return null;
    const i = f.nodeWallets.findIndex((w) => w.toLowerCase() === a.toLowerCase());
    return i < 0 ? null : i;
  };
  const standing = f.events.filter(
    (e): e is StandingEvent => e.kind === "Proposed" || e.kind === "Challenged",
  );
  const own = standing.find((e): e is ProposedEvent => e.kind === "Proposed" && mine.has(e.submitter));
  const replacing = standing.find(
    (e): e is ChallengedEvent => e.kind === "Challenged" && mine.has(e.replaced.toLowerCase()),
  );
  const final = standing[standing.length - 1] ?? null;
  const sent = f.journal.filter((e) => e.kind === "propose" || e.kind === "copy");
  const copies = f.journal.filter((e) => e.kind === "copy");
  const skip = f.journal.find((e) => e.kind === "skip" || e.kind === "error");
  const txs = sent.filter((e) => e.tx).length;
  let outcome: string;
  if (own) outcome = "stood";
  else if (sent.length > 0) outcome = outcomeOf(sent);
  else if (skip) outcome = `not sent: ${skip.detail ?? skip.kind}`;
  else outcome = f.mode === "copy" ? "nothing to copy" : "not sent";
  const finalSubmitter = final ? submitterOf(final) : null;
  return {
    mode: f.mode,
    attacked: own !== undefined || sent.length > 0,
    tx: own?.txHash ?? sent.find((e) => e.tx)?.tx ?? null,
    txs: Math.max(txs, own ? 1 : 0),
    outcome,
    copiedTx: copies[0]?.copiedTx ?? null,
    copiedFrom: copies[0]?.copiedFrom ? nodeOf(copies[0].copiedFrom) : null,
    resultHash: own?.resultHash ?? null,
    challengeTx: replacing?.txHash ?? null,
    challenger: replacing?.challenger ?? null,
    challengerNode: replacing ? nodeOf(replacing.challenger) : null,
    bondPaidWei: replacing ? f.bondWei : 0n,
    challenged: standing.some((e) => e.kind === "Challenged"),
    finalTx: final?.txHash ?? null,
    finalResultHash: final?.resultHash ?? null,
    finalSubmitter,
    finalNode: nodeOf(finalSubmitter),
    finalByAttacker: finalSubmitter !== null && mine.has(finalSubmitter.toLowerCase()),
    finalMatchesHonest: finalMatchesHonest(final?.resultHash ?? null, f.views),
  };
}

export interface AttackObserverOptions {
  readonly dir: string;
  readonly mode: AdversaryMode;
  /** The launcher's chain client. */
  readonly chain: SettlementClient;
  /** The primary market and its tokens. */
  readonly market: Hex;
  readonly base: Hex;
  readonly quote: Hex;
  readonly addresses: readonly Hex[];
  readonly bondWei: bigint;
  /** Settlement events are read from this block on. */
  readonly fromBlock: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class AttackObserver {
  readonly opts: AttackObserverOptions;

  constructor(opts: AttackObserverOptions) {
    this.opts = opts;
  }

  get addresses(): readonly Hex[] {
    return this.opts.addresses;
  }

  private journal(epoch?: bigint): JournalEntry[] {
    return readJournal(this.opts.dir).filter(
      (e) => e.market === this.opts.market && (epoch === undefined || BigInt(e.epoch) === epoch),
    );
  }

  /** Waits (at most `timeoutMs`) until the attacker journals that it is done with `epoch`. */
  async waitClosed(epoch: bigint, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.journal(epoch).some((e) => e.kind === "closed")) return true;
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
  }

  private async events(): Promise<SettlementEvent[]> {
    const head = await this.opts.chain.provider.getBlockNumber();
    return this.opts.chain.settlementEvents({
      fromBlock: this.opts.fromBlock,
      toBlock: head,
      markets: [this.opts.market],
    });
  }

  /** The epoch's attack, once the attacker is done with it (or `waitMs` passed). */
  async epochAttack(
    epoch: bigint,
    nodeWallets: readonly Hex[],
    views: readonly (HonestView | null)[],
    waitMs: number,
  ): Promise<EpochAttack> {
    await this.waitClosed(epoch, waitMs);
    const events = (await this.events()).filter((e) => e.epoch === epoch);
    return attackOf({
      mode: this.opts.mode,
      epoch,
      addresses: this.opts.addresses,
      nodeWallets,
      bondWei: this.opts.bondWei,
      journal: this.journal(epoch),
      events,
      views,
    });
  }

  /** Fees finalize() paid to the attacker's wallets in the primary market. */
  async feesEarned(): Promise<bigint> {
    const mine = new Set(this.opts.addresses.map((a) => a.toLowerCase()));
    return (await this.events())
      .filter((e) => e.kind === "Finalized" && mine.has(e.submitter.toLowerCase()))
      .reduce((s, e) => s + (e.kind === "Finalized" ? e.feeTotal : 0n), 0n);
  }

  /** The attacker's holdings now, over its wallets. */
  async balance(): Promise<AdversaryBalance> {
    const { chain, market, base, quote } = this.opts;
    let eth = 0n;
    let bonds = 0n;
    let baseUnits = 0n;
    let quoteUnits = 0n;
    for (const a of this.opts.addresses) {
      const [wei, claimable, baseWallet, quoteWallet, baseEscrow, quoteEscrow] = await Promise.all([
        chain.provider.getBalance(a),
        chain.bondsOf(a),
        chain.tokenBalance(base, a),
        chain.tokenBalance(quote, a),
        chain.escrowOf(market, a, Asset.BASE),
        chain.escrowOf(market, a, Asset.QUOTE),
      ]);
      eth += wei;
      bonds += claimable;
      baseUnits += baseWallet + baseEscrow.free + baseEscrow.locked;
      quoteUnits += quoteWallet + quoteEscrow.free + quoteEscrow.locked;
    }
    return { eth, bonds, base: baseUnits, quote: quoteUnits };
  }
}
