/**
 * Who is calling, and may they: the authentication, CSRF and rate-limit middleware shared by
 * the API and the pages.
 *
 * - `Authorization: Bearer hk_…` → an API key; `Authorization: Bearer <JWT>` → an access token;
 *   otherwise the `hk_session` cookie (browsers).
 * - Cookie-authenticated requests that change state must prove they come from our own pages:
 *   forms carry `_csrf`, scripts send `X-CSRF-Token` (an HMAC of the session under APP_SECRET);
 *   and their `Origin` (or `Referer`) must be ours ({@link originCheck}).
 * - Requests are counted per API key, per user (their tier's per-minute limit) or, when
 *   anonymous, per IP address.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { getConnInfo } from "hono/deno";
import type { LoginDeps } from "../lib/accounts/login.ts";
import { API_KEY_PREFIX, resolveApiKey, resolveSession } from "../lib/accounts/credentials.ts";
import { verifyAccessToken } from "../lib/accounts/jwt.ts";
import type { ApiKeyScope } from "../lib/accounts/scopes.ts";
import { getUser, type User } from "../lib/accounts/users.ts";
import { AppError } from "../lib/errors.ts";
import { hmacHex, randomToken, timingSafeEqual } from "../lib/security/tokens.ts";
import type { AppContext } from "./_context.ts";
import type { Viewer } from "./_layout.tsx";

export const SESSION_COOKIE = "hk_session";
/** Binds the CSRF token of pages seen before signing in (sign-up, log-in forms). */
export const ANON_COOKIE = "hk_anon";
/** Requests per minute per IP address for anonymous callers. */
export const ANONYMOUS_RPM = 30;

export interface Auth {
  user: User;
  via: "api_key" | "access_token" | "session";
  apiKeyId?: string;
  /** An API key's scopes (lib/accounts/scopes.ts). */
  scopes?: ApiKeyScope[];
  sessionToken?: string;
  /**
   * A browser session issued with the admin lifetime (8 h, at a sign-in as an admin). A user
   * promoted while signed in keeps their ordinary 14-day session, which never opens /admin.
   */
  adminSession?: boolean;
}

export type AuthEnv = {
  Variables: {
    auth: Auth | null;
    requestId: string;
    /** The header's viewer, set by areas that render every page for a signed-in user (/admin). */
    viewer?: Viewer;
  };
};

export async function csrfTokenFor(secret: string, binding: string): Promise<string> {
  return (await hmacHex(secret, `csrf:${binding}`)).slice(0, 40);
}

export function cookieOptions(ctx: AppContext, maxAgeSeconds: number) {
  return {
    httpOnly: true,
    secure: ctx.config.env === "production" || ctx.config.publicUrl.startsWith("https://"),
    sameSite: "Lax" as const,
    path: "/",
    maxAge: maxAgeSeconds,
  };
}

/** The value the current page's forms must carry in `_csrf` (sets the anonymous cookie). */
export async function pageCsrfToken(c: Context<AuthEnv>, ctx: AppContext): Promise<string> {
  const auth = c.get("auth");
  if (auth?.sessionToken) return await csrfTokenFor(ctx.config.appSecret, auth.sessionToken);
  let anon = getCookie(c, ANON_COOKIE);
  if (!anon) {
    anon = randomToken(24);
    setCookie(c, ANON_COOKIE, anon, cookieOptions(ctx, 86400));
  }
  return await csrfTokenFor(ctx.config.appSecret, `anon:${anon}`);
}

/** Where staff signed in with an admin session enter /admin (officers see only grievances). */
export function staffHome(auth: Auth | null | undefined): string | undefined {
  if (!auth || auth.via !== "session" || !auth.adminSession || auth.user.disabled) return undefined;
  if (auth.user.role === "admin") return "/admin";
  if (auth.user.role === "officer") return "/admin/grievances";
  return undefined;
}

/** Who the page's header is for: signed in or not, the log-out form's token, the admin link. */
export async function pageViewer(c: Context<AuthEnv>, ctx: AppContext): Promise<Viewer> {
  const auth = c.get("auth");
  if (!auth) return { signedIn: false };
  return { signedIn: true, csrf: await pageCsrfToken(c, ctx), staffHome: staffHome(auth) };
}

/** Checks a form's `_csrf` (or the `X-CSRF-Token` header) against the caller's binding. */
export async function checkCsrf(c: Context<AuthEnv>, ctx: AppContext, sent: string | undefined) {
  const auth = c.get("auth");
  const binding = auth?.sessionToken
    ? auth.sessionToken
    : getCookie(c, ANON_COOKIE) && `anon:${getCookie(c, ANON_COOKIE)}`;
  const expected = binding ? await csrfTokenFor(ctx.config.appSecret, binding) : null;
  if (!expected || !sent || !timingSafeEqual(expected, sent)) {
    throw new AppError(
      "forbidden",
      "This form has expired or did not come from our site. Reload the page and try again.",
    );
  }
}

async function identify(c: Context<AuthEnv>, ctx: AppContext): Promise<Auth | null> {
  const header = c.req.header("authorization");
  if (header) {
    const m = header.match(/^Bearer\s+(\S+)$/i);
    if (!m) {
      throw new AppError("unauthorized", "The Authorization header must be `Bearer <token>`.");
    }
    const token = m[1];
    if (token.startsWith(API_KEY_PREFIX)) {
      const key = await resolveApiKey(ctx.db.sql, token);
      if (!key) throw new AppError("unauthorized", "This API key is not valid or was revoked.");
      return { user: key.user, via: "api_key", apiKeyId: key.keyId, scopes: key.scopes };
    }
    const claims = await verifyAccessToken(ctx.config.appSecret, token);
    const user = claims && await getUser(ctx.db.sql, claims.sub);
    if (!user) {
      throw new AppError(
        "unauthorized",
        "Your access token is not valid or has expired. Refresh it or log in again.",
      );
    }
    return { user, via: "access_token" };
  }
  const sessionToken = getCookie(c, SESSION_COOKIE);
  if (sessionToken) {
    const session = await resolveSession(ctx.db.sql, sessionToken);
    const user = session && await getUser(ctx.db.sql, session.userId);
    if (user) {
      return { user, via: "session", sessionToken, adminSession: session!.adminSession };
    }
  }
  return null;
}

/** What logging in needs (lib/accounts/login.ts), as of this request (PUBLIC_URL may be late). */
export function loginDeps(ctx: AppContext): LoginDeps {
  return {
    sql: ctx.db.sql,
    jobs: ctx.jobs,
    log: ctx.log,
    publicUrl: ctx.config.publicUrl,
    counters: { failures: ctx.metrics.loginFailures, throttled: ctx.metrics.loginThrottled },
  };
}

/** Resolves the caller (or `null`) into `c.get("auth")`; refuses disabled accounts. */
export function authenticate(ctx: AppContext): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const auth = await identify(c, ctx);
    if (auth?.user.disabled) {
      throw new AppError("forbidden", "This account is disabled. Contact support to restore it.");
    }
    c.set("auth", auth);
    await next();
  };
}

/** The caller, or a 401 asking them to sign in. */
export function requireAuth(c: Context<AuthEnv>): Auth {
  const auth = c.get("auth");
  if (!auth) {
    throw new AppError("unauthorized", "Sign in to continue.");
  }
  return auth;
}

/**
 * An admin, or an admin's API key holding `scope`: 403 otherwise. A key counts only while its
 * owner is still an admin; a browser session only if it was issued at an admin's sign-in.
 */
export function requireAdminOrScope(c: Context<AuthEnv>, scope: ApiKeyScope): Auth {
  const auth = requireAuth(c);
  if (auth.via === "api_key" && !auth.scopes?.includes(scope)) {
    throw new AppError("forbidden", `This API key does not have the ${scope} scope.`, {
      scope,
    });
  }
  if (auth.user.role !== "admin" || (auth.via === "session" && !auth.adminSession)) {
    throw new AppError("forbidden", "Only admins may do this.");
  }
  return auth;
}

const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * The second line beside the CSRF token: a state-changing request that carries cookies (and no
 * `Authorization`) must come from PUBLIC_URL's origin or one of CORS_ORIGINS, as its `Origin`
 * header says, or its `Referer` when a browser sent no `Origin`. Outside production the
 * request's own origin also counts, so `localhost` and `127.0.0.1` both work in development. A
 * request with neither header (a server, a script) is left to the CSRF token; bearer calls
 * carry no ambient credential and are not checked.
 *
 * Not `hono/csrf`: it refuses every form post without an `Origin` (Paynow's result POST is one),
 * reads no `Referer`, and answers in plain text rather than our error envelope.
 */
export function originCheck(ctx: AppContext): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (
      SAFE_METHODS.includes(c.req.method) || c.req.header("authorization") ||
      !c.req.header("cookie")
    ) {
      return await next();
    }
    const origin = c.req.header("origin");
    const referer = c.req.header("referer");
    if (origin === undefined && referer === undefined) return await next();
    const from = origin !== undefined ? originOf(origin) : originOf(referer!);
    const own = originOf(ctx.config.publicUrl);
    const allowed = from !== null && (
      from === own || ctx.config.corsOrigins.includes(from) ||
      (ctx.config.env !== "production" && from === originOf(c.req.url))
    );
    if (!allowed) {
      throw new AppError(
        "forbidden",
        `This request's origin is not ours: changes are accepted only from ${own}'s own pages.`,
      );
    }
    await next();
  };
}

/**
 * Browser calls to the API authenticate with the session cookie, which any site could make
 * the browser send: those that change state must carry `X-CSRF-Token`.
 */
export function apiCsrf(ctx: AppContext): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const auth = c.get("auth");
    if (auth?.via === "session" && !SAFE_METHODS.includes(c.req.method)) {
      await checkCsrf(c, ctx, c.req.header("x-csrf-token"));
    }
    await next();
  };
}

function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Per-minute limits: the caller's tier for users and keys, a fixed allowance per IP otherwise. */
export function rateLimit(
  ctx: AppContext,
  tierOf: (name: string) => Promise<{ requestsPerMinute: number; name: string }>,
): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const auth = c.get("auth");
    let bucket: string[];
    let limit: number;
    let who: string;
    if (auth) {
      const tier = await tierOf(auth.user.tier);
      limit = tier.requestsPerMinute;
      bucket = auth.apiKeyId ? ["key", auth.apiKeyId] : ["user", auth.user.id];
      who = `your ${tier.name} plan allows ${limit} a minute`;
    } else {
      limit = ANONYMOUS_RPM;
      bucket = ["ip", clientIp(c)];
      who = `${limit} a minute are allowed before signing in`;
    }
    const decision = await ctx.rateLimiter.hit(bucket, limit);
    c.header("X-RateLimit-Limit", String(decision.limit));
    c.header("X-RateLimit-Remaining", String(decision.remaining));
    if (!decision.allowed) {
      throw new AppError(
        "rate_limited",
        `Too many requests: ${who}. Try again in ${decision.retryAfterSeconds} seconds.`,
        { retryAfterSeconds: decision.retryAfterSeconds },
      );
    }
    await next();
  };
}
