/** `/api/v1`: the REST API of the web frontend. One module per area, mounted here. */
import type { AppContext } from "../../_context.ts";
import { apiRouter } from "../_openapi.ts";
import { apiKeyRoutes } from "./api_keys.ts";
import { authRoutes } from "./auth.ts";
import { meRoutes } from "./me.ts";
import { statusRoutes } from "./status.ts";
import { walletRoutes } from "./wallet.ts";
import { paymentRoutes } from "./payments.ts";
import { eventRoutes } from "./events.ts";
import { chatRoutes } from "./chat.ts";
import { notificationRoutes } from "./notifications.ts";
import { notificationLogRoutes } from "./notification_log.ts";
import { botRoutes } from "./bots.ts";
import { botAskRoutes } from "./bots_embed.ts";
import { botInsightRoutes } from "./bots_insights.ts";
import { grievanceRoutes } from "./grievances.ts";

/** The areas, mounted in this order (the first route that matches answers). */
const AREAS = [
  statusRoutes,
  authRoutes,
  meRoutes,
  walletRoutes,
  apiKeyRoutes,
  paymentRoutes,
  eventRoutes,
  chatRoutes,
  notificationRoutes,
  notificationLogRoutes,
  botRoutes,
  botAskRoutes,
  botInsightRoutes,
  grievanceRoutes,
];

export function apiV1Routes(ctx: AppContext) {
  const api = apiRouter();
  for (const routes of AREAS) api.route("/", routes(ctx));
  return api;
}
