/**
 * HTTP bench: how fast the real Hurukuro app answers through the full middleware a user gets
 * (request id, metrics, access log at LOG_LEVEL=info, security headers), read against plain
 * `Deno.serve` baselines measured in the same run, plus how long the server takes to start.
 *
 * 1. Cold start: spawn main.ts as `deno task start` runs it, on a fresh, temporary DATA_DIR (the
 *    first start creates the embedded database), and time spawn → first 200 on `GET /health`;
 *    stop it, then do the same again on the same DATA_DIR (the second start must answer within
 *    3 s).
 * 2. Load, closed loop to saturation: npm `autocannon` in this process keeps 50 connections
 *    busy (each sends its next request when the last is answered), a 1 s warm-up whose figures
 *    are dropped, then BENCH_SECONDS (default 5) measured per target. The server under test runs
 *    pinned to CPU 0 and this process to CPU 1 where `taskset` exists (the layout is printed;
 *    a ratio is printed only between rows measured in the same layout). Targets, one server at a
 *    time: the baselines (bench/baseline_server.ts: a static file from memory, and the wallet's
 *    `select` through postgres.js), then Hurukuro: `GET /static/app.css`, a 404, `GET /health`
 *    and `GET /api/v1/wallet` with an API key (key and owner in one query, the per-minute limit
 *    counted in memory, the balance query). A user and key are prepared in the database between
 *    the starts and the load, with the tier's limit raised so the bench measures answers, not
 *    429s. With DATABASE_URL set, both servers use a fresh database on that server instead of
 *    the embedded one.
 *
 * Every request goes to a loopback address, and each load run stops after its duration.
 */
import { type LoadResult, runLoad } from "./_autocannon.ts";
import { createApiKey } from "../lib/accounts/credentials.ts";
import { createUser } from "../lib/accounts/users.ts";
import { openDatabase } from "../lib/db/mod.ts";
import { memoryLogger } from "../lib/observability/log.ts";
import {
  assertLoopback,
  type CpuLayout,
  delay,
  envNumber,
  freshServerDatabase,
  integer,
  machineBusySeconds,
  makeTempDir,
  ms,
  onCleanup,
  ownCpuSeconds,
  p50AndP99,
  pinForLoad,
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

export const description = "static file, 404, /health and /api/v1/wallet (API key) of the real " +
  "app, closed loop, vs plain Deno.serve (+ postgres.js for the wallet's select); cold start";

const CONNECTIONS = 50;
const WARMUP_SECONDS = 1;
/** Quiet time after Hurukuro answers its first /health, before the load. */
const SETTLE_MS = 3_000;
/** The target for a second start on an existing DATA_DIR. */
const SECOND_START_TARGET_MS = 3_000;

/** One autocannon run against `url` with the bench's connections (GET, `headers`). */
function load(
  url: string,
  durationSeconds: number,
  onResponse?: (status: number, bytes: number, ms: number) => void,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  assertLoopback(url);
  return runLoad(
    { url, headers, connections: CONNECTIONS, duration: durationSeconds, timeout: 10 },
    onResponse,
  );
}

// --- Load figures -------------------------------------------------------------------------------

interface Target {
  label: string;
  path: string;
  headers?: Record<string, string>;
  /** The status every answer should have (a 404 target expects 404s). */
  status: number;
}

interface Figures {
  label: string;
  /** Where the server and the load generator ran. */
  layout: string;
  /** Answers with the expected status per second. */
  reqPerSec: number;
  p50: number;
  p99: number;
  /** Other statuses, socket errors and timeouts during the measured run. */
  failures: number;
  bytesPerResponse: number;
  /** CPU used during the measured run, as a share of one core; null when unreadable. */
  serverCpu: number | null;
  /** The server's CPU time per answer, in µs: what a busy machine changes least. */
  serverUsPerRequest: number | null;
  generatorCpu: number;
  /** CPU the rest of the machine (other processes) used meanwhile, likewise; null if unknown. */
  otherCpu: number | null;
}

/** Warm-up, then the measured run, against `server.url + target.path`. */
async function measure(
  server: ServerProcess,
  target: Target,
  durationSeconds: number,
  layout: CpuLayout,
): Promise<Figures> {
  const url = server.url + target.path;
  const headers = target.headers ?? {};
  // Warm-up: JIT on both sides, connections, caches. Its figures are dropped.
  await load(url, WARMUP_SECONDS, undefined, headers);

  const latencies: number[] = [];
  let other = 0;
  const cpuBefore = {
    own: ownCpuSeconds(),
    server: processCpuSeconds(server.pid),
    machine: machineBusySeconds(),
  };
  const started = performance.now();
  const result = await load(url, durationSeconds, (status, _bytes, t) => {
    if (status === target.status) latencies.push(t);
    else other++;
  }, headers);
  const wall = (performance.now() - started) / 1000;
  const serverAfter = processCpuSeconds(server.pid);
  const machineAfter = machineBusySeconds();
  const ownAfter = ownCpuSeconds();

  if (latencies.length === 0) {
    throw new Error(
      `${url}: no ${target.status} answer in ${durationSeconds} s (${other} others, ` +
        `${result.errors} errors, ${result.timeouts} timeouts)`,
    );
  }
  const responses = result["2xx"] + result.non2xx;
  const serverSeconds = cpuBefore.server === null || serverAfter === null
    ? null
    : serverAfter - cpuBefore.server;
  const serverCpu = serverSeconds === null ? null : serverSeconds / wall;
  const generatorCpu = (ownAfter - cpuBefore.own) / wall;
  const machineCpu = cpuBefore.machine === null || machineAfter === null
    ? null
    : (machineAfter - cpuBefore.machine) / wall;
  return {
    label: target.label,
    layout: layout.label,
    reqPerSec: latencies.length / result.duration,
    ...p50AndP99(latencies),
    failures: other + result.errors + result.timeouts,
    bytesPerResponse: responses > 0 ? result.throughput.total / responses : 0,
    serverCpu,
    serverUsPerRequest: serverSeconds === null ? null : serverSeconds * 1e6 / responses,
    generatorCpu,
    otherCpu: machineCpu === null || serverCpu === null
      ? null
      : Math.max(0, machineCpu - serverCpu - generatorCpu),
  };
}

// --- Hurukuro as a child process ----------------------------------------------------------------

const API_ROUTE = "/api/v1/wallet";

/** The database both servers use: the embedded one under DATA_DIR, or one on a server. */
interface BenchDatabase {
  /** Empty for the embedded database. */
  url: string;
  label: string;
}

/**
 * A user with an API key in the (stopped) server's database, its tier's per-minute limit raised
 * out of the way. Returns the key and the user's id.
 */
async function prepareApiKey(
  dataDir: string,
  database: BenchDatabase,
): Promise<{ key: string; userId: string }> {
  const db = await openDatabase({
    databaseUrl: database.url || undefined,
    embeddedDir: `${dataDir}/pg`,
    log: memoryLogger("warn"),
  });
  try {
    const user = await createUser(db.sql, {
      email: "bench@example.com",
      password: "bench password long enough",
    });
    await db.sql`update tiers set requests_per_minute = 100000000
                 where name = (select tier from users where id = ${user.id})`;
    return { key: (await createApiKey(db.sql, user.id, "bench")).key, userId: user.id };
  } finally {
    await db.close();
  }
}

/**
 * The environment the Hurukuro child runs with. Set explicitly, because the real environment
 * wins over a developer's `.env`: embedded database and KV under the temporary DATA_DIR, test
 * mode (sandboxed upstreams), a free loopback port.
 */
function hurukuroEnv(dataDir: string, database: BenchDatabase): Record<string, string> {
  return {
    HURUKURO_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: dataDir,
    DATABASE_URL: database.url, // empty → the embedded database under DATA_DIR/pg
    DENO_KV_PATH: "", // empty → DATA_DIR/kv.sqlite3
    SANDBOX: "",
    // As users get it: every request logged (the access log is part of the path measured).
    LOG_LEVEL: "info",
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
async function coldStart(
  label: string,
  dataDir: string,
  database: BenchDatabase,
): Promise<ColdStart> {
  const server = await startServer({
    name: `Hurukuro (${label})`,
    script: "main.ts",
    env: hurukuroEnv(dataDir, database),
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

/** Hurukuro's targets, each read against one baseline with the ratio it must reach. */
interface Comparison {
  target: Target;
  baseline: string;
  minRatio: number | null;
}

/** `row` against `base`: refused when the two ran in different process layouts. */
function ratioCell(row: Figures, base: Figures | undefined, pick: (f: Figures) => number): string {
  if (!base) return "";
  if (row.layout !== base.layout) return "n/a (layout differs)";
  return ratio(pick(row) / pick(base));
}

export async function run(): Promise<void> {
  const durationSeconds = envNumber("BENCH_SECONDS", 5, 0.5, 120);
  const dataDir = await makeTempDir("hurukuro-bench-");
  const serverUrl = Deno.env.get("DATABASE_URL");
  const database: BenchDatabase = serverUrl
    ? { url: await freshServerDatabase(serverUrl, "http"), label: "a fresh PostgreSQL database" }
    : { url: "", label: "the embedded database" };
  try {
    // 1. Cold starts, on a fresh DATA_DIR and then again on the same one.
    console.log(
      `Cold start: spawn \`deno run -A ${
        START_FLAGS.join(" ")
      } main.ts\` → first 200 on GET /health`,
    );
    console.log(
      `  temporary DATA_DIR ${dataDir.path}; ${database.label}; HURUKURO_ENV=test, ` +
        "LOG_LEVEL=info\n",
    );
    const starts = [
      await coldStart("1st start, fresh DATA_DIR", dataDir.path, database),
      await coldStart("2nd start, same DATA_DIR", dataDir.path, database),
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

    // 2. Load, closed loop: the baselines first, then Hurukuro; one server runs at a time.
    const layout = await pinForLoad();
    onCleanup(() => layout.release());
    console.log(
      `HTTP load: ${loadGeneratorName()} in the bench process, ${CONNECTIONS} connections ` +
        `(closed loop), ${WARMUP_SECONDS} s warm-up + ${durationSeconds} s measured per target`,
    );
    console.log(`  layout: ${layout.label}`);
    console.log(
      `  each server in its own child process; Hurukuro with HURUKURO_ENV=test, ` +
        `${database.label}, LOG_LEVEL=info (every request logged, as users get it)\n`,
    );
    const { key, userId } = await prepareApiKey(dataDir.path, database);
    const auth = { authorization: `Bearer ${key}` };
    const STATIC = "/static/app.css";
    const baselineTargets: Target[] = [
      { label: "baseline  Deno.serve, static file", path: STATIC, status: 200 },
      {
        label: "baseline  Deno.serve + postgres.js select",
        path: API_ROUTE,
        headers: auth,
        status: 200,
      },
    ];
    const [staticBase, selectBase] = baselineTargets.map((t) => t.label);
    const comparisons: Comparison[] = [
      {
        target: { label: `hurukuro  GET ${STATIC}`, path: STATIC, status: 200 },
        baseline: staticBase,
        minRatio: 0.3,
      },
      {
        target: { label: "hurukuro  GET /nothing-here (404)", path: "/nothing-here", status: 404 },
        baseline: staticBase,
        minRatio: 0.3,
      },
      {
        target: { label: "hurukuro  GET /health", path: "/health", status: 200 },
        baseline: staticBase,
        minRatio: null,
      },
      {
        target: {
          label: `hurukuro  GET ${API_ROUTE}, API key`,
          path: API_ROUTE,
          headers: auth,
          status: 200,
        },
        baseline: selectBase,
        minRatio: 0.5,
      },
    ];

    const rows: Figures[] = [];
    const baseline = await startServer({
      name: "baseline",
      script: "bench/baseline_server.ts",
      cpus: layout.server ?? undefined,
      env: {
        BASELINE_DATABASE_URL: database.url,
        BASELINE_EMBEDDED_DIR: database.url ? "" : `${dataDir.path}/pg`,
        BASELINE_USER_ID: userId,
      },
    });
    try {
      for (const target of baselineTargets) {
        rows.push(await measure(baseline, target, durationSeconds, layout));
      }
    } finally {
      await baseline.stop();
    }
    const hurukuro = await startServer({
      name: "Hurukuro",
      script: "main.ts",
      env: hurukuroEnv(dataDir.path, database),
      timeoutMs: 180_000,
      cpus: layout.server ?? undefined,
      quietAfterStart: true,
      profiled: true,
    });
    try {
      await waitForOk(`${hurukuro.url}/health`, 30_000);
      // Work the start leaves running (the tokenizer's tables, first job sweeps) is not the
      // request path's: let it finish before the first warm-up.
      await delay(SETTLE_MS);
      for (const { target } of comparisons) {
        rows.push(await measure(hurukuro, target, durationSeconds, layout));
      }
    } finally {
      await hurukuro.stop();
    }

    const byLabel = new Map(rows.map((r) => [r.label, r]));
    const against = new Map(comparisons.map((c) => [c.target.label, c]));
    console.log(table(
      [
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "req/s vs base",
        "p99 vs base",
        "goal",
        "failures",
        "bytes/resp",
        "server µs/req",
        "server CPU",
        "bench CPU",
        "other CPU",
        "limit",
      ],
      rows.map((r) => {
        const comparison = against.get(r.label);
        const base = comparison && byLabel.get(comparison.baseline);
        const ratioShown = ratioCell(r, base, (f) => f.reqPerSec);
        let goal = "";
        if (comparison?.minRatio != null && base) {
          goal = r.layout !== base.layout ? "n/a" : `≥ ${comparison.minRatio}: ` +
            (r.reqPerSec / base.reqPerSec >= comparison.minRatio ? "met" : "NOT MET");
        }
        return [
          r.label,
          integer(r.reqPerSec),
          ms(r.p50),
          ms(r.p99),
          ratioShown,
          ratioCell(r, base, (f) => f.p99),
          goal,
          integer(r.failures),
          integer(r.bytesPerResponse),
          r.serverUsPerRequest === null ? "n/a" : integer(r.serverUsPerRequest),
          percent(r.serverCpu),
          percent(r.generatorCpu),
          percent(r.otherCpu),
          limit(r),
        ];
      }),
    ));
    console.log(
      `  static file and 404 are read against "${staticBase.replace(/\s+/g, " ")}", the wallet ` +
        `against "${selectBase.replace(/\s+/g, " ")}".\n` +
        "  req/s counts answers with the expected status (404 for the 404 target); p50/p99 over " +
        "those; failures = other statuses + socket errors + timeouts.\n" +
        "  server µs/req: the server's CPU time per answer (it changes least when other work " +
        "shares the machine).\n" +
        "  CPU during the measured run, as a share of one core: server = the child process, " +
        "bench = this process (the load generator),\n  other = the rest of the machine. " +
        "limit = which side was near a full core (bench: that server could answer faster than\n" +
        "  shown, and on a baseline row the ratios then flatter Hurukuro; ?: neither, e.g. " +
        "the cores were shared with other work).",
    );
    const failed = rows.filter((r) => r.failures > 0);
    if (failed.length > 0) {
      console.log(`  WARNING: failures against ${failed.map((r) => r.label).join(", ")}`);
    }
    const contended = rows.filter((r) => r.otherCpu !== null && r.otherCpu >= 0.25);
    if (contended.length > 0) {
      const worst = Math.max(...contended.map((r) => r.otherCpu!));
      console.log(
        `  WARNING: the machine was busy: other processes used ≥ 25% of a core during ` +
          `${contended.length} of ${rows.length} runs (up to ${percent(worst)}): ` +
          `${contended.map((r) => r.label.replace(/\s+/g, " ")).join(", ")}. ` +
          "Figures are noisy; run again on an idle machine.",
      );
    }
  } finally {
    await dataDir.remove();
  }
}
