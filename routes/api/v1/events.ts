/**
 * `GET /api/v1/events`: the signed-in user's live events as Server-Sent Events
 * (`payment.updated`, `wallet.updated`, ...), with a heartbeat comment every 15 s so proxies
 * keep the stream open.
 */
import { createRoute } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { UserEvent } from "../../../lib/events.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
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
      return streamSSE(c, async (stream) => {
        const queue: UserEvent[] = [];
        let wake: (() => void) | null = null;
        const unsubscribe = ctx.events.subscribe(auth.user.id, (e) => {
          queue.push(e);
          wake?.();
        });
        let counter = 0;
        stream.onAbort(() => wake?.());
        try {
          await stream.writeSSE({
            event: "ready",
            data: JSON.stringify({ userId: auth.user.id }),
            id: "0",
          });
          while (!stream.aborted && !stream.closed) {
            const next = queue.shift();
            if (next) {
              await stream.writeSSE({
                event: next.type,
                data: JSON.stringify(next.data),
                id: String(++counter),
              });
              continue;
            }
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, HEARTBEAT_MS);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wake = null;
            if (queue.length === 0 && !stream.aborted) await stream.write(": heartbeat\n\n");
          }
        } finally {
          unsubscribe();
        }
      });
    }) as never,
  );
}
