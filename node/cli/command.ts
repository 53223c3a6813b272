// The shape of a CLI command (Lodestar-style: options + handler) and the error type for bad input.
import { readFile } from "node:fs/promises";
import type { ParseArgsOptionsConfig } from "node:util";

/** Exit codes: 0 success, 1 failure at run time (node unreachable, chain error), 2 bad input or usage. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  /** Whether stdout is a terminal (tables and colours) or a pipe (plain output). */
  readonly isTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

export interface CliCommand {
  /** Space-separated command path, e.g. "clear" or "node start". */
  readonly name: string;
  readonly summary: string;
  /** Usage line(s) after the command name, e.g. "[FILE] [--explain]". */
  readonly usage: string;
  /** Longer help: option descriptions, examples. */
  readonly help?: string;
  readonly options: ParseArgsOptionsConfig;
  /** Maximum number of positional arguments (default 0). */
  readonly maxPositionals?: number;
  readonly handler: (args: ParsedArgs, io: CliIo) => Promise<number>;
}

/** A user error: printed as `smartmarket: <message>` on stderr, exit code `exitCode` (default 2). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.USAGE) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Reads a file given on the command line as UTF-8, or stdin for "-"; a file that cannot be read is a CliError. */
export async function readTextInput(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file === "-") return readAll(stdin);
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Reads a whole stream (stdin) as UTF-8. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}
