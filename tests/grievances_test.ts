/**
 * Grievances through the API against the sandbox's fake AI: intake with attachments (refused by
 * content with clear messages), the background classification and its task status, personal
 * data sealed in every table yet found by exact phone and e-mail, tracking without enumeration,
 * and officers limited to their areas.
 */
import assert from "node:assert/strict";
import { createSession } from "../lib/accounts/credentials.ts";
import {
  exeBytes,
  grievanceWorld,
  jpegBytes,
  oggOpusBytes,
  pdfBytes,
} from "./fixtures/grievances.ts";

const year = () => new Date().getFullYear();

Deno.test("a report with a photo and a PDF gets a reference, is classified in the background, and its tasks say so", async () => {
  await using w = await grievanceWorld();
  const res = await w.report(
    {
      description: "There has been no water at our house for a week. The pipe burst.",
      phone: "0771234567",
      name: "Tendai Moyo",
    },
    [
      { name: "street.jpg", bytes: await jpegBytes() },
      { name: "letter.pdf", bytes: pdfBytes() },
    ],
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(String(res.body.reference), new RegExp(`^GRV-${year()}-00001$`));
  assert.deepEqual(res.body.refused, []);
  const tasks = res.body.tasks as { id: string; kind: string }[];
  assert.deepEqual(tasks.map((t) => t.kind).sort(), ["classify", "thumbnail"]);

  for (const task of tasks) {
    // Polled as staff (no per-minute limit to speak of); then read once as the anonymous
    // reporter, whose requests are counted per address.
    await w.waitFor(`task ${task.kind}`, async () => {
      const t = await w.api("GET", `/api/v1/tasks/${task.id}`);
      return t.body.status === "succeeded" && t.body;
    }, 60_000);
    const anonymous = await w.api("GET", `/api/v1/tasks/${task.id}`, undefined, {});
    assert.equal(anonymous.body.status, "succeeded", anonymous.text);
  }
  const [list] = [await w.api("GET", "/api/v1/grievances?phone=%2B263771234567")];
  assert.equal(list.status, 200, list.text);
  const found = (list.body.grievances as Record<string, unknown>[])[0];
  assert.equal(found.reference, res.body.reference);
  assert.equal(found.status, "classified");
  assert.deepEqual((found.categories as { slug: string }[]).map((c) => c.slug), ["water"]);
  assert.match(String(found.summary), /no water at our house/);
  assert.equal((found.complainant as { name: string }).name, "Tendai Moyo");

  const detail = await w.api("GET", `/api/v1/grievances/${found.id}`);
  const attachments = detail.body.attachments as {
    id: string;
    kind: string;
    hasThumbnail: boolean;
  }[];
  assert.deepEqual(attachments.map((a) => a.kind).sort(), ["document", "image"]);
  assert.ok(attachments.find((a) => a.kind === "image")!.hasThumbnail);
  const history = detail.body.history as { action: string }[];
  assert.deepEqual(history.map((h) => h.action), ["submitted", "classified"]);
  const image = attachments.find((a) => a.kind === "image")!;
  const file = await w.app.fetch(
    `/api/v1/grievances/${found.id}/attachments/${image.id}?thumbnail=1`,
    {
      headers: w.officer.headers,
    },
  );
  assert.equal(file.headers.get("content-type"), "image/jpeg");
  assert.ok((await file.arrayBuffer()).byteLength > 100);
  // Not for anyone else.
  const anonymous = await w.app.fetch(`/api/v1/grievances/${found.id}/attachments/${image.id}`);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
});

Deno.test("a .jpg that is a PDF, a 6 MB image and an .exe are refused with clear messages; no description is asked again", async () => {
  await using w = await grievanceWorld();
  const disguised = await w.report({ description: "Potholes on the main road" }, [
    { name: "photo.jpg", bytes: pdfBytes(), type: "image/jpeg" },
    { name: "tool.exe", bytes: exeBytes() },
    { name: "voice.ogg", bytes: oggOpusBytes() },
  ]);
  assert.equal(disguised.status, 201, JSON.stringify(disguised.body));
  const refused = disguised.body.refused as {
    filename: string;
    reason: string;
    message: string;
  }[];
  assert.deepEqual(refused.map((r) => [r.filename, r.reason]), [
    ["photo.jpg", "disguised"],
    ["tool.exe", "type"],
  ]);
  assert.match(refused[0].message, /named like a JPEG image but its content is a PDF document/);
  assert.match(
    refused[1].message,
    /not a type we accept .*We accept JPEG or PNG images up to 5 MB/,
  );

  const big = new Uint8Array(6 * 1024 * 1024);
  big.set(await jpegBytes(), 0);
  const tooLarge = await w.report({ description: "Photo of the dump" }, [
    { name: "dump.jpg", bytes: big },
  ]);
  assert.equal(tooLarge.status, 413, JSON.stringify(tooLarge.body));
  assert.match(
    (tooLarge.body.error as { message: string }).message,
    /"dump.jpg" is 6 MB: a JPEG image may be at most 5 MB/,
  );

  const empty = await w.report({ description: "   " });
  assert.equal(empty.status, 400);
  assert.match(
    (empty.body.error as { message: string }).message,
    /^description: describe the problem/,
  );

  const [counts] = await w.app.server.db.sql`select
    (select count(*)::int from grievances) as grievances,
    (select count(*)::int from grievance_attachments) as attachments`;
  assert.deepEqual(
    counts,
    { grievances: 1, attachments: 1 },
    "the voice note kept, nothing else",
  );
});

const PEOPLE = [
  {
    name: "Rudo Chikwanha",
    phone: "+263 77 555 0101",
    stored: "+263775550101",
    email: "Rudo.Chikwanha@Example.org",
    address: "14 Jacaranda Crescent, Avondale",
  },
  {
    name: "Sibusiso Ndlovu",
    phone: "0785550202",
    stored: "+263785550202",
    email: "sibu.ndlovu@example.net",
    address: "Stand 2231 Nkulumane Extension",
  },
];

Deno.test("a database dump shows no complainant's name, phone, e-mail or address; officers still find theirs by phone and e-mail", async () => {
  await using w = await grievanceWorld();
  for (const p of PEOPLE) {
    const res = await w.report({
      name: p.name,
      phone: p.phone,
      email: p.email,
      address: p.address,
      description: `My name is ${p.name}, call me on ${p.stored}: the clinic at ${p.address} ` +
        "has had no medicine since Monday.",
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const sql = w.app.server.db.sql;
  await w.waitFor("both classified", async () => {
    const [r] = await sql`select count(*)::int as n from grievances where ai_status = 'done'`;
    return r.n === 2;
  });
  // Every table's rows, as text.
  const tables = await sql`select table_name from information_schema.tables
                           where table_schema = current_schema() and table_type = 'BASE TABLE'`;
  let dump = "";
  for (const { table_name } of tables) {
    const rows = await sql.unsafe(`select t::text as row from "${table_name}" t`);
    dump += rows.map((r) => r.row).join("\n") + "\n";
  }
  assert.ok(dump.includes("GRV-"), "the dump has the grievances");
  for (const p of PEOPLE) {
    const digits = p.stored.slice(4);
    for (
      const secret of [
        p.name,
        p.stored,
        digits,
        p.email.toLowerCase(),
        p.email,
        p.address,
        "Jacaranda",
        "Nkulumane",
      ]
    ) {
      assert.ok(!dump.toLowerCase().includes(secret.toLowerCase()), `the dump shows ${secret}`);
    }
  }
  assert.ok(!dump.includes("no medicine"), "descriptions are sealed");

  for (const p of PEOPLE) {
    const byPhone = await w.api("GET", `/api/v1/grievances?phone=${encodeURIComponent(p.phone)}`);
    assert.equal(byPhone.status, 200, byPhone.text);
    const list = byPhone.body.grievances as { complainant: { name: string; email: string } }[];
    assert.deepEqual(list.map((g) => g.complainant.name), [p.name]);
    const byEmail = await w.api(
      "GET",
      `/api/v1/grievances?email=${encodeURIComponent(p.email.toUpperCase())}`,
    );
    assert.deepEqual(
      (byEmail.body.grievances as { complainant: { name: string } }[]).map((g) =>
        g.complainant.name
      ),
      [p.name],
    );
  }
  const nobody = await w.api("GET", "/api/v1/grievances?phone=%2B263770000000");
  assert.deepEqual(nobody.body.grievances, []);
  // Not for a user who is not staff.
  const user = await w.app.fetch("/api/v1/auth/signup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "curious@example.com", password: "long enough" }),
  }).then((r) => r.json());
  const refused = await w.api("GET", "/api/v1/grievances", undefined, {
    authorization: `Bearer ${user.accessToken}`,
  });
  assert.equal(refused.status, 403);
  // Logs mask phones and e-mails, and never carry names or addresses.
  const logs = w.app.logs.join("\n");
  for (const p of PEOPLE) {
    for (const secret of [p.name, p.stored, p.email.toLowerCase(), p.address]) {
      assert.ok(!logs.toLowerCase().includes(secret.toLowerCase()), `the logs show ${secret}`);
    }
  }
});

Deno.test("tracking: a reference with the wrong phone is the same not-found as an unknown one", async () => {
  await using w = await grievanceWorld();
  const made = await w.report({
    description: "Streetlights out on Fifth Street",
    phone: "0771112233",
  });
  const reference = String(made.body.reference);
  const track = (body: unknown) => w.api("POST", "/api/v1/grievances/track", body, {});
  const right = await track({ reference: reference.toLowerCase(), phone: "+263 771 112 233" });
  assert.equal(right.status, 200, right.text);
  assert.equal(right.body.reference, reference);
  const wrongPhone = await track({ reference, phone: "0779999999" });
  const unknown = await track({ reference: `GRV-${year()}-09999`, phone: "0771112233" });
  const garbage = await track({ reference: "nonsense", phone: "x" });
  for (const r of [wrongPhone, unknown, garbage]) {
    assert.equal(r.status, 404);
    assert.equal(r.text, unknown.text);
  }
});

Deno.test("an officer limited to an area gets 404 for grievances outside it, and does not see them listed", async () => {
  await using w = await grievanceWorld();
  const sql = w.app.server.db.sql;
  const [harare] = await sql`insert into grievance_areas (name) values ('Harare') returning id`;
  const [bulawayo] = await sql`insert into grievance_areas (name) values ('Bulawayo') returning id`;
  const inside = await w.report({ description: "Burst pipe", area: harare.id });
  const outside = await w.report({ description: "Burst pipe", area: bulawayo.id });
  assert.equal(outside.status, 201);
  await sql`insert into grievance_officer_areas (user_id, area_id) values (${w.officer.id}, ${harare.id})`;
  const [{ id: insideId }] = await sql`select id from grievances where reference = ${
    String(inside.body.reference)
  }`;
  const [{ id: outsideId }] = await sql`select id from grievances where reference = ${
    String(outside.body.reference)
  }`;
  assert.equal((await w.api("GET", `/api/v1/grievances/${insideId}`)).status, 200);
  const hidden = await w.api("GET", `/api/v1/grievances/${outsideId}`);
  assert.equal(hidden.status, 404);
  const assign = await w.api("POST", `/api/v1/grievances/${outsideId}/assign`, {
    assignee: "me",
  });
  assert.equal(assign.status, 404);
  const list = await w.api("GET", "/api/v1/grievances");
  assert.deepEqual(
    (list.body.grievances as { reference: string }[]).map((g) => g.reference),
    [inside.body.reference],
  );
  // The admin sees both.
  const all = await w.api("GET", "/api/v1/grievances", undefined, w.admin.headers);
  assert.equal((all.body.grievances as unknown[]).length, 2);
});

Deno.test("bulk status changes answer each grievance on its own; the CSV export cannot carry a formula", async () => {
  await using w = await grievanceWorld();
  const sql = w.app.server.db.sql;
  const [area] = await sql`insert into grievance_areas (name)
                           values ('=cmd|'' /C calc''!A0') returning id`;
  const ids: string[] = [];
  for (const description of ["Broken streetlight", "Blocked drain", "Noisy bar"]) {
    const made = await w.report({ description, area: area.id });
    const [row] = await sql`select id from grievances where reference = ${
      String(made.body.reference)
    }`;
    ids.push(row.id);
  }
  const resolve = await w.api("POST", `/api/v1/grievances/${ids[1]}/status`, {
    status: "resolved",
  });
  assert.equal(resolve.status, 200, resolve.text);
  const bulk = await w.api("POST", "/api/v1/grievances/bulk-status", {
    ids: [ids[0], ids[1], ids[2], "not-an-id"],
    status: "rejected",
    note: "Not ours to act on.",
  });
  assert.equal(bulk.status, 200, bulk.text);
  const results = bulk.body.results as { id: string; ok: boolean; error?: string }[];
  assert.deepEqual(results.map((r) => r.ok), [true, false, true, false]);
  assert.match(
    results[1].error!,
    /A resolved grievance cannot become rejected; it can become in_review/,
  );
  assert.match(results[3].error!, /does not exist/);
  const [{ n }] = await sql`select count(*)::int as n from grievances where status = 'rejected'`;
  assert.equal(n, 2);

  const session = await createSession(sql, w.officer.id, { admin: true });
  const csv = await w.app.fetch("/admin/grievances/export.csv", {
    headers: { cookie: `hk_session=${session.token}` },
  });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
  const text = await csv.text();
  const lines = text.trim().split("\r\n");
  assert.equal(lines.length, 4, text);
  assert.ok(lines.slice(1).every((l) => l.includes(`"'=cmd|' /C calc'!A0"`)), text);
  assert.ok(!/(^|,)"[=+\-@]/.test(text), "no cell starts with a formula character");
});
