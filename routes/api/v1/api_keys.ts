/** `/api/v1/api-keys`: keys for programmatic clients, shown once, revocable. */
import { textField } from "../../../lib/text.ts";
import {
  type ApiKey,
  createApiKey,
  listApiKeys,
  revokeApiKey,
} from "../../../lib/accounts/credentials.ts";
import { AppError } from "../../../lib/errors.ts";
import { API_KEY_SCOPES } from "../../../lib/accounts/scopes.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, json, jsonBody, z } from "../_openapi.ts";
import { ownItemAction } from "../_reads.ts";
import { dateTime, jsonOf } from "../_json.ts";

const route = bearerRoutes(["api-keys"]);

const ApiKeySchema = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().openapi({ description: "The key's first characters, to recognise it" }),
  createdAt: dateTime(),
  lastUsedAt: dateTime().nullable(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
}).openapi("ApiKey");

const keyJson = (k: ApiKey): z.infer<typeof ApiKeySchema> => jsonOf(ApiKeySchema, k);

export function apiKeyRoutes(ctx: AppContext) {
  const app = apiRouter();

  app.openapi(
    route({
      method: "post",
      path: "/api-keys",
      summary: "Create an API key (the secret is shown in this answer only)",
      description: "`scopes` (admins only) let the key do more than act as its owner: " +
        API_KEY_SCOPES.map((s) => `\`${s}\``).join(", ") + ".",
      request: {
        body: jsonBody(z.strictObject({
          name: textField().trim().min(1).max(60),
          scopes: z.array(z.enum(API_KEY_SCOPES)).max(API_KEY_SCOPES.length).optional(),
        })),
      },
      responses: {
        201: json(
          ApiKeySchema.extend({ key: z.string().openapi({ example: "hk_…" }) }),
          "The new key",
        ),
        403: json(z.any(), "Scopes asked for by someone who is not an admin"),
      },
    }),
    async (c) => {
      const auth = requireAuth(c);
      if (auth.via === "api_key") {
        throw new AppError("forbidden", "API keys cannot create other API keys; sign in instead.");
      }
      const { name, scopes = [] } = c.req.valid("json");
      if (scopes.length > 0 && auth.user.role !== "admin") {
        throw new AppError("forbidden", "Only admins may give a key scopes.", { field: "scopes" });
      }
      const key = await createApiKey(ctx.db.sql, auth.user.id, name, scopes);
      return c.json({ ...keyJson(key), key: key.key }, 201);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/api-keys",
      summary: "The signed-in user's live keys",
      responses: { 200: json(z.object({ keys: z.array(ApiKeySchema) }), "Keys") },
    }),
    async (c) => {
      const keys = await listApiKeys(ctx.db.sql, requireAuth(c).user.id);
      return c.json({ keys: keys.map(keyJson) }, 200);
    },
  );

  ownItemAction(app, route, {
    method: "delete",
    path: "/api-keys/{id}",
    summary: "Revoke a key",
    one: "API key",
    done: "Revoked",
    missing: "No such key",
    act: (userId, id) => revokeApiKey(ctx.db.sql, userId, id),
  });

  return app;
}
