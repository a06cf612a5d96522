/**
 * `/admin/audit`: every admin change, newest first, filterable by action and by target (the
 * user, payment, package … it changed), with the state before and after and the reason.
 */
import { Hono } from "hono";
import { auditActions, listAudit } from "../../lib/admin/audit.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminPage, EmptyRow, Json, pageOf, Pager, Table, Time } from "./_layout.tsx";

const TARGET_PAGES: Record<string, string> = {
  user: "/admin/users/",
  payment: "/admin/payments/",
};

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
        <>
          <form method="get" action="/admin/audit" class="filters">
            <label>
              Action
              <select name="action">
                <option value="">any</option>
                {actions.map((a) => <option key={a} value={a} selected={a === action}>{a}</option>)}
              </select>
            </label>
            <label>
              Target type
              <input name="target_type" value={targetType} />
            </label>
            <label>
              Target id
              <input name="target_id" value={targetId} />
            </label>
            <button type="submit">Filter</button>
          </form>
          <Table label="Audit log">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>Target</th>
                <th>Reason</th>
                <th>Before</th>
                <th>After</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, limit).map((r) => (
                <tr data-action={r.action}>
                  <td>
                    <Time at={r.at} tz={tz} />
                  </td>
                  <td>{r.actor_email ?? "—"}</td>
                  <td>
                    <code>{r.action}</code>
                  </td>
                  <td>
                    {TARGET_PAGES[r.target_type] && r.target_id
                      ? (
                        <a href={TARGET_PAGES[r.target_type] + r.target_id}>
                          {r.target_type} {r.target_id.slice(0, 8)}
                        </a>
                      )
                      : `${r.target_type} ${r.target_id ?? ""}`}
                  </td>
                  <td class="reason">{r.reason ?? ""}</td>
                  <td>
                    <Json value={r.before} />
                  </td>
                  <td>
                    <Json value={r.after} />
                  </td>
                </tr>
              ))}
              <EmptyRow when={rows.length === 0} columns={7}>Nothing recorded.</EmptyRow>
            </tbody>
          </Table>
          <Pager c={c} page={page} hasMore={rows.length > limit} />
        </>
      ),
    });
  });

  return app;
}
