/// <reference lib="deno.worker" />
/**
 * Makes one thumbnail off the main thread (thumbnails.ts starts this worker): decoding a photo
 * in pure JavaScript takes hundreds of milliseconds, which on the main thread would stall every
 * request meanwhile. Jimp's core with only its JPEG and PNG codecs and its resize plugin: pure
 * JavaScript, no native binary.
 */
import { createJimp } from "@jimp/core";
import jpeg from "@jimp/js-jpeg";
import png from "@jimp/js-png";
import { methods as resize } from "@jimp/plugin-resize";

const Jimp = createJimp({ formats: [jpeg, png], plugins: [resize] });

self.onmessage = async (event: MessageEvent<{ bytes: Uint8Array; size: number }>) => {
  try {
    const image = await Jimp.fromBuffer(event.data.bytes.buffer as ArrayBuffer);
    image.scaleToFit({ w: event.data.size, h: event.data.size });
    const out = await image.getBuffer("image/jpeg", { quality: 75 });
    self.postMessage({ ok: true, bytes: new Uint8Array(out) });
  } catch (error) {
    self.postMessage({ ok: false, error: (error as Error)?.message ?? String(error) });
  }
};
