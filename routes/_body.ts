/**
 * A webhook's raw body read with a byte limit: what a signature is checked over, and what a
 * sender cannot inflate past the limit (whatever its Content-Length claims).
 */
import { readWithin } from "../lib/bytes.ts";

/**
 * The body's bytes, or null when it is over `limit`: at once when Content-Length says so, else
 * as soon as the bytes read pass it (the rest is not read).
 */
export async function readBodyWithin(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) return null;
  if (!request.body) return new Uint8Array();
  return await readWithin(request.body, limit);
}
