/**
 * Replies bench: how many WhatsApp messages a second Hurukuro answers end to end (webhook →
 * stored → `whatsapp.reply` → the AI → recorded → `whatsapp.send` → the provider) with an AI
 * that takes 200 ms to answer, read against a bare loop doing only the AI call and the send at
 * the same concurrency, in the same run.
 *
 * - Processes of their own: the fake OpenAI upstream (bench/chat_fake.ts, 200 ms to the first
 *   token), the fake Graph API (bench/whatsapp_graph_server.ts), the baseline
 *   (bench/replies_baseline.ts), Hurukuro (main.ts; embedded database, or a fresh database on
 *   the PostgreSQL server of DATABASE_URL).
 * - 1,000 phones each start a conversation ("hi", then "1" for Chat) before the measure; then
 *   each asks its questions `q1`, `q2`, …, every round of questions acknowledged before the next
 *   leaves (so each phone's arrival order is known). The reply pipeline is saturated: questions
 *   arrive faster than they are answered. The rate is answers from the first to the last.
 * - Checks every question answered once, each phone's answers in the order asked.
 *
 * Target: ≥ 500 replies a second, 0 lost, 0 doubled, in order.
 */
import { migrate } from "../lib/db/migrate.ts";
import { openDatabase } from "../lib/db/mod.ts";
import { setSetting } from "../lib/accounts/settings.ts";
import { memoryLogger } from "../lib/observability/log.ts";
import { FAKE_OPENAI_KEY } from "../lib/sandbox/openai.ts";
import {
  childServerStorage,
  delay,
  envNumber,
  integer,
  processCpuSeconds,
  ROOT,
  type ServerProcess,
  startServer,
} from "./_support.ts";
import { retryingLoop } from "./_retrying_loop.ts";
import {
  benchPhone,
  deliveryPool,
  GRAPH_TOKEN,
  PHONES,
  startFakeGraph,
  startWhatsAppServer,
  waitForSent,
} from "./_webhook_load.ts";

export const description =
  "WhatsApp replies end to end with a 200 ms fake AI vs a bare AI-call-and-send loop";

const AI_MS = 200;
const TARGET = 500;
/** The reply lane the bench runs with, and the baseline's concurrency. */
const CONCURRENCY = 256;

/** Sends every delivery of `pool` (a closed loop of 50 connections), all acknowledged. */
async function deliverAll(url: string, pool: ReturnType<typeof deliveryPool>) {
  // A 503 (intake bounded by WHATSAPP_UNANSWERED_LIMIT) is sent again after Retry-After, as Meta does.
  const figures = await retryingLoop({
    label: "deliveries",
    url,
    seconds: 600,
    amount: pool.items.length,
    next: pool.next,
  });
  const { 503: _retried, ...others } = figures.others;
  const refused = Object.values(others).reduce((a, b) => a + b, 0) + figures.errors;
  if (refused > 0) throw new Error(`${refused} deliveries were not acknowledged`);
}

/** Waits until the fake has `total` messages; the time each new message arrived is sampled. */
/** Waits until `total` messages were sent; when the first and the last came. */
async function answered(countsUrl: string, total: number) {
  const wait = await waitForSent(countsUrl, total);
  if (wait.sent < total) {
    throw new Error(`only ${wait.sent} of ${total} messages answered in ${wait.seconds} s`);
  }
  return wait;
}

export async function run(): Promise<void> {
  const seconds = envNumber("BENCH_SECONDS", 5, 0.5, 120);
  // Enough questions to keep the pipeline saturated for about the bench's seconds at the target.
  const rounds = Math.max(2, Math.ceil((TARGET * seconds) / PHONES));
  const dataDir = await childServerStorage("replies");
  const databaseUrl = dataDir.databaseUrl;
  const ai = await startServer({
    name: "fake OpenAI",
    script: "bench/chat_fake.ts",
    env: { FAKE_FIRST_TOKEN_MS: String(AI_MS), FAKE_DELTA_MS: "0" },
  });
  const { graph, countsUrl } = await startFakeGraph();
  console.log(
    `${integer(PHONES)} phones × ${rounds} questions, AI answering in ${AI_MS} ms, ` +
      `${CONCURRENCY} replies at once; Hurukuro on ${
        databaseUrl ? "PostgreSQL (DATABASE_URL)" : "the embedded database"
      }\n`,
  );

  // The baseline: the AI call and the send only, at the same concurrency.
  const jobs = PHONES * rounds;
  const bare = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/replies_baseline.ts"],
    cwd: ROOT,
    env: {
      JOBS: String(jobs),
      CONCURRENCY: String(CONCURRENCY),
      AI_URL: ai.url,
      GRAPH_URL: graph.url,
      GRAPH_TOKEN,
    },
    stdout: "piped",
  }).output();
  const bareRun = JSON.parse(new TextDecoder().decode(bare.stdout)) as {
    jobs: number;
    ms: number;
    cpuMs: number;
  };
  const bareRate = bareRun.jobs / (bareRun.ms / 1000);
  await (await fetch(`${graph.url}/_fake/reset`, { method: "POST" })).body?.cancel();

  // Tokens for every phone, no daily cap: the bench measures answers, not refusals.
  const db = await openDatabase({
    databaseUrl: databaseUrl || undefined,
    embeddedDir: `${dataDir.path}/pg`,
    log: memoryLogger("warn"),
  });
  try {
    await migrate(db.sql);
    await setSetting(db.sql, "signup_grant_tokens", 100_000_000);
    await db.sql`update tiers set daily_token_cap = 0, requests_per_minute = 100000000`;
  } finally {
    await db.close();
  }

  let app: ServerProcess | undefined;
  try {
    app = await startWhatsAppServer({
      dataDir: dataDir.path,
      databaseUrl,
      graphUrl: graph.url,
      env: {
        OPENAI_API_KEY: FAKE_OPENAI_KEY,
        OPENAI_BASE_URL: `${ai.url}/v1`,
        WHATSAPP_REPLY_CONCURRENCY: String(CONCURRENCY),
      },
    });
    const url = `${app.url}/api/whatsapp/webhook`;
    const pool = (tag: string, text: string) =>
      deliveryPool({ count: PHONES, phones: PHONES, phoneBase: 10_000, tag, text });
    // Into a conversation: the welcome, then Chat.
    let expected = 0;
    for (const [tag, text] of [["hi", "hi"], ["chat", "1"]]) {
      await deliverAll(url, pool(tag, text));
      expected += PHONES;
      await answered(countsUrl, expected);
    }

    // The measure: round after round of questions, the pipeline saturated.
    const done = answered(countsUrl, expected + jobs);
    const intakeStarted = performance.now();
    const cpuStarted = processCpuSeconds(app.pid);
    for (let q = 1; q <= rounds; q++) await deliverAll(url, pool(`q${q}`, `q${q}`));
    const intakeSeconds = (performance.now() - intakeStarted) / 1000;
    const { first, last } = await done;
    const cpuEnded = processCpuSeconds(app.pid);
    // CPU time per answer (webhook, reply, send): other work on the machine barely changes it.
    const cpuMs = cpuStarted === null || cpuEnded === null
      ? null
      : (cpuEnded - cpuStarted) * 1000 / jobs;
    const rate = jobs / ((last - first) / 1000);
    await delay(2_000); // a late duplicate would show up here

    // Once each, in order.
    const res = await fetch(`${graph.url}/_fake/messages`);
    const { messages } = await res.json() as { messages: { to: string; text?: string }[] };
    const asked = new Map<string, number[]>();
    for (const m of messages) {
      const q = /You asked: "q(\d+)"/.exec(m.text ?? "")?.[1];
      if (!q) continue;
      asked.set(m.to, [...(asked.get(m.to) ?? []), Number(q)]);
    }
    let lost = 0, doubled = 0, outOfOrder = 0;
    for (let i = 0; i < PHONES; i++) {
      const got = asked.get(benchPhone(10_000 + i)) ?? [];
      const seen = new Set(got);
      lost += rounds - seen.size;
      doubled += got.length - seen.size;
      if (got.some((q, k) => k > 0 && q < got[k - 1])) outOfOrder++;
    }

    console.log(
      `  bare AI call + send, ${CONCURRENCY} at once: ${integer(bareRate)} replies/s\n` +
        `  Hurukuro: ${integer(rate)} replies/s end to end = ${(rate / bareRate).toFixed(2)}× ` +
        `the bare loop (target ≥ ${TARGET}/s: ${rate >= TARGET ? "met" : "MISSED"}); ` +
        `${integer(jobs)} questions delivered in ${intakeSeconds.toFixed(1)} s\n` +
        `  lost ${lost}, doubled ${doubled}, phones answered out of order ${outOfOrder} ` +
        `(target 0/0/0: ${lost + doubled + outOfOrder === 0 ? "met" : "MISSED"})` +
        (cpuMs === null ? "" : `\n  CPU a reply: Hurukuro ${cpuMs.toFixed(2)} ms (at most ` +
          `${integer(1000 / cpuMs)} replies/s on one core), the bare loop ` +
          `${(bareRun.cpuMs / bareRun.jobs).toFixed(2)} ms`),
    );
  } finally {
    await app?.stop();
    await graph.stop();
    await ai.stop();
    await dataDir.remove();
  }
}
