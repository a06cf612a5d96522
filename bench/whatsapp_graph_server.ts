/**
 * The WhatsApp bench's stand-in for Meta: the fake Graph API (lib/sandbox/whatsapp_graph.ts) in
 * a process of its own, so receiving thousands of replies does not steal time from the load
 * generator. Announces itself like the other bench servers; `GRAPH_TOKEN` sets its bearer token.
 * A second port answers `GET /count` with the number of messages received so far (a bench polls
 * it during a load; the fake's own list grows too large to fetch that often); its URL is printed
 * as `counts at http://…`.
 */
import { startFakeGraphApi } from "../lib/sandbox/whatsapp_graph.ts";

const graph = await startFakeGraphApi({
  accessToken: Deno.env.get("GRAPH_TOKEN") ?? "bench-graph-token",
  maxRecords: 1_000_000,
  port: Number(Deno.env.get("PORT") ?? 0),
});
const counts = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) => console.log(`counts at http://${hostname}:${port}`),
}, () => Response.json({ messages: graph.messages.length }));
console.log(`Fake Graph API is running at ${graph.url}`);

const stop = () => Promise.all([graph.close(), counts.shutdown()]).then(() => Deno.exit(0));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
