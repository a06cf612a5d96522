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
import { getRequestListener } from "@hono/node-server";

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

export async function serveHttp(
  options: { hostname: string; port: number },
  fetch: FetchHandler,
): Promise<HttpServer> {
  const server: Server = createServer(
    getRequestListener(fetch as Parameters<typeof getRequestListener>[0], {
      overrideGlobalObjects: false,
    }),
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
