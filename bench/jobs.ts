/**
 * Jobs bench: Hurukuro's JobQueue end to end (enqueue → handler done), read against bare Deno KV
 * queues measured in the same run, plus how late delayed jobs run.
 *
 * The whole app runs in this process (main.ts `start()`, the embedded database, cron off), with
 * KV in a file under a temporary DATA_DIR as in production; the enqueuer shares the app's event
 * loop, as the app's own request handlers do. Every measurement gets a fresh KV file: a fresh
 * app for Hurukuro, a fresh `Deno.openKv(file)` with one `listenQueue` for bare KV.
 *
 * 1. Throughput: BENCH_JOBS (default 10,000) no-op jobs, timed from the first enqueue until the
 *    last handler has run, for two enqueue styles: one call per job (50 awaited in flight) and
 *    batches of 400 (`enqueueMany` / one atomic commit of 400 `enqueue`s). A warm-up of 200
 *    jobs runs first on the same KV and is not counted.
 * 2. Delay accuracy: 500 jobs with delays spread evenly over 1–3 s, queued in one batch; each
 *    job's lateness = when its handler ran − (time before the enqueue call + its delay).
 */
import { join } from "node:path";
import { z } from "zod";
import { benchStorage, startBenchApp } from "./_app.ts";
import { defineHandler, jobType, LANE_CONCURRENCY } from "../lib/jobs/types.ts";
import {
  delay,
  envNumber,
  integer,
  machineBusySeconds,
  ms,
  onCleanup,
  ownCpuSeconds,
  percentile,
  seconds,
  table,
} from "./_support.ts";

export const description =
  "JobQueue on Deno KV end to end (enqueue → handler done) and delayed-job lateness vs bare KV queues";

/** Calls of `enqueue` awaited at once in the one-call-per-job style. */
const IN_FLIGHT = 50;
/** Jobs per `enqueueMany` call / per atomic commit: JobQueue's own commit size. */
const BATCH = 400;
const WARMUP_JOBS = 200;
const DELAYED_JOBS = 500;
const DELAY_MIN_MS = 1_000;
const DELAY_MAX_MS = 3_000;
/** The target for end-to-end throughput. */
const TARGET_JOBS_PER_SECOND = 1_000;

// --- Completions --------------------------------------------------------------------------------

/** What every bench job carries: the measurement it belongs to and its index there. */
interface Message {
  r: number;
  i: number;
}

/** Counts the handler runs of one measurement; resolves `all` at the last one. */
class Completions {
  readonly #seen: Uint8Array;
  count = 0;
  duplicates = 0;
  /** `performance.now()` when the last expected job ran. */
  lastAt = 0;
  readonly all: Promise<void>;
  #resolve!: () => void;

  constructor(
    readonly run: number,
    readonly expected: number,
    readonly onHit?: (i: number, at: number) => void,
  ) {
    this.#seen = new Uint8Array(expected);
    this.all = new Promise((resolve) => this.#resolve = resolve);
  }

  hit(i: number): void {
    const at = performance.now();
    if (this.#seen[i]) {
      this.duplicates++;
      return;
    }
    this.#seen[i] = 1;
    this.onHit?.(i, at);
    if (++this.count === this.expected) {
      this.lastAt = at;
      this.#resolve();
    }
  }
}

let runs = 0;
let current: Completions | null = null;
/** Handler runs that belong to no measurement in progress (a late redelivery). */
let stray = 0;

function record(m: Message): void {
  if (current && m.r === current.run && m.i >= 0 && m.i < current.expected) current.hit(m.i);
  else stray++;
}

/** Starts counting a new measurement of `expected` jobs. */
function track(expected: number, onHit?: (i: number, at: number) => void): Completions {
  current = new Completions(++runs, expected, onHit);
  return current;
}

/** Waits for every job of `c`; throws after `timeoutMs`, saying how far it got. */
async function waitAll(c: Completions, timeoutMs: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      c.all,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() =>
          reject(
            new Error(
              `${what}: ${c.count} of ${c.expected} jobs handled after ${timeoutMs / 1000} s`,
            ),
          ), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// --- The no-op job --------------------------------------------------------------------------------

const benchJob = jobType({
  name: "bench.noop",
  schema: z.object({ r: z.number().int(), i: z.number().int() }),
});

const benchHandler = defineHandler(benchJob, (payload) => {
  record(payload);
  return Promise.resolve();
});

// --- The two targets ------------------------------------------------------------------------------

interface Target {
  name: string;
  /** Queues jobs `0 … n-1` of measurement `r`, one call per job, IN_FLIGHT calls at once. */
  one(r: number, n: number): Promise<void>;
  /** The same in batches of BATCH jobs per call, one call after the other. */
  batched(r: number, n: number): Promise<void>;
  /** Queues the delayed jobs (index i with `delays[i]`) in batches of BATCH. */
  delayed(r: number, delays: number[]): Promise<void>;
  /** Notes for the report (warnings logged, backlog left). */
  notes(): Promise<string[]>;
  close(): Promise<void>;
}

/** `fn(0 … n-1)`, with at most `inFlight` calls awaited at once. */
async function pool(n: number, inFlight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}

function chunks(n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i += BATCH) out.push([i, Math.min(n, i + BATCH)]);
  return out;
}

async function commit(op: Deno.AtomicOperation): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error("bare KV: atomic enqueue commit failed");
}

let kvFiles = 0;

/** Bare Deno KV: a fresh file, one `listenQueue` whose handler only counts. */
async function bareKv(dataDir: string): Promise<Target> {
  const kv = await Deno.openKv(join(dataDir, `bare-${++kvFiles}.sqlite3`));
  const listening = kv.listenQueue((m) => record(m as Message));
  const close = onCleanup(async () => {
    kv.close();
    await listening.catch(() => {});
  });
  return {
    name: "bare KV",
    one: (r, n) => pool(n, IN_FLIGHT, (i) => kv.enqueue({ r, i })),
    async batched(r, n) {
      for (const [from, to] of chunks(n)) {
        const op = kv.atomic();
        for (let i = from; i < to; i++) op.enqueue({ r, i });
        await commit(op);
      }
    },
    async delayed(r, delays) {
      for (const [from, to] of chunks(delays.length)) {
        const op = kv.atomic();
        for (let i = from; i < to; i++) op.enqueue({ r, i }, { delay: delays[i] });
        await commit(op);
      }
    },
    notes: () => Promise.resolve([]),
    close,
  };
}

/**
 * Hurukuro: the whole app on the shared storage with a fresh KV file, its production lanes and
 * LOG_LEVEL=info (one "job done" line per job), the log going to a file in DATA_DIR.
 */
async function hurukuro(
  storage: { dataDir: string; env: Record<string, string> },
): Promise<Target> {
  const n = ++kvFiles;
  const { running, problems, close } = await startBenchApp({
    storage,
    logName: `app-${n}.log`,
    kvPath: join(storage.dataDir, `kv-${n}.sqlite3`),
    extraHandlers: [benchHandler],
  });
  const queue = running.queue;
  return {
    name: "hurukuro",
    one: (r, n) => pool(n, IN_FLIGHT, (i) => queue.enqueue(benchJob, { r, i })),
    async batched(r, n) {
      for (const [from, to] of chunks(n)) {
        const items = [];
        for (let i = from; i < to; i++) items.push({ payload: { r, i } });
        await queue.enqueueMany(benchJob, items);
      }
    },
    async delayed(r, delays) {
      for (const [from, to] of chunks(delays.length)) {
        const items = [];
        for (let i = from; i < to; i++) items.push({ payload: { r, i }, delay: delays[i] });
        await queue.enqueueMany(benchJob, items);
      }
    },
    async notes() {
      await delay(50); // the completion markers are committed every 10 ms
      const backlog = await queue.backlog();
      return [
        ...(backlog > 0 ? [`backlog ${backlog} after the run`] : []),
        ...problems.map((line) => `logged: ${line.slice(0, 200)}`),
      ];
    },
    close,
  };
}

// --- CPU by thread ------------------------------------------------------------------------------

/**
 * CPU seconds (user + system) so far of this process's main thread (JavaScript: the app, its
 * JobQueue and the enqueuer) and of Deno KV's SQLite threads (one per open KV, named `sw-0`: every
 * KV read, commit, dequeue and acknowledgement runs there, one at a time). Linux only; null where
 * /proc cannot be read.
 */
function threadCpuSeconds(): { js: number; kv: number } | null {
  try {
    let js = 0;
    let kv = 0;
    for (const task of Deno.readDirSync("/proc/self/task")) {
      let stat: string;
      try {
        stat = Deno.readTextFileSync(`/proc/self/task/${task.name}/stat`);
      } catch {
        continue; // the thread ended meanwhile
      }
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
      if (task.name === String(Deno.pid)) js += cpu;
      else if (/^sw-\d+$/.test(comm)) kv += cpu;
    }
    return { js, kv };
  } catch {
    return null;
  }
}

// --- Measurements ---------------------------------------------------------------------------------

interface Throughput {
  target: string;
  style: string;
  jobs: number;
  /** First enqueue → last enqueue call resolved. */
  enqueueMs: number;
  /** First enqueue → last handler ran. */
  totalMs: number;
  /** This process's CPU during the run, as a share of one core. */
  cpu: number;
  /** The rest of the machine's CPU meanwhile, likewise; null when unreadable. */
  otherCpu: number | null;
  /** CPU µs per job on the main (JavaScript) thread and on KV's SQLite thread; null if unknown. */
  jsUsPerJob: number | null;
  kvUsPerJob: number | null;
  duplicates: number;
  notes: string[];
}

async function throughput(
  target: Target,
  style: "one" | "batched",
  jobs: number,
): Promise<Throughput> {
  const enqueue = (r: number, n: number) =>
    style === "one" ? target.one(r, n) : target.batched(r, n);
  const warm = track(WARMUP_JOBS);
  await enqueue(warm.run, WARMUP_JOBS);
  await waitAll(warm, 30_000, `${target.name} warm-up`);
  await delay(100); // the warm-up's acknowledgements and completion markers land

  const c = track(jobs);
  const cpuBefore = ownCpuSeconds();
  const machineBefore = machineBusySeconds();
  const threadsBefore = threadCpuSeconds();
  const started = performance.now();
  await enqueue(c.run, jobs);
  const enqueued = performance.now();
  await waitAll(c, 20_000 + jobs * 10, `${target.name}, ${style}`);
  const wall = (c.lastAt - started) / 1000;
  const cpu = (ownCpuSeconds() - cpuBefore) / wall;
  const machineAfter = machineBusySeconds();
  const threadsAfter = threadCpuSeconds();
  const perJob = (pick: (t: { js: number; kv: number }) => number) =>
    threadsBefore && threadsAfter
      ? ((pick(threadsAfter) - pick(threadsBefore)) / jobs) * 1e6
      : null;
  const machine = machineBefore === null || machineAfter === null
    ? null
    : (machineAfter - machineBefore) / wall;
  current = null;
  return {
    target: target.name,
    style: style === "one"
      ? `1 per call, ${IN_FLIGHT} in flight`
      : `${BATCH} per ${target.name === "hurukuro" ? "enqueueMany" : "atomic commit"}`,
    jobs,
    enqueueMs: enqueued - started,
    totalMs: c.lastAt - started,
    cpu,
    otherCpu: machine === null ? null : Math.max(0, machine - cpu),
    jsUsPerJob: perJob((t) => t.js),
    kvUsPerJob: perJob((t) => t.kv),
    duplicates: c.duplicates,
    notes: await target.notes(),
  };
}

interface Lateness {
  target: string;
  /** Milliseconds late, sorted. */
  late: Float64Array;
  duplicates: number;
  notes: string[];
}

async function lateness(target: Target): Promise<Lateness> {
  const delays = Array.from(
    { length: DELAYED_JOBS },
    (_, i) => DELAY_MIN_MS + ((DELAY_MAX_MS - DELAY_MIN_MS) * i) / (DELAYED_JOBS - 1),
  );
  const late = new Float64Array(DELAYED_JOBS);
  let started = 0;
  const c = track(DELAYED_JOBS, (i, at) => late[i] = at - (started + delays[i]));
  started = performance.now();
  await target.delayed(c.run, delays);
  await waitAll(c, DELAY_MAX_MS + 20_000, `${target.name}, delayed jobs`);
  current = null;
  return {
    target: target.name,
    late: late.sort(),
    duplicates: c.duplicates,
    notes: await target.notes(),
  };
}

/** Opens a target, measures on it, and closes it whatever happens. */
async function measureOn<T>(open: () => Promise<Target>, fn: (t: Target) => Promise<T>) {
  const target = await open();
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

// --- The bench ------------------------------------------------------------------------------------

const percent = (share: number | null) => share === null ? "n/a" : `${Math.round(share * 100)}%`;

export async function run(): Promise<void> {
  stray = 0;
  const jobs = envNumber("BENCH_JOBS", 10_000, 100, 1_000_000);
  const storage = await benchStorage();
  const removeStorage = storage.remove;
  try {
    console.log(
      `Throughput: ${integer(jobs)} no-op jobs, first enqueue → last handler run ` +
        `(after a ${WARMUP_JOBS}-job warm-up on the same KV)`,
    );
    console.log(
      `  everything in this process; a fresh KV file under the temporary DATA_DIR per row; ` +
        `hurukuro = main.ts start() (embedded database, production lanes: default ` +
        `${LANE_CONCURRENCY.default}, LOG_LEVEL=info to a file)\n`,
    );
    // Each style: bare KV, then Hurukuro (its ratio is against the bare KV row just before it).
    const rows: (Throughput & { base: Throughput })[] = [];
    for (const style of ["one", "batched"] as const) {
      const bare = await measureOn(
        () => bareKv(storage.dataDir),
        (t) => throughput(t, style, jobs),
      );
      const ours = await measureOn(() => hurukuro(storage), (t) => throughput(t, style, jobs));
      rows.push({ ...bare, base: bare }, { ...ours, base: bare });
    }
    console.log(table(
      [
        "target",
        "enqueue style",
        "enqueued in",
        "enqueue/s",
        "all handled in",
        "jobs/s",
        "vs bare KV",
        "JS µs/job",
        "KV µs/job",
        "CPU",
        "other CPU",
      ],
      rows.map((r) => [
        r.target,
        r.style,
        seconds(r.enqueueMs),
        integer(r.jobs / (r.enqueueMs / 1000)),
        seconds(r.totalMs),
        integer(r.jobs / (r.totalMs / 1000)),
        `${((r.jobs / r.totalMs) / (r.base.jobs / r.base.totalMs)).toFixed(2)}×`,
        r.jsUsPerJob === null ? "n/a" : integer(r.jsUsPerJob),
        r.kvUsPerJob === null ? "n/a" : integer(r.kvUsPerJob),
        percent(r.cpu),
        percent(r.otherCpu),
      ]),
      ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    ));
    console.log(
      "  jobs/s = jobs / (first enqueue → last handler run). JS / KV µs/job = CPU per job of the " +
        "main (JavaScript) thread / of KV's SQLite\n  thread, which runs every KV read, commit, " +
        "dequeue and acknowledgement one at a time (the sturdier figures on a busy machine).\n" +
        "  CPU = this whole process as a share of one core; other = the rest of the machine " +
        "(other processes, and the kernel writing the KV file).",
    );
    for (const r of rows) {
      if (r.duplicates > 0) {
        console.log(`  WARNING: ${r.target}, ${r.style}: ${r.duplicates} ran twice`);
      }
      for (const note of r.notes) console.log(`  ${r.target}, ${r.style}: ${note}`);
    }
    const contended = rows.filter((r) => r.otherCpu !== null && r.otherCpu >= 0.25);
    if (contended.length > 0) {
      console.log(
        `  WARNING: other processes used ≥ 25% of a core during ` +
          `${contended.map((r) => `${r.target} (${r.style})`).join(", ")}: figures are noisy, ` +
          "run again on an idle machine",
      );
    }
    const ours = rows.filter((r) => r.target === "hurukuro");
    const verdict = ours.map((r) => {
      const rate = r.jobs / (r.totalMs / 1000);
      return `${r.style}: ${integer(rate)} jobs/s, ${
        rate >= TARGET_JOBS_PER_SECOND ? "met" : "NOT MET"
      }`;
    });
    console.log(
      `  target ≥ ${integer(TARGET_JOBS_PER_SECOND)} jobs/s end to end: ${verdict.join("; ")}\n`,
    );

    console.log(
      `Delay accuracy: ${DELAYED_JOBS} jobs with delays spread evenly over ` +
        `${DELAY_MIN_MS / 1000}–${DELAY_MAX_MS / 1000} s, queued in batches of ${BATCH}`,
    );
    console.log(
      "  lateness = handler run − (time before the enqueue call + delay); a fresh KV file per row\n",
    );
    const late = [
      await measureOn(() => bareKv(storage.dataDir), lateness),
      await measureOn(() => hurukuro(storage), lateness),
    ];
    console.log(table(
      ["target", "jobs", "min ms", "p50 ms", "p99 ms", "max ms"],
      late.map((l) => [
        l.target,
        integer(l.late.length),
        ms(l.late[0]),
        ms(percentile(l.late, 50)),
        ms(percentile(l.late, 99)),
        ms(l.late[l.late.length - 1]),
      ]),
    ));
    console.log(
      "  Deno KV's local queue adds a random 0–100 ms to every dequeue deadline (denokv's " +
        "QUEUE_DEQUEUE_JITTER) and dequeues one message\n  at a time, so most of the lateness " +
        "is KV's own; the JobQueue's share is the hurukuro row minus the bare KV row.",
    );
    for (const l of late) {
      if (l.duplicates > 0) console.log(`  WARNING: ${l.target}: ${l.duplicates} ran twice`);
      for (const note of l.notes) console.log(`  ${l.target}: ${note}`);
    }
    if (stray > 0) console.log(`  note: ${stray} handler runs belonged to no measurement`);
  } finally {
    current = null;
    await removeStorage();
  }
}
