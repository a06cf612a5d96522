/**
 * A chat completion asked of the fake OpenAI upstream (bench/chat_fake.ts) directly, as the
 * baselines and the upstream's own timing do. Imports nothing: the relay baseline's memory
 * figures are the least a Deno process holds.
 */
export function chatCompletion(
  url: string,
  key: string,
  body: Record<string, unknown>,
): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "gpt-4o-mini", ...body }),
  });
}
