/**
 * The grievances API's schemas (written once: they validate requests and generate the OpenAPI
 * document), the JSON each domain object is answered as, and who may call what: intake and
 * tracking are open; the queue is for staff (officers and admins: an access token, an API key of
 * theirs, or a staff browser session).
 */
import type { Context } from "hono";
import type { Actor } from "../../../lib/grievances/mod.ts";
import {
  AI_STATUSES,
  type Attachment,
  ATTACHMENT_KINDS,
  CHANNELS,
  type Grievance,
  HISTORY_ACTIONS,
  type HistoryEntry,
  PRIORITIES,
  STATUSES,
  type Task,
  TASK_KINDS,
  TASK_STATUSES,
} from "../../../lib/grievances/model.ts";
import { AppError } from "../../../lib/errors.ts";
import { isStaff } from "../../../lib/accounts/users.ts";
import { textField } from "../../../lib/text.ts";
import { type AuthEnv, requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { json, z } from "../_openapi.ts";
import { dateTime, jsonOf, timestamps } from "../_json.ts";

export const tags = ["grievances"];

export const staffRefusals = {
  403: json(z.any(), "Not an officer or admin"),
  404: json(z.any(), "No such grievance (or outside the officer's areas)"),
};

/** Officers and admins; a browser session only if issued at a staff sign-in. */
export async function requireStaff(c: Context<AuthEnv>, ctx: AppContext): Promise<Actor> {
  const auth = requireAuth(c);
  if (!isStaff(auth.user.role) || (auth.via === "session" && !auth.adminSession)) {
    throw new AppError("forbidden", "Only officers and admins may do this.");
  }
  return { id: auth.user.id, scope: await ctx.grievances.scopeOf(auth.user) };
}

export const TaskSchema = z.object({
  id: z.uuid(),
  grievanceId: z.uuid(),
  kind: z.enum(TASK_KINDS),
  status: z.enum(TASK_STATUSES),
  attempts: z.number().int(),
  error: z.string().nullable(),
  createdAt: dateTime(),
  startedAt: dateTime().nullable(),
  finishedAt: dateTime().nullable(),
  updatedAt: dateTime(),
}).openapi("GrievanceTask");

export const taskJson = (t: Task): z.infer<typeof TaskSchema> => jsonOf(TaskSchema, t);

export const RefusalSchema = z.object({
  filename: z.string().nullable(),
  reason: z.enum(["empty", "type", "disguised", "size"]),
  message: z.string(),
}).openapi("AttachmentRefusal");

export const SubmittedSchema = z.object({
  reference: z.string().openapi({ example: "GRV-2026-00042" }),
  status: z.enum(STATUSES),
  tasks: z.array(z.object({ id: z.uuid(), kind: z.enum(TASK_KINDS) })),
  refused: z.array(RefusalSchema),
}).openapi("GrievanceSubmitted");

/** The multipart body of `POST /grievances` (documented; read by routes/_form.ts readUpload). */
export const SubmitForm = z.object({
  description: z.string().openapi({ description: "The problem, in the complainant's words" }),
  name: z.string().optional(),
  phone: z.string().optional().openapi({ example: "+263771234567" }),
  email: z.string().optional(),
  address: z.string().optional(),
  area: z.string().optional().openapi({ description: "An area's id (GET /grievances/areas)" }),
  attachments: z.array(z.string().openapi({ format: "binary" })).optional().openapi({
    description: "Up to 5 files: JPEG or PNG ≤ 5 MB, PDF ≤ 10 MB, MP3/WAV/Ogg ≤ 10 MB",
  }),
}).openapi("GrievanceSubmission");

export const GrievanceSchema = z.object({
  id: z.uuid(),
  reference: z.string(),
  channel: z.enum(CHANNELS),
  status: z.enum(STATUSES),
  priority: z.enum(PRIORITIES),
  area: z.object({ id: z.uuid(), name: z.string() }).nullable(),
  complainant: z.object({
    name: z.string().nullable(),
    phone: z.string().nullable(),
    email: z.string().nullable(),
    address: z.string().nullable(),
  }),
  description: z.string(),
  language: z.string().nullable(),
  summary: z.string().nullable(),
  translation: z.string().nullable(),
  localSummary: z.string().nullable(),
  confidence: z.number().nullable(),
  categories: z.array(z.object({ slug: z.string(), name: z.string(), confidence: z.number() })),
  ai: z.object({ status: z.enum(AI_STATUSES), error: z.string().nullable() }),
  assignedTo: z.object({ id: z.uuid(), email: z.string().nullable() }).nullable(),
  answer: z.string().nullable(),
  answeredAt: dateTime().nullable(),
  firstResponseAt: dateTime().nullable(),
  resolvedAt: dateTime().nullable(),
  dueAt: dateTime().nullable(),
  overdue: z.boolean(),
  readable: z.boolean(),
  ...timestamps,
}).openapi("Grievance");

export const grievanceJson = (g: Grievance): z.infer<typeof GrievanceSchema> =>
  jsonOf(GrievanceSchema, g);

export const AttachmentSchema = z.object({
  id: z.uuid(),
  kind: z.enum(ATTACHMENT_KINDS),
  mimeType: z.string(),
  sizeBytes: z.number().int(),
  filename: z.string().nullable(),
  transcript: z.string().nullable(),
  hasThumbnail: z.boolean(),
}).openapi("GrievanceAttachment");

export const attachmentJson = (a: Attachment): z.infer<typeof AttachmentSchema> =>
  jsonOf(AttachmentSchema, a);

export const HistorySchema = z.object({
  action: z.enum(HISTORY_ACTIONS),
  fromStatus: z.enum(STATUSES).nullable(),
  toStatus: z.enum(STATUSES).nullable(),
  actor: z.object({ id: z.uuid(), email: z.string().nullable() }).nullable(),
  detail: z.string().nullable(),
  note: z.string().nullable(),
  createdAt: dateTime(),
}).openapi("GrievanceHistoryEntry");

export const historyJson = (h: HistoryEntry): z.infer<typeof HistorySchema> =>
  jsonOf(HistorySchema, h);

export const ListQuery = z.object({
  status: textField().max(100).optional().openapi({
    description: `Comma-separated: ${STATUSES.join(", ")}`,
  }),
  category: textField().max(40).optional(),
  priority: z.enum(PRIORITIES).optional(),
  area: textField().max(64).optional().openapi({ description: 'An area id, or "none"' }),
  assignedTo: textField().max(64).optional().openapi({ description: 'A user id, "me" or "none"' }),
  olderThanDays: z.coerce.number().int().min(0).max(3650).optional(),
  overdue: z.enum(["true", "false"]).optional(),
  phone: textField().max(40).optional().openapi({ description: "Exact phone number" }),
  email: textField().max(254).optional().openapi({ description: "Exact e-mail address" }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const AssignBody = z.strictObject({
  assignee: z.union([textField().max(64), z.null()]).openapi({
    description: 'A staff member\'s id, "me", or null to unassign',
  }),
  note: textField().max(2_000).optional(),
});

export const StatusBody = z.strictObject({
  status: z.enum(STATUSES),
  note: textField().max(2_000).optional(),
});

export const BulkBody = z.strictObject({
  ids: z.array(textField().max(64)).min(1).max(500),
  status: z.enum(STATUSES),
  note: textField().max(2_000).optional(),
});

export const AnswerBody = z.strictObject({
  text: textField().max(4_000),
  status: z.enum(STATUSES).optional(),
});

export const TrackBody = z.strictObject({
  reference: textField().max(40),
  phone: textField().max(40),
});
