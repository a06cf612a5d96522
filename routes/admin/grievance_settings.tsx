/**
 * `/admin/grievances/stats` (staff): grievances per day by category and status, resolved per
 * day, and the median hours to the first answer and to resolution — the nightly figures
 * (lib/grievances/stats.ts through the daily metrics cron) drawn with chart.js
 * (islands/GrievanceChart.tsx), and today's so far.
 *
 * `/admin/grievances/settings` (admins): the categories the AI classifies into, the areas, and
 * the SLA hours of each priority. Every change is audited.
 */
import { Hono } from "hono";
import GrievanceChart from "../../islands/GrievanceChart.tsx";
import { Island } from "../../lib/islands/island.tsx";
import { grievanceFigures } from "../../lib/grievances/stats.ts";
import {
  type Area,
  type Category,
  PRIORITIES,
  type Priority,
  STATUSES,
} from "../../lib/grievances/model.ts";
import {
  createArea,
  deleteArea,
  listAreas,
  listCategories,
  saveCategory,
  setSlaHours,
  slaHours,
} from "../../lib/grievances/taxonomy.ts";
import { AppError } from "../../lib/errors.ts";
import { isRefusal } from "../_errors.tsx";
import { dayBounds, readFigures } from "../../lib/metrics/daily.ts";
import { addDays, dayIn, daysFrom } from "../../lib/metrics/days.ts";
import { recordAudit } from "../../lib/admin/audit.ts";
import type { Tx } from "../../lib/wallet/ledger.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { formatCount } from "../../lib/format.ts";
import { actorOf } from "./_audit.ts";
import { adminForm, back } from "./_forms.ts";
import { adminPage } from "./_layout.tsx";
import { Kpi } from "../../islands/_kpi.tsx";
import { type Column, TitledList } from "./_list.tsx";
import { PostButton } from "../../islands/_post_button.tsx";
import { CardForm } from "./_fields.tsx";

const DAYS = 30;

const CATEGORY_COLUMNS: Column<Category>[] = [
  { label: "Slug", cell: (cat) => cat.slug },
  { label: "Name", cell: (cat) => cat.name },
  { label: "Description", cell: (cat) => cat.description },
  { label: "Active", cell: (cat) => cat.active ? "yes" : "no" },
];

const areaColumns = (csrf: string): Column<Area>[] => [
  { label: "Name", cell: (a) => a.name },
  { label: "Centre", cell: (a) => a.latitude === null ? "—" : `${a.latitude}, ${a.longitude}` },
  {
    label: "",
    cell: (a) => (
      <PostButton action={`/admin/grievances/settings/areas/${a.id}/delete`} csrf={csrf}>
        Delete
      </PostButton>
    ),
  },
];

function adminOnly(
  c: { get(key: "auth"): { user: { role: string } } | null; req: { path: string } },
) {
  if (c.get("auth")?.user.role !== "admin") {
    throw new AppError("not_found", `Nothing is served at ${c.req.path}.`);
  }
}

export function grievanceSettingsRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  app.get("/grievances/stats", async (c) => {
    const now = new Date();
    const today = dayIn(now, tz);
    const last = addDays(today, -1);
    const days = daysFrom(addDays(last, -(DAYS - 1)), last);
    const categories = await listCategories(sql);
    const series = [
      ...categories.map((cat) => ({ metric: "grievances.new", dims: `category=${cat.slug}` })),
      ...STATUSES.map((s) => ({ metric: "grievances.new", dims: `status=${s}` })),
      { metric: "grievances.new", dims: "" },
      { metric: "grievances.resolved", dims: "" },
      { metric: "grievances.first_response_median_hours", dims: "" },
      { metric: "grievances.resolution_median_hours", dims: "" },
    ];
    const [figures, bounds] = await Promise.all([
      readFigures(sql, { from: days[0], to: last, series }),
      dayBounds(sql, today, tz),
    ]);
    const todays = await grievanceFigures(sql, bounds.start, bounds.end);
    const valuesOf = (metric: string, dims: string, missing: number | null = 0) =>
      days.map((d) =>
        figures.find((f) => f.day === d && f.metric === metric && f.dims === dims)?.value ??
          missing
      );
    const today_ = (metric: string) =>
      Number(
        todays.find((f) => f.metric === metric && Object.keys(f.dims).length === 0)?.value ?? 0,
      );
    return adminPage(c, ctx, {
      title: "Grievances dashboard",
      section: "/admin/grievances",
      children: (
        <div class="overview">
          <p class="row-actions">
            <a href="/admin/grievances">← The queue</a>
          </p>
          <div class="kpis" data-testid="today">
            <Kpi label="New today" value={formatCount(today_("grievances.new"))} />
            <Kpi label="Resolved today" value={formatCount(today_("grievances.resolved"))} />
            <Kpi
              label="Median hours to first answer (today)"
              value={today_("grievances.first_response_median_hours").toFixed(1)}
            />
            <Kpi
              label="Median hours to resolution (today)"
              value={today_("grievances.resolution_median_hours").toFixed(1)}
            />
          </div>
          <Island
            of={GrievanceChart}
            props={{
              days,
              categories: categories.map((cat) => ({
                name: cat.name,
                values: valuesOf("grievances.new", `category=${cat.slug}`),
              })).filter((s) => s.values.some((v) => v)),
              statuses: STATUSES.map((s) => ({
                name: s,
                values: valuesOf("grievances.new", `status=${s}`),
              })).filter((s) => s.values.some((v) => v)),
              resolved: valuesOf("grievances.resolved", ""),
              firstResponse: valuesOf("grievances.first_response_median_hours", "", null),
              resolution: valuesOf("grievances.resolution_median_hours", "", null),
            }}
          />
        </div>
      ),
    });
  });

  app.get("/grievances/settings", async (c) => {
    adminOnly(c);
    const [categories, areas, sla, csrf] = await Promise.all([
      listCategories(sql),
      listAreas(sql),
      slaHours(sql),
      pageCsrfToken(c, ctx),
    ]);
    return adminPage(c, ctx, {
      title: "Grievance settings",
      section: "/admin/grievances",
      children: (
        <div class="stack">
          <h2>SLA: hours a grievance may stay open</h2>
          <form method="post" action="/admin/grievances/settings/sla" class="filters">
            <input type="hidden" name="_csrf" value={csrf} />
            {PRIORITIES.map((p) => (
              <label>
                {p}
                <input name={p} type="number" min={1} max={8760} value={String(sla[p])} />
              </label>
            ))}
            <button type="submit">Save</button>
          </form>
          <TitledList title="Categories" columns={CATEGORY_COLUMNS} rows={categories} />
          <CardForm
            action="/admin/grievances/settings/categories"
            title="Add or change a category (by its slug)"
            csrf={csrf}
          >
            <label>
              Slug <input name="slug" required pattern="[a-z0-9][a-z0-9_-]{0,39}" />
            </label>
            <label>
              Name <input name="name" required maxLength={100} />
            </label>
            <label>
              Description (what belongs here; the AI reads it)
              <input name="description" maxLength={500} />
            </label>
            <label>
              Position <input name="position" type="number" value="50" />
            </label>
            <label>
              <input type="checkbox" name="active" value="on" checked /> Active
            </label>
            <button type="submit">Save category</button>
          </CardForm>
          <TitledList
            title="Areas"
            columns={areaColumns(csrf)}
            rows={areas}
            empty="No areas yet."
          />
          <CardForm action="/admin/grievances/settings/areas" title="Add an area" csrf={csrf}>
            <label>
              Name <input name="name" required maxLength={100} />
            </label>
            <label>
              Latitude (optional) <input name="latitude" inputMode="decimal" />
            </label>
            <label>
              Longitude (optional) <input name="longitude" inputMode="decimal" />
            </label>
            <button type="submit">Add area</button>
          </CardForm>
        </div>
      ),
    });
  });

  const page = "/admin/grievances/settings";
  const coordinate = (v: string | undefined) => {
    if (!v?.trim()) return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : NaN;
  };

  /**
   * An admin's form at `path` that saves what `save` makes of it with its audit entry, in one
   * transaction, and goes back to the page with `notice`; input the domain refuses goes back as
   * "invalid", nothing saved.
   */
  const savingForm = (
    path: string,
    audit: { action: string; targetType: string },
    notice: "saved" | "created",
    save: (tx: Tx, form: Record<string, string>) => Promise<{ id: string }>,
  ) =>
    app.post(path, async (c) => {
      adminOnly(c);
      const form = await adminForm(c, ctx);
      try {
        await sql.begin(async (tx) => {
          const saved = await save(tx, form);
          await recordAudit(tx, actorOf(c), { ...audit, targetId: saved.id, after: saved });
        });
      } catch (error) {
        if (isRefusal(error)) return back(c, page, { problem: "invalid" });
        throw error;
      }
      return back(c, page, { notice });
    });

  app.post("/grievances/settings/sla", async (c) => {
    adminOnly(c);
    const form = await adminForm(c, ctx);
    const before = await slaHours(sql);
    const after = { ...before };
    for (const p of PRIORITIES) {
      if (form[p] === undefined) continue;
      const hours = Number(form[p]);
      if (!Number.isInteger(hours) || hours < 1 || hours > 8760) {
        return back(c, page, { problem: "invalid" });
      }
      after[p as Priority] = hours;
    }
    await sql.begin(async (tx) => {
      for (const p of PRIORITIES) await setSlaHours(tx, p, after[p]);
      await recordAudit(tx, actorOf(c), {
        action: "grievances.sla",
        targetType: "grievance_priorities",
        targetId: null,
        before,
        after,
      });
    });
    return back(c, page, { notice: "saved" });
  });

  savingForm(
    "/grievances/settings/categories",
    { action: "grievances.category", targetType: "grievance_category" },
    "saved",
    (tx, form) =>
      saveCategory(tx, {
        slug: (form.slug ?? "").trim().toLowerCase(),
        name: form.name ?? "",
        description: form.description ?? "",
        active: form.active === "on",
        position: Math.trunc(Number(form.position)) || 0,
      }),
  );

  savingForm(
    "/grievances/settings/areas",
    { action: "grievances.area.create", targetType: "grievance_area" },
    "created",
    (tx, form) =>
      createArea(tx, {
        name: form.name ?? "",
        latitude: coordinate(form.latitude),
        longitude: coordinate(form.longitude),
      }),
  );

  app.post("/grievances/settings/areas/:id/delete", async (c) => {
    adminOnly(c);
    await adminForm(c, ctx);
    const id = c.req.param("id");
    const deleted = await sql.begin(async (tx) => {
      const gone = await deleteArea(tx, id);
      if (gone) {
        await recordAudit(tx, actorOf(c), {
          action: "grievances.area.delete",
          targetType: "grievance_area",
          targetId: id,
        });
      }
      return gone;
    });
    return back(c, page, deleted ? { notice: "deleted" } : { problem: "gone" });
  });

  return app;
}
