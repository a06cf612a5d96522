/**
 * The admin live feed: payments changing status, jobs dying, and the messages of every
 * conversation on every channel (web, API, WhatsApp, Telegram), as they happen, for the
 * dashboard's SSE stream (`/admin/api/feed`).
 *
 * It reads the durable records rather than listening for notifications: `payment_events`
 * (every transition, by its identity key), open `job_failures` (by `last_seen`, on their
 * partial index), users' messages (by `created_at`) and answers (by `completed_at`, once they
 * are finished). So it sees what every instance did, on both database back ends, without any
 * other module having to publish anything; the price is a delay of up to one poll interval.
 * One poller per process runs only while at least one admin has the feed open. A message shows
 * as a short excerpt with phone numbers and e-mail addresses masked, as /admin/conversations
 * shows it.
 *
 * Commit order is not id order on a busy server (a transaction holding a lower id can commit
 * after a higher one is read), so each poll looks a little behind its cursor and drops what it
 * already delivered.
 */
import { type Channel, CHANNEL_LABELS } from "../channels.ts";
import type { Sql } from "../db/mod.ts";
import type { PaymentRow } from "../payments/model.ts";
import type { Logger } from "../observability/log.ts";
import { maskText } from "../observability/mask.ts";

export interface FeedEvent {
  /**
   * Unique per event: `payment_event:<id>`, `job_failure:<id>:<last_seen ms>` or
   * `message:<id>`.
   */
  id: string;
  at: string;
  kind: "payment" | "job" | "message";
  level: "info" | "warn" | "error";
  title: string;
  detail: string;
  /** The admin page about it. */
  href: string;
}

export interface AdminFeed {
  /** Calls `fn` with each new event; returns the unsubscribe function. */
  subscribe(fn: (e: FeedEvent) => void): () => void;
  /** The latest events (oldest first), for a client that just connected. */
  recent(): Promise<FeedEvent[]>;
  /** Subscribers now (tests). */
  readonly size: number;
  /** Stops polling; the feed can still be subscribed again later. */
  close(): void;
}

const LOOK_BEHIND_IDS = 100;
const LOOK_BEHIND_MS = 10_000;
const RECENT = 20;
/** Characters of a message the feed shows. */
const EXCERPT = 160;
/** Messages of each side (users', answers) one poll reads at most. */
const MESSAGES_PER_POLL = 500;

/** A payment's event with the payment it is about (bigint and numeric columns as text). */
type PaymentEventRow = Pick<PaymentRow, "amount" | "currency" | "method" | "reference" | "flag"> & {
  id: string;
  payment_id: string;
  source: string;
  status_from: string | null;
  status_to: string | null;
  note: string | null;
  created_at: Date;
};

interface DeadLetterRow {
  id: string;
  job: string;
  attempts: number;
  last_error: string;
  last_seen: Date;
}

const PAYMENT_EVENTS = (sql: Sql) =>
  sql`
  select e.id, e.payment_id, e.source, e.status_from, e.status_to, e.note, e.created_at,
         p.amount, p.currency, p.method, p.reference, p.flag
  from payment_events e join payments p on p.id = e.payment_id`;

function paymentEvent(r: PaymentEventRow): FeedEvent | null {
  const flagged = r.note?.startsWith("flagged") ?? false;
  const to = r.status_to;
  if (!to && !flagged) return null; // polls that changed nothing
  const money = `${r.currency} ${r.amount} via ${r.method}`;
  const level = flagged ? "error" : to === "paid" || to === "sent" ? "info" : "warn";
  const title = flagged
    ? `Payment flagged: ${String(r.note).replace(/^flagged:\s*/, "")}`
    : to === "sent"
    ? "Payment started"
    : `Payment ${to}`;
  return {
    id: `payment_event:${r.id}`,
    at: r.created_at.toISOString(),
    kind: "payment",
    level,
    title,
    detail: `${money} · ${r.reference}${r.note && !flagged ? ` · ${r.note}` : ""}`,
    href: `/admin/payments/${r.payment_id}`,
  };
}

function jobEvent(r: DeadLetterRow): FeedEvent {
  return {
    id: `job_failure:${r.id}:${r.last_seen.getTime()}`,
    at: r.last_seen.toISOString(),
    kind: "job",
    level: "error",
    title: `Job dead-lettered: ${r.job}`,
    detail: `after ${r.attempts} attempts: ${String(r.last_error).slice(0, 200)}`,
    href: "/admin/jobs",
  };
}

/** A user's message or an answer, with the time it counts from (created or completed). */
interface MessageRow {
  id: string;
  conversation_id: string;
  role: string;
  status: string;
  channel: Channel;
  error_code: string | null;
  excerpt: string;
  at: Date;
}

const MESSAGE_COLUMNS = (sql: Sql) =>
  sql`m.id, m.conversation_id, m.role, m.status, m.channel, m.error_code,
      left(m.content, ${EXCERPT * 2}) as excerpt`;

/** Users' messages stored after `since`, and answers finished after it, oldest first. */
function messagesSince(sql: Sql, since: Date, limit: number) {
  return sql<MessageRow[]>`
    (select ${MESSAGE_COLUMNS(sql)}, m.created_at as at from messages m
     where m.role = 'user' and m.created_at > ${since} order by m.created_at limit ${limit})
    union all
    (select ${MESSAGE_COLUMNS(sql)}, m.completed_at as at from messages m
     where m.role = 'assistant' and m.completed_at > ${since}
     order by m.completed_at limit ${limit})`;
}

/** The newest users' messages and finished answers. */
function latestMessages(sql: Sql, limit: number) {
  return sql<MessageRow[]>`
    (select ${MESSAGE_COLUMNS(sql)}, m.created_at as at from messages m
     where m.role = 'user' order by m.created_at desc limit ${limit})
    union all
    (select ${MESSAGE_COLUMNS(sql)}, m.completed_at as at from messages m
     where m.role = 'assistant' and m.completed_at is not null
     order by m.completed_at desc limit ${limit})`;
}

function messageEvent(r: MessageRow): FeedEvent {
  const where = CHANNEL_LABELS[r.channel] ?? String(r.channel);
  const failed = r.status === "error";
  const text = maskText(String(r.excerpt ?? "").replace(/\s+/g, " ").trim());
  return {
    id: `message:${r.id}`,
    at: r.at.toISOString(),
    kind: "message",
    level: failed ? "warn" : "info",
    title: r.role === "user"
      ? `Message on ${where}`
      : failed
      ? `Answer failed on ${where}`
      : r.status === "aborted"
      ? `Answer stopped on ${where}`
      : `Answer on ${where}`,
    // Cut by code points: an emoji is never halved.
    detail: [...text].length > EXCERPT
      ? [...text].slice(0, EXCERPT - 1).join("") + "…"
      : text || (failed ? `error: ${r.error_code ?? "unknown"}` : "(empty)"),
    href: `/admin/conversations/${r.conversation_id}`,
  };
}

export function createAdminFeed(
  sql: Sql,
  options: { log: Logger; intervalMs?: number },
): AdminFeed {
  const intervalMs = options.intervalMs ?? 1000;
  const subscribers = new Set<(e: FeedEvent) => void>();
  const delivered = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let cursor: { eventId: number; lastSeen: Date; messagesSeen: Date } | null = null;
  let ready: Promise<void> = Promise.resolve();
  let polling: Promise<void> | null = null;

  const remember = (id: string) => {
    delivered.add(id);
    if (delivered.size > 5000) delivered.delete(delivered.values().next().value!);
  };

  async function start() {
    const [row] = await sql<{ id: string; now: Date }[]>`
      select coalesce((select max(id) from payment_events), 0)::bigint as id, now() as now`;
    cursor = { eventId: Number(row.id), lastSeen: row.now, messagesSeen: row.now };
  }

  async function poll() {
    await ready;
    if (!cursor) await start(); // the first start failed
    const c = cursor!;
    const [payments, jobs, messages] = await Promise.all([
      sql<PaymentEventRow[]>`${PAYMENT_EVENTS(sql)}
          where e.id > ${Math.max(0, c.eventId - LOOK_BEHIND_IDS)}
          order by e.id limit 500`,
      sql<DeadLetterRow[]>`select id, job, attempts, last_error, last_seen from job_failures
          where status = 'dead' and last_seen > ${new Date(c.lastSeen.getTime() - LOOK_BEHIND_MS)}
          order by last_seen limit 200`,
      messagesSince(sql, new Date(c.messagesSeen.getTime() - LOOK_BEHIND_MS), MESSAGES_PER_POLL),
    ]);
    const fresh: FeedEvent[] = [];
    for (const r of payments) {
      c.eventId = Math.max(c.eventId, Number(r.id));
      const e = paymentEvent(r);
      if (e && !delivered.has(e.id)) fresh.push(e);
      if (e) remember(e.id);
    }
    for (const r of jobs) {
      if (r.last_seen > c.lastSeen) c.lastSeen = r.last_seen;
      const e = jobEvent(r);
      if (!delivered.has(e.id)) fresh.push(e);
      remember(e.id);
    }
    // The cursor moves to the newest message read, but not past the last one of a side that
    // filled its limit: what lies beyond it is read next time.
    let seen = c.messagesSeen;
    for (const r of messages) {
      if (r.at > seen) seen = r.at;
      const e = messageEvent(r);
      if (!delivered.has(e.id)) fresh.push(e);
      remember(e.id);
    }
    for (const role of ["user", "assistant"]) {
      const side = messages.filter((r) => r.role === role).map((r) => r.at);
      if (side.length < MESSAGES_PER_POLL) continue;
      const last = side.reduce((a, b) => (b > a ? b : a));
      if (last < seen) seen = last;
    }
    c.messagesSeen = seen;
    fresh.sort((a, b) => a.at.localeCompare(b.at));
    for (const e of fresh) for (const fn of subscribers) fn(e);
  }

  function schedule() {
    timer = setTimeout(() => {
      polling = poll()
        .catch((error) => options.log.error("admin feed poll failed", { error }))
        .finally(() => {
          polling = null;
          if (subscribers.size > 0) schedule();
          else timer = undefined;
        });
    }, intervalMs);
  }

  return {
    subscribe(fn) {
      subscribers.add(fn);
      if (!timer && !polling) {
        // The cursor starts at "now" when the first admin connects; `recent()` shows the past.
        cursor = null;
        ready = start().catch((error) => options.log.error("admin feed start failed", { error }));
        schedule();
      }
      return () => {
        subscribers.delete(fn);
        if (subscribers.size === 0 && timer) {
          clearTimeout(timer);
          timer = undefined;
        }
      };
    },
    async recent() {
      const [payments, jobs, messages] = await Promise.all([
        sql<PaymentEventRow[]>`${PAYMENT_EVENTS(sql)}
            where e.status_to is not null or e.note like 'flagged%'
            order by e.id desc limit ${RECENT}`,
        sql<DeadLetterRow[]>`select id, job, attempts, last_error, last_seen from job_failures
            where status = 'dead' order by last_seen desc limit ${RECENT}`,
        latestMessages(sql, RECENT),
      ]);
      const events = [
        ...payments.map(paymentEvent).filter((e): e is FeedEvent => e !== null),
        ...jobs.map(jobEvent),
        ...messages.map(messageEvent),
      ];
      for (const e of events) remember(e.id);
      return events.sort((a, b) => a.at.localeCompare(b.at)).slice(-RECENT);
    },
    get size() {
      return subscribers.size;
    },
    close() {
      subscribers.clear();
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
