/**
 * The bots' document readers under hostile bytes: random bytes, PDFs and Word files with
 * bytes flipped, cut or spliced, hostile HTML and text. Whatever comes in, detection answers a
 * type or the 415 refusal, extraction gives storable text or its ExtractionError, and the
 * chunker never throws — so a hostile upload fails its source with a reason, never the job
 * (and the worker that extracts it contains a crash: checked on a few cases too).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { detectMediaType } from "../../lib/bots/detect.ts";
import { extractDocument, extractInWorker, ExtractionError } from "../../lib/bots/extract.ts";
import { chunkText } from "../../lib/bots/chunker.ts";
import { htmlToText } from "../../lib/bots/html.ts";
import { AppError } from "../../lib/errors.ts";
import { isStorableText } from "../../lib/text.ts";
import { makeDocx, makePdf } from "../fixtures/documents.ts";
import { hostileString } from "./hostile.ts";
import { announceSeed, fuzzParams } from "./settings.ts";

announceSeed("tests/fuzz/bots_documents_test.ts");

const PDF = makePdf({ pages: [["Returns within 30 days.", "Fees: none."], ["Page two."]] });
const DOCX = makeDocx([{ text: "Guide", heading: 1 }, { text: "Delivery takes two days." }]);

/** A known-good document, damaged: bytes flipped, cut short, or a slice spliced in. */
const damaged = (base: Uint8Array) =>
  fc.record({
    flips: fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
      maxLength: 20,
    }),
    cut: fc.option(fc.nat(base.length)),
    splice: fc.option(fc.tuple(fc.nat(base.length), fc.uint8Array({ maxLength: 200 }))),
  }).map(({ flips, cut, splice }) => {
    let bytes = base.slice();
    for (const [at, value] of flips) bytes[at] = value;
    if (cut !== null) bytes = bytes.slice(0, cut);
    if (splice !== null) {
      const [at, extra] = splice;
      bytes = new Uint8Array([...bytes.slice(0, at), ...extra, ...bytes.slice(at)]);
    }
    return bytes;
  });

const documents = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }),
  damaged(PDF),
  damaged(DOCX),
  hostileString.map((s) => new TextEncoder().encode(s)),
  hostileString.map((s) => new TextEncoder().encode(`<html><body><h1>${s}</h1><p>${s}`)),
);

/** Detect → extract → chunk, as ingestion does; returns how it ended. */
async function read(bytes: Uint8Array, name: string, inWorker = false) {
  let type;
  try {
    type = await detectMediaType(bytes, name);
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    assert.ok(["unsupported_media_type", "validation_failed"].includes(error.code));
    return "refused";
  }
  try {
    const doc = await (inWorker ? extractInWorker(bytes, type) : extractDocument(bytes, type));
    assert.ok(isStorableText(doc.text), "extracted text is storable");
    for (const chunk of chunkText(doc.text)) {
      assert.ok(isStorableText(chunk.content) && isStorableText(chunk.heading));
      assert.ok(chunk.content.length > 0);
    }
    return "read";
  } catch (error) {
    assert.ok(error instanceof ExtractionError, `${type}: ${error}`);
    assert.ok((error as Error).message.length > 0);
    return "failed";
  }
}

Deno.test("hostile documents are read, refused or failed with a reason — never a crash", async () => {
  await fc.assert(
    fc.asyncProperty(
      documents,
      fc.constantFrom("a.pdf", "a.docx", "a.txt", "a.html", "a"),
      async (bytes, name) => void await read(bytes, name),
    ),
    fuzzParams({ numRuns: Math.max(60, 4 * fuzzParams().numRuns!) }),
  );
});

Deno.test("the extraction worker contains whatever a document does to it", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(damaged(PDF), damaged(DOCX)),
      async (bytes) => void await read(bytes, "x", true),
    ),
    fuzzParams({ numRuns: 5 }),
  );
});

Deno.test("hostile HTML gives storable text and never throws", () => {
  fc.assert(
    fc.property(hostileString, (s) => {
      const out = htmlToText(`<title>${s}</title><script>${s}</script><h2>${s}</h2>${s}`);
      assert.equal(typeof out.text, "string");
    }),
    fuzzParams({ numRuns: Math.max(100, fuzzParams().numRuns!) }),
  );
});
