/**
 * "Report a problem" on WhatsApp end to end: signed webhooks into the real app, media and
 * replies through the fake Graph API, classification and transcription by the fake
 * OpenAI-compatible server. The report ends classified with categories, a summary, the voice
 * note's transcript and an English translation; the complainant got the reference and, later,
 * the officer's answer.
 */
import assert from "node:assert/strict";
import { staffUser } from "./harness.ts";
import {
  metaAudio,
  metaButtonReply,
  metaImage,
  metaLocation,
  type MetaMessage,
  metaText,
} from "../lib/sandbox/whatsapp_sign.ts";
import { jpegBytes, oggOpusBytes } from "./fixtures/grievances.ts";
import { say as sayTo, setup } from "./whatsapp_app.ts";

Deno.test("a WhatsApp report with a photo and a voice note ends classified, and the complainant hears the reference and the answer", async () => {
  const t = await setup({ env: { OPENAI_TRANSCRIPTION_MODEL: "whisper-1" } });
  const { app, graph, openai } = t;
  const phone = "+263771000321";
  const say = (message: MetaMessage, expect = 1) => sayTo(t, phone, message, expect);
  const tap = (buttonId: string, title: string) =>
    say(metaButtonReply({ from: phone, buttonId, title }));
  try {
    const sql = app.server.db.sql;
    await say(metaText({ from: phone, text: "hello", name: "Chipo Dube" }));
    const [describe] = await say(metaText({ from: phone, text: "report a problem" }));
    assert.match(describe.text, /Describe the problem in your own words/);
    const [noText] = await say(
      metaImage({ from: phone, mediaId: await graph.addMedia(await jpegBytes(), "image/jpeg") }),
    );
    assert.match(noText.text, /describe the problem in a text message first/);

    const shona = "Hapana mvura kwemavhiki maviri mumugwagwa wedu. Pombi yakaputika.";
    const [attach] = await say(metaText({ from: phone, text: shona }));
    assert.match(attach.text, /Send photos, voice notes or documents/);
    assert.equal(attach.type, "interactive");

    const [photo] = await say(
      metaImage({ from: phone, mediaId: await graph.addMedia(await jpegBytes(), "image/jpeg") }),
    );
    assert.match(photo.text, /Got it \(1 of 5\)/);
    const big = new Uint8Array(6 * 1024 * 1024);
    big.set(await jpegBytes(), 0);
    const [tooBig] = await say(
      metaImage({ from: phone, mediaId: await graph.addMedia(big, "image/jpeg") }),
    );
    assert.match(tooBig.text, /too large: a JPEG image may be at most 5 MB/);
    const [voice] = await say(
      metaAudio({ from: phone, mediaId: await graph.addMedia(oggOpusBytes(), "audio/ogg") }),
    );
    assert.match(voice.text, /Got it \(2 of 5\)/);

    const [where] = await tap("report:done", "Done");
    assert.match(where.text, /Where is the problem\?/);
    const [confirm] = await say(
      metaLocation({ from: phone, latitude: -17.83, longitude: 31.05, address: "Mbare Musika" }),
    );
    assert.match(confirm.text, /Please check your report:[\s\S]*Attachments: 2[\s\S]*Mbare Musika/);
    const [sent] = await tap("report:send", "Send");
    const reference = sent.text.match(/\*(GRV-\d{4}-\d{5})\*/)?.[1];
    assert.ok(reference, sent.text);

    const until = Date.now() + 20_000;
    let row: Record<string, unknown> | undefined;
    while (Date.now() < until) {
      [row] =
        await sql`select id, status, ai_status from grievances where reference = ${reference}`;
      if (row?.ai_status === "done") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(row?.status, "classified");
    const { headers } = await staffUser(app, "chief@example.com", "admin");
    const detail = await (await app.fetch(`/api/v1/grievances/${row!.id}`, { headers })).json();
    assert.equal(detail.channel, "whatsapp");
    assert.equal(detail.complainant.phone, phone);
    assert.equal(detail.complainant.name, "Chipo Dube");
    assert.equal(detail.description, shona);
    assert.equal(detail.language, "sn");
    assert.ok(detail.categories.length > 0);
    assert.match(detail.summary, /Hapana mvura/);
    assert.match(detail.translation, /English translation of the Shona/);
    assert.match(detail.complainant.address, /Mbare Musika/);
    const audio = detail.attachments.find((a: { kind: string }) => a.kind === "audio");
    assert.match(audio.transcript, /^Voice note \(2000 bytes/);
    assert.equal(openai.calls("/v1/audio/transcriptions").length, 1);

    // The report's words left the channel's record.
    const [inbound] = await sql`select count(*)::int as n from whatsapp_inbound
                                where message::text like ${"%Hapana mvura%"}
                                   or message::text like ${"%Mbare%"}`;
    assert.equal(inbound.n, 0);

    const before = graph.messages.filter((m) => m.to === phone.slice(1)).length;
    const answer = await app.fetch(`/api/v1/grievances/${row!.id}/answer`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ text: "A team fixed the pipe this morning.", status: "resolved" }),
    });
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.deepEqual(await answer.json(), { via: "whatsapp" });
    const all = await graph.waitForMessages(before + 1, { to: phone, timeoutMs: 15_000 });
    const update = all[before];
    assert.match(
      update.text,
      new RegExp(`Update on your report ${reference}[\\s\\S]*Status: resolved`),
    );
  } finally {
    await t.close();
  }
});
