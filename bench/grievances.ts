/**
 * Grievances bench: BENCH_GRIEVANCES (default 1,000) reports submitted at once through
 * `POST /api/v1/grievances` (multipart, 50 in flight), each classified in the background by a
 * fake OpenAI-compatible model that answers after 500 ms (BENCH_AI_DELAY_MS); meanwhile a chat
 * user asks a question every 250 ms and the time to its first delta is measured, beside the
 * same chat's time to first delta with no grievance work running (measured first, in the same
 * run): grievance work must not slow the chat.
 *
 * The whole app runs in this process (main.ts `start()`, cron off) with KV in a file under a
 * temporary DATA_DIR, on the embedded database (or DATABASE_URL's server).
 *
 * Figures: submissions a second, the time from the first submission until every report is
 * classified (and the floor: reports ÷ the priority lane's concurrency × the model's delay), and
 * the chat's time to first delta p50/p99 without and with the load.
 */
import { benchStorage, startBenchApp } from "./_app.ts";
import { delay, envNumber, integer, ms, onCleanup, percentile, table } from "./_support.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { LANE_CONCURRENCY } from "../lib/jobs/types.ts";
import { createUser } from "../lib/accounts/users.ts";
import { signAccessToken } from "../lib/accounts/jwt.ts";
import { post } from "../lib/wallet/ledger.ts";

export const description =
  "1,000 reports at once: time until all are classified (fake AI, 500 ms) and the chat's time to first delta meanwhile";

const SUBMITTERS = 50;
const CHAT_EVERY_MS = 250;

async function pool(n: number, inFlight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}

/** Asks one question and resolves with the milliseconds to its first delta. */
async function timeToFirstDelta(url: string, headers: Record<string, string>): Promise<number> {
  const conversation = await (await fetch(`${url}/api/v1/conversations`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ mode: "chat" }),
  })).json();
  const started = performance.now();
  const res = await fetch(`${url}/api/v1/conversations/${conversation.id}/messages`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ text: "What is the capital of Zimbabwe?" }),
  });
  if (!res.ok || !res.body) throw new Error(`chat answered ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    while (!seen.includes("event: delta")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the answer ended without a delta");
      seen += value;
    }
    return performance.now() - started;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Chat questions every CHAT_EVERY_MS until `until` says stop; the times to first delta. */
async function chatWhile(
  url: string,
  headers: Record<string, string>,
  until: () => boolean,
): Promise<Float64Array> {
  const times: number[] = [];
  const asks: Promise<void>[] = [];
  while (!until()) {
    asks.push(timeToFirstDelta(url, headers).then((t) => void times.push(t)));
    await delay(CHAT_EVERY_MS);
  }
  await Promise.all(asks);
  return Float64Array.from(times).sort();
}

export async function run(): Promise<void> {
  const count = envNumber("BENCH_GRIEVANCES", 1_000, 10, 100_000);
  const aiDelay = envNumber("BENCH_AI_DELAY_MS", 500, 0, 10_000);
  const openai = await startFakeOpenAI({ firstTokenDelayMs: aiDelay, maxRecords: 100 });
  onCleanup(() => openai.close());
  const storage = await benchStorage();
  const { running, problems, close } = await startBenchApp({
    storage,
    logName: "grievances.log",
    env: {
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_BASE_URL: openai.baseUrl,
      LOG_LEVEL: "warn",
    },
  });
  try {
    const { db, config, url } = running;
    await db.sql`update tiers set requests_per_minute = 10000000, daily_token_cap = 0`;
    const staff = await createUser(db.sql, {
      email: "bench-officer@example.com",
      password: "a long bench password",
      role: "admin",
    });
    const chatter = await createUser(db.sql, {
      email: "bench-chat@example.com",
      password: "a long bench password",
    });
    await post(db.sql, {
      userId: chatter.id,
      kind: "purchase_credit",
      delta: 1_000_000_000,
      idempotencyKey: "bench:chat",
      description: "bench credit",
    });
    const bearer = async (id: string, role: "admin" | "user") => ({
      authorization: `Bearer ${await signAccessToken(config.appSecret, { sub: id, role })}`,
    });
    const staffHeaders = await bearer(staff.id, "admin");
    const chatHeaders = await bearer(chatter.id, "user");

    // The chat alone, for as many questions as the load run will ask in its first 10 seconds.
    let quietAsked = 0;
    const quiet = await chatWhile(url, chatHeaders, () => quietAsked++ >= 40);

    let classified = 0;
    const started = performance.now();
    let submittedMs = 0;
    const submitting = pool(count, SUBMITTERS, async (i) => {
      const form = new FormData();
      form.append("description", `Report ${i}: no water at the borehole in ward ${i % 30}.`);
      form.append("phone", `+26377${String(1_000_000 + i).padStart(7, "0")}`);
      const res = await fetch(`${url}/api/v1/grievances`, {
        method: "POST",
        headers: staffHeaders,
        body: form,
      });
      if (res.status !== 201) throw new Error(`report ${i}: ${res.status} ${await res.text()}`);
      await res.body?.cancel();
    }).then(() => submittedMs = performance.now() - started);
    const loaded = chatWhile(url, chatHeaders, () => classified >= count);
    for (let waited = 0; classified < count; waited += 250) {
      if (waited > 1_800_000) throw new Error(`${classified} of ${count} classified after 30 min`);
      await delay(250);
      [{ n: classified }] = await db.sql`select count(*)::int as n from grievances
                                         where ai_status = 'done'`;
    }
    const allMs = performance.now() - started;
    await submitting;
    const busy = await loaded;
    const [{ failed }] = await db.sql`select count(*)::int as failed from grievance_tasks
                                      where status = 'failed'`;
    const floor = Math.ceil(count / LANE_CONCURRENCY.priority) * aiDelay;

    console.log(table(["", "reports", "per second", "ms"], [
      [
        "submitted (all accepted)",
        integer(count),
        integer(count / (submittedMs / 1000)),
        ms(submittedMs),
      ],
      [
        "first submission → all classified",
        integer(count),
        integer(count / (allMs / 1000)),
        ms(allMs),
      ],
      ["floor: reports ÷ lane × model delay", integer(count), "", ms(floor)],
    ]));
    console.log();
    console.log(table(["chat time to first delta", "questions", "p50 ms", "p99 ms"], [
      [
        "without grievance work",
        integer(quiet.length),
        ms(percentile(quiet, 50)),
        ms(percentile(quiet, 99)),
      ],
      [
        "while grievances are classified",
        integer(busy.length),
        ms(percentile(busy, 50)),
        ms(percentile(busy, 99)),
      ],
    ]));
    console.log(
      `\npriority lane concurrency ${LANE_CONCURRENCY.priority}; the fake model answers after ` +
        `${aiDelay} ms; failed tasks: ${failed}; database: ${db.kind}.`,
    );
    if (problems.length > 0) console.log(`warnings logged:\n${problems.join("\n")}`);
  } finally {
    await close();
  }
}
