/**
 * The API's shared pieces: an `OpenAPIHono` factory whose validation failures become our error
 * envelope (naming each field), and the schemas every route reuses. Routes are declared with
 * `createRoute` so the OpenAPI document is generated from the very zod schemas that validate
 * requests: a route cannot drift from its documentation.
 */
import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
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

export type RouteDeclarer = ReturnType<typeof routeDeclarer>;
