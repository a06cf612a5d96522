/**
 * A real server process (`deno run -A main.ts`) killed with SIGKILL in the middle of a burst of
 * WhatsApp replies, then started again on the same data: every user is answered, and a reply
 * goes out twice only if its send was in flight at the kill. WhatsApp offers no idempotency key,
 * so that is the floor (docs/whatsapp.md).
 */
import assert from "node:assert/strict";
import { prepareStorage, type ServerProcess, startServerProcess } from "./harness.ts";
import { startFakeGraphApi } from "../lib/sandbox/whatsapp_graph.ts";
import { findOrCreatePhoneUser } from "../lib/accounts/users.ts";
import { metaText, TEST_PHONE_NUMBER_ID } from "../lib/sandbox/whatsapp_sign.ts";
import { metaDelivery } from "./whatsapp_app.ts";

const APP_SECRET = "meta-app-secret-for-crash-tests";
/** Users writing at once, each for the first time. */
const USERS = 150;
/**
 * The kill comes once this many replies have reached the provider: early in the burst, while
 * the webhook and the reply jobs still compete for the database.
 */
const KILL_AFTER_SENDS = 5;

const digits = (phone: string) => phone.replace(/\D/g, "");

Deno.test("SIGKILL during a burst of replies: after the restart everyone is answered, and only sends in flight at the kill went twice", async () => {
  const storage = await prepareStorage();
  const graph = await startFakeGraphApi();
  const env = {
    ...storage.env,
    LOG_LEVEL: "info",
    WHATSAPP_TOKEN: graph.accessToken,
    WHATSAPP_PHONE_NUMBER_ID: TEST_PHONE_NUMBER_ID,
    WHATSAPP_APP_SECRET: APP_SECRET,
    WHATSAPP_VERIFY_TOKEN: "crash-test",
    WHATSAPP_GRAPH_URL: graph.url,
  };
  let server: ServerProcess | undefined;
  const phones = Array.from({ length: USERS }, (_, i) => `+2637750${String(i).padStart(5, "0")}`);
  try {
    // Customers with accounts already: the burst is about their replies.
    const db = await storage.openDatabase();
    for (const phone of phones) await findOrCreatePhoneUser(db.sql, phone);
    await db.close();

    server = await startServerProcess(env);
    const first = server;
    let killedAt = 0;
    const unsubscribe = graph.onMessage(() => {
      if (killedAt === 0 && graph.messages.length >= KILL_AFTER_SENDS) {
        first.child.kill("SIGKILL");
        killedAt = Date.now();
      }
    });
    // Delivered at once; those the kill cuts off are retried after the restart, as Meta does.
    const deliver = async (url: string, message: ReturnType<typeof metaText>) => {
      try {
        const res = await fetch(
          `${url}/api/whatsapp/webhook`,
          metaDelivery([message], { secret: APP_SECRET }),
        );
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    };
    const messages = phones.map((phone) => metaText({ from: phone, text: "hi" }));
    const delivered = await Promise.all(messages.map((m) => deliver(first.url, m)));
    await first.child.status;
    unsubscribe();
    assert.ok(killedAt > 0, "the kill came during the burst");

    const sends = [...graph.messages];

    // What the kill left behind is found by the reconciler once it is overdue (15 s), and on a
    // database server the dead process's per-phone leases expire within 30 s. That much time is
    // made to pass in the database, so the restart's first sweep finds it all.
    const after = await storage.openDatabase();
    // In flight at the kill: what reached the provider but was not yet recorded as sent (each is
    // one database write behind its send). Counted from the data, not from timings, so a slow
    // machine cannot blur it; what was recorded must never go again.
    const recorded = new Set(
      (await after.sql<{ phone: string }[]>`
        select phone from whatsapp_outbound where status = 'sent'`).map((r) => digits(r.phone)),
    );
    const inFlight = new Set(sends.map((m) => digits(m.to)).filter((to) => !recorded.has(to))).size;
    await after.sql`update whatsapp_inbound set received_at = received_at - interval '5 minutes'`;
    await after.sql`update whatsapp_outbound set created_at = created_at - interval '5 minutes'`;
    await after.sql`update whatsapp_leases set leased_until = now() - interval '1 second'`;
    await after.close();
    server = await startServerProcess(env);
    const second = server;
    const retried = await Promise.all(
      messages.map((m, i) => delivered[i] ? true : deliver(second.url, m)),
    );
    assert.ok(retried.every((ok) => ok), "every delivery is stored after the restart");
    for (const phone of phones) {
      await graph.waitForMessages(1, { to: phone, timeoutMs: 60_000 });
    }
    await new Promise((r) => setTimeout(r, 2_000)); // room for a late duplicate to show up

    const perPhone = new Map<string, number>();
    for (const m of graph.messages) perPhone.set(m.to, (perPhone.get(m.to) ?? 0) + 1);
    const twice = [...perPhone.values()].reduce((n, c) => n + c - 1, 0);
    console.log(
      `sends before the kill: ${sends.length}, in flight: ${inFlight}, sent twice: ${twice}`,
    );
    assert.equal(perPhone.size, USERS, "every user answered");
    const sentTo = new Map([...perPhone].map(([to, n]) => [digits(to), n]));
    const resent = [...recorded].filter((phone) => (sentTo.get(phone) ?? 0) > 1);
    assert.deepEqual(resent, [], "a reply recorded as sent before the kill went again");
    assert.ok(
      twice <= inFlight,
      `${twice} replies went twice; only the ${inFlight} in flight at the kill may`,
    );
  } finally {
    await server?.stop();
    await graph.close();
    await storage.cleanup();
  }
});
