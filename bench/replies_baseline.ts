/**
 * The replies bench's baseline: the least a reply can cost, in a process of its own. `JOBS`
 * replies, `CONCURRENCY` at a time, each one question to the fake AI (`AI_URL`, OpenAI's chat
 * completions) and its answer posted to the fake Graph API (`GRAPH_URL`), with no database, no
 * queue and no conversation. Prints `{"jobs": n, "ms": elapsed}` and exits.
 */
import { FAKE_OPENAI_KEY } from "../lib/sandbox/openai.ts";
import { TEST_PHONE_NUMBER_ID } from "../lib/sandbox/whatsapp_sign.ts";
import { chatCompletion } from "./_chat_completion.ts";
import { ownCpuSeconds } from "./_support.ts";

const jobs = Number(Deno.env.get("JOBS"));
const concurrency = Number(Deno.env.get("CONCURRENCY"));
const ai = Deno.env.get("AI_URL")!;
const graph = Deno.env.get("GRAPH_URL")!;
const token = Deno.env.get("GRAPH_TOKEN")!;

async function reply(i: number): Promise<void> {
  const res = await chatCompletion(ai, FAKE_OPENAI_KEY, {
    messages: [{ role: "user", content: `q${i}` }],
  });
  const answer = await res.json() as { choices: { message: { content: string } }[] };
  const sent = await fetch(`${graph}/v21.0/${TEST_PHONE_NUMBER_ID}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      messaging_product: "whatsapp",
      to: String(263_790_000_000 + (i % 1000)),
      type: "text",
      text: { body: answer.choices[0].message.content },
    }),
  });
  await sent.body?.cancel();
  if (!sent.ok) throw new Error(`fake Graph API: ${sent.status}`);
}

const started = performance.now();
const cpuStarted = ownCpuSeconds();
let next = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < jobs) await reply(next++);
}));
const ms = performance.now() - started;
console.log(JSON.stringify({ jobs, ms, cpuMs: (ownCpuSeconds() - cpuStarted) * 1000 }));
