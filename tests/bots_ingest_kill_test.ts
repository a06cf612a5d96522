/**
 * A 10 MB PDF is learnt with live progress; the server is killed (SIGKILL) in the middle of it,
 * started again, and finishes the same version without storing any chunk twice.
 */
import assert from "node:assert/strict";
import { prepareStorage, signUp, startServerProcess } from "./harness.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { makePdf } from "./fixtures/documents.ts";

const LINE = "the quick brown fox jumps over the lazy dog near the river bank at dawn.";

Deno.test("a 10 MB PDF ingests with live progress; killed midway, the restart finishes it without duplicates", async () => {
  // Each embeddings call takes a while, so the run is long enough to be killed in the middle.
  const fake = await startFakeOpenAI({ firstTokenDelayMs: 250 });
  const storage = await prepareStorage();
  // Room for the file and for polling: the free plan's limits raised before the server starts.
  const db = await storage.openDatabase();
  await db.sql`update tiers set bot_file_max_bytes = 20971520, requests_per_minute = 100000`;
  await db.close();
  const env = {
    ...storage.env,
    OPENAI_API_KEY: FAKE_OPENAI_KEY,
    OPENAI_BASE_URL: fake.baseUrl,
  };
  const spawn = () => startServerProcess(env);
  try {
    const first = await spawn();
    const { auth } = await signUp(first.url, "pdf@example.com");
    const bot = await (await fetch(first.url + "/api/v1/bots", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "Manuals" }),
    })).json();
    const pdf = makePdf({
      pages: Array.from(
        { length: 120 },
        (_, p) => Array.from({ length: 40 }, (_, l) => `Page ${p} line ${l}: ${LINE}`),
      ),
      padToBytes: 10 * 1024 * 1024,
    });
    assert.ok(pdf.byteLength >= 10 * 1024 * 1024);
    const form = new FormData();
    form.set("file", new File([pdf as BlobPart], "manual.pdf"));
    const uploaded = await fetch(`${first.url}/api/v1/bots/${bot.id}/sources/file`, {
      method: "POST",
      headers: auth,
      body: form,
    });
    assert.equal(uploaded.status, 201, await uploaded.clone().text());
    const source = await uploaded.json();
    const sourceUrl = `/api/v1/bots/${bot.id}/sources/${source.id}`;
    const read = async (base: string) =>
      await (await fetch(base + sourceUrl, { headers: auth })).json();

    // Live progress, then the kill once some chunks (not all) are stored.
    const seen: string[] = [];
    let state = await read(first.url);
    const until = Date.now() + 30_000;
    while (!(state.status === "processing" && state.chunksDone > 0)) {
      if (seen.at(-1) !== state.description) seen.push(state.description);
      assert.ok(Date.now() < until, `still ${state.description}`);
      await new Promise((r) => setTimeout(r, 50));
      state = await read(first.url);
    }
    seen.push(state.description);
    assert.ok(state.chunksDone < state.chunksTotal, state.description);
    first.child.kill("SIGKILL");
    await first.child.status;
    const total = state.chunksTotal as number;
    assert.ok(total > 100, `${total} chunks`);
    assert.match(state.description, /^processing \d+\/\d+ chunks$/);

    // KV leases a delivered message for a few seconds: a restart after the lease finds the
    // killed run's message at once (tests/jobs_test.ts measures the same).
    await new Promise((r) => setTimeout(r, 6_000));
    const second = await spawn();
    try {
      const deadline = Date.now() + 40_000;
      for (;;) {
        state = await read(second.url);
        if (seen.at(-1) !== state.description) seen.push(state.description);
        if (state.status === "ready" || state.status === "failed") break;
        assert.ok(Date.now() < deadline, `still ${state.description}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(state.status, "ready", state.description);
      assert.equal(state.chunksTotal, total);
      assert.equal(state.chunksDone, total);
      assert.equal(state.version, 1, "the same version was finished, not a new one");
      const progress = seen.filter((d) => /^processing \d+\/\d+ chunks$/.test(d));
      assert.ok(progress.length >= 2, `progress seen: ${seen.join(" → ")}`);
    } finally {
      await second.stop();
    }
    const check = await storage.openDatabase();
    try {
      const [row] = await check.sql`
        select count(*)::int as n, count(distinct ordinal)::int as ordinals,
               count(distinct version)::int as versions, min(ordinal)::int as first,
               max(ordinal)::int as last
        from bot_chunks where source_id = ${source.id}`;
      assert.deepEqual(row, { n: total, ordinals: total, versions: 1, first: 0, last: total - 1 });
      const [dupes] = await check.sql`
        select count(*)::int as n from (
          select content from bot_chunks where source_id = ${source.id}
          group by content, heading having count(*) > 1) d`;
      assert.equal(dupes.n, 0, "no chunk stored twice");
    } finally {
      await check.close();
    }
  } finally {
    await fake.close();
    await storage.cleanup();
  }
});
