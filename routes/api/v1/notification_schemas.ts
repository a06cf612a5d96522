/**
 * The notifications API's schemas (written once: they validate requests and generate the OpenAPI
 * document), the JSON each domain object is answered as, and the routes channels and topics share
 * (list, create, read, replace, delete). Secrets go in, never out: a channel answers how its
 * secret is found (`secret.source`), never its value.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { AppError } from "../../../lib/errors.ts";
import { METHODS } from "../../../lib/notifications/methods/mod.ts";
import {
  type Channel,
  type Delivery,
  DELIVERY_STATUSES,
  type Publication,
  type Topic,
} from "../../../lib/notifications/model.ts";
import { textField } from "../../../lib/text.ts";
import { type AuthEnv, requireAdminOrScope } from "../../_auth.ts";
import { bearerRoutes, IdParam, json, jsonBody, z } from "../_openapi.ts";
import { dateTime, jsonOf, timestamps } from "../_json.ts";
import { readRoute } from "../_reads.ts";

export const tags = ["notifications"];
export const route = bearerRoutes(tags);
export const manage = (c: Parameters<typeof requireAdminOrScope>[0]) =>
  requireAdminOrScope(c, "notifications:manage");

export const refusals = {
  403: json(z.any(), "Not an admin, or an API key without the scope"),
  422: json(z.any(), "The settings cannot be used; `details.issues` names each field"),
};

export const SecretSchema = z.union([
  z.object({ source: z.literal("env"), name: z.string() }),
  z.object({ source: z.literal("stored") }),
  z.object({ source: z.literal("none") }),
]).openapi("NotificationSecretRef", {
  description: "How the channel's secret is found at send time; the value is never shown",
});

export const ChannelSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  method: z.enum(METHODS),
  settings: z.record(z.string(), z.unknown()),
  recipient: z.string().openapi({ description: "Masked, as the delivery log shows it" }),
  secret: SecretSchema,
  ...timestamps,
}).openapi("NotificationChannel");

export const channelJson = (ch: Channel): z.infer<typeof ChannelSchema> =>
  jsonOf(ChannelSchema, ch);

export const ChannelBody = z.strictObject({
  name: textField().max(200),
  method: textField().max(40).openapi({ example: "slack", description: METHODS.join(", ") }),
  settings: z.record(z.string(), z.unknown()).default({}).openapi({
    description: "email: `to` (addresses), `subject`; slack: `channel`; telegram: `chat_id`; " +
      "whatsapp: `numbers` (E.164), `template` {name, language?} for outside the 24-hour " +
      "window; webhook: `url` (https, public)",
    example: { channel: "#alerts" },
  }),
  secret: z.union([
    z.strictObject({ env: textField().max(80) }),
    z.strictObject({ value: textField().max(2_000) }),
    z.null(),
  ]).optional().openapi({
    description: "`{env}` names a NOTIFY_* variable, `{value}` is stored encrypted, null " +
      "removes it; omitted on an update: unchanged",
  }),
});

export const TopicSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  channelIds: z.array(z.uuid()),
  ...timestamps,
}).openapi("NotificationTopic");

export const topicJson = (t: Topic): z.infer<typeof TopicSchema> => jsonOf(TopicSchema, t);

export const TopicBody = z.strictObject({
  name: textField().max(200).openapi({ example: "payment failed" }),
  description: textField().max(1_000).optional(),
  channelIds: z.array(textField().max(64)).max(100).default([]),
});

export const PublicationSchema = z.object({
  id: z.uuid(),
  topic: z.string(),
  createdAt: dateTime(),
  deliveries: z.array(z.object({ id: z.uuid(), channel: z.string(), method: z.enum(METHODS) })),
}).openapi("NotificationPublication");

export const publicationJson = (p: Publication): z.infer<typeof PublicationSchema> =>
  jsonOf(PublicationSchema, p);

export const DeliverySchema = z.object({
  id: z.uuid(),
  publicationId: z.uuid(),
  topic: z.string(),
  channelId: z.uuid().nullable(),
  channel: z.string(),
  method: z.enum(METHODS),
  recipient: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  providerMessageId: z.string().nullable(),
  title: z.string().nullable(),
  text: z.string(),
  ...timestamps,
  sentAt: dateTime().nullable(),
}).openapi("NotificationDelivery");

export const deliveryJson = (d: Delivery): z.infer<typeof DeliverySchema> =>
  jsonOf(DeliverySchema, d);

export const notFound = (what: string) => new AppError("not_found", `This ${what} does not exist.`);

/** `GET {path}/{id}` for managers: the `one` with that id, or a 404. */
export function managedReadRoute<T, S extends z.ZodType>(
  app: OpenAPIHono<AuthEnv>,
  path: string,
  r: { one: string; schema: S; toJson: (t: T) => z.infer<S>; get(id: string): Promise<T | null> },
) {
  readRoute(app, route, {
    ...r,
    path,
    responses: refusals,
    find: (id, c) => {
      manage(c);
      return r.get(id);
    },
  });
}

/** What the routes of {@link resourceRoutes} call: `ctx.notifications.channels` or `.topics`. */
interface Store<T, I> {
  list(): Promise<T[]>;
  get(id: string): Promise<T | null>;
  create(input: I): Promise<T>;
  update(id: string, input: I): Promise<T>;
  delete(id: string): Promise<boolean>;
}

/**
 * The validated input of a route with a JSON body `B` (and an `{id}`), written out because Hono
 * cannot compute it from a route whose body schema is a type parameter.
 */
type Body<B extends z.ZodType> = { in: { json: z.input<B> }; out: { json: z.output<B> } };
type IdAndBody<B extends z.ZodType> = Body<B> & {
  in: { param: z.input<typeof IdParam> };
  out: { param: z.output<typeof IdParam> };
};

/**
 * The routes of a named resource managers keep (channels, topics): list, create, read, replace,
 * delete; a name taken is a 409, a missing id a 404.
 */
export function resourceRoutes<T, S extends z.ZodType, B extends z.ZodType>(
  app: OpenAPIHono<AuthEnv>,
  r: {
    path: string;
    one: string;
    many: string;
    schema: S;
    body: B;
    toJson: (t: T) => z.infer<S>;
    store: Store<T, z.output<B>>;
    summaries: { list: string; create: string; replace: string; delete: string };
  },
) {
  const nameTaken = json(z.any(), `A ${r.one} with this name exists`);

  app.openapi(
    route({
      method: "get",
      path: r.path,
      summary: r.summaries.list,
      responses: {
        200: json(
          z.object({ [r.many]: z.array(r.schema) }),
          r.many[0].toUpperCase() + r.many.slice(1),
        ),
        ...refusals,
      },
    }),
    async (c) => {
      manage(c);
      return c.json({ [r.many]: (await r.store.list()).map(r.toJson) }, 200);
    },
  );

  const create = route({
    method: "post",
    path: r.path,
    summary: r.summaries.create,
    request: { body: jsonBody(r.body) },
    responses: { 201: json(r.schema, `The ${r.one}`), 409: nameTaken, ...refusals },
  });
  app.openapi<typeof create, Body<B>>(create, async (c) => {
    manage(c);
    return c.json(r.toJson(await r.store.create(c.req.valid("json"))), 201);
  });

  managedReadRoute(app, r.path, { ...r, get: (id) => r.store.get(id) });

  const replace = route({
    method: "put",
    path: `${r.path}/{id}`,
    summary: r.summaries.replace,
    request: { params: IdParam, body: jsonBody(r.body) },
    responses: { 200: json(r.schema, `The ${r.one}`), 409: nameTaken, ...refusals },
  });
  app.openapi<typeof replace, IdAndBody<B>>(replace, async (c) => {
    manage(c);
    const updated = await r.store.update(c.req.valid("param").id, c.req.valid("json"));
    return c.json(r.toJson(updated), 200);
  });

  app.openapi(
    route({
      method: "delete",
      path: `${r.path}/{id}`,
      summary: r.summaries.delete,
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...refusals },
    }),
    async (c) => {
      manage(c);
      if (!await r.store.delete(c.req.valid("param").id)) throw notFound(r.one);
      return c.body(null, 204);
    },
  );
}
