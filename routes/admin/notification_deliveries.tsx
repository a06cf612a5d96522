/**
 * `/admin/notifications/deliveries`: the delivery log, newest first, searched by the message's
 * words (full-text), topic, channel, status and days (in TZ_METRICS). Recipients are masked.
 */
import { Hono } from "hono";
import { isDay } from "../../lib/metrics/days.ts";
import { isCursor } from "../../lib/notifications/log.ts";
import { METHOD_MODULES } from "../../lib/notifications/methods/mod.ts";
import { DELIVERY_STATUSES, type DeliveryStatus } from "../../lib/notifications/model.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminPage, EmptyRow, PAGE_SIZE, Table, Time, withQuery } from "./_layout.tsx";

/** Midnight of `day` in `timeZone`, as an instant. */
function startOfDay(day: string, timeZone: string): Date {
  const guess = new Date(`${day}T00:00:00Z`);
  const shown = (tz: string) => new Date(guess.toLocaleString("en-US", { timeZone: tz }));
  return new Date(guess.getTime() - (shown(timeZone).getTime() - shown("UTC").getTime()));
}

export function notificationDeliveryRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const tz = ctx.config.tzMetrics;

  app.get("/notifications/deliveries", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 200);
    const topic = (c.req.query("topic") ?? "").slice(0, 200);
    const channel = (c.req.query("channel") ?? "").slice(0, 200);
    const rawStatus = c.req.query("status") ?? "";
    const status = (DELIVERY_STATUSES as readonly string[]).includes(rawStatus)
      ? rawStatus as DeliveryStatus
      : undefined;
    const from = c.req.query("from") ?? "";
    const to = c.req.query("to") ?? "";
    const before = c.req.query("before") ?? "";
    const [result, topics, channels] = await Promise.all([
      ctx.notifications.deliveries.search({
        q: q || undefined,
        topic: topic || undefined,
        channel: channel || undefined,
        status,
        from: isDay(from) ? startOfDay(from, tz) : undefined,
        to: isDay(to) ? new Date(startOfDay(to, tz).getTime() + 86_400_000) : undefined,
        after: isCursor(before) ? before : undefined,
        limit: PAGE_SIZE,
      }),
      ctx.notifications.topics.list(),
      ctx.notifications.channels.list(),
    ]);
    const rows = result.deliveries;
    return adminPage(c, ctx, {
      title: "Delivery log",
      section: "/admin/notifications",
      children: (
        <>
          <p>
            <a href="/admin/notifications">← Notifications</a>
          </p>
          <form method="get" action="/admin/notifications/deliveries" class="filters" role="search">
            <label>
              Words <input type="search" name="q" value={q} placeholder="HK12 -test" />
            </label>
            <label>
              Topic
              <select name="topic">
                <option value="">any</option>
                {topics.map((t) => (
                  <option key={t.id} selected={t.name === topic}>{t.name}</option>
                ))}
              </select>
            </label>
            <label>
              Channel
              <select name="channel">
                <option value="">any</option>
                {channels.map((ch) => (
                  <option key={ch.id} selected={ch.name === channel}>{ch.name}</option>
                ))}
              </select>
            </label>
            <label>
              Status
              <select name="status">
                <option value="">any</option>
                {DELIVERY_STATUSES.map((s) => <option key={s} selected={s === status}>{s}</option>)}
              </select>
            </label>
            <label>
              From <input type="date" name="from" value={isDay(from) ? from : ""} />
            </label>
            <label>
              To <input type="date" name="to" value={isDay(to) ? to : ""} />
            </label>
            <button type="submit">Search</button>
          </form>
          <Table label="Deliveries">
            <thead>
              <tr>
                <th>Created</th>
                <th>Topic</th>
                <th>Channel</th>
                <th>To</th>
                <th>Message</th>
                <th>Status</th>
                <th class="num">Attempts</th>
                <th>Last error / id</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr>
                  <td>
                    <Time at={d.createdAt} tz={tz} />
                    {d.sentAt && (
                      <>
                        <br />
                        <small>
                          sent <Time at={d.sentAt} tz={tz} />
                        </small>
                      </>
                    )}
                  </td>
                  <td>{d.topic}</td>
                  <td>
                    {d.channel} <small class="muted">({METHOD_MODULES[d.method].label})</small>
                  </td>
                  <td>{d.recipient}</td>
                  <td>
                    {d.title && <strong>{d.title}</strong>} {d.text.slice(0, 200)}
                  </td>
                  <td class={d.status === "sent" ? "good" : d.status === "failed" ? "bad" : ""}>
                    {d.status}
                  </td>
                  <td class="num">{d.attempts}</td>
                  <td class="error-text">
                    {d.lastError ?? (d.providerMessageId && <code>{d.providerMessageId}</code>)}
                  </td>
                </tr>
              ))}
              <EmptyRow when={rows.length === 0} columns={8}>No deliveries match.</EmptyRow>
            </tbody>
          </Table>
          {(result.nextCursor || before) && (
            <nav class="pager">
              {before && <a href={withQuery(c, { before: null })}>← Newest</a>}
              {result.nextCursor && (
                <a href={withQuery(c, { before: result.nextCursor })} rel="next">Older →</a>
              )}
            </nav>
          )}
        </>
      ),
    });
  });

  return app;
}
