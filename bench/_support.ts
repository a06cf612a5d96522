/**
 * What the benchmark modules share: servers run as child processes (started, timed, stopped),
 * temporary directories, cleanup that also runs on Ctrl-C, CPU readings, and a plain-text table.
 *
 * Servers under test always run in a process of their own: on a 2-core machine a load generator
 * sharing the server's event loop would measure itself as much as the server.
 */
import process from "node:process";
import postgres from "postgres";

/** The repository root: child servers run from here, as `deno task start` would. */
export const ROOT = new URL("../", import.meta.url).pathname;

// --- Cleanup -------------------------------------------------------------------------------

const pending: (() => Promise<unknown>)[] = [];
let closing = false;

/**
 * Registers `fn` to run at cleanup and returns a function that runs it now instead. Either way it
 * runs once. {@link cleanupAll} runs what is still pending, last registered first (so a server
 * stops before the directory it writes to is removed).
 */
export function onCleanup<T>(fn: () => Promise<T>): () => Promise<T> {
  let done: Promise<T> | undefined;
  const once = () => {
    if (!done) {
      pending.splice(pending.indexOf(once), 1);
      done = fn();
    }
    return done;
  };
  pending.push(once);
  return once;
}

/**
 * Ctrl-C: from now on no server is started and no directory made (a bench still running would
 * otherwise start one after the cleanup), then everything pending is cleaned up.
 */
export function shutdown(): Promise<void> {
  closing = true;
  return cleanupAll();
}

function refuseWhenClosing(): void {
  if (closing) throw new Error("interrupted");
}

/** Runs every pending cleanup (after each benchmark, and by {@link shutdown}). */
export async function cleanupAll(): Promise<void> {
  while (pending.length > 0) {
    await pending[pending.length - 1]().catch((e) => console.error(`cleanup: ${message(e)}`));
  }
}

// --- Settings and small helpers -----------------------------------------------------------

/** A number from the environment, `fallback` when unset; out of range or malformed throws. */
export function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = Deno.env.get(name)?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name}=${raw}: expected a number from ${min} to ${max}`);
  }
  return value;
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves like `promise`, or rejects with `what` after `ms` (the timer never outlives it). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} (after ${ms / 1000} s)`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Load may only ever go to this machine's loopback addresses. */
export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== "localhost" && host !== "[::1]") {
    throw new Error(`refusing to send load to ${url}: only loopback addresses are allowed`);
  }
}

// --- Temporary directories ----------------------------------------------------------------

export interface TempDir {
  path: string;
  /** Removes the directory and everything in it (once; also done by {@link cleanupAll}). */
  remove(): Promise<void>;
}

export async function makeTempDir(prefix: string): Promise<TempDir> {
  refuseWhenClosing();
  const path = await Deno.makeTempDir({ prefix });
  if (closing) {
    await Deno.remove(path, { recursive: true });
    refuseWhenClosing();
  }
  const remove = onCleanup(() => Deno.remove(path, { recursive: true }).catch(() => {}));
  return { path, remove };
}

// --- Child servers --------------------------------------------------------------------------

/**
 * The `deno run` flags of `deno task start` (deno.json), e.g. its V8 heap settings: Hurukuro's
 * main.ts runs under the bench as it runs in production.
 */
export const START_FLAGS: string[] = (() => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const words = String(config.tasks.start).split(/\s+/);
  const run = words.indexOf("run"), script = words.indexOf("main.ts");
  if (run < 0 || script < run) {
    throw new Error(`deno.json: unexpected start task ${words.join(" ")}`);
  }
  return words.slice(run + 1, script).filter((w) => w !== "-A");
})();

/** The line a server prints once it listens: Hurukuro's main.ts and bench/baseline_server.ts. */
const ANNOUNCEMENT = /is running at (https?:\/\/\S+)/;

export interface StartServerOptions {
  /** Used in messages. */
  name: string;
  /** Run as `deno run -A <script>` from the repository root (main.ts with {@link START_FLAGS}). */
  script: string;
  /** Added to (and overriding) this process's environment. */
  env?: Record<string, string>;
  /** How long to wait for the announcement line; default 60 s. */
  timeoutMs?: number;
  /** Extra `deno run` flags before the script (e.g. `--inspect=127.0.0.1:9229`). */
  denoFlags?: string[];
  /** Hurukuro itself: with BENCH_PROFILE_DIR set it writes a V8 CPU profile of the run there. */
  profiled?: boolean;
  /** Run on these CPUs only (`taskset -c`, e.g. "0"); see {@link cpuLayout}. */
  cpus?: string;
  /**
   * Once it has announced itself, its output is read and dropped unparsed (a server logging
   * every request under load would otherwise cost the bench process a line split each).
   */
  quietAfterStart?: boolean;
}

/** `--cpu-prof` flags when BENCH_PROFILE_DIR is set (for servers started with `profiled`). */
function profileFlags(): string[] {
  const dir = Deno.env.get("BENCH_PROFILE_DIR");
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

export interface StopResult {
  code: number;
  /** How long the server took to exit after SIGTERM, in ms. */
  ms: number;
  /** True when it had to be killed (SIGKILL) after the grace period. */
  killed: boolean;
}

export interface ServerProcess {
  name: string;
  pid: number;
  /** The URL the server announced (always a loopback address). */
  url: string;
  /** `performance.now()` when the process was spawned. */
  spawnedAt: number;
  /** Milliseconds from spawn to the announcement line. */
  announcedMs: number;
  /** The server's standard output lines so far (the last 500). */
  stdout: string[];
  /** SIGTERM, wait (15 s at most, then SIGKILL). Runs once; later calls return the same result. */
  stop(): Promise<StopResult>;
}

/** Calls `onLine` with each line of `stream` until it ends; while `skip()`, drops what it reads. */
async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  skip: () => boolean = () => false,
) {
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    if (skip()) continue;
    buffer += decoder.decode(bytes, { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
  if (buffer) onLine(buffer);
}

/**
 * Spawns `deno run -A <script>` and resolves once it prints `… is running at http(s)://…`.
 * Standard output and error are read continuously (a server whose log pipe fills up would
 * block on its next log line), keeping the last lines for messages.
 */
export async function startServer(options: StartServerOptions): Promise<ServerProcess> {
  refuseWhenClosing();
  const spawnedAt = performance.now();
  const denoArgs = [
    "run",
    "-A",
    ...(options.script === "main.ts" ? START_FLAGS : []),
    ...(options.denoFlags ?? []),
    ...(options.profiled ? profileFlags() : []),
    options.script,
  ];
  const pinned = options.cpus !== undefined && TASKSET !== null;
  const child = new Deno.Command(pinned ? TASKSET! : Deno.execPath(), {
    args: pinned ? ["-c", options.cpus!, Deno.execPath(), ...denoArgs] : denoArgs,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env }, // plain text in the messages quoting its output
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const stdout: string[] = [];
  let stderr = "";
  let announce: (url: string) => void = () => {};
  const announced = new Promise<string>((resolve) => announce = resolve);
  let quiet = false;
  const drained = Promise.all([
    forEachLine(child.stdout, (line) => {
      if (stdout.push(line) > 500) stdout.shift();
      const match = ANNOUNCEMENT.exec(line);
      if (match) {
        announce(match[1]);
        quiet = options.quietAfterStart === true;
      }
    }, () => quiet),
    forEachLine(child.stderr, (line) => stderr = (stderr + line + "\n").slice(-4000)),
  ]).catch(() => {});

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const stop = onCleanup(async (): Promise<StopResult> => {
    const started = performance.now();
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* it exited meanwhile */ }
    }
    let killed = false;
    let final = await withTimeout(status, 15_000, "").catch(() => null);
    if (!final) {
      killed = true;
      try {
        child.kill("SIGKILL");
      } catch { /* it exited meanwhile */ }
      final = await status;
    }
    // The pipes close with the process; bounded in case a grandchild inherited one.
    await withTimeout(drained, 2_000, "").catch(() => {});
    return { code: final.code, ms: performance.now() - started, killed };
  });

  try {
    const url = await withTimeout(
      Promise.race([
        announced,
        status.then((s): never => {
          throw new Error(
            `${options.name} exited (code ${s.code}) before listening. Its last output:\n` +
              [...stdout.slice(-20), stderr].join("\n"),
          );
        }),
      ]),
      options.timeoutMs ?? 60_000,
      `${options.name} did not print its URL`,
    );
    assertLoopback(url);
    return {
      name: options.name,
      pid: child.pid,
      url,
      spawnedAt,
      announcedMs: performance.now() - spawnedAt,
      stdout,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Requests `url` until it answers 200 and returns `performance.now()` at that answer.
 * Polls every 10 ms; throws after `timeoutMs` with the last status or error seen.
 */
export async function waitForOk(url: string, timeoutMs: number): Promise<number> {
  assertLoopback(url);
  const deadline = performance.now() + timeoutMs;
  let last = "no answer";
  while (performance.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      if (response.status === 200) return performance.now();
      last = `status ${response.status}`;
    } catch (error) {
      last = message(error);
    }
    await delay(10);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s (last: ${last})`);
}

// --- CPU --------------------------------------------------------------------------------------

/** The `taskset` command's path, or null where there is none. */
export const TASKSET: string | null = (() => {
  for (const path of ["/usr/bin/taskset", "/bin/taskset"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return null;
})();

/** Where a load run's processes ran: figures compare only within one layout. */
export interface CpuLayout {
  /** `taskset -c` list for the server under test, or null when unpinned. */
  server: string | null;
  /** Likewise for this process (the load generator). */
  generator: string | null;
  /** In words, for the output. */
  label: string;
  /** Lets this process run on every CPU again (the benches after this one). */
  release(): Promise<void>;
}

/** `taskset` on every thread of this process. */
function tasksetSelf(cpus: string): Promise<Deno.CommandOutput> {
  return new Deno.Command(TASKSET!, {
    args: ["-a", "-c", "-p", cpus, String(Deno.pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
}

/**
 * The server on the first CPU and this process (the load generator) on the second, where
 * `taskset` exists and there are two CPUs or more; otherwise both unpinned. Pins this process's
 * threads at once.
 */
export async function pinForLoad(): Promise<CpuLayout> {
  const cores = navigator.hardwareConcurrency;
  const unpinned = (why: string): CpuLayout => ({
    server: null,
    generator: null,
    label: `unpinned (${why}): server and load generator share the CPUs with each other and ` +
      "the rest of the machine",
    release: () => Promise.resolve(),
  });
  if (TASKSET === null) return unpinned("no taskset");
  if (cores < 2) return unpinned("one CPU");
  const pinned = await tasksetSelf("1");
  if (!pinned.success) {
    return unpinned(`taskset failed: ${new TextDecoder().decode(pinned.stderr).trim()}`);
  }
  return {
    server: "0",
    generator: "1",
    label: "server pinned to CPU 0, load generator (this process) to CPU 1",
    release: async () => void await tasksetSelf(`0-${cores - 1}`),
  };
}

/** CPU seconds (user + system) this process has used so far. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * CPU seconds (user + system) another process has used so far, from /proc/PID/stat (Linux);
 * `null` where that file cannot be read. Assumes the usual 100 clock ticks per second.
 */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may contain spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/**
 * CPU seconds the whole machine has been busy so far, all cores summed, from /proc/stat
 * (Linux); `null` where unreadable. Minus the server's and the bench's own share, it tells
 * whether other work competed for the cores during a measurement.
 */
export function machineBusySeconds(): number | null {
  try {
    const cpu = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/);
    // cpu user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = cpu.slice(1).map(Number);
    return (user + nice + system + irq + softirq + (steal || 0)) / 100;
  } catch {
    return null;
  }
}

// --- Output ---------------------------------------------------------------------------------

/**
 * Formats rows as a `|`-separated plain-text table. `align` gives each column's alignment
 * ("l" or "r"); by default the first column is left-aligned and the others right-aligned.
 */
export function table(header: string[], rows: string[][], align?: ("l" | "r")[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = (i: number) => (align?.[i] ?? (i === 0 ? "l" : "r")) === "l";
  const line = (cells: string[]) =>
    cells.map((c, i) => left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(" | ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** `12345.6` → `12,346`. */
export const integer = (n: number) => Math.round(n).toLocaleString("en-US");

/** Milliseconds with two decimals below 10, one below 100, none above. */
export function ms(n: number): string {
  return n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0);
}

/** Nearest-rank percentile of sorted values; NaN when there are none. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The median and the 99th percentile (nearest rank) of unsorted values; NaN when there are none. */
export function p50AndP99(values: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** Seconds with two decimals. */
export const seconds = (msValue: number) => `${(msValue / 1000).toFixed(2)} s`;

/**
 * Where a child server under test keeps its data: a temporary DATA_DIR and, with DATABASE_URL
 * set, a fresh database on that server (`databaseUrl` is empty for the embedded database under
 * DATA_DIR). Both are removed at cleanup; `remove` removes the directory earlier.
 */
export async function childServerStorage(
  label: string,
): Promise<TempDir & { databaseUrl: string }> {
  const dir = await makeTempDir(`hurukuro-bench-${label}-`);
  const adminUrl = Deno.env.get("DATABASE_URL");
  return { ...dir, databaseUrl: adminUrl ? await freshServerDatabase(adminUrl, label) : "" };
}

/**
 * A fresh database on the server `adminUrl` points at, dropped when the bench ends: a server run
 * never sees another run's rows. Returns its URL.
 */
export async function freshServerDatabase(adminUrl: string, label: string): Promise<string> {
  const name = `hk_bench_${label}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  onCleanup(async () => {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
