/**
 * Structured JSON logging: one JSON object per line, personal data masked in every line.
 *
 * Written here rather than taken from a logging package because the one thing we need beyond
 * `JSON.stringify` is the masking pass, which must run on every line whatever sink is used.
 */
import { maskDeep, maskText } from "./mask.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. a request id). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Receives each finished line; defaults to standard output. */
  sink?: (line: string) => void;
  fields?: LogFields;
}

const encoder = new TextEncoder();
const stdoutSink = (line: string) => {
  const bytes = encoder.encode(line + "\n");
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? "info"];
  const sink = options.sink ?? stdoutSink;
  const base = options.fields ?? {};
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    const record = {
      time: new Date().toISOString(),
      level,
      msg: maskText(message),
      ...(maskDeep({ ...base, ...fields }) as LogFields),
    };
    try {
      sink(JSON.stringify(record));
    } catch { /* a broken sink must not break the work being logged */ }
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** Collects lines in memory: for tests that assert on what was logged. */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ level, sink: (l) => lines.push(l) }), { lines });
}
