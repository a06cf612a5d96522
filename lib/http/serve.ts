/**
 * The HTTP listener: Hono's fetch handler served through `node:http` (npm `@hono/node-server`)
 * rather than `Deno.serve`.
 *
 * Why: an answer streamed to the web holds its connection open for as long as the model writes,
 * so held connections are what a chat server has most of. Measured on Deno 2.9 (1,000 idle SSE
 * responses each, fresh processes): `Deno.serve` holds ~62 KB per open response (~48 KB of it
 * buffers allocated per connection inside its HTTP server), `node:http` ~20 KB; through Hono,
 * 63 KB against 31 KB. For Hurukuro on PostgreSQL, memory per idle answer stream went from
 * 155 KB to 128 KB (bench `chat`). The price is throughput on trivial routes (a JSON route
 * without I/O: ~65k against ~35k requests/s on two cores), far above what any route that reads
 * the database serves. `node:http` also reports a client that leaves before its answer starts,
 * which `Deno.serve` does not for requests beyond a few hundred bytes.
 *
 * `overrideGlobalObjects: false`: the package would otherwise swap the global `Request` and
 * `Response` for its own lighter classes, process-wide (and `fetch` still returns Deno's).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener, type Http2Bindings, type HttpBindings } from "@hono/node-server";

/** How long an idle keep-alive connection stays open. */
export const KEEP_ALIVE_MS = 65_000;

export type FetchHandler = (request: Request, env: never) => Response | Promise<Response>;

export interface HttpServer {
  hostname: string;
  port: number;
  /** Settles once the server has stopped and every connection has closed. */
  finished: Promise<void>;
  /** Stops accepting, closes idle connections, and waits for open ones to finish. */
  shutdown(): Promise<void>;
}

/**
 * Two adjustments to how @hono/node-server writes a response, both about time on the event loop:
 *
 * - An event stream's head goes out with its first event. For a body of unknown length the
 *   package reads ahead to learn whether it is short, and when the first chunk is ready but the
 *   second is not it waits for a timer before writing anything, so the `start` of an answer
 *   reached the reader a timer turn late (behind whatever else the loop had queued: ~2 ms at
 *   the median in bench/chat.ts). A response that says it is chunked is written at once. HTTP/1.0
 *   has no chunked encoding: such a request keeps the default (the body then ends the response).
 * - Headers are listed once. Deno's `Headers` iterator sorts the whole list again at every step
 *   (O(n²): ~86 µs for 20 headers against ~6 µs through `forEach`), and the package iterates every
 *   response's headers with `for…of`; our responses carry about twenty (security headers, rate
 *   limit, request id). This response's iterator is replaced by one over a list made once.
 */
function prepareForNode(response: Response, httpVersion: string): void {
  const headers = response.headers;
  if (
    response.body && httpVersion !== "1.0" &&
    headers.get("content-type")?.startsWith("text/event-stream") &&
    !headers.has("content-length")
  ) {
    headers.set("transfer-encoding", "chunked");
  }
  Object.defineProperty(headers, Symbol.iterator, {
    configurable: true,
    value: () => {
      const list: [string, string][] = [];
      headers.forEach((value, name) => list.push([name, value]));
      return list[Symbol.iterator]();
    },
  });
}

export async function serveHttp(
  options: { hostname: string; port: number },
  fetch: FetchHandler,
): Promise<HttpServer> {
  const server: Server = createServer(
    getRequestListener(async (request: Request, env: HttpBindings | Http2Bindings) => {
      const response = await fetch(request, env as never);
      prepareForNode(response, env.incoming.httpVersion);
      return response;
    }, { overrideGlobalObjects: false }),
  );
  // Node's default (5 s) is shorter than the idle timeout of the proxies in front (nginx's
  // upstream keepalive and AWS ALB: 60 s): a proxy would now and then reuse a connection just as
  // we close it and answer its client 502. `Deno.serve` kept idle connections open.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const finished = new Promise<void>((resolve) => server.once("close", () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    hostname: address,
    port,
    finished,
    shutdown: () =>
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections with no request in flight would otherwise hold `close` open.
        server.closeIdleConnections();
      }),
  };
}
