/**
 * The API's reads: one item by its id, and lists read a page at a time, newest first (`limit`
 * and `before`, a time) or by an opaque cursor (`nextCursor`); and the one action on an item by
 * its id that answers nothing but done (204) or not found (404).
 */
import type { Context } from "hono";
import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import { AppError } from "../../lib/errors.ts";
import { textField } from "../../lib/text.ts";
import { type AuthEnv, requireAuth } from "../_auth.ts";
import { IdParam, json, type RouteDeclarer, z } from "./_openapi.ts";

/**
 * `GET {path}/{id}`: the `one` with that id, as `toJson` answers it, or a 404 ("This payment does
 * not exist."). `find` is given the request too, to check who asks; `responses` are the route's
 * other answers.
 */
export function readRoute<T, S extends z.ZodType>(
  app: OpenAPIHono<AuthEnv>,
  route: RouteDeclarer,
  r: {
    path: string;
    one: string;
    summary?: string;
    schema: S;
    responses: RouteConfig["responses"];
    toJson: (t: T) => z.infer<S>;
    find(id: string, c: Context<AuthEnv>): Promise<T | null>;
  },
) {
  app.openapi(
    route({
      method: "get",
      path: `${r.path}/{id}`,
      summary: r.summary ?? `One ${r.one}`,
      request: { params: IdParam },
      responses: { 200: json(r.schema, `The ${r.one}`), ...r.responses },
    }),
    async (c) => {
      const found = await r.find(c.req.valid("param").id, c);
      if (!found) throw new AppError("not_found", `This ${r.one} does not exist.`);
      return c.json(r.toJson(found), 200);
    },
  );
}

/**
 * `method path` (a path ending in `/{id}`): `act` on the signed-in user's item with that id,
 * which answers whether they had one; 204 (`done`) if so, else a 404 ("This API key does not
 * exist.", documented as `missing`).
 */
export function ownItemAction(
  app: OpenAPIHono<AuthEnv>,
  route: RouteDeclarer,
  r: {
    method: "post" | "delete";
    path: string;
    summary: string;
    one: string;
    done: string;
    missing: string;
    act: (userId: string, id: string) => Promise<boolean>;
  },
) {
  app.openapi(
    route({
      method: r.method,
      path: r.path,
      summary: r.summary,
      request: { params: IdParam },
      responses: { 204: { description: r.done }, 404: json(z.any(), r.missing) },
    }),
    async (c) => {
      if (!await r.act(requireAuth(c).user.id, c.req.valid("param").id)) {
        throw new AppError("not_found", `This ${r.one} does not exist.`);
      }
      return c.body(null, 204);
    },
  );
}

/**
 * The query of a list read newest first, a page at a time: how many (1 to 100), and `before`,
 * the time (ISO 8601) of the last item seen, read as a `Date`.
 */
const newestFirstQuery = (defaultLimit: number, beforeDescription: string) =>
  z.object({
    limit: z.coerce.number().int().min(1).max(100).default(defaultLimit),
    before: z.iso.datetime().optional().openapi({ description: beforeDescription })
      .transform((before) => before ? new Date(before) : undefined),
  });

/**
 * `GET path`: the signed-in user's `key` (a list, by the {@link newestFirstQuery} of
 * `defaultLimit` items and `before`), each item as `toJson` answers it.
 */
export function newestFirstList<T, S extends z.ZodType>(
  app: OpenAPIHono<AuthEnv>,
  route: RouteDeclarer,
  r: {
    path: string;
    summary: string;
    key: string;
    schema: S;
    defaultLimit: number;
    before: string;
    list: (userId: string, page: { limit: number; before?: Date }) => Promise<T[]>;
    toJson: (item: T) => z.infer<S>;
  },
) {
  app.openapi(
    route({
      method: "get",
      path: r.path,
      summary: r.summary,
      request: { query: newestFirstQuery(r.defaultLimit, r.before) },
      responses: {
        200: json(
          z.object({ [r.key]: z.array(r.schema) }),
          r.key[0].toUpperCase() + r.key.slice(1),
        ),
      },
    }),
    async (c) => {
      const items = await r.list(requireAuth(c).user.id, c.req.valid("query"));
      return c.json({ [r.key]: items.map(r.toJson) }, 200);
    },
  );
}

/** The query parameter that asks for the page after the one that answered `nextCursor`. */
export const cursorParam = textField().max(100).optional().openapi({
  description: "`nextCursor` of the previous page",
});

/** A page of a list read by cursor: its `items`, and the cursor of the next (null: no more). */
export const cursorPage = <T extends z.ZodRawShape>(items: T) =>
  z.object({ ...items, nextCursor: z.string().nullable() });
