/**
 * What an uploaded file is, judged by its content (npm `file-type` reads the magic bytes), never
 * by its name: a `.pdf` that is an executable is an executable. Files with no magic bytes are
 * accepted as text when they are UTF-8 without control characters; the name then only tells
 * Markdown from plain text, and HTML is recognised by its markup.
 */
import { fileTypeFromBuffer } from "file-type";
import { AppError } from "../errors.ts";

/** The types a bot can learn from, and how a person knows them. */
export const MEDIA_TYPES = {
  "text/plain": "plain text (.txt)",
  "text/markdown": "Markdown (.md)",
  "text/html": "HTML (.html)",
  "application/pdf": "PDF (.pdf, with text)",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
} as const;
export type MediaType = keyof typeof MEDIA_TYPES;

export const ACCEPTED_TYPES = Object.keys(MEDIA_TYPES) as MediaType[];
export const ACCEPTED_DESCRIPTION = Object.values(MEDIA_TYPES).join(", ");

const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

function unsupported(what: string): AppError {
  return new AppError(
    "unsupported_media_type",
    `This file is ${what}, which a bot cannot learn from. Upload ${ACCEPTED_DESCRIPTION}.`,
    { accepted: ACCEPTED_TYPES },
  );
}

/** UTF-8 text (a BOM allowed), or null for bytes that are not. */
export function decodeText(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

/** Control characters other than tab, line feed, carriage return and form feed. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g;

/**
 * The media type of `bytes`; throws `unsupported_media_type` naming the accepted types when the
 * content is none of them. `name` (the uploaded file's name) is a hint for text only.
 */
export async function detectMediaType(
  bytes: Uint8Array,
  name = "",
  /** A web server's `Content-Type`: like the name, it only tells kinds of text apart. */
  declared = "",
): Promise<MediaType> {
  if (bytes.byteLength === 0) throw new AppError("validation_failed", "file: the file is empty.");
  const found = await fileTypeFromBuffer(bytes).catch(() => undefined);
  if (found) {
    if (found.mime === "application/pdf") return "application/pdf";
    if (found.ext === "docx") return DOCX;
    throw unsupported(`${found.mime} (.${found.ext})`);
  }
  const text = decodeText(bytes.subarray(0, 1 << 20));
  // A cut in the middle of a character at the 1 MiB mark is not a fault of the file.
  const sample = text ?? decodeText(bytes.subarray(0, (1 << 20) - 3));
  if (sample === null) throw unsupported("binary data (or text that is not UTF-8)");
  const controls = sample.match(CONTROL)?.length ?? 0;
  if (controls > 0 && controls > sample.length / 1000) {
    throw unsupported("binary data (it has control characters)");
  }
  const head = sample.slice(0, 2000).trimStart().toLowerCase();
  if (/^(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])/.test(head)) return "text/html";
  const claimsHtml = /\.html?$/i.test(name) || /^text\/html\b/i.test(declared);
  if (claimsHtml && /<[a-z][a-z0-9]*[\s>]/i.test(head)) return "text/html";
  if (/\.(md|markdown)$/i.test(name) || /^text\/markdown\b/i.test(declared)) {
    return "text/markdown";
  }
  return "text/plain";
}
