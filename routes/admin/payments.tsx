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
  PAYMENT_CURRENCIES as CURRENCIES,
  PAYMENT_METHODS as METHODS,
  PAYMENT_STATUSES as STATUSES,
  paymentDetail,
  type PaymentFilters,
  pollPaymentNow,
} from "../../lib/admin/payments.ts";
import { notFound } from "../../lib/errors.ts";
import { isDay } from "../../lib/metrics/days.ts";
import { isFinal, type PaymentStatus } from "../../lib/payments/payments.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { actorOf } from "./_audit.ts";
import { adminForm, back, UUID } from "./_forms.ts";
import { adminPage, EmptyRow, formatCount, Json, pageOf, Pager, Table, Time } from "./_layout.tsx";

function Select(props: { name: string; label: string; options: string[]; value: string }) {
  return (
    <label>
      {props.label}
      <select name={props.name}>
        <option value="">any</option>
        {props.options.map((o) => (
          <option key={o} value={o} selected={o === props.value}>{o}</option>
        ))}
      </select>
    </label>
  );
}

export function paymentRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  function filters(c: Context): PaymentFilters {
    const pick = (name: string, allowed: string[]) => {
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
          <form method="get" action="/admin/payments" class="filters">
            {f.flagged && <input type="hidden" name="flagged" value="1" />}
            <Select name="status" label="Status" options={STATUSES} value={f.status} />
            <Select name="method" label="Method" options={METHODS} value={f.method} />
            <Select name="currency" label="Currency" options={CURRENCIES} value={f.currency} />
            <label>
              From
              <input type="date" name="from" value={f.from} />
            </label>
            <label>
              To
              <input type="date" name="to" value={f.to} />
            </label>
            <label>
              Reference
              <input type="search" name="q" value={f.q} autocomplete="off" />
            </label>
            <button type="submit">Filter</button>
          </form>
          <Table label="Payments">
            <thead>
              <tr>
                <th>Started</th>
                <th>Status</th>
                <th class="num">Amount</th>
                <th>Method</th>
                <th class="num">Tokens</th>
                <th>User</th>
                <th>Reference</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, limit).map((p) => (
                <tr>
                  <td>
                    <a href={`/admin/payments/${p.id}`}>
                      <Time at={p.created_at} tz={tz} />
                    </a>
                  </td>
                  <td>
                    <span class={`status-${p.status}`}>{p.status}</span>
                    {p.flag && <span class="badge bad">{p.flag}</span>}
                  </td>
                  <td class="num">{p.currency} {p.amount}</td>
                  <td>{p.method}</td>
                  <td class="num">{formatCount(Number(p.tokens))}</td>
                  <td>
                    <a href={`/admin/users/${p.user_id}`}>{p.email ?? "(no e-mail)"}</a>
                  </td>
                  <td>
                    <code>{p.reference}</code>
                  </td>
                </tr>
              ))}
              <EmptyRow when={rows.length === 0} columns={7}>No payments match.</EmptyRow>
            </tbody>
          </Table>
          <Pager c={c} page={page} hasMore={rows.length > limit} />
        </>
      ),
    });
  });

  app.get("/payments/:id", async (c) => {
    const id = c.req.param("id");
    const detail = UUID.test(id) ? await paymentDetail(sql, id) : null;
    if (!detail) throw notFound("This payment");
    const { payment: p, events } = detail;
    const final = isFinal(p.status as PaymentStatus);
    return adminPage(c, ctx, {
      title: `Payment ${p.reference}`,
      section: "/admin/payments",
      children: (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd data-testid="payment-status">
              {p.status}
              {p.flag && <span class="badge bad">{p.flag}</span>}
            </dd>
            <dt>Amount</dt>
            <dd>{p.currency} {p.amount} for {formatCount(Number(p.tokens))} tokens</dd>
            <dt>Method</dt>
            <dd>{p.method} ({p.channel})</dd>
            <dt>User</dt>
            <dd>
              <a href={`/admin/users/${p.user_id}`}>{p.email ?? p.user_id}</a>
            </dd>
            <dt>Paynow reference</dt>
            <dd>{p.paynow_reference ?? "—"}</dd>
            <dt>Started</dt>
            <dd>
              <Time at={p.created_at} tz={tz} />
            </dd>
            <dt>Settled</dt>
            <dd>
              <Time at={p.settled_at} tz={tz} />
            </dd>
            <dt>Polls</dt>
            <dd>
              {p.poll_count}, next <Time at={p.next_poll_at} tz={tz} />
            </dd>
            <dt>Credited</dt>
            <dd>{p.credited_entry_id ? "yes" : "no"}</dd>
            {p.error && (
              <>
                <dt>Error</dt>
                <dd>{p.error}</dd>
              </>
            )}
          </dl>
          {!final && (
            <form method="post" action={`/admin/payments/${id}/poll`}>
              <input type="hidden" name="_csrf" value={await pageCsrfToken(c, ctx)} />
              <button type="submit">Poll now</button>
            </form>
          )}
          <h2>Messages with Paynow</h2>
          <Table label="Payment events">
            <thead>
              <tr>
                <th>When</th>
                <th>Source</th>
                <th>Paynow status</th>
                <th>Transition</th>
                <th>Note</th>
                <th>Raw</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr>
                  <td>
                    <Time at={e.created_at} tz={tz} />
                  </td>
                  <td>{e.source}</td>
                  <td>{e.paynow_status ?? ""}</td>
                  <td>{e.status_to ? `${e.status_from} → ${e.status_to}` : ""}</td>
                  <td>{e.note ?? ""}</td>
                  <td>{e.raw ? <pre class="raw">{e.raw}</pre> : ""}</td>
                </tr>
              ))}
              <EmptyRow when={events.length === 0} columns={6}>No messages yet.</EmptyRow>
            </tbody>
          </Table>
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
    const outcome = await pollPaymentNow(ctx.payments(), actorOf(c), id);
    if (outcome !== "polled") return back(c, page, { problem: outcome });
    return back(c, page, { notice: "polled" });
  });

  return app;
}
