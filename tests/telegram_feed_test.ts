/**
 * Every conversation's messages, whatever their channel, in the staff's live feed
 * (`/admin/api/feed`, SSE) and, once an admin routes `conversation.message` to a topic, mirrored
 * to its channels (Slack here), a question and its answer in one post, once; not by default.
 */
import assert from "node:assert/strict";
import { answerOnce } from "../lib/chat/mod.ts";
import type { FeedEvent } from "../lib/metrics/feed.ts";
import { startFakeSlack } from "../lib/sandbox/slack.ts";
import { readSse } from "./chat_sse.ts";
import { slackTopic } from "./fixtures/notifications.ts";
import { linkCode, say, settled, setupTelegram, signedInUser, sleep } from "./telegram_app.ts";

const CHAT = 6_660_001;

Deno.test("a Telegram message and its answer show up live in the staff feed over SSE, beside the web's", async () => {
  const t = await setupTelegram();
  const abort = new AbortController();
  try {
    const admin = await signedInUser(t.app, "ops@example.com", { admin: true });
    const user = await signedInUser(t.app, "tendai@example.com", { tokens: 100_000 });
    await say(t, CHAT, `/link ${await linkCode(user)}`, 2);
    await say(t, CHAT, "/chat");

    const res = await t.app.fetch("/admin/api/feed", {
      headers: { cookie: admin.cookie },
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const seen: FeedEvent[] = [];
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => ready = resolve);
    const wanted = (e: FeedEvent) => e.kind === "message";
    const reading = readSse(res, {
      onEvent(e) {
        if (e.event === "ready") ready();
        if (e.event === "feed" && wanted(e.data as unknown as FeedEvent)) {
          seen.push(e.data as unknown as FeedEvent);
        }
        return seen.length < 4;
      },
    }).catch(() => []);
    await isReady;

    await say(t, CHAT, "Which rivers cross Harare? Write to me at tendai@example.com");
    // The same person on the web, for comparison: every channel is in the feed.
    const web = await answerOnce(t.app.server.chat, {
      userId: user.user.id,
      mode: "essay",
      channel: "web",
      text: "And from the web?",
    });
    assert.ok(web.ok);
    const until = Date.now() + 15_000;
    while (seen.length < 4 && Date.now() < until) await sleep(50);
    abort.abort();
    await reading;

    const titles = seen.map((e) => e.title).sort();
    assert.deepEqual(titles, [
      "Answer on Telegram",
      "Answer on the web",
      "Message on Telegram",
      "Message on the web",
    ]);
    const asked = seen.find((e) => e.title === "Message on Telegram")!;
    assert.match(asked.detail, /^Which rivers cross Harare\? Write to me at t\*\*\*@e\*\*\*\.com$/);
    const [conversation] = await t.app.server.db.sql`
      select id from conversations where channel = 'telegram'`;
    assert.equal(asked.href, `/admin/conversations/${conversation.id}`);
    assert.match(seen.find((e) => e.title === "Answer on Telegram")!.detail, /^You asked:/);
    assert.equal(new Set(seen.map((e) => e.id)).size, 4, "each once");

    // Not for anyone else.
    const denied = await t.app.fetch("/admin/api/feed", { headers: { cookie: user.cookie } });
    await denied.body?.cancel();
    assert.notEqual(denied.status, 200);
  } finally {
    abort.abort();
    await t.close();
  }
});

Deno.test("messages are mirrored to Slack once an admin routes them to a topic, once each; not before", async () => {
  const slack = await startFakeSlack();
  const t = await setupTelegram({ env: { SLACK_TOKEN: slack.token, SLACK_API_URL: slack.url } });
  try {
    const notifications = t.app.server.notifications;
    const user = await signedInUser(t.app, "rudo@example.com", { tokens: 100_000 });
    await say(t, CHAT, `/link ${await linkCode(user)}`, 2);
    await say(t, CHAT, "/chat");
    await say(t, CHAT, "Not mirrored: nobody asked for it");
    await settled(t.app);
    await sleep(500);
    assert.equal(slack.messages.length, 0, "off by default");

    const { topic } = await slackTopic(notifications, "conversations", "#conversations");
    await notifications.events.route("conversation.message", topic.id);

    await say(t, CHAT, "Mirrored: what is 2 + 2?");
    const [turn] = await slack.waitForMessages(1, { timeoutMs: 15_000 });
    assert.equal(turn.channel, "#conversations");
    assert.match(turn.text, /Message on Telegram/);
    assert.match(turn.text, /From r\*\*\*@e\*\*\*\.com, chat, \/admin\/conversations\//);
    // The question, then its answer, in one post.
    assert.match(
      turn.text,
      /\*Asked:\* Mirrored: what is 2 \+ 2\?\n\n\*Answer:\* You asked: "Mirrored: what is 2 \+ 2\?"/,
    );
    await sleep(500);
    assert.equal(slack.messages.length, 1, "each message once");
  } finally {
    await t.close();
    await slack.close();
  }
});
