/**
 * The HTTP bench's baseline: the least a Deno server can do for a JSON request: a plain
 * `Deno.serve` handler, no framework, no middleware, answering every path with a small JSON body
 * shaped like `GET /api/v1/status`. Hurukuro's figures are read against this one, measured in
 * the same run on the same machine.
 *
 * Started by bench/http.ts as a child process; listens on a free loopback port (or `PORT`) and
 * announces itself the way main.ts does, so the bench finds both servers the same way.
 */
const body = { service: "baseline", version: "0.0.0", environment: "test", sandbox: [] };

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ hostname, port }) =>
    console.log(`Baseline is running at http://${hostname}:${port}`),
}, () => Response.json(body));

const stop = () => server.shutdown().then(() => Deno.exit(0));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
