/**
 * The `fetch` the AI SDKs are given: plain `fetch`, except that requests are spread over several
 * HTTP clients ({@link ClientPool}) and a response body is read in small buffers.
 *
 * A response body's default reader makes Deno allocate a 64 KiB buffer for every read it waits
 * on, and an SDK reading a streamed answer always has one read waiting. A streamed answer that is
 * idle (the model thinking, or slow between tokens) therefore held 64 KiB outside the JS heap for
 * nothing but the next few hundred bytes of SSE. Reading with a BYOB reader into
 * {@link READ_BUFFER_BYTES} buffers holds that much instead; throughput is unaffected for answers,
 * whose events are far smaller (a streamed delta is a few hundred bytes, so one read still
 * carries several).
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
  /** Called once when the body ends: read to its end, failed, or cancelled. */
  onEnd: () => void = () => {},
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: passed on as it is, its end still reported.
    return body.pipeThrough(new TransformStream({ flush: onEnd, cancel: onEnd }));
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // An empty read is read again: a pull that enqueues nothing is not called again.
      try {
        for (;;) {
          const { value, done } = await reader.read(new Uint8Array(size));
          if (done) return (onEnd(), controller.close());
          if (value.byteLength > 0) return controller.enqueue(value);
        }
      } catch (error) {
        onEnd();
        throw error;
      }
    },
    cancel: (reason) => (onEnd(), reader.cancel(reason)),
  }, { highWaterMark: 0 });
}

/**
 * Streams in flight per HTTP client. HTTP/2 servers cap the streams one connection may carry
 * (SETTINGS_MAX_CONCURRENT_STREAMS: nginx 128, Deno.serve 200, Cloudflare 256), and Deno's
 * `fetch` sends every request to an origin over one HTTP/2 connection: past the cap, further
 * answers wait until earlier ones finish, however many are asked for. RFC 9113 (§6.5.2) recommends servers
 * allow at least 100, so no client carries more.
 */
export const STREAMS_PER_CLIENT = 100;

/**
 * HTTP clients (`Deno.createHttpClient`, each with its own connections), leased one request at a
 * time: the first client with room, a new one when all are full. Over HTTP/1.1 each client opens
 * connections as it needs them anyway, and one client serves everything below the cap.
 */
export class ClientPool {
  readonly #clients: { client: Deno.HttpClient; inFlight: number }[] = [];

  constructor(
    readonly perClient = STREAMS_PER_CLIENT,
    private readonly createClient: () => Deno.HttpClient = () => Deno.createHttpClient({}),
  ) {}

  /** A client for one request, and the function (idempotent) that gives it back. */
  lease(): { client: Deno.HttpClient; release: () => void } {
    let entry = this.#clients.find((e) => e.inFlight < this.perClient);
    if (!entry) this.#clients.push(entry = { client: this.createClient(), inFlight: 0 });
    entry.inFlight++;
    let released = false;
    return {
      client: entry.client,
      release: () => {
        if (released) return;
        released = true;
        entry.inFlight--;
      },
    };
  }

  /** Requests under way (their response bodies not yet ended). */
  get inFlight(): number {
    return this.#clients.reduce((n, e) => n + e.inFlight, 0);
  }

  get clients(): number {
    return this.#clients.length;
  }

  close(): void {
    for (const { client } of this.#clients.splice(0)) client.close();
  }
}

/**
 * Deno's own response behind each body handed out, kept reachable for as long as that body is.
 *
 * Deno (2.9.6) cancels a response body on abort through an algorithm registered on the request's
 * own signal, which follows the caller's signal; a followed signal refers to its followers only
 * weakly, and that follower is reachable only through Deno's `Response`. We hand out a new
 * `Response` around the body and the SDKs keep only that body, so the first garbage collection
 * took the algorithm away: aborting no longer reached the body, and a read waiting on a silent
 * upstream (a model still thinking, or stalled) waited for good. The stop button, the grace
 * period after the reader left and the silence timeout all abort this way. (While tokens flow,
 * stream.ts still stopped at the next one, as it checks the caller's signal after each event.)
 * Without this map, readers leaving answers whose first token is far away leave upstream calls
 * open; fetch_test.ts and tests/chat_test.ts reproduce it with forced collections.
 */
const READ_THROUGH = new WeakMap<ReadableStream<Uint8Array>, Response>();

/** Where {@link onRequestSent} keeps its callback in a request's `RequestInit`. */
const REQUEST_SENT = Symbol("hurukuro.requestSent");

/**
 * `fetchOptions` for an SDK call (both SDKs spread them into the `RequestInit` they give our
 * `fetch`): `callback` runs each time a request of that call is handed to the network, so the
 * caller can let it leave before starting other work (see answer.ts). Undefined without one.
 */
export function onRequestSent(callback: (() => void) | undefined): SentHook | undefined {
  return callback ? { [REQUEST_SENT]: callback } : undefined;
}

/** What {@link onRequestSent} gives: a `RequestInit` (the SDKs' type) with only our callback. */
type SentHook =
  & { [REQUEST_SENT]: () => void }
  & Partial<
    Record<"headers" | "body" | "method" | "signal", never>
  >;

/**
 * A `fetch` for the AI SDKs: each request on a client of `pool`, held until its response body
 * ends, and the body read through {@link smallReads}; a callback of {@link onRequestSent} is
 * called once the request is handed to Deno's `fetch`.
 */
export function pooledFetch(pool: ClientPool): typeof fetch {
  return async (input, init) => {
    const { client, release } = pool.lease();
    const { [REQUEST_SENT]: sent, ...rest } = (init ?? {}) as RequestInit & {
      [REQUEST_SENT]?: () => void;
    };
    let res: Response;
    try {
      const response = fetch(input, { ...rest, client });
      sent?.();
      res = await response;
    } catch (error) {
      release();
      throw error;
    }
    if (!res.body || NULL_BODY.has(res.status)) {
      release();
      return res;
    }
    const body = smallReads(res.body, READ_BUFFER_BYTES, release);
    READ_THROUGH.set(body, res);
    const wrapped = new Response(body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
    // What the SDKs may read besides status and headers.
    Object.defineProperty(wrapped, "url", { value: res.url });
    Object.defineProperty(wrapped, "redirected", { value: res.redirected });
    return wrapped;
  };
}

/** The process's clients for AI providers, shared by every provider. */
export const aiClients = new ClientPool();

/** The `fetch` the AI SDKs are given. */
export const aiFetch: typeof fetch = pooledFetch(aiClients);
