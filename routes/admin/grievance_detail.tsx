/**
 * One grievance for an officer: the complainant's details and words (opened from their sealed
 * form for this page only), the AI's reading (categories, summary, translation, transcripts),
 * the attachments, the status history with who did what and when, and the actions: assign,
 * move, change priority, answer the complainant, retry a failed classification.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { getUser } from "../../lib/accounts/users.ts";
import type { Actor } from "../../lib/grievances/mod.ts";
import {
  canMove,
  type Grievance,
  type HistoryEntry,
  PRIORITIES,
  type Priority,
  type Status,
  STATUSES,
  TRANSITIONS,
} from "../../lib/grievances/model.ts";
import { AppError } from "../../lib/errors.ts";
import { isRefusal } from "../_errors.tsx";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminForm, back } from "./_forms.ts";
import { adminPage, Fact, Time } from "./_layout.tsx";
import { type Column, TitledList } from "./_list.tsx";
import { CardForm } from "./_fields.tsx";
import { GrievanceAnswer } from "../_grievance_answer.tsx";

export const STATUS_LABELS: Record<Status, string> = {
  submitted: "Submitted",
  classified: "Classified",
  in_review: "In review",
  resolved: "Resolved",
  rejected: "Rejected",
};

/** The signed-in staff member as the actor of grievance changes, with their areas. */
export async function staffActor(c: Context<AuthEnv>, ctx: AppContext): Promise<Actor> {
  const user = c.get("auth")!.user;
  return { id: user.id, scope: await ctx.grievances.scopeOf(user) };
}

const notFound = () => new AppError("not_found", "This grievance does not exist.");

function describe(h: HistoryEntry): string {
  switch (h.action) {
    case "submitted":
      return `Submitted (${h.detail ?? "web"})`;
    case "classified":
      return `Classified by the AI${h.detail ? `: ${h.detail.replaceAll(",", ", ")}` : ""}`;
    case "classification_failed":
      return `Classification failed: ${h.detail ?? ""}`;
    case "status":
      return `${STATUS_LABELS[h.fromStatus!] ?? h.fromStatus} → ${
        STATUS_LABELS[h.toStatus!] ?? h.toStatus
      }`;
    case "assigned":
      return h.detail === "unassigned" ? "Unassigned" : `Assigned to ${h.detail}`;
    case "answered":
      return `Answered the complainant (${h.detail})`;
    case "priority":
      return `Priority ${h.detail}`;
    case "retried":
      return "Classification retried";
  }
}

const historyColumns = (tz: string): Column<HistoryEntry>[] => [
  { label: "When", cell: (h) => <Time at={h.createdAt} tz={tz} /> },
  { label: "Who", cell: (h) => h.actor?.email ?? "system" },
  { label: "What", cell: describe },
  { label: "Note", cell: (h) => h.note ?? "" },
];

function Field(props: { label: string; value: string | null | undefined }) {
  return <Fact term={props.label}>{props.value || <span class="muted">—</span>}</Fact>;
}

/** Who a grievance can be assigned to. */
interface StaffMember {
  id: string;
  email: string | null;
}

async function officers(ctx: AppContext): Promise<StaffMember[]> {
  return await ctx.db.sql<StaffMember[]>`select id, email from users
                          where role in ('officer', 'admin') and disabled_at is null
                          order by email limit 200`;
}

function Actions(props: {
  g: Grievance;
  csrf: string;
  staff: StaffMember[];
}) {
  const { g, csrf } = props;
  const base = `/admin/grievances/${g.id}`;
  const moves = TRANSITIONS[g.status].filter((s) => canMove(g.status, s, "officer"));
  return (
    <div class="cards">
      <CardForm action={`${base}/assign`} title="Officer" csrf={csrf}>
        <label>
          Assign to
          <select name="assignee">
            <option value="me">Me</option>
            <option value="">Nobody</option>
            {props.staff.map((s) => (
              <option value={s.id} selected={s.id === g.assignedTo?.id}>{s.email}</option>
            ))}
          </select>
        </label>
        <button type="submit">Assign</button>
      </CardForm>
      <CardForm action={`${base}/status`} title="Status" csrf={csrf}>
        <label>
          Move to
          <select name="status">
            {moves.map((s) => <option key={s} value={s}>{STATUS_LABELS[s]}</option>)}
          </select>
        </label>
        <label>
          Note
          <textarea name="note" rows={2} maxLength={2000}></textarea>
        </label>
        <button type="submit" disabled={moves.length === 0}>Move</button>
      </CardForm>
      <CardForm action={`${base}/priority`} title="Priority" csrf={csrf}>
        <select name="priority" aria-label="Priority">
          {PRIORITIES.map((p) => <option key={p} value={p} selected={p === g.priority}>{p}
          </option>)}
        </select>
        <button type="submit">Set priority</button>
      </CardForm>
      <CardForm action={`${base}/answer`} title="Answer the complainant" csrf={csrf}>
        <label>
          Answer
          <textarea name="answer" rows={4} maxLength={4000} required></textarea>
          <small>
            {g.channel === "whatsapp"
              ? "Sent on WhatsApp."
              : g.complainant.email
              ? "Sent by e-mail."
              : "Shown on the tracking page."}
          </small>
        </label>
        <label>
          And move to
          <select name="status">
            <option value="">(keep {STATUS_LABELS[g.status]})</option>
            {moves.map((s) => <option key={s} value={s}>{STATUS_LABELS[s]}</option>)}
          </select>
        </label>
        <button type="submit">Send answer</button>
      </CardForm>
    </div>
  );
}

export function grievanceDetailRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const g = ctx.grievances;
  const tz = ctx.config.tzMetrics;

  /** Grievance `id` if the signed-in staff member may see it, else a 404. */
  const grievanceOf = async (c: Context<AuthEnv>, id: string): Promise<Grievance> => {
    const actor = await staffActor(c, ctx);
    const found = await g.get(id, actor.scope);
    if (!found) throw notFound();
    return found;
  };

  app.get("/grievances/:id", async (c) => {
    const found = await grievanceOf(c, c.req.param("id"));
    const [attachments, history, tasks, staff, csrf] = await Promise.all([
      g.attachments(found.id),
      g.history(found.id),
      g.tasks.of(found.id),
      officers(ctx),
      pageCsrfToken(c, ctx),
    ]);
    const base = `/admin/grievances/${found.id}`;
    return adminPage(c, ctx, {
      title: found.reference,
      section: "/admin/grievances",
      children: (
        <div class="stack" data-testid="grievance">
          <p>
            <strong data-testid="status">{STATUS_LABELS[found.status]}</strong> · priority{" "}
            {found.priority} · {found.channel} · received <Time at={found.createdAt} tz={tz} />
            {found.dueAt && (
              <>
                {" "}· due <Time at={found.dueAt} tz={tz} />
                {found.overdue && <span class="badge bad">overdue</span>}
              </>
            )}
          </p>
          {!found.readable && (
            <p class="form-error">
              Some of this grievance is sealed under a key this server does not hold.
            </p>
          )}
          {found.ai.status === "failed" && (
            <form method="post" action={`${base}/retry`} class="notice">
              <input type="hidden" name="_csrf" value={csrf} />
              Classification failed — {found.ai.error}{" "}
              <button type="submit">Retry classification</button>
            </form>
          )}
          <section>
            <h2>Report</h2>
            <p class="msg-text" data-testid="description">{found.description}</p>
            <dl>
              <Field label="Language" value={found.language} />
              <Field label="Summary (English)" value={found.summary} />
              {found.translation && <Field label="Translation" value={found.translation} />}
              <Field
                label="Categories"
                value={found.categories.map((x) =>
                  `${x.name} (${Math.round(x.confidence * 100)} %)`
                ).join(", ")}
              />
              <Field label="Area" value={found.area?.name} />
              <Field label="Officer" value={found.assignedTo?.email} />
            </dl>
          </section>
          <section>
            <h2>Complainant</h2>
            <dl>
              <Field label="Name" value={found.complainant.name} />
              <Field label="Phone" value={found.complainant.phone} />
              <Field label="E-mail" value={found.complainant.email} />
              <Field label="Place" value={found.complainant.address} />
            </dl>
          </section>
          {attachments.length > 0 && (
            <section>
              <h2>Attachments</h2>
              <ul>
                {attachments.map((a) => (
                  <li>
                    {a.hasThumbnail && (
                      <img src={`${base}/files/${a.id}?thumbnail=1`} alt="" width={120} />
                    )}{" "}
                    <a href={`${base}/files/${a.id}`}>
                      {a.filename || `${a.kind} (${a.mimeType})`}
                    </a>
                    {a.transcript && (
                      <blockquote data-testid="transcript">{a.transcript}</blockquote>
                    )}
                  </li>
                ))}
              </ul>
            </section>
          )}
          <GrievanceAnswer answer={found.answer} title="Answer given" level={2} />
          <Actions g={found} csrf={csrf} staff={staff} />
          <section>
            <TitledList
              title="History"
              columns={historyColumns(tz)}
              rows={history}
              rowAttributes={(h) => ({ "data-action": h.action })}
              testId="history"
            />
          </section>
          <section>
            <h2>Background tasks</h2>
            <ul>
              {tasks.map((t) => (
                <li>
                  {t.kind}: {t.status} ({t.attempts} attempt{t.attempts === 1 ? "" : "s"})
                  {t.error && <span class="error-text">{t.error}</span>}
                </li>
              ))}
            </ul>
          </section>
        </div>
      ),
    });
  });

  app.get("/grievances/:id/files/:file", async (c) => {
    const found = await grievanceOf(c, c.req.param("id"));
    const file = await g.file(found.id, c.req.param("file"), c.req.query("thumbnail") === "1");
    if (!file) throw new AppError("not_found", "This attachment does not exist.");
    return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": file.mimeType,
      "Content-Disposition": c.req.query("thumbnail") === "1" ? "inline" : "attachment",
      "X-Content-Type-Options": "nosniff",
    });
  });

  /** Runs one officer action from a form, answering with a redirect back to the page. */
  const action = (
    path: string,
    run: (actor: Actor, id: string, form: Record<string, string>) => Promise<string>,
  ) =>
    app.post(`/grievances/:id/${path}`, async (c) => {
      const actor = await staffActor(c, ctx);
      const form = await adminForm(c, ctx);
      const id = c.req.param("id");
      const page = `/admin/grievances/${id}`;
      try {
        return back(c, page, { notice: await run(actor, id, form) });
      } catch (error) {
        if (error instanceof AppError && error.code === "not_found") throw error;
        if (isRefusal(error)) {
          return back(c, page, { problem: error.code === "conflict" ? "gone" : "invalid" });
        }
        throw error;
      }
    });

  action("assign", async (actor, id, form) => {
    const to = form.assignee === "me" ? actor.id : form.assignee || null;
    if (to && to !== actor.id) {
      const user = await getUser(ctx.db.sql, to).catch(() => null);
      if (!user) throw new AppError("validation_failed", "assignee: choose an officer.");
    }
    await g.officers.assign(actor, id, to, form.note);
    return "saved";
  });
  action("status", async (actor, id, form) => {
    await g.officers.move(actor, id, form.status as Status, form.note);
    return "saved";
  });
  action("priority", async (actor, id, form) => {
    if (!(PRIORITIES as readonly string[]).includes(form.priority ?? "")) {
      throw new AppError("validation_failed", "priority");
    }
    await g.officers.priority(actor, id, form.priority as Priority);
    return "saved";
  });
  action("answer", async (actor, id, form) => {
    const status = (STATUSES as readonly string[]).includes(form.status ?? "")
      ? form.status as Status
      : null;
    await g.officers.answer(ctx.jobs, actor, id, { text: form.answer ?? "", status });
    return "answered";
  });
  action("retry", async (actor, id) => {
    await g.officers.retry(ctx.jobs, actor, id);
    return "queued";
  });
  return app;
}
