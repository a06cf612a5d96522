/**
 * The webhook benches' baseline: the least a Deno server can do for a webhook, a plain
 * `Deno.serve` handler that reads the body and answers 200 (no signature, no parsing, nothing
 * stored). A server that leaves a POST body unread is not a fair baseline: the connection's next
 * request waits behind it.
 *
 * Started as a child process by bench/whatsapp.ts and bench/peer.ts; listens on a free loopback
 * port and announces itself the way main.ts does.
 */
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) =>
    console.log(`Webhook baseline is running at http://${hostname}:${port}`),
}, async (request) => {
  await request.arrayBuffer();
  return new Response("OK");
});

const stop = () => server.shutdown().then(() => Deno.exit(0));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
