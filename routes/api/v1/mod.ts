/** `/api/v1`: the REST API of the web frontend. One module per area, mounted here. */
import { Hono } from "hono";
import type { AppContext } from "../../_context.ts";
import { statusRoutes } from "./status.ts";

export function apiV1Routes(ctx: AppContext): Hono {
  return new Hono().route("/", statusRoutes(ctx));
}
