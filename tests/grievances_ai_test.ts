/**
 * The classification job when the AI upstream fails: every attempt of the retry window fails,
 * the grievance stays `submitted` with the failure visible (task, API, the officers' queue), and
 * a retry after recovery classifies it exactly once — watched live on the event stream.
 */
import assert from "node:assert/strict";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { grievanceWorld } from "./fixtures/grievances.ts";
import { grievanceClassifyJob } from "../lib/grievances/jobs.ts";
import { JobFailure } from "../lib/jobs/types.ts";
import { createSession } from "../lib/accounts/credentials.ts";
import type { Enqueuer } from "../lib/jobs/types.ts";

/** Records nothing: the test runs the job's attempts itself, one by one. */
const held: Enqueuer = { enqueue: () => Promise.resolve({ id: "held", deduplicated: false }) };

Deno.test("an AI upstream failing for the whole retry window leaves the grievance submitted with the failure visible; a retry after recovery classifies it once", async () => {
  const openai = await startFakeOpenAI();
  const w = await grievanceWorld({
    env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: openai.baseUrl },
  });
  try {
    const sql = w.app.server.db.sql;
    const { grievances, queue } = w.app.server;
    const submitted = await grievances.submit(held, {
      channel: "web",
      description: "Uncollected refuse on the corner for three weeks.",
      phone: "0772000111",
    });
    const taskId = submitted.tasks[0].id;
    const handler = queue.handlers.find((h) => h.type.name === grievanceClassifyJob.name)!;
    const { maxAttempts, backoffMs } = grievanceClassifyJob.retry;
    assert.ok(backoffMs.every((ms, i) => i === 0 || ms > backoffMs[i - 1]), "backoff grows");

    openai.script(
      ...Array.from({ length: maxAttempts }, () => ({ kind: "server_error" as const })),
    );
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const run = handler.handle({ taskId }, queue.context, { id: `job-${attempt}`, attempt });
      if (attempt < maxAttempts) {
        await assert.rejects(run, JobFailure);
        const [task] = await sql`select status, attempts, error,
                                   extract(epoch from next_attempt_at - updated_at) * 1000 as wait
                                 from grievance_tasks where id = ${taskId}`;
        assert.equal(task.status, "queued");
        assert.equal(task.attempts, attempt);
        assert.match(task.error, /server had an error/);
        assert.ok(Math.abs(Number(task.wait) - backoffMs[attempt - 1]) < 1_000, `${task.wait}`);
      } else {
        await run; // the last attempt records the failure instead of throwing
      }
    }
    assert.equal(openai.calls("/v1/chat/completions").length, maxAttempts);

    const task = await w.api("GET", `/api/v1/tasks/${taskId}`, undefined, {});
    assert.equal(task.body.status, "failed");
    assert.match(String(task.body.error), /server had an error/);
    const failed = await w.api("GET", `/api/v1/grievances/${submitted.id}`);
    assert.equal(failed.body.status, "submitted");
    assert.equal((failed.body.ai as { status: string }).status, "failed");
    assert.deepEqual(
      (failed.body.history as { action: string }[]).map((h) => h.action),
      ["submitted", "classification_failed"],
    );
    // The officers' queue shows it, with a way to retry.
    const session = await createSession(sql, w.officer.id, { admin: true });
    const page = await w.app.fetch("/admin/grievances?failed=1", {
      headers: { cookie: `hk_session=${session.token}` },
    });
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, new RegExp(`${submitted.reference}[\\s\\S]*classification failed — retry`));

    // Recovered: an officer retries, watching the event stream.
    const events = await w.app.fetch("/api/v1/events", { headers: w.officer.headers });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const heard = (async () => {
      while (!seen.includes("event: classification_complete")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
    })();
    const retry = await w.api("POST", `/api/v1/grievances/${submitted.id}/classify`);
    assert.equal(retry.status, 202, retry.text);
    await w.waitFor("the retry's task to succeed", async () => {
      const t = await w.api("GET", `/api/v1/tasks/${retry.body.taskId}`, undefined, {});
      return t.body.status === "succeeded";
    });
    await Promise.race([heard, new Promise((r) => setTimeout(r, 5_000))]);
    await reader.cancel();
    assert.match(seen, /event: task_status\ndata: \{[^\n]*"status":"running"/);
    assert.match(seen, /event: task_status\ndata: \{[^\n]*"status":"succeeded"/);
    assert.match(
      seen,
      new RegExp(`event: classification_complete\\ndata: [^\\n]*${submitted.reference}`),
    );

    const again = await w.api("POST", `/api/v1/grievances/${submitted.id}/classify`);
    assert.equal(again.status, 409);
    const done = await w.api("GET", `/api/v1/grievances/${submitted.id}`);
    assert.equal(done.body.status, "classified");
    assert.deepEqual(
      (done.body.categories as { slug: string }[]).map((c) => c.slug),
      ["waste"],
    );
    const history = (done.body.history as { action: string }[]).map((h) => h.action);
    assert.deepEqual(history, ["submitted", "classification_failed", "retried", "classified"]);
    assert.equal(openai.calls("/v1/chat/completions").length, maxAttempts + 1, "classified once");
  } finally {
    await w.close();
    await openai.close();
  }
});
