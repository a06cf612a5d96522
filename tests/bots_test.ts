/**
 * Bots through HTTP: creating and changing them (their owner only; others get 404), training
 * sources (text, files by content type and tier size, URLs behind the SSRF guard), ingestion
 * to `ready` with its live state, retraining a changed page atomically, and asking a bot for a
 * streamed, cited answer billed to its owner. Runs on whichever database the run uses.
 */
import assert from "node:assert/strict";
import { startTestApp, type TestApp, waitFor } from "./harness.ts";
import { EXECUTABLE_BYTES, makeDocx, makePdf } from "./fixtures/documents.ts";
import { readSse } from "./chat_sse.ts";
import { json, signup, textSource } from "./fixtures/bots.ts";
import { startFakeWebsite } from "../lib/sandbox/website.ts";

/** Waits (reading the database: the API is rate limited) for the source, then reads its view. */
async function waitForSource(
  app: TestApp,
  auth: Record<string, string>,
  botId: string,
  sourceId: string,
) {
  await waitFor(
    "the source to be ready or failed",
    async () => {
      const [row] = await app.server.db.sql`select status from bot_sources where id = ${sourceId}`;
      return row?.status === "ready" || row?.status === "failed";
    },
    30_000,
    100,
  );
  const res = await app.fetch(`/api/v1/bots/${botId}/sources/${sourceId}`, { headers: auth });
  assert.equal(res.status, 200);
  return await res.json();
}

async function upload(
  app: TestApp,
  auth: Record<string, string>,
  botId: string,
  bytes: Uint8Array,
  name: string,
) {
  const form = new FormData();
  form.set("file", new File([bytes as BlobPart], name));
  return await app.fetch(`/api/v1/bots/${botId}/sources/file`, {
    method: "POST",
    headers: auth,
    body: form,
  });
}

Deno.test("bots: the owner creates, reads, changes and deletes a bot; others get 404", async () => {
  await using app = await startTestApp();
  // Which vector search and which embedder: said by /health (no pgvector here; the sandbox).
  const health = await (await app.fetch("/health")).json();
  assert.equal(health.retrieval, "in-process");
  assert.match(health.embeddings, /^local hashing vectorizer \(sandbox\)/);
  const owner = await signup(app);
  const other = await signup(app);
  const res = await app.fetch(
    "/api/v1/bots",
    json({
      name: "Shop helper",
      allowedOrigins: ["https://Shop.Example:443/", "http://localhost:3000"],
    }, owner.auth),
  );
  assert.equal(res.status, 201, await res.clone().text());
  const bot = await res.json();
  assert.deepEqual(bot.allowedOrigins, ["https://shop.example", "http://localhost:3000"]);
  assert.match(bot.publicKey, /^hkb_/);
  assert.equal(bot.knowledgeOnly, true);

  for (const path of [`/api/v1/bots/${bot.id}`, `/api/v1/bots/${bot.id}/sources`]) {
    assert.equal((await app.fetch(path, { headers: other.auth })).status, 404);
  }
  const stranger = await app.fetch(
    `/api/v1/bots/${bot.id}`,
    json({ name: "taken" }, other.auth, "PATCH"),
  );
  assert.equal(stranger.status, 404);
  assert.equal(
    (await app.fetch(`/api/v1/bots/${bot.id}`, { method: "DELETE", headers: other.auth }))
      .status,
    404,
  );
  const list = await (await app.fetch("/api/v1/bots", { headers: other.auth })).json();
  assert.deepEqual(list.bots, []);

  const bad = await app.fetch(
    `/api/v1/bots/${bot.id}`,
    json({ allowedOrigins: ["https://shop.example/path"] }, owner.auth, "PATCH"),
  );
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /allowedOrigins/);
  const nul = await app.fetch(
    `/api/v1/bots/${bot.id}`,
    json({ name: "a\u0000b" }, owner.auth, "PATCH"),
  );
  assert.equal(nul.status, 400);

  const changed = await (await app.fetch(
    `/api/v1/bots/${bot.id}`,
    json({ instructions: "Be brief.", knowledgeOnly: false }, owner.auth, "PATCH"),
  )).json();
  assert.equal(changed.instructions, "Be brief.");
  assert.equal(changed.knowledgeOnly, false);
  assert.equal(changed.name, "Shop helper");

  // The free plan allows two bots.
  assert.equal((await app.fetch("/api/v1/bots", json({ name: "Two" }, owner.auth))).status, 201);
  const third = await app.fetch("/api/v1/bots", json({ name: "Three" }, owner.auth));
  assert.equal(third.status, 403);
  assert.match((await third.json()).error.message, /free plan allows 2 bots/);

  assert.equal(
    (await app.fetch(`/api/v1/bots/${bot.id}`, { method: "DELETE", headers: owner.auth }))
      .status,
    204,
  );
  assert.equal((await app.fetch(`/api/v1/bots/${bot.id}`, { headers: owner.auth })).status, 404);
});

Deno.test("bots: text, Word and PDF sources are learnt; bad files are refused with the reason", async () => {
  await using app = await startTestApp();
  const owner = await signup(app);
  const bot = await (await app.fetch("/api/v1/bots", json({ name: "Docs" }, owner.auth))).json();
  const text = await textSource(app, owner.auth, bot.id, {
    title: "Returns",
    text: "# Returns\n\nItems may be returned within 30 days.",
  });
  assert.equal(text.status, "queued");
  assert.match(text.description, /^waiting/);
  const ready = await waitForSource(app, owner.auth, bot.id, text.id);
  assert.equal(ready.status, "ready", JSON.stringify(ready));
  assert.equal(ready.chunksDone, ready.chunksTotal);

  const docx = await upload(
    app,
    owner.auth,
    bot.id,
    makeDocx([{ text: "Delivery", heading: 1 }, { text: "Parcels leave the depot daily." }]),
    "delivery.docx",
  );
  assert.equal(docx.status, 201, await docx.clone().text());
  const docxSource = await docx.json();
  assert.equal(
    docxSource.mediaType,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  );
  assert.equal((await waitForSource(app, owner.auth, bot.id, docxSource.id)).status, "ready");

  const disguised = await upload(app, owner.auth, bot.id, EXECUTABLE_BYTES, "manual.pdf");
  assert.equal(disguised.status, 415);
  const refusal = await disguised.json();
  assert.match(refusal.error.message, /x-elf.*Upload plain text/s);
  assert.ok(refusal.error.details.accepted.includes("application/pdf"));

  const big = await upload(app, owner.auth, bot.id, new Uint8Array(6 * 1024 * 1024), "big.txt");
  assert.equal(big.status, 413);
  assert.match((await big.json()).error.message, /up to 5 MB/);

  const scanned = await upload(
    app,
    owner.auth,
    bot.id,
    makePdf({ pages: [], scanned: true }),
    "scan.pdf",
  );
  assert.equal(scanned.status, 201);
  const failed = await waitForSource(app, owner.auth, bot.id, (await scanned.json()).id);
  assert.equal(failed.status, "failed");
  assert.equal(failed.description, "failed: no text found — upload a text PDF or paste the text");
});

Deno.test("bots: training URLs at private addresses are refused with 422 saying why", async () => {
  await using app = await startTestApp();
  const owner = await signup(app);
  const bot = await (await app.fetch("/api/v1/bots", json({ name: "Web" }, owner.auth))).json();
  for (
    const [url, why] of [
      ["https://127.0.0.1/", /loopback/],
      ["https://[::1]/", /loopback/],
      ["https://10.0.0.1/", /private/],
      ["https://169.254.169.254/latest/meta-data/", /link-local/],
      ["http://example.com/", /https/],
      ["https://localhost/", /loopback/],
    ] as const
  ) {
    const res = await app.fetch(`/api/v1/bots/${bot.id}/sources/url`, json({ url }, owner.auth));
    assert.equal(res.status, 422, url);
    assert.match((await res.json()).error.message, why, url);
  }
});

Deno.test("bots: a page is learnt and, retrained after it changed, replaced in one switch", async () => {
  const site = await startFakeWebsite();
  const app = await startTestApp({ env: { ALLOW_PRIVATE_URL_HOSTS: "127.0.0.1" } });
  try {
    site.pages.set(
      "/returns",
      "<html><head><title>Returns</title></head><body>" +
        "<h1>Returns</h1><p>Items may be returned within 30 days.</p></body></html>",
    );
    site.robots = "User-agent: *\nDisallow: /private\n";
    site.pages.set("/private/notes", "<p>secret</p>");
    const owner = await signup(app);
    const bot = await (await app.fetch("/api/v1/bots", json({ name: "Web" }, owner.auth))).json();
    const added = await (await app.fetch(
      `/api/v1/bots/${bot.id}/sources/url`,
      json({ url: `${site.url}/returns` }, owner.auth),
    )).json();
    const ready = await waitForSource(app, owner.auth, bot.id, added.id);
    assert.equal(ready.status, "ready", JSON.stringify(ready));
    assert.equal(ready.title, "Returns");
    const sql = app.server.db.sql;
    const chunks = async () =>
      (await sql`select content, version from bot_chunks where source_id = ${added.id}
                 order by ordinal`).map((r) => `${r.version}:${r.content}`);
    assert.deepEqual(await chunks(), ["1:Items may be returned within 30 days."]);

    site.pages.set("/returns", "<h1>Returns</h1><p>Items may be returned within 60 days.</p>");
    const retrained = await app.fetch(
      `/api/v1/bots/${bot.id}/sources/${added.id}/retrain`,
      json({}, owner.auth),
    );
    assert.equal(retrained.status, 200);
    assert.equal((await waitForSource(app, owner.auth, bot.id, added.id)).status, "ready");
    assert.deepEqual(await chunks(), ["2:Items may be returned within 60 days."]);

    const robots = await (await app.fetch(
      `/api/v1/bots/${bot.id}/sources/url`,
      json({ url: `${site.url}/private/notes` }, owner.auth),
    )).json();
    const refused = await waitForSource(app, owner.auth, bot.id, robots.id);
    assert.equal(
      refused.description,
      "failed: the site's robots.txt does not allow HurukuroBot to read it",
    );
  } finally {
    await app.close();
    await site.close();
  }
});

Deno.test("bots: the owner asks through the API and gets a streamed answer citing its source", async () => {
  await using app = await startTestApp();
  const owner = await signup(app, 50_000);
  const bot = await (await app.fetch("/api/v1/bots", json({ name: "Ask" }, owner.auth))).json();
  const text = await textSource(app, owner.auth, bot.id, {
    title: "Opening hours",
    text: "# Opening hours\n\nThe Harare shop opens at eight and closes at five.",
  });
  await waitForSource(app, owner.auth, bot.id, text.id);
  const res = await app.fetch(
    `/api/v1/bots/${bot.id}/messages`,
    json({ text: "When does the Harare shop open?" }, owner.auth),
  );
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const events = await readSse(res);
  const names = events.map((e) => e.event);
  assert.equal(names[0], "start");
  assert.ok(names.filter((n) => n === "delta").length > 2);
  assert.deepEqual(names.slice(-2), ["usage", "done"]);
  const answer = events.filter((e) => e.event === "delta").map((e) => e.data.text).join("");
  assert.match(answer, /\[1\]/);
  const usage = events.find((e) => e.event === "usage")!.data;
  assert.deepEqual(usage.citations, [
    { n: 1, sourceId: text.id, title: "Opening hours", url: null },
  ]);
  assert.ok((usage.cost as number) > 0);
  const [wallet] = await app.server.db.sql`
    select balance from ledger_accounts where user_id = ${owner.id}`;
  assert.equal(Number(wallet.balance), 50_000 - (usage.cost as number));
  // The bot's conversation stays out of its owner's own chat.
  const mine = await (await app.fetch("/api/v1/conversations", { headers: owner.auth })).json();
  assert.deepEqual(mine.conversations, []);
});
