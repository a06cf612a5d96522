/**
 * The request body size limit, as middleware.
 *
 * Hono's own `bodyLimit` re-creates the request from `c.req.raw` after reading a body sent
 * without a length, and that fails for the request objects of our listener (`@hono/node-server`
 * hands Hono a lighter object that Deno's `Request` constructor does not accept; lib/http/serve.ts).
 * This one behaves the same — a declared length is checked before anything is read, a body sent
 * in chunks is counted as it is read and refused at the first byte over — and re-creates the
 * request from its URL instead. A request that declares neither a length nor chunks has no body
 * (RFC 9112 §6.3) and is passed on untouched.
 */
import type { Context, MiddlewareHandler } from "hono";

export function bodyLimit(
  maxBytes: number,
  onTooLarge: (c: Context) => Response | Promise<Response>,
): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw;
    const length = raw.headers.get("content-length");
    const chunked = raw.headers.has("transfer-encoding");
    if (!chunked) {
      if (length === null) return await next();
      return Number(length) > maxBytes ? await onTooLarge(c) : await next();
    }
    if (!raw.body) return await next();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = raw.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return await onTooLarge(c);
      }
      chunks.push(value);
    }
    const body = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) (body.set(chunk, offset), offset += chunk.byteLength);
    c.req.raw = new Request(raw.url, {
      method: raw.method,
      headers: raw.headers,
      body,
      signal: raw.signal,
    });
    return await next();
  };
}
