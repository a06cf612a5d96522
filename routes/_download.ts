/**
 * A stored file (a grievance's attachment) sent back: always as a download that the browser
 * does not render or sniff, since its content came from the public, and never kept by a
 * shared cache, since it is personal.
 */
import type { Context } from "hono";

export function downloadResponse(
  c: Context,
  file: { bytes: Uint8Array; mimeType: string },
): Response {
  return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
    "Content-Type": file.mimeType,
    "Content-Disposition": "attachment",
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
  });
}
