// What the launcher and the attacker process share, as files in `<testnet dir>/adversary/`:
//   config.json     written by the launcher before it spawns the attacker: the mode and the attacker's keys
//                   (mode 0600; throwaway testnet keys, derived from the seed)
//   ready.json      written by the attacker once it is connected (the launcher waits for it)
//   range.json      written by the launcher when it starts driving epochs: the primary market's epochs to
//                   attack, [fromEpoch, untilEpoch) (untilEpoch null: until stopped). The attacker attacks
//                   nothing before this file exists.
//   journal.jsonl   the attacker's account of what it did, one JSON object a line (JournalEntry), appended
//   adversary.log   the attacker process's stdout and stderr
// Nothing here reads a clock or the chain. Amounts and epochs are decimal strings in the files.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Hex } from "../../protocol/hex.ts";
import type { AdversaryMode } from "../types.ts";

export const ADVERSARY_MODES: readonly AdversaryMode[] = ["censor", "skim", "copy"];

export function isAdversaryMode(value: unknown): value is AdversaryMode {
  return typeof value === "string" && (ADVERSARY_MODES as readonly string[]).includes(value);
}

/** The attacker's folder inside the testnet folder. */
export function adversaryDir(testnetDir: string): string {
  return join(testnetDir, "adversary");
}

export const ADVERSARY_FILES = {
  config: "config.json",
  ready: "ready.json",
  range: "range.json",
  journal: "journal.jsonl",
  log: "adversary.log",
} as const;

export function adversaryPath(testnetDir: string, file: keyof typeof ADVERSARY_FILES): string {
  return join(adversaryDir(testnetDir), ADVERSARY_FILES[file]);
}

/** config.json: what the launcher gives the attacker besides state.json. */
export interface AdversaryConfig {
  readonly mode: AdversaryMode;
  /** The attacker's wallets' keys; the first sends every transaction. censor: the first buys, the second sells. */
  readonly keys: readonly Hex[];
  /** The market it attacks: the testnet's primary market. */
  readonly market: Hex;
  /** Index of the node whose control API it reads (and, for skim, sends its own order to). */
  readonly nodeIndex: number;
}

/** range.json: the primary market's epochs to attack. */
export interface AttackRange {
  readonly fromEpoch: bigint;
  /** Exclusive; null: every epoch from fromEpoch on. */
  readonly untilEpoch: bigint | null;
}

/**
 * One line of journal.jsonl.
 *   order     skim: its own sell of the epoch, sent to a node's API (`detail`: the order id)
 *   propose   censor, skim: commit + propose; `tx` the proposal (null if it was not sent), `ok` whether it
 *             stood, `error` the revert's error name (or a message) when it did not
 *   skip      nothing sent for the epoch, `detail` says why
 *   copy      copy: a copy of an honest propose()/challenge(); `copiedTx`, `copiedFrom`, `call`; `ok` false and
 *             `error` "NotCommitted" when it reverted as it should
 *   finalize  its own result of the epoch was final (nobody challenged it): finalize() paid `fee`, bonds claimed
 *   closed    the epoch's deadline passed and the attacker is done with it (the launcher waits for this)
 *   error     anything else that went wrong (`detail`)
 */
export interface JournalEntry {
  readonly kind: "order" | "propose" | "skip" | "copy" | "finalize" | "closed" | "error";
  readonly market: Hex;
  readonly epoch: string;
  readonly atMs: number;
  readonly tx?: Hex | null;
  readonly commitTx?: Hex | null;
  readonly ok?: boolean;
  readonly error?: string;
  readonly resultHash?: Hex;
  readonly copiedTx?: Hex;
  readonly copiedFrom?: Hex;
  readonly call?: "propose" | "challenge";
  readonly fee?: string;
  readonly detail?: string;
}

function writeAtomic(path: string, text: string, mode?: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, mode === undefined ? undefined : { mode });
  renameSync(tmp, path);
}

export function writeAdversaryConfig(testnetDir: string, config: AdversaryConfig): void {
  mkdirSync(adversaryDir(testnetDir), { recursive: true, mode: 0o700 });
  writeAtomic(adversaryPath(testnetDir, "config"), `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

export function readAdversaryConfig(testnetDir: string): AdversaryConfig {
  const path = adversaryPath(testnetDir, "config");
  const raw = JSON.parse(readFileSync(path, "utf8")) as Partial<AdversaryConfig>;
  if (!isAdversaryMode(raw.mode))
    throw new Error(`${path}: mode must be one of ${ADVERSARY_MODES.join(", ")}`);
  if (!Array.isArray(raw.keys) || raw.keys.length < 2) throw new Error(`${path}: two keys expected`);
  if (typeof raw.market !== "string") throw new Error(`${path}: no market`);
  return { mode: raw.mode, keys: raw.keys, market: raw.market, nodeIndex: raw.nodeIndex ?? 0 };
}

export function writeAttackRange(testnetDir: string, range: AttackRange): void {
  mkdirSync(adversaryDir(testnetDir), { recursive: true, mode: 0o700 });
  writeAtomic(
    adversaryPath(testnetDir, "range"),
    `${JSON.stringify({ fromEpoch: range.fromEpoch.toString(), untilEpoch: range.untilEpoch?.toString() ?? null })}\n`,
  );
}

/** range.json, or null while the launcher has not written it. */
export function readAttackRange(testnetDir: string): AttackRange | null {
  const path = adversaryPath(testnetDir, "range");
  if (!existsSync(path)) return null;
  try {
    const raw = JSON.parse(readFileSync(path, "utf8")) as { fromEpoch: string; untilEpoch: string | null };
    return {
      fromEpoch: BigInt(raw.fromEpoch),
      untilEpoch: raw.untilEpoch === null ? null : BigInt(raw.untilEpoch),
    };
  } catch {
    return null;
  }
}

/** Whether `epoch` is to be attacked. */
export function inRange(range: AttackRange | null, epoch: bigint): boolean {
  return (
    range !== null && epoch >= range.fromEpoch && (range.untilEpoch === null || epoch < range.untilEpoch)
  );
}

export function appendJournal(testnetDir: string, entry: JournalEntry): void {
  appendFileSync(adversaryPath(testnetDir, "journal"), `${JSON.stringify(entry)}\n`);
}

/** Every whole line of the journal (a line being written is left out), oldest first. */
export function parseJournal(text: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as JournalEntry);
    } catch {
      // a partial last line: read it next time
    }
  }
  return out;
}

export function readJournal(testnetDir: string): JournalEntry[] {
  const path = adversaryPath(testnetDir, "journal");
  return existsSync(path) ? parseJournal(readFileSync(path, "utf8")) : [];
}
