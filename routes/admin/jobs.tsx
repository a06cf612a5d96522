/**
 * `/admin/jobs`: the live instances (lib/instances.ts), the queue's backlog and the dead letters (jobs that exhausted their retries,
 * lib/jobs/dead_letters.ts), each of which an admin retries (queued again as a fresh job) or
 * discards. Both are audited.
 */
import { Hono } from "hono";
import { resolveDeadLetter } from "../../lib/admin/jobs.ts";
import type { InstanceInfo } from "../../lib/instances.ts";
import { type DeadLetter, listDeadLetters } from "../../lib/jobs/dead_letters.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { formatCount } from "../../lib/format.ts";
import { actorOf } from "./_audit.ts";
import { adminForm, back, UUID } from "./_forms.ts";
import { adminPage, Json, PAGE_SIZE, Time } from "./_layout.tsx";
import { Kpi } from "../../islands/_kpi.tsx";
import { type Column, CursorPager, RowAction, TitledList } from "./_list.tsx";

const deadLetterColumns = (tz: string, csrf: string): Column<DeadLetter>[] => [
  {
    label: "Last failed",
    cell: (d) => (
      <>
        <Time at={d.lastSeen} tz={tz} />
        <br />
        <small>
          first <Time at={d.firstSeen} tz={tz} />
        </small>
      </>
    ),
  },
  { label: "Job", cell: (d) => <code>{d.job}</code> },
  { label: "Attempts", num: true, cell: (d) => d.attempts },
  { label: "Last error", class: "error-text", cell: (d) => d.lastError },
  { label: "Payload", cell: (d) => <Json value={d.payload} /> },
  {
    label: "Action",
    class: "row-actions",
    cell: (d) => (
      <>
        <RowAction action={`/admin/jobs/dead/${d.id}/retry`} csrf={csrf} label="Retry" />
        <RowAction
          action={`/admin/jobs/dead/${d.id}/discard`}
          csrf={csrf}
          label="Discard"
          danger
        />
      </>
    ),
  },
];

/** The running instances; `here` is the one that renders the page. */
const instanceColumns = (tz: string, here: string): Column<InstanceInfo>[] => [
  {
    label: "Instance",
    cell: (i) => (
      <>
        <code>{i.id}</code>
        {i.id === here && <small>(this page's)</small>}
      </>
    ),
  },
  { label: "Host", cell: (i) => i.host },
  { label: "Process", num: true, cell: (i) => i.pid },
  { label: "Version", cell: (i) => i.version },
  { label: "Started", cell: (i) => <Time at={i.startedAt} tz={tz} /> },
  { label: "Last seen", cell: (i) => <Time at={i.lastSeenAt} tz={tz} /> },
];

export function jobRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const tz = ctx.config.tzMetrics;

  app.get("/jobs", async (c) => {
    const rawBefore = c.req.query("before");
    const before = rawBefore && !Number.isNaN(Date.parse(rawBefore))
      ? new Date(rawBefore)
      : undefined;
    const [stats, dead] = await Promise.all([
      ctx.queueStats(),
      listDeadLetters(ctx.db, { limit: PAGE_SIZE + 1, before }),
    ]);
    const csrf = await pageCsrfToken(c, ctx);
    const shown = dead.slice(0, PAGE_SIZE);
    const instances = ctx.instances.live();
    return adminPage(c, ctx, {
      title: "Jobs",
      section: "/admin/jobs",
      children: (
        <>
          <div class="kpis">
            <Kpi
              label="Backlog"
              value={formatCount(stats.backlog)}
              note="queued, not yet finished"
              testId="backlog"
            />
            <Kpi label="Running here" value={formatCount(stats.inFlight)} note="on this instance" />
            <Kpi
              label="Dead letters"
              value={formatCount(stats.deadLetters)}
              note="waiting for an admin"
              testId="dead-letters"
            />
          </div>
          <TitledList
            title="Instances"
            columns={instanceColumns(tz, ctx.instances.id)}
            rows={instances}
            rowAttributes={() => ({ "data-testid": "instance" })}
          />
          <TitledList
            title="Dead letters"
            columns={deadLetterColumns(tz, csrf)}
            rows={shown}
            empty="No dead letters."
          />
          <CursorPager
            newest={before ? "/admin/jobs" : null}
            older={dead.length > PAGE_SIZE
              ? `/admin/jobs?before=${
                encodeURIComponent(shown[shown.length - 1].lastSeen.toISOString())
              }`
              : null}
          />
        </>
      ),
    });
  });

  for (const action of ["retry", "discard"] as const) {
    app.post(`/jobs/dead/:id/${action}`, async (c) => {
      const id = c.req.param("id");
      await adminForm(c, ctx);
      if (!UUID.test(id)) return back(c, "/admin/jobs", { problem: "gone" });
      const done = await resolveDeadLetter(ctx.db, ctx.jobs, actorOf(c), id, action);
      if (!done) return back(c, "/admin/jobs", { problem: "gone" });
      return back(c, "/admin/jobs", { notice: action === "retry" ? "retried" : "discarded" });
    });
  }

  return app;
}
