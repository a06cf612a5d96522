/**
 * Taking a grievance in, from any channel (the web form, the API, the WhatsApp flow): checking
 * what was sent, giving it its reference, sealing the personal data, keeping the attachments,
 * and starting its background work.
 *
 * Order of writes: attachment bytes go to the file store first, then one transaction records
 * the grievance, its attachments, its first history entry and its tasks; the tasks' jobs are
 * queued after the commit (a lost enqueue is found by the reconciler: the tasks are due). A
 * submission carrying an intake key (the WhatsApp message that confirmed it) is recorded once
 * however often it is retried.
 *
 * The reference: `GRV-<year>-<n>`, one counter per year (in TZ_METRICS), taken under the
 * counter row's lock so two submissions never share a number.
 */
import type { Enqueuer } from "../jobs/types.ts";
import { publishProductEvent } from "../events.ts";
import { AppError } from "../errors.ts";
import { type AttachmentRule, checkAttachment, MAX_ATTACHMENTS } from "./attachments.ts";
import type { GrievancesDeps } from "./deps.ts";
import { type Channel, formatReference, isUuid, type TaskKind } from "./model.ts";
import { contextOf, normaliseEmail, normalisePhone } from "./sealing.ts";
import { announce, createTask, queueTasks, taskEvent } from "./tasks.ts";
import { listAreas, nearestArea } from "./taxonomy.ts";

export const LIMITS = { name: 200, address: 500, description: 5_000 };

export interface IntakeFile {
  bytes: Uint8Array;
  filename?: string;
}

export interface AcceptedFile extends IntakeFile {
  rule: AttachmentRule;
}

export interface Refusal {
  filename: string | null;
  reason: "empty" | "type" | "disguised" | "size";
  message: string;
}

/** Sorts files into those a grievance keeps and those refused (each with its sentence). */
export async function screenAttachments(
  files: IntakeFile[],
): Promise<{ accepted: AcceptedFile[]; refused: Refusal[] }> {
  const accepted: AcceptedFile[] = [];
  const refused: Refusal[] = [];
  for (const file of files) {
    const check = await checkAttachment(file.bytes, file.filename);
    if (check.ok) accepted.push({ ...file, rule: check.rule });
    else {refused.push({
        filename: file.filename ?? null,
        reason: check.reason,
        message: check.message,
      });}
  }
  return { accepted, refused };
}

export interface SubmitInput {
  channel: Channel;
  name?: string | null;
  phone?: string | null;
  email?: string | null;
  address?: string | null;
  description: string;
  areaId?: string | null;
  /** A shared location: its nearest area is the grievance's when none was chosen. */
  location?: { latitude: number; longitude: number } | null;
  attachments?: AcceptedFile[];
  /** Audio transcripts already known (none today; kept for channels that transcribe). */
  submittedBy?: string | null;
  intakeKey?: string | null;
}

/**
 * What a report form says (the `/report` page and `POST /api/v1/grievances` name their
 * multipart fields alike): `area` is an area's id, empty for none.
 */
export function reportFormInput(fields: Record<string, string>) {
  return {
    name: fields.name,
    phone: fields.phone,
    email: fields.email,
    address: fields.address,
    description: fields.description ?? "",
    areaId: fields.area || null,
  } satisfies Partial<SubmitInput>;
}

export interface Submitted {
  id: string;
  reference: string;
  /** The tasks started (classification first). */
  tasks: { id: string; kind: TaskKind }[];
  /** True when the intake key had been used: nothing new was recorded. */
  repeated: boolean;
}

const invalid = (field: string, message: string) =>
  new AppError("validation_failed", `${field}: ${message}`, { field });

function optional(value: string | null | undefined, field: string, max: number): string | null {
  const text = value?.trim() ?? "";
  if (!text) return null;
  if (text.length > max) throw invalid(field, `at most ${max.toLocaleString("en-US")} characters.`);
  return text;
}

/** The input checked and normalised; throws `validation_failed` naming the first bad field. */
export function checkInput(input: SubmitInput) {
  const description = input.description?.trim() ?? "";
  if (!description) throw invalid("description", "describe the problem in a few words.");
  if (description.length > LIMITS.description) {
    throw invalid(
      "description",
      `at most ${LIMITS.description.toLocaleString("en-US")} characters.`,
    );
  }
  const rawPhone = optional(input.phone, "phone", 40);
  const phone = rawPhone === null ? null : normalisePhone(rawPhone);
  if (rawPhone !== null && !phone) {
    throw invalid("phone", "give a phone number such as +263771234567 or 0771234567.");
  }
  const rawEmail = optional(input.email, "email", 254);
  const email = rawEmail === null ? null : normaliseEmail(rawEmail);
  if (rawEmail !== null && !email) {
    throw invalid("email", "give an e-mail address such as name@example.com.");
  }
  if ((input.attachments?.length ?? 0) > MAX_ATTACHMENTS) {
    throw invalid("attachments", `at most ${MAX_ATTACHMENTS} files per report.`);
  }
  if (input.areaId && !isUuid(input.areaId)) throw invalid("area", "choose one of the areas.");
  return {
    description,
    phone,
    email,
    name: optional(input.name, "name", LIMITS.name),
    address: optional(input.address, "address", LIMITS.address),
  };
}

function yearIn(now: Date, timeZone: string): number {
  return Number(new Intl.DateTimeFormat("en", { timeZone, year: "numeric" }).format(now));
}

export async function submitGrievance(
  deps: GrievancesDeps,
  jobs: Enqueuer,
  input: SubmitInput,
): Promise<Submitted> {
  const checked = checkInput(input);
  const { sql } = deps.db;
  const { sealer } = deps;
  if (input.intakeKey) {
    const [done] = await sql`select id, reference from grievances
                             where intake_key = ${input.intakeKey}`;
    if (done) return { id: done.id, reference: done.reference, tasks: [], repeated: true };
  }
  let areaId = input.areaId ?? null;
  if (areaId) {
    const [area] = await sql`select id from grievance_areas where id = ${areaId}`;
    if (!area) throw invalid("area", "choose one of the areas.");
  } else if (input.location) {
    areaId = nearestArea(await listAreas(sql), input.location.latitude, input.location.longitude)
      ?.id ?? null;
  }

  const id = crypto.randomUUID();
  const seal = (column: string, value: string | null) => sealer.seal(value, contextOf(column, id));
  const [name, phone, email, address, description] = await Promise.all([
    seal("name", checked.name),
    seal("phone", checked.phone),
    seal("email", checked.email),
    seal("address", checked.address),
    seal("description", checked.description),
  ]);
  const [phoneIndex, emailIndex] = await Promise.all([
    checked.phone ? sealer.index("phone", checked.phone) : null,
    checked.email ? sealer.index("email", checked.email) : null,
  ]);

  const files = await Promise.all((input.attachments ?? []).map(async (file) => {
    const attachmentId = crypto.randomUUID();
    const key = `${id}/${attachmentId}.${file.rule.ext}`;
    await deps.files.put(key, file.bytes);
    return {
      id: attachmentId,
      key,
      file,
      filename: await sealer.seal(
        file.filename?.slice(0, 255) || null,
        contextOf("attachment_filename", attachmentId),
      ),
    };
  }));

  const now = deps.now?.() ?? new Date();
  const year = yearIn(now, deps.config.tzMetrics);
  let result: { reference: string; tasks: { id: string; kind: TaskKind }[] } | null;
  try {
    result = await sql.begin(async (tx) => {
      const [seq] = await tx`
        insert into grievance_sequences (year, last) values (${year}, 1)
        on conflict (year) do update set last = grievance_sequences.last + 1
        returning last`;
      const reference = formatReference(year, Number(seq.last));
      const inserted = await tx`
        insert into grievances (id, reference, channel, area_id, submitted_by, intake_key, key_id,
          name_sealed, phone_sealed, email_sealed, address_sealed, description_sealed,
          phone_index, email_index)
        values (${id}, ${reference}, ${input.channel}, ${areaId}, ${input.submittedBy ?? null},
          ${input.intakeKey ?? null}, ${sealer.keyId}, ${name}, ${phone}, ${email}, ${address},
          ${description}, ${phoneIndex}, ${emailIndex})
        on conflict (intake_key) do nothing
        returning id`;
      if (inserted.length === 0) return null; // the same intake key won a race
      for (const f of files) {
        await tx`insert into grievance_attachments
                   (id, grievance_id, kind, mime_type, size_bytes, storage_key, key_id,
                    filename_sealed)
                 values (${f.id}, ${id}, ${f.file.rule.kind}, ${f.file.rule.mime},
                         ${f.file.bytes.byteLength}, ${f.key}, ${sealer.keyId}, ${f.filename})`;
      }
      await tx`insert into grievance_history (grievance_id, action, to_status, detail)
               values (${id}, 'submitted', 'submitted', ${input.channel})`;
      const tasks: { id: string; kind: TaskKind }[] = [
        { id: await createTask(tx, id, "classify"), kind: "classify" },
      ];
      for (const f of files.filter((f) => f.file.rule.kind === "image")) {
        tasks.push({ id: await createTask(tx, id, "thumbnail", f.id), kind: "thumbnail" });
      }
      return { reference, tasks };
    });
  } catch (error) {
    await deps.files.deleteFolder(id).catch(() => {});
    throw error;
  }
  if (!result) {
    await deps.files.deleteFolder(id).catch(() => {});
    const [done] = await sql`select id, reference from grievances
                             where intake_key = ${input.intakeKey!}`;
    return { id: done.id, reference: done.reference, tasks: [], repeated: true };
  }
  deps.log.info("grievance submitted", {
    grievanceId: id,
    reference: result.reference,
    channel: input.channel,
    attachments: files.length,
  });
  await queueTasks(jobs, result.tasks, deps.log);
  await publishProductEvent(deps.db, {
    type: "grievance.created",
    data: { id, reference: result.reference, channel: input.channel, attachments: files.length },
  }).catch((error) => deps.log.warn("grievance.created not announced", { error }));
  for (const t of result.tasks) {
    await announce(deps.db, deps.log, { submittedBy: input.submittedBy ?? null }, "task_status", {
      ...taskEvent(
        {
          id: t.id,
          grievanceId: id,
          kind: t.kind,
          attachmentId: null,
          status: "queued",
          attempts: 0,
          error: null,
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          updatedAt: now,
        },
        result.reference,
      ),
    });
  }
  return { id, reference: result.reference, tasks: result.tasks, repeated: false };
}
