/**
 * HTTP bench: how fast the real Hurukuro app answers, read against a plain `Deno.serve` baseline
 * measured in the same run, plus how long the server takes to start.
 *
 * 1. Cold start: spawn main.ts as `deno task start` runs it, on a fresh, temporary DATA_DIR (the
 *    first start creates the embedded database), and time spawn → first 200 on `GET /health`;
 *    stop it, then do the same again on the same DATA_DIR (the second start must answer within
 *    3 s).
 * 2. Load: the baseline (bench/baseline_server.ts) and then Hurukuro, each in a child process
 *    of its own, are loaded by npm `autocannon` running here: 50 connections, a 1 s warm-up
 *    whose figures are dropped, then BENCH_SECONDS (default 5) measured per target. The JSON
 *    route is `GET /api/v1/wallet` with an API key (key lookup, the per-minute limit in KV, one
 *    query): a user and key are prepared in the database between the starts and the load, with
 *    the tier's limit raised so the bench measures answers, not 429s.
 *
 * Every request goes to a loopback address, and each load run stops after its duration.
 */
import autocannon from "autocannon";
import { createApiKey } from "../lib/accounts/credentials.ts";
import { createUser } from "../lib/accounts/users.ts";
import { openDatabase } from "../lib/db/mod.ts";
import { memoryLogger } from "../lib/observability/log.ts";
import {
  assertLoopback,
  envNumber,
  integer,
  machineBusySeconds,
  makeTempDir,
  ms,
  ownCpuSeconds,
  percentile,
  processCpuSeconds,
  ROOT,
  seconds,
  type ServerProcess,
  START_FLAGS,
  startServer,
  type StopResult,
  table,
  waitForOk,
} from "./_support.ts";

export const description =
  "GET /health and GET /api/v1/wallet (API key) of the real app vs a plain Deno.serve; cold start";

const CONNECTIONS = 50;
const WARMUP_SECONDS = 1;
/** The target for a second start on an existing DATA_DIR. */
const SECOND_START_TARGET_MS = 3_000;

// --- autocannon, typed for the part used here (the package ships no types) ---------------------

interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Seconds before a request counts as timed out. */
  timeout: number;
}

interface LoadResult {
  /** Measured seconds. */
  duration: number;
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  throughput: { total: number };
}

interface LoadTracker {
  on(
    event: "response",
    listener: (client: unknown, status: number, bytes: number, ms: number) => void,
  ): void;
}

type Autocannon = (
  options: LoadOptions,
  done: (error: Error | null, result: LoadResult) => void,
) => LoadTracker;

/**
 * One autocannon run. `onResponse` sees every response with its latency in fractional ms
 * (autocannon's own histogram keeps whole milliseconds, too coarse for a sub-ms p50).
 */
function load(
  url: string,
  durationSeconds: number,
  onResponse?: (status: number, bytes: number, ms: number) => void,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  assertLoopback(url);
  return new Promise((resolve, reject) => {
    const tracker = (autocannon as unknown as Autocannon)(
      { url, headers, connections: CONNECTIONS, duration: durationSeconds, timeout: 10 },
      (error, result) => error ? reject(error) : resolve(result),
    );
    if (onResponse) {
      tracker.on("response", (_client, status, bytes, t) => onResponse(status, bytes, t));
    }
  });
}

// --- Load figures -------------------------------------------------------------------------------

interface Figures {
  label: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  /** Non-2xx answers, socket errors and timeouts during the measured run. */
  failures: number;
  bytesPerResponse: number;
  /** CPU used during the measured run, as a share of one core; null when unreadable. */
  serverCpu: number | null;
  generatorCpu: number;
  /** CPU the rest of the machine (other processes) used meanwhile, likewise; null if unknown. */
  otherCpu: number | null;
}

/** Warm-up, then the measured run, against `server.url + path`. */
async function measure(
  label: string,
  server: ServerProcess,
  path: string,
  durationSeconds: number,
  headers: Record<string, string> = {},
): Promise<Figures> {
  const url = server.url + path;
  // Warm-up: JIT on both sides, connections, caches. Its figures are dropped.
  await load(url, WARMUP_SECONDS, undefined, headers);

  const latencies: number[] = [];
  const cpuBefore = {
    own: ownCpuSeconds(),
    server: processCpuSeconds(server.pid),
    machine: machineBusySeconds(),
  };
  const started = performance.now();
  const result = await load(url, durationSeconds, (status, _bytes, t) => {
    if (status >= 200 && status < 300) latencies.push(t);
  }, headers);
  const wall = (performance.now() - started) / 1000;
  const serverAfter = processCpuSeconds(server.pid);
  const machineAfter = machineBusySeconds();
  const ownAfter = ownCpuSeconds();

  if (result["2xx"] === 0) {
    throw new Error(
      `${url}: no 2xx answer in ${durationSeconds} s (${result.non2xx} non-2xx, ` +
        `${result.errors} errors, ${result.timeouts} timeouts)`,
    );
  }
  const sorted = Float64Array.from(latencies).sort();
  const responses = result["2xx"] + result.non2xx;
  const serverCpu = cpuBefore.server === null || serverAfter === null
    ? null
    : (serverAfter - cpuBefore.server) / wall;
  const generatorCpu = (ownAfter - cpuBefore.own) / wall;
  const machineCpu = cpuBefore.machine === null || machineAfter === null
    ? null
    : (machineAfter - cpuBefore.machine) / wall;
  return {
    label,
    reqPerSec: result["2xx"] / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    failures: result.non2xx + result.errors + result.timeouts,
    bytesPerResponse: responses > 0 ? result.throughput.total / responses : 0,
    serverCpu,
    generatorCpu,
    otherCpu: machineCpu === null || serverCpu === null
      ? null
      : Math.max(0, machineCpu - serverCpu - generatorCpu),
  };
}

// --- Hurukuro as a child process ----------------------------------------------------------------

const API_ROUTE = "/api/v1/wallet";

/**
 * A user with an API key in the (stopped) server's embedded database, its tier's per-minute
 * limit raised out of the way. Returns the key.
 */
async function prepareApiKey(dataDir: string): Promise<string> {
  const db = await openDatabase({ embeddedDir: `${dataDir}/pg`, log: memoryLogger("warn") });
  try {
    const user = await createUser(db.sql, {
      email: "bench@example.com",
      password: "bench password long enough",
    });
    await db.sql`update tiers set requests_per_minute = 100000000
                 where name = (select tier from users where id = ${user.id})`;
    return (await createApiKey(db.sql, user.id, "bench")).key;
  } finally {
    await db.close();
  }
}

/**
 * The environment the Hurukuro child runs with. Set explicitly, because the real environment
 * wins over a developer's `.env`: embedded database and KV under the temporary DATA_DIR, test
 * mode (sandboxed upstreams), a free loopback port.
 */
function hurukuroEnv(dataDir: string, logLevel: "info" | "warn"): Record<string, string> {
  return {
    HURUKURO_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: dataDir,
    DATABASE_URL: "", // empty → the embedded database under DATA_DIR/pg
    DENO_KV_PATH: "", // empty → DATA_DIR/kv.sqlite3
    SANDBOX: "",
    LOG_LEVEL: logLevel,
  };
}

interface ColdStart {
  label: string;
  /** Spawn → "Hurukuro is running at …" printed. */
  announcedMs: number;
  /** Spawn → first 200 on /health. */
  firstOkMs: number;
  /** What the server itself logged as its startup time (config → listening), if it did. */
  serverStartupMs: number | null;
  notes: string[];
  stopped: StopResult;
}

/** The log lines (JSON) Hurukuro printed, parsed; other lines are skipped. */
function logRecords(lines: string[]): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      const record = JSON.parse(line);
      return record && typeof record === "object" ? [record] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Starts Hurukuro on `dataDir`, times it to the first 200 on /health, and stops it. Runs at
 * LOG_LEVEL=info to read the server's own startup figures (/health requests are never logged).
 */
async function coldStart(label: string, dataDir: string): Promise<ColdStart> {
  const server = await startServer({
    name: `Hurukuro (${label})`,
    script: "main.ts",
    env: hurukuroEnv(dataDir, "info"),
    timeoutMs: 180_000,
  });
  let firstOkAt: number;
  try {
    firstOkAt = await waitForOk(`${server.url}/health`, 30_000);
  } finally {
    await server.stop();
  }
  const stopped = await server.stop(); // the result of the stop above

  const notes: string[] = [];
  let serverStartupMs: number | null = null;
  for (const record of logRecords(server.stdout)) {
    if (record.msg === "listening" && typeof record.startupMs === "number") {
      serverStartupMs = record.startupMs;
    } else if (record.msg === "migrations applied" && Array.isArray(record.versions)) {
      notes.push(`${record.versions.length} migration(s) applied`);
    } else if (record.msg === "islands built") {
      notes.push(`islands built (${record.ms} ms)`);
    } else if (record.level === "warn" || record.level === "error") {
      notes.push(`${record.level}: ${record.msg}`);
    }
  }
  if (stopped.killed) notes.push("did not stop on SIGTERM within 15 s: killed");
  return {
    label,
    announcedMs: server.announcedMs,
    firstOkMs: firstOkAt - server.spawnedAt,
    serverStartupMs,
    notes,
    stopped,
  };
}

// --- The bench ----------------------------------------------------------------------------------

function loadGeneratorName(): string {
  try {
    const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
    return String(config.imports.autocannon).replace(/^npm:/, "npm ");
  } catch {
    return "npm autocannon";
  }
}

const percent = (share: number | null) => share === null ? "n/a" : `${Math.round(share * 100)}%`;
const ratio = (n: number) => `${n.toFixed(2)}×`;

/**
 * Which side set the pace: the load generator when this process was near one full core (that
 * server could answer faster than measured), else the server when it was; "?" when neither.
 */
function limit(r: Figures): string {
  if (r.generatorCpu >= 0.9) return "bench";
  if (r.serverCpu !== null && r.serverCpu >= 0.9) return "server";
  return "?";
}

export async function run(): Promise<void> {
  const durationSeconds = envNumber("BENCH_SECONDS", 5, 0.5, 120);
  const dataDir = await makeTempDir("hurukuro-bench-");
  try {
    // 1. Cold starts, on a fresh DATA_DIR and then again on the same one.
    console.log(
      `Cold start: spawn \`deno run -A ${
        START_FLAGS.join(" ")
      } main.ts\` → first 200 on GET /health`,
    );
    console.log(`  temporary DATA_DIR ${dataDir.path}; HURUKURO_ENV=test, LOG_LEVEL=info\n`);
    const starts = [
      await coldStart("1st start, fresh DATA_DIR", dataDir.path),
      await coldStart("2nd start, same DATA_DIR", dataDir.path),
    ];
    console.log(table(
      ["start", "URL printed", "first 200", "in start()", "stop", "notes"],
      starts.map((s) => [
        s.label,
        seconds(s.announcedMs),
        seconds(s.firstOkMs),
        s.serverStartupMs === null ? "n/a" : seconds(s.serverStartupMs),
        seconds(s.stopped.ms),
        s.notes.join("; ") || "-",
      ]),
      ["l", "r", "r", "r", "r", "l"],
    ));
    console.log(
      "  (in start(): the server's own figure from config to listening; the rest is Deno " +
        "starting and loading modules)",
    );
    const second = starts[1].firstOkMs;
    console.log(
      `  2nd start answered /health in ${seconds(second)}: ` +
        (second < SECOND_START_TARGET_MS ? "under" : "OVER") +
        ` the ${SECOND_START_TARGET_MS / 1000} s target\n`,
    );

    // 2. Load: the baseline first, then Hurukuro; only one server runs at a time.
    console.log(
      `HTTP load: ${loadGeneratorName()} in the bench process, ${CONNECTIONS} connections, ` +
        `${WARMUP_SECONDS} s warm-up + ${durationSeconds} s measured per target`,
    );
    console.log(
      "  each server in its own child process; Hurukuro with HURUKURO_ENV=test, embedded " +
        "database, LOG_LEVEL=warn (request logging off)\n",
    );
    const rows: Figures[] = [];
    const auth = { authorization: `Bearer ${await prepareApiKey(dataDir.path)}` };
    const baseline = await startServer({ name: "baseline", script: "bench/baseline_server.ts" });
    try {
      // Same path and headers as the JSON route below, so requests are byte for byte alike.
      rows.push(
        await measure(
          "baseline  plain Deno.serve JSON",
          baseline,
          API_ROUTE,
          durationSeconds,
          auth,
        ),
      );
    } finally {
      await baseline.stop();
    }
    const hurukuro = await startServer({
      name: "Hurukuro",
      script: "main.ts",
      env: hurukuroEnv(dataDir.path, "warn"),
      timeoutMs: 180_000,
    });
    try {
      await waitForOk(`${hurukuro.url}/health`, 30_000);
      rows.push(await measure("hurukuro  GET /health", hurukuro, "/health", durationSeconds));
      rows.push(
        await measure(`hurukuro  GET ${API_ROUTE}`, hurukuro, API_ROUTE, durationSeconds, auth),
      );
    } finally {
      await hurukuro.stop();
    }

    const base = rows[0];
    console.log(table(
      [
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "req/s vs base",
        "p99 vs base",
        "failures",
        "bytes/resp",
        "server CPU",
        "bench CPU",
        "other CPU",
        "limit",
      ],
      rows.map((r) => [
        r.label,
        integer(r.reqPerSec),
        ms(r.p50),
        ms(r.p99),
        ratio(r.reqPerSec / base.reqPerSec),
        ratio(r.p99 / base.p99),
        integer(r.failures),
        integer(r.bytesPerResponse),
        percent(r.serverCpu),
        percent(r.generatorCpu),
        percent(r.otherCpu),
        limit(r),
      ]),
    ));
    console.log(
      "  req/s counts 2xx answers; p50/p99 over 2xx latencies; failures = non-2xx + socket " +
        "errors + timeouts.\n" +
        "  CPU during the measured run, as a share of one core: server = the child process, " +
        "bench = this process (the load generator),\n  other = the rest of the machine. " +
        "limit = which side was near a full core (bench: that server could answer faster than\n" +
        "  shown, and on the baseline row the ratios then flatter Hurukuro; ?: neither, e.g. " +
        "the cores were shared with other work).",
    );
    const failed = rows.filter((r) => r.failures > 0);
    if (failed.length > 0) {
      console.log(`  WARNING: failures against ${failed.map((r) => r.label).join(", ")}`);
    }
    const contended = rows.filter((r) => r.otherCpu !== null && r.otherCpu >= 0.25);
    if (contended.length > 0) {
      console.log(
        `  WARNING: other processes used ≥ 25% of a core during ` +
          `${contended.map((r) => r.label.replace(/\s+/g, " ")).join(", ")}: figures are noisy, ` +
          "run again on an idle machine",
      );
    }
  } finally {
    await dataDir.remove();
  }
}
