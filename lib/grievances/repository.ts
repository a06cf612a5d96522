/**
 * Reading grievances: one SELECT shape (with the area, the assigned officer, the categories and
 * the SLA clock of its priority), one mapping that opens the sealed fields, and the queue's
 * filters. Writes live with the operations that make them (intake.ts, officers.ts, tasks.ts).
 */
import type { Sql } from "../db/mod.ts";
import type { Fragment } from "postgres";
import type { Tx } from "../wallet/ledger.ts";
import {
  type AiStatus,
  type Attachment,
  type AttachmentKind,
  type Channel,
  type Grievance,
  type HistoryAction,
  type HistoryEntry,
  isUuid,
  type Priority,
  type Status,
} from "./model.ts";
import { contextOf, type Sealer, SecretDecryptError } from "./sealing.ts";

/** The columns of `grievances` sealed at rest, in the order toGrievance reads them. */
export const SEALED_COLUMNS = [
  "name",
  "phone",
  "email",
  "address",
  "description",
  "summary",
  "translation",
  "local_summary",
  "answer",
] as const;
export type SealedColumn = typeof SEALED_COLUMNS[number];

/** A row of {@link SELECT} (the columns a {@link Grievance} is read from). */
export type GrievanceRow =
  & {
    id: string;
    reference: string;
    channel: Channel;
    status: Status;
    priority: Priority;
    area_id: string | null;
    area_name: string | null;
    submitted_by: string | null;
    key_id: string;
    phone_index: string | null;
    language: string | null;
    confidence: number | null;
    /** jsonb, parsed by postgres.js. */
    categories: Grievance["categories"] | null;
    ai_status: AiStatus;
    ai_error: string | null;
    assigned_to: string | null;
    assigned_email: string | null;
    assigned_at: Date | null;
    answered_at: Date | null;
    first_response_at: Date | null;
    classified_at: Date | null;
    resolved_at: Date | null;
    created_at: Date;
    updated_at: Date;
    due_at: Date | null;
  }
  & { [C in SealedColumn as `${C}_sealed`]: string | null };

/** The columns every read selects; `g` is `grievances`. */
export const SELECT = `
  select g.*, a.name as area_name, u.email as assigned_email,
    case when g.status in ('submitted', 'classified', 'in_review')
      then g.created_at + p.sla_hours * interval '1 hour' end as due_at,
    coalesce((select jsonb_agg(jsonb_build_object('slug', c.slug, 'name', c.name,
                                                  'confidence', l.confidence)
                               order by l.confidence desc, c.position)
              from grievance_category_links l join grievance_categories c on c.id = l.category_id
              where l.grievance_id = g.id), '[]'::jsonb) as categories
  from grievances g
  left join grievance_areas a on a.id = g.area_id
  left join users u on u.id = g.assigned_to
  join grievance_priorities p on p.priority = g.priority`;

/** Opens one sealed column of a grievance row; a key not held reads as null. */
async function opened(
  sealer: Sealer,
  row: GrievanceRow,
  column: SealedColumn,
  state: { readable: boolean },
): Promise<string | null> {
  const sealed = row[`${column}_sealed`];
  try {
    return await sealer.open(sealed, row.key_id, contextOf(column, row.id));
  } catch (error) {
    if (!(error instanceof SecretDecryptError)) throw error;
    state.readable = false;
    return null;
  }
}

/** The grievance of a row, its personal data opened. */
export async function toGrievance(
  sealer: Sealer,
  row: GrievanceRow,
  now = new Date(),
): Promise<Grievance> {
  const state = { readable: true };
  const [name, phone, email, address, description, summary, translation, localSummary, answer] =
    await Promise.all(
      SEALED_COLUMNS.map((c) => opened(sealer, row, c, state)),
    );
  const dueAt = row.due_at;
  return {
    id: row.id,
    readable: state.readable,
    reference: row.reference,
    channel: row.channel,
    status: row.status,
    priority: row.priority,
    area: row.area_id && row.area_name !== null ? { id: row.area_id, name: row.area_name } : null,
    submittedBy: row.submitted_by,
    complainant: { name, phone, email, address },
    description: description ?? "",
    language: row.language,
    summary,
    translation,
    localSummary,
    confidence: row.confidence === null ? null : Number(row.confidence),
    categories: row.categories ?? [],
    ai: { status: row.ai_status, error: row.ai_error },
    assignedTo: row.assigned_to ? { id: row.assigned_to, email: row.assigned_email } : null,
    assignedAt: row.assigned_at,
    answer,
    answeredAt: row.answered_at,
    firstResponseAt: row.first_response_at,
    classifiedAt: row.classified_at,
    resolvedAt: row.resolved_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    dueAt,
    overdue: dueAt !== null && dueAt.getTime() < now.getTime(),
  };
}

/** The areas an officer may see: null for all (admins, and officers with no areas set). */
export type AreaScope = string[] | null;

export async function areaScopeOf(sql: Sql, user: { id: string; role: string }) {
  if (user.role === "admin") return null;
  const rows = await sql<{ area_id: string }[]>`select area_id from grievance_officer_areas
                                                where user_id = ${user.id}`;
  return rows.length === 0 ? null : rows.map((r) => r.area_id);
}

function scoped(sql: Sql, scope: AreaScope): Fragment {
  return scope === null ? sql`true` : sql`g.area_id = any(${scope}::uuid[])`;
}

/** One grievance by id, within `scope`; null when absent or outside it. */
export async function findGrievance(
  sql: Sql,
  sealer: Sealer,
  id: string,
  scope: AreaScope = null,
): Promise<Grievance | null> {
  if (!isUuid(id)) return null;
  const [row] = await sql<GrievanceRow[]>`${sql.unsafe(SELECT)} where g.id = ${id} and ${
    scoped(sql, scope)
  }`;
  return row ? await toGrievance(sealer, row) : null;
}

/** A grievance's row by its reference (for tracking); its fields are opened by the caller. */
export async function rowByReference(sql: Sql, reference: string): Promise<GrievanceRow | null> {
  const [row] = await sql<GrievanceRow[]>`${sql.unsafe(SELECT)} where g.reference = ${reference}`;
  return row ?? null;
}

export interface GrievanceFilter {
  status?: Status[];
  category?: string;
  priority?: Priority;
  /** An area id, or "none" for grievances without one. */
  area?: string;
  /** Open for at least this many days. */
  olderThanDays?: number;
  /** An officer's id, "none" (unassigned). */
  assignedTo?: string;
  overdue?: boolean;
  aiFailed?: boolean;
  channel?: Channel;
  /** Blind indexes to match (a phone or e-mail search). */
  phoneIndexes?: string[];
  emailIndexes?: string[];
  reference?: string;
  scope?: AreaScope;
  limit?: number;
  offset?: number;
  /** "oldest" (the queue's default: the longest waiting first) or "newest". */
  order?: "oldest" | "newest";
}

function where(sql: Sql, f: GrievanceFilter): Fragment {
  const parts: Fragment[] = [scoped(sql, f.scope ?? null)];
  if (f.status?.length) parts.push(sql`g.status = any(${f.status}::text[])`);
  if (f.priority) parts.push(sql`g.priority = ${f.priority}`);
  if (f.channel) parts.push(sql`g.channel = ${f.channel}`);
  if (f.area === "none") parts.push(sql`g.area_id is null`);
  else if (f.area && isUuid(f.area)) parts.push(sql`g.area_id = ${f.area}`);
  else if (f.area) parts.push(sql`false`);
  if (f.category) {
    parts.push(sql`exists (select 1 from grievance_category_links l
                           join grievance_categories c on c.id = l.category_id
                           where l.grievance_id = g.id and c.slug = ${f.category})`);
  }
  if (f.olderThanDays !== undefined) {
    parts.push(sql`g.created_at <= now() - ${f.olderThanDays} * interval '1 day'`);
  }
  if (f.assignedTo === "none") parts.push(sql`g.assigned_to is null`);
  else if (f.assignedTo && isUuid(f.assignedTo)) parts.push(sql`g.assigned_to = ${f.assignedTo}`);
  else if (f.assignedTo) parts.push(sql`false`);
  if (f.overdue) {
    parts.push(sql`g.status in ('submitted', 'classified', 'in_review')
                   and g.created_at + p.sla_hours * interval '1 hour' < now()`);
  }
  if (f.aiFailed) parts.push(sql`g.ai_status = 'failed'`);
  if (f.phoneIndexes) parts.push(sql`g.phone_index = any(${f.phoneIndexes}::text[])`);
  if (f.emailIndexes) parts.push(sql`g.email_index = any(${f.emailIndexes}::text[])`);
  if (f.reference) parts.push(sql`g.reference = ${f.reference}`);
  return parts.reduce((all, part) => sql`${all} and ${part}`);
}

/** The queue: grievances matching `filter`, a page of them, opened. */
export async function listGrievances(
  sql: Sql,
  sealer: Sealer,
  filter: GrievanceFilter,
): Promise<Grievance[]> {
  const order = filter.order === "newest" ? sql`g.created_at desc` : sql`g.created_at asc`;
  const rows = await sql<GrievanceRow[]>`${sql.unsafe(SELECT)} where ${where(sql, filter)}
                                         order by ${order}, g.id
                                         limit ${Math.min(filter.limit ?? 50, 10_000)}
                                         offset ${filter.offset ?? 0}`;
  const now = new Date();
  return await Promise.all(rows.map((r) => toGrievance(sealer, r, now)));
}

export async function countGrievances(sql: Sql, filter: GrievanceFilter): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from grievances g
                                           join grievance_priorities p on p.priority = g.priority
                                           where ${where(sql, filter)}`;
  return row.n;
}

/** A `grievance_attachments` row (the columns an {@link Attachment} is read from). */
interface AttachmentRow {
  id: string;
  grievance_id: string;
  kind: AttachmentKind;
  mime_type: string;
  size_bytes: number;
  storage_key: string;
  thumbnail_key: string | null;
  key_id: string;
  filename_sealed: string | null;
  transcript_sealed: string | null;
  created_at: Date;
}

export async function attachmentsOf(
  sql: Sql,
  sealer: Sealer,
  grievanceId: string,
): Promise<Attachment[]> {
  const rows = await sql<AttachmentRow[]>`select * from grievance_attachments
                                          where grievance_id = ${grievanceId}
                                          order by created_at, id`;
  return await Promise.all(rows.map(async (r) => {
    const open = async (column: "filename" | "transcript") => {
      try {
        return await sealer.open(
          r[`${column}_sealed`],
          r.key_id,
          contextOf(`attachment_${column}`, r.id),
        );
      } catch (error) {
        if (error instanceof SecretDecryptError) return null;
        throw error;
      }
    };
    return {
      id: r.id,
      grievanceId: r.grievance_id,
      kind: r.kind,
      mimeType: r.mime_type,
      sizeBytes: Number(r.size_bytes),
      filename: await open("filename"),
      transcript: await open("transcript"),
      hasThumbnail: r.thumbnail_key !== null,
      createdAt: r.created_at,
    };
  }));
}

/** One attachment's storage keys, if it belongs to `grievanceId`. */
export async function attachmentFile(
  sql: Sql,
  grievanceId: string,
  attachmentId: string,
): Promise<{ storageKey: string; thumbnailKey: string | null; mimeType: string } | null> {
  if (!isUuid(attachmentId) || !isUuid(grievanceId)) return null;
  const [r] = await sql<
    Pick<AttachmentRow, "storage_key" | "thumbnail_key" | "mime_type">[]
  >`select storage_key, thumbnail_key, mime_type from grievance_attachments
    where id = ${attachmentId} and grievance_id = ${grievanceId}`;
  return r
    ? { storageKey: r.storage_key, thumbnailKey: r.thumbnail_key, mimeType: r.mime_type }
    : null;
}

/** A `grievance_history` row with its actor's e-mail (what a {@link HistoryEntry} is read from). */
interface HistoryRow {
  /** A bigint: postgres.js reads it as a string. */
  id: string;
  grievance_id: string;
  action: HistoryAction;
  /** Written from the status vocabulary only (recordHistory). */
  from_status: Status | null;
  to_status: Status | null;
  actor_id: string | null;
  actor_email: string | null;
  detail: string | null;
  key_id: string | null;
  note_sealed: string | null;
  created_at: Date;
}

export async function historyOf(
  sql: Sql,
  sealer: Sealer,
  grievanceId: string,
): Promise<HistoryEntry[]> {
  const rows = await sql<HistoryRow[]>`select h.*, u.email as actor_email from grievance_history h
                                       left join users u on u.id = h.actor_id
                                       where h.grievance_id = ${grievanceId} order by h.id`;
  return await Promise.all(rows.map(async (r) => {
    let note: string | null = null;
    // A note is written with the key that sealed it; without one it cannot be opened.
    if (r.note_sealed && r.key_id) {
      try {
        note = await sealer.open(
          r.note_sealed,
          r.key_id,
          contextOf("history_note", r.grievance_id),
        );
      } catch (error) {
        if (!(error instanceof SecretDecryptError)) throw error;
      }
    }
    return {
      id: Number(r.id),
      action: r.action,
      fromStatus: r.from_status,
      toStatus: r.to_status,
      actor: r.actor_id ? { id: r.actor_id, email: r.actor_email } : null,
      detail: r.detail,
      note,
      createdAt: r.created_at,
    };
  }));
}

/** Writes one history entry (inside the caller's transaction); the note is sealed. */
export async function recordHistory(
  tx: Tx,
  sealer: Sealer,
  entry: {
    grievanceId: string;
    action: HistoryAction;
    from?: Status | null;
    to?: Status | null;
    actorId?: string | null;
    detail?: string | null;
    note?: string | null;
  },
): Promise<void> {
  const note = entry.note?.trim()
    ? await sealer.seal(entry.note.trim(), contextOf("history_note", entry.grievanceId))
    : null;
  await tx`insert into grievance_history
             (grievance_id, action, from_status, to_status, actor_id, detail, key_id, note_sealed)
           values (${entry.grievanceId}, ${entry.action}, ${entry.from ?? null},
                   ${entry.to ?? null}, ${entry.actorId ?? null}, ${entry.detail ?? null},
                   ${note ? sealer.keyId : null}, ${note})`;
}
