/**
 * The fake OpenAI-compatible server of bench/chat.ts, in a process of its own (so neither the
 * load generator nor the server under test shares its event loop). Pace from the environment:
 * FAKE_FIRST_TOKEN_MS (time to first token), FAKE_DELTA_MS (between tokens). With FAKE_TLS_CERT
 * and FAKE_TLS_KEY (PEM files), HTTPS with HTTP/2, as the hosted providers serve.
 */
import { startFakeOpenAI } from "../lib/sandbox/openai.ts";

const fake = await startFakeOpenAI({
  firstTokenDelayMs: Number(Deno.env.get("FAKE_FIRST_TOKEN_MS") ?? "0"),
  deltaDelayMs: Number(Deno.env.get("FAKE_DELTA_MS") ?? "0"),
  maxRecords: 100,
  ...tls(),
});

function tls() {
  const cert = Deno.env.get("FAKE_TLS_CERT"), key = Deno.env.get("FAKE_TLS_KEY");
  if (!cert || !key) return {};
  return { tls: { cert: Deno.readTextFileSync(cert), key: Deno.readTextFileSync(key) } };
}
console.log(`fake OpenAI is running at ${fake.url}`);
const stop = () => fake.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
