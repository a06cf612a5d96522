/**
 * `/admin/notifications`: the channels with their success rate over seven days and a "Send a
 * test" button that shows the upstream's answer, the topics, and which topic each product event
 * is published to; forms to create, edit and delete each (audited). The delivery log is
 * `/admin/notifications/deliveries` (notification_deliveries.tsx).
 *
 * A refused form is shown again with what was typed and the refusal, which names the field.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { AppError } from "../../lib/errors.ts";
import { METHOD_MODULES } from "../../lib/notifications/methods/mod.ts";
import type { Channel, Topic } from "../../lib/notifications/model.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { formatCount } from "../../lib/format.ts";
import { isRefusal } from "../_errors.tsx";
import { audit } from "./_audit.ts";
import { adminForm, back, UUID } from "./_forms.ts";
import { adminPage } from "./_layout.tsx";
import { type Column, ListTable, RowAction, TitledList } from "./_list.tsx";
import { ChannelFields, channelInput, TopicFields, topicInput } from "./notification_forms.tsx";

const PAGE = "/admin/notifications";

type TestResult = { channel: string; ok: boolean; text: string };

/** What an audit row keeps of a channel: never its secret, only how it is found. */
const auditedChannel = (ch: Channel) => ({
  name: ch.name,
  method: ch.method,
  settings: ch.settings,
  secret: ch.secret.source,
});

type Stats = Awaited<ReturnType<AppContext["notifications"]["deliveries"]["stats"]>>[number];
type EventRoute = Awaited<ReturnType<AppContext["notifications"]["events"]["routes"]>>[number];

const channelColumns = (csrf: string, statsOf: Map<string | null, Stats>): Column<Channel>[] => {
  const count = (ch: Channel, what: "sent" | "failed") =>
    formatCount(statsOf.get(ch.id)?.[what] ?? 0);
  return [
    { label: "Name", cell: (ch) => <a href={`${PAGE}/channels/${ch.id}`}>{ch.name}</a> },
    { label: "Method", cell: (ch) => METHOD_MODULES[ch.method].label },
    { label: "To", cell: (ch) => ch.recipient },
    {
      label: "Secret",
      cell: (ch) => ch.secret.source === "env" ? ch.secret.name : ch.secret.source,
    },
    { label: "Sent (7 d)", num: true, cell: (ch) => count(ch, "sent") },
    { label: "Failed (7 d)", num: true, cell: (ch) => count(ch, "failed") },
    {
      label: "Success",
      num: true,
      cell: (ch) => {
        const rate = statsOf.get(ch.id)?.successRate;
        return (
          <span data-testid={`rate-${ch.name}`}>
            {rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`}
          </span>
        );
      },
    },
    {
      label: "Action",
      class: "row-actions",
      cell: (ch) => (
        <>
          <RowAction action={`${PAGE}/channels/${ch.id}/test`} csrf={csrf} label="Send a test" />
          <RowAction
            action={`${PAGE}/channels/${ch.id}/delete`}
            csrf={csrf}
            label="Delete"
            danger
          />
        </>
      ),
    },
  ];
};

const topicColumns = (csrf: string, nameOf: Map<string, string>): Column<Topic>[] => [
  { label: "Name", cell: (t) => <a href={`${PAGE}/topics/${t.id}`}>{t.name}</a> },
  { label: "Description", cell: (t) => t.description },
  {
    label: "Channels",
    cell: (t) => t.channelIds.map((id) => nameOf.get(id)).join(", ") || "none",
  },
  {
    label: "Action",
    class: "row-actions",
    cell: (t) => (
      <RowAction action={`${PAGE}/topics/${t.id}/delete`} csrf={csrf} label="Delete" danger />
    ),
  },
];

const eventRouteColumns = (topics: Topic[]): Column<EventRoute>[] => [
  {
    label: "Event",
    cell: (r) => (
      <>
        <code>{r.event}</code>
        <br />
        <small>{r.label}</small>
      </>
    ),
  },
  {
    label: "Topic",
    cell: (r) => (
      <select name={r.event} aria-label={`Topic for ${r.event}`}>
        <option value="">— not published —</option>
        {topics.map((t) => (
          <option key={t.id} value={t.id} selected={t.id === r.topicId}>{t.name}</option>
        ))}
      </select>
    ),
  },
];

export function notificationAdminRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const n = ctx.notifications;

  async function page(
    c: Context<AuthEnv>,
    extra: {
      test?: TestResult;
      problem?: string;
      channelValues?: Record<string, string>;
      topicValues?: Record<string, string>;
    } = {},
  ): Promise<Response> {
    const [channels, topics, stats, routes, csrf] = await Promise.all([
      n.channels.list(),
      n.topics.list(),
      n.deliveries.stats(7),
      n.events.routes(),
      pageCsrfToken(c, ctx),
    ]);
    const statsOf = new Map(stats.map((s) => [s.channelId, s]));
    const nameOf = new Map(channels.map((ch) => [ch.id, ch.name]));
    return adminPage(c, ctx, {
      title: "Notifications",
      section: PAGE,
      children: (
        <>
          <p>
            <a href={`${PAGE}/deliveries`}>Delivery log →</a>
          </p>
          {extra.problem && <p class="form-error" role="alert">{extra.problem}</p>}
          {extra.test && (
            <p
              class={extra.test.ok ? "notice" : "form-error"}
              role="status"
              data-testid="test-result"
            >
              Test of <strong>{extra.test.channel}</strong>: {extra.test.ok ? "sent" : "failed"} —
              {" "}
              <code>{extra.test.text}</code>
            </p>
          )}
          <TitledList
            title="Channels"
            columns={channelColumns(csrf, statsOf)}
            rows={channels}
            empty="No channels yet."
          />
          <details open={extra.channelValues !== undefined}>
            <summary>New channel</summary>
            <form method="post" action={`${PAGE}/channels`} class="stack">
              <ChannelFields csrf={csrf} values={extra.channelValues} submit="Create channel" />
            </form>
          </details>

          <TitledList
            title="Topics"
            columns={topicColumns(csrf, nameOf)}
            rows={topics}
            empty="No topics yet."
          />
          <details open={extra.topicValues !== undefined}>
            <summary>New topic</summary>
            <form method="post" action={`${PAGE}/topics`} class="stack">
              <TopicFields
                csrf={csrf}
                channels={channels}
                values={extra.topicValues}
                submit="Create topic"
              />
            </form>
          </details>

          <h2>Product events</h2>
          <p class="muted">
            Each event is published to the topic chosen here; none: not published.
          </p>
          <form method="post" action={`${PAGE}/events`}>
            <input type="hidden" name="_csrf" value={csrf} />
            <ListTable
              label="Product events"
              columns={eventRouteColumns(topics)}
              rows={routes}
              empty="No product events."
            />
            <button type="submit">Save routes</button>
          </form>
        </>
      ),
    }, extra.problem ? 400 : 200);
  }

  /** The domain's refusal (a 4xx) shown on the page; anything else is not ours to show. */
  const refusal = (error: unknown) => {
    if (isRefusal(error)) return error.message;
    throw error;
  };

  app.get("/notifications", (c) => page(c));

  app.post("/notifications/channels", async (c) => {
    const values = await adminForm(c, ctx);
    try {
      const channel = await n.channels.create(channelInput(values, false));
      await audit(ctx.db.sql, c, {
        action: "notification_channel.create",
        targetType: "notification_channel",
        targetId: channel.id,
        after: auditedChannel(channel),
      });
      return back(c, PAGE, { notice: "created" });
    } catch (error) {
      const { secret_value: _, ...typed } = values;
      return page(c, { problem: refusal(error), channelValues: typed });
    }
  });

  app.get("/notifications/channels/:id", async (c) => {
    const channel = await n.channels.get(c.req.param("id"));
    if (!channel) throw new AppError("not_found", "This channel does not exist.");
    return channelPage(c, channel);
  });

  async function channelPage(
    c: Context<AuthEnv>,
    channel: Channel,
    problem?: string,
    values?: Record<string, string>,
  ) {
    const csrf = await pageCsrfToken(c, ctx);
    return adminPage(c, ctx, {
      title: `Channel ${channel.name}`,
      section: PAGE,
      children: (
        <>
          <p>
            <a href={PAGE}>← Notifications</a>
          </p>
          {problem && <p class="form-error" role="alert">{problem}</p>}
          <form method="post" action={`${PAGE}/channels/${channel.id}`} class="stack">
            <ChannelFields channel={channel} values={values} csrf={csrf} submit="Save" />
          </form>
        </>
      ),
    }, problem ? 400 : 200);
  }

  app.post("/notifications/channels/:id", async (c) => {
    const values = await adminForm(c, ctx);
    const before = await n.channels.get(c.req.param("id"));
    if (!before) return back(c, PAGE, { problem: "gone" });
    try {
      const channel = await n.channels.update(before.id, channelInput(values, true));
      await audit(ctx.db.sql, c, {
        action: "notification_channel.update",
        targetType: "notification_channel",
        targetId: channel.id,
        before: auditedChannel(before),
        after: auditedChannel(channel),
      });
      return back(c, PAGE, { notice: "saved" });
    } catch (error) {
      const { secret_value: _, ...typed } = values;
      return channelPage(c, before, refusal(error), typed);
    }
  });

  app.post("/notifications/channels/:id/delete", async (c) => {
    await adminForm(c, ctx);
    const before = await n.channels.get(c.req.param("id"));
    if (!before || !await n.channels.delete(before.id)) return back(c, PAGE, { problem: "gone" });
    await audit(ctx.db.sql, c, {
      action: "notification_channel.delete",
      targetType: "notification_channel",
      targetId: before.id,
      before: auditedChannel(before),
    });
    return back(c, PAGE, { notice: "deleted" });
  });

  app.post("/notifications/channels/:id/test", async (c) => {
    await adminForm(c, ctx);
    const channel = await n.channels.get(c.req.param("id"));
    if (!channel) return back(c, PAGE, { problem: "gone" });
    const outcome = await n.channels.test(ctx.jobs, channel.id);
    return page(c, {
      test: {
        channel: channel.name,
        ok: outcome.ok,
        text: outcome.ok ? outcome.response : outcome.error,
      },
    });
  });

  app.post("/notifications/topics", async (c) => {
    const values = await adminForm(c, ctx);
    try {
      const topic = await n.topics.create(topicInput(values));
      await audit(ctx.db.sql, c, {
        action: "notification_topic.create",
        targetType: "notification_topic",
        targetId: topic.id,
        after: topic,
      });
      return back(c, PAGE, { notice: "created" });
    } catch (error) {
      return page(c, { problem: refusal(error), topicValues: values });
    }
  });

  app.get("/notifications/topics/:id", async (c) => {
    const topic = await n.topics.get(c.req.param("id"));
    if (!topic) throw new AppError("not_found", "This topic does not exist.");
    const [channels, csrf] = await Promise.all([n.channels.list(), pageCsrfToken(c, ctx)]);
    return adminPage(c, ctx, {
      title: `Topic ${topic.name}`,
      section: PAGE,
      children: (
        <>
          <p>
            <a href={PAGE}>← Notifications</a>
          </p>
          <form method="post" action={`${PAGE}/topics/${topic.id}`} class="stack">
            <TopicFields topic={topic} channels={channels} csrf={csrf} submit="Save" />
          </form>
        </>
      ),
    });
  });

  app.post("/notifications/topics/:id", async (c) => {
    const values = await adminForm(c, ctx);
    const before = await n.topics.get(c.req.param("id"));
    if (!before) return back(c, PAGE, { problem: "gone" });
    try {
      const topic = await n.topics.update(before.id, topicInput(values));
      await audit(ctx.db.sql, c, {
        action: "notification_topic.update",
        targetType: "notification_topic",
        targetId: topic.id,
        before,
        after: topic,
      });
      return back(c, PAGE, { notice: "saved" });
    } catch (error) {
      return page(c, { problem: refusal(error) });
    }
  });

  app.post("/notifications/topics/:id/delete", async (c) => {
    await adminForm(c, ctx);
    const before = await n.topics.get(c.req.param("id"));
    if (!before || !await n.topics.delete(before.id)) return back(c, PAGE, { problem: "gone" });
    await audit(ctx.db.sql, c, {
      action: "notification_topic.delete",
      targetType: "notification_topic",
      targetId: before.id,
      before,
    });
    return back(c, PAGE, { notice: "deleted" });
  });

  app.post("/notifications/events", async (c) => {
    const values = await adminForm(c, ctx);
    const before = await n.events.routes();
    try {
      for (const route of before) {
        const chosen = values[route.event];
        if (chosen === undefined) continue;
        const topicId = chosen === "" ? null : chosen;
        if (topicId !== null && !UUID.test(topicId)) {
          throw new AppError("unprocessable", `${route.event}: choose one of the topics.`);
        }
        if (topicId !== route.topicId) await n.events.route(route.event, topicId);
      }
    } catch (error) {
      return page(c, { problem: refusal(error) });
    }
    const after = await n.events.routes();
    await audit(ctx.db.sql, c, {
      action: "notification_events.route",
      targetType: "notification_events",
      targetId: null,
      before: Object.fromEntries(before.map((r) => [r.event, r.topic])),
      after: Object.fromEntries(after.map((r) => [r.event, r.topic])),
    });
    return back(c, PAGE, { notice: "saved" });
  });

  return app;
}
