/**
 * Summaries of the turns a chat's context budget drops (lib/chat/summaries.ts), end to end
 * against the fake OpenAI-compatible server: the `chat.summarize` job asks the configuration's
 * summary model, the summary is stored with what it covers, and the next prompt carries the
 * summary instead of those turns; without a summary model nothing of this happens. Also the
 * admin page's "Summary model" field.
 */
import assert from "node:assert/strict";
import {
  closing,
  credit,
  sleep,
  staffUser,
  startTestApp,
  type TestApp,
  waitFor,
} from "./harness.ts";
import { chatOnWhatsApp, startChatApp } from "./chat_app.ts";
import { defaultReply, type FakeRequest } from "../lib/sandbox/openai.ts";
import type { ChatServices } from "../lib/chat/mod.ts";
import { createUser } from "../lib/accounts/users.ts";
import { postForm, signedIn } from "./fixtures/forms.ts";

const CHAT_MODEL = "gpt-4o-mini";
const SUMMARY_MODEL = "summary-mini";
const SUMMARY_TEXT = "Folded summary: the user is asking numbered questions about baobab trees.";
const CREDIT = 1_000_000;

type ChatBody = { model: string; messages: Array<{ role: string; content: string }> };
const bodyOf = (r: FakeRequest) => r.body as ChatBody;

async function setup(summaryModel: string | null) {
  const chat = await startChatApp({
    model: { reply: (r) => r.model === SUMMARY_MODEL ? SUMMARY_TEXT : defaultReply(r) },
  });
  const sql = chat.app.server.db.sql;
  // A small budget: after a few exchanges the oldest turns no longer fit.
  await sql`update ai_configs set context_tokens = 400, summary_model = ${summaryModel}
            where is_default`;
  await sleep(1_100); // the configuration cache
  const user = await createUser(sql, {
    email: `s-${crypto.randomUUID()}@example.com`,
    password: "long enough password",
  });
  await credit(chat.app, user.id, CREDIT);
  const services: ChatServices = chat.app.server.chat;
  const ask = async (text: string) => {
    const result = await chatOnWhatsApp(services, user.id, text);
    assert.ok(result.ok, JSON.stringify(result));
    return result;
  };
  return closing({
    ...chat,
    fake: chat.openai,
    sql,
    userId: user.id,
    ask,
    calls: (model: string) =>
      chat.openai.calls("/v1/chat/completions").filter((r) => bodyOf(r).model === model),
  });
}

const question = (i: number) => `Question ${i}: tell me something about baobab trees.`;

/** Six questions in one conversation (its id): by the sixth the budget has dropped turns. */
async function askSix(t: Awaited<ReturnType<typeof setup>>): Promise<string> {
  let conversationId = "";
  for (let i = 1; i <= 6; i++) conversationId = (await t.ask(question(i))).conversationId;
  const lastChat = bodyOf(t.calls(CHAT_MODEL).at(-1)!).messages;
  assert.ok(!lastChat.some((m) => m.content === question(1)), "the budget dropped turns");
  return conversationId;
}

Deno.test("summaries: dropped turns are folded by the summary model; the next prompt sends the summary instead of them", async () => {
  await using t = await setup(SUMMARY_MODEL);
  const conversationId = await askSix(t);

  const row = await waitFor("the summary", async () => {
    const [c] = await t.sql`select summary, summary_through, summary_tokens_in,
                                   summary_tokens_out
                            from conversations where id = ${conversationId}`;
    return c.summary ? c : null;
  });
  assert.equal(row.summary, SUMMARY_TEXT);
  assert.ok(row.summary_through instanceof Date);
  assert.ok(row.summary_tokens_in > 0 && row.summary_tokens_out > 0, "its tokens recorded");

  // The fake saw the summary model asked, with the dropped turns in the request.
  const summaryCalls = t.calls(SUMMARY_MODEL);
  assert.ok(summaryCalls.length >= 1);
  const folded = bodyOf(summaryCalls[0]).messages.map((m) => m.content).join("\n");
  assert.ok(folded.includes(question(1)), "the dropped turn is what gets summarised");
  assert.ok(!folded.includes(question(6)), "a kept turn is not");

  // An operating cost: the wallet paid for the answers only.
  const [spent] = await t.sql`select coalesce(sum(cost), 0)::bigint as total from messages
                              where user_id = ${t.userId}`;
  const [wallet] = await t.sql`select balance from ledger_accounts
                               where user_id = ${t.userId}`;
  assert.equal(Number(wallet.balance), CREDIT - Number(spent.total));

  // The next answer carries the summary and none of the turns it covers — even with room for
  // every turn, so it is the summary, not the budget, that leaves them out. (Compared in SQL:
  // a JS Date would lose the timestamps' microseconds.)
  await t.sql`update ai_configs set context_tokens = 100000 where is_default`;
  await sleep(1_100); // the configuration cache
  const covered = await t.sql`select content from messages
                              where conversation_id = ${conversationId} and content <> ''
                                and created_at <= (select summary_through from conversations
                                                   where id = ${conversationId})`;
  assert.ok(covered.length >= 2, `${covered.length} turns covered`);
  const later = await t.sql`select content from messages
                            where conversation_id = ${conversationId} and content <> ''
                              and created_at > (select summary_through from conversations
                                                where id = ${conversationId})`;
  const before = t.calls(CHAT_MODEL).length;
  await t.ask(question(7));
  const next = bodyOf(t.calls(CHAT_MODEL)[before]).messages;
  assert.ok(
    next.some((m) => m.role === "system" && m.content.includes(SUMMARY_TEXT)),
    "the summary is sent",
  );
  for (const { content } of covered) {
    assert.ok(!next.some((m) => m.content === content), `covered turn sent again: ${content}`);
  }
  for (const { content } of later) {
    assert.ok(next.some((m) => m.content === content), `uncovered turn missing: ${content}`);
  }
  assert.equal(next.at(-1)!.content, question(7));
});

Deno.test("summaries: without a summary model, dropped turns are only dropped and no summary call is made", async () => {
  await using t = await setup(null);
  const conversationId = await askSix(t);
  await sleep(1_000); // time for a (wrongly) queued job to run
  const calls = t.fake.calls("/v1/chat/completions");
  assert.equal(calls.length, 6);
  assert.ok(calls.every((r) => bodyOf(r).model === CHAT_MODEL), "only answers were asked");
  const [c] = await t.sql`select summary, summary_through from conversations
                          where id = ${conversationId}`;
  assert.equal(c.summary, null);
  assert.equal(c.summary_through, null);
});

Deno.test("admin settings: the summary model of an AI configuration is saved, audited, emptied to turn it off, validated", async () => {
  const app: TestApp = await startTestApp();
  try {
    const sql = app.server.db.sql;
    const admin = await staffUser(app, "boss@example.com", "admin");
    const visit = await signedIn(app, admin.id, true);
    const { cookie } = visit;
    const [row] = await sql`select id, model, base_url from ai_configs where name = 'default'`;
    const submit = async (fields: Record<string, string>) => {
      const res = await postForm(app, `/admin/settings/ai/${row.id}`, visit, {
        model: row.model,
        base_url: row.base_url ?? "",
        temperature: "0.7",
        max_output_tokens: "1024",
        price_input_per_1k: "1000",
        price_output_per_1k: "1000",
        active: "on",
        ...fields,
      });
      await res.body?.cancel();
      assert.equal(res.status, 303);
      return res.headers.get("location");
    };
    const stored = async () =>
      (await sql`select summary_model from ai_configs where id = ${row.id}`)[0].summary_model;

    const page = await app.fetch("/admin/settings", { headers: { cookie } });
    assert.match(await page.text(), /name="summary_model"/);

    assert.equal(await submit({ summary_model: " gpt-4o-mini " }), "/admin/settings?notice=saved");
    assert.equal(await stored(), "gpt-4o-mini");
    const [audit] = await sql`select before, after from audit_log
                              where action = 'ai_config.update' order by id desc limit 1`;
    assert.deepEqual([audit.before.summary_model, audit.after.summary_model], [
      null,
      "gpt-4o-mini",
    ]);

    assert.match((await submit({ summary_model: "two words" }))!, /problem=invalid/);
    assert.equal(await stored(), "gpt-4o-mini", "a malformed model changes nothing");

    assert.equal(await submit({ summary_model: "" }), "/admin/settings?notice=saved");
    assert.equal(await stored(), null, "empty turns summaries off");
  } finally {
    await app.close();
  }
});
