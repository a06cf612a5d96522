/**
 * `/api/v1/grievances`: report a problem (multipart, open to anyone), follow it (reference and
 * phone), and — for officers and admins — the queue: search (exact phone or e-mail through the
 * blind index), one grievance with its attachments and history, assign, move, answer, retry a
 * failed classification, bulk status changes. `GET /api/v1/tasks/{id}` answers the status of a
 * background task started for a grievance (the task id is the capability: it carries no personal
 * data).
 */
import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS } from "../../../lib/grievances/attachments.ts";
import { reportFormInput } from "../../../lib/grievances/intake.ts";
import type { Status } from "../../../lib/grievances/model.ts";
import { STATUSES } from "../../../lib/grievances/model.ts";
import { AppError } from "../../../lib/errors.ts";
import type { AppContext } from "../../_context.ts";
import { downloadResponse } from "../../_download.ts";
import { readUpload } from "../../_form.ts";
import { apiRouter, bearerRoutes, IdParam, json, jsonBody, openRoutes, z } from "../_openapi.ts";
import { readRoute } from "../_reads.ts";
import {
  AnswerBody,
  AssignBody,
  attachmentJson,
  AttachmentSchema,
  BulkBody,
  grievanceJson,
  GrievanceSchema,
  historyJson,
  HistorySchema,
  ListQuery,
  requireStaff,
  staffRefusals,
  StatusBody,
  SubmitForm,
  SubmittedSchema,
  tags,
  taskJson,
  TaskSchema,
  TrackBody,
} from "./grievance_schemas.ts";

const route = bearerRoutes(tags);
const openRoute = openRoutes(tags);

const notFound = () => new AppError("not_found", "This grievance does not exist.");

export function grievanceRoutes(ctx: AppContext) {
  const app = apiRouter();
  const g = ctx.grievances;

  // Multipart: documented here, read by readUpload (files bounded, text rule applied).
  app.openAPIRegistry.registerPath(openRoute({
    method: "post",
    path: "/grievances",
    summary: "Report a problem (multipart/form-data, attachments optional)",
    request: {
      body: { required: true, content: { "multipart/form-data": { schema: SubmitForm } } },
    },
    responses: {
      201: json(SubmittedSchema, "Received; `refused` lists files not added (wrong type)"),
      413: json(z.any(), "A file is over its type's limit (nothing was recorded)"),
    },
  }));
  app.post("/grievances", async (c) => {
    const { fields, files } = await readUpload(c, {
      maxFiles: MAX_ATTACHMENTS,
      maxFileBytes: MAX_ATTACHMENT_BYTES,
    });
    const { accepted, refused } = await g.screen(
      files.map((f) => ({ bytes: f.bytes, filename: f.filename })),
    );
    const tooLarge = refused.find((r) => r.reason === "size");
    if (tooLarge) throw new AppError("payload_too_large", tooLarge.message, { refused });
    const key = c.req.header("idempotency-key");
    const submitted = await g.submit(ctx.jobs, {
      channel: "api",
      ...reportFormInput(fields),
      attachments: accepted,
      submittedBy: c.get("auth")?.user.id ?? null,
      intakeKey: key && /^[\w.:-]{8,200}$/.test(key) ? `api:${key}` : null,
    });
    return c.json({
      reference: submitted.reference,
      status: "submitted",
      tasks: submitted.tasks,
      refused,
    }, 201);
  });

  app.openapi(
    openRoute({
      method: "post",
      path: "/grievances/track",
      summary: "Follow a report: its reference and the phone number it was made with",
      request: { body: jsonBody(TrackBody) },
      responses: {
        200: json(
          z.object({
            reference: z.string(),
            status: z.enum(STATUSES),
            categories: z.array(z.string()),
            summary: z.string().nullable(),
            answer: z.string().nullable(),
            createdAt: z.string(),
            resolvedAt: z.string().nullable(),
          }),
          "The report",
        ),
        404: json(z.any(), "No report with this reference and phone"),
      },
    }),
    async (c) => {
      const found = await g.track(c.req.valid("json"));
      if (!found) {
        throw new AppError("not_found", "No report matches this reference and phone number.");
      }
      return c.json({
        reference: found.reference,
        status: found.status,
        categories: found.categories.map((x) => x.slug),
        summary: found.localSummary ?? found.summary,
        answer: found.answer,
        createdAt: found.createdAt.toISOString(),
        resolvedAt: found.resolvedAt?.toISOString() ?? null,
      }, 200);
    },
  );

  readRoute(app, openRoute, {
    path: "/tasks",
    one: "task",
    summary: "A background task started for a grievance (queued, running, succeeded, failed)",
    schema: TaskSchema,
    responses: { 404: json(z.any(), "No such task") },
    toJson: taskJson,
    find: (id) => g.tasks.get(id),
  });

  app.openapi(
    route({
      method: "get",
      path: "/grievances",
      summary: "The queue (staff): filters, and exact search by phone or e-mail",
      request: { query: ListQuery },
      responses: {
        200: json(z.object({ grievances: z.array(GrievanceSchema), total: z.number() }), "Page"),
        ...staffRefusals,
      },
    }),
    async (c) => {
      const actor = await requireStaff(c, ctx);
      const q = c.req.valid("query");
      const statuses = q.status?.split(",").map((s) => s.trim()).filter(Boolean);
      const unknown = statuses?.find((s) => !(STATUSES as readonly string[]).includes(s));
      if (unknown) {
        throw new AppError("validation_failed", `status: one of ${STATUSES.join(", ")}.`, {
          field: "status",
        });
      }
      const filter = {
        status: statuses as Status[] | undefined,
        category: q.category,
        priority: q.priority,
        area: q.area,
        assignedTo: q.assignedTo === "me" ? actor.id : q.assignedTo,
        olderThanDays: q.olderThanDays,
        overdue: q.overdue === "true",
        ...(await g.contactFilter({ phone: q.phone, email: q.email })),
        scope: actor.scope,
        limit: q.limit,
        offset: q.offset,
      };
      const [list, total] = await Promise.all([g.list(filter), g.count(filter)]);
      return c.json({ grievances: list.map(grievanceJson), total }, 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/grievances/{id}",
      summary: "One grievance (staff), with its attachments, history and tasks",
      request: { params: IdParam },
      responses: {
        200: json(
          GrievanceSchema.extend({
            attachments: z.array(AttachmentSchema),
            history: z.array(HistorySchema),
            tasks: z.array(TaskSchema),
          }),
          "The grievance",
        ),
        ...staffRefusals,
      },
    }),
    async (c) => {
      const actor = await requireStaff(c, ctx);
      const found = await g.get(c.req.valid("param").id, actor.scope);
      if (!found) throw notFound();
      const [attachments, history, tasks] = await Promise.all([
        g.attachments(found.id),
        g.history(found.id),
        g.tasks.of(found.id),
      ]);
      return c.json({
        ...grievanceJson(found),
        attachments: attachments.map(attachmentJson),
        history: history.map(historyJson),
        tasks: tasks.map(taskJson),
      }, 200);
    },
  );

  app.openAPIRegistry.registerPath(route({
    method: "get",
    path: "/grievances/{id}/attachments/{attachmentId}",
    summary: "An attachment's bytes (staff); `?thumbnail=1` for a photo's thumbnail",
    request: {
      params: z.object({ id: z.string(), attachmentId: z.string() }),
      query: z.object({ thumbnail: z.enum(["1", "0"]).optional() }),
    },
    responses: {
      200: {
        description: "The file",
        content: { "application/octet-stream": { schema: z.string() } },
      },
      ...staffRefusals,
    },
  }));
  app.get("/grievances/:id/attachments/:attachmentId", async (c) => {
    const actor = await requireStaff(c, ctx);
    const found = await g.get(c.req.param("id"), actor.scope);
    if (!found) throw notFound();
    const file = await g.file(
      found.id,
      c.req.param("attachmentId"),
      c.req.query("thumbnail") === "1",
    );
    if (!file) throw new AppError("not_found", "This attachment does not exist.");
    return downloadResponse(c, file);
  });

  const ok = json(z.object({ ok: z.literal(true) }), "Done");

  app.openapi(
    route({
      method: "post",
      path: "/grievances/{id}/assign",
      summary: 'Assign to a staff member ("me" for oneself) or unassign (null)',
      request: { params: IdParam, body: jsonBody(AssignBody) },
      responses: { 200: ok, ...staffRefusals },
    }),
    async (c) => {
      const actor = await requireStaff(c, ctx);
      const body = c.req.valid("json");
      const to = body.assignee === "me" ? actor.id : body.assignee;
      await g.officers.assign(actor, c.req.valid("param").id, to, body.note);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/grievances/{id}/status",
      summary: "Move to another status (allowed transitions only; 409 names them)",
      request: { params: IdParam, body: jsonBody(StatusBody) },
      responses: {
        200: ok,
        409: json(z.any(), "Not an allowed transition"),
        ...staffRefusals,
      },
    }),
    async (c) => {
      const actor = await requireStaff(c, ctx);
      const body = c.req.valid("json");
      await g.officers.move(actor, c.req.valid("param").id, body.status, body.note);
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/grievances/bulk-status",
      summary: "Move several grievances at once; each answered on its own",
      request: { body: jsonBody(BulkBody) },
      responses: {
        200: json(
          z.object({
            results: z.array(
              z.object({ id: z.string(), ok: z.boolean(), error: z.string().optional() }),
            ),
          }),
          "One result per id",
        ),
        ...staffRefusals,
      },
    }),
    async (c) => {
      const actor = await requireStaff(c, ctx);
      const body = c.req.valid("json");
      const results = await g.officers.moveMany(actor, body.ids, body.status, body.note);
      return c.json({ results }, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/grievances/{id}/answer",
      summary: "Answer the complainant on their channel (and optionally change the status)",
      request: { params: IdParam, body: jsonBody(AnswerBody) },
      responses: {
        200: json(z.object({ via: z.enum(["whatsapp", "email", "track"]) }), "Sent"),
        409: json(z.any(), "Not an allowed transition"),
        ...staffRefusals,
      },
    }),
    async (c) => {
      const actor = await requireStaff(c, ctx);
      const body = c.req.valid("json");
      const result = await g.officers.answer(ctx.jobs, actor, c.req.valid("param").id, body);
      return c.json(result, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/grievances/{id}/classify",
      summary: "Retry a failed classification (a new task)",
      request: { params: IdParam },
      responses: {
        202: json(z.object({ taskId: z.uuid() }), "Queued"),
        409: json(z.any(), "Already classified, or under way"),
        ...staffRefusals,
      },
    }),
    async (c) => {
      const actor = await requireStaff(c, ctx);
      return c.json(await g.officers.retry(ctx.jobs, actor, c.req.valid("param").id), 202);
    },
  );

  return app;
}
