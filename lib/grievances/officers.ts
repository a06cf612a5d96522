/**
 * What officers do with a grievance: assign it (to themselves or another officer), move it
 * along the allowed transitions (model.ts), change its priority, answer the complainant on the
 * channel they used, and retry a failed classification. Each change is one transaction with its
 * history entry (who, when, the note sealed); a change to a grievance outside the officer's
 * areas is "not found", as if it did not exist.
 *
 * Answers go back the way the grievance came: WhatsApp through the WhatsApp outbox (which
 * paces, retries and keeps to the 24-hour window), the web and the API by e-mail when the
 * complainant gave an address (the `email.send` job). Either way the answer is also shown on
 * `/track`.
 */
import type { Enqueuer } from "../jobs/types.ts";
import { AppError } from "../errors.ts";
import { emailJob } from "../mail/send.ts";
import { kickSender, recordOutgoing } from "../whatsapp/outbox.ts";
import type { Tx } from "../wallet/ledger.ts";
import type { GrievancesDeps } from "./deps.ts";
import {
  canMove,
  isUuid,
  PRIORITIES,
  type Priority,
  type Status,
  STATUSES,
  TRANSITIONS,
} from "./model.ts";
import { type AreaScope, findGrievance, recordHistory } from "./repository.ts";
import { contextOf } from "./sealing.ts";
import { createTask, queueTasks } from "./tasks.ts";

/** The staff member acting, and the areas they may act in (null: all). */
export interface Actor {
  id: string;
  scope: AreaScope;
}

export const MAX_ANSWER = 4_000;
export const MAX_NOTE = 2_000;

const notFound = () => new AppError("not_found", "This grievance does not exist.");

/** The grievance's row, locked, if the actor may act on it. */
async function lockFor(tx: Tx, actor: Actor, id: string) {
  if (!isUuid(id)) throw notFound();
  const [row] = await tx<
    { id: string; status: Status; priority: Priority; area_id: string | null; key_id: string }[]
  >`select id, status, priority, area_id, key_id from grievances where id = ${id} for update`;
  const inScope = (areaId: string | null) =>
    actor.scope === null || (areaId !== null && actor.scope.includes(areaId));
  if (!row || !inScope(row.area_id)) throw notFound();
  return row;
}

function checkNote(note: string | undefined | null): string | null {
  const text = note?.trim() ?? "";
  if (text.length > MAX_NOTE) {
    throw new AppError("validation_failed", `note: at most ${MAX_NOTE} characters.`, {
      field: "note",
    });
  }
  return text || null;
}

/** Assigns a grievance to a staff member (officer or admin), or to nobody (null). */
export async function assign(
  deps: GrievancesDeps,
  actor: Actor,
  id: string,
  to: string | null,
  note?: string,
): Promise<void> {
  const { sql } = deps.db;
  const text = checkNote(note);
  let email: string | null = null;
  if (to !== null) {
    const [staff] = isUuid(to)
      ? await sql<{ email: string | null }[]>`select email from users
                    where id = ${to} and role in ('officer', 'admin')
                    and disabled_at is null`
      : [];
    if (!staff) {
      throw new AppError("validation_failed", "assignee: choose an officer.", {
        field: "assignee",
      });
    }
    email = staff.email;
  }
  await sql.begin(async (tx) => {
    await lockFor(tx, actor, id);
    await tx`update grievances set assigned_to = ${to},
               assigned_at = ${to === null ? null : new Date()}, updated_at = now()
             where id = ${id}`;
    await recordHistory(tx, deps.sealer, {
      grievanceId: id,
      action: "assigned",
      actorId: actor.id,
      detail: to === null ? "unassigned" : (email ?? to),
      note: text,
    });
  });
}

function refuseMove(from: Status, to: Status): AppError {
  const allowed = TRANSITIONS[from].filter((s) => canMove(from, s, "officer"));
  return new AppError(
    "conflict",
    `A ${from.replace("_", " ")} grievance cannot become ${to.replace("_", " ")}` +
      (allowed.length ? `; it can become ${allowed.join(", ")}.` : "."),
    { from, to, allowed },
  );
}

/** Moves a grievance to `to` (an allowed transition), with the officer's note. */
export async function moveStatus(
  deps: GrievancesDeps,
  actor: Actor,
  id: string,
  to: Status,
  note?: string,
): Promise<void> {
  if (!STATUSES.includes(to)) {
    throw new AppError("validation_failed", `status: one of ${STATUSES.join(", ")}.`, {
      field: "status",
    });
  }
  const text = checkNote(note);
  await deps.db.sql.begin(async (tx) => {
    const row = await lockFor(tx, actor, id);
    const from = row.status;
    if (from === to) return;
    if (!canMove(from, to, "officer")) throw refuseMove(from, to);
    const closing = to === "resolved" || to === "rejected";
    await tx`update grievances set status = ${to}, updated_at = now(),
               resolved_at = ${closing ? new Date() : null}
             where id = ${id}`;
    await recordHistory(tx, deps.sealer, {
      grievanceId: id,
      action: "status",
      from,
      to,
      actorId: actor.id,
      note: text,
    });
  });
}

export interface BulkOutcome {
  id: string;
  ok: boolean;
  error?: string;
}

/** Moves several grievances at once; each on its own (one refusal does not stop the others). */
export async function moveMany(
  deps: GrievancesDeps,
  actor: Actor,
  ids: string[],
  to: Status,
  note?: string,
): Promise<BulkOutcome[]> {
  const out: BulkOutcome[] = [];
  for (const id of [...new Set(ids)].slice(0, 500)) {
    try {
      await moveStatus(deps, actor, id, to, note);
      out.push({ id, ok: true });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      out.push({ id, ok: false, error: error.message });
    }
  }
  return out;
}

export async function setPriority(
  deps: GrievancesDeps,
  actor: Actor,
  id: string,
  priority: Priority,
): Promise<void> {
  if (!PRIORITIES.includes(priority)) {
    throw new AppError("validation_failed", `priority: one of ${PRIORITIES.join(", ")}.`, {
      field: "priority",
    });
  }
  await deps.db.sql.begin(async (tx) => {
    const row = await lockFor(tx, actor, id);
    if (row.priority === priority) return;
    await tx`update grievances set priority = ${priority}, updated_at = now() where id = ${id}`;
    await recordHistory(tx, deps.sealer, {
      grievanceId: id,
      action: "priority",
      actorId: actor.id,
      detail: `${row.priority} → ${priority}`,
    });
  });
}

export interface AnswerResult {
  /** How the complainant hears it: "whatsapp", "email", or "track" (the page only). */
  via: "whatsapp" | "email" | "track";
}

/**
 * Answers the complainant (and optionally moves the grievance, e.g. to resolved, in the same
 * step). The answer is sealed on the grievance; the message goes out after the commit.
 */
export async function answer(
  deps: GrievancesDeps,
  jobs: Enqueuer,
  actor: Actor,
  id: string,
  input: { text: string; status?: Status | null },
): Promise<AnswerResult> {
  const text = input.text?.trim() ?? "";
  if (!text || text.length > MAX_ANSWER) {
    throw new AppError(
      "validation_failed",
      `answer: write the answer (1 to ${MAX_ANSWER.toLocaleString("en-US")} characters).`,
      { field: "answer" },
    );
  }
  const g = await findGrievance(deps.db.sql, deps.sealer, id, actor.scope);
  if (!g) throw notFound();
  if (input.status && input.status !== g.status && !canMove(g.status, input.status, "officer")) {
    throw refuseMove(g.status, input.status);
  }
  const via: AnswerResult["via"] = g.channel === "whatsapp" && g.complainant.phone &&
      deps.whatsapp
    ? "whatsapp"
    : g.complainant.email
    ? "email"
    : "track";
  const status = input.status && input.status !== g.status ? input.status : null;
  const sealed = await deps.sealer.seal(text, contextOf("answer", id));
  const publicUrl = deps.config.publicUrl;
  const statusLine = `Status: ${(status ?? g.status).replace("_", " ")}.`;
  await deps.db.sql.begin(async (tx) => {
    const row = await lockFor(tx, actor, id);
    // The row's sealed fields share one key id: an answer sealed under the current key needs
    // the row under it too (the previous key's rows are re-sealed by the rekey task).
    if (row.key_id !== deps.sealer.keyId) {
      throw new AppError(
        "conflict",
        "This grievance is still sealed under the previous key; run the rekey task first.",
      );
    }
    const closing = status === "resolved" || status === "rejected";
    await tx`update grievances set answer_sealed = ${sealed}, answered_by = ${actor.id},
               answered_at = now(), first_response_at = coalesce(first_response_at, now()),
               status = coalesce(${status}, status), updated_at = now(),
               resolved_at = case when ${status}::text is null then resolved_at
                                  when ${closing} then now() else null end
             where id = ${id}`;
    await recordHistory(tx, deps.sealer, {
      grievanceId: id,
      action: "answered",
      actorId: actor.id,
      detail: via,
    });
    if (status) {
      await recordHistory(tx, deps.sealer, {
        grievanceId: id,
        action: "status",
        from: row.status,
        to: status,
        actorId: actor.id,
      });
    }
    if (via === "whatsapp") {
      await recordOutgoing(tx, g.complainant.phone!, [{
        message: {
          type: "text",
          text: `*Update on your report ${g.reference}*\n\n${text}\n\n${statusLine}`,
        },
      }], { kind: "notice", textLimit: deps.whatsapp!.textLimit });
    }
  });
  if (via === "whatsapp") await kickSender(jobs, g.complainant.phone!);
  if (via === "email") {
    await jobs.enqueue(emailJob, {
      to: g.complainant.email!,
      subject: `Your report ${g.reference}`,
      text: `${text}\n\n${statusLine}\n\nFollow your report at ${publicUrl}/track ` +
        `with its reference (${g.reference}) and your phone number.`,
    });
  }
  deps.log.info("grievance answered", { grievanceId: id, reference: g.reference, via });
  return { via };
}

/** Starts a new classification of a grievance whose classification failed. */
export async function retryClassification(
  deps: GrievancesDeps,
  jobs: Enqueuer,
  actor: Actor,
  id: string,
): Promise<{ taskId: string }> {
  const taskId = await deps.db.sql.begin(async (tx) => {
    await lockFor(tx, actor, id);
    const [g] = await tx`select ai_status from grievances where id = ${id}`;
    const [active] = await tx`select 1 as x from grievance_tasks
                              where grievance_id = ${id} and kind = 'classify'
                                and status in ('queued', 'running')`;
    if (g.ai_status === "done") {
      throw new AppError("conflict", "This grievance is already classified.");
    }
    if (active) throw new AppError("conflict", "A classification is already under way.");
    await tx`update grievances set ai_status = 'pending', ai_error = null, updated_at = now()
             where id = ${id}`;
    await recordHistory(tx, deps.sealer, { grievanceId: id, action: "retried", actorId: actor.id });
    return await createTask(tx, id, "classify");
  });
  await queueTasks(jobs, [{ id: taskId, kind: "classify" }], deps.log);
  return { taskId };
}
