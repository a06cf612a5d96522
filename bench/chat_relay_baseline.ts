/**
 * The baseline of bench/chat.ts's figures: the least a Deno process can hold per relayed stream,
 * and the least time it can add to the first delta — a handler that opens a streamed request to
 * the upstream (plain `fetch`) and pipes its body to the client, nothing else (no auth, no
 * database, no SDK, no buffer). UPSTREAM_URL names the fake upstream. RELAY_LISTENER=node serves
 * it through `node:http`, Hurukuro's listener (lib/http/serve.ts), instead of `Deno.serve`: what
 * that listener costs, apart from everything Hurukuro does.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const upstream = Deno.env.get("UPSTREAM_URL")!;
const key = Deno.env.get("UPSTREAM_KEY")!;
const START = new TextEncoder().encode("event: start\ndata: {}\n\n");

const ask = () =>
  fetch(`${upstream}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      stream: true,
      messages: [{ role: "user", content: "question" }],
    }),
  });

if (Deno.env.get("RELAY_LISTENER") === "node") {
  const server = createServer(async (request, response) => {
    for await (const _ of request) continue; // the request body, unread
    const res = await ask();
    response.writeHead(200, {
      "content-type": "text/event-stream",
      "transfer-encoding": "chunked",
    });
    response.write(START);
    for await (const chunk of res.body!) response.write(chunk);
    response.end();
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    console.log(`relay baseline (node:http) is running at http://127.0.0.1:${port}`);
  });
  Deno.addSignalListener("SIGTERM", () => server.close(() => Deno.exit(0)));
} else {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    const res = await ask();
    const relay = new TransformStream<Uint8Array, Uint8Array>();
    res.body!.pipeTo(relay.writable).catch(() => {});
    const out = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(START);
      },
      async pull(controller) {
        const reader = relay.readable.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          controller.enqueue(value);
        }
      },
    });
    return new Response(out, { headers: { "content-type": "text/event-stream" } });
  });
  console.log(`relay baseline is running at http://127.0.0.1:${server.addr.port}`);
  Deno.addSignalListener("SIGTERM", () => server.shutdown().then(() => Deno.exit(0)));
}
