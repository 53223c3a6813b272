// A small structured logger: one line per event, `time level component message key=value…` in a
// terminal, or JSON lines (SMARTMARKET_LOG_FORMAT=json) for machines.

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

function fmt(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "string") return /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
}

export function createLogger(opts: {
  level?: LogLevel;
  json?: boolean;
  component?: string;
  write?: (line: string) => void;
}): Logger {
  const min = LEVELS[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const make = (component: string): Logger => {
    const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (LEVELS[level] < min) return;
      const time = new Date().toISOString();
      if (opts.json) {
        write(
          `${JSON.stringify({ time, level, component, msg, ...fields }, (_k, x) => (typeof x === "bigint" ? x.toString() : x))}\n`,
        );
      } else {
        const kv = fields
          ? Object.entries(fields)
              .map(([k, v]) => ` ${k}=${fmt(v)}`)
              .join("")
          : "";
        write(`${time} ${level.toUpperCase().padEnd(5)} ${component}: ${msg}${kv}\n`);
      }
    };
    return {
      debug: (m, f) => log("debug", m, f),
      info: (m, f) => log("info", m, f),
      warn: (m, f) => log("warn", m, f),
      error: (m, f) => log("error", m, f),
      child: (c) => make(`${component}/${c}`),
    };
  };
  return make(opts.component ?? "node");
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
