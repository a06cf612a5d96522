/**
 * The API's shared pieces: an `OpenAPIHono` factory whose validation failures become our error
 * envelope (naming each field), and the schemas every route reuses. Routes are declared with
 * `createRoute` so the OpenAPI document is generated from the very zod schemas that validate
 * requests: a route cannot drift from its documentation.
 */
import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import { ROLES, type User } from "../../lib/accounts/users.ts";
import { AppError } from "../../lib/errors.ts";
import { textField } from "../../lib/text.ts";
import type { AuthEnv } from "../_auth.ts";

export { z };

/** A zod failure as the one error type: `validation_failed`, naming each field. */
export function validationError(error: z.ZodError): AppError {
  const issues = error.issues.map((i) => ({
    field: i.path.join(".") || (i.code === "unrecognized_keys" ? "body" : "request"),
    message: i.code === "unrecognized_keys"
      ? `unknown field${i.keys.length > 1 ? "s" : ""}: ${i.keys.join(", ")}`
      : i.message,
  }));
  return new AppError(
    "validation_failed",
    issues.map((i) => `${i.field}: ${i.message}`).join("; "),
    { issues },
  );
}

export function apiRouter(): OpenAPIHono<AuthEnv> {
  return new OpenAPIHono<AuthEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
}

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "validation_failed" }),
    message: z.string().openapi({ example: "email: Invalid email address" }),
    details: z.unknown().optional(),
  }),
}).openapi("Error");

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

/** The error answers any route may give. */
export const errors = {
  400: error("The request is not valid; `message` names each field"),
  401: error("Not signed in, or the token/key is not valid"),
  413: error("The body is too large"),
  429: error("Too many requests; see the Retry-After header"),
};

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** The `200` of an answer streamed as Server-Sent Events; `description` names its events. */
export const eventStream = (description: string) => ({
  200: { description, content: { "text/event-stream": { schema: z.string() } } },
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

/**
 * The query of a list read newest first, a page at a time: how many (1 to 100), and `before`,
 * the time (ISO 8601) of the last item seen, read as a `Date`.
 */
export const newestFirstQuery = (defaultLimit: number, beforeDescription: string) =>
  z.object({
    limit: z.coerce.number().int().min(1).max(100).default(defaultLimit),
    before: z.iso.datetime().optional().openapi({ description: beforeDescription })
      .transform((before) => before ? new Date(before) : undefined),
  });

/** The query parameter that asks for the page after the one that answered `nextCursor`. */
export const cursorParam = textField().max(100).optional().openapi({
  description: "`nextCursor` of the previous page",
});

/** A page of a list read by cursor: its `items`, and the cursor of the next (null: no more). */
export const cursorPage = <T extends z.ZodRawShape>(items: T) =>
  z.object({ ...items, nextCursor: z.string().nullable() });

/** The `{id}` of a path: any text up to 64 characters (an id that names nothing is a 404). */
export const IdParam = z.object({ id: textField().max(64) });

export const bearer = [{ bearer: [] }];

/**
 * The route declarer of one part of the API: each route it declares is tagged `tags`, needs the
 * bearer token unless `open`, and answers the shared {@link errors} besides its own responses (a
 * route's own answer for a status wins).
 */
function routeDeclarer(tags: string[], open: boolean) {
  return <
    P extends string,
    R extends Omit<RouteConfig, "path" | "tags" | "security"> & { path: P },
  >(
    config: R,
  ) =>
    createRoute({
      ...config,
      tags,
      ...(open ? {} : { security: bearer }),
      responses: { ...errors, ...config.responses },
    });
}

/**
 * The declarer of routes behind the bearer token.
 *
 * @example
 * const route = bearerRoutes(["bots"]);
 * app.openapi(route({ method: "get", path: "/bots", summary: "The bots", responses }), handler);
 */
export const bearerRoutes = (tags: string[]) => routeDeclarer(tags, false);

/** The declarer of routes anyone may call (no bearer token). */
export const openRoutes = (tags: string[]) => routeDeclarer(tags, true);

export const UserSchema = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  displayName: z.string().nullable(),
  phone: z.string().nullable().openapi({ example: "+263771234567" }),
  role: z.enum(ROLES),
  tier: z.string(),
  createdAt: z.string().openapi({ format: "date-time" }),
}).openapi("User");

export function userJson(u: User): z.infer<typeof UserSchema> {
  return {
    id: u.id,
    email: u.email,
    displayName: u.displayName,
    phone: u.phone,
    role: u.role,
    tier: u.tier,
    createdAt: u.createdAt.toISOString(),
  };
}
