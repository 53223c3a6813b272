// `smartmarket` CLI: resolves the command path, parses its options strictly, runs its handler.

import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { PACKAGE } from "../version.ts";
import { type CliCommand, CliError, type CliIo, ExitCode } from "./command.ts";

function commandHelp(cmd: CliCommand, commands: readonly CliCommand[] = []): string {
  const lines = [`Usage: smartmarket ${cmd.name} ${cmd.usage}`.trimEnd(), "", cmd.summary];
  if (cmd.help) lines.push("", cmd.help.trimEnd());
  // A command that is also a group word ("withdraw" and "withdraw request") lists the group too.
  const sub = commands.filter((c) => c.name.startsWith(`${cmd.name} `));
  if (sub.length > 0) {
    const width = Math.max(...sub.map((c) => c.name.length));
    lines.push("", "Commands:", ...sub.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`));
  }
  return `${lines.join("\n")}\n`;
}

function globalHelp(commands: readonly CliCommand[]): string {
  const width = Math.max(4, ...commands.map((c) => c.name.length));
  const rows = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: smartmarket <command> [options]",
    "",
    PACKAGE.description,
    "",
    "Commands:",
    ...rows,
    "",
    "Options:",
    "  -h, --help     show help (also after a command: smartmarket <command> --help)",
    "  -v, --version  print the version",
    "",
  ].join("\n");
}

/** Finds the longest registered command path that prefixes argv. */
function resolve(
  argv: string[],
  commands: readonly CliCommand[],
): { cmd: CliCommand; rest: string[] } | undefined {
  let best: { cmd: CliCommand; rest: string[] } | undefined;
  for (const cmd of commands) {
    const path = cmd.name.split(" ");
    if (
      path.every((word, i) => argv[i] === word) &&
      (!best || path.length > best.cmd.name.split(" ").length)
    ) {
      best = { cmd, rest: argv.slice(path.length) };
    }
  }
  return best;
}

/** The commands under a group word ("keys", "node", "testnet"), as help lines. */
function groupHelp(word: string, group: readonly CliCommand[]): string {
  const width = Math.max(...group.map((c) => c.name.length));
  return [
    `Usage: smartmarket ${word} <command> [options]`,
    "",
    "Commands:",
    ...group.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `Run \`smartmarket ${word} <command> --help\` for a command's options.`,
    "",
  ].join("\n");
}

/** A negative number given as a value ("-5"), which parseArgs would take for an option. */
const NEGATIVE_NUMBER = /^-[0-9]/;

/**
 * Reorders `rest` so that parseArgs reads a negative number as a value, not as an option: an option
 * that takes a value gets it as `--flag=-5`, and a negative number standing alone is a positional
 * (passed after `--`). Everything else is left for parseArgs to judge.
 */
export function normalizeArgs(rest: readonly string[], options: ParseArgsOptionsConfig): string[] {
  const merged: string[] = [];
  const opts: string[] = [];
  const positionals: string[] = [];
  let negativePositional = false;
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i]!;
    if (tok === "--") {
      merged.push(...rest.slice(i));
      positionals.push(...rest.slice(i + 1));
      break;
    }
    const next = rest[i + 1];
    if (
      tok.startsWith("--") &&
      !tok.includes("=") &&
      options[tok.slice(2)]?.type === "string" &&
      next !== undefined &&
      (!next.startsWith("-") || NEGATIVE_NUMBER.test(next))
    ) {
      merged.push(`${tok}=${next}`);
      opts.push(`${tok}=${next}`);
      i++;
      continue;
    }
    merged.push(tok);
    if (NEGATIVE_NUMBER.test(tok)) {
      negativePositional = true;
      positionals.push(tok);
    } else if (tok.startsWith("-") && tok !== "-") opts.push(tok);
    else positionals.push(tok);
  }
  return negativePositional ? [...opts, "--", ...positionals] : merged;
}

/** What a positional is called in messages: its usage placeholder (\`<n>\` of "epoch": "epoch"). */
function positionalName(cmd: CliCommand, index: number): string {
  const names = [...cmd.usage.matchAll(/<([a-z-]+)>/g)].map((m) => m[1]!);
  const name = names[index];
  if (name === undefined || name === "n") return cmd.name.split(" ").at(-1)!;
  return name;
}

/** A flag's description in a help text: its line and the indented lines continuing it. */
function flagHelp(help: string, flag: string): string {
  const lines = help.split("\n");
  const at = lines.findIndex((l) => l.trimStart().startsWith(`--${flag} `));
  if (at < 0) return "";
  const block = [lines[at]!];
  for (const l of lines.slice(at + 1)) {
    if (!/^\s/.test(l) || l.trimStart().startsWith("-")) break;
    block.push(l);
  }
  return block.join(" ");
}

/**
 * No command takes a negative number: one line saying what the value must be, e.g. "--quantity must
 * be a whole number > 0, got -5" (> 0 when the command's help says so for that flag, else >= 0).
 */
function negativeValue(cmd: CliCommand, values: Record<string, unknown>, positionals: readonly string[]) {
  for (const [flag, value] of Object.entries(values)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === "string" && NEGATIVE_NUMBER.test(v)) {
        const text = flagHelp(cmd.help ?? "", flag);
        const min = /> ?0\b/.test(text) ? "> 0" : ">= 0";
        return `--${flag} must be a whole number ${min}, got ${v}`;
      }
    }
  }
  const i = positionals.findIndex((p) => NEGATIVE_NUMBER.test(p));
  if (i >= 0) {
    const name = positionalName(cmd, i);
    // An amount is a decimal in display units (deposit, withdraw request): not a whole number.
    if (/amount/i.test(name) || positionals[i]!.includes("."))
      return `${name} must not be negative, got ${positionals[i]}`;
    return `${name} must be a whole number >= 0, got ${positionals[i]}`;
  }
  return null;
}

/** parseArgs's message, shortened to what is wrong. */
function parseErrorMessage(err: Error): string {
  const m = err.message;
  const unknown = /^Unknown option '([^']+)'/.exec(m);
  if (unknown) return `unknown option ${unknown[1]}`;
  const missing = /^Option '([^']+)' argument missing/.exec(m);
  if (missing) return `${missing[1]!.replace(/^-\w, /, "").replace(/ <value>$/, "")} needs a value`;
  return m.split("\n")[0]!.replace(/\. To specify.*$/, "");
}

export async function runCli(argv: string[], io: CliIo, commands: readonly CliCommand[]): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    io.stderr.write(`smartmarket: missing command\n\n${globalHelp(commands)}`);
    return ExitCode.USAGE;
  }
  if (first === "-h" || first === "--help" || first === "help") {
    io.stdout.write(globalHelp(commands));
    return ExitCode.OK;
  }
  if (first === "-v" || first === "--version") {
    io.stdout.write(`${PACKAGE.version}\n`);
    return ExitCode.OK;
  }
  const found = resolve(argv, commands);
  if (!found) {
    const group = commands.filter((c) => c.name.startsWith(`${first} `));
    if (group.length > 0 && argv.slice(1).some((a) => a === "--help" || a === "-h" || a === "help")) {
      io.stdout.write(groupHelp(first, group));
      return ExitCode.OK;
    }
    if (group.length > 0 && argv.length === 1) {
      io.stderr.write(`smartmarket: "${first}" needs a command\n\n${groupHelp(first, group)}`);
      return ExitCode.USAGE;
    }
    if (group.length > 0) {
      io.stderr.write(
        `smartmarket: "${argv.join(" ")}" is not a command; did you mean one of:\n${group.map((c) => `  smartmarket ${c.name} ${c.usage}`).join("\n")}\n`,
      );
    } else {
      io.stderr.write(`smartmarket: unknown command "${first}"; run \`smartmarket --help\` for the list\n`);
    }
    return ExitCode.USAGE;
  }
  const { cmd, rest } = found;
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout.write(commandHelp(cmd, commands));
    return ExitCode.OK;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: normalizeArgs(rest, cmd.options),
      options: cmd.options,
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
  } catch (err) {
    io.stderr.write(
      `smartmarket ${cmd.name}: ${parseErrorMessage(err as Error)} (see \`smartmarket ${cmd.name} --help\`)\n`,
    );
    return ExitCode.USAGE;
  }
  const negative = negativeValue(cmd, parsed.values, parsed.positionals);
  if (negative !== null) {
    io.stderr.write(`smartmarket ${cmd.name}: ${negative}\n`);
    return ExitCode.USAGE;
  }
  const max = cmd.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    io.stderr.write(
      `smartmarket ${cmd.name}: unexpected argument "${parsed.positionals[max]}" (usage: smartmarket ${cmd.name} ${cmd.usage})\n`,
    );
    return ExitCode.USAGE;
  }
  try {
    return await cmd.handler(
      {
        values: parsed.values as Record<string, string | boolean | undefined>,
        positionals: parsed.positionals,
      },
      io,
    );
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`smartmarket ${cmd.name}: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(`smartmarket ${cmd.name}: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.FAILURE;
  }
}

/** Runs the CLI on this process's argv and stdio; sets the exit code. */
export async function main(commands: readonly CliCommand[]): Promise<void> {
  process.exitCode = await runCli(
    process.argv.slice(2),
    {
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      isTTY: Boolean(process.stdout.isTTY),
      env: process.env,
    },
    commands,
  );
}
