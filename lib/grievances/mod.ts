/**
 * Grievances and help requests: people report a problem by WhatsApp, on the web form
 * or through the API, with photos, voice notes or documents; the AI classifies, summarises and
 * translates each report in the background; officers work through the queue and answer on the
 * channel the complainant used. Personal data is sealed at rest and still found by exact phone
 * or e-mail (sealing.ts). See docs/grievances.md.
 *
 * Operations that queue work take the enqueuer as an argument (the route's, or the job's
 * context), as in lib/notifications: the queue is built with the handlers, and the handlers need
 * this module.
 *
 * @example
 * const grievances = createGrievances({ db, log, config, sealer, files, ai, whatsapp });
 * const { reference } = await grievances.submit(queue, { channel: "web", description: "…" });
 */
import type { Config } from "../config.ts";
import type { Enqueuer, JobMeta } from "../jobs/types.ts";
import { classifyTask } from "./classify.ts";
import type { GrievancesDeps } from "./deps.ts";
import { type IntakeFile, screenAttachments, submitGrievance, type SubmitInput } from "./intake.ts";
import type { Status, TaskKind } from "./model.ts";
import {
  type Actor,
  answer,
  assign,
  moveMany,
  moveStatus,
  retryClassification,
  setPriority,
} from "./officers.ts";
import type { Priority } from "./model.ts";
import {
  areaScopeOf,
  attachmentFile,
  attachmentsOf,
  countGrievances,
  findGrievance,
  type GrievanceFilter,
  historyOf,
  listGrievances,
} from "./repository.ts";
import { createSealer, normaliseEmail, normalisePhone, type Sealer } from "./sealing.ts";
import { getTask, overdueTasks, runClaimedTask, tasksOf } from "./tasks.ts";
import { thumbnailTask } from "./thumbnails.ts";
import { trackGrievance } from "./track.ts";
import { whatsappPort } from "./whatsapp.ts";

export type { Actor, GrievanceFilter, GrievancesDeps, IntakeFile, SubmitInput };

/** The sealer of this configuration: ENCRYPTION_KEY, and the previous key during a rotation. */
export function grievanceSealer(config: Config): Promise<Sealer> {
  return createSealer(config.encryptionKey, config.grievances.previousEncryptionKey);
}

export function createGrievances(deps: GrievancesDeps) {
  const { sql } = deps.db;
  const { sealer } = deps;
  return {
    deps,
    /** Sorts uploaded files into accepted and refused (with a sentence each). */
    screen: (files: IntakeFile[]) => screenAttachments(files),
    submit: (jobs: Enqueuer, input: SubmitInput) => submitGrievance(deps, jobs, input),
    /** What a staff member may see: their areas (officers) or all (admins). */
    scopeOf: (user: { id: string; role: string }) => areaScopeOf(sql, user),
    get: (id: string, scope: Actor["scope"] = null) => findGrievance(sql, sealer, id, scope),
    list: (filter: GrievanceFilter) => listGrievances(sql, sealer, filter),
    count: (filter: GrievanceFilter) => countGrievances(sql, filter),
    /** The filter that finds a phone's or an e-mail's grievances (blind index, both keys). */
    async contactFilter(
      contact: { phone?: string | null; email?: string | null },
    ): Promise<Pick<GrievanceFilter, "phoneIndexes" | "emailIndexes">> {
      const phone = contact.phone ? normalisePhone(contact.phone) : null;
      const email = contact.email ? normaliseEmail(contact.email) : null;
      return {
        ...(contact.phone
          ? { phoneIndexes: phone ? await sealer.indexes("phone", phone) : [] }
          : {}),
        ...(contact.email
          ? { emailIndexes: email ? await sealer.indexes("email", email) : [] }
          : {}),
      };
    },
    attachments: (grievanceId: string) => attachmentsOf(sql, sealer, grievanceId),
    /** An attachment's bytes (or its thumbnail's), if it belongs to the grievance. */
    async file(grievanceId: string, attachmentId: string, thumbnail = false) {
      const found = await attachmentFile(sql, grievanceId, attachmentId);
      if (!found) return null;
      const key = thumbnail ? found.thumbnailKey : found.storageKey;
      const bytes = key ? await deps.files.get(key) : null;
      return bytes ? { bytes, mimeType: thumbnail ? "image/jpeg" : found.mimeType } : null;
    },
    history: (grievanceId: string) => historyOf(sql, sealer, grievanceId),
    tasks: {
      get: (id: string) => getTask(sql, id),
      of: (grievanceId: string) => tasksOf(sql, grievanceId),
    },
    track: (input: { reference: string; phone: string }) => trackGrievance(deps, input),
    officers: {
      assign: (actor: Actor, id: string, to: string | null, note?: string) =>
        assign(deps, actor, id, to, note),
      move: (actor: Actor, id: string, to: Status, note?: string) =>
        moveStatus(deps, actor, id, to, note),
      moveMany: (actor: Actor, ids: string[], to: Status, note?: string) =>
        moveMany(deps, actor, ids, to, note),
      priority: (actor: Actor, id: string, priority: Priority) =>
        setPriority(deps, actor, id, priority),
      answer: (
        jobs: Enqueuer,
        actor: Actor,
        id: string,
        input: { text: string; status?: Status | null },
      ) => answer(deps, jobs, actor, id, input),
      retry: (jobs: Enqueuer, actor: Actor, id: string) =>
        retryClassification(deps, jobs, actor, id),
    },
    /** The `grievances.classify` job. */
    classify: (taskId: string, meta: Pick<JobMeta, "attempt">) =>
      runClaimedTask(deps, taskId, "classify", (task) => classifyTask(deps, task, meta)),
    /** The `grievances.thumbnail` job. */
    thumbnail: (taskId: string, meta: Pick<JobMeta, "attempt">) =>
      runClaimedTask(deps, taskId, "thumbnail", (task) => thumbnailTask(deps, task, meta)),
    /** The jobs' reconciler: tasks whose job was lost. */
    overdue: (kind: TaskKind) => overdueTasks(deps.db, kind),
    /** The WhatsApp flow's port ("Report a problem"). */
    whatsapp: (jobs: Enqueuer) => whatsappPort(deps, jobs),
  };
}

export type Grievances = ReturnType<typeof createGrievances>;
