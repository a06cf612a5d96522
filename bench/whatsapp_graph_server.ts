/**
 * The WhatsApp bench's stand-in for Meta: the fake Graph API (lib/sandbox/whatsapp_graph.ts) in
 * a process of its own, so receiving thousands of replies does not steal time from the load
 * generator. Announces itself like the other bench servers; `GRAPH_TOKEN` sets its bearer token.
 */
import { startFakeGraphApi } from "../lib/sandbox/whatsapp_graph.ts";

const graph = await startFakeGraphApi({
  accessToken: Deno.env.get("GRAPH_TOKEN") ?? "bench-graph-token",
  maxRecords: 1_000_000,
  port: Number(Deno.env.get("PORT") ?? 0),
});
console.log(`Fake Graph API is running at ${graph.url}`);

const stop = () => graph.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
