/**
 * A closed-loop load to saturation (npm `autocannon`, in the bench process): `connections`
 * keep-alive connections, each sending its next request as soon as the last is answered, so the
 * rate found is the server's maximum, not an offered one. Each request can be different (a
 * webhook needs a unique, signed body): `next()` gives it.
 *
 * The figures count 200s only as served; any other status (a 503 of a full backlog) is counted
 * by status beside them, with its own latencies excluded from p50/p99.
 */
import { runLoad } from "./_autocannon.ts";
import {
  assertLoopback,
  integer,
  machineBusySeconds,
  ms,
  ownCpuSeconds,
  p50AndP99,
  processCpuSeconds,
  table,
} from "./_support.ts";

export const CONNECTIONS = 50;

export interface LoadRequest {
  body: string;
  headers: Record<string, string>;
}

export interface ClosedLoopFigures {
  label: string;
  /** 200s per second. */
  okPerSec: number;
  ok: number;
  /** Answers other than 200, by status. */
  others: Record<number, number>;
  /** Socket errors and timeouts. */
  errors: number;
  p50: number;
  p99: number;
  seconds: number;
  /** CPU the server used, in cores; null when unreadable. */
  serverCpu: number | null;
  /** CPU the rest of the machine used meanwhile (not the server, not this process), in cores. */
  otherCpu: number | null;
}

export interface LoopOptions {
  label: string;
  url: string;
  seconds: number;
  next: () => LoadRequest;
  /** The server's pid, to read its CPU use. */
  pid?: number;
  connections?: number;
  /** Stop after this many requests instead of after `seconds`. */
  amount?: number;
}

/** Runs the load for `seconds` against `url` (POST), after a warm-up whose figures are dropped. */
export async function closedLoop(
  options: LoopOptions & { warmupSeconds?: number },
): Promise<ClosedLoopFigures> {
  assertLoopback(options.url);
  const once = (seconds: number, onResponse?: (status: number, ms: number) => void) =>
    runLoad(
      {
        url: options.url,
        method: "POST",
        connections: options.connections ?? CONNECTIONS,
        duration: seconds,
        ...(options.amount && seconds === options.seconds ? { amount: options.amount } : {}),
        timeout: 30,
        requests: [{
          method: "POST",
          setupRequest: (req) => {
            const { body, headers } = options.next();
            return { ...req, method: "POST", body, headers };
          },
        }],
      },
      onResponse && ((status, _bytes, ms) => onResponse(status, ms)),
    );
  if (options.warmupSeconds ?? 1) await once(options.warmupSeconds ?? 1);

  const run = measuring(options.label, options.pid);
  const result = await once(options.seconds, run.answered);
  return run.done({ seconds: result.duration, errors: result.errors + result.timeouts });
}

/**
 * The figures of one measured run: `answered` for each answer as it comes, `done` at the end
 * (the server's CPU from its pid, and the rest of the machine's, over the run's wall time).
 */
export function measuring(label: string, pid?: number) {
  const latencies: number[] = [];
  const others: Record<number, number> = {};
  const before = {
    own: ownCpuSeconds(),
    server: pid ? processCpuSeconds(pid) : null,
    machine: machineBusySeconds(),
  };
  const started = performance.now();
  return {
    answered(status: number, ms: number) {
      if (status === 200) latencies.push(ms);
      else others[status] = (others[status] ?? 0) + 1;
    },
    get ok() {
      return latencies.length;
    },
    done(run: { seconds?: number; errors: number }): ClosedLoopFigures {
      const wall = (performance.now() - started) / 1000;
      const seconds = run.seconds ?? wall;
      const server = pid ? processCpuSeconds(pid) : null;
      const machine = machineBusySeconds();
      const own = ownCpuSeconds() - before.own;
      const serverCpu = server === null || before.server === null
        ? null
        : (server - before.server) / wall;
      return {
        label,
        okPerSec: latencies.length / seconds,
        ok: latencies.length,
        others,
        errors: run.errors,
        ...p50AndP99(latencies),
        seconds,
        serverCpu,
        otherCpu: machine === null || before.machine === null
          ? null
          : Math.max(0, (machine - before.machine) / wall - (serverCpu ?? 0) - own / wall),
      };
    },
  };
}

/** `503: 120` style summary of the non-200 answers. */
export const othersText = (f: ClosedLoopFigures) =>
  Object.entries(f.others).map(([s, n]) => `${s}: ${n}`).join(", ") || "none";

/** Closed-loop figures side by side, one run a row. */
export function closedLoopTable(figures: ClosedLoopFigures[]): string {
  return table(
    ["closed loop", "200s/s", "p50 ms", "p99 ms", "other answers", "errors", "server CPU"],
    figures.map((f) => [
      f.label,
      integer(f.okPerSec),
      ms(f.p50),
      ms(f.p99),
      othersText(f),
      integer(f.errors),
      f.serverCpu === null ? "?" : `${f.serverCpu.toFixed(2)} cores`,
    ]),
  );
}

/** A warning line when other processes used a fair share of the machine during a run. */
export function busyWarning(figures: ClosedLoopFigures[]): string | null {
  const busy = figures.filter((f) => (f.otherCpu ?? 0) >= 0.25);
  if (busy.length === 0) return null;
  return `WARNING: other processes used ${
    busy.map((f) => `${f.otherCpu!.toFixed(1)} cores during "${f.label}"`).join(", ")
  }; those figures are lower and noisier than on an idle machine.`;
}
