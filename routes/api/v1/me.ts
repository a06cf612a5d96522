/** `/api/v1/me`: the signed-in user's profile and phone linking. */
import { textField } from "../../../lib/text.ts";
import { confirmPhoneLink, startPhoneLink } from "../../../lib/accounts/phone_link.ts";
import { getUser, updateProfile } from "../../../lib/accounts/users.ts";
import { AppError } from "../../../lib/errors.ts";
import { parseZimbabweMobile } from "../../../lib/paynow/phone.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, json, jsonBody, z } from "../_openapi.ts";
import { userJson, UserSchema } from "../_json.ts";

const route = bearerRoutes(["me"]);

export function meRoutes(ctx: AppContext) {
  const app = apiRouter();

  app.openapi(
    route({
      method: "get",
      path: "/me",
      summary: "The signed-in user",
      responses: { 200: json(UserSchema, "The user") },
    }),
    (c) => c.json(userJson(requireAuth(c).user), 200),
  );

  app.openapi(
    route({
      method: "patch",
      path: "/me",
      summary: "Update the profile",
      request: {
        body: jsonBody(z.strictObject({ displayName: textField().trim().max(80).nullable() })),
      },
      responses: { 200: json(UserSchema, "The updated user") },
    }),
    async (c) => {
      const auth = requireAuth(c);
      const user = await updateProfile(ctx.db.sql, auth.user.id, c.req.valid("json"));
      return c.json(userJson(user), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/me/phone",
      summary: "Send a 6-digit code to a WhatsApp number to link it",
      request: {
        body: jsonBody(z.strictObject({
          phone: textField().max(20).openapi({ example: "0771234567" }),
        })),
      },
      responses: {
        202: json(z.object({ phone: z.string(), expiresInMinutes: z.number() }), "Code sent"),
      },
    }),
    async (c) => {
      const auth = requireAuth(c);
      const phone = parseZimbabweMobile(c.req.valid("json").phone);
      if (!phone.ok) {
        throw new AppError("validation_failed", `phone: ${phone.message}`, { field: "phone" });
      }
      const { code } = await startPhoneLink(ctx.db.sql, auth.user.id, phone.e164);
      await ctx.sendPhoneCode(phone.e164, code);
      return c.json({ phone: phone.e164, expiresInMinutes: 10 }, 202);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/me/phone/verify",
      summary: "Confirm the code and link the number",
      request: {
        body: jsonBody(z.strictObject({ code: textField().regex(/^\d{6}$/, "six digits") })),
      },
      responses: { 200: json(UserSchema, "The user, with the phone linked") },
    }),
    async (c) => {
      const auth = requireAuth(c);
      await confirmPhoneLink(ctx.db.sql, auth.user.id, c.req.valid("json").code);
      return c.json(userJson((await getUser(ctx.db.sql, auth.user.id))!), 200);
    },
  );

  return app;
}
