/**
 * A document's text, whatever it came as: plain text and Markdown as they are, HTML through
 * html.ts, PDF through npm `unpdf` (pdf.js), Word through npm `mammoth` (to HTML, so headings
 * survive). Then cleaned: characters the database cannot store or a reader cannot see go, line
 * ends and blank runs are evened out.
 *
 * Hostile bytes must never take the service down: {@link extractInWorker} runs the extraction
 * in a worker with a time limit, so a file that loops or exhausts the parser fails its source
 * with a reason, and the server's requests never wait on a 10 MB PDF being parsed.
 */
import { extractText, getDocumentProxy } from "unpdf";
import mammoth from "mammoth";
import mammothPromises from "mammoth/lib/promises.js";
import { decodeText, type MediaType } from "./detect.ts";
import { htmlToText } from "./html.ts";

// mammoth wraps its answers in a promise subclass built by assigning `__proto__`, which Deno
// does not allow (no `Object.prototype.__proto__`): the wrapper is left out, the promise inside
// is the same.
(mammothPromises as { toExternalPromise: (p: Promise<unknown>) => Promise<unknown> })
  .toExternalPromise = (p) => p;

/** Why a document gave no text, in words its owner can act on. */
export class ExtractionError extends Error {
  override name = "ExtractionError";
}

export const NO_TEXT_IN_PDF = "no text found — upload a text PDF or paste the text";

export interface ExtractedDocument {
  title: string | null;
  text: string;
}

/** The most text kept from one document (about 5 million tokens). */
export const MAX_TEXT_CHARS = 20_000_000;

// deno-lint-ignore no-control-regex
const UNSEEN = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u200b\ufeff]/g;

/** Text as stored: no NUL or control characters, no lone surrogates, even line ends. */
export function cleanText(text: string): string {
  return text.toWellFormed()
    .replace(/\r\n?/g, "\n")
    .replace(/\f/g, "\n\n")
    .replace(UNSEEN, "")
    .replace(/[ \t\u00a0]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .slice(0, MAX_TEXT_CHARS)
    .trim();
}

async function pdfText(bytes: Uint8Array): Promise<ExtractedDocument> {
  let pages: string[];
  let title: string | null = null;
  try {
    // pdf.js takes the buffer over: a copy keeps the caller's bytes intact.
    const doc = await getDocumentProxy(bytes.slice(), { verbosity: 0 });
    try {
      const info = (await doc.getMetadata().catch(() => null))?.info as
        | { Title?: unknown }
        | undefined;
      if (typeof info?.Title === "string" && info.Title.trim()) title = info.Title.trim();
      pages = (await extractText(doc, { mergePages: false })).text;
    } finally {
      await doc.cleanup().catch(() => {});
    }
  } catch (error) {
    const name = (error as Error)?.name ?? "";
    if (name === "PasswordException") {
      throw new ExtractionError("the PDF is protected by a password; upload it without one");
    }
    throw new ExtractionError("the PDF could not be read (it may be damaged)");
  }
  const text = pages.map((p) => p.trim()).filter(Boolean).join("\n\n");
  if (!cleanText(text)) throw new ExtractionError(NO_TEXT_IN_PDF);
  return { title, text };
}

async function docxText(bytes: Uint8Array): Promise<ExtractedDocument> {
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bytes } as never)).value;
  } catch {
    throw new ExtractionError("the Word document could not be read (it may be damaged)");
  }
  return htmlToText(html, MAX_TEXT_CHARS);
}

/** The text of a document of a detected type (detect.ts). Throws {@link ExtractionError}. */
export async function extractDocument(
  bytes: Uint8Array,
  mediaType: MediaType,
): Promise<ExtractedDocument> {
  let doc: ExtractedDocument;
  switch (mediaType) {
    case "application/pdf":
      doc = await pdfText(bytes);
      break;
    case "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
      doc = await docxText(bytes);
      break;
    default: {
      const text = decodeText(bytes);
      if (text === null) throw new ExtractionError("the file is not UTF-8 text");
      doc = mediaType === "text/html"
        ? htmlToText(text, MAX_TEXT_CHARS)
        : { title: null, text: text.slice(0, MAX_TEXT_CHARS) };
    }
  }
  const text = cleanText(doc.text);
  if (!text) {
    throw new ExtractionError(
      mediaType === "application/pdf" ? NO_TEXT_IN_PDF : "no text found in the file",
    );
  }
  return { title: doc.title ? cleanText(doc.title).slice(0, 200) || null : null, text };
}

export interface WorkerOptions {
  /** The longest an extraction may take. */
  timeoutMs?: number;
}

export const EXTRACTION_TIMEOUT_MS = 120_000;

type WorkerAnswer =
  | { ok: true; title: string | null; text: string }
  | { ok: false; reason: string };

/**
 * {@link extractDocument} in a worker, ended after `timeoutMs`: its failures, its time limit and
 * a crash of the worker itself all come back as {@link ExtractionError}.
 */
export function extractInWorker(
  bytes: Uint8Array,
  mediaType: MediaType,
  options: WorkerOptions = {},
): Promise<ExtractedDocument> {
  const timeoutMs = options.timeoutMs ?? EXTRACTION_TIMEOUT_MS;
  const worker = new Worker(new URL("./extract_worker.ts", import.meta.url).href, {
    type: "module",
  });
  return new Promise<ExtractedDocument>((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      reject(
        new ExtractionError(
          `reading the file took longer than ${Math.round(timeoutMs / 1000)} s; ` +
            "split it into smaller files or paste the text",
        ),
      );
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      worker.terminate();
    };
    worker.onmessage = (event: MessageEvent<WorkerAnswer>) => {
      done();
      const answer = event.data;
      if (answer.ok) resolve({ title: answer.title, text: answer.text });
      else reject(new ExtractionError(answer.reason));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      done();
      reject(new ExtractionError("the file could not be read"));
    };
    const copy = bytes.slice();
    worker.postMessage({ bytes: copy, mediaType }, [copy.buffer]);
  });
}
