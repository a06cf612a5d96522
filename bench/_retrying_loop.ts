/**
 * A closed loop that answers a 503 as WhatsApp's providers do: the refused delivery is sent
 * again after its `Retry-After`, and the connection waits meanwhile (it does not hammer the
 * server with new deliveries). Plain `fetch` in this process: far faster than any durable
 * webhook, so the server is what the figures measure; the bare baseline keeps the faster
 * generator of bench/_closed_loop.ts.
 */
import { type ClosedLoopFigures, CONNECTIONS, type LoadRequest } from "./_closed_loop.ts";
import {
  assertLoopback,
  delay,
  machineBusySeconds,
  ownCpuSeconds,
  percentile,
  processCpuSeconds,
} from "./_support.ts";

/**
 * Sends `next()` deliveries for `seconds` (or, with `amount`, until that many are acknowledged,
 * each refused one retried until it is). 503s and other answers are counted in `others`.
 */
export async function retryingLoop(options: {
  label: string;
  url: string;
  seconds: number;
  next: () => LoadRequest;
  pid?: number;
  connections?: number;
  amount?: number;
}): Promise<ClosedLoopFigures> {
  assertLoopback(options.url);
  const latencies: number[] = [];
  const others: Record<number, number> = {};
  let errors = 0, handedOut = 0;
  const before = {
    own: ownCpuSeconds(),
    server: options.pid ? processCpuSeconds(options.pid) : null,
    machine: machineBusySeconds(),
  };
  const started = performance.now();
  const over = () =>
    options.amount === undefined
      ? performance.now() - started >= options.seconds * 1000
      : latencies.length >= options.amount;

  const connection = async () => {
    while (!over()) {
      if (options.amount !== undefined && handedOut >= options.amount) return;
      handedOut++;
      const request = options.next();
      for (;;) {
        const sentAt = performance.now();
        let status = 0, retryAfter = 1;
        try {
          const res = await fetch(options.url, { method: "POST", ...request });
          await res.body?.cancel();
          status = res.status;
          retryAfter = Number(res.headers.get("retry-after")) || 1;
        } catch {
          errors++;
        }
        if (status === 200) {
          latencies.push(performance.now() - sentAt);
          break;
        }
        if (status) others[status] = (others[status] ?? 0) + 1;
        if (status !== 503 || (options.amount === undefined && over())) break;
        await delay(retryAfter * 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections ?? CONNECTIONS }, connection));

  const wall = (performance.now() - started) / 1000;
  const server = options.pid ? processCpuSeconds(options.pid) : null;
  const machine = machineBusySeconds();
  const own = ownCpuSeconds() - before.own;
  const serverCpu = server === null || before.server === null
    ? null
    : (server - before.server) / wall;
  const sorted = Float64Array.from(latencies).sort();
  return {
    label: options.label,
    okPerSec: latencies.length / wall,
    ok: latencies.length,
    others,
    errors,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    seconds: wall,
    serverCpu,
    otherCpu: machine === null || before.machine === null
      ? null
      : Math.max(0, (machine - before.machine) / wall - (serverCpu ?? 0) - own / wall),
  };
}
