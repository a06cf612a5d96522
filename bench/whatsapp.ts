/**
 * WhatsApp webhook bench: signed Meta deliveries per second and time to 200 at a fixed offered
 * rate (500 and 2,000 requests/s), read against a bare `Deno.serve` that answers 200 to
 * everything, measured in the same run; then every reply is counted at the fake Graph API.
 *
 * - Servers in child processes of their own: the baseline (bench/baseline_server.ts), Hurukuro
 *   (main.ts on a temporary DATA_DIR, embedded database, LOG_LEVEL=warn), and the fake Graph API
 *   the replies go to (bench/whatsapp_graph_server.ts).
 * - The load is open-loop: requests leave on a fixed schedule whatever the answers do (a slow
 *   server cannot slow the offered rate down), over keep-alive connections, bodies signed
 *   before the run. Each delivery is a new message ("help") from one of 1,000 phones per rate;
 *   5 % of deliveries are sent a second time, as Meta does when it retries. A warm-up first
 *   makes every phone known (first contact creates the account) and each run starts once the
 *   replies of the one before are all sent, so every run meets an idle server.
 * - After the load: waits until the fake has received one reply per distinct message and checks
 *   that no message got two (zero lost, zero duplicated).
 *
 * Targets: ≥ 50 % of the bare server's throughput, p99 < 20 ms at 500 req/s.
 */
import {
  metaText,
  metaWebhook,
  signMeta,
  TEST_PHONE_NUMBER_ID,
} from "../lib/sandbox/whatsapp_sign.ts";
import {
  assertLoopback,
  delay,
  envNumber,
  freshServerDatabase,
  integer,
  makeTempDir,
  ms,
  percentile,
  type ServerProcess,
  startServer,
  table,
} from "./_support.ts";

export const description =
  "signed WhatsApp webhooks at 500 and 2,000 req/s offered vs a bare Deno.serve; replies counted";

const APP_SECRET = "bench-app-secret";
const GRAPH_TOKEN = "bench-graph-token";
const PHONES_PER_RATE = 1_000;
const DUPLICATE_SHARE = 0.05;
/** Offered rates; BENCH_WHATSAPP_RATES (e.g. "500") runs a subset. */
const RATES = (Deno.env.get("BENCH_WHATSAPP_RATES") ?? "500,2000").split(",").map((r) => {
  const rate = Number(r.trim());
  if (!Number.isInteger(rate) || rate < 1 || rate > 20_000) {
    throw new Error(`BENCH_WHATSAPP_RATES: ${r} is not a rate from 1 to 20,000 a second`);
  }
  return rate;
});
/** How long to wait for the last replies after the load (the embedded database answers ~100/s
 * on a busy 2-core machine). */
const DRAIN_LIMIT_MS = 600_000;

interface Delivery {
  body: string;
  signature: string;
  messageId: string;
  phone: string;
}

function deliveries(
  count: number,
  phoneBase: number,
  options: { tag?: string; repeats?: boolean } = {},
): Delivery[] {
  const out: Delivery[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < count; i++) {
    const phone = String(263_780_000_000 + phoneBase + (i % PHONES_PER_RATE));
    const messageId = `wamid.bench${options.tag ?? ""}${phoneBase}x${i}`;
    const body = JSON.stringify(metaWebhook({
      messages: [
        metaText({ from: phone, name: "Bench User", id: messageId, timestamp: now, text: "help" }),
      ],
    }));
    const signature = signMeta(APP_SECRET, body);
    out.push({ body, signature, messageId, phone });
  }
  // Meta's retries: some deliveries arrive twice, a little later.
  const repeats = options.repeats === false ? 0 : Math.floor(count * DUPLICATE_SHARE);
  for (let i = 0; i < repeats; i++) {
    const at = Math.min(out.length, Math.floor((i / repeats) * count) + 50);
    out.splice(at, 0, out[Math.floor((i / repeats) * count)]);
  }
  return out;
}

interface LoadFigures {
  label: string;
  offered: number;
  sent: number;
  ok: number;
  failed: number;
  /** 200s per second, first send to last answer. */
  throughput: number;
  p50: number;
  p99: number;
  max: number;
  /** How late the generator sent against its schedule, p99 (ms). */
  lateness: number;
}

/** Sends `items` to `url` at `rate` per second, open-loop; returns the figures. */
async function offer(
  label: string,
  url: string,
  rate: number,
  items: Delivery[],
): Promise<LoadFigures> {
  assertLoopback(url);
  const latencies: number[] = [];
  const late: number[] = [];
  let ok = 0;
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / rate;
  const started = performance.now();
  let lastAnswer = started;
  for (let i = 0; i < items.length; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait >= 1) await delay(wait);
    const sentAt = performance.now();
    late.push(Math.max(0, sentAt - due));
    const item = items[i];
    const p = fetch(url, {
      method: "POST",
      body: item.body,
      headers: { "content-type": "application/json", "x-hub-signature-256": item.signature },
    }).then(async (res) => {
      await res.body?.cancel();
      const now = performance.now();
      lastAnswer = Math.max(lastAnswer, now);
      if (res.status === 200) {
        ok++;
        latencies.push(now - sentAt);
      } else failed++;
    }, () => void failed++).finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  const sorted = Float64Array.from(latencies).sort();
  const lateSorted = Float64Array.from(late).sort();
  return {
    label,
    offered: rate,
    sent: items.length,
    ok,
    failed,
    throughput: ok / ((lastAnswer - started) / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    lateness: percentile(lateSorted, 99),
  };
}

const distinct = (plan: Delivery[]) => new Set(plan.map((d) => d.messageId)).size;

/** Waits until the fake has `total` replies (or the limit passes); seconds waited. */
async function waitForReplies(graphUrl: string, total: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < DRAIN_LIMIT_MS) {
    const got = await repliesByPhone(graphUrl);
    if ([...got.values()].reduce((a, b) => a + b, 0) >= total) break;
    await delay(500);
  }
  return (performance.now() - started) / 1000;
}

/** Replies per recipient at the fake Graph API. */
async function repliesByPhone(graphUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${graphUrl}/_fake/messages`);
  const { messages } = await res.json() as { messages: { to: string }[] };
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
  return counts;
}

export async function run(): Promise<void> {
  const seconds = envNumber("BENCH_SECONDS", 5, 0.5, 120);
  const dataDir = await makeTempDir("hurukuro-bench-whatsapp-");
  const graph = await startServer({
    name: "fake Graph API",
    script: "bench/whatsapp_graph_server.ts",
    env: { GRAPH_TOKEN },
  });
  console.log(
    `Open-loop load from the bench process: ${seconds} s per rate, keep-alive fetch, ` +
      `${PHONES_PER_RATE} phones per rate, ${DUPLICATE_SHARE * 100}% of deliveries sent twice`,
  );
  // With DATABASE_URL set, the server runs on a fresh database of that PostgreSQL server.
  const adminUrl = Deno.env.get("DATABASE_URL");
  const databaseUrl = adminUrl ? await freshServerDatabase(adminUrl, "whatsapp") : "";
  console.log(
    `  Hurukuro: main.ts, HURUKURO_ENV=test, ${
      databaseUrl ? "PostgreSQL server (DATABASE_URL)" : "embedded database"
    }, LOG_LEVEL=warn; replies go to the fake Graph API (own process)\n`,
  );

  const rows: LoadFigures[] = [];
  const plans = RATES.map((rate, i) => deliveries(Math.round(rate * seconds), i * 100_000));

  const baseline = await startServer({ name: "baseline", script: "bench/baseline_server.ts" });
  try {
    await offer("warm-up", `${baseline.url}/`, 200, plans[0].slice(0, 200));
    for (const [i, rate] of RATES.entries()) {
      rows.push(await offer("bare Deno.serve", `${baseline.url}/`, rate, plans[i]));
    }
  } finally {
    await baseline.stop();
  }

  let app: ServerProcess | undefined;
  try {
    app = await startServer({
      name: "Hurukuro",
      script: "main.ts",
      profiled: true,
      timeoutMs: 180_000,
      env: {
        HURUKURO_ENV: "test",
        HOST: "127.0.0.1",
        PORT: "0",
        DATA_DIR: dataDir.path,
        DATABASE_URL: databaseUrl,
        DENO_KV_PATH: "",
        SANDBOX: "",
        LOG_LEVEL: "warn",
        WHATSAPP_PROVIDER: "meta",
        WHATSAPP_TOKEN: GRAPH_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID: TEST_PHONE_NUMBER_ID,
        WHATSAPP_APP_SECRET: APP_SECRET,
        WHATSAPP_VERIFY_TOKEN: "bench",
        WHATSAPP_GRAPH_URL: graph.url,
        // The fake has no throughput limits; the per-phone allowance would refuse the bench.
        WHATSAPP_SEND_RATE: "10000",
        WHATSAPP_USER_RATE_LIMIT: "100000",
      },
    });
    const url = `${app.url}/api/whatsapp/webhook`;
    // Warm-up: the first message of every phone the measured runs use (first contact creates
    // the account and wallet), answered before measuring, so each measured run starts on an
    // idle server with known users. Not counted in the rows.
    const warm = [
      ...deliveries(200, 900_000, { repeats: false }),
      ...RATES.flatMap((_, i) =>
        deliveries(PHONES_PER_RATE, i * 100_000, { tag: "first", repeats: false })
      ),
    ];
    await offer("warm-up", url, 250, warm);
    let answered = distinct(warm);
    const warmSeconds = await waitForReplies(graph.url, answered);
    const drains: number[] = [];
    for (const [i, rate] of RATES.entries()) {
      rows.push(await offer("Hurukuro webhook", url, rate, plans[i]));
      answered += distinct(plans[i]);
      drains.push(await waitForReplies(graph.url, answered));
    }
    console.log(
      `  warm-up: ${integer(warm.length)} first contacts answered in ${
        warmSeconds.toFixed(1)
      } s; ` +
        `replies of the measured runs all sent ${
          drains.map((d, i) => `${d.toFixed(1)} s after the ${integer(RATES[i])}/s run`).join(
            ", ",
          )
        }\n`,
    );

    // Every distinct message gets exactly one reply.
    const expected = new Map<string, number>();
    for (const plan of [warm, ...plans]) {
      const distinct = new Map(plan.map((d) => [d.messageId, d.phone]));
      for (const phone of distinct.values()) expected.set(phone, (expected.get(phone) ?? 0) + 1);
    }
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    await delay(2_000); // a late duplicate would show up here
    const got = await repliesByPhone(graph.url);
    const received = [...got.values()].reduce((a, b) => a + b, 0);
    let lost = 0;
    let duplicated = 0;
    for (const [phone, n] of expected) {
      const r = got.get(phone) ?? 0;
      if (r < n) lost += n - r;
      if (r > n) duplicated += r - n;
    }

    console.log(table(
      ["server", "offered/s", "sent", "200s", "failed", "200s/s", "p50 ms", "p99 ms", "max ms"],
      rows.map((r) => [
        r.label,
        integer(r.offered),
        integer(r.sent),
        integer(r.ok),
        integer(r.failed),
        integer(r.throughput),
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
      ]),
    ));
    console.log(
      `  generator lateness p99: ${
        rows.map((r) => `${r.label} @${r.offered}: ${ms(r.lateness)} ms`).join(", ")
      }\n`,
    );
    for (const rate of RATES) {
      const bare = rows.find((r) => r.label === "bare Deno.serve" && r.offered === rate)!;
      const ours = rows.find((r) => r.label === "Hurukuro webhook" && r.offered === rate)!;
      const share = ours.throughput / bare.throughput;
      console.log(
        `  @${integer(rate)} req/s: ${Math.round(share * 100)}% of the bare server's throughput ` +
          `(target ≥ 50%: ${share >= 0.5 ? "met" : "MISSED"}); p99 ${ms(ours.p99)} ms` +
          (rate === 500 ? ` (target < 20 ms: ${ours.p99 < 20 ? "met" : "MISSED"})` : ""),
      );
    }
    const redelivered = plans.reduce(
      (a, p) => a + p.length - new Set(p.map((d) => d.messageId)).size,
      0,
    );
    console.log(
      `  replies: ${integer(received)} received for ${integer(total)} distinct messages ` +
        `(${integer(redelivered)} deliveries were repeats); missing ${lost}, duplicated ` +
        `${duplicated} (target 0/0: ${lost === 0 && duplicated === 0 ? "met" : "MISSED"}); ` +
        (lost === 0 ? "every message answered once" : "some never answered"),
    );
  } finally {
    await app?.stop();
    await graph.stop();
    await dataDir.remove();
  }
}
