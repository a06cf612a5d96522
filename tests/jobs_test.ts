/**
 * The job runtime end to end, on whichever database back end the run uses: retries, dead
 * letters, dedupe, crash and KV-loss recovery, cron ticks across instances, metrics.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  denoCommand,
  healthOnce,
  prepareStorage,
  startTestApp,
  type TestApp,
  waitFor,
} from "./harness.ts";
import {
  attempts,
  createTestTables,
  flakyJob,
  recordedWorkJob,
  sideEffectJob,
  testHandlers,
} from "./fixtures/test_jobs.ts";
import { listDeadLetters, retryDeadLetter } from "../lib/jobs/dead_letters.ts";
import { JobValidationError } from "../lib/jobs/queue.ts";
import { CronScheduler } from "../lib/jobs/cron.ts";
import { twoSchedulers } from "./schedulers.ts";
import { defineCron, defineHandler, type JobContext, jobType } from "../lib/jobs/types.ts";
import { metricsDailyCron } from "../jobs/metrics_daily.ts";
import { z } from "zod";
import { memoryLogger } from "../lib/observability/log.ts";

async function jobApp(options: Parameters<typeof startTestApp>[0] = {}): Promise<TestApp> {
  const app = await startTestApp({ extraHandlers: testHandlers, ...options });
  await createTestTables(app.server.db);
  return app;
}

const sideEffects = async (app: TestApp) =>
  await app.server.db.sql<{ key: string; runs: number }[]>`
    select key, runs from test_side_effects order by key`;

Deno.test("a job that fails twice then succeeds runs 3 times and its side effect happens once", async () => {
  await using app = await jobApp();
  await app.server.queue.enqueue(flakyJob, { key: "flaky-1", failures: 2 });
  const rows = await waitFor("the side effect", async () => {
    const rows = await sideEffects(app);
    return rows.length > 0 && rows;
  });
  await new Promise((r) => setTimeout(r, 200)); // room for a wrong extra run to show up
  assert.equal(attempts.get("flaky-1"), 3);
  assert.deepEqual((await sideEffects(app)).map((r) => [r.key, r.runs]), [["flaky-1", 1]]);
  assert.equal(rows.length, 1);
  const metrics = await (await app.fetch("/metrics")).text();
  assert.match(metrics, /hurukuro_jobs_retried_total\{job="test.flaky"\} 2/);
  assert.match(metrics, /hurukuro_jobs_succeeded_total\{job="test.flaky"\} 1/);
  assert.ok(app.logs.some((l) => l.includes('"msg":"job done"') && l.includes('"ms":')));
});

Deno.test("a job that always fails is dead-lettered with its last error, and a retry runs it again", async () => {
  await using app = await jobApp();
  await app.server.queue.enqueue(flakyJob, { key: "doomed", failures: 99 });
  const [dead] = await waitFor("the dead letter", async () => {
    const rows = await listDeadLetters(app.server.db);
    return rows.length > 0 && rows;
  });
  assert.equal(dead.job, "test.flaky");
  assert.equal(dead.attempts, 3);
  assert.equal(dead.lastError, "planned failure 3 of doomed");
  assert.deepEqual(dead.payload, { key: "doomed", failures: 99 });
  const { body } = await healthOnce(
    app,
    (_, b) => b.queue.status === "ok" && b.queue.deadLetters > 0,
  );
  assert.equal(body.queue.status === "ok" && body.queue.deadLetters, 1);

  const before = attempts.get("doomed")!;
  assert.equal(await retryDeadLetter(app.server.db, app.server.queue, dead.id), true);
  assert.equal(await retryDeadLetter(app.server.db, app.server.queue, dead.id), false);
  await waitFor(
    "the retried job to run",
    () => Promise.resolve(attempts.get("doomed")! > before),
  );
  const metrics = await (await app.fetch("/metrics")).text();
  assert.match(metrics, /hurukuro_jobs_dead_lettered_total\{job="test.flaky"\} 1/);
});

Deno.test("1,000 enqueues over 200 distinct dedupe keys execute 200 times", async () => {
  await using app = await jobApp({ concurrency: { llm: 32 } });
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      app.server.queue.enqueue(
        sideEffectJob,
        { key: `d${i % 200}` },
        { dedupeKey: `d${i % 200}` },
      )),
  );
  assert.equal(results.filter((r) => !r.deduplicated).length, 200);
  await waitFor("200 side effects", async () => (await sideEffects(app)).length === 200);
  await new Promise((r) => setTimeout(r, 300));
  const rows = await sideEffects(app);
  assert.equal(rows.length, 200);
  assert.ok(rows.every((r) => r.runs === 1), "no key ran twice");
});

/**
 * Counts, from now on, the KV messages queued and the commits that queue them (completion
 * markers, committed as jobs finish, are not counted).
 */
function countKvWrites(kv: Deno.Kv): { messages: number; commits: number; restore(): void } {
  const counts = { messages: 0, commits: 0, restore: () => {} };
  const atomic = kv.atomic;
  kv.atomic = function () {
    const op = atomic.call(kv);
    let queues = false;
    const enqueue = op.enqueue;
    op.enqueue = (...args) => {
      counts.messages++;
      queues = true;
      return enqueue.apply(op, args);
    };
    const commit = op.commit;
    op.commit = () => {
      if (queues) counts.commits++;
      return commit.call(op);
    };
    return op;
  };
  counts.restore = () => kv.atomic = atomic;
  return counts;
}

Deno.test("jobs queued together share KV messages and commits", async () => {
  const app = await jobApp();
  const writes = countKvWrites(app.server.kv);
  try {
    await app.server.queue.enqueueMany(
      sideEffectJob,
      Array.from({ length: 25 }, (_, i) => ({ payload: { key: `many${i}` } })),
    );
    assert.deepEqual([writes.messages, writes.commits], [1, 1], "one enqueueMany, one message");

    // Calls made in one tick: one commit; one message per lane and delay.
    const results = await Promise.all([
      ...Array.from(
        { length: 20 },
        (_, i) => app.server.queue.enqueue(sideEffectJob, { key: `tick${i}` }),
      ),
      ...Array.from(
        { length: 5 },
        (_, i) => app.server.queue.enqueue(flakyJob, { key: `tickf${i}`, failures: 0 }),
      ),
      app.server.queue.enqueue(sideEffectJob, { key: "tick-late" }, { delay: 300 }),
      // The same dedupe key twice in one tick: the second is the first's duplicate.
      app.server.queue.enqueue(sideEffectJob, { key: "tick-d" }, { dedupeKey: "tick-d" }),
      app.server.queue.enqueue(sideEffectJob, { key: "tick-d" }, { dedupeKey: "tick-d" }),
    ]);
    assert.deepEqual([writes.messages, writes.commits], [1 + 4, 1 + 2]);
    const [first, second] = results.slice(-2);
    assert.deepEqual([first.deduplicated, second.deduplicated], [false, true]);
    assert.equal(second.id, first.id);

    await waitFor("every job to run", async () => (await sideEffects(app)).length === 52);
    assert.ok((await sideEffects(app)).every((r) => r.runs === 1));
    await waitFor("the backlog to drain", async () => (await app.server.queue.backlog()) === 0);
  } finally {
    writes.restore();
    await app.close();
  }
});

Deno.test("in a pack, a failing job is retried alone and the others are not run again", async () => {
  await using app = await jobApp();
  const keys = Array.from({ length: 8 }, (_, i) => `pack${i}`);
  await app.server.queue.enqueueMany(
    flakyJob,
    keys.map((key) => ({ payload: { key, failures: key === "pack3" ? 2 : 0 } })),
  );
  await waitFor("all eight side effects", async () => (await sideEffects(app)).length === 8);
  await new Promise((r) => setTimeout(r, 300)); // room for a wrong extra run to show up
  assert.deepEqual(
    keys.map((key) => attempts.get(key)),
    [1, 1, 1, 3, 1, 1, 1, 1],
    "pack3 ran three times, every other job once",
  );
  assert.ok((await sideEffects(app)).every((r) => r.runs === 1));
  const metrics = await (await app.fetch("/metrics")).text();
  assert.match(metrics, /hurukuro_jobs_retried_total\{job="test.flaky"\} 2/);
  assert.match(metrics, /hurukuro_jobs_succeeded_total\{job="test.flaky"\} 8/);
});

Deno.test("a redelivered pack skips the jobs it already settled; a one-job message still runs", async () => {
  await using app = await jobApp();
  const kv = app.server.kv;
  const entry = (id: string, key: string, attempt = 1) => ({
    id,
    job: "test.side_effect",
    payload: { key },
    attempt,
    enqueuedAt: Date.now(),
  });
  // As a crash leaves it: r1 finished, r2's first attempt handed over to its retry, r3's
  // second attempt still to run after its first was handed over, r4 never started.
  await kv.set(["jobs", "done", "r1"], true);
  await kv.set(["jobs", "done", "r2"], 1);
  await kv.set(["jobs", "done", "r3"], 1);
  await kv.enqueue({
    v: 2,
    pack: "p",
    jobs: [entry("r1", "red1"), entry("r2", "red2"), entry("r3", "red3", 2), entry("r4", "red4")],
  });
  // A message in the one-job format queued before packs existed.
  await kv.enqueue({ v: 1, ...entry("old", "v1-job") });
  await waitFor("three side effects", async () => (await sideEffects(app)).length === 3);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual((await sideEffects(app)).map((r) => [r.key, r.runs]), [
    ["red3", 1],
    ["red4", 1],
    ["v1-job", 1],
  ]);
});

Deno.test("a bad payload or delay is refused at the call and never queued", async () => {
  await using app = await jobApp();
  await assert.rejects(
    // @ts-expect-error: the type system refuses it too
    app.server.queue.enqueue(sideEffectJob, { key: 42 }),
    (e) => e instanceof JobValidationError && /key/.test(e.message),
  );
  await assert.rejects(
    app.server.queue.enqueue(sideEffectJob, { key: "x" }, { delay: 31 * 24 * 3600 * 1000 }),
    JobValidationError,
  );
  assert.equal(await app.server.queue.backlog(), 0);
});

Deno.test("enqueueMany queues the valid items and dead-letters a bad one (once, however often it comes back)", async () => {
  await using app = await jobApp();
  const items = [
    { payload: { key: "many-a" } },
    { payload: { key: 42 } as unknown as { key: string } },
    { payload: { key: "many-b" } },
  ];
  const results = await app.server.queue.enqueueMany(sideEffectJob, items);
  assert.deepEqual(results.map((r) => r.invalid === undefined), [true, false, true]);
  assert.match(results[1].invalid!, /key/);
  await waitFor("the valid side effects", async () => (await sideEffects(app)).length === 2);
  assert.deepEqual((await sideEffects(app)).map((r) => r.key), ["many-a", "many-b"]);
  // The same bad item again (a reconciler finding the same row each minute): one dead letter.
  await app.server.queue.enqueueMany(sideEffectJob, [items[1]]);
  const dead = await listDeadLetters(app.server.db);
  assert.equal(dead.length, 1);
  assert.equal(dead[0].job, "test.side_effect");
  assert.deepEqual(dead[0].payload, { key: 42 });
  assert.match(dead[0].lastError, /invalid payload/);
  const metrics = await (await app.fetch("/metrics")).text();
  assert.match(metrics, /hurukuro_jobs_dead_lettered_total\{job="test.side_effect"\} 2/);
});

Deno.test("a reconciler that keeps failing turns /health degraded and is counted in /metrics", async () => {
  let broken = true;
  const sweepJob = jobType({ name: "test.sweep", schema: z.object({ id: z.string() }) });
  const sweep = defineHandler(sweepJob, async () => {}, {
    reconcile() {
      if (broken) return Promise.reject(new Error("sweep query failed"));
      return Promise.resolve([]);
    },
  });
  await using app = await jobApp({ extraHandlers: [...testHandlers, sweep] });
  // The start-up sweep already failed once.
  await app.server.queue.reconcile();
  assert.equal(app.server.queue.reconciler.consecutiveFailures, 2);
  const notYet = await healthOnce(app, (_, b) => b.reconciler.consecutiveFailures === 2);
  assert.equal(notYet.body.status, "ok", "two failures in a row are not yet a trend");
  await app.server.queue.reconcile();
  const failing = await healthOnce(app, (_, b) => b.status !== "ok");
  assert.equal(failing.body.status, "degraded");
  assert.equal(failing.body.reconciler.status, "failing");
  assert.equal(failing.body.reconciler.consecutiveFailures, 3);
  assert.equal(failing.status, 200, "the instance still serves: degraded, not down");
  const metrics = await (await app.fetch("/metrics")).text();
  assert.match(metrics, /hurukuro_reconciler_failures_total\{job="test.sweep"\} 3/);

  broken = false;
  await app.server.queue.reconcile();
  const healed = await healthOnce(app, (_, b) => b.status === "ok");
  assert.equal(healed.body.status, "ok");
  assert.equal(healed.body.reconciler.consecutiveFailures, 0);
});

Deno.test("a delayed job waits for its delay; the backlog counts it until it is done", async () => {
  await using app = await jobApp();
  const queuedAt = Date.now();
  await app.server.queue.enqueue(sideEffectJob, { key: "later" }, { delay: 400 });
  assert.equal(await app.server.queue.backlog(), 1);
  const [row] = await waitFor("the delayed job", async () => {
    const rows = await app.server.db.sql`select at from test_side_effects where key = 'later'`;
    return rows.length > 0 && rows;
  });
  assert.ok(row.at.getTime() - queuedAt >= 390, `ran after ${row.at.getTime() - queuedAt} ms`);
  await waitFor("the backlog to drain", async () => (await app.server.queue.backlog()) === 0);
});

Deno.test("lanes bound concurrency: 12 slow llm jobs never run more than 4 at once", async () => {
  await using app = await jobApp({ concurrency: { llm: 4 } });
  let peak = 0;
  const sample = setInterval(() => peak = Math.max(peak, app.server.queue.inFlight), 5);
  await app.server.queue.enqueueMany(
    sideEffectJob,
    Array.from({ length: 12 }, (_, i) => ({ payload: { key: `lane${i}`, sleepMs: 100 } })),
  );
  await waitFor("12 side effects", async () => (await sideEffects(app)).length === 12);
  clearInterval(sample);
  assert.ok(peak <= 4, `peak ${peak}`);
  assert.ok(peak >= 2, `peak ${peak}: the lane ran jobs concurrently`);
});

Deno.test("SIGKILL with 100 jobs queued: after a restart all 100 complete, none twice", async () => {
  const storage = await prepareStorage();
  const done = new Set<string>();
  const spawnWorker = (extra: Record<string, string>) => {
    const child = denoCommand(
      ["run", "-A", "tests/fixtures/job_worker.ts"],
      { HURUKURO_ENV: "test", PORT: "0", LOG_LEVEL: "info", ...storage.env, ...extra },
      { stderr: "null" },
    ).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    (async () => {
      let buffer = "";
      for await (const chunk of lines) {
        buffer += chunk;
        const parts = buffer.split("\n");
        buffer = parts.pop()!;
        for (const line of parts) {
          if (line.includes('"msg":"job done"')) done.add(JSON.parse(line).id);
        }
      }
    })();
    return child;
  };
  try {
    const first = spawnWorker({ ENQUEUE: "100" });
    await waitFor("10 jobs done before the kill", () => Promise.resolve(done.size >= 10), 60_000);
    first.kill("SIGKILL");
    await first.status;
    const doneBeforeKill = done.size;
    assert.ok(doneBeforeKill < 100, "the kill came while jobs were still queued");
    // KV leases a delivered message for a few seconds; a restart after the lease expired finds
    // the killed process's messages at once (a restart before it, within KV's next sweep).
    await new Promise((r) => setTimeout(r, 6_000));

    const second = spawnWorker({});
    await waitFor("all 100 jobs done", () => Promise.resolve(done.size === 100), 90_000);
    second.kill("SIGTERM");
    await second.status;

    const db = await storage.openDatabase();
    try {
      const rows = await db.sql`select key, runs from test_side_effects`;
      assert.equal(rows.length, 100);
      assert.deepEqual(
        new Set(rows.map((r) => r.key)),
        new Set(Array.from({ length: 100 }, (_, i) => `k${i}`)),
      );
      // A job killed mid-run is run again (that is the point); one that had finished is not.
      const reruns = rows.filter((r) => r.runs > 1).length;
      assert.ok(reruns <= 4, `${reruns} jobs ran twice; at most the 4 in flight at the kill may`);
    } finally {
      await db.close();
    }
  } finally {
    await storage.cleanup();
  }
});

Deno.test("KV file deleted while recorded work is pending: the reconciler completes it, once", async () => {
  await using storage = await prepareStorage();
  const first = await jobApp({ storage, kvFile: true });
  const ids = ["w1", "w2", "w3"];
  for (const id of ids) {
    await first.server.db.sql`insert into test_work (id, due_at)
                              values (${id}, now() + interval '300 milliseconds')`;
    const [row] = await first.server.db.sql`select due_at from test_work where id = ${id}`;
    await first.server.queue.enqueue(recordedWorkJob, { id }, {
      delay: 60_000,
      dedupeKey: `${id}@${row.due_at.toISOString()}`,
    });
  }
  await first.close();
  await Deno.remove(join(storage.dataDir, "kv.sqlite3"));
  await new Promise((r) => setTimeout(r, 350)); // the work is now overdue

  await using second = await jobApp({ storage, kvFile: true });
  await second.server.queue.reconcile();
  await waitFor("the recorded work to be done", async () => {
    const [{ n }] = await second.server.db.sql`
      select count(*)::int as n from test_work where done_at is not null`;
    return n === 3;
  });
  // A second sweep finds nothing: the work is claimed and done.
  assert.equal(await second.server.queue.reconcile(), 0);
  await new Promise((r) => setTimeout(r, 200));
  const rows = await second.server.db.sql`select id, runs from test_work order by id`;
  assert.deepEqual(rows.map((r) => [r.id, r.runs]), [["w1", 1], ["w2", 1], ["w3", 1]]);
});

Deno.test("two instances on one database run each cron tick once", async () => {
  let runs = 0;
  const everyMinute = defineCron({
    name: "test.every_minute",
    schedule: "* * * * *",
    run: async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 50));
    },
  });
  await using t = await twoSchedulers([everyMinute], "Africa/Harare", {
    extraCrons: [everyMinute],
  });
  const { a, b } = t;
  for (let minute = 0; minute < 3; minute++) {
    const at = new Date(Date.UTC(2026, 10, 23, 10, minute, 0, 5));
    const outcomes = await Promise.all([a.server.scheduler.tick(at), b.tick(at)]);
    const names = outcomes.map((o) => o["test.every_minute"]).sort();
    assert.deepEqual(names, ["claimed-elsewhere", "ran"]);
  }
  assert.equal(runs, 3);
  const rows = await a.server.db.sql`select count(*)::int as n from cron_runs
                                     where name = 'test.every_minute' and status = 'ok'`;
  assert.equal(rows[0].n, 3);
});

Deno.test("schedules are read in their time zone: 00:10 in Harare is 22:10 UTC", async () => {
  await using app = await startTestApp();
  const nightly = defineCron({
    name: "test.nightly",
    schedule: "10 0 * * *",
    run: async () => {},
  });
  const scheduler = new CronScheduler({
    db: app.server.db,
    log: app.server.log,
    context: app.server.queue.context,
    crons: [nightly],
    defaultTimeZone: "Africa/Harare",
  });
  assert.deepEqual(scheduler.due(new Date("2026-11-23T22:10:30Z")).map((c) => c.name), [
    "test.nightly",
  ]);
  assert.deepEqual(scheduler.due(new Date("2026-11-24T00:10:00Z")), []);
});

Deno.test("graceful stop: running jobs finish, waiting ones are delivered after the restart", async () => {
  await using storage = await prepareStorage();
  const first = await jobApp({ storage, kvFile: true, concurrency: { llm: 2 } });
  await first.server.queue.enqueueMany(
    sideEffectJob,
    Array.from({ length: 6 }, (_, i) => ({ payload: { key: `g${i}`, sleepMs: 300 } })),
  );
  await waitFor("two jobs running", () => Promise.resolve(first.server.queue.inFlight === 2));
  await first.close();
  const db = await storage.openDatabase();
  const afterStop = await db.sql`select key from test_side_effects`;
  await db.close();
  assert.equal(afterStop.length, 2, "the two running jobs finished during the stop");

  // The rest were delivered but never acknowledged: KV hands them out again once their
  // lease (a few seconds) has expired.
  await new Promise((r) => setTimeout(r, 6_000));
  await using second = await jobApp({ storage, kvFile: true });
  await waitFor(
    "all six side effects",
    async () => (await sideEffects(second)).length === 6,
    30_000,
  );
  assert.ok((await sideEffects(second)).every((r) => r.runs === 1));
});

Deno.test("deno task job claims a schedule's latest tick like the cron, runs a backfill by hand, and names what it cannot run", async () => {
  const storage = await prepareStorage();
  const run = async (...args: string[]) => {
    const out = await denoCommand(["run", "-A", "tasks/job.ts", ...args], env).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  };
  const env = { HURUKURO_ENV: "test", ...storage.env };
  try {
    const first = await run("whatsapp:webhook_log_cleanup");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /whatsapp:webhook_log_cleanup done in \d+ ms/);
    // Its tick is claimed: a second run (or an instance's cron) does not run it again.
    const second = await run("whatsapp:webhook_log_cleanup");
    assert.equal(second.code, 1);
    assert.match(second.stderr, /its tick of \d{4}-\d\d-\d\d 02:10 Africa\/Harare was already /);
    assert.match(second.stderr, /claimed by task:[^ ]+ \(ok, started /);

    // An instance's cron ran metrics.daily's latest tick: by hand it is not run again...
    const db = await storage.openDatabase();
    try {
      const scheduler = new CronScheduler({
        db,
        log: memoryLogger("warn"),
        context: {} as JobContext,
        crons: [metricsDailyCron],
        defaultTimeZone: "Africa/Harare",
      });
      const tick = scheduler.latestTick(metricsDailyCron, new Date());
      await db.sql`insert into cron_runs (name, scheduled_for, instance, status)
                   values ('metrics.daily', ${tick}, 'web-1:42', 'ok')`;
    } finally {
      await db.close();
    }
    const daily = await run("metrics:daily");
    assert.equal(daily.code, 1);
    assert.match(daily.stderr, /already claimed by web-1:42 \(ok, /);
    assert.match(daily.stderr, /With its flags it runs by hand/);
    // ...but a backfill (flags) runs by hand.
    const backfill = await run("metrics:daily", "--from", "2026-01-01", "--to", "2026-01-02");
    assert.equal(backfill.code, 0, backfill.stderr);

    const unknown = await run("no.such.job");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no schedule or job named no.such.job/);
  } finally {
    await storage.cleanup();
  }
});
