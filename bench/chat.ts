/**
 * Chat bench: what Hurukuro adds between the model and the reader.
 *
 * 1. Relay overhead: time to first delta (TTFD) of a streamed answer through Hurukuro
 *    (`POST /api/v1/essays`, SSE) against the fake upstream's own TTFD (the same request sent to
 *    it directly), N sequential requests each. The difference is Hurukuro's cost: auth, the
 *    preflight (conversation, user message, cap check, wallet reservation: several database
 *    round trips) and the relay itself, split at the `start` event: `start` → first delta minus
 *    the upstream's TTFD is the relay alone. Target: overhead p99 ≤ 2× the bare relay's own
 *    overhead in the same run (a millisecond on a two-core box is noise). The same requests
 *    through the bare relay (bench/chat_relay_baseline.ts: no auth, no database, no SDK) are the
 *    baseline: what a third process between reader and upstream costs on this machine at all.
 * 2. 1,000 concurrent streams held by one process: the upstream is slowed to 60 s before its
 *    first token, so every stream is open and idle; the server's resident memory before and
 *    with the streams open gives the memory per idle stream. Target: < 200 KB. The figure moves
 *    by tens of KB from one process to the next (allocator arenas, V8's heap sizing), so it is
 *    measured in BENCH_CHAT_ROUNDS fresh processes (default 3) each for the bare relay and for
 *    Hurukuro, and the median process is reported with the lowest and highest. Each process is
 *    measured once: a second round in the same process mostly reuses the memory the first one
 *    released (RSS does not shrink), which would understate the cost of holding streams. Then
 *    BENCH_CHAT_STREAMS more are opened on top: what each of those adds is the cost of one more
 *    stream, without the one-off growth the first batch brings (V8 enlarges its young generation
 *    while 1,000 streams open and keeps it: up to ~50 MB, which the first figure spreads over
 *    the streams).
 *
 * 3. The same idle streams when the upstream is HTTPS with HTTP/2, as the hosted providers serve
 *    (needs the `openssl` command for a throwaway CA; skipped without it): the streams then share
 *    a few connections (lib/ai/fetch.ts, at most 100 per client) instead of holding one each.
 *
 * Three processes: the fake upstream (bench/chat_fake.ts), the server (main.ts on a temporary
 * embedded database prepared here with a funded user; with DATABASE_URL set, on a fresh database
 * on that server instead, so the database's memory is not the server's), and this one (the
 * readers). BENCH_CHAT_SAMPLES (default 300) and BENCH_CHAT_STREAMS (default 1,000) scale it;
 * BENCH_CHAT_PARTS (e.g. "1" or "2,3") runs some of the three parts.
 */
import { createParser } from "eventsource-parser";
import { chatCompletion } from "./_chat_completion.ts";
import {
  childServerStorage,
  delay,
  envNumber,
  integer,
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
import { FAKE_OPENAI_KEY } from "../lib/sandbox/openai.ts";

export const description =
  "SSE relay overhead (TTFD through Hurukuro − the upstream's own) and memory per idle stream";

const SAMPLES = envNumber("BENCH_CHAT_SAMPLES", 300, 20, 10_000);
const STREAMS = envNumber("BENCH_CHAT_STREAMS", 1_000, 10, 10_000);
const ROUNDS = envNumber("BENCH_CHAT_ROUNDS", 3, 1, 20);
/** Which parts to run (BENCH_CHAT_PARTS, e.g. "1" or "2,3"); all three by default. */
const PARTS = new Set(
  (Deno.env.get("BENCH_CHAT_PARTS") ?? "1,2,3").split(",").map((p) => p.trim()),
);
const UPSTREAM_TTFT_MS = 20;
/** Streams opened and released before the measurement, to warm the process up. */
const WARM_UP_STREAMS = 50;
/** How long one of the idle streams may take to open (its `start` event) before it counts failed. */
const OPEN_LIMIT_MS = 60_000;
const EMAIL = "bench@hurukuro.invalid";
const PASSWORD = "bench password 123";

/**
 * Where the server keeps its data: the embedded database under the temporary DATA_DIR, or —
 * with DATABASE_URL set — a fresh database on that server (dropped afterwards), which keeps the
 * database's own memory out of the server process's figures.
 */
interface Storage {
  dataDir: string;
  databaseUrl?: string;
}

async function prepare(storage: Storage): Promise<void> {
  const db = await openDatabase({
    databaseUrl: storage.databaseUrl,
    embeddedDir: `${storage.dataDir}/pg`,
    log: memoryLogger("warn"),
  });
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

async function startFake(
  firstTokenMs: number,
  deltaMs: number,
  tls?: TlsFiles,
): Promise<ServerProcess> {
  return await startServer({
    name: "fake upstream",
    script: "bench/chat_fake.ts",
    env: {
      FAKE_FIRST_TOKEN_MS: String(firstTokenMs),
      FAKE_DELTA_MS: String(deltaMs),
      ...(tls ? { FAKE_TLS_CERT: tls.cert, FAKE_TLS_KEY: tls.key } : {}),
    },
  });
}

/** PEM files for an HTTPS fake upstream: a CA the server trusts (DENO_CERT), and its leaf. */
interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** Makes {@link TlsFiles} with the `openssl` command; none when it is not installed. */
async function makeTlsFiles(dir: string): Promise<TlsFiles | undefined> {
  const openssl = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "1",
      "-subj",
      "/CN=bench CA",
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  await openssl("req", ...ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost");
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await openssl(
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "1",
    "-extfile",
    "leaf.ext",
  );
  return { ca: `${dir}/ca.pem`, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}

/** Established TCP connections to `port` on this machine (from /proc/net/tcp*). */
function connectionsTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[2]?.endsWith(`:${hex}`) && fields[3] === "01") n++;
    }
  }
  return n;
}

async function startHurukuro(
  storage: Storage,
  fake: ServerProcess,
  denoFlags: string[] = [],
  /** The CA of an HTTPS fake upstream, trusted through DENO_CERT. */
  ca?: string,
): Promise<ServerProcess> {
  const server = await startServer({
    name: "hurukuro",
    script: "main.ts",
    denoFlags,
    profiled: true,
    env: {
      DATA_DIR: storage.dataDir,
      ...(storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {}),
      PORT: "0",
      HURUKURO_ENV: "development",
      LOG_LEVEL: "warn",
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_BASE_URL: `${fake.url}/v1`,
      ...(ca ? { DENO_CERT: ca } : {}),
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
function upstreamTtfd(fakeUrl: string): Promise<number> {
  return chunkTtfd(() =>
    chatCompletion(fakeUrl, FAKE_OPENAI_KEY, {
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "system", content: "essay" }, { role: "user", content: "question" }],
    })
  );
}

/** TTFD through the bare relay (bench/chat_relay_baseline.ts), which passes the chunks on. */
function bareRelayTtfd(relayUrl: string): Promise<number> {
  return chunkTtfd(() => fetch(relayUrl, { method: "POST" }));
}

/** Time to the first chunk of the upstream's stream with text in it. */
async function chunkTtfd(request: () => Promise<Response>): Promise<number> {
  const sent = performance.now();
  const res = await request();
  let first = NaN;
  const parser = createParser({
    onEvent(e) {
      if (!Number.isNaN(first) || e.event === "start" || e.data === "[DONE]") return;
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

/** `deno run` flags for a server whose heap bench/heap_probe.ts reports. */
const HEAP_PROBE_FLAGS = ["--v8-flags=--expose-gc", "--preload=bench/heap_probe.ts"];

/**
 * The server's JS heap in use and the V8 heap's size (bytes) after a full garbage collection, so
 * memory held is told apart from garbage not yet collected: bench/heap_probe.ts answers SIGUSR2
 * on standard output.
 */
function heapProbe(server: ServerProcess) {
  let asked = 0;
  return {
    async collectedHeap(): Promise<{ used: number; total: number }> {
      const want = `heap-probe ${++asked} `;
      Deno.kill(server.pid, "SIGUSR2");
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline) {
        const line = server.stdout.findLast((l) => l.startsWith(want));
        if (line) {
          const [used, total] = line.slice(want.length).split(" ").map(Number);
          return { used, total };
        }
        await delay(20);
      }
      throw new Error(`${server.name} did not report its heap within 30 s (bench/heap_probe.ts)`);
    },
  };
}

const sorted = (values: number[]) => Float64Array.from(values).sort();
const rssKb = (pid: number) => {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
};

async function relayOverhead(storage: Storage): Promise<void> {
  const fake = await startFake(UPSTREAM_TTFT_MS, 0);
  // What any relay costs on this machine: a third process between the reader and the upstream.
  const bare = await startServer({
    name: "relay baseline",
    script: "bench/chat_relay_baseline.ts",
    env: { UPSTREAM_URL: fake.url, UPSTREAM_KEY: FAKE_OPENAI_KEY },
  });
  const server = await startHurukuro(storage, fake);
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
    for (let i = 0; i < 20; i++) {
      await ask();
      await upstreamTtfd(fake.url);
      await bareRelayTtfd(bare.url);
    }

    /** A plain authenticated API call (auth, rate limit, one query): every request's floor. */
    const plain = async () => {
      const sent = performance.now();
      const res = await fetch(`${server.url}/api/v1/wallet`, { headers: auth });
      await res.body?.cancel();
      return performance.now() - sent;
    };
    const direct: number[] = [], through: number[] = [], start: number[] = [];
    const relay: number[] = [], floor: number[] = [], viaBare: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      // Interleaved, so all see the same machine load.
      const d = await upstreamTtfd(fake.url);
      viaBare.push(await bareRelayTtfd(bare.url));
      const t = await ask();
      floor.push(await plain());
      direct.push(d);
      through.push(t.first);
      start.push(t.start);
      relay.push(t.first - t.start);
    }
    const [sd, st, ss, sr, sf, sb] = [
      direct,
      through,
      start,
      relay,
      floor,
      viaBare,
    ].map(sorted);
    const p = (s: Float64Array, q: number) => percentile(s, q);
    const rows = [
      ["upstream alone: TTFD", ms(p(sd, 50)), ms(p(sd, 99))],
      ["through a bare Deno relay (baseline): TTFD", ms(p(sb, 50)), ms(p(sb, 99))],
      ["through Hurukuro: TTFD", ms(p(st, 50)), ms(p(st, 99))],
      ["  of which: request → `start` (auth + preflight)", ms(p(ss, 50)), ms(p(ss, 99))],
      ["    for reference: GET /api/v1/wallet (auth + 1 query)", ms(p(sf, 50)), ms(p(sf, 99))],
      ["  of which: `start` → first delta", ms(p(sr, 50)), ms(p(sr, 99))],
      ["overhead: TTFD through − alone", ms(p(st, 50) - p(sd, 50)), ms(p(st, 99) - p(sd, 99))],
      [
        "  the bare relay's own: its TTFD − alone",
        ms(p(sb, 50) - p(sd, 50)),
        ms(p(sb, 99) - p(sd, 99)),
      ],
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
    const bare99 = p(sb, 99) - p(sd, 99);
    // A bare overhead at or under zero (noise) would make any ratio meaningless: 1 ms is the floor.
    const times = (x: number) => (x / Math.max(bare99, 1)).toFixed(2);
    console.log(
      `\nTTFD ratio through/alone: p50 ${(p(st, 50) / p(sd, 50)).toFixed(2)}×, p99 ${
        (p(st, 99) / p(sd, 99)).toFixed(2)
      }×; through Hurukuro / through the bare relay: p50 ${
        (p(st, 50) / p(sb, 50)).toFixed(2)
      }×, p99 ${(p(st, 99) / p(sb, 99)).toFixed(2)}×` +
        `\ntarget overhead p99 ≤ 2× the bare relay's (${ms(bare99)} ms): whole request ${
          ms(overhead99)
        } ms = ${times(overhead99)}× ${
          overhead99 <= 2 * Math.max(bare99, 1) ? "(met)" : "(NOT met)"
        }; relay alone ${ms(relay99)} ms = ${times(relay99)}× ${
          relay99 <= 2 * Math.max(bare99, 1) ? "(met)" : "(NOT met)"
        }`,
    );
  } finally {
    await server.stop();
    await bare.stop();
    await fake.stop();
  }
}

interface Held {
  /** Streams open during the measurement. */
  opened: number;
  /** What the per-stream figures divide by (the streams opened). */
  measured: number;
  openedMs: number;
  /** After the warm-up, no stream open. */
  rssBefore: number;
  /** With the streams open. */
  rssHeld: number;
  heapBefore: number;
  heapHeld: number;
  /** The V8 heap's size (live objects, free space, the young generation's reserve). */
  v8Before: number;
  v8Held: number;
  /**
   * A second batch of STREAMS opened on top of the first: RSS and JS heap with both held. What
   * each of these costs is the cost of one more stream once the process has grown for the first
   * batch (V8's young generation, pools, allocator arenas): the per-stream cost at the margin.
   */
  more: { opened: number; rss: number; heap: number };
  health?: string;
}

/**
 * Warms the process up with a few streams (JIT, pools, caches, the embedded database), released
 * and — for Hurukuro — stopped and billed, then opens STREAMS streams and measures RSS and JS heap
 * after a full GC before and with them open (the upstream is silent, so every stream is idle).
 * The warm-up is small on purpose: after a large released round, the next one reuses the memory
 * it freed, which would say nothing about what holding streams costs. The baseline is read about
 * 3 s after the warm-up streams are released (Hurukuro's 2 s grace period aborts their answers):
 * V8 goes on returning what a burst left for tens of seconds, so a baseline read later is lower
 * and the figure per stream higher.
 */
async function holdStreams(
  target: ServerProcess,
  heap: ReturnType<typeof heapProbe>,
  request: (signal: AbortSignal) => Promise<Response>,
  /** Hurukuro's URL: its /health and /metrics are read; none for the bare relay. */
  baseUrl?: string,
  /** Called once while the streams are held. */
  whileHeld?: () => void,
): Promise<Held> {
  /**
   * How each open stream is left. Aborting a `fetch` alone is not enough: with its body piped
   * into a reader, Deno's client kept about half of 1,000 such connections open (the server then
   * rightly holds those streams), while cancelling the reader closes every one.
   */
  const leavers: (() => void)[] = [];
  const open = async () => {
    const abort = new AbortController();
    let reader: ReadableStreamDefaultReader<string> | undefined;
    leavers.push(() => {
      reader?.cancel().catch(() => {});
      abort.abort();
    });
    // A stream the server never answers or never starts fails the round instead of hanging it.
    const limit = setTimeout(
      () => abort.abort(new Error(`no \`start\` event within ${OPEN_LIMIT_MS / 1000} s`)),
      OPEN_LIMIT_MS,
    );
    try {
      const res = await request(abort.signal);
      if (!res.ok) throw new Error(`ask: ${res.status} ${await res.text()}`);
      reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("event: start")) {
        const { value, done } = await reader!.read();
        if (done) throw new Error("stream ended before its start");
        text += value;
      }
    } finally {
      clearTimeout(limit);
    }
    // Held open: nothing more is read until the bench aborts it.
  };
  /** Opens `n` streams; returns how many opened. A few failures are reported, not hidden. */
  const round = async (n: number) => {
    const results = await Promise.allSettled(Array.from({ length: n }, open));
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    if (failed.length > 0) {
      const logged = target.stdout.filter((l) => l.includes('"error"')).slice(-1).join("\n");
      console.log(
        `!! ${failed.length} of ${n} streams failed to open: ${failed[0].reason}\n${logged}`,
      );
      if (failed.length > n / 100) throw new Error("more than 1% of the streams failed");
    }
    return n - failed.length;
  };
  try {
    await round(Math.min(WARM_UP_STREAMS, STREAMS));
    for (const leave of leavers.splice(0)) leave();
    // Hurukuro's grace period (2 s) lets those go; then their bills settle. The measurement
    // starts once none is left: objects of answers still settling are not idle streams' memory.
    await delay(3_000);
    if (baseUrl) await untilNoneGenerating(baseUrl);
    const { used: heapBefore, total: v8Before } = await heap.collectedHeap();
    const rssBefore = rssKb(target.pid);
    const started = performance.now();
    const opened = await round(STREAMS);
    const openedMs = performance.now() - started;
    const measured = opened;
    await delay(2_000);
    const { used: heapHeld, total: v8Held } = await heap.collectedHeap();
    const rssHeld = rssKb(target.pid);
    whileHeld?.();
    const health = baseUrl
      ? (await (await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(10_000) })).json())
        .status
      : undefined;
    const moreOpened = await round(STREAMS);
    await delay(2_000);
    const { used: moreHeap } = await heap.collectedHeap();
    const more = { opened: moreOpened, rss: rssKb(target.pid), heap: moreHeap };
    return {
      more,
      opened,
      measured,
      openedMs,
      rssBefore,
      rssHeld,
      heapBefore,
      heapHeld,
      v8Before,
      v8Held,
      health,
    };
  } finally {
    for (const leave of leavers) leave();
  }
}

/** Signs in to Hurukuro and holds idle essays there ({@link holdStreams}). */
async function holdEssays(server: ServerProcess, whileHeld?: () => void): Promise<Held> {
  const auth = await login(server.url);
  return await holdStreams(
    server,
    heapProbe(server),
    (signal) =>
      fetch(`${server.url}/api/v1/essays`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ text: "Take your time." }),
        signal,
      }),
    server.url,
    whileHeld,
  );
}

/** Waits (up to a minute) until the server's `/metrics` says no answer is being generated. */
async function untilNoneGenerating(baseUrl: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    const generating = Number(/^hurukuro_chat_streams_generating (\d+)$/m.exec(text)?.[1]);
    if (generating === 0) return;
    if (performance.now() > deadline) {
      throw new Error(`${generating} answers still generating a minute after their readers left`);
    }
    await delay(250);
  }
}

/** The median of `rounds` by RSS per stream, with all of them (for the spread). */
function median(rounds: Held[]): Held & { rounds: Held[] } {
  const byRss = [...rounds].sort((a, b) => perRss(a) - perRss(b));
  return { ...byRss[Math.floor((byRss.length - 1) / 2)], rounds };
}
const perRss = (h: Held) => (h.rssHeld - h.rssBefore) / h.measured;
const perHeap = (h: Held) => (h.heapHeld - h.heapBefore) / 1024 / h.measured;
/** RSS per stream of the second batch (see {@link Held.more}). */
const perRssMore = (h: Held) => (h.more.rss - h.rssHeld) / h.more.opened;
const perHeapMore = (h: Held) => (h.more.heap - h.heapHeld) / 1024 / h.more.opened;
/** The median over processes of a per-stream figure (each figure's own median process). */
const medianOf = (rounds: Held[], per: (h: Held) => number) => {
  const values = rounds.map(per).sort((a, b) => a - b);
  return values[Math.floor((values.length - 1) / 2)];
};
/**
 * What the V8 heap grew by beyond its live objects, per stream. Mostly the young generation:
 * V8 enlarges it while a burst allocates fast (opening 1,000 streams) and keeps it after, up to
 * its cap (16 MB per semi-space), so this is a one-off cost of the burst, not of each stream.
 */
const perV8Spare = (h: Held) =>
  ((h.v8Held - h.v8Before) - (h.heapHeld - h.heapBefore)) / 1024 /
  h.measured;

/**
 * The memory target, read both ways: the first batch's figure (which carries the process's
 * one-off growth for it) and the next batch's (the cost of one more stream).
 */
function verdict(h: Held & { rounds: Held[] }): string {
  const said = (kb: number) => `${kb.toFixed(1)} KB ${kb < 200 ? "(met)" : "(NOT met)"}`;
  return `the first ${integer(h.opened)} ${said(perRss(h))}, ` +
    `each of ${integer(h.more.opened)} more ${said(medianOf(h.rounds, perRssMore))}`;
}

async function idleStreams(storage: Storage): Promise<void> {
  const bases: Held[] = [], ourRounds: Held[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const [b, o] = await idleStreamsOnce(storage);
    bases.push(b);
    ourRounds.push(o);
  }
  const base = median(bases), ours = median(ourRounds);
  const kb = (n: number) => `${n.toFixed(1)} KB`;
  const mb = (n: number) => `${integer(n / 1024)} MB`;
  const spread = (h: { rounds: Held[] }, per: (r: Held) => number) => {
    const values = h.rounds.map(per);
    return `${kb(Math.min(...values))} – ${kb(Math.max(...values))}`;
  };
  console.log(
    table(["", "bare Deno relay", "Hurukuro"], [
      ["streams open (idle, upstream silent)", integer(base.opened), integer(ours.opened)],
      ["time to open them all", `${integer(base.openedMs)} ms`, `${integer(ours.openedMs)} ms`],
      ["RSS before (after a warm-up and a full GC)", mb(base.rssBefore), mb(ours.rssBefore)],
      ["RSS with the streams open", mb(base.rssHeld), mb(ours.rssHeld)],
      [
        `memory per idle stream (RSS, median of ${ROUNDS} processes)`,
        kb(perRss(base)),
        kb(perRss(ours)),
      ],
      ["  lowest – highest process", spread(base, perRss), spread(ours, perRss)],
      ["  of which JS heap (live objects)", kb(perHeap(base)), kb(perHeap(ours))],
      ["    lowest – highest process", spread(base, perHeap), spread(ours, perHeap)],
      [
        "  of which V8 heap holding no objects (young generation grown by the burst)",
        kb(perV8Spare(base)),
        kb(perV8Spare(ours)),
      ],
      [
        "  of which outside the V8 heap (connections, buffers, the allocator)",
        kb(perRss(base) - perHeap(base) - perV8Spare(base)),
        kb(perRss(ours) - perHeap(ours) - perV8Spare(ours)),
      ],
      [
        `memory per stream of ${integer(STREAMS)} more on top (RSS, median; the margin)`,
        kb(medianOf(base.rounds, perRssMore)),
        kb(medianOf(ours.rounds, perRssMore)),
      ],
      ["  lowest – highest process", spread(base, perRssMore), spread(ours, perRssMore)],
      [
        "  of which JS heap (live objects)",
        kb(medianOf(base.rounds, perHeapMore)),
        kb(medianOf(ours.rounds, perHeapMore)),
      ],
    ]),
  );
  console.log(
    `\n${integer(STREAMS)} streams held; Hurukuro's health while holding them: ${ours.health}` +
      `\nHurukuro / bare relay per stream: ${(perRss(ours) / perRss(base)).toFixed(2)}× RSS, ${
        (perHeap(ours) / perHeap(base)).toFixed(2)
      }× JS heap` +
      `\ntarget < 200 KB per idle stream: ${verdict(ours)}; above the bare relay: ${
        kb(perRss(ours) - perRss(base))
      }`,
  );
}

/**
 * Part 3: Hurukuro's idle streams when the upstream is HTTPS with HTTP/2. Every stream then shares
 * a few connections (lib/ai/fetch.ts spreads them, at most 100 per client, under the server's cap
 * of 128) instead of holding one each.
 */
async function idleStreamsHttp2(storage: Storage, dir: string): Promise<void> {
  const tls = await makeTlsFiles(dir);
  if (!tls) return console.log("skipped: the `openssl` command is not installed");
  const rounds: (Held & { upstreamConnections: number })[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const fake = await startFake(60_000, 0, tls);
    try {
      const server = await startHurukuro(storage, fake, HEAP_PROBE_FLAGS, tls.ca);
      try {
        const port = Number(new URL(fake.url).port);
        let upstreamConnections = 0;
        const held = await holdEssays(server, () => (upstreamConnections = connectionsTo(port)));
        rounds.push({ ...held, upstreamConnections });
      } finally {
        await server.stop();
      }
    } finally {
      await fake.stop();
    }
  }
  const ours = median(rounds);
  const values = rounds.map(perRss);
  console.log(table(["", "Hurukuro"], [
    ["streams open (idle, upstream silent)", integer(ours.opened)],
    [
      "connections to the upstream while they are open",
      rounds.map((r) => r.upstreamConnections).join(", "),
    ],
    [
      `memory per idle stream (RSS, median of ${ROUNDS} processes)`,
      `${perRss(ours).toFixed(1)} KB`,
    ],
    [
      "  lowest – highest process",
      `${Math.min(...values).toFixed(1)} KB – ${Math.max(...values).toFixed(1)} KB`,
    ],
    ["  of which JS heap (live objects)", `${perHeap(ours).toFixed(1)} KB`],
    [
      "  of which V8 heap holding no objects (young generation grown by the burst)",
      `${perV8Spare(ours).toFixed(1)} KB`,
    ],
    [
      `memory per stream of ${integer(STREAMS)} more on top (RSS, median; the margin)`,
      `${medianOf(rounds, perRssMore).toFixed(1)} KB`,
    ],
    [
      "  lowest – highest process",
      `${Math.min(...rounds.map(perRssMore)).toFixed(1)} KB – ${
        Math.max(...rounds.map(perRssMore)).toFixed(1)
      } KB`,
    ],
  ]));
  console.log(`\ntarget < 200 KB per idle stream: ${verdict(ours)} with an HTTP/2 upstream`);
}

/** One measurement of each, in fresh processes: the bare relay, then Hurukuro. */
async function idleStreamsOnce(storage: Storage): Promise<[Held, Held]> {
  const fake = await startFake(60_000, 0);
  try {
    // Baseline: the bare relay.
    const bare = await startServer({
      name: "relay baseline",
      script: "bench/chat_relay_baseline.ts",
      env: { UPSTREAM_URL: fake.url, UPSTREAM_KEY: FAKE_OPENAI_KEY },
      denoFlags: HEAP_PROBE_FLAGS,
    });
    let base: Held;
    try {
      base = await holdStreams(
        bare,
        heapProbe(bare),
        (signal) => fetch(bare.url, { method: "POST", signal }),
      );
    } finally {
      await bare.stop();
    }

    const server = await startHurukuro(storage, fake, HEAP_PROBE_FLAGS);
    let ours: Held;
    try {
      ours = await holdEssays(server);
    } finally {
      await server.stop();
    }

    return [base, ours];
  } finally {
    await fake.stop();
  }
}

export async function run(): Promise<void> {
  const dir = await childServerStorage("chat");
  try {
    const storage: Storage = { dataDir: dir.path, databaseUrl: dir.databaseUrl || undefined };
    console.log(
      `database: ${
        storage.databaseUrl
          ? "PostgreSQL server (DATABASE_URL)"
          : "embedded PGlite, in the server's process"
      }\n`,
    );
    await prepare(storage);
    if (PARTS.has("1")) {
      console.log("1. Relay overhead\n");
      await relayOverhead(storage);
    }
    if (PARTS.has("2")) {
      console.log(`\n2. ${integer(STREAMS)} concurrent idle streams in one process\n`);
      await idleStreams(storage);
    }
    if (!PARTS.has("3")) return;
    console.log(
      `\n3. The same from an HTTPS upstream speaking HTTP/2, as OpenAI, Anthropic and OpenRouter ` +
        `serve (128 streams per connection, as nginx allows)\n`,
    );
    await idleStreamsHttp2(storage, dir.path);
  } finally {
    await dir.remove();
  }
}
