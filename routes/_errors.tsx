/**
 * How an {@link AppError} is answered over HTTP, in one place: its code gives the status, its
 * details give the headers (`retryAfterSeconds` → `Retry-After`; a 401 names the scheme in
 * `WWW-Authenticate`), and the body is the JSON envelope `{"error":{"code","message","details"?}}`
 * under `/api` or an HTML page elsewhere, so a browser and a script see the same answer.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { renderToString } from "preact-render-to-string";
import { AppError, type ErrorCode } from "../lib/errors.ts";
import { islandManifest } from "../lib/islands/manifest.ts";
import { Layout } from "./_layout.tsx";

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  insufficient_balance: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  // Well-formed, but the settings it carries cannot be used (each field named in `details`).
  unprocessable: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  upstream_unavailable: 502,
  unavailable: 503,
};

export const errorStatus = (error: ErrorLike): ContentfulStatusCode => STATUS[error.code];

/** An error the caller can do something about (a 4xx), shown to them as it is. */
export const isRefusal = (error: unknown): error is AppError =>
  error instanceof AppError && errorStatus(error) < 500;

/**
 * The code for an HTTP status raised outside our code (Hono's `HTTPException`, e.g. a validator's
 * 415): the first code with that status, `bad_request` for a status we do not name.
 */
export function codeForStatus(status: number): ErrorCode {
  const found = (Object.keys(STATUS) as ErrorCode[]).find((code) => STATUS[code] === status);
  return found && status < 500 ? found : "bad_request";
}

/** The headers an error's answer carries. */
export function errorHeaders(error: ErrorLike): Record<string, string> {
  const headers: Record<string, string> = {};
  const wait = error.details?.retryAfterSeconds;
  if (typeof wait === "number" && wait > 0) headers["Retry-After"] = String(Math.ceil(wait));
  if (error.code === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="hurukuro"';
  return headers;
}

/** Sets the error's headers on `c` and gives its status: for a page that shows the refusal. */
export function refusalStatus(c: Context, error: ErrorLike): ContentfulStatusCode {
  for (const [k, v] of Object.entries(errorHeaders(error))) c.header(k, v);
  return errorStatus(error);
}

export function errorEnvelope(
  error: ErrorLike,
): { error: { code: ErrorCode; message: string; details?: unknown } } {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}

const PAGE_HEADINGS: Record<number, string> = {
  404: "Page not found",
  429: "Too many requests",
};

/** What an error answer needs: an {@link AppError}, or the same fields without its stack. */
export type ErrorLike = Pick<AppError, "code" | "message" | "details">;

/** Stands for the message while a page is rendered (a NUL in a message is replaced). */
const MESSAGE_SLOT = "\u0000";

/**
 * Error pages differ only by their heading and message, so each heading's page is rendered once
 * (per island build) and the escaped message put in its place: a scanner's stream of 404s costs
 * a string join, not a render. Keyed by strings only, from the fixed headings above.
 */
const pageHalves = new Map<string, [string, string]>();

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
};
const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (ch) => HTML_ESCAPES[ch]);

function errorPage(title: string, heading: string, message: string): string {
  const key = `${islandManifest().entry}\n${title}\n${heading}`;
  let halves = pageHalves.get(key);
  if (!halves) {
    const html = "<!doctype html>" +
      renderToString(
        <Layout title={title}>
          <div class="error-page">
            <h1>{heading}</h1>
            <p>{MESSAGE_SLOT}</p>
            <p>
              <a href="/">Back to the home page</a>
            </p>
          </div>
        </Layout>,
      );
    const at = html.indexOf(MESSAGE_SLOT);
    halves = [html.slice(0, at), html.slice(at + MESSAGE_SLOT.length)];
    pageHalves.set(key, halves);
  }
  return halves[0] + escapeHtml(message.replaceAll("\u0000", "\uFFFD")) + halves[1];
}

/** The envelope for `/api`, a page elsewhere; either way with the error's status and headers. */
export function errorResponse(c: Context, error: ErrorLike): Response {
  const status = refusalStatus(c, error);
  if (c.req.path.startsWith("/api/")) return c.json(errorEnvelope(error), status);
  const heading = PAGE_HEADINGS[status] ??
    (status >= 500 ? "Something went wrong" : "That did not work");
  return c.html(errorPage(status === 404 ? "Not found" : heading, heading, error.message), status);
}
