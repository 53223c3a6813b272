// `smartmarket` CLI: resolves the command path, parses its options strictly, runs its handler.

import { parseArgs } from "node:util";
import { PACKAGE } from "../version.ts";
import { type CliCommand, CliError, type CliIo, ExitCode } from "./command.ts";

function commandHelp(cmd: CliCommand): string {
  const lines = [`Usage: smartmarket ${cmd.name} ${cmd.usage}`.trimEnd(), "", cmd.summary];
  if (cmd.help) lines.push("", cmd.help.trimEnd());
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
    io.stdout.write(commandHelp(cmd));
    return ExitCode.OK;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: cmd.options,
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
  } catch (err) {
    io.stderr.write(`smartmarket ${cmd.name}: ${(err as Error).message}\n${commandHelp(cmd)}`);
    return ExitCode.USAGE;
  }
  const max = cmd.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    io.stderr.write(
      `smartmarket ${cmd.name}: unexpected argument "${parsed.positionals[max]}"\n${commandHelp(cmd)}`,
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
