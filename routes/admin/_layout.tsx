/**
 * The admin area's shared shell (navigation, notices) and the small pieces every admin page
 * uses: paging links, tables that scroll sideways on a phone, times in TZ_METRICS (written by
 * lib/format.ts, the zone named on every page).
 */
import type { Context } from "hono";
import type { ComponentChildren } from "preact";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { renderPage } from "../_render.tsx";
import { createFormat } from "../../lib/format.ts";

const NAV = [
  ["/admin", "Overview"],
  ["/admin/users", "Users"],
  ["/admin/payments", "Payments"],
  ["/admin/conversations", "Conversations"],
  ["/admin/jobs", "Jobs"],
  ["/admin/webhooks", "Webhooks"],
  ["/admin/notifications", "Notifications"],
  ["/admin/grievances", "Grievances"],
  ["/admin/settings", "Settings"],
  ["/admin/audit", "Audit log"],
] as const;

/** Shown while e-mail is sandboxed (routes/admin/sandbox_mail.tsx). */
const SANDBOX_NAV = ["/admin/sandbox/mail", "Sandbox mail"] as const;
/** Shown while WhatsApp is sandboxed (routes/admin/simulator.tsx). */
const SIMULATOR_NAV = ["/admin/simulator", "WhatsApp simulator"] as const;

/**
 * Notices after a redirect (`?notice=…`), by code: the URL never carries text we display. Maps,
 * so that `?notice=constructor` finds nothing.
 */
const NOTICES = new Map<string, string>(Object.entries({
  adjusted: "Balance adjusted.",
  tier: "Tier changed.",
  disabled: "Account disabled.",
  enabled: "Account enabled.",
  polled: "Paynow was asked for the payment's status.",
  retried: "The job was queued again.",
  discarded: "The dead letter was discarded.",
  saved: "Saved.",
  created: "Created.",
  unchanged: "Nothing changed.",
  deleted: "Deleted.",
  answered: "The answer was sent.",
  queued: "The classification was queued again.",
}));

const PROBLEMS = new Map<string, string>(Object.entries({
  reason: "Give a reason (3 to 500 characters).",
  amount: "The amount must be a whole, non-zero number of tokens (at most 1,000,000,000).",
  insufficient: "The user does not have that many tokens available.",
  tier: "Choose one of the tiers.",
  self: "You cannot disable your own account.",
  final: "This payment is already final; there is nothing to poll.",
  paynow: "Paynow could not be asked just now. Try again in a moment.",
  gone: "This was already handled by someone else.",
  invalid: "Some values were not valid; nothing was saved.",
  some: "Some of the grievances could not be moved (not an allowed change); the others were.",
}));

export interface AdminPageProps {
  title: string;
  /** The current nav entry's path. */
  section: string;
  children: ComponentChildren;
}

export function adminPage(
  c: Context<AuthEnv>,
  ctx: AppContext,
  { title, section, children }: AdminPageProps,
  status: 200 | 400 | 404 = 200,
): Response {
  const notice = NOTICES.get(c.req.query("notice") ?? "");
  const problem = PROBLEMS.get(c.req.query("problem") ?? "");
  const me = c.get("auth")!.user;
  return renderPage(
    c,
    {
      title: `${title} · Admin`,
      sandboxed: ctx.config.sandboxed,
      viewer: c.get("viewer"),
      body: (
        <div class="admin">
          {/* A stylesheet link is allowed in the body; the shared layout's head is not ours. */}
          <link rel="stylesheet" href="/static/admin.css" />
          <nav class="admin-nav" aria-label="Admin">
            {[
              ...NAV,
              ...(ctx.upstreams.mailbox ? [SANDBOX_NAV] : []),
              ...(ctx.whatsappSimulator ? [SIMULATOR_NAV] : []),
            ].filter(([href]) => me.role === "admin" || href === "/admin/grievances").map((
              [href, label],
            ) => (
              <a key={href} href={href} aria-current={href === section ? "page" : undefined}>
                {label}
              </a>
            ))}
            <span class="admin-who">{me.email}</span>
          </nav>
          <p class="muted zone-note">
            Times are in {createFormat(ctx.config.tzMetrics).zoneLabel}.
          </p>
          {notice && <p class="notice" role="status">{notice}</p>}
          {problem && <p class="form-error" role="alert">{problem}</p>}
          <h1>{title}</h1>
          {children}
        </div>
      ),
    },
    status,
  );
}

/** A table that scrolls sideways on a narrow screen instead of breaking the page. */
export function Table(props: { children: ComponentChildren; label?: string }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabIndex={0}>
      <table>{props.children}</table>
    </div>
  );
}

/** The row a table shows in place of rows when it has none. */
export function EmptyRow(props: { when: boolean; columns: number; children: ComponentChildren }) {
  if (!props.when) return null;
  return (
    <tr>
      <td colSpan={props.columns}>{props.children}</td>
    </tr>
  );
}

export const PAGE_SIZE = 25;

/** The requested page (1-based, bounded) and its SQL offset. */
export function pageOf(c: Context): { page: number; offset: number; limit: number } {
  const page = Math.min(Math.max(Number.parseInt(c.req.query("page") ?? "1", 10) || 1, 1), 10_000);
  return { page, offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE };
}

/** The same URL with other query values (null removes one). */
export function withQuery(c: Context, changes: Record<string, string | number | null>): string {
  const url = new URL(c.req.url);
  url.searchParams.delete("notice");
  url.searchParams.delete("problem");
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === "") url.searchParams.delete(k);
    else url.searchParams.set(k, String(v));
  }
  return url.pathname + (url.search || "");
}

/** "Previous / Next" links; `hasMore` comes from fetching one row more than a page. */
export function Pager(props: { c: Context; page: number; hasMore: boolean }) {
  const { c, page, hasMore } = props;
  if (page === 1 && !hasMore) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {page > 1 && <a href={withQuery(c, { page: page - 1 })} rel="prev">← Previous</a>}
      <span>Page {page}</span>
      {hasMore && <a href={withQuery(c, { page: page + 1 })} rel="next">Next →</a>}
    </nav>
  );
}

/** A time as every page writes it (lib/format.ts), in the metrics time zone with its name. */
export function Time(props: { at: Date | string | null; tz: string }) {
  if (!props.at) return <span>—</span>;
  const d = typeof props.at === "string" ? new Date(props.at) : props.at;
  return <time dateTime={d.toISOString()}>{createFormat(props.tz).dateTime(d)}</time>;
}

/** Pretty JSON for before/after and payloads. */
/** One line of a `<dl class="facts">`: the term, and what it is (`testId`: the `<dd>`'s test id). */
export function Fact(props: { term: string; testId?: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{props.term}</dt>
      <dd data-testid={props.testId}>{props.children}</dd>
    </>
  );
}

export function Json(props: { value: unknown }) {
  if (props.value === null || props.value === undefined) return <span>—</span>;
  return <pre class="json">{JSON.stringify(props.value, null, 2)}</pre>;
}
