/**
 * WhatsApp webhook bench: the most signed Meta deliveries a second Hurukuro acknowledges (each
 * stored in the database before its 200), read against a bare `Deno.serve` answering 200 to
 * everything under the same load in the same run; whether replies keep flowing meanwhile; and
 * the time to 200 at a fixed 500 a second.
 *
 * - Servers in child processes of their own: the baseline (bench/webhook_baseline.ts: reads the body, answers 200), Hurukuro
 *   (main.ts on a temporary DATA_DIR, embedded database, or a fresh database on the PostgreSQL
 *   server of DATABASE_URL; LOG_LEVEL=warn), and the fake Graph API the replies go to
 *   (bench/whatsapp_graph_server.ts).
 * - Maximum: a closed loop (50 connections, each sending its next delivery as soon as the last
 *   is answered), so the rate found is the server's: bench/_closed_loop.ts for the baseline,
 *   bench/_retrying_loop.ts for Hurukuro, which sends a delivery refused with 503 again after
 *   its Retry-After as Meta does. Every delivery is a new message ("help") from one of 1,000
 *   phones, signed before the run.
 * - Replies under that load: counted at the fake Graph API during the measured seconds, read
 *   against the rate the same server answers a backlog with no intake (measured first).
 * - Latency: an open-loop run at a fixed 500 deliveries a second (5 % sent twice, as Meta's
 *   retries), against the same 500 a second to the baseline.
 * - Afterwards: waits until every acknowledged message has its reply, and checks none got two.
 *
 * Targets: ≥ 0.3× the bare server's maximum; at that maximum ACK p99 < 250 ms and replies at
 * ≥ 50 % of their unloaded rate; p99 < 20 ms at 500 a second; 0 lost, 0 doubled.
 */
import {
  assertLoopback,
  childServerStorage,
  delay,
  envNumber,
  integer,
  ms,
  p50AndP99,
  type ServerProcess,
  startServer,
  table,
} from "./_support.ts";
import {
  busyWarning,
  closedLoop,
  type ClosedLoopFigures,
  closedLoopTable,
} from "./_closed_loop.ts";
import { retryingLoop } from "./_retrying_loop.ts";
import {
  deliveryPool,
  lastWebhookRun,
  PHONES,
  sentCount,
  startFakeGraph,
  startWhatsAppServer,
  waitForSent,
} from "./_webhook_load.ts";

export const description =
  "signed WhatsApp webhooks to saturation vs a bare Deno.serve; replies under that load; p99 at 500/s";

const FIXED_RATE = 500;
const DUPLICATE_SHARE = 0.05;
/**
 * Messages answered with no intake, to find the unloaded reply rate: the default
 * WHATSAPP_UNANSWERED_LIMIT, so that none is refused.
 */
const BACKLOG_PROBE = 1_000;
const DRAIN_LIMIT_MS = 600_000;

interface FixedFigures {
  label: string;
  ok: number;
  /** Answered 503 (then sent again after Retry-After, as Meta does). */
  refused: number;
  failed: number;
  p50: number;
  p99: number;
}

/**
 * Sends `items` to `url` at `rate` a second, open-loop (whatever the answers do); a delivery
 * refused with 503 is sent again after its Retry-After, its latency then counted from the resend.
 */
async function offer(
  label: string,
  url: string,
  rate: number,
  items: { body: string; headers: Record<string, string> }[],
): Promise<FixedFigures> {
  assertLoopback(url);
  const latencies: number[] = [];
  let ok = 0, refused = 0, failed = 0;
  const send = async (item: (typeof items)[number]): Promise<void> => {
    const sentAt = performance.now();
    const res = await fetch(url, { method: "POST", ...item }).catch(() => null);
    await res?.body?.cancel();
    if (res?.status === 200) {
      ok++;
      latencies.push(performance.now() - sentAt);
    } else if (res?.status === 503) {
      refused++;
      await delay((Number(res.headers.get("retry-after")) || 1) * 1000);
      await send(item);
    } else failed++;
  };
  const sends: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < items.length; i++) {
    const wait = started + i * (1000 / rate) - performance.now();
    if (wait >= 1) await delay(wait);
    sends.push(send(items[i]));
  }
  await Promise.all(sends);
  return { label, ok, refused, failed, ...p50AndP99(latencies) };
}

/** The plan with some deliveries sent a second time, a little later (Meta's retries). */
function withRepeats<T>(plan: T[]): T[] {
  const out = [...plan];
  const repeats = Math.floor(plan.length * DUPLICATE_SHARE);
  for (let i = 0; i < repeats; i++) {
    const from = Math.floor((i / repeats) * plan.length);
    out.splice(Math.min(out.length, from + 50 + i), 0, plan[from]);
  }
  return out;
}

export async function run(): Promise<void> {
  const seconds = envNumber("BENCH_SECONDS", 5, 0.5, 120);
  const dataDir = await childServerStorage("whatsapp");
  const { graph, countsUrl } = await startFakeGraph();
  const databaseUrl = dataDir.databaseUrl;
  console.log(
    `Closed loop, 50 connections, ${seconds} s per server (generator: this process); Hurukuro: ` +
      `main.ts, ${databaseUrl ? "PostgreSQL server (DATABASE_URL)" : "embedded database"}, ` +
      `LOG_LEVEL=warn, replies to the fake Graph API (own process)\n`,
  );
  // Enough unique deliveries for a fast server; a repeat past the end is counted.
  const load = deliveryPool({
    count: Math.round(Math.max(20_000, seconds * 12_000)),
    phones: PHONES,
    phoneBase: 0,
    tag: "max",
  });

  const baseline = await startServer({ name: "baseline", script: "bench/webhook_baseline.ts" });
  let bare: ClosedLoopFigures, bareFixed: FixedFigures;
  try {
    bare = await closedLoop({
      label: "bare Deno.serve",
      url: `${baseline.url}/`,
      seconds,
      next: load.next,
      pid: baseline.pid,
    });
    const fixed = deliveryPool({
      count: FIXED_RATE * seconds,
      phones: PHONES,
      phoneBase: 0,
      tag: "bf",
    });
    bareFixed = await offer("bare Deno.serve", `${baseline.url}/`, FIXED_RATE, fixed.items);
  } finally {
    await baseline.stop();
  }
  const fresh = deliveryPool({
    count: load.items.length,
    phones: PHONES,
    phoneBase: 0,
    tag: "ours",
  });

  let app: ServerProcess | undefined;
  try {
    app = await startWhatsAppServer({ dataDir: dataDir.path, databaseUrl, graphUrl: graph.url });
    const url = `${app.url}/api/whatsapp/webhook`;
    // Warm-up: every phone's first message (first contact creates the account and wallet),
    // answered before measuring.
    const first = deliveryPool({ count: PHONES, phones: PHONES, phoneBase: 0, tag: "first" });
    await offer("warm-up", url, 250, first.items);
    let expected = PHONES;
    const warmSeconds = (await waitForSent(countsUrl, expected, DRAIN_LIMIT_MS)).seconds;

    // The unloaded reply rate: a backlog delivered at once, answered with no intake after it.
    const probe = deliveryPool({ count: BACKLOG_PROBE, phones: PHONES, phoneBase: 0, tag: "p" });
    await retryingLoop({
      label: "probe",
      url,
      seconds: 60,
      amount: BACKLOG_PROBE,
      next: probe.next,
    });
    expected += BACKLOG_PROBE;
    const drainFrom = await sentCount(countsUrl);
    const drainStart = performance.now();
    await waitForSent(countsUrl, expected, DRAIN_LIMIT_MS);
    const unloaded = (expected - drainFrom) / ((performance.now() - drainStart) / 1000);

    // The maximum, and the replies sent meanwhile.
    const before = await sentCount(countsUrl);
    const ours = await retryingLoop({
      label: "Hurukuro webhook",
      url,
      seconds,
      next: fresh.next,
      pid: app.pid,
    });
    const repliesUnderLoad = (await sentCount(countsUrl) - before) / ours.seconds;
    const handedOut = Math.min(fresh.used, fresh.items.length);
    const drainMax = (await waitForSent(countsUrl, expected + ours.ok, DRAIN_LIMIT_MS)).seconds;

    // Latency at a fixed rate, once the backlog is answered.
    const fixedPlan = deliveryPool({
      count: FIXED_RATE * seconds,
      phones: PHONES,
      phoneBase: 0,
      tag: "f",
    });
    const oursFixed = await offer(
      "Hurukuro webhook",
      url,
      FIXED_RATE,
      withRepeats(fixedPlan.items),
    );

    // Every acknowledged message answered once: between the 200s counted and the deliveries
    // handed out (the last few in flight when the load stopped are stored but not counted).
    const low = expected + ours.ok + fixedPlan.items.length;
    const high = expected + handedOut + fixedPlan.items.length;
    await waitForSent(countsUrl, low, DRAIN_LIMIT_MS);
    await delay(2_000); // a late duplicate would show up here
    const received = await sentCount(countsUrl);
    const lost = Math.max(0, low - received);
    const doubled = Math.max(0, received - high);

    lastWebhookRun.bare = bare;
    lastWebhookRun.ours = ours;
    console.log(closedLoopTable([bare, ours]));
    console.log("");
    console.log(table(
      [`fixed ${FIXED_RATE}/s`, "200s", "503s (sent again)", "failed", "p50 ms", "p99 ms"],
      [bareFixed, oursFixed].map((
        f,
      ) => [f.label, integer(f.ok), integer(f.refused), integer(f.failed), ms(f.p50), ms(f.p99)]),
    ));
    const warning = busyWarning([bare, ours]);
    if (warning) console.log(`\n${warning}`);
    const ratio = ours.okPerSec / bare.okPerSec;
    const share = repliesUnderLoad / unloaded;
    console.log(
      `\n  maximum: ${integer(ours.okPerSec)} webhooks/s stored and acknowledged = ` +
        `${ratio.toFixed(3)}× the bare server's ${integer(bare.okPerSec)}/s ` +
        `(target ≥ 0.3×: ${ratio >= 0.3 ? "met" : "MISSED"}); ACK p99 ${ms(ours.p99)} ms ` +
        `(target < 250 ms: ${ours.p99 < 250 ? "met" : "MISSED"})\n` +
        `  replies under that load: ${integer(repliesUnderLoad)}/s against ${
          integer(unloaded)
        }/s ` +
        `with no intake = ${Math.round(share * 100)}% (target ≥ 50%: ${
          share >= 0.5 ? "met" : "MISSED"
        })\n` +
        `  at ${FIXED_RATE}/s: p99 ${ms(oursFixed.p99)} ms (bare ${
          ms(bareFixed.p99)
        } ms; target < 20 ms: ` +
        `${oursFixed.p99 < 20 ? "met" : "MISSED"})\n` +
        `  replies: ${integer(received)} received for ${integer(low)}–${
          integer(high)
        } acknowledged ` +
        `messages; missing ${lost}, doubled ${doubled} (target 0/0: ${
          lost === 0 && doubled === 0 ? "met" : "MISSED"
        }); first contacts answered in ${warmSeconds.toFixed(1)} s, the maximum's backlog ` +
        `${drainMax.toFixed(1)} s after the load`,
    );
  } finally {
    await app?.stop();
    await graph.stop();
    await dataDir.remove();
  }
}
