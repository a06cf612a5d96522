/**
 * `/admin/payments`: payments filtered by status, method, currency, dates (days in TZ_METRICS)
 * or flag; one payment with every raw message exchanged with Paynow (`payment_events`), and
 * "Poll now", which asks Paynow at once through the same code as the polling schedule.
 * Flagged payments (amount mismatch, cancelled or refunded after paid) have their own tab.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import {
  listPayments,
  paymentDetail,
  type PaymentFilters,
  type PaymentListRow,
  pollPaymentNow,
} from "../../lib/admin/payments.ts";
import type { UserPaymentRow } from "../../lib/admin/users.ts";
import { notFound } from "../../lib/errors.ts";
import { isDay } from "../../lib/metrics/days.ts";
import {
  CURRENCIES,
  isFinal,
  PAYMENT_METHODS as METHODS,
  PAYMENT_STATUSES as STATUSES,
  type PaymentStatus,
} from "../../lib/payments/vocabulary.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { formatCount } from "../../lib/format.ts";
import { actorOf } from "./_audit.ts";
import { adminForm, back, foundById, UUID } from "./_forms.ts";
import { adminPage, Fact, Json, pageOf, Time } from "./_layout.tsx";
import { AdminList, type Column, ListTable } from "./_list.tsx";
import { PostButton } from "../../islands/_post_button.tsx";

/** One message exchanged with Paynow, as `paymentDetail` reads it. */
type PaymentEventRow = NonNullable<Awaited<ReturnType<typeof paymentDetail>>>["events"][number];

/** A payment's columns, as the payments list and a person's page show them. */
export const paymentColumns = (tz: string, when = "When"): Column<UserPaymentRow>[] => [
  {
    label: when,
    cell: (p) => (
      <a href={`/admin/payments/${p.id}`}>
        <Time at={p.created_at} tz={tz} />
      </a>
    ),
  },
  {
    label: "Status",
    cell: (p) => (
      <>
        <span class={`status-${p.status}`}>{p.status}</span>
        {p.flag && <span class="badge bad">{p.flag}</span>}
      </>
    ),
  },
  { label: "Amount", num: true, cell: (p) => `${p.currency} ${p.amount}` },
  { label: "Method", cell: (p) => p.method },
  { label: "Tokens", num: true, cell: (p) => formatCount(Number(p.tokens)) },
];

const listColumns = (tz: string): Column<PaymentListRow>[] => [
  ...paymentColumns(tz, "Started"),
  {
    label: "User",
    cell: (p) => <a href={`/admin/users/${p.user_id}`}>{p.email ?? "(no e-mail)"}</a>,
  },
  { label: "Reference", cell: (p) => <code>{p.reference}</code> },
];

const eventColumns = (tz: string): Column<PaymentEventRow>[] => [
  { label: "When", cell: (e) => <Time at={e.created_at} tz={tz} /> },
  { label: "Source", cell: (e) => e.source },
  { label: "Paynow status", cell: (e) => e.paynow_status ?? "" },
  { label: "Transition", cell: (e) => e.status_to ? `${e.status_from} → ${e.status_to}` : "" },
  { label: "Note", cell: (e) => e.note ?? "" },
  { label: "Raw", cell: (e) => e.raw ? <pre class="raw">{e.raw}</pre> : "" },
];

export function paymentRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  function filters(c: Context): PaymentFilters {
    const pick = (name: string, allowed: readonly string[]) => {
      const v = c.req.query(name) ?? "";
      return allowed.includes(v) ? v : "";
    };
    const day = (name: string) => {
      const v = c.req.query(name) ?? "";
      return isDay(v) ? v : "";
    };
    return {
      status: pick("status", STATUSES),
      method: pick("method", METHODS),
      currency: pick("currency", CURRENCIES),
      from: day("from"),
      to: day("to"),
      flagged: c.req.query("flagged") === "1",
      q: (c.req.query("q") ?? "").trim().slice(0, 64),
    };
  }

  app.get("/payments", async (c) => {
    const f = filters(c);
    const { page, offset, limit } = pageOf(c);
    const rows = await listPayments(sql, f, tz, { limit, offset });
    return adminPage(c, ctx, {
      title: f.flagged ? "Flagged payments" : "Payments",
      section: "/admin/payments",
      children: (
        <>
          <nav class="tabs">
            <a href="/admin/payments" aria-current={f.flagged ? undefined : "page"}>All</a>
            <a href="/admin/payments?flagged=1" aria-current={f.flagged ? "page" : undefined}>
              Flagged
            </a>
          </nav>
          <AdminList
            c={c}
            filters={{
              action: "/admin/payments",
              filters: [
                ...(f.flagged ? [{ hidden: "flagged", value: "1" }] : []),
                { select: "status", label: "Status", options: STATUSES, value: f.status },
                { select: "method", label: "Method", options: METHODS, value: f.method },
                { select: "currency", label: "Currency", options: CURRENCIES, value: f.currency },
                { input: "from", label: "From", type: "date", value: f.from },
                { input: "to", label: "To", type: "date", value: f.to },
                { input: "q", label: "Reference", type: "search", value: f.q },
              ],
            }}
            label="Payments"
            columns={listColumns(tz)}
            rows={rows}
            empty="No payments match."
            paging={{ page, limit }}
          />
        </>
      ),
    });
  });

  app.get("/payments/:id", async (c) => {
    const id = c.req.param("id");
    const detail = await foundById(id, "This payment", (id) => paymentDetail(sql, id));
    const { payment: p, events, polls } = detail;
    const final = isFinal(p.status as PaymentStatus);
    return adminPage(c, ctx, {
      title: `Payment ${p.reference}`,
      section: "/admin/payments",
      children: (
        <>
          <dl class="facts">
            <Fact term="Status" testId="payment-status">
              {p.status}
              {p.flag && <span class="badge bad">{p.flag}</span>}
            </Fact>
            <Fact term="Amount">
              {p.currency} {p.amount} for {formatCount(Number(p.tokens))} tokens
            </Fact>
            <Fact term="Method">{p.method} ({p.channel})</Fact>
            <Fact term="User">
              <a href={`/admin/users/${p.user_id}`}>{p.email ?? p.user_id}</a>
            </Fact>
            <Fact term="Paynow reference">{p.paynow_reference ?? "—"}</Fact>
            <Fact term="Started">
              <Time at={p.created_at} tz={tz} />
            </Fact>
            <Fact term="Settled">
              <Time at={p.settled_at} tz={tz} />
            </Fact>
            <Fact term="Polls" testId="payment-polls">
              {formatCount(polls.count)}
              {polls.lastAt && (
                <>
                  , last <Time at={polls.lastAt} tz={tz} />
                </>
              )}
              {final ? ", no more (final)" : (
                <>
                  , next <Time at={p.next_poll_at} tz={tz} />
                </>
              )}
            </Fact>
            <Fact term="Credited">{p.credited_entry_id ? "yes" : "no"}</Fact>
            {p.error && <Fact term="Error">{p.error}</Fact>}
          </dl>
          {!final && (
            <PostButton action={`/admin/payments/${id}/poll`} csrf={await pageCsrfToken(c, ctx)}>
              Poll now
            </PostButton>
          )}
          <h2>Messages with Paynow</h2>
          <ListTable
            label="Payment events"
            columns={eventColumns(tz)}
            rows={events}
            empty="No messages yet."
          />
          <details>
            <summary>Row</summary>
            <Json value={{ ...p, poll_url: p.poll_url ? "(set)" : null }} />
          </details>
        </>
      ),
    });
  });

  app.post("/payments/:id/poll", async (c) => {
    const id = c.req.param("id");
    await adminForm(c, ctx);
    const page = `/admin/payments/${id}`;
    if (!UUID.test(id)) throw notFound("This payment");
    const outcome = await pollPaymentNow(ctx.payments, actorOf(c), id);
    if (outcome !== "polled") return back(c, page, { problem: outcome });
    return back(c, page, { notice: "polled" });
  });

  return app;
}
