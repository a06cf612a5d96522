/**
 * `/admin`: the dashboard admins run the service from. One module per area, all behind one
 * guard:
 *
 * - signed out → a redirect to `/login?next=…` (pages) or 404 (`/admin/api/…`);
 * - signed in but not an admin, or not through an admin browser session → the same 404 as any
 *   unknown URL, so the area's existence is not revealed. Officers (a staff session too) see
 *   `/admin/grievances` and nothing else. API keys and access tokens never
 *   reach the dashboard (its forms are protected by the session's CSRF token), and only a
 *   session issued at an admin's sign-in (which expires after 8 hours) does: a user promoted
 *   while signed in must sign in again. The role is read from the database on every request
 *   (routes/_auth.ts), so a demoted admin is out at their next click.
 *
 * Every form carries the CSRF token (checked in `_forms.ts`), every change is audited
 * (`_audit.ts`), and admin pages are never cached.
 */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../lib/errors.ts";
import { type AuthEnv, pageViewer } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminApiRoutes } from "./api.ts";
import { auditRoutes } from "./audit.tsx";
import { conversationRoutes } from "./conversations.tsx";
import { jobRoutes } from "./jobs.tsx";
import { overviewRoutes } from "./overview.tsx";
import { paymentRoutes } from "./payments.tsx";
import { settingsRoutes } from "./settings.tsx";
import { userRoutes } from "./users.tsx";
import { webhookRoutes } from "./webhooks.tsx";
import { notificationAdminRoutes } from "./notifications.tsx";
import { notificationDeliveryRoutes } from "./notification_deliveries.tsx";
import { grievanceAdminRoutes } from "./grievances.tsx";
import { sandboxMailRoutes } from "./sandbox_mail.tsx";
import { simulatorRoutes } from "./simulator.tsx";

/**
 * Admins only, with an admin session. The role comes from the user's row as read for this request
 * (routes/_auth.ts): a demoted or disabled admin is refused at the very next request, whichever
 * process made the change.
 */
export function requireAdmin(ctx: AppContext): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const auth = c.get("auth");
    const api = c.req.path.startsWith("/admin/api/");
    if (!auth && !api && c.req.method === "GET") {
      const url = new URL(c.req.url);
      return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
    }
    const admin = auth?.via === "session" && auth.adminSession ? auth.user : null;
    // Officers see the grievances' pages only; the rest of /admin does not exist for them.
    const grievancePages = c.req.path === "/admin/grievances" ||
      c.req.path.startsWith("/admin/grievances/");
    const allowed = admin?.role === "admin" || (admin?.role === "officer" && grievancePages);
    if (!admin || !allowed || admin.disabled) {
      throw new AppError("not_found", `Nothing is served at ${c.req.path}.`);
    }
    c.header("Cache-Control", "no-store");
    if (!api) c.set("viewer", await pageViewer(c, ctx));
    await next();
  };
}

/** The admin area's parts, each mounting its own pages under `/admin`. */
const SECTIONS = [
  overviewRoutes,
  userRoutes,
  paymentRoutes,
  conversationRoutes,
  jobRoutes,
  settingsRoutes,
  auditRoutes,
  webhookRoutes,
  notificationAdminRoutes,
  notificationDeliveryRoutes,
  grievanceAdminRoutes,
  sandboxMailRoutes,
  simulatorRoutes,
  adminApiRoutes,
];

/** Mounted at `/admin` in routes/_app.tsx. */
export function adminRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use("*", requireAdmin(ctx));
  for (const section of SECTIONS) app.route("/", section(ctx));
  return app;
}
