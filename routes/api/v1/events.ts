/**
 * `GET /api/v1/events`: the signed-in user's live events as Server-Sent Events
 * (`payment.updated`, `wallet.updated`, ...; for officers and admins also the grievances'
 * `task_status` and `classification_complete`), with a heartbeat comment every 15 s so proxies
 * keep the stream open.
 */
import type { UserEvent } from "../../../lib/events.ts";
import { liveSource, SSE_HEADERS, sseStream } from "../../_sse.ts";
import { STAFF_EVENTS } from "../../../lib/grievances/tasks.ts";
import { isStaff } from "../../../lib/accounts/users.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, eventStream } from "../_openapi.ts";

const route = bearerRoutes(["events"]);

export function eventRoutes(ctx: AppContext) {
  return apiRouter().openapi(
    route({
      method: "get",
      path: "/events",
      summary: "Live events for the signed-in user (text/event-stream)",
      responses: eventStream("`event: payment.updated` / `wallet.updated`, `data:` JSON"),
    }),
    (c) => {
      const auth = requireAuth(c);
      let counter = 0;
      const source = liveSource<UserEvent>(
        (push) => {
          const own = ctx.events.subscribe(auth.user.id, push);
          // Staff also hear the grievances' task events (lib/grievances/tasks.ts).
          const staff = isStaff(auth.user.role)
            ? ctx.events.subscribe(STAFF_EVENTS, push)
            : () => {};
          return () => (own(), staff());
        },
        (e) => ({ event: e.type, data: e.data, id: ++counter }),
        (push) => push({ event: "ready", data: { userId: auth.user.id }, id: 0 }),
      );
      return c.body(sseStream(source), 200, SSE_HEADERS);
    },
  );
}
