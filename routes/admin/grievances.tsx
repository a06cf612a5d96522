/**
 * `/admin/grievances`: the officers' queue (officers see this area and nothing else of /admin).
 * Filters by category, status, priority, area, age, officer, overdue and exact phone or e-mail;
 * the SLA clock per priority with overdue grievances highlighted; bulk status changes; a CSV
 * export (CSV-injection safe, lib/grievances/export.ts). One grievance's page, its actions and
 * files are in grievance_detail.tsx; settings and the dashboard in grievance_settings.tsx.
 *
 * An officer limited to areas sees only their areas' grievances, and one outside them is a 404.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { csvHeader, csvRow } from "../../lib/grievances/export.ts";
import {
  type Grievance,
  PRIORITIES,
  type Priority,
  type Status,
  STATUSES,
} from "../../lib/grievances/model.ts";
import type { GrievanceFilter } from "../../lib/grievances/mod.ts";
import { listAreas, listCategories } from "../../lib/grievances/taxonomy.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { formatCount } from "../../lib/format.ts";
import { Choice } from "./_fields.tsx";
import { adminForm, back } from "./_forms.ts";
import { adminPage, PAGE_SIZE, pageOf, Time, withQuery } from "./_layout.tsx";
import { AdminList, type Column } from "./_list.tsx";
import { grievanceDetailRoutes, staffActor, STATUS_LABELS } from "./grievance_detail.tsx";
import { grievanceSettingsRoutes } from "./grievance_settings.tsx";

export const AGES = [1, 3, 7, 30] as const;

/** The queue's filters as read from the query string (anything unknown is ignored). */
export async function filterOf(
  c: Context<AuthEnv>,
  ctx: AppContext,
): Promise<{ filter: GrievanceFilter; values: Record<string, string> }> {
  const q = (name: string) => (c.req.query(name) ?? "").slice(0, 254);
  const status = q("status");
  const me = c.get("auth")!.user.id;
  const age = Number(q("age"));
  const assigned = q("assigned");
  const values = {
    status,
    category: q("category"),
    priority: q("priority"),
    area: q("area"),
    age: AGES.some((days) => days === age) ? String(age) : "",
    assigned,
    overdue: q("overdue") === "1" ? "1" : "",
    failed: q("failed") === "1" ? "1" : "",
    phone: q("phone"),
    email: q("email"),
  };
  const filter: GrievanceFilter = {
    status: status === "open"
      ? ["submitted", "classified", "in_review"]
      : (STATUSES as readonly string[]).includes(status)
      ? [status as Status]
      : undefined,
    category: values.category || undefined,
    priority: (PRIORITIES as readonly string[]).includes(values.priority)
      ? values.priority as Priority
      : undefined,
    area: values.area || undefined,
    olderThanDays: values.age ? Number(values.age) : undefined,
    assignedTo: assigned === "me" ? me : assigned === "none" ? "none" : undefined,
    overdue: values.overdue === "1",
    aiFailed: values.failed === "1",
    ...(await ctx.grievances.contactFilter({ phone: values.phone, email: values.email })),
  };
  return { filter, values };
}

function age(from: Date, now = Date.now()): string {
  const hours = Math.max(0, (now - from.getTime()) / 3_600_000);
  return hours < 48 ? `${Math.floor(hours)} h` : `${Math.floor(hours / 24)} d`;
}

function Filters(props: {
  values: Record<string, string>;
  categories: { slug: string; name: string }[];
  areas: { id: string; name: string }[];
}) {
  const v = props.values;
  const any = ["", "Any"] as const;
  return (
    <form method="get" action="/admin/grievances" class="filters" role="search">
      <Choice
        label="Status"
        name="status"
        current={v.status}
        options={[any, ["open", "Open"], ...STATUSES.map((s) => [s, STATUS_LABELS[s]] as const)]}
      />
      <Choice
        label="Category"
        name="category"
        current={v.category}
        options={[any, ...props.categories.map((cat) => [cat.slug, cat.name] as const)]}
      />
      <Choice
        label="Priority"
        name="priority"
        current={v.priority}
        options={[any, ...PRIORITIES.map((p) => [p, p] as const)]}
      />
      <Choice
        label="Area"
        name="area"
        current={v.area}
        options={[any, ["none", "No area"], ...props.areas.map((a) => [a.id, a.name] as const)]}
      />
      <Choice
        label="Waiting"
        name="age"
        current={v.age}
        options={[
          any,
          ...AGES.map((d) => [String(d), `over ${d} day${d === 1 ? "" : "s"}`] as const),
        ]}
      />
      <Choice
        label="Officer"
        name="assigned"
        current={v.assigned}
        options={[["", "Anyone"], ["me", "Me"], ["none", "Unassigned"]]}
      />
      <label>
        <input type="checkbox" name="overdue" value="1" checked={v.overdue === "1"} /> Overdue
      </label>
      <label>
        <input type="checkbox" name="failed" value="1" checked={v.failed === "1"} />{" "}
        Classification failed
      </label>
      <label>
        Phone
        <input name="phone" type="search" value={v.phone} autocomplete="off" />
      </label>
      <label>
        E-mail
        <input name="email" type="search" value={v.email} autocomplete="off" />
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}

const grievanceColumns = (tz: string): Column<Grievance>[] => [
  {
    label: "",
    cell: (g) => (
      <input
        type="checkbox"
        name="ids"
        value={g.id}
        form="bulk"
        aria-label={`Select ${g.reference}`}
      />
    ),
  },
  { label: "Reference", cell: (g) => <a href={`/admin/grievances/${g.id}`}>{g.reference}</a> },
  {
    label: "Received",
    cell: (g) => (
      <>
        <Time at={g.createdAt} tz={tz} />
        <br />
        <small class="muted">{age(g.createdAt)}</small>
      </>
    ),
  },
  {
    label: "Status",
    testId: "status",
    cell: (g) => (
      <>
        {STATUS_LABELS[g.status]}
        {g.ai.status === "failed" && (
          <>
            <br />
            <span class="badge bad">classification failed — retry</span>
          </>
        )}
      </>
    ),
  },
  { label: "Priority", cell: (g) => g.priority },
  { label: "Categories", cell: (g) => g.categories.map((c) => c.name).join(", ") || "—" },
  { label: "Area", cell: (g) => g.area?.name ?? "—" },
  { label: "Officer", cell: (g) => g.assignedTo?.email ?? "—" },
  {
    label: "Due (SLA)",
    cell: (g) =>
      g.dueAt
        ? (
          <>
            <Time at={g.dueAt} tz={tz} />
            {g.overdue && <span class="badge bad">overdue</span>}
          </>
        )
        : "—",
  },
  {
    label: "Summary",
    cell: (g) => g.summary ? g.summary.slice(0, 140) : <span class="muted">(being read)</span>,
  },
];

/** A grievance's row: highlighted when overdue, named by its reference (for tests and styles). */
const rowAttributes = (g: Grievance): Record<string, string> =>
  g.overdue
    ? { class: "overdue", "data-reference": g.reference }
    : { "data-reference": g.reference };

export function grievanceAdminRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const g = ctx.grievances;
  const tz = ctx.config.tzMetrics;

  app.get("/grievances", async (c) => {
    const actor = await staffActor(c, ctx);
    const { filter, values } = await filterOf(c, ctx);
    const { page, offset } = pageOf(c);
    const scoped = { ...filter, scope: actor.scope };
    const [rows, total, categories, areas, csrf] = await Promise.all([
      g.list({ ...scoped, limit: PAGE_SIZE + 1, offset }),
      g.count(scoped),
      listCategories(ctx.db.sql),
      listAreas(ctx.db.sql),
      pageCsrfToken(c, ctx),
    ]);
    const admin = c.get("auth")!.user.role === "admin";
    return adminPage(c, ctx, {
      title: "Grievances",
      section: "/admin/grievances",
      children: (
        <>
          <p class="row-actions">
            <a href="/admin/grievances/stats">Dashboard</a>
            {admin && <a href="/admin/grievances/settings">Categories, areas and SLA</a>}
            <a href={withQuery(c, {}).replace("/admin/grievances", "/admin/grievances/export.csv")}>
              Export CSV
            </a>
          </p>
          <Filters values={values} categories={categories} areas={areas} />
          <p data-testid="total">{formatCount(total)} grievances</p>
          <form id="bulk" method="post" action="/admin/grievances/bulk" class="filters">
            <input type="hidden" name="_csrf" value={csrf} />
            <input type="hidden" name="back" value={withQuery(c, {})} />
            <label>
              Move selected to
              <select name="status">
                {STATUSES.filter((s) => s !== "classified" && s !== "submitted").map((s) => (
                  <option value={s}>{STATUS_LABELS[s]}</option>
                ))}
              </select>
            </label>
            <label>
              Note
              <input name="note" maxLength={2000} />
            </label>
            <button type="submit">Apply</button>
          </form>
          <AdminList
            c={c}
            label="Grievances"
            columns={grievanceColumns(tz)}
            rows={rows}
            empty="No grievances match."
            rowAttributes={rowAttributes}
            paging={{ page, limit: PAGE_SIZE }}
          />
        </>
      ),
    });
  });

  app.get("/grievances/export.csv", async (c) => {
    const actor = await staffActor(c, ctx);
    const { filter } = await filterOf(c, ctx);
    const rows = await g.list({ ...filter, scope: actor.scope, limit: 10_000 });
    const body = [csvHeader(), ...rows.map(csvRow)].join("\r\n") + "\r\n";
    return c.body(body, 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": 'attachment; filename="grievances.csv"',
    });
  });

  app.post("/grievances/bulk", async (c) => {
    const actor = await staffActor(c, ctx);
    const form = await adminForm(c, ctx);
    const ids = (await c.req.parseBody({ all: true })).ids;
    const list = (Array.isArray(ids) ? ids : ids ? [ids] : []).filter((x) => typeof x === "string");
    const backTo = /^\/admin\/grievances(\?[^\s]*)?$/.test(form.back ?? "")
      ? form.back
      : "/admin/grievances";
    if (list.length === 0 || !(STATUSES as readonly string[]).includes(form.status ?? "")) {
      return back(c, backTo, { problem: "invalid" });
    }
    const results = await g.officers.moveMany(
      actor,
      list as string[],
      form.status as Status,
      form.note,
    );
    return back(c, backTo, results.every((r) => r.ok) ? { notice: "saved" } : { problem: "some" });
  });

  app.route("/", grievanceSettingsRoutes(ctx));
  app.route("/", grievanceDetailRoutes(ctx));
  return app;
}
