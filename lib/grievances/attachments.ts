/**
 * Which attachments a grievance accepts, told by their content (npm `file-type` reads the magic
 * bytes), never by their name: JPEG and PNG images up to 5 MB, PDF documents up to 10 MB, MP3,
 * WAV and Ogg (WhatsApp voice notes are Ogg Opus) audio up to 10 MB.
 *
 * A name is still read, to catch a disguise: a file called `photo.jpg` whose bytes are a PDF is
 * refused, because whoever sends it means one thing and sends another. A file without an
 * extension (WhatsApp's photos and voice notes) is judged by its content alone.
 */
import { fileTypeFromBuffer } from "file-type";
import type { AttachmentKind } from "./model.ts";

const MB = 1024 * 1024;

export interface AttachmentRule {
  kind: AttachmentKind;
  /** What `file-type` calls it. */
  detected: readonly string[];
  /** File-name extensions that mean this type. */
  extensions: readonly string[];
  mime: string;
  /** Stored with this extension. */
  ext: string;
  label: string;
  maxBytes: number;
}

export const ATTACHMENT_RULES: readonly AttachmentRule[] = [
  {
    kind: "image",
    detected: ["jpg"],
    extensions: ["jpg", "jpeg"],
    mime: "image/jpeg",
    ext: "jpg",
    label: "JPEG image",
    maxBytes: 5 * MB,
  },
  {
    kind: "image",
    detected: ["png"],
    extensions: ["png"],
    mime: "image/png",
    ext: "png",
    label: "PNG image",
    maxBytes: 5 * MB,
  },
  {
    kind: "document",
    detected: ["pdf"],
    extensions: ["pdf"],
    mime: "application/pdf",
    ext: "pdf",
    label: "PDF document",
    maxBytes: 10 * MB,
  },
  {
    kind: "audio",
    detected: ["mp3"],
    extensions: ["mp3"],
    mime: "audio/mpeg",
    ext: "mp3",
    label: "MP3 audio",
    maxBytes: 10 * MB,
  },
  {
    kind: "audio",
    detected: ["wav"],
    extensions: ["wav"],
    mime: "audio/wav",
    ext: "wav",
    label: "WAV audio",
    maxBytes: 10 * MB,
  },
  {
    kind: "audio",
    detected: ["ogg", "oga", "opus"],
    extensions: ["ogg", "oga", "opus"],
    mime: "audio/ogg",
    ext: "ogg",
    label: "Ogg audio (voice note)",
    maxBytes: 10 * MB,
  },
];

/** The largest attachment of any type: what a request may carry per file. */
export const MAX_ATTACHMENT_BYTES = Math.max(...ATTACHMENT_RULES.map((r) => r.maxBytes));
/** Attachments per grievance. */
export const MAX_ATTACHMENTS = 5;

/** "JPEG or PNG images up to 5 MB, PDF documents up to 10 MB, …": said whenever one is refused. */
export const ACCEPTED_TYPES = "JPEG or PNG images up to 5 MB, PDF documents up to 10 MB, " +
  "and MP3, WAV or Ogg audio (voice notes) up to 10 MB";

const MB_TEXT = (bytes: number) => `${Math.round(bytes / MB)} MB`;

export type AttachmentCheck =
  | { ok: true; rule: AttachmentRule }
  | { ok: false; reason: "empty" | "type" | "disguised" | "size"; message: string };

/** How a name is shown back in a message: short, and without anything that could mislead. */
function shown(name: string | undefined): string {
  // Control characters (C0, DEL, C1) would garble the sentence or the terminal reading it.
  const clean = Array.from(name ?? "").filter((ch) => {
    const code = ch.codePointAt(0)!;
    return code >= 0x20 && (code < 0x7f || code > 0x9f);
  }).join("").trim();
  if (!clean) return "The file";
  return `"${clean.length > 60 ? clean.slice(0, 57) + "…" : clean}"`;
}

function extensionOf(name: string | undefined): string | null {
  const m = (name ?? "").toLowerCase().match(/\.([a-z0-9]{1,8})$/);
  return m ? m[1] : null;
}

/**
 * Checks one attachment by its bytes (and its name, for disguises). The message is a sentence
 * to show the person who sent it, naming what is accepted or the limit that was passed.
 */
export async function checkAttachment(
  bytes: Uint8Array,
  name?: string,
): Promise<AttachmentCheck> {
  if (bytes.byteLength === 0) {
    return { ok: false, reason: "empty", message: `${shown(name)} is empty.` };
  }
  const detected = await fileTypeFromBuffer(bytes).catch(() => undefined);
  const rule = ATTACHMENT_RULES.find((r) => detected && r.detected.includes(detected.ext));
  if (!rule) {
    const what = detected ? ` (its content is ${detected.mime})` : "";
    return {
      ok: false,
      reason: "type",
      message: `${shown(name)} is not a type we accept${what}. We accept ${ACCEPTED_TYPES}.`,
    };
  }
  const ext = extensionOf(name);
  const claimed = ext ? ATTACHMENT_RULES.find((r) => r.extensions.includes(ext)) : undefined;
  if (ext && claimed !== rule) {
    return {
      ok: false,
      reason: "disguised",
      message:
        `${shown(name)} is named like ${
          claimed ? `a ${claimed.label}` : `a .${ext} file`
        } but its content is a ${rule.label}. Send it under its real type. We accept ` +
        `${ACCEPTED_TYPES}.`,
    };
  }
  if (bytes.byteLength > rule.maxBytes) {
    return {
      ok: false,
      reason: "size",
      message: `${shown(name)} is ${MB_TEXT(bytes.byteLength)}: a ${rule.label} may be at most ` +
        `${MB_TEXT(rule.maxBytes)}.`,
    };
  }
  return { ok: true, rule };
}

/** The limit for a type named by its MIME type (WhatsApp tells it before the download). */
export function limitFor(mime: string): AttachmentRule | undefined {
  const base = mime.split(";")[0].trim().toLowerCase();
  return ATTACHMENT_RULES.find((r) =>
    r.mime === base || (base === "audio/opus" && r.ext === "ogg") ||
    (base === "audio/mp3" && r.ext === "mp3") || (base === "audio/x-wav" && r.ext === "wav")
  );
}

export { MB_TEXT as formatMegabytes };
