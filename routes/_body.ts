/**
 * A webhook's raw body read with a byte limit: what a signature is checked over, and what a
 * sender cannot inflate past the limit (whatever its Content-Length claims).
 */

/**
 * The body's bytes, or null when it is over `limit`: at once when Content-Length says so, else
 * as soon as the bytes read pass it (the rest is not read).
 */
export async function readBodyWithin(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) return null;
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
