/**
 * `/api/v1/auth`: sign-up, log-in, token refresh, log-out and password reset for programmatic
 * clients and the separate web frontend (browsers using our own pages get a cookie instead:
 * routes/account.tsx).
 */
import { announceSignUp } from "../../../lib/accounts/signed_up.ts";
import { textField } from "../../../lib/text.ts";
import {
  issueRefreshToken,
  revokeRefreshFamily,
  rotateRefreshToken,
} from "../../../lib/accounts/credentials.ts";
import { ACCESS_TOKEN_TTL_SECONDS, signAccessToken } from "../../../lib/accounts/jwt.ts";
import { completePasswordReset } from "../../../lib/accounts/password_reset.ts";
import { logIn } from "../../../lib/accounts/login.ts";
import { createUser, getUser, type User } from "../../../lib/accounts/users.ts";
import { AppError } from "../../../lib/errors.ts";
import { loginDeps } from "../../_auth.ts";
import { requestPasswordReset } from "../../_mail.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, json, jsonBody, openRoutes, z } from "../_openapi.ts";
import { userJson, UserSchema } from "../_json.ts";

const Email = z.email().max(254).openapi({ example: "tendai@example.com" });
const Password = textField().min(8, "choose at least 8 characters").max(256);

const Session = z.object({
  user: UserSchema,
  tokenType: z.literal("Bearer"),
  accessToken: z.string(),
  expiresIn: z.number().int().openapi({ description: "Seconds the access token lives" }),
  refreshToken: z.string(),
}).openapi("Session");

async function session(ctx: AppContext, user: User, refreshToken?: string) {
  return {
    user: userJson(user),
    tokenType: "Bearer" as const,
    accessToken: await signAccessToken(ctx.config.appSecret, { sub: user.id, role: user.role }),
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    refreshToken: refreshToken ?? await issueRefreshToken(ctx.db.sql, user.id),
  };
}

const route = openRoutes(["auth"]);

export function authRoutes(ctx: AppContext) {
  const app = apiRouter();

  app.openapi(
    route({
      method: "post",
      path: "/auth/signup",
      summary: "Create an account",
      request: {
        body: jsonBody(z.strictObject({
          email: Email,
          password: Password,
          displayName: textField().trim().max(80).optional(),
        })),
      },
      responses: {
        201: json(Session, "The new account, signed in"),
        409: json(z.any(), "An account with this e-mail exists"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const user = await createUser(ctx.db.sql, body);
      ctx.log.info("account created", { userId: user.id, email: user.email });
      await announceSignUp(ctx.db, ctx.log, user.id, "api");
      return c.json(await session(ctx, user), 201);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/auth/login",
      summary: "Log in with e-mail and password",
      request: { body: jsonBody(z.strictObject({ email: Email, password: textField().max(256) })) },
      description: "After 5 wrong passwords in a row for one e-mail (known or not), log-ins for " +
        "it are refused with 429 and `Retry-After` for a window that doubles with each further " +
        "failure (15 s up to 15 minutes); a success or a password reset starts the count afresh.",
      responses: { 200: json(Session, "Signed in") },
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      const user = await logIn(loginDeps(ctx), email, password);
      return c.json(await session(ctx, user), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/auth/refresh",
      summary: "Exchange a refresh token for new tokens",
      description:
        "Refresh tokens rotate: each is good once. Presenting one that was already used revokes every token of that sign-in.",
      request: { body: jsonBody(z.strictObject({ refreshToken: textField().min(1).max(200) })) },
      responses: { 200: json(Session, "New tokens") },
    }),
    async (c) => {
      const rotated = await rotateRefreshToken(ctx.db.sql, c.req.valid("json").refreshToken);
      const user = await getUser(ctx.db.sql, rotated.userId);
      if (!user || user.disabled) throw new AppError("unauthorized", "Please log in again.");
      return c.json(await session(ctx, user, rotated.refreshToken), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/auth/logout",
      summary: "Log out: revoke the refresh token and every token of its sign-in",
      request: { body: jsonBody(z.strictObject({ refreshToken: textField().min(1).max(200) })) },
      responses: { 204: { description: "Logged out" } },
    }),
    async (c) => {
      await revokeRefreshFamily(ctx.db.sql, c.req.valid("json").refreshToken);
      return c.body(null, 204);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/auth/password-reset",
      summary: "E-mail a password reset link",
      description: "Always answers 202, whether or not the e-mail has an account.",
      request: { body: jsonBody(z.strictObject({ email: Email })) },
      responses: { 202: json(z.object({ message: z.string() }), "Accepted") },
    }),
    async (c) => {
      await requestPasswordReset(ctx, c.req.valid("json").email);
      return c.json({
        message:
          "If an account uses this e-mail, a reset link is on its way. It works once, for 30 minutes.",
      }, 202);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/auth/password-reset/confirm",
      summary: "Set a new password with the token from the e-mailed link",
      request: {
        body: jsonBody(z.strictObject({ token: textField().min(1).max(200), password: Password })),
      },
      responses: {
        204: { description: "Password changed; every session is signed out" },
      },
    }),
    async (c) => {
      const { token, password } = c.req.valid("json");
      await completePasswordReset(ctx.db.sql, token, password);
      return c.body(null, 204);
    },
  );

  return app;
}
