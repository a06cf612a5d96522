/**
 * `/admin/audit`: every admin change, newest first, filterable by action and by target (the
 * user, payment, package … it changed, named by its e-mail or reference), with what changed
 * (before → after, value by value) and the reason.
 */
import { Hono } from "hono";
import { auditActions, auditDiff, type AuditRow, listAudit } from "../../lib/admin/audit.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminPage, pageOf, Time } from "./_layout.tsx";
import { AdminList, type Column } from "./_list.tsx";

const TARGET_PAGES = new Map<string, string>(Object.entries({
  user: "/admin/users/",
  payment: "/admin/payments/",
}));

/** A value of a before/after diff, short: JSON, or "—" when absent on that side. */
const shown = (v: unknown) => v === undefined ? "—" : JSON.stringify(v);

/** Before and after as the values that changed, each `path: before → after`. */
function Diff(props: { before: unknown; after: unknown }) {
  const changes = auditDiff(props.before, props.after);
  if (changes.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="diff">
      {changes.map((ch) => (
        <li key={ch.path}>
          {ch.path && <code>{ch.path}</code>} <del>{shown(ch.before)}</del> →{" "}
          <ins>{shown(ch.after)}</ins>
        </li>
      ))}
    </ul>
  );
}

const auditColumns = (tz: string): Column<AuditRow>[] => [
  { label: "When", cell: (r) => <Time at={r.at} tz={tz} /> },
  { label: "Who", cell: (r) => r.actor_email ?? "—" },
  { label: "Action", cell: (r) => <code>{r.action}</code> },
  {
    label: "Target",
    cell: (r) => {
      const name = `${r.target_type} ${r.target_name ?? r.target_id ?? ""}`.trim();
      return TARGET_PAGES.get(r.target_type) && r.target_id
        ? <a href={TARGET_PAGES.get(r.target_type) + r.target_id}>{name}</a>
        : name;
    },
  },
  { label: "Reason", class: "reason", cell: (r) => r.reason ?? "" },
  { label: "Change", cell: (r) => <Diff before={r.before} after={r.after} /> },
];

export function auditRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  app.get("/audit", async (c) => {
    const action = (c.req.query("action") ?? "").trim().slice(0, 64);
    const targetType = (c.req.query("target_type") ?? "").trim().slice(0, 64);
    const targetId = (c.req.query("target_id") ?? "").trim().slice(0, 64);
    const { page, offset, limit } = pageOf(c);
    const [rows, actions] = await Promise.all([
      listAudit(sql, { action, targetType, targetId }, { limit, offset }),
      auditActions(sql),
    ]);
    return adminPage(c, ctx, {
      title: "Audit log",
      section: "/admin/audit",
      children: (
        <AdminList
          c={c}
          filters={{
            action: "/admin/audit",
            filters: [
              { select: "action", label: "Action", options: actions, value: action },
              { input: "target_type", label: "Target type", value: targetType },
              { input: "target_id", label: "Target id", value: targetId },
            ],
          }}
          label="Audit log"
          columns={auditColumns(tz)}
          rows={rows}
          empty="Nothing recorded."
          rowAttributes={(r) => ({ "data-action": r.action })}
          paging={{ page, limit }}
        />
      ),
    });
  });

  return app;
}
