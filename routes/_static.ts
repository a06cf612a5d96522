/**
 * `/static/*` from memory: each file is read from disk on its first request and then answered
 * from memory with its ETag and Last-Modified, so a browser's revalidation (`If-None-Match`,
 * `If-Modified-Since`) costs a 304 and no disk access. Text files worth compressing also get a
 * brotli and a gzip copy, made once and kept only when smaller, chosen by `Accept-Encoding`.
 *
 * Files are never re-read: static/ changes only with a deploy or a restart (`deno task dev`
 * restarts on changes under static/). Paths that are not files are not remembered, so
 * scanners' guesses cost a stat each but no memory.
 */
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { brotliCompress, constants as zlib, gzip } from "node:zlib";
import type { MiddlewareHandler } from "hono";
import { parseAccept } from "hono/utils/accept";
import { COMPRESSIBLE_CONTENT_TYPE_REGEX } from "hono/utils/compress";
import { getMimeType } from "hono/utils/mime";

/** Encodings offered, most preferred first. */
const ENCODINGS = ["br", "gzip"] as const;
type Encoding = typeof ENCODINGS[number];

/** Below this a compressed copy saves less than a packet. */
const COMPRESS_FROM_BYTES = 1024;

interface Variant {
  body: Uint8Array;
  etag: string;
}

export interface StaticFile {
  contentType: string;
  lastModified: string;
  /** Unix seconds of `lastModified`, for `If-Modified-Since` (which has 1 s resolution). */
  modifiedSeconds: number;
  cacheControl: string;
  identity: Variant;
  /** Only the encodings that came out smaller than the file itself. */
  encoded: Partial<Record<Encoding, Variant>>;
}

export interface StaticOptions {
  /** The directory the URL path is resolved under (the repository root: `/static/…`). */
  root: string;
  /** `Cache-Control` of a file, from its URL path. */
  cacheControl: (path: string) => string;
}

/** `..`, `.`, doubled or back slashes: never a file under the root. */
const UNSAFE_PATH = /(?:^|[/\\])\.{1,2}(?:$|[/\\])|[/\\]{2,}|\\|%|\0/;

function tag(bytes: Uint8Array, suffix = ""): string {
  const hash = createHash("sha256").update(bytes).digest("base64url").slice(0, 22);
  return `"${hash}${suffix}"`;
}

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/**
 * Off the event loop where the runtime allows (brotli runs on a worker thread in Deno); middle
 * settings: the largest bundle (~450 KB) compresses in tens of milliseconds, once.
 */
function compress(encoding: Encoding, bytes: Uint8Array): Promise<Uint8Array> {
  return encoding === "br"
    ? brotli(bytes, {
      params: {
        [zlib.BROTLI_PARAM_QUALITY]: 5,
        [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    })
    : gzipped(bytes, { level: 6 });
}

/** Reads a file under `root` (or null when the path is not a regular file there). */
export async function loadStaticFile(
  fullPath: string,
  urlPath: string,
  cacheControl: string,
): Promise<StaticFile | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(fullPath);
  } catch {
    return null;
  }
  if (!info.isFile) return null;
  const body = await Deno.readFile(fullPath);
  const contentType = getMimeType(urlPath) ?? "application/octet-stream";
  const identity = { body, etag: tag(body) };
  const encoded: StaticFile["encoded"] = {};
  if (body.length >= COMPRESS_FROM_BYTES && COMPRESSIBLE_CONTENT_TYPE_REGEX.test(contentType)) {
    for (const encoding of ENCODINGS) {
      const smaller = await compress(encoding, body);
      // A copy that saves under a tenth is not worth a second representation.
      if (smaller.length < body.length * 0.9) {
        encoded[encoding] = { body: smaller, etag: identity.etag.slice(0, -1) + `-${encoding}"` };
      }
    }
  }
  const modified = info.mtime ?? new Date(0);
  return {
    contentType,
    lastModified: modified.toUTCString(),
    modifiedSeconds: Math.floor(modified.getTime() / 1000),
    cacheControl,
    identity,
    encoded,
  };
}

/** The encoding to answer with: the first of ours the client accepts (q > 0). */
function chooseEncoding(file: StaticFile, acceptEncoding: string | undefined): Encoding | null {
  if (!acceptEncoding || (!file.encoded.br && !file.encoded.gzip)) return null;
  const accepted = new Set(
    parseAccept(acceptEncoding).filter((a) => a.q > 0).map((a) => a.type.toLowerCase()),
  );
  return ENCODINGS.find((e) => file.encoded[e] && accepted.has(e)) ?? null;
}

/** RFC 9110 §13.1.2: weak comparison, a list, or `*`. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

function notModified(
  headers: { ifNoneMatch?: string; ifModifiedSince?: string },
  file: StaticFile,
  etag: string,
): boolean {
  if (headers.ifNoneMatch !== undefined) return noneMatch(headers.ifNoneMatch, etag);
  if (headers.ifModifiedSince === undefined) return false;
  const since = Date.parse(headers.ifModifiedSince);
  return Number.isFinite(since) && file.modifiedSeconds <= Math.floor(since / 1000);
}

/** The middleware for `app.use("/static/*", …)`: GET and HEAD of files; anything else passes. */
export function serveStaticFromMemory(options: StaticOptions): MiddlewareHandler {
  const files = new Map<string, Promise<StaticFile | null>>();
  const root = options.root.replace(/\/$/, "");

  const lookup = (path: string): Promise<StaticFile | null> => {
    let file = files.get(path);
    if (!file) {
      // Concurrent first requests share one read; a miss is forgotten once it settles.
      file = loadStaticFile(root + path, path, options.cacheControl(path));
      files.set(path, file);
      file.then((found) => found ?? files.delete(path), () => files.delete(path));
    }
    return file;
  };

  return async (c, next) => {
    const method = c.req.method;
    if ((method !== "GET" && method !== "HEAD") || UNSAFE_PATH.test(c.req.path)) return next();
    const file = await lookup(c.req.path);
    if (!file) return next();
    const encoding = chooseEncoding(file, c.req.header("accept-encoding"));
    const variant = encoding ? file.encoded[encoding]! : file.identity;
    const headers: Record<string, string> = {
      "Cache-Control": file.cacheControl,
      "ETag": variant.etag,
      "Last-Modified": file.lastModified,
    };
    if (file.encoded.br || file.encoded.gzip) headers["Vary"] = "Accept-Encoding";
    const conditional = {
      ifNoneMatch: c.req.header("if-none-match"),
      ifModifiedSince: c.req.header("if-modified-since"),
    };
    if (notModified(conditional, file, variant.etag)) return c.body(null, 304, headers);
    headers["Content-Type"] = file.contentType;
    if (encoding) headers["Content-Encoding"] = encoding;
    return c.body(variant.body as Uint8Array<ArrayBuffer>, 200, headers);
  };
}
