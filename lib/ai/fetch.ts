/**
 * The `fetch` the AI SDKs are given: plain `fetch`, except that a response body is read in small
 * buffers.
 *
 * A response body's default reader makes Deno allocate a 64 KiB buffer for every read it waits
 * on, and an SDK reading a streamed answer always has one read waiting. A streamed answer that is
 * idle (the model thinking, or slow between tokens) therefore held 64 KiB outside the JS heap for
 * nothing but the next few hundred bytes of SSE. Reading with a BYOB reader into
 * {@link READ_BUFFER_BYTES} buffers holds that much instead; throughput is unaffected for answers,
 * whose events are far smaller (a streamed delta is a few hundred bytes, so one read still
 * carries several). bench/chat.ts per idle stream: 131–151 KB without it, 86–109 KB with 8 KiB
 * reads, median 93–95 KB (range 50–103) with 2 KiB reads.
 *
 * Not visible under `--inspect`: with the inspector on, Deno's `fetch` tees every response body
 * and drains one branch with a default reader (for DevTools' Network panel), so a 64 KiB read
 * waits on the source whatever the SDK's reader does. The bench measures without the inspector.
 */

/** Bytes per read of an upstream response body. */
export const READ_BUFFER_BYTES = 2 * 1024;

/** Statuses whose responses may not have a body (the `Response` constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** `body` re-streamed through reads of at most `size` bytes (a non-byte stream: unchanged). */
export function smallReads(
  body: ReadableStream<Uint8Array>,
  size = READ_BUFFER_BYTES,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    return body;
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // An empty read is read again: a pull that enqueues nothing is not called again.
      for (;;) {
        const { value, done } = await reader.read(new Uint8Array(size));
        if (done) return controller.close();
        if (value.byteLength > 0) return controller.enqueue(value);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** `fetch` whose response bodies are read through {@link smallReads}. */
export const smallReadFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (!res.body || NULL_BODY.has(res.status)) return res;
  const wrapped = new Response(smallReads(res.body), {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  // What the SDKs may read besides status and headers.
  Object.defineProperty(wrapped, "url", { value: res.url });
  Object.defineProperty(wrapped, "redirected", { value: res.redirected });
  return wrapped;
};
