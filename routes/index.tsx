/** `GET /`: the home page. */
import { Hono } from "hono";
import { checkHealth } from "../lib/health.ts";
import { Island } from "../lib/islands/island.tsx";
import HealthStatus from "../islands/HealthStatus.tsx";
import type { AppContext } from "./_context.ts";
import { renderPage } from "./_render.tsx";

export function homeRoutes(ctx: AppContext): Hono {
  return new Hono().get("/", async (c) => {
    const health = await checkHealth(ctx);
    return renderPage(c, {
      title: "Hurukuro",
      sandboxed: ctx.config.sandboxed,
      body: (
        <>
          <h1>Hurukuro</h1>
          <p class="lead">
            An AI assistant you can talk to on the web and on WhatsApp, paid for with EcoCash or
            OneMoney in small prepaid bundles.
          </p>
          <Island
            of={HealthStatus}
            props={{ initial: health.status, checkedAt: new Date().toISOString() }}
          />
        </>
      ),
    });
  });
}
