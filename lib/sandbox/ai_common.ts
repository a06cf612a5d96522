/**
 * What the fake OpenAI-compatible and Anthropic servers share: the HTTP plumbing (a real server
 * on a loopback port, request records, disconnect detection, a clean close), the script of
 * failures a test queues. The simulated model (answers, token counts, embeddings) is in
 * ai_model.ts; how a chat answer is put on the wire, in ai_answer.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";

/** One scripted behaviour, consumed by the next model request (chat or embeddings), in order. */
export type FakeStep =
  /** A normal answer, optionally with its own text and pace, or without usage. */
  | {
    kind: "reply";
    text?: string;
    firstTokenDelayMs?: number;
    deltaDelayMs?: number;
    omitUsage?: boolean;
  }
  /** 429. `quota` answers "insufficient quota" (OpenAI) / a billing error (Anthropic). */
  | { kind: "rate_limit"; retryAfter?: string; retryAfterMs?: number; quota?: boolean }
  /** 500 by default; 503, or 529 (Anthropic's "overloaded"), as asked. */
  | { kind: "server_error"; status?: number; retryAfter?: string }
  /** Accepts the request and never answers (until the client gives up or the fake closes). */
  | { kind: "hang" }
  /**
   * Streams `afterDeltas` deltas then breaks: `reset` drops the connection mid-body (default),
   * `close` ends the body cleanly without the end-of-stream marker, `error_event` sends the
   * provider's in-stream error event.
   */
  | { kind: "cut"; afterDeltas: number; how?: "reset" | "close" | "error_event" }
  /** 400 with the provider's "prompt too long" error. */
  | { kind: "context_too_long" };

export interface FakeModelOptions {
  /** Port to listen on; default 0 (a free one). */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** The key requests must carry; default the fake's published key. */
  apiKey?: string;
  /** The answer text, fixed or derived from the request; default `defaultReply` (ai_model.ts). */
  reply?: string | ((request: ReplyRequest) => string);
  /** Wait before the first delta (time to first token). Default 0. */
  firstTokenDelayMs?: number;
  /** Wait between deltas. Default 0. */
  deltaDelayMs?: number;
  /** Behave like a server that ignores the request for usage in streams. */
  omitUsage?: boolean;
  /** Prompts longer than this (in the fake's tokens) get the context-too-long error. */
  contextWindow?: number;
  /** Model ids listed by `/v1/models`. */
  models?: string[];
  /** Recorded requests kept (oldest dropped first). Default 1,000. */
  maxRecords?: number;
  /**
   * Serve HTTPS with HTTP/2 (offered by ALPN, HTTP/1.1 still accepted), as the hosted providers
   * do; `maxConcurrentStreams` is the per-connection cap the server announces (nginx: 128).
   */
  tls?: { cert: string; key: string; maxConcurrentStreams?: number };
}

/** What the reply function sees. */
export interface ReplyRequest {
  model: string;
  /** Every message, system prompt included, as plain text. */
  messages: Array<{ role: string; content: string }>;
  /** The last user message's text ("" when there is none). */
  lastUserMessage: string;
}

export type Outcome = "completed" | "disconnected" | "cut" | "released";

export interface FakeRequest {
  /** `performance.now()` when the request arrived: compare arrivals, e.g. a retry's wait. */
  at: number;
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** The parsed JSON body (the raw text when it was not JSON; null when empty). */
  body: unknown;
  /** HTTP status answered; 0 while hanging. */
  status: number;
  /** The scripted step this request consumed, if any. */
  step?: FakeStep;
  /** Deltas written to the response so far (streams and non-streams alike). */
  deltasSent: number;
  /**
   * How the exchange ended: fully delivered, the client went away (an abort reaches the fake
   * as this), cut by a script, or released by `close()` while hanging.
   */
  closed: Promise<Outcome>;
  outcome?: Outcome;
}

export interface FakeServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  readonly requests: FakeRequest[];
  /** Queues behaviours for the next model requests. */
  script(...steps: FakeStep[]): void;
  /** Steps queued and not yet consumed. */
  readonly pending: number;
  /** Requests to `path` recorded so far (the upstream calls a client made). */
  calls(path: string): FakeRequest[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Per-request context the provider-specific handler gets. */
export interface Exchange {
  method: string;
  path: string;
  headers: Headers;
  /** The request body's bytes (multipart uploads: transcriptions). */
  raw: Uint8Array;
  record: FakeRequest;
  /** Aborted when the client disconnects, the response is cut, or the fake closes. */
  signal: AbortSignal;
  /** Answers nothing (not even headers) until the client leaves or the fake closes. */
  hang(): Promise<Response>;
  /** Waits `ms`, resolving early (to false) when the exchange is aborted. */
  wait(ms: number): Promise<boolean>;
  /** A streamed body from an async generator of strings; see {@link STREAM_CUT}. */
  stream(chunks: AsyncGenerator<string>, headers: HeadersInit): Response;
  /** Marks how it ended (first mark wins). */
  finish(outcome: Outcome): void;
  /** The next scripted step, if any. */
  step?: FakeStep;
}

/** Resolves once the fake has begun answering `n` requests to `path` (their status is set). */
export async function untilAnswered(fake: FakeServer, path: string, n: number): Promise<void> {
  while (fake.calls(path).filter((c) => c.status !== 0).length < n) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Thrown inside a stream generator to drop the connection (`reset`); returning closes it. */
export const STREAM_CUT = Symbol("cut");

class CutError extends Error {
  constructor() {
    super("response cut by the fake's script");
  }
}

type Handler = (exchange: Exchange) => Promise<Response> | Response;

const encoder = new TextEncoder();

/**
 * Starts the HTTP side of a fake. `modelPaths` are the endpoints that consume script steps.
 *
 * Built on node:http rather than Deno.serve: Deno.serve (2.9.6) does not notice a client that
 * disconnects before the answer once the request exceeds a few hundred bytes (every SDK request
 * does: `request.signal` never aborts), so a hung request would never learn its client left.
 * node:http reports every close, and can end a connection mid-body on purpose.
 */
export async function serveFake(
  options: FakeModelOptions,
  modelPaths: readonly string[],
  handler: Handler,
): Promise<FakeServer> {
  const maxRecords = options.maxRecords ?? 1_000;
  const requests: FakeRequest[] = [];
  const queue: FakeStep[] = [];
  const closing = new AbortController();
  const inFlight = new Set<Promise<void>>();

  async function exchange(req: Request1or2, res: Response1or2): Promise<void> {
    const at = performance.now();
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const step = method === "POST" && modelPaths.includes(url.pathname) ? queue.shift() : undefined;
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = concat(chunks);
    const text = new TextDecoder().decode(raw);
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith(":")) continue; // HTTP/2 pseudo-headers
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    let settle!: (outcome: Outcome) => void;
    const record: FakeRequest = {
      at,
      method,
      path: url.pathname,
      headers: Object.fromEntries(headers),
      body,
      status: 0,
      deltasSent: 0,
      closed: new Promise((resolve) => (settle = resolve)),
    };
    if (step) record.step = step;
    const finish = (outcome: Outcome) => {
      if (record.outcome) return;
      record.outcome = outcome;
      settle(outcome);
    };
    requests.push(record);
    if (requests.length > maxRecords) requests.splice(0, requests.length - maxRecords);

    const aborter = new AbortController();
    const signal = AbortSignal.any([aborter.signal, closing.signal]);
    res.on("close", () => {
      finish(res.writableFinished ? "completed" : "disconnected");
      aborter.abort();
    });

    const response = await handler({
      method,
      path: url.pathname,
      headers,
      raw,
      record,
      signal,
      step,
      finish,
      wait: (ms) => wait(ms, signal),
      hang: async () => {
        if (!signal.aborted) {
          await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        }
        finish(closing.signal.aborted ? "released" : "disconnected");
        return new Response(null, { status: 503 });
      },
      stream: (generator, streamHeaders) => {
        const stream = new ReadableStream<Uint8Array>({
          async pull(controller) {
            try {
              const next = await generator.next();
              if (next.done) controller.close();
              else controller.enqueue(encoder.encode(next.value));
            } catch (error) {
              if (error === STREAM_CUT) finish("cut");
              controller.error(error === STREAM_CUT ? new CutError() : error);
            }
          },
          async cancel() {
            await generator.return(undefined);
          },
        });
        return new Response(stream, { headers: streamHeaders });
      },
    });
    record.status = response.status;
    await send(response, res);
  }

  const handle = (req: Request1or2, res: Response1or2) => {
    const work = exchange(req, res).catch((error) => {
      console.error("fake AI server:", error);
      res.destroy();
    }).finally(() => inFlight.delete(work));
    inFlight.add(work);
  };
  const server = options.tls
    ? createSecureServer({
      allowHTTP1: true,
      cert: options.tls.cert,
      key: options.tls.key,
      settings: { maxConcurrentStreams: options.tls.maxConcurrentStreams ?? 128 },
    }, handle)
    : createServer(handle);
  const hostname = options.hostname ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const reachable = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  const fake: FakeServer = {
    url: `${options.tls ? "https" : "http"}://${
      options.tls && reachable === "127.0.0.1" ? "localhost" : reachable
    }:${port}`,
    requests,
    script: (...steps) => void queue.push(...steps),
    get pending() {
      return queue.length;
    },
    calls: (path) => requests.filter((r) => r.path === path),
    close: async () => {
      closing.abort();
      await Promise.allSettled([...inFlight]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("closeAllConnections" in server) server.closeAllConnections();
      });
    },
    [Symbol.asyncDispose]: () => fake.close(),
  };
  return fake;
}

/** Writes a fetch Response to a node response, with backpressure. An errored body (a scripted
 * cut) ends the connection without the terminating chunk: the client's body read fails. */
type Request1or2 = IncomingMessage | Http2ServerRequest;
type Response1or2 = ServerResponse | Http2ServerResponse;

async function send(response: Response, res: Response1or2): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) {
    res.end();
    return;
  }
  // Headers go out now, as a real server does, not with the first (maybe delayed) token. (Over
  // HTTP/2, `writeHead` has sent them.)
  if ("flushHeaders" in res) res.flushHeaders();
  const reader = response.body.getReader();
  const onClose = () => void reader.cancel().catch(() => {});
  res.on("close", onClose);
  let flushed: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      flushed = new Promise((resolve) => (res as ServerResponse).write(value, resolve));
      if (res.writableNeedDrain) {
        await new Promise((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
      }
    }
    res.end();
  } catch (error) {
    if (!(error instanceof CutError)) console.error("fake AI server:", error);
    // Let what was written reach the client first, as when a connection drops mid-answer; then
    // end the connection without the body's terminating chunk.
    await flushed;
    res.socket?.end();
    (res as ServerResponse).destroy();
  } finally {
    res.off("close", onClose);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
