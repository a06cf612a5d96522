/**
 * The baseline of bench/chat.ts's figures: the least a Deno process can hold per relayed stream,
 * and the least time it can add to the first delta — a handler that opens a streamed request to
 * the upstream (plain `fetch`) and pipes its body to the client, nothing else (no auth, no
 * database, no SDK, no buffer), served by `Deno.serve` as Hurukuro is. UPSTREAM_URL names the
 * fake upstream.
 */
import { chatCompletion } from "./_chat_completion.ts";

const upstream = Deno.env.get("UPSTREAM_URL")!;
const key = Deno.env.get("UPSTREAM_KEY")!;
const START = new TextEncoder().encode("event: start\ndata: {}\n\n");

const ask = () =>
  chatCompletion(upstream, key, {
    stream: true,
    messages: [{ role: "user", content: "question" }],
  });

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
