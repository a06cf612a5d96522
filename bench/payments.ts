/**
 * Payments polling bench: BENCH_PAYMENTS (default 10,000) pending payments whose first poll is
 * due at the same moment, polled by the app against the fake Paynow; read against bare polls
 * measured in the same run.
 *
 * Paynow is the fake (bench/paynow_server.ts) in a process of its own; nobody pays, so every
 * poll finds its payment pending and does the whole step: claim the payment (in a batch, ahead
 * of the due time, as the tick arrives early to do), poll Paynow (signed, hash checked), record
 * the answer and schedule the next poll in Postgres (one statement per batch, once the polls
 * are out), queue the tick of the next polls. When the last answer was recorded is printed.
 *
 * - baseline: the same payments polled by `PaynowClient.poll` straight from a timer at the due
 *   time, as many at once as the app's poller allows (`POLL_IN_FLIGHT`): no database, no queue.
 *   The least a poller can do against this Paynow on this machine.
 * - hurukuro: the whole app in this process (main.ts `start()`, the embedded database or
 *   DATABASE_URL, KV in a file, cron off). The payments are recorded as started (status `sent`,
 *   a poll URL, `next_poll_at` = the due time) and each one's first poll is queued the way a
 *   started payment queues it (`queuePollTick`: the `payments.poll_due` tick of its due time's
 *   slot, deduplicated, so the 10,000 share one tick that polls them in batches).
 *
 * A poll's lateness = when the app called Paynow − its due time. Polls per second = payments /
 * (first due time → last poll sent).
 */
import pLimit from "p-limit";
import { benchStorage, startBenchApp } from "./_app.ts";
import { queuePollTick } from "../lib/payments/jobs.ts";
import { PaynowClient } from "../lib/paynow/mod.ts";
import { POLL_IN_FLIGHT } from "../lib/payments/mod.ts";
import {
  delay,
  envNumber,
  integer,
  machineBusySeconds,
  ms,
  ownCpuSeconds,
  percentile,
  startServer,
  table,
} from "./_support.ts";

export const description =
  "10,000 pending payments polled at once against the fake Paynow: polls/s and lateness vs bare polls";

const INTEGRATION_ID = "1201";
const INTEGRATION_KEY = "bench-integration-key";
const AUTH_EMAIL = "merchant@hurukuro.example";
/** Time from scheduling to the due time: a started payment's first poll comes 5 s later. */
const LEAD_MS = 5_000;
/** The target for the lateness of polls. */
const TARGET_P99_MS = 2_000;

interface Started {
  reference: string;
  pollUrl: string;
}

/** Starts `n` web checkouts at the fake, 32 at once: the transactions the polls ask about. */
async function startTransactions(client: PaynowClient, n: number, tag: string) {
  const limit = pLimit(32);
  return await Promise.all(Array.from({ length: n }, (_, i) =>
    limit(async (): Promise<Started> => {
      const reference = `BENCH-${tag}-${i}`;
      const started = await client.initiateWeb({
        reference,
        amount: "1.00",
        additionalInfo: "bench",
        returnUrl: "http://127.0.0.1/pay/return",
        resultUrl: "http://127.0.0.1:9/api/paynow/result", // nobody listens: results are lost
        authEmail: AUTH_EMAIL,
      });
      return { reference, pollUrl: started.pollUrl };
    })));
}

interface Outcome {
  target: string;
  /** Lateness of each first poll, ms, sorted. */
  late: Float64Array;
  /** First due time → last first poll sent, ms. */
  spanMs: number;
  cpu: number;
  otherCpu: number | null;
  notes: string[];
}

/**
 * Records when each poll URL is first polled; resolves `all` once `expected` are. Polls after
 * the first (the rescheduled ones) are counted, not timed.
 */
class PollLog {
  readonly sentAt = new Map<string, number>();
  later = 0;
  readonly all: Promise<void>;
  #resolve!: () => void;
  constructor(readonly expected: number) {
    this.all = new Promise((resolve) => this.#resolve = resolve);
  }
  sent(pollUrl: string): void {
    if (this.sentAt.has(pollUrl)) return void this.later++;
    this.sentAt.set(pollUrl, Date.now());
    if (this.sentAt.size === this.expected) this.#resolve();
  }
}

async function measure(
  target: string,
  log: PollLog,
  due: number,
  notes: () => Promise<string[]> = () => Promise.resolve([]),
): Promise<Outcome> {
  const cpuBefore = ownCpuSeconds();
  const machineBefore = machineBusySeconds();
  const wallBefore = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      log.all,
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () =>
            reject(
              new Error(`${target}: ${log.sentAt.size} of ${log.expected} polls sent in time`),
            ),
          Math.max(0, due - Date.now()) + 120_000 + log.expected * 20,
        )
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const wall = (performance.now() - wallBefore) / 1000;
  const cpu = (ownCpuSeconds() - cpuBefore) / wall;
  const machineAfter = machineBusySeconds();
  const times = [...log.sentAt.values()];
  const late = Float64Array.from(times, (t) => t - due).sort();
  return {
    target,
    late,
    spanMs: Math.max(...times) - due,
    cpu,
    otherCpu: machineBefore === null || machineAfter === null
      ? null
      : Math.max(0, (machineAfter - machineBefore) / wall - cpu),
    notes: await notes(),
  };
}

/** Bare polls: a timer at the due time, then `PaynowClient.poll`, a lane's worth at once. */
async function baseline(paynowUrl: string, n: number): Promise<Outcome> {
  const client = new PaynowClient({
    integrationId: INTEGRATION_ID,
    integrationKey: INTEGRATION_KEY,
    baseUrl: paynowUrl,
  });
  const transactions = await startTransactions(client, n, "base");
  const log = new PollLog(n);
  const limit = pLimit(POLL_IN_FLIGHT);
  const due = Date.now() + LEAD_MS;
  let failed = 0;
  setTimeout(() => {
    for (const t of transactions) {
      limit(async () => {
        log.sent(t.pollUrl);
        await client.poll(t.pollUrl).catch(() => failed++);
      });
    }
  }, due - Date.now());
  const outcome = await measure("baseline", log, due);
  while (limit.activeCount + limit.pendingCount > 0) await delay(10);
  if (failed > 0) outcome.notes.push(`${failed} polls failed`);
  return outcome;
}

/** The app: payments recorded as started, their first polls queued, all due at once. */
async function hurukuro(
  storage: { dataDir: string; env: Record<string, string> },
  paynowUrl: string,
  n: number,
): Promise<Outcome> {
  const { running, problems, close } = await startBenchApp({
    storage,
    logName: "app.log",
    env: {
      PAYNOW_INTEGRATION_ID: INTEGRATION_ID,
      PAYNOW_INTEGRATION_KEY: INTEGRATION_KEY,
      PAYNOW_AUTH_EMAIL: AUTH_EMAIL,
      PAYNOW_BASE_URL: paynowUrl,
    },
  });
  try {
    const client = running.payments.paynow.clients.USD;
    if (!client) throw new Error("the app offers no USD Paynow integration");
    const transactions = await startTransactions(client, n, "app");
    const sql = running.db.sql;
    const [user] = await sql`insert into users (email, display_name)
                             values ('payments-bench@hurukuro.example', 'Bench') returning id`;
    const [pkg] = await sql`select id, tokens from token_packages order by position limit 1`;
    const due = Date.now() + LEAD_MS;
    const ids: string[] = [];
    for (let i = 0; i < transactions.length; i += 1_000) {
      const rows = transactions.slice(i, i + 1_000).map((t) => ({
        user_id: user.id,
        package_id: pkg.id,
        tokens: pkg.tokens,
        currency: "USD",
        amount: "1.00",
        method: "web",
        reference: t.reference,
        status: "sent",
        poll_url: t.pollUrl,
        next_poll_at: new Date(due),
        expires_at: new Date(due + 30 * 60_000),
      }));
      const inserted = await sql`insert into payments ${sql(rows)} returning id`;
      ids.push(...inserted.map((r) => r.id as string));
    }

    const polls = new PollLog(n);
    const poll = client.poll.bind(client);
    client.poll = (pollUrl: string) => {
      polls.sent(pollUrl);
      return poll(pollUrl);
    };
    // As startPayment queues a started payment's first poll: one call per payment (they share
    // one tick).
    await Promise.all(ids.map(() => queuePollTick(running.queue, due)));
    return await measure("hurukuro", polls, due, async () => {
      // Answers are recorded once the polls are out: wait for them (the next polls' schedule).
      const until = Date.now() + 60_000;
      let counts;
      for (;;) {
        [counts] = await sql`
          select count(*) filter (where poll_count >= 1)::int as polled,
                 count(*) filter (where status <> 'sent')::int as moved
          from payments`;
        if (counts.polled >= n || Date.now() > until) break;
        await delay(20);
      }
      return [
        counts.polled < n
          ? `${n - counts.polled} answers not recorded 60 s after the polls`
          : `every answer recorded (next poll scheduled) ${
            integer(Date.now() - due)
          } ms after the due time`,
        ...(counts.moved > 0 ? [`${counts.moved} payments left 'sent'`] : []),
        ...problems.map((line) => `logged: ${line.slice(0, 200)}`),
      ];
    });
  } finally {
    await close();
  }
}

const percent = (share: number | null) => share === null ? "n/a" : `${Math.round(share * 100)}%`;

export async function run(): Promise<void> {
  const n = envNumber("BENCH_PAYMENTS", 10_000, 100, 200_000);
  const storage = await benchStorage();
  const removeStorage = storage.remove;
  try {
    const paynow = await startServer({
      name: "fake Paynow",
      script: "bench/paynow_server.ts",
      env: { PAYNOW_INTEGRATION_ID: INTEGRATION_ID, PAYNOW_INTEGRATION_KEY: INTEGRATION_KEY },
    });
    try {
      console.log(
        `${integer(n)} pending payments, first polls all due ${LEAD_MS / 1000} s after ` +
          `scheduling; the fake Paynow in its own process; the app on the ${
            storage.env.DATABASE_URL ? "DATABASE_URL server" : "embedded database (PGlite)"
          }, ${POLL_IN_FLIGHT} Paynow polls in flight at most\n`,
      );
      const rows = [await baseline(paynow.url, n), await hurukuro(storage, paynow.url, n)];
      console.log(table(
        [
          "target",
          "polls",
          "polls/s",
          "p50 late",
          "p99 late",
          "max late",
          "CPU",
          "other CPU",
        ],
        rows.map((r) => [
          r.target,
          integer(r.late.length),
          integer(r.late.length / (Math.max(r.spanMs, 1) / 1000)),
          ms(percentile(r.late, 50)),
          ms(percentile(r.late, 99)),
          ms(r.late[r.late.length - 1]),
          percent(r.cpu),
          percent(r.otherCpu),
        ]),
        ["l", "r", "r", "r", "r", "r", "r", "r"],
      ));
      console.log(
        "  late = poll sent − due time (ms); polls/s = polls / (due time → last poll sent). " +
          "CPU = this process (app + bench) as a share\n  of one core; other = the rest of the " +
          "machine (the fake Paynow's process among it).",
      );
      for (const r of rows) for (const note of r.notes) console.log(`  ${r.target}: ${note}`);
      if (rows.some((r) => r.otherCpu !== null && r.otherCpu >= 1.25)) {
        console.log("  WARNING: the machine was busy besides this bench: figures are noisy");
      }
      const p99 = percentile(rows[1].late, 99);
      console.log(
        `  target p99 lateness < ${TARGET_P99_MS / 1000} s: ${ms(p99)} ms, ${
          p99 < TARGET_P99_MS ? "met" : "NOT MET"
        }`,
      );
    } finally {
      await paynow.stop();
    }
  } finally {
    await removeStorage();
    await delay(0);
  }
}
