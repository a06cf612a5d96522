/**
 * `deno task job <name> [args]`: runs a schedule or a job by hand, in this process, e.g. to
 * backfill (`deno task job metrics:daily --from 2026-01-01 --to 2026-01-31`).
 *
 * - a schedule without flags claims its latest tick in `cron_runs`, as the instances' cron does:
 *   it runs only if no instance ran (or is running) that tick, so the tick never runs twice;
 * - a schedule's arguments come as `--name value` flags, validated by its `args` schema; with
 *   them it runs by hand (nothing claimed), never beside a tick of the same schedule;
 * - a job type takes its payload as one JSON argument and runs its handler once;
 * - `deno task job` alone lists what can be run.
 *
 * On the embedded database the server must be stopped first (one process owns the data dir);
 * against `DATABASE_URL` it runs beside running servers, and is refused when their TZ_METRICS
 * differs from this one's (their ticks would not be its ticks).
 */
import { buildApp } from "../lib/app.ts";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/observability/log.ts";
import { crons, jobHandlers, type JobServices } from "../jobs/mod.ts";
import type { CronScheduler } from "../lib/jobs/cron.ts";
import type { CronJob } from "../lib/jobs/types.ts";
import { runTask } from "./_task.ts";

/** Job types by name. A handler only holds the services it is given: none is needed to list. */
const jobNames = () =>
  jobHandlers(
    {
      upstreams: {},
      payments: {},
      whatsapp: null,
      notifications: {},
      bots: { knowledge: {} },
      grievances: {},
      telegram: null,
    } as JobServices,
  ).map((h) => h.type.name);

/** `--from 2026-01-01 --dry-run` → `{ from: "2026-01-01", "dry-run": "true" }` */
export function parseFlags(argv: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      throw new Error(`unexpected argument ${arg}: flags look like --name value`);
    }
    const [name, inline] = arg.slice(2).split("=", 2);
    if (inline !== undefined) flags[name] = inline;
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith("--")) flags[name] = argv[++i];
    else flags[name] = "true";
  }
  return flags;
}

function usage(): string {
  const lines = [
    "usage: deno task job <name> [--flag value ...] | <job.type> '<json payload>'",
    "",
    "A schedule without flags runs its latest tick, unless an instance already ran it;",
    "with flags it runs by hand.",
    "",
  ];
  lines.push("schedules:");
  for (const c of crons) lines.push(`  ${c.name.padEnd(24)} ${c.schedule}`);
  lines.push("job types:");
  for (const name of jobNames()) lines.push(`  ${name}`);
  return lines.join("\n");
}

/** Runs the schedule's latest tick if nobody claimed it; otherwise says why not. */
async function claimLatestTick(
  scheduler: CronScheduler,
  cron: CronJob,
  timeZone: string,
): Promise<string | null> {
  const tick = scheduler.latestTick(cron, new Date());
  const by = `task:${scheduler.instance}`;
  const outcome = await scheduler.runTick(cron, tick, { by });
  const when = `its tick of ${formatTick(tick, timeZone)}`;
  if (outcome === "ran") return null;
  if (outcome === "failed") return `${when} failed (see the log above)`;
  if (outcome === "still-running") return `${when} was claimed, but a run is still going`;
  const claim = await scheduler.claimOf(cron, tick);
  return `${when} was already claimed by ${claim?.instance ?? "another instance"}` +
    (claim ? ` (${claim.status}, started ${formatTick(claim.startedAt, timeZone)})` : "") +
    "; nothing was run." + (cron.args ? " With its flags it runs by hand (see --help)." : "");
}

async function runByHand(
  scheduler: CronScheduler,
  cron: CronJob,
  args: unknown,
): Promise<string | null> {
  if (await scheduler.runByHand(cron, args)) return null;
  return "a tick of this schedule is running now; try again once it has finished";
}

const formatTick = (at: Date, timeZone: string) =>
  `${at.toLocaleString("sv-SE", { timeZone }).slice(0, 16)} ${timeZone}`;

async function main(args: string[]): Promise<number> {
  const [rawName, ...rest] = args;
  if (!rawName || rawName === "--help") {
    console.log(usage());
    return rawName ? 0 : 2;
  }
  const name = rawName.replaceAll(":", ".");
  const cron = crons.find((c) => c.name === name);
  if (!cron && !jobNames().includes(name)) {
    console.error(`no schedule or job named ${rawName}\n\n${usage()}`);
    return 2;
  }

  const config = await loadConfig(Deno.env.toObject());
  const log = createLogger({ level: config.logLevel });
  // The app's own wiring, its queue not started: jobs the run queues wait for a server.
  const app = await buildApp(config, { log, graceMs: 10_000 });
  try {
    app.queue.register(jobHandlers(app));
    app.scheduler.register(crons);
    const handler = app.queue.handlers.find((h) => h.type.name === name);
    const queue = app.queue;
    const started = performance.now();
    if (cron) {
      let args: unknown = undefined;
      if (cron.args) {
        const parsed = cron.args.safeParse(parseFlags(rest));
        if (!parsed.success) {
          const problems = parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`);
          console.error(`${rawName}: ${problems.join("; ")}`);
          return 2;
        }
        args = parsed.data;
      }
      const hasArgs = rest.length > 0;
      const refusal = hasArgs
        ? await runByHand(app.scheduler, cron, args)
        : await claimLatestTick(app.scheduler, cron, config.tzMetrics);
      if (refusal) {
        console.error(`${rawName}: ${refusal}`);
        return 1;
      }
    } else {
      const payload = handler!.type.schema.safeParse(JSON.parse(rest[0] ?? "{}"));
      if (!payload.success) {
        console.error(`${rawName}: invalid payload: ${payload.error.message}`);
        return 2;
      }
      await handler!.handle(payload.data, queue.context, {
        id: `manual-${crypto.randomUUID()}`,
        attempt: 1,
      });
    }
    console.log(`${rawName} done in ${Math.round(performance.now() - started)} ms`);
    return 0;
  } finally {
    await app.stop();
  }
}

if (import.meta.main) {
  await runTask(
    () => main(Deno.args),
    (error) =>
      error instanceof SyntaxError
        ? { message: `the payload is not valid JSON: ${error.message}`, code: 2 }
        : null,
  );
}
