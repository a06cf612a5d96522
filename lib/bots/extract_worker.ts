/**
 * The worker behind `extractInWorker` (extract.ts): one document in, its text (or the reason
 * it has none) out. Anything else it throws becomes a generic reason, never a stack trace.
 */
import { extractDocument, ExtractionError } from "./extract.ts";
import type { MediaType } from "./detect.ts";

declare const self: {
  onmessage: ((event: MessageEvent<{ bytes: Uint8Array; mediaType: MediaType }>) => void) | null;
  postMessage(message: unknown): void;
};

self.onmessage = async (event) => {
  try {
    const doc = await extractDocument(event.data.bytes, event.data.mediaType);
    self.postMessage({ ok: true, title: doc.title, text: doc.text });
  } catch (error) {
    self.postMessage({
      ok: false,
      reason: error instanceof ExtractionError ? error.message : "the file could not be read",
    });
  }
};
