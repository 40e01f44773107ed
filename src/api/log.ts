/**
 * Structured logs with levels (`--log-level error|warn|info|debug`, `--log-format
 * text|json`). A record is a message plus flat fields; JSON lines carry
 * `ts` (ISO time), `level`, `msg` and the fields; text lines read
 * `2024-01-01T00:00:00.000Z INFO  msg key=value ...`. Records below the level
 * cost one comparison (check `enabled(level)` before building costly fields).
 * Never used on the per-packet path: logs are for events (start, link changes,
 * shutdown, errors), counters are for packets.
 */
import { ConfigError } from "./errors";

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = "text" | "json";
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
  /** Wall clock in ms (tests pass a fixed one). */
  now?: () => number;
  /** Fields added to every record (e.g. app name). */
  base?: LogFields;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function parseLogLevel(s: string, flag = "--log-level"): LogLevel {
  const l = s.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(l)) return l as LogLevel;
  throw new ConfigError(`${flag} ${s}: expected one of ${LOG_LEVELS.join(", ")}`);
}

export function parseLogFormat(s: string, flag = "--log-format"): LogFormat {
  if (s === "text" || s === "json") return s;
  throw new ConfigError(`${flag} ${s}: expected text or json`);
}

function textValue(v: unknown): string {
  const s = String(v);
  return /[\s="]/.test(s) || s === "" ? JSON.stringify(s) : s;
}

export class Logger {
  readonly format: LogFormat;
  private rank: number;
  private readonly write: (line: string) => void;
  private readonly now: () => number;
  private readonly base: LogFields;

  constructor(opts: LoggerOptions = {}) {
    this.rank = RANK[opts.level ?? "info"];
    this.format = opts.format ?? "text";
    this.write = opts.write ?? ((line) => process.stderr.write(line + "\n"));
    this.now = opts.now ?? Date.now;
    this.base = opts.base ?? {};
  }

  get level(): LogLevel {
    return LOG_LEVELS[this.rank]!;
  }

  setLevel(level: LogLevel): void {
    this.rank = RANK[level];
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= this.rank;
  }

  /** A logger writing to the same place with extra fixed fields. */
  child(fields: LogFields): Logger {
    return new Logger({ level: this.level, format: this.format, write: this.write, now: this.now, base: { ...this.base, ...fields } });
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] > this.rank) return;
    this.write(this.formatRecord(level, msg, fields));
  }

  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }

  formatRecord(level: LogLevel, msg: string, fields?: LogFields): string {
    const ts = new Date(this.now()).toISOString();
    const all: LogFields = { ...this.base, ...fields };
    if (this.format === "json") {
      const rec: Record<string, unknown> = { ts, level, msg };
      for (const k of Object.keys(all)) if (all[k] !== undefined && !(k in rec)) rec[k] = all[k];
      return JSON.stringify(rec);
    }
    let line = `${ts} ${level.toUpperCase().padEnd(5)} ${msg}`;
    for (const k of Object.keys(all)) if (all[k] !== undefined) line += ` ${k}=${textValue(all[k])}`;
    return line;
  }
}
