/**
 * `GET /embed.js?bot=<public key>`: the chat bubble a bot's owner puts on their website
 * (static/embed.js, plain JavaScript). Public and cacheable; loaded by other sites' pages, so
 * its response allows cross-origin loading (`Cross-Origin-Resource-Policy: cross-origin`) and
 * nothing else: the script reads its bot from its own URL, and every request it makes is
 * checked against that bot's allowed origins (routes/api/v1/bots_embed.ts).
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";

export const EMBED_SCRIPT_PATH = "/embed.js";
const FILE = new URL("../static/embed.js", import.meta.url);

/** The embed script's own security headers (the site's strict ones, but loadable elsewhere). */
export const embedScriptHeaders = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  crossOriginResourcePolicy: "cross-origin",
  crossOriginOpenerPolicy: false,
  referrerPolicy: "strict-origin-when-cross-origin",
});

export function embedRoutes(): Hono {
  let script: string | undefined;
  return new Hono().get(EMBED_SCRIPT_PATH, async (c) => {
    script ??= await Deno.readTextFile(FILE);
    return c.body(script, 200, {
      "Content-Type": "text/javascript; charset=utf-8",
      "Cache-Control": "public, max-age=300",
    });
  });
}
