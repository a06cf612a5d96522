/**
 * The grievances vocabulary and rows: a **grievance** (a report by a complainant, with a
 * reference people can read out), its **attachments**, its **history** (every status change,
 * assignment and answer, with who and when), and the **tasks** started for it in the background
 * (classification, thumbnails).
 *
 * Each list is written once here; the zod enums, the types and the SQL CHECKs in
 * migrations/0013_grievances.sql derive from or are tested against these.
 */
import { type ColumnsOf, fieldsOf } from "../db/rows.ts";

export const STATUSES = ["submitted", "classified", "in_review", "resolved", "rejected"] as const;
export type Status = typeof STATUSES[number];

/**
 * The allowed status changes, defined once. `classified` is the AI's to set (from `submitted`
 * only); officers move a grievance along the rest, and may reopen a closed one.
 */
export const TRANSITIONS: Record<Status, readonly Status[]> = {
  submitted: ["classified", "in_review", "resolved", "rejected"],
  classified: ["in_review", "resolved", "rejected"],
  in_review: ["resolved", "rejected"],
  resolved: ["in_review"],
  rejected: ["in_review"],
};

/** Statuses only the system moves a grievance into. */
export const SYSTEM_STATUSES: readonly Status[] = ["classified"];

/** Whether `from → to` is allowed, and for whom. */
export function canMove(from: Status, to: Status, by: "officer" | "system"): boolean {
  if (!TRANSITIONS[from].includes(to)) return false;
  return by === "system" ? SYSTEM_STATUSES.includes(to) : !SYSTEM_STATUSES.includes(to);
}

/** Open statuses: the SLA clock runs while a grievance is in one of these. */
export const OPEN_STATUSES: readonly Status[] = ["submitted", "classified", "in_review"];

export const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export type Priority = typeof PRIORITIES[number];

/** Where a grievance came in; an answer goes back the same way. */
export const CHANNELS = ["web", "api", "whatsapp"] as const;
export type Channel = typeof CHANNELS[number];

export const AI_STATUSES = ["pending", "running", "retrying", "done", "failed"] as const;
export type AiStatus = typeof AI_STATUSES[number];

export const ATTACHMENT_KINDS = ["image", "document", "audio"] as const;
export type AttachmentKind = typeof ATTACHMENT_KINDS[number];

export const HISTORY_ACTIONS = [
  "submitted",
  "classified",
  "classification_failed",
  "status",
  "assigned",
  "answered",
  "priority",
  "retried",
] as const;
export type HistoryAction = typeof HISTORY_ACTIONS[number];

export const TASK_KINDS = ["classify", "thumbnail"] as const;
export type TaskKind = typeof TASK_KINDS[number];

export const TASK_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type TaskStatus = typeof TASK_STATUSES[number];

/** `GRV-2026-00042`: the year and the year's sequence number. */
export const REFERENCE = /^GRV-(\d{4})-(\d{5,})$/;

export function formatReference(year: number, n: number): string {
  return `GRV-${year}-${String(n).padStart(5, "0")}`;
}

/** A reference as typed by a person: trimmed, upper-cased, spaces and dashes forgiven. */
export function normaliseReference(input: string): string | null {
  const m = input.trim().toUpperCase().replace(/[\s_]+/g, "-").match(
    /^GRV-?(\d{4})-?(\d{1,9})$/,
  );
  return m ? formatReference(Number(m[1]), Number(m[2])) : null;
}

export interface Category {
  id: string;
  slug: string;
  name: string;
  description: string;
  active: boolean;
  position: number;
}

export interface Area {
  id: string;
  name: string;
  latitude: number | null;
  longitude: number | null;
}

/** A grievance's personal data and texts, opened (decrypted) for someone allowed to read them. */
export interface Complainant {
  name: string | null;
  phone: string | null;
  email: string | null;
  address: string | null;
}

export interface Grievance {
  id: string;
  /** False when its personal data is sealed under a key this server does not hold. */
  readable: boolean;
  reference: string;
  channel: Channel;
  status: Status;
  priority: Priority;
  area: { id: string; name: string } | null;
  submittedBy: string | null;
  complainant: Complainant;
  description: string;
  language: string | null;
  summary: string | null;
  translation: string | null;
  localSummary: string | null;
  confidence: number | null;
  categories: { slug: string; name: string; confidence: number }[];
  ai: { status: AiStatus; error: string | null };
  assignedTo: { id: string; email: string | null } | null;
  assignedAt: Date | null;
  answer: string | null;
  answeredAt: Date | null;
  firstResponseAt: Date | null;
  classifiedAt: Date | null;
  resolvedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** When the SLA of its priority runs out (null: closed). */
  dueAt: Date | null;
  overdue: boolean;
}

export interface Attachment {
  id: string;
  grievanceId: string;
  kind: AttachmentKind;
  mimeType: string;
  sizeBytes: number;
  filename: string | null;
  transcript: string | null;
  hasThumbnail: boolean;
  createdAt: Date;
}

export interface HistoryEntry {
  id: number;
  action: HistoryAction;
  fromStatus: Status | null;
  toStatus: Status | null;
  actor: { id: string; email: string | null } | null;
  detail: string | null;
  note: string | null;
  createdAt: Date;
}

export interface Task {
  id: string;
  grievanceId: string;
  kind: TaskKind;
  /** The attachment a thumbnail task works on. */
  attachmentId: string | null;
  status: TaskStatus;
  attempts: number;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
}

/** A `grievance_tasks` row (the columns a {@link Task} is read from). */
export type TaskRow = ColumnsOf<Task>;

export function toTask(row: TaskRow): Task {
  return {
    ...fieldsOf(row, ["id", "grievance_id", "kind", "attachment_id", "status"]),
    attempts: Number(row.attempts),
    ...fieldsOf(row, ["error", "created_at", "started_at", "finished_at", "updated_at"]),
  };
}

/** A `grievance_categories` row: its columns are named and typed as a {@link Category}'s fields. */
export type CategoryRow = Category;

export function toCategory(row: CategoryRow): Category {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    active: row.active,
    position: Number(row.position),
  };
}

/** A `grievance_areas` row (the columns an {@link Area} is read from). */
export interface AreaRow {
  id: string;
  name: string;
  latitude: number | null;
  longitude: number | null;
}

export function toArea(row: AreaRow): Area {
  return {
    id: row.id,
    name: row.name,
    latitude: row.latitude === null ? null : Number(row.latitude),
    longitude: row.longitude === null ? null : Number(row.longitude),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids come from URLs and forms: anything else is "no such row", not a database error. */
export const isUuid = (value: string) => UUID.test(value);
