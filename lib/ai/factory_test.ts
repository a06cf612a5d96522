import assert from "node:assert/strict";
import { startFakeAnthropic } from "../sandbox/anthropic.ts";
import { startFakeOpenAI } from "../sandbox/openai.ts";
import { AiNotConfiguredError, AiNotSupportedError } from "./errors.ts";
import { createProvider } from "./factory.ts";

const hello = [{ role: "user" as const, content: "Hello" }];

const providers = [
  { provider: "openai", label: "OpenAI-compatible", start: startFakeOpenAI, model: "gpt-4o-mini" },
  {
    provider: "anthropic",
    label: "Anthropic",
    start: startFakeAnthropic,
    model: "claude-haiku-4-5",
  },
] as const;

for (const c of providers) {
  Deno.test(`createProvider builds a working ${c.label} provider from configuration`, async () => {
    await using fake = await c.start({ reply: "Hi there." });
    const ai = createProvider({
      provider: c.provider,
      apiKey: fake.apiKey,
      baseUrl: fake.baseUrl,
      model: c.model,
      maxOutputTokens: 100,
    });
    assert.equal(ai.name, c.provider);
    assert.equal(ai.model, c.model);
    assert.equal((await ai.complete(hello)).text, "Hi there.");
    assert.equal((fake.requests[0].body as { max_tokens?: number }).max_tokens, 100);
    if (c.provider === "anthropic") await assert.rejects(ai.embed(["x"]), AiNotSupportedError);
  });
}

Deno.test("a missing key, model or provider is 'not configured' before any request", () => {
  const cases = [
    { provider: "openai" as const, model: "gpt-4o-mini" },
    {
      provider: "openai" as const,
      apiKey: " ",
      model: "gpt-4o-mini",
      baseUrl: "https://api.openai.com/v1",
    },
    { provider: "anthropic" as const, model: "claude-haiku-4-5" },
    { provider: "openai" as const, apiKey: "sk-x", model: "" },
    { provider: "openai" as const, apiKey: "sk-x", model: "m", baseUrl: "not a url" },
    { provider: "mistral" as never, apiKey: "k", model: "m" },
  ];
  for (const config of cases) {
    assert.throws(() => createProvider(config), AiNotConfiguredError, JSON.stringify(config));
  }
});

Deno.test("a self-hosted OpenAI-compatible server may have no key", async () => {
  await using fake = await startFakeOpenAI({ apiKey: "no-key" });
  const ai = createProvider({ provider: "openai", baseUrl: fake.baseUrl, model: "llama3.2" });
  assert.ok((await ai.complete(hello)).text.length > 0);
});

Deno.test("api.openai.com gets max_completion_tokens, which its newer models require", async () => {
  // Only the request body matters: a stand-in fetch (the SDK takes it at construction) keeps
  // the request from leaving the machine.
  const originalFetch = globalThis.fetch;
  let sent: Record<string, unknown> | undefined;
  let url = "";
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    url = String(input);
    sent = JSON.parse(String(init?.body));
    return Promise.reject(new TypeError("offline"));
  };
  try {
    const ai = createProvider({
      provider: "openai",
      apiKey: "sk-x",
      model: "gpt-4o-mini",
      maxOutputTokens: 7,
      retry: { maxAttempts: 1 },
    });
    await ai.complete(hello).catch(() => {});
  } finally {
    globalThis.fetch = originalFetch;
  }
  assert.equal(url, "https://api.openai.com/v1/chat/completions");
  assert.equal(sent?.max_completion_tokens, 7);
  assert.equal(sent?.max_tokens, undefined);
});
