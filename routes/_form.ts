/**
 * Reading an HTML form's fields, for the account pages and the admin dashboard alike: the body
 * must be a form (`application/x-www-form-urlencoded` or `multipart/form-data`; anything else,
 * or a body with no content type, is a 415), and every field follows the text rule
 * (lib/text.ts) before any of it is used. Files are ignored by `readForm`; the forms that take
 * them (a grievance's attachments) read them with `readUpload`, which applies the same rules to
 * the fields and bounds the files' count and size.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { AppError } from "../lib/errors.ts";
import { UNSTORABLE_TEXT, unstorableField } from "../lib/text.ts";

const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

/** The form's string fields; throws a 415 or a 400 naming the field that breaks the text rule. */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const type = c.req.header("content-type");
  if (!type || !FORM_TYPE.test(type)) {
    // A POST with no body at all (a bare button, a probe) reads as an empty form.
    if (!type && (await c.req.arrayBuffer()).byteLength === 0) return {};
    throw new AppError(
      "unsupported_media_type",
      "Send this form as application/x-www-form-urlencoded or multipart/form-data " +
        `(Content-Type was ${type ? `"${type.slice(0, 100)}"` : "missing"}).`,
    );
  }
  let body: Awaited<ReturnType<typeof c.req.parseBody>>;
  try {
    body = await c.req.parseBody();
  } catch {
    // A multipart body without its boundary, or cut short.
    throw new AppError("bad_request", "The form could not be read. Reload the page and try again.");
  }
  const fields = Object.entries(body).filter((e): e is [string, string] =>
    typeof e[1] === "string"
  );
  const bad = unstorableField(fields);
  if (bad) throw new AppError("validation_failed", `${bad}: ${UNSTORABLE_TEXT}.`, { field: bad });
  return Object.fromEntries(fields);
}

/** The first problem of a form's schema, as the sentence shown above the form. */
export function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue.message.charAt(0).toUpperCase() + issue.message.slice(1) + ".";
}

/** A file of a multipart form, read into memory. */
export interface UploadedFile {
  field: string;
  filename: string;
  bytes: Uint8Array;
}

/**
 * The requests that may carry files (bots' training files, grievance attachments) get this body
 * limit instead of the app's general one (routes/_app.tsx); each route then bounds its own files.
 */
export const UPLOAD_BODY_LIMIT = 64 * 1024 * 1024;
const UPLOAD_PATHS = [
  /^\/(api\/v1\/)?bots\/[^/]+\/sources\/file$/,
  /^\/report$/,
  /^\/api\/v1\/grievances$/,
];

export const isUpload = (method: string, path: string) =>
  method === "POST" && UPLOAD_PATHS.some((pattern) => pattern.test(path));

/**
 * A multipart form with files: the string fields (text rule checked, repeated names keep the
 * first value) and the files (at most `maxFiles`, each at most `maxFileBytes`, else a 413 naming
 * the limit). An url-encoded form reads as fields without files.
 */
export async function readUpload(
  c: Context,
  limits: { maxFiles: number; maxFileBytes: number },
): Promise<{ fields: Record<string, string>; files: UploadedFile[] }> {
  const type = c.req.header("content-type");
  if (!type || !FORM_TYPE.test(type)) {
    throw new AppError(
      "unsupported_media_type",
      "Send this form as multipart/form-data (or application/x-www-form-urlencoded without " +
        `files); Content-Type was ${type ? `"${type.slice(0, 100)}"` : "missing"}.`,
    );
  }
  let form: FormData;
  try {
    form = await c.req.formData();
  } catch {
    throw new AppError("bad_request", "The form could not be read. Reload the page and try again.");
  }
  const fields: [string, string][] = [];
  const files: UploadedFile[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") {
      fields.push([name, value]);
      continue;
    }
    // A file input left empty still sends a part: no name, no bytes.
    if (value.size === 0 && !value.name) continue;
    if (files.length >= limits.maxFiles) {
      throw new AppError(
        "validation_failed",
        `attachments: at most ${limits.maxFiles} files per report.`,
        { field: "attachments" },
      );
    }
    if (value.size > limits.maxFileBytes) {
      throw new AppError(
        "payload_too_large",
        `"${value.name.slice(0, 60)}" is ${Math.round(value.size / 1024 / 1024)} MB: no file ` +
          `may be over ${Math.round(limits.maxFileBytes / 1024 / 1024)} MB.`,
        { field: "attachments" },
      );
    }
    files.push({
      field: name,
      filename: value.name.slice(0, 255),
      bytes: new Uint8Array(await value.arrayBuffer()),
    });
  }
  const bad = unstorableField([
    ...fields,
    ...files.map((f) => [f.field, f.filename] as [string, string]),
  ]);
  if (bad) throw new AppError("validation_failed", `${bad}: ${UNSTORABLE_TEXT}.`, { field: bad });
  const first: Record<string, string> = {};
  for (const [k, v] of fields) if (!(k in first)) first[k] = v;
  return { fields: first, files };
}
