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

/** Lines waiting to be written: one write every few milliseconds instead of one per line. */
let pending: string[] = [];
let pendingBytes = 0;
let flushScheduled = false;
/** Written at once past this size, so a burst never holds much in memory. */
const FLUSH_AT_BYTES = 64 * 1024;
/** How long an info line may wait for others to share its write. */
const FLUSH_AFTER_MS = 10;

/** Writes every pending line to standard output now. */
export function flushStdout(): void {
  flushScheduled = false;
  if (pending.length === 0) return;
  const bytes = encoder.encode(pending.join(""));
  pending = [];
  pendingBytes = 0;
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

// Whatever ends the process (Deno.exit, an uncaught error, the end of the program) writes the
// lines still pending first: the last lines before a crash are the ones most needed.
for (const event of ["unload", "error", "unhandledrejection"]) {
  globalThis.addEventListener(event, () => {
    try {
      flushStdout();
    } catch { /* standard output is gone */ }
  });
}

const stdoutSink = (line: string) => {
  pending.push(line + "\n");
  pendingBytes += line.length + 1;
  if (pendingBytes >= FLUSH_AT_BYTES) return flushStdout();
  if (!flushScheduled) {
    flushScheduled = true;
    Deno.unrefTimer(setTimeout(flushStdout, FLUSH_AFTER_MS));
  }
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? "info"];
  const sink = options.sink ?? stdoutSink;
  const base = options.fields ?? {};
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    // Masked straight into the line's object: one object per line, however many fields.
    const record: LogFields = { time: new Date().toISOString(), level, msg: maskText(message) };
    for (const source of fields === undefined ? [base] : [base, fields]) {
      for (const key in source) {
        if (Object.hasOwn(source, key)) record[key] = maskDeep(source[key], 1);
      }
    }
    try {
      sink(JSON.stringify(record));
      // A warning or an error is written at once, with the lines before it.
      if (sink === stdoutSink && RANK[level] >= RANK.warn) flushStdout();
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
