/**
 * Meta Cloud API: error mapping and the provider's HTTP calls (against a recording `fetch`;
 * lib/sandbox/whatsapp_graph_test.ts runs it against the fake Graph API over real HTTP).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { metaApiError, MetaCloudProvider, type MetaOptions } from "./meta.ts";
import { WhatsAppError } from "./types.ts";
import { recordingFetch } from "../../tests/recording_fetch.ts";

const SECRET = "app-secret-1234";

// ---------------------------------------------------------------------------------------------
// Errors

Deno.test("rate limits map to retryable errors with hints, honouring Retry-After", () => {
  const throughput = metaApiError(429, {
    error: { code: 130429, message: "(#130429) Rate limit hit" },
  });
  assert.equal(throughput.kind, "rate_limited");
  assert.equal(throughput.retryAfterMs, 1_000);
  assert.equal(throughput.retryable, true);
  assert.equal(throughput.code, 130429);

  const told = metaApiError(429, { error: { code: 130429 } }, new Headers({ "retry-after": "7" }));
  assert.equal(told.retryAfterMs, 7_000);

  // Meta often answers rate limits with HTTP 400: the code decides.
  assert.equal(metaApiError(400, { error: { code: 130429 } }).kind, "rate_limited");
  assert.equal(metaApiError(400, { error: { code: 80007 } }).kind, "rate_limited");
  assert.equal(metaApiError(400, { error: { code: 131048 } }).retryAfterMs, 60_000);

  const pair = metaApiError(400, { error: { code: 131056 } });
  assert.equal(pair.kind, "pair_rate_limited");
  assert.equal(pair.retryAfterMs, 6_000);
  assert.equal(pair.retryable, true);
});

Deno.test("the closed 24-hour window, bad tokens and server failures map to their kinds", () => {
  const window = metaApiError(400, {
    error: { code: 131047, message: "Re-engagement message", error_data: { details: "24 hours" } },
  });
  assert.equal(window.kind, "outside_window");
  assert.equal(window.retryable, false);
  assert.equal(window.details, "24 hours");
  assert.match(window.message, /Re-engagement message \(24 hours\)/);

  assert.equal(metaApiError(401, { error: { code: 190 } }).kind, "unauthorized");
  assert.equal(metaApiError(400, { error: { code: 190 } }).kind, "unauthorized");
  assert.equal(metaApiError(401, undefined).retryable, false);

  const server = metaApiError(502, undefined);
  assert.equal(server.kind, "server");
  assert.equal(server.retryable, true);
  assert.equal(metaApiError(400, { error: { code: 131016 } }).kind, "server");

  const rejected = metaApiError(400, { error: { code: 100, message: "(#100) Invalid parameter" } });
  assert.equal(rejected.kind, "rejected");
  assert.equal(rejected.retryable, false);
});

// ---------------------------------------------------------------------------------------------
// The provider's HTTP calls

function provider(fetchFn: typeof fetch, extra: Partial<MetaOptions> = {}) {
  return new MetaCloudProvider({
    accessToken: "EAAtoken",
    appSecret: SECRET,
    phoneNumberId: "106540352242922",
    graphUrl: "https://graph.test/",
    fetch: fetchFn,
    ...extra,
  });
}

Deno.test("send posts the payload with the bearer token and returns the wamid", async () => {
  const { calls, fetch } = recordingFetch(() =>
    Response.json({
      messaging_product: "whatsapp",
      contacts: [{ input: "263771234567", wa_id: "263771234567" }],
      messages: [{ id: "wamid.OUT" }],
    })
  );
  const result = await provider(fetch, { apiVersion: "21.0" }).send("+263771234567", {
    type: "text",
    text: "Hi",
  });
  assert.deepEqual(result, { providerMessageId: "wamid.OUT" });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].url, "https://graph.test/v21.0/106540352242922/messages");
  assert.equal(calls[0].authorization, "Bearer EAAtoken");
  assert.equal(JSON.parse(calls[0].body).text.body, "Hi");
});

Deno.test("an invalid menu is refused before any request is made", async () => {
  const { calls, fetch } = recordingFetch(() => Response.json({}));
  await assert.rejects(
    provider(fetch).send("+263771234567", {
      type: "buttons",
      body: "b",
      buttons: ["a", "b", "c", "d"].map((id) => ({ id, title: id })),
    }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "invalid_message",
  );
  assert.equal(calls.length, 0);
});

Deno.test("send turns Meta's error answers into WhatsAppErrors", async () => {
  const { fetch } = recordingFetch(() =>
    Response.json({ error: { code: 130429, message: "(#130429) Rate limit hit" } }, {
      status: 429,
      headers: { "retry-after": "2" },
    })
  );
  await assert.rejects(
    provider(fetch).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) =>
      e instanceof WhatsAppError && e.kind === "rate_limited" && e.retryAfterMs === 2_000,
  );
  const empty = recordingFetch(() => Response.json({ messaging_product: "whatsapp" }));
  await assert.rejects(
    provider(empty.fetch).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "bad_response",
  );
});

Deno.test("a refused connection or a timeout is a retryable network error", async () => {
  const refused = (() => Promise.reject(new TypeError("connection refused"))) as typeof fetch;
  await assert.rejects(
    provider(refused).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "network" && e.retryable,
  );
  const hanging = ((_: unknown, init?: RequestInit) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
    })) as typeof fetch;
  await assert.rejects(
    provider(hanging, { timeoutMs: 30 }).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) =>
      e instanceof WhatsAppError && e.kind === "network" && /within 30 ms/.test(e.message),
  );
});

Deno.test("markRead sends the read receipt, with the typing indicator only when asked", async () => {
  const { calls, fetch } = recordingFetch(() => Response.json({ success: true }));
  const meta = provider(fetch);
  await meta.markRead("wamid.IN", { typing: true });
  await meta.markRead("wamid.IN2", { typing: false });
  assert.deepEqual(calls.map((c) => JSON.parse(c.body)), [
    {
      messaging_product: "whatsapp",
      status: "read",
      message_id: "wamid.IN",
      typing_indicator: { type: "text" },
    },
    { messaging_product: "whatsapp", status: "read", message_id: "wamid.IN2" },
  ]);
});

Deno.test("downloadMedia resolves the id to a URL and fetches it with the same bearer", async () => {
  const bytes = new TextEncoder().encode("%PDF-1.7 fake");
  const sha = createHash("sha256").update(bytes).digest("hex");
  const { calls, fetch } = recordingFetch((call) =>
    call.url.endsWith("/v23.0/555")
      ? Response.json({
        url: "https://lookaside.test/m/555?x=1",
        mime_type: "application/pdf",
        sha256: sha,
        file_size: bytes.length,
        id: "555",
      })
      : new Response(bytes, { headers: { "content-type": "application/octet-stream" } })
  );
  const media = await provider(fetch).downloadMedia({ source: "meta", id: "555" });
  assert.deepEqual(media, { bytes, mimeType: "application/pdf" });
  assert.deepEqual(calls.map((c) => [c.url, c.authorization]), [
    ["https://graph.test/v23.0/555", "Bearer EAAtoken"],
    ["https://lookaside.test/m/555?x=1", "Bearer EAAtoken"],
  ]);
});

Deno.test("media over the cap is refused from its declared size, before downloading", async () => {
  const { calls, fetch } = recordingFetch(() =>
    Response.json({
      url: "https://lookaside.test/m",
      mime_type: "image/jpeg",
      file_size: 6_000_000,
    })
  );
  await assert.rejects(
    provider(fetch).downloadMedia({ source: "meta", id: "1" }, { maxBytes: 5_000_000 }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "media_too_large",
  );
  assert.equal(calls.length, 1);
});

Deno.test("media that turns out larger than the cap while streaming is refused", async () => {
  const { fetch } = recordingFetch((call) => {
    if (call.url.includes("graph.test")) {
      return Response.json({ url: "https://lookaside.test/m", mime_type: "image/png" });
    }
    // 12 KiB with no Content-Length: only counting while reading can catch it.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 12) controller.enqueue(new Uint8Array(1024));
        else controller.close();
      },
    });
    return new Response(stream);
  });
  await assert.rejects(
    provider(fetch, { maxMediaBytes: 10_000 }).downloadMedia({ source: "meta", id: "1" }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "media_too_large",
  );
});

Deno.test("media whose bytes do not match Meta's SHA-256 is refused", async () => {
  const { fetch } = recordingFetch((call) =>
    call.url.includes("graph.test")
      ? Response.json({
        url: "https://lookaside.test/m",
        mime_type: "image/png",
        sha256: "00".repeat(32),
      })
      : new Response("not the file")
  );
  await assert.rejects(
    provider(fetch).downloadMedia({ source: "meta", id: "1" }),
    (e: unknown) =>
      e instanceof WhatsAppError && e.kind === "bad_response" && /SHA-256/.test(e.message),
  );
  const base64 = recordingFetch((call) =>
    call.url.includes("graph.test")
      ? Response.json({
        url: "https://lookaside.test/m",
        sha256: createHash("sha256").update("the file").digest("base64"),
      })
      : new Response("the file")
  );
  const media = await provider(base64.fetch).downloadMedia({
    source: "meta",
    id: "1",
    mimeType: "image/webp",
  });
  assert.equal(media.mimeType, "image/webp");
});
