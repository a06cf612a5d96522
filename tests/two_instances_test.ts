/**
 * Two server processes (main.ts, production configuration, each its own DATA_DIR, one
 * PostgreSQL) behind a round-robin balancer run by this test, every upstream faked
 * (lib/sandbox/): they behave as one system.
 *
 * - Every WhatsApp message is answered once, in order per phone, whichever instance stores,
 *   answers or sends it.
 * - A per-minute limit of 20 refuses the 21st request, however the requests are spread.
 * - The sends to the Graph API stay within WHATSAPP_SEND_RATE in all, and 250 ms apart per user.
 * - One instance killed (SIGKILL) in a burst: the other finishes the work within 60 s, and a
 *   reply goes twice only if its send was in flight at the kill.
 * - An answer's stream cut on one instance resumes on either with the rest, once, and the model
 *   is called once.
 */
import assert from "node:assert/strict";
import { prepareStorage, type ServerProcess, startServerProcess } from "./harness.ts";
import { type RecordedMessage, startFakeGraphApi } from "../lib/sandbox/whatsapp_graph.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { startFakePaynow } from "../lib/sandbox/paynow.ts";
import { startFakeSmtp } from "../lib/sandbox/smtp.ts";
import { type MetaMessage, metaText, TEST_PHONE_NUMBER_ID } from "../lib/sandbox/whatsapp_sign.ts";
import { metaDelivery } from "./whatsapp_app.ts";
import { findOrCreatePhoneUser } from "../lib/accounts/users.ts";
import { post } from "../lib/wallet/ledger.ts";
import type { Database } from "../lib/db/mod.ts";
import { readSse } from "./chat_sse.ts";

const SEND_RATE = 10;
const PER_USER_GAP_MS = 250;
const META_SECRET = "meta-app-secret-for-two-instances";
const PAYNOW_KEY = "7b0f6c2e-9a0e-4c59-9c2b-3b0f6d1d2a10";
/** Phones writing at once, and messages each, in the ordering/pacing burst and the kill burst. */
const ORDERED = { phones: 24, messages: 5 };
const KILLED = { phones: 30, messages: 3 };
/** Messages of the one user who writes fast, alone (the gap to one user is what binds). */
const CHATTY_MESSAGES = 8;
/** The kill comes once this many replies of the second burst have reached the provider. */
const KILL_AFTER_SENDS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const digits = (phone: string) => phone.replace(/\D/g, "");

/**
 * A round-robin balancer: each request goes to the next instance; one that cannot be reached is
 * taken out and the request goes to the next one (a balancer's passive health check; Meta also
 * retries a webhook that failed).
 */
function startBalancer() {
  const backends: string[] = [];
  const down = new Set<string>();
  let next = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const headers = new Headers(req.headers);
    headers.delete("host");
    for (let tried = 0; tried < backends.length; tried++) {
      const backend = backends[next++ % backends.length];
      if (down.has(backend)) continue;
      try {
        const res = await fetch(backend + url.pathname + url.search, {
          method: req.method,
          headers,
          body,
          redirect: "manual",
        });
        return new Response(res.body, { status: res.status, headers: res.headers });
      } catch {
        down.add(backend);
      }
    }
    return new Response("no instance answered", { status: 502 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, backends, close: () => server.shutdown() };
}

/** Phones with an account, tokens, and a WhatsApp session already in Chat (answers by the AI). */
async function chattingPhones(db: Database, prefix: string, count: number): Promise<string[]> {
  const phones = Array.from(
    { length: count },
    (_, i) => `+2637${prefix}${String(i).padStart(5, "0")}`,
  );
  for (const phone of phones) {
    const { user } = await findOrCreatePhoneUser(db.sql, phone);
    await db.sql`update users set tier = 'pro' where id = ${user.id}`;
    await post(db.sql, {
      userId: user.id,
      kind: "purchase_credit",
      delta: 1_000_000,
      idempotencyKey: `two-instances:${phone}`,
      description: "test credit",
    });
    const session = { state: { flow: "chat" }, activity: "chat", chatAt: null };
    await db.sql`insert into whatsapp_sessions (phone, user_id, state, last_inbound_at)
                 values (${phone}, ${user.id}, ${db.sql.json(session)}, now())`;
  }
  return phones;
}

/** Which question a reply answers (the fake model repeats it: `You asked: "q3". …`). */
const answered = (m: RecordedMessage) => m.text.match(/You asked: "(q\d+)"/)?.[1] ?? m.text;

/** The shortest time between two messages to one of `phones`. */
function closestGap(phones: string[], messages: readonly RecordedMessage[]): number {
  let closest = Infinity;
  for (const phone of phones) {
    const at = messages.filter((m) => m.to === digits(phone)).map((m) => m.receivedAt);
    for (let i = 1; i < at.length; i++) closest = Math.min(closest, at[i] - at[i - 1]);
  }
  return closest;
}

/** The most sends that reached the provider within any `windowMs`. */
function mostWithin(messages: readonly RecordedMessage[], windowMs: number): number {
  const at = messages.map((m) => m.receivedAt).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i] - at[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

Deno.test({
  name:
    "two instances behind a balancer behave as one: WhatsApp order, one limit, one send budget, takeover after a kill",
  // Two processes on one database need a database server; the embedded one is one process's.
  ignore: !Deno.env.get("DATABASE_URL"),
  async fn() {
    const storage = await prepareStorage();
    const graph = await startFakeGraphApi();
    const openai = await startFakeOpenAI();
    const paynow = await startFakePaynow({ integrations: { "1201": PAYNOW_KEY } });
    const smtp = await startFakeSmtp();
    const balancer = startBalancer();
    const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    const servers: ServerProcess[] = [];
    const db = await storage.openDatabase();
    try {
      const env = (dataDir: string) => ({
        DATABASE_URL: storage.env.DATABASE_URL,
        DATA_DIR: dataDir,
        HURUKURO_ENV: "production",
        HOST: "127.0.0.1",
        PORT: "0",
        LOG_LEVEL: "info",
        PUBLIC_URL: balancer.url,
        APP_SECRET: "two-instances-app-secret-of-at-least-32-bytes",
        ENCRYPTION_KEY: btoa(String.fromCharCode(...new Uint8Array(32).fill(7))),
        METRICS_TOKEN: "two-instances-metrics-token",
        OPENAI_API_KEY: FAKE_OPENAI_KEY,
        OPENAI_BASE_URL: openai.baseUrl,
        WHATSAPP_TOKEN: graph.accessToken,
        WHATSAPP_PHONE_NUMBER_ID: TEST_PHONE_NUMBER_ID,
        WHATSAPP_APP_SECRET: META_SECRET,
        WHATSAPP_VERIFY_TOKEN: "two-instances",
        WHATSAPP_GRAPH_URL: graph.url,
        WHATSAPP_SEND_RATE: String(SEND_RATE),
        PAYNOW_INTEGRATION_ID: "1201",
        PAYNOW_INTEGRATION_KEY: PAYNOW_KEY,
        PAYNOW_AUTH_EMAIL: "merchant@hurukuro.example",
        PAYNOW_BASE_URL: paynow.url,
        SMTP_URL: smtp.url,
        MAIL_FROM: "Hurukuro <no-reply@hurukuro.example>",
      });
      servers.push(...await Promise.all(dirs.map((dir) => startServerProcess(env(dir)))));
      balancer.backends.push(...servers.map((s) => s.url));

      // Each instance sees both (at its next heartbeat at the latest), in /health.
      const liveOn = async (url: string) =>
        (await (await fetch(`${url}/health`)).json()).instances.live.length as number;
      const until = Date.now() + 10_000;
      while ((await liveOn(servers[0].url)) < 2 || (await liveOn(servers[1].url)) < 2) {
        assert.ok(Date.now() < until, "the instances did not see each other within 10 s");
        await sleep(200);
      }

      // ---- an answer cut on one instance resumes on the other: the rest once, one call ------
      const asker = await fetch(`${balancer.url}/api/v1/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "resume@example.com", password: "correct horse battery" }),
      });
      assert.equal(asker.status, 201, await asker.clone().text());
      const askerBody = await asker.json();
      await post(db.sql, {
        userId: askerBody.user.id,
        kind: "purchase_credit",
        delta: 100_000,
        idempotencyKey: "two-instances:resume",
        description: "test credit",
      });
      const askerAuth = { authorization: `Bearer ${askerBody.accessToken}` };
      const callsBefore = openai.calls("/v1/chat/completions").length;
      openai.script({
        kind: "reply",
        text: "Mosi-oa-Tunya thunders. ".repeat(40),
        deltaDelayMs: 30,
      });
      const asked = await fetch(`${balancer.url}/api/v1/chats`, {
        method: "POST",
        headers: { "content-type": "application/json", ...askerAuth },
        body: JSON.stringify({ text: "Tell me about Victoria Falls" }),
      });
      assert.equal(asked.status, 200, await asked.clone().text());
      let seenDeltas = 0;
      const cut = await readSse(asked, {
        onEvent: (e) => e.event !== "delta" || ++seenDeltas < 5,
      });
      const answerId = cut[0].data.messageId as string;
      const cutAt = cut.at(-1)!.id;
      // Resumed on each instance at once: one generates the answer, the other reads it from the
      // database; both get the rest, once.
      const resumed = await Promise.all(servers.map(async (s) => {
        const res = await fetch(`${s.url}/api/v1/messages/${answerId}/stream`, {
          headers: { ...askerAuth, "last-event-id": String(cutAt) },
        });
        assert.equal(res.status, 200);
        return readSse(res);
      }));
      const [stored] = await db.sql`select content, status from messages where id = ${answerId}`;
      assert.equal(stored.status, "complete");
      for (const rest of resumed) {
        assert.deepEqual(
          rest.map((e) => e.id),
          rest.map((_, i) => cutAt + 1 + i),
          "no gap, no repeat",
        );
        assert.equal(rest.at(-1)!.event, "done");
        const text = [...cut, ...rest].filter((e) => e.event === "delta").map((e) => e.data.text);
        assert.equal(text.join(""), stored.content, "every delta once");
        assert.ok(
          rest.filter((e) => e.event === "delta").length > 20,
          "most of it came after the cut",
        );
      }
      assert.equal(openai.calls("/v1/chat/completions").length - callsBefore, 1, "one model call");

      const deliver = async (message: MetaMessage) => {
        const res = await fetch(
          `${balancer.url}/api/whatsapp/webhook`,
          metaDelivery([message], { secret: META_SECRET }),
        );
        await res.body?.cancel();
        assert.equal(res.status, 200);
      };
      const burst = (phones: string[], messages: number) =>
        Promise.all(phones.map(async (phone) => {
          for (let k = 1; k <= messages; k++) {
            await deliver(metaText({ from: phone, text: `q${k}` }));
          }
        }));
      const repliesTo = (phone: string, among: RecordedMessage[]) =>
        among.filter((m) => m.to === digits(phone));

      // ---- every message answered once, in order; one send budget; the gap per user -------
      const ordered = await chattingPhones(db, "71", ORDERED.phones);
      await burst(ordered, ORDERED.messages);
      for (const phone of ordered) {
        await graph.waitForMessages(ORDERED.messages, { to: phone, timeoutMs: 60_000 });
      }
      await sleep(1_000); // room for a late duplicate to show up
      const first = [...graph.messages];
      const questions = Array.from({ length: ORDERED.messages }, (_, i) => `q${i + 1}`);
      for (const phone of ordered) {
        assert.deepEqual(repliesTo(phone, first).map(answered), questions, `replies to ${phone}`);
      }
      const most = mostWithin(first, 10_000);
      // Each instance's pacing may take one send at the window's edge.
      assert.ok(most <= SEND_RATE * 10 + 2, `${most} sends within 10 s at ${SEND_RATE} a second`);
      // One user writing fast, alone: the rate would let the replies go closer than the gap.
      const [chatty] = await chattingPhones(db, "73", 1);
      const beforeChatty = graph.messages.length;
      await burst([chatty], CHATTY_MESSAGES);
      await graph.waitForMessages(CHATTY_MESSAGES, { to: chatty, timeoutMs: 30_000 });
      const chattyReplies = graph.messages.slice(beforeChatty);
      assert.deepEqual(
        repliesTo(chatty, chattyReplies).map(answered),
        Array.from({ length: CHATTY_MESSAGES }, (_, i) => `q${i + 1}`),
      );
      const closest = closestGap([...ordered, chatty], graph.messages);
      // Stamped by the fake in this process, paced in the servers': a few ms of scheduling.
      assert.ok(closest >= PER_USER_GAP_MS - 10, `two messages to one user ${closest} ms apart`);
      console.log(
        `${first.length} replies; most within 10 s: ${most}; ` +
          `closest to one user: ${closest} ms (alone: ${closestGap([chatty], chattyReplies)} ms)`,
      );

      // ---- one per-minute limit: the 21st request of 20 a minute is refused ---------------
      const signup = await fetch(`${balancer.url}/api/v1/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "two@example.com", password: "correct horse battery" }),
      });
      assert.equal(signup.status, 201, await signup.clone().text());
      const auth = { authorization: `Bearer ${(await signup.json()).accessToken}` };
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 50);
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) {
        const res = await fetch(`${balancer.url}/api/v1/me`, { headers: auth });
        await res.body?.cancel();
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [...Array(20).fill(200), 429]);

      // ---- one instance killed in a burst: the other finishes within 60 s -----------------
      const doomed = servers[0];
      const killedPhones = await chattingPhones(db, "72", KILLED.phones);
      const before = graph.messages.length;
      let killedAt = 0;
      const unsubscribe = graph.onMessage(() => {
        if (killedAt === 0 && graph.messages.length - before >= KILL_AFTER_SENDS) {
          doomed.child.kill("SIGKILL");
          killedAt = Date.now();
        }
      });
      await burst(killedPhones, KILLED.messages);
      for (const phone of killedPhones) {
        await graph.waitForMessages(KILLED.messages, { to: phone, timeoutMs: 75_000 });
      }
      const finishedAt = Date.now();
      unsubscribe();
      assert.ok(killedAt > 0, "the kill came during the burst");
      assert.ok(
        finishedAt - killedAt <= 60_000,
        `the work was finished ${finishedAt - killedAt} ms after the kill`,
      );
      await sleep(2_000); // room for a late duplicate to show up
      const second = graph.messages.slice(before);
      // In flight at the kill: what reached the provider and was never recorded as sent (the
      // dead instance's sends: the survivor records each of its own).
      const recorded = new Set(
        (await db.sql<{ id: string }[]>`
          select provider_message_id as id from whatsapp_outbound
          where provider_message_id is not null`).map((r) => r.id),
      );
      const inFlight = second.filter((m) => !recorded.has(m.id));
      for (const m of inFlight) {
        assert.ok(m.receivedAt <= killedAt + 500, "a send not recorded came after the kill");
      }
      let twice = 0;
      for (const phone of killedPhones) {
        const replies = repliesTo(phone, second).map(answered);
        assert.deepEqual(
          [...new Set(replies)].sort(),
          Array.from({ length: KILLED.messages }, (_, i) => `q${i + 1}`),
          `every message of ${phone} answered`,
        );
        twice += replies.length - KILLED.messages;
      }
      console.log(
        `kill after ${KILL_AFTER_SENDS} sends; finished ${finishedAt - killedAt} ms later; ` +
          `in flight: ${inFlight.length}, sent twice: ${twice}`,
      );
      assert.ok(twice <= inFlight.length, `${twice} went twice; ${inFlight.length} were in flight`);

      // The survivor has the whole budget now: it alone is live.
      const health = await (await fetch(`${balancer.url}/health`)).json();
      assert.deepEqual(health.instances.live.map((i: { id: string }) => i.id), [
        health.instances.self,
      ]);
    } catch (error) {
      for (const [i, s] of servers.entries()) console.error(`--- instance ${i}:\n${s.tail()}`);
      throw error;
    } finally {
      for (const server of servers) await server.stop();
      await db.close();
      await balancer.close();
      await Promise.all([graph.close(), openai.close(), paynow.close(), smtp.close()]);
      for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
      await storage.cleanup();
    }
  },
});
