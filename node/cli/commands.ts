// The registry of CLI commands. Each command lives in its own module under ./commands/.
import type { CliCommand } from "./command.ts";

export const COMMANDS: readonly CliCommand[] = [];
