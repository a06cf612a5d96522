/**
 * `GET /api/v1/events`: the signed-in user's live events as Server-Sent Events
 * (`payment.updated`, `wallet.updated`, ...; for officers and admins also the grievances'
 * `task_status` and `classification_complete`), with a heartbeat comment every 15 s so proxies
 * keep the stream open.
 */
import { createRoute } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { UserEvent } from "../../../lib/events.ts";
import { STAFF_EVENTS } from "../../../lib/grievances/tasks.ts";
import { isStaff } from "../../../lib/accounts/users.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { relayEvents } from "../../_sse.ts";
import { apiRouter, bearer, errors, z } from "../_openapi.ts";

export const HEARTBEAT_MS = 15_000;

export function eventRoutes(ctx: AppContext) {
  return apiRouter().openapi(
    createRoute({
      method: "get",
      path: "/events",
      tags: ["events"],
      security: bearer,
      summary: "Live events for the signed-in user (text/event-stream)",
      responses: {
        200: {
          description: "`event: payment.updated` / `wallet.updated`, `data:` JSON",
          content: { "text/event-stream": { schema: z.string() } },
        },
        ...errors,
      },
    }),
    // deno-lint-ignore no-explicit-any
    ((c: any) => {
      const auth = requireAuth(c);
      let counter = 0;
      return streamSSE(c, (stream) =>
        relayEvents<UserEvent>(stream, {
          subscribe: (push) => {
            const own = ctx.events.subscribe(auth.user.id, push);
            // Staff also hear the grievances' task events (lib/grievances/tasks.ts).
            const staff = isStaff(auth.user.role)
              ? ctx.events.subscribe(STAFF_EVENTS, push)
              : () => {};
            return () => (own(), staff());
          },
          start: () =>
            stream.writeSSE({
              event: "ready",
              data: JSON.stringify({ userId: auth.user.id }),
              id: "0",
            }),
          write: (e) =>
            stream.writeSSE({ event: e.type, data: JSON.stringify(e.data), id: String(++counter) }),
          heartbeatMs: HEARTBEAT_MS,
        }));
    }) as never,
  );
}
