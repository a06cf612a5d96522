/**
 * Attachments users send (images, documents, audio), downloaded soon after they arrive (Meta's
 * media URLs live ~5 minutes) and kept under `UPLOADS_DIR/whatsapp-media/<day>/` (shared by the
 * instances: the flow that uses them may go on on another) for the features that use them (the
 * grievance flow). Only known types, each with a size cap, are kept; the bytes are written
 * before the row that points at them.
 */
import { join } from "node:path";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../observability/log.ts";
import { type MediaRef, WhatsAppError, type WhatsAppProvider } from "./types.ts";

const MB = 1024 * 1024;

/** Accepted types: extension and largest size. */
export const MEDIA_TYPES = new Map<string, { ext: string; maxBytes: number }>(Object.entries({
  "image/jpeg": { ext: "jpg", maxBytes: 5 * MB },
  "image/png": { ext: "png", maxBytes: 5 * MB },
  "image/webp": { ext: "webp", maxBytes: 5 * MB },
  "application/pdf": { ext: "pdf", maxBytes: 16 * MB },
  "application/msword": { ext: "doc", maxBytes: 16 * MB },
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {
    ext: "docx",
    maxBytes: 16 * MB,
  },
  "text/plain": { ext: "txt", maxBytes: 1 * MB },
  "audio/ogg": { ext: "ogg", maxBytes: 16 * MB },
  "audio/mpeg": { ext: "mp3", maxBytes: 16 * MB },
  "audio/mp4": { ext: "m4a", maxBytes: 16 * MB },
  "audio/aac": { ext: "aac", maxBytes: 16 * MB },
  "audio/amr": { ext: "amr", maxBytes: 16 * MB },
}));

const baseType = (mime: string | undefined) => (mime ?? "").split(";")[0].trim().toLowerCase();

export interface MediaDeps {
  db: Database;
  log: Logger;
  provider: WhatsAppProvider;
  /** `UPLOADS_DIR/whatsapp-media` (shared by the instances) */
  mediaDir: string;
}

/** Whether an attachment was kept, and if not why (a type we do not keep, too large, not fetched). */
export type MediaOutcome =
  | { stored: true }
  | { stored: false; reason: "type" | "size" | "failed"; mimeType?: string };

/** Downloads and keeps one attachment; says why (and logs it) when it is not kept. */
export async function storeMedia(
  deps: MediaDeps,
  inboundId: string,
  phone: string,
  ref: MediaRef,
): Promise<MediaOutcome> {
  const [done] = await deps.db
    .sql`select 1 as x from whatsapp_media where inbound_id = ${inboundId}`;
  if (done) return { stored: true };
  const declared = baseType(ref.mimeType);
  if (declared && !MEDIA_TYPES.get(declared)) {
    deps.log.info("WhatsApp media of a type we do not keep", { inboundId, mimeType: declared });
    return { stored: false, reason: "type", mimeType: declared };
  }
  try {
    const cap = MEDIA_TYPES.get(declared)?.maxBytes ?? 16 * MB;
    const media = await deps.provider.downloadMedia(ref, { maxBytes: cap });
    const type = MEDIA_TYPES.get(baseType(media.mimeType)) ?? MEDIA_TYPES.get(declared);
    if (!type || media.bytes.byteLength > type.maxBytes) {
      deps.log.info("WhatsApp media refused after download", {
        inboundId,
        mimeType: media.mimeType,
        bytes: media.bytes.byteLength,
      });
      return {
        stored: false,
        reason: type ? "size" : "type",
        mimeType: baseType(media.mimeType) || declared,
      };
    }
    const day = new Date().toISOString().slice(0, 10);
    const dir = join(deps.mediaDir, day);
    await Deno.mkdir(dir, { recursive: true });
    const path = join(dir, `${inboundId}.${type.ext}`);
    await Deno.writeFile(path, media.bytes, { mode: 0o600 });
    await deps.db.sql`insert into whatsapp_media (inbound_id, phone, mime_type, size_bytes, path)
                      values (${inboundId}, ${phone}, ${baseType(media.mimeType) || declared},
                              ${media.bytes.byteLength}, ${path})
                      on conflict (inbound_id) do nothing`;
    return { stored: true };
  } catch (error) {
    if (!(error instanceof WhatsAppError)) throw error;
    deps.log.warn("WhatsApp media not downloaded", {
      inboundId,
      kind: error.kind,
      error: error.message,
    });
    return {
      stored: false,
      reason: error.kind === "media_too_large" ? "size" : "failed",
      mimeType: declared || undefined,
    };
  }
}
