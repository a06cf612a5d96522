/**
 * `deno task bench [NAME…]`: runs the registered benchmarks in turn (all of them, or those
 * named) and prints their figures. Each benchmark prints its own figures beside a baseline
 * measured in the same run, so numbers from different machines or days are never compared.
 *
 * A benchmark is a module exporting `description` and `run()`; register its name in BENCHES below.
 * Modules are imported only when selected, so one bench's dependencies never slow another.
 *
 * Settings (environment): BENCH_SECONDS, the measured duration per target (default 5).
 * Ctrl-C stops every child server and removes every temporary directory before exiting.
 */
import { cleanupAll, machineBusySeconds, message, shutdown } from "./_support.ts";

export interface BenchModule {
  /** One line: what is measured, against what. */
  description: string;
  /** Runs the benchmark and prints its figures; cleans up after itself even when it throws. */
  run(): Promise<void>;
}

/** Every benchmark, in the order they run: the module `./NAME.ts`, a {@link BenchModule}. */
const BENCHES = [
  "http",
  "jobs",
  "payments",
  "admin",
  "metrics",
  "chat",
  "whatsapp",
  "replies",
  "peer",
  "notifications",
  "bots",
  "retrieval",
  "grievances",
];

function usage(): string {
  return `usage: deno task bench [NAME…]   (BENCH_SECONDS=N sets the measured seconds per target)\n` +
    `benchmarks: ${BENCHES.join(", ")}`;
}

/** Cores and the 1-minute load average, to tell a busy machine (noisy figures) afterwards. */
function machineLine(): string {
  const cores = navigator.hardwareConcurrency;
  let load: number | null = null;
  try {
    load = Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch { /* not Linux */ }
  if (load === null) return `machine: ${cores} cores`;
  return `machine: ${cores} cores, load average ${load.toFixed(2)} (1 min) at start`;
}

/**
 * Warns when other processes keep the machine busy just before a bench: on a small machine a
 * single busy core moves every latency figure (p99 by several times), so such figures are not
 * comparable with those of an idle machine.
 */
async function warnWhenBusy(): Promise<void> {
  const before = machineBusySeconds();
  await new Promise((r) => setTimeout(r, 1_000));
  const after = machineBusySeconds();
  if (before === null || after === null) return;
  const cores = after - before; // busy CPU-seconds in one second: cores' worth of work
  if (cores < 0.25) return;
  console.log(
    `WARNING: other processes kept ${cores.toFixed(1)} cores busy in the ` +
      `second before this bench; its latency figures will be higher and noisier than on an ` +
      `idle machine.`,
  );
}

async function main(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(usage());
    return 0;
  }
  const unknown = args.filter((name) => !BENCHES.includes(name));
  if (unknown.length > 0) {
    console.error(`unknown benchmark: ${unknown.join(", ")}\n${usage()}`);
    return 2;
  }
  const selected = args.length > 0 ? BENCHES.filter((name) => args.includes(name)) : BENCHES;

  console.log(`${machineLine()}; Deno ${Deno.version.deno}`);
  const failed: string[] = [];
  for (const name of selected) {
    const bench: BenchModule = await import(`./${name}.ts`);
    console.log(`\n=== ${name}: ${bench.description}\n`);
    await warnWhenBusy();
    const started = performance.now();
    try {
      await bench.run();
      console.log(`\n--- ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      failed.push(name);
      console.error(
        `\n--- ${name} FAILED: ${error instanceof Error ? error.stack : message(error)}`,
      );
    } finally {
      await cleanupAll(); // whatever a failed bench left behind
    }
  }
  if (failed.length > 0) console.error(`\nfailed: ${failed.join(", ")}`);
  return failed.length > 0 ? 1 : 0;
}

// Ctrl-C or SIGTERM: stop child servers and remove temporary directories, then exit.
let interrupted = false;
const onSignal = (signal: Deno.Signal) => () => {
  if (interrupted) return;
  interrupted = true;
  console.error(`\n${signal}: stopping child servers and removing temporary directories…`);
  shutdown().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));

// Exit explicitly: a benchmark's stray handle (a pooled connection, a timer) must not keep the
// process alive after the figures are printed.
Deno.exit(await main(Deno.args));
