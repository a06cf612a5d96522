/**
 * The product's own events, published to the topic an admin routes each to
 * (`notification_event_routes`; no route: not published).
 *
 * Where each comes from:
 * - the event hub (lib/events.ts), heard by every instance: `payment.updated` (the payments'
 *   own event: paid, failed or cancelled, expired), and the product events `job.dead_lettered`
 *   (lib/jobs/queue.ts), `account.signed_up` (the sign-up routes and a WhatsApp first contact)
 *   `ai.answer_failed` (lib/chat/run.ts), `grievance.created` (lib/grievances/intake.ts)
 *   and `conversation.message` (lib/chat/run.ts: a user's message and its answer, on any
 *   channel, mirrored together once stored: a Slack channel for operators, say);
 * - a check every minute (`notifications.watch`) for what is a condition over time rather than
 *   a moment: the AI upstream answering again after failing (lib/chat/health.ts), and a spike of
 *   webhook signature failures (lib/whatsapp/signature_failures.ts).
 *
 * Every instance hears every hub event, so each publication carries a dedupe key (the payment
 * and its status, the job, the user): one is recorded however many instances react. The two
 * states (AI upstream up or down, a spike on or off) live in `notification_watches` and change
 * by a conditional update, so only the instance that changes one announces it.
 *
 * The hub delivers at most once: an event published by a process that dies before its NOTIFY
 * is lost. These are alerts for people; the records they describe are where they always were.
 */
import { getUser } from "../accounts/users.ts";
import { type Channel, CHANNEL_LABELS } from "../channels.ts";
import { refreshAhead } from "../cache.ts";
import { answeredSince } from "../chat/health.ts";
import type { Database } from "../db/mod.ts";
import type { HubEvent } from "../events.ts";
import { AppError } from "../errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import { maskText } from "../observability/mask.ts";
import { getPaymentForUser, type Payment } from "../payments/model.ts";
import { signatureFailuresSince } from "../whatsapp/signature_failures.ts";
import { notificationDeliverJob } from "./jobs.ts";
import { isUuid, type Message, PRODUCT_EVENTS, type ProductEvent } from "./model.ts";
import { publish } from "./publish.ts";

type Deps = { db: Database; log: Logger };

/** What the dashboard says of each event. */
export const EVENT_LABELS: Record<ProductEvent, string> = {
  "payment.paid": "A payment was paid",
  "payment.failed": "A payment failed or was cancelled",
  "payment.expired": "A payment expired unpaid",
  "job.dead_lettered": "A job gave up (dead letter)",
  "ai.upstream_down": "The AI upstream started failing",
  "ai.upstream_recovered": "The AI upstream answers again",
  "webhook.signature_spike": "A spike of WhatsApp webhook signature failures",
  "account.signed_up": "Someone signed up",
  "grievance.created": "A grievance was reported",
  "conversation.message": "A message in any conversation, on any channel (a mirror)",
};

/** Characters of a message a mirror carries. */
const MIRRORED_CHARS = 1_500;

/** A spike: this many signature failures within the window. */
export const SIGNATURE_SPIKE = { windowMinutes: 5, threshold: 20 };

/** AI errors that mean the upstream is failing (not a too-long conversation or a stop). */
const UPSTREAM_FAILURES = new Set(["upstream_down", "timeout", "bad_key", "rate_limited"]);

const AI = "ai_upstream";
const SIGNATURES = "whatsapp_signatures";

export const isProductEvent = (value: string): value is ProductEvent =>
  (PRODUCT_EVENTS as readonly string[]).includes(value);

// ---- routes ---------------------------------------------------------------------------------

export interface EventRoute {
  event: ProductEvent;
  label: string;
  topicId: string | null;
  topic: string | null;
}

export async function listEventRoutes(deps: Pick<Deps, "db">): Promise<EventRoute[]> {
  const rows = await deps.db.sql<{ event: string; topic_id: string; name: string }[]>`
    select r.event, r.topic_id, t.name
    from notification_event_routes r
    join notification_topics t on t.id = r.topic_id`;
  const byEvent = new Map(rows.map((r) => [r.event, r]));
  return PRODUCT_EVENTS.map((event) => ({
    event,
    label: EVENT_LABELS[event],
    topicId: byEvent.get(event)?.topic_id ?? null,
    topic: byEvent.get(event)?.name ?? null,
  }));
}

/** Routes `event` to a topic (null: not published). */
export async function setEventRoute(
  deps: Pick<Deps, "db">,
  event: string,
  topicId: string | null,
): Promise<void> {
  if (!isProductEvent(event)) {
    throw new AppError(
      "unprocessable",
      `event: unknown event "${event.slice(0, 60)}"; the events are ${PRODUCT_EVENTS.join(", ")}`,
      { issues: [{ field: "event", message: "unknown event" }] },
    );
  }
  const sql = deps.db.sql;
  if (topicId === null) {
    await sql`delete from notification_event_routes where event = ${event}`;
    return;
  }
  const [topic] = isUuid(topicId)
    ? await sql`select id from notification_topics where id = ${topicId}`
    : [];
  if (!topic) {
    throw new AppError("unprocessable", "topicId: no such topic", {
      issues: [{ field: "topicId", message: "no such topic" }],
    });
  }
  await sql`insert into notification_event_routes (event, topic_id) values (${event}, ${topicId})
            on conflict (event) do update set topic_id = excluded.topic_id, updated_at = now()`;
}

async function routedTopics(sql: Database["sql"]): Promise<Map<string, string>> {
  const rows = await sql<{ event: string; name: string }[]>`
    select r.event, t.name from notification_event_routes r
    join notification_topics t on t.id = r.topic_id`;
  return new Map(rows.map((r) => [r.event, r.name]));
}

// ---- what each event says -------------------------------------------------------------------

interface Occurrence {
  event: ProductEvent;
  key: string;
  message: Message;
}

const PAYMENT_EVENT = new Map<string, ProductEvent>(Object.entries({
  paid: "payment.paid",
  failed: "payment.failed",
  cancelled: "payment.failed",
  expired: "payment.expired",
}));

function paymentMessage(p: Payment): Message {
  const how = p.method === "web" ? "Paynow web checkout" : p.method;
  const line = `**${p.currency} ${p.amount}** for ${p.tokens} tokens (${how}, ${p.channel}), ` +
    `reference \`${p.reference}\``;
  switch (p.status) {
    case "paid":
      return {
        title: "Payment paid",
        text: line + (p.flag ? `\n\nFlagged for an admin: ${p.flag}.` : ""),
      };
    case "expired":
      return { title: "Payment expired", text: `${line}\n\nNot paid in time.` };
    default:
      return {
        title: p.status === "cancelled" ? "Payment cancelled" : "Payment failed",
        text: line + (p.error ? `\n\n${p.error}` : ""),
      };
  }
}

/** The occurrence a hub event stands for, if it is one an admin can route. */
async function occurrenceOf(deps: Deps, e: HubEvent): Promise<Occurrence | null> {
  const sql = deps.db.sql;
  switch (e.type) {
    case "payment.updated": {
      const event = PAYMENT_EVENT.get(String(e.data.status));
      if (!event || !e.userId) return null;
      const payment = await getPaymentForUser(sql, e.userId, String(e.data.id));
      if (!payment || PAYMENT_EVENT.get(payment.status) !== event) return null;
      return {
        event,
        key: `payment:${payment.id}:${payment.status}`,
        message: paymentMessage(payment),
      };
    }
    case "job.dead_lettered": {
      // A delivery of ours that died must not announce itself: that could loop.
      if (e.data.job === notificationDeliverJob.name) return null;
      return {
        event: "job.dead_lettered",
        key: `dead:${e.data.jobId}`,
        message: {
          title: "Job dead-lettered",
          text: `\`${e.data.job}\` gave up after ${e.data.attempts} attempts: ` +
            `${String(e.data.error ?? "").slice(0, 500)}\n\nRetry or discard it on /admin/jobs.`,
        },
      };
    }
    case "account.signed_up": {
      const user = await getUser(sql, String(e.data.userId));
      if (!user) return null;
      const who = maskText(user.email ?? user.phone ?? "someone");
      return {
        event: "account.signed_up",
        key: `signup:${user.id}`,
        message: {
          title: "New sign-up",
          text: `${who} signed up (${String(e.data.via ?? "web")}).`,
        },
      };
    }
    case "grievance.created": {
      // The reference and channel only: a grievance's personal data never leaves it this way.
      const reference = String(e.data.reference ?? "");
      if (!/^GRV-\d{4}-\d+$/.test(reference)) return null;
      const files = Number(e.data.attachments ?? 0);
      return {
        event: "grievance.created",
        key: `grievance:${String(e.data.id)}`,
        message: {
          title: "New grievance",
          text: `**${reference}** came in by ${String(e.data.channel ?? "web")}` +
            (files > 0 ? ` with ${files} attachment${files === 1 ? "" : "s"}` : "") +
            ". See /admin/grievances.",
        },
      };
    }
    default:
      return null;
  }
}

/**
 * What a `conversation.message` names, as one occurrence: the user's message and, when there is
 * one, its answer, together (one post per turn, in order), with phone numbers and e-mail
 * addresses masked as /admin/conversations shows them.
 */
async function messagesOccurrence(deps: Deps, e: HubEvent): Promise<Occurrence | null> {
  const ids = (Array.isArray(e.data.messageIds) ? e.data.messageIds : [])
    .filter((id): id is string => typeof id === "string" && isUuid(id)).slice(0, 10);
  if (ids.length === 0) return null;
  const rows = await deps.db.sql`
    select m.id, m.conversation_id, m.role, m.mode, m.status, m.channel, m.error_code,
           left(m.content, ${MIRRORED_CHARS + 1}) as content, u.email, u.phone
    from messages m join users u on u.id = m.user_id
    where m.id = any(${ids}::uuid[]) order by m.created_at, m.role desc`;
  if (rows.length === 0) return null;
  const first = rows[0];
  const where = CHANNEL_LABELS[first.channel as Channel] ?? String(first.channel);
  const who = maskText(String(first.email ?? first.phone ?? "someone"));
  const said = rows.map((r) => {
    const content = maskText(String(r.content));
    const words = content.length > MIRRORED_CHARS
      ? [...content].slice(0, MIRRORED_CHARS).join("") + "…"
      : content;
    if (r.role === "user") return `**Asked:** ${words || "(empty)"}`;
    return r.status === "error"
      ? `**Answer:** failed (\`${r.error_code ?? "unknown"}\`)`
      : `**Answer:** ${words || "(empty)"}`;
  });
  return {
    event: "conversation.message",
    key: `messages:${rows.map((r) => r.id).join(",")}`,
    message: {
      title: `Message on ${where}`,
      text: `From ${who}, ${first.mode}, /admin/conversations/${first.conversation_id}\n\n` +
        said.join("\n\n"),
    },
  };
}

// ---- publishing -----------------------------------------------------------------------------

async function announce(
  deps: Deps,
  jobs: Enqueuer,
  routes: Map<string, string>,
  o: Occurrence,
): Promise<void> {
  const topic = routes.get(o.event);
  if (!topic) return;
  try {
    const { deduplicated } = await publish(deps, jobs, topic, o.message, {
      dedupeKey: `event:${o.key}`,
      source: `event:${o.event}`,
    });
    if (!deduplicated) deps.log.info("product event published", { event: o.event, topic });
  } catch (error) {
    // A topic without channels, say: the admin sees it on the dashboard; the event is dropped.
    deps.log.warn("product event not published", {
      event: o.event,
      topic,
      error: error instanceof AppError ? error.message : error,
    });
  }
}

/** Moves a watched state to `to`; its new start for the one caller that changed it, else null. */
async function transition(sql: Database["sql"], source: string, to: string): Promise<Date | null> {
  const [row] = await sql<{ state_since: Date }[]>`
    insert into notification_watches (source, state, state_since)
    values (${source}, ${to}, now())
    on conflict (source) do update set state = excluded.state, state_since = excluded.state_since
    where notification_watches.state <> excluded.state
    returning state_since`;
  return row?.state_since ?? null;
}

/**
 * Reacts to hub events (main.ts observes the hub with it). Holds the routes for two seconds,
 * and what it last saw of the AI upstream for ten, so a burst of failing answers costs one
 * statement, not one each.
 */
export function createEventReactor(deps: Deps) {
  const routes = refreshAhead(() => routedTopics(deps.db.sql), 2_000);
  let aiDownSeenAt = 0;

  async function react(jobs: Enqueuer, e: HubEvent): Promise<void> {
    try {
      if (e.type === "ai.answer_failed") {
        if (!UPSTREAM_FAILURES.has(String(e.data.code))) return;
        if (Date.now() - aiDownSeenAt < 10_000) return;
        aiDownSeenAt = Date.now();
        const since = await transition(deps.db.sql, AI, "down");
        if (!since) return;
        await announce(deps, jobs, await routes.get(), {
          event: "ai.upstream_down",
          key: `ai:down:${since.toISOString()}`,
          message: {
            title: "AI upstream failing",
            text:
              `Answers are failing (\`${e.data.code}\`${
                e.data.status ? `, HTTP ${e.data.status}` : ""
              }): users are told the service cannot connect. You will hear when it answers ` +
              "again.",
          },
        });
        return;
      }
      if (e.type === "conversation.message") {
        // Off unless an admin routed it: then each message goes to the topic, once.
        const routed = await routes.get();
        if (!routed.has(e.type)) return;
        const o = await messagesOccurrence(deps, e);
        if (o) await announce(deps, jobs, routed, o);
        return;
      }
      // Which event this would be, told without a query: most hub events are none, or not routed.
      const event = e.type === "payment.updated"
        ? PAYMENT_EVENT.get(String(e.data.status))
        : e.type === "job.dead_lettered" || e.type === "account.signed_up" ||
            e.type === "grievance.created"
        ? e.type
        : undefined;
      if (!event) return;
      const routed = await routes.get();
      if (!routed.has(event)) return;
      const o = await occurrenceOf(deps, e);
      if (o) await announce(deps, jobs, routed, o);
    } catch (error) {
      deps.log.error("product event reaction failed", { type: e.type, error });
    }
  }

  return {
    react,
    /** Forgets the routes held, after a change on this instance. */
    invalidateRoutes: () => routes.invalidate(),
  };
}

/**
 * `notifications.watch`, every minute: the AI upstream answering again, and the signature
 * failure spike coming or going.
 */
export async function watchProduct(deps: Deps, jobs: Enqueuer, now = new Date()): Promise<void> {
  const sql = deps.db.sql;
  const routes = await routedTopics(sql);
  const [ai] = await sql<{ state: string; state_since: Date }[]>`
    select state, state_since from notification_watches where source = ${AI}`;
  if (ai?.state === "down" && await answeredSince(sql, ai.state_since)) {
    const since = await transition(sql, AI, "up");
    if (since) {
      await announce(deps, jobs, routes, {
        event: "ai.upstream_recovered",
        key: `ai:up:${since.toISOString()}`,
        message: {
          title: "AI upstream recovered",
          text: `Answers complete again (failing since ${
            ai.state_since.toISOString().slice(0, 16).replace("T", " ")
          } UTC).`,
        },
      });
    }
  }

  if (!routes.has("webhook.signature_spike")) return;
  const from = new Date(now.getTime() - SIGNATURE_SPIKE.windowMinutes * 60_000);
  const failures = await signatureFailuresSince(sql, from);
  const [spike] = await sql`select state from notification_watches where source = ${SIGNATURES}`;
  if (failures >= SIGNATURE_SPIKE.threshold && spike?.state !== "spike") {
    const since = await transition(sql, SIGNATURES, "spike");
    if (!since) return;
    await announce(deps, jobs, routes, {
      event: "webhook.signature_spike",
      key: `signatures:${since.toISOString()}`,
      message: {
        title: "WhatsApp webhook signature failures",
        text: `${failures} webhook deliveries with a missing or wrong signature in the last ` +
          `${SIGNATURE_SPIKE.windowMinutes} minutes. Someone may be probing the webhook, or ` +
          "WHATSAPP_APP_SECRET no longer matches the provider's. See /admin/webhooks.",
      },
    });
  } else if (failures < SIGNATURE_SPIKE.threshold / 4 && spike?.state === "spike") {
    await transition(sql, SIGNATURES, "quiet");
  }
}
