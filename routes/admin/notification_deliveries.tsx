/**
 * `/admin/notifications/deliveries`: the delivery log, newest first, searched by the message's
 * words (full-text), topic, channel, status and days (in TZ_METRICS). Recipients are masked.
 */
import { Hono } from "hono";
import { isDay } from "../../lib/metrics/days.ts";
import { isCursor } from "../../lib/notifications/log.ts";
import { METHOD_MODULES } from "../../lib/notifications/methods/mod.ts";
import {
  type Delivery,
  DELIVERY_STATUSES,
  type DeliveryStatus,
} from "../../lib/notifications/model.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminPage, PAGE_SIZE, Time } from "./_layout.tsx";
import { AdminList, type Column, cursorUrl } from "./_list.tsx";

/** Midnight of `day` in `timeZone`, as an instant. */
function startOfDay(day: string, timeZone: string): Date {
  const guess = new Date(`${day}T00:00:00Z`);
  const shown = (tz: string) => new Date(guess.toLocaleString("en-US", { timeZone: tz }));
  return new Date(guess.getTime() - (shown(timeZone).getTime() - shown("UTC").getTime()));
}

const deliveryColumns = (tz: string): Column<Delivery>[] => [
  {
    label: "Created",
    cell: (d) => (
      <>
        <Time at={d.createdAt} tz={tz} />
        {d.sentAt && (
          <>
            <br />
            <small>
              sent <Time at={d.sentAt} tz={tz} />
            </small>
          </>
        )}
      </>
    ),
  },
  { label: "Topic", cell: (d) => d.topic },
  {
    label: "Channel",
    cell: (d) => (
      <>
        {d.channel} <small class="muted">({METHOD_MODULES[d.method].label})</small>
      </>
    ),
  },
  { label: "To", cell: (d) => d.recipient },
  {
    label: "Message",
    cell: (d) => (
      <>
        {d.title && <strong>{d.title}</strong>} {d.text.slice(0, 200)}
      </>
    ),
  },
  {
    label: "Status",
    class: (d) => d.status === "sent" ? "good" : d.status === "failed" ? "bad" : "",
    cell: (d) => d.status,
  },
  { label: "Attempts", num: true, cell: (d) => d.attempts },
  {
    label: "Last error / id",
    class: "error-text",
    cell: (d) => d.lastError ?? (d.providerMessageId && <code>{d.providerMessageId}</code>),
  },
];

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
          <AdminList
            c={c}
            filters={{
              action: "/admin/notifications/deliveries",
              search: true,
              submit: "Search",
              filters: [
                { input: "q", label: "Words", type: "search", value: q, placeholder: "HK12 -test" },
                {
                  select: "topic",
                  label: "Topic",
                  options: topics.map((t) => t.name),
                  value: topic,
                },
                {
                  select: "channel",
                  label: "Channel",
                  options: channels.map((ch) => ch.name),
                  value: channel,
                },
                {
                  select: "status",
                  label: "Status",
                  options: DELIVERY_STATUSES,
                  value: status ?? "",
                },
                { input: "from", label: "From", type: "date", value: isDay(from) ? from : "" },
                { input: "to", label: "To", type: "date", value: isDay(to) ? to : "" },
              ],
            }}
            label="Deliveries"
            columns={deliveryColumns(tz)}
            rows={rows}
            empty="No deliveries match."
            paging={{
              newest: before ? cursorUrl(c, null) : null,
              older: result.nextCursor ? cursorUrl(c, result.nextCursor) : null,
            }}
          />
        </>
      ),
    });
  });

  return app;
}
