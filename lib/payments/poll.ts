/**
 * Polling Paynow for pending payments. Result POSTs are unreliable, so every pending payment is
 * polled on a schedule kept in Postgres (`next_poll_at`). Polls are batched: a
 * `payments.poll_due` tick (one per 100 ms slot in which polls come due) claims the due payments
 * a batch at a time, polls each batch at once and records the unchanged answers in one
 * statement; the jobs reconciler queues a tick when polls are overdue (a lost tick, a batch that
 * died with its process).
 *
 * A batch holds its payments by a claim (`poll_claim`, its own id) whose lease is `next_poll_at`:
 * short, and renewed while the batch works (lib/jobs/lease.ts), so the polls of an instance that
 * died are taken over within a minute; every answer is recorded only while the claim still holds.
 */
import pLimit from "p-limit";
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import { LEASE_MS, RENEW_EVERY_MS, whileRenewing } from "../jobs/lease.ts";
import { pollDelaySeconds, pollTickAt, queuePollTick } from "./jobs.ts";
import { getPayment, type Payment, type PaymentRow, type Payments } from "./model.ts";
import { applyStatus, expirePayment, OUTCOME_TO_STATUS, type StatusReport } from "./settle.ts";
import { isFinal } from "./vocabulary.ts";

/** How long a claim holds unless renewed: its `next_poll_at` meanwhile. */
const POLL_LEASE_SECONDS = LEASE_MS / 1000;
/** Payments claimed by one batch: polled at once, their unchanged answers recorded together. */
export const POLL_BATCH_SIZE = 200;
/** Batches one tick runs side by side while payments keep coming due by the full batch. */
const POLL_BATCHES_AT_ONCE = 6;
/** Changed payments of one batch taken through the full status transition at once. */
const SETTLE_AT_ONCE = 8;

/** What a poll reads of a claimed payment; `next_poll_at` is the claim's lease. */
const CLAIMED = [
  "id",
  "poll_claim",
  "status",
  "currency",
  "reference",
  "poll_url",
  "poll_count",
  "next_poll_at",
  "expires_at",
] as const;
export type ClaimedPoll = Pick<PaymentRow, Exclude<typeof CLAIMED[number], "poll_claim">> & {
  /** The claiming batch's id: answers are recorded only while the payment still carries it. */
  poll_claim: string;
  next_poll_at: Date;
  /** When the poll was due (before the claim moved `next_poll_at` to the lease). */
  due?: Date;
};

/**
 * Claims up to `limit` pending payments whose poll is due (by `upTo` at the latest: the slot of
 * the tick, which may still be ahead) for a new batch. Each one's `next_poll_at` becomes the
 * lease, so no other batch, in this process or another, takes it until its answer is recorded or
 * the lease runs out unrenewed; its due time comes back as `due`. `SKIP LOCKED` lets batches on a server claim side by side without waiting for
 * each other; the embedded database runs one statement at a time, where the same statement is
 * simply exact.
 */
export async function claimDuePolls(
  sql: Sql,
  limit = POLL_BATCH_SIZE,
  upTo: Date | null = null,
): Promise<ClaimedPoll[]> {
  return await sql<ClaimedPoll[]>`
    update payments p
    set next_poll_at = now() + ${POLL_LEASE_SECONDS} * interval '1 second',
        poll_claim = ${crypto.randomUUID()}
    from (select id, next_poll_at as due from payments
          where status in ('created', 'sent')
            and next_poll_at <= greatest(now(), ${upTo}::timestamptz)
          order by next_poll_at limit ${limit} for update skip locked) d
    where p.id = d.id
    returning p.id, p.poll_claim, p.status, p.currency, p.reference, p.poll_url, p.poll_count,
              p.next_poll_at, p.expires_at, d.due`;
}

/** Extends the lease of each payment the batches `claims` still hold. */
export async function renewPollClaims(sql: Sql, claims: string[]): Promise<boolean> {
  if (claims.length === 0) return true;
  await sql`update payments set next_poll_at = now() + ${POLL_LEASE_SECONDS} * interval '1 second'
            where poll_claim = any(${claims}::uuid[]) and status in ('created', 'sent')`;
  return true;
}

/** For the reconciler: pending payments whose poll is overdue (its tick was lost, or its batch). */
export async function hasOverduePolls(sql: Sql, graceSeconds = 15): Promise<boolean> {
  const [row] = await sql<{ overdue: boolean }[]>`
    select exists (select 1 from payments
                   where status in ('created', 'sent')
                     and next_poll_at < now() - ${graceSeconds} * interval '1 second') as overdue`;
  return row.overdue;
}

/**
 * Claimed payments a tick holds before their polls are sent. A tick comes ahead of its slot
 * (`POLL_CLAIM_AHEAD_MS`) to claim, so that at the due time the polls go out at once; this
 * bounds what it holds (well inside the lease) when Paynow answers slowly.
 */
const MOST_CLAIMED_AHEAD = 10_000;
/** How long a tick's answers may wait to be recorded while its polls are being sent. */
const RECORDING_DEFERRED_MOST_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A tick of the polling schedule. Two sides run together:
 * - claiming: batches of due payments (up to `at`, the tick's slot, even before it has come)
 *   are claimed while they come back full; until the slot's end is reached, it waits and claims
 *   again, so that payments joining the slot after the tick started are not left to the
 *   reconciler;
 * - polling: each claimed batch, once its payments are due, is polled at once (see
 *   {@link pollClaimed}), up to {@link POLL_BATCHES_AT_ONCE} batches side by side.
 * A tick that arrives ahead of its slot has done the database's share of claiming by the time
 * the polls are due, so they are sent on time however many fell due together. Returns how many
 * were polled.
 */
export async function pollDuePayments(
  deps: Payments,
  options: {
    at?: number;
    batchSize?: number;
    batchesAtOnce?: number;
    /** Told the ids of each batch as it is claimed (for observing how the tick splits). */
    onBatch?: (ids: string[]) => void;
    /** How often the held claims are renewed. */
    renewEveryMs?: number;
  } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? POLL_BATCH_SIZE;
  const most = options.batchesAtOnce ?? POLL_BATCHES_AT_ONCE;
  const upTo = options.at === undefined ? null : new Date(options.at);
  const slotEnd = options.at ?? 0;
  let polled = 0;
  let held = 0;
  let claiming = true;
  const ready: ClaimedPoll[][] = [];
  /** The claims of the batches not finished yet, renewed together. */
  const heldClaims = new Set<string>();
  // Whoever waits (pollers for a batch, the claimer for room) is woken by any change.
  let wake: () => void = () => {};
  let changed = new Promise<void>((resolve) => wake = resolve);
  const signal = () => {
    const w = wake;
    changed = new Promise<void>((resolve) => wake = resolve);
    w();
  };

  const claim = async (): Promise<void> => {
    try {
      for (;;) {
        while (held >= MOST_CLAIMED_AHEAD) await changed;
        const rows = await claimDuePolls(deps.db.sql, batchSize, upTo);
        if (rows.length > 0) {
          polled += rows.length;
          held += rows.length;
          heldClaims.add(rows[0].poll_claim);
          ready.push(rows);
          options.onBatch?.(rows.map((r) => r.id));
          signal();
        }
        if (rows.length === batchSize) continue;
        const untilSlotEnd = slotEnd - Date.now();
        if (untilSlotEnd <= 0) return;
        await sleep(untilSlotEnd);
      }
    } finally {
      claiming = false;
      signal();
    }
  };

  // Recording answers waits while polls are waiting to be sent (batches claimed, or polls queued
  // for a connection): on the embedded database a statement holds this process's thread, and a
  // poll sent on time is what the schedule promises; an answer recorded a second later is not.
  // Not for longer than RECORDING_DEFERRED_MOST_MS, well inside the lease.
  const paynow = deps.paynowRequests;
  const sendsDone = async () => {
    const until = Date.now() + RECORDING_DEFERRED_MOST_MS;
    while ((ready.length > 0 || paynow.pendingCount > 0) && Date.now() < until) {
      await (ready.length > 0 ? changed : sleep(5));
    }
  };
  const tails: Promise<unknown>[] = [];
  const poll = async (): Promise<void> => {
    for (;;) {
      const rows = ready.shift();
      if (rows && ready.length === 0) signal();
      if (!rows) {
        if (!claiming) return;
        await changed;
        continue;
      }
      const due = Math.max(...rows.map((r) => (r.due ?? r.next_poll_at).getTime()));
      if (due > Date.now()) await sleep(due - Date.now());
      // The next batch is taken as soon as Paynow has answered this one: recording it and
      // queueing its ticks go on meanwhile (and are waited for before the tick ends).
      let asked!: () => void;
      const answered = new Promise<void>((resolve) => asked = resolve);
      const work = pollClaimed(deps, rows, asked, sendsDone)
        .finally(() => heldClaims.delete(rows[0].poll_claim));
      tails.push(work);
      await Promise.race([answered, work]).catch(() => {});
      held -= rows.length;
      signal();
    }
  };

  let first: unknown = null;
  await whileRenewing(() => renewPollClaims(deps.db.sql, [...heldClaims]), async () => {
    const sides = [claim(), ...Array.from({ length: most }, poll)];
    for (const outcome of await Promise.allSettled(sides)) {
      if (outcome.status === "rejected") first ??= outcome.reason;
    }
    for (const outcome of await Promise.allSettled(tails)) {
      if (outcome.status === "rejected") first ??= outcome.reason;
    }
  }, { log: deps.log, what: "payment polls", everyMs: options.renewEveryMs ?? RENEW_EVERY_MS });
  if (first) throw first;
  return polled;
}

/**
 * Polls one payment now, whatever its schedule (a result POST to confirm, an admin's request):
 * claimed like a batch of one, so a batch never polls it at the same time. A final payment is
 * returned as it is; a poll Paynow did not answer is rescheduled and its error thrown.
 */
export async function pollPayment(deps: Payments, paymentId: string): Promise<Payment> {
  const sql = deps.db.sql;
  const [row] = await sql<ClaimedPoll[]>`
    update payments
    set next_poll_at = now() + ${POLL_LEASE_SECONDS} * interval '1 second',
        poll_claim = ${crypto.randomUUID()}
    where id = ${paymentId} and status in ('created', 'sent')
    returning ${sql([...CLAIMED])}`;
  if (row) {
    const [outcome] = await whileRenewing(
      () => renewPollClaims(sql, [row.poll_claim]),
      () => pollClaimed(deps, [row]),
      { log: deps.log, what: "payment poll" },
    );
    if (outcome.error !== undefined) throw outcome.error;
  }
  const after = await getPayment(sql, paymentId);
  if (!after) throw new AppError("not_found", "This payment does not exist.");
  return after;
}

interface Answer {
  row: ClaimedPoll;
  /** Null when a trace found no transaction at Paynow. */
  report: StatusReport | null;
  /** Set when Paynow could not be asked. */
  error?: unknown;
}

/** Asks Paynow about a claimed payment: its poll URL, or by trace when that was lost. */
async function askPaynow(deps: Payments, row: ClaimedPoll): Promise<StatusReport | null> {
  const client = deps.paynow.clients[row.currency];
  if (!client) throw new Error(`no Paynow integration for ${row.currency}`);
  if (row.poll_url) return { source: "poll", status: await client.poll(row.poll_url) };
  const traced = await client.trace(row.reference);
  if (!traced) return null;
  await deps.db.sql`update payments set poll_url = ${traced.pollUrl}, updated_at = now()
                    where id = ${row.id}`;
  return { source: "trace", status: traced };
}

/**
 * One batch of claimed payments: Paynow asked about all of them at once (over keep-alive
 * connections, at most {@link POLL_IN_FLIGHT} per process), then
 * - the answers that change nothing (most: still pending) recorded, each with its next poll on
 *   the growing schedule, in ONE statement;
 * - the polls Paynow did not answer rescheduled for the same step of the schedule (not counted),
 *   in one statement;
 * - the rest (a new status, a payment past its expiry, a claim lost meanwhile) taken one by one
 *   through the full path: the status transaction (credit once), events, expiry, next poll;
 * - the ticks of the next due times queued (one per slot).
 * Returns each payment's outcome, in order (`error`: it was not polled, or not settled).
 */
export async function pollClaimed(
  deps: Payments,
  rows: ClaimedPoll[],
  asked: () => void = () => {},
  sendsDone: () => Promise<void> = () => Promise.resolve(),
): Promise<{ id: string; error?: unknown }[]> {
  const limit = deps.paynowRequests;
  const answers = await Promise.all(rows.map((row) =>
    limit(() => askPaynow(deps, row)).then(
      (report): Answer => ({ row, report }),
      (error): Answer => ({ row, report: null, error: error ?? new Error("poll failed") }),
    )
  ));
  asked();
  await sendsDone();
  const errors = new Map<string, unknown>();
  const due: Date[] = [];
  const failed = answers.filter((a) => a.error !== undefined);
  const unchanged = answers.filter((a) =>
    a.error === undefined && a.report !== null &&
    OUTCOME_TO_STATUS[a.report.status.outcome] === a.row.status
  );
  const recorded = await recordUnchangedPolls(deps.db.sql, unchanged);
  due.push(...recorded.values());
  const rest = answers.filter((a) => a.error === undefined && !recorded.has(a.row.id));

  if (failed.length > 0) {
    due.push(...await rescheduleFailedPolls(deps.db.sql, failed));
    for (const a of failed) errors.set(a.row.id, a.error);
    deps.log.warn("Paynow polls failed; rescheduled", {
      count: failed.length,
      paymentId: failed[0].row.id,
      error: failed[0].error,
    });
  }

  const settling = pLimit(SETTLE_AT_ONCE);
  await Promise.all(rest.map((a) =>
    settling(async () => {
      try {
        const next = await settlePolled(deps, a.row, a.report);
        if (next) due.push(next);
      } catch (error) {
        // Left claimed: the reconciler queues a tick for it once its lease has run out.
        errors.set(a.row.id, error);
        deps.log.error("payment poll not settled", { paymentId: a.row.id, error });
      }
    })
  ));

  const slots = new Set(due.map((d) => pollTickAt(d)));
  await Promise.all([...slots].map((at) => queuePollTick(deps.jobs, at)));
  return rows.map(({ id }) => errors.has(id) ? { id, error: errors.get(id) } : { id });
}

/**
 * Polls that changed nothing: each answer recorded and the next poll scheduled, for the whole
 * batch in one statement, for each payment only while the batch still holds its claim, it
 * is still in the status it was read in and not yet expired. Returns id → next due time of the
 * payments recorded; the others take the full path.
 */
async function recordUnchangedPolls(sql: Sql, answers: Answer[]): Promise<Map<string, Date>> {
  if (answers.length === 0) return new Map();
  const column = <T>(f: (a: Answer) => T) => answers.map(f);
  const rows = await sql<{ id: string; next_poll_at: Date }[]>`
    with answer as (
      select * from unnest(
        ${column((a) => a.row.id)}::uuid[],
        ${column((a) => a.row.status)}::text[],
        ${column((a) => a.row.poll_claim)}::uuid[],
        ${column((a) => a.row.poll_count)}::int[],
        ${column((a) => pollDelaySeconds(a.row.poll_count + 1))}::int[],
        ${column((a) => a.report!.source)}::text[],
        ${column((a) => a.report!.status.message.raw)}::text[],
        ${column((a) => a.report!.status.status)}::text[]
      ) as a(id, status, claim, poll_count, delay_seconds, source, raw, paynow_status)
    ), scheduled as (
      update payments p set poll_count = p.poll_count + 1,
        next_poll_at = least(now() + a.delay_seconds * interval '1 second', p.expires_at),
        poll_claim = null, updated_at = now()
      from answer a
      where p.id = a.id and p.status = a.status and p.poll_count = a.poll_count
        and p.poll_claim = a.claim and p.expires_at > now()
      returning p.id, p.status, p.next_poll_at
    ), recorded as (
      insert into payment_events (payment_id, source, raw, paynow_status, status_from, note)
      select s.id, a.source, a.raw, a.paynow_status, s.status, 'no change'
      from scheduled s join answer a on a.id = s.id
    )
    select id, next_poll_at from scheduled`;
  return new Map(rows.map((r) => [r.id, r.next_poll_at]));
}

/**
 * Polls Paynow did not answer: asked again after the interval of the same step of the schedule
 * (the step is not counted), in one statement, while the batch still holds them. Returns the
 * new due times.
 */
async function rescheduleFailedPolls(sql: Sql, answers: Answer[]): Promise<Date[]> {
  const rows = await sql<{ next_poll_at: Date }[]>`
    update payments p
    set next_poll_at = now() + a.delay_seconds * interval '1 second', poll_claim = null,
        updated_at = now()
    from unnest(
      ${answers.map((a) => a.row.id)}::uuid[],
      ${answers.map((a) => a.row.poll_claim)}::uuid[],
      ${answers.map((a) => pollDelaySeconds(a.row.poll_count))}::int[]
    ) as a(id, claim, delay_seconds)
    where p.id = a.id and p.poll_claim = a.claim and p.status in ('created', 'sent')
    returning p.next_poll_at`;
  return rows.map((r) => r.next_poll_at);
}

/**
 * The full path for one polled payment: the answer applied (transition, credit, events), then
 * expiry, then its next poll, scheduled while this batch still holds it. Returns the next due
 * time, null when there is none (final, or taken over by another poll).
 */
async function settlePolled(
  deps: Payments,
  row: ClaimedPoll,
  report: StatusReport | null,
): Promise<Date | null> {
  const sql = deps.db.sql;
  const payment: Payment | null = report
    ? await applyStatus(deps, row.id, report)
    : await getPayment(sql, row.id);
  if (!payment || isFinal(payment.status)) return null;
  if (payment.expiresAt.getTime() <= Date.now()) {
    await expirePayment(deps, row.id);
    return null;
  }
  const [scheduled] = await sql<{ next_poll_at: Date }[]>`
    update payments set poll_count = poll_count + 1,
      next_poll_at = least(now() + ${
    pollDelaySeconds(row.poll_count + 1)
  } * interval '1 second', expires_at),
      poll_claim = null, updated_at = now()
    where id = ${row.id} and status in ('created', 'sent') and poll_claim = ${row.poll_claim}
    returning next_poll_at`;
  return scheduled?.next_poll_at ?? null;
}
