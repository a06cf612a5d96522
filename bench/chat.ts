/**
 * Chat bench: what Hurukuro adds between the model and the reader.
 *
 * 1. Relay overhead: time to first delta (TTFD) of a streamed answer through Hurukuro
 *    (`POST /api/v1/essays`, SSE) against the fake upstream's own TTFD (the same request sent to
 *    it directly), N sequential requests each. The difference is Hurukuro's cost: auth, the
 *    preflight (conversation, user message, cap check, wallet reservation: several database
 *    round trips) and the relay itself, split at the `start` event: `start` → first delta minus
 *    the upstream's TTFD is the relay alone. Target: overhead p99 < 5 ms.
 * 2. 1,000 concurrent streams held by one process: the upstream is slowed to 60 s before its
 *    first token, so every stream is open and idle; the server's resident memory before and
 *    with the streams open gives the memory per idle stream. Target: < 100 KB.
 *
 * Three processes: the fake upstream (bench/chat_fake.ts), the server (main.ts on a temporary
 * embedded database prepared here with a funded user), and this one (the readers).
 */
import { createParser } from "eventsource-parser";
import {
  delay,
  envNumber,
  integer,
  makeTempDir,
  ms,
  percentile,
  type ServerProcess,
  startServer,
  table,
  waitForOk,
} from "./_support.ts";
import { openDatabase } from "../lib/db/mod.ts";
import { migrate, MIGRATIONS_DIR } from "../lib/db/migrate.ts";
import { createUser } from "../lib/accounts/users.ts";
import { post } from "../lib/wallet/ledger.ts";
import { memoryLogger } from "../lib/observability/log.ts";
import { setChatSetting } from "../lib/chat/conversations.ts";
import { FAKE_OPENAI_KEY } from "../tests/fakes/openai.ts";

export const description =
  "SSE relay overhead (TTFD through Hurukuro − the upstream's own) and memory per idle stream";

const SAMPLES = envNumber("BENCH_CHAT_SAMPLES", 300, 20, 10_000);
const STREAMS = envNumber("BENCH_CHAT_STREAMS", 1_000, 10, 10_000);
const UPSTREAM_TTFT_MS = 20;
const EMAIL = "bench@hurukuro.invalid";
const PASSWORD = "bench password 123";

async function prepare(dataDir: string): Promise<void> {
  const db = await openDatabase({ embeddedDir: `${dataDir}/pg`, log: memoryLogger("warn") });
  try {
    await migrate(db.sql, MIGRATIONS_DIR);
    const user = await createUser(db.sql, { email: EMAIL, password: PASSWORD });
    await db.sql`update tiers set requests_per_minute = 1000000, daily_token_cap = 0
                 where name = 'pro'`;
    await db.sql`update users set tier = 'pro' where id = ${user.id}`;
    await post(db.sql, {
      userId: user.id,
      kind: "purchase_credit",
      delta: 1_000_000_000,
      idempotencyKey: "bench-credit",
      description: "bench",
    });
    // Readers that leave let go of their answers quickly.
    await setChatSetting(db.sql, "streamGraceSeconds", 2);
  } finally {
    await db.close();
  }
}

async function startFake(firstTokenMs: number, deltaMs: number): Promise<ServerProcess> {
  return await startServer({
    name: "fake upstream",
    script: "bench/chat_fake.ts",
    env: { FAKE_FIRST_TOKEN_MS: String(firstTokenMs), FAKE_DELTA_MS: String(deltaMs) },
  });
}

async function startHurukuro(dataDir: string, fake: ServerProcess): Promise<ServerProcess> {
  const server = await startServer({
    name: "hurukuro",
    script: "main.ts",
    env: {
      DATA_DIR: dataDir,
      PORT: "0",
      HURUKURO_ENV: "development",
      LOG_LEVEL: "warn",
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_BASE_URL: `${fake.url}/v1`,
    },
  });
  await waitForOk(`${server.url}/health`, 30_000);
  return server;
}

async function login(url: string): Promise<Record<string, string>> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  if (!res.ok) throw new Error(`login: ${res.status} ${await res.text()}`);
  return { authorization: `Bearer ${(await res.json()).accessToken}` };
}

/** Reads an SSE response to its end, noting when the first `start` and `delta` arrived. */
async function timeStream(res: Response, sent: number) {
  let start = NaN, first = NaN;
  const parser = createParser({
    onEvent(e) {
      if (e.event === "start" && Number.isNaN(start)) start = performance.now() - sent;
      if (e.event === "delta" && Number.isNaN(first)) first = performance.now() - sent;
    },
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return { start, first };
}

/** The upstream's own TTFD: the same kind of request, straight to the fake. */
async function upstreamTtfd(fakeUrl: string): Promise<number> {
  const sent = performance.now();
  const res = await fetch(`${fakeUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${FAKE_OPENAI_KEY}` },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "system", content: "essay" }, { role: "user", content: "question" }],
    }),
  });
  let first = NaN;
  const parser = createParser({
    onEvent(e) {
      if (!Number.isNaN(first) || e.data === "[DONE]") return;
      if (JSON.parse(e.data).choices?.[0]?.delta?.content) first = performance.now() - sent;
    },
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return first;
}

const sorted = (values: number[]) => Float64Array.from(values).sort();
const rssKb = (pid: number) => {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
};

async function relayOverhead(dataDir: string): Promise<void> {
  const fake = await startFake(UPSTREAM_TTFT_MS, 0);
  const server = await startHurukuro(dataDir, fake);
  try {
    const auth = await login(server.url);
    const ask = async () => {
      const sent = performance.now();
      const res = await fetch(`${server.url}/api/v1/essays`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ text: "Write about the Great Zimbabwe ruins." }),
      });
      if (!res.ok) throw new Error(`ask: ${res.status} ${await res.text()}`);
      return await timeStream(res, sent);
    };
    // Warm-up: JIT, connection pools, the configuration cache.
    for (let i = 0; i < 20; i++) (await ask(), await upstreamTtfd(fake.url));

    /** A plain authenticated API call (auth, rate limit, one query): every request's floor. */
    const plain = async () => {
      const sent = performance.now();
      const res = await fetch(`${server.url}/api/v1/wallet`, { headers: auth });
      await res.body?.cancel();
      return performance.now() - sent;
    };
    const direct: number[] = [], through: number[] = [], start: number[] = [];
    const relay: number[] = [], floor: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      // Interleaved, so both see the same machine load.
      const d = await upstreamTtfd(fake.url);
      const t = await ask();
      floor.push(await plain());
      direct.push(d);
      through.push(t.first);
      start.push(t.start);
      relay.push(t.first - t.start);
    }
    const [sd, st, ss, sr, sf] = [direct, through, start, relay, floor].map(sorted);
    const p = (s: Float64Array, q: number) => percentile(s, q);
    const rows = [
      ["upstream alone: TTFD", ms(p(sd, 50)), ms(p(sd, 99))],
      ["through Hurukuro: TTFD", ms(p(st, 50)), ms(p(st, 99))],
      ["  of which: request → `start` (auth + preflight)", ms(p(ss, 50)), ms(p(ss, 99))],
      ["    for reference: GET /api/v1/wallet (auth + 1 query)", ms(p(sf, 50)), ms(p(sf, 99))],
      ["  of which: `start` → first delta", ms(p(sr, 50)), ms(p(sr, 99))],
      ["overhead: TTFD through − alone", ms(p(st, 50) - p(sd, 50)), ms(p(st, 99) - p(sd, 99))],
      [
        "relay overhead: `start` → first delta − alone",
        ms(p(sr, 50) - p(sd, 50)),
        ms(p(sr, 99) - p(sd, 99)),
      ],
    ];
    console.log(
      `${SAMPLES} sequential essays, upstream TTFT ${UPSTREAM_TTFT_MS} ms (times in ms)\n`,
    );
    console.log(table(["", "p50", "p99"], rows));
    const overhead99 = p(st, 99) - p(sd, 99);
    const relay99 = p(sr, 99) - p(sd, 99);
    console.log(
      `\nTTFD ratio through/alone: p50 ${(p(st, 50) / p(sd, 50)).toFixed(2)}×, p99 ${
        (p(st, 99) / p(sd, 99)).toFixed(2)
      }×` +
        `\ntarget overhead p99 < 5 ms: whole request ${ms(overhead99)} ms ${
          overhead99 < 5 ? "(met)" : "(NOT met)"
        }; relay alone ${ms(relay99)} ms ${relay99 < 5 ? "(met)" : "(NOT met)"}`,
    );
  } finally {
    await server.stop();
    await fake.stop();
  }
}

async function idleStreams(dataDir: string): Promise<void> {
  const fake = await startFake(60_000, 0);
  const server = await startHurukuro(dataDir, fake);
  const controllers: AbortController[] = [];
  try {
    const auth = await login(server.url);
    const open = async () => {
      const abort = new AbortController();
      controllers.push(abort);
      const res = await fetch(`${server.url}/api/v1/essays`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ text: "Take your time." }),
        signal: abort.signal,
      });
      if (!res.ok) throw new Error(`ask: ${res.status} ${await res.text()}`);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("event: start")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended before its start");
        text += value;
      }
      // Held open: nothing more is read until the bench aborts it.
    };
    // A first round of as many streams, released, brings the process to its working size
    // (JIT, the embedded database's caches and WASM memory, pools), so the measured round
    // counts what the streams themselves hold.
    await Promise.all(Array.from({ length: STREAMS }, open));
    for (const c of controllers.splice(0)) c.abort();
    await delay(4_000); // the grace period (2 s) lets those go
    const before = rssKb(server.pid);

    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: STREAMS }, open));
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length > 0) {
      throw new Error(
        `${failed.length} streams failed: ${(failed[0] as PromiseRejectedResult).reason}`,
      );
    }
    const openedMs = performance.now() - started;
    await delay(2_000);
    const held = rssKb(server.pid);
    const health = await (await fetch(`${server.url}/health`)).json();

    for (const c of controllers.splice(0)) c.abort();
    await delay(4_000); // grace (2 s) passes: every answer is stopped upstream
    const after = rssKb(server.pid);
    const perStream = (held - before) / STREAMS;
    console.log(
      table(["", "value"], [
        ["streams held open (idle, upstream silent)", integer(STREAMS)],
        ["time to open them all", `${integer(openedMs)} ms`],
        ["server RSS before", `${integer(before / 1024)} MB`],
        ["server RSS with the streams open", `${integer(held / 1024)} MB`],
        ["server RSS after they were released", `${integer(after / 1024)} MB`],
        ["memory per idle stream (RSS)", `${perStream.toFixed(1)} KB`],
        ["health while holding them", String(health.status)],
      ]),
    );
    console.log(
      `\ntarget < 100 KB per idle stream: ${perStream.toFixed(1)} KB ${
        perStream < 100 ? "(met)" : "(NOT met)"
      } — ${(perStream / 100).toFixed(2)}× the budget`,
    );
  } finally {
    for (const c of controllers) c.abort();
    await server.stop();
    await fake.stop();
  }
}

export async function run(): Promise<void> {
  const dir = await makeTempDir("hurukuro-bench-chat-");
  try {
    await prepare(dir.path);
    console.log("1. Relay overhead\n");
    await relayOverhead(dir.path);
    console.log(`\n2. ${integer(STREAMS)} concurrent idle streams in one process\n`);
    await idleStreams(dir.path);
  } finally {
    await dir.remove();
  }
}
