/** Attachments told by their content: disguises, sizes, truncated and hostile files. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkAttachment } from "./attachments.ts";
import { csvCell } from "./export.ts";

const pdf = new TextEncoder().encode("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n");
const png = new Uint8Array([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  0,
  0,
  0,
  13,
  0x49,
  0x48,
  0x44,
  0x52,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  1,
  8,
  6,
  0,
  0,
  0,
]);

Deno.test("content decides; a name that says otherwise is a disguise", async () => {
  assert.equal((await checkAttachment(pdf, "report.pdf")).ok, true);
  assert.equal((await checkAttachment(pdf)).ok, true, "no name: content alone");
  const disguised = await checkAttachment(pdf, "photo.jpg");
  assert.equal(disguised.ok, false);
  assert.equal(!disguised.ok && disguised.reason, "disguised");
  const exe = await checkAttachment(pdf, "report.pdf.exe");
  assert.equal(!exe.ok && exe.reason, "disguised");
  assert.equal((await checkAttachment(png, "x.PNG")).ok, true);
  const empty = await checkAttachment(new Uint8Array(0), "a.jpg");
  assert.equal(!empty.ok && empty.reason, "empty");
  const text = await checkAttachment(new TextEncoder().encode("hello"), "notes.txt");
  assert.equal(!text.ok && text.reason, "type");
});

Deno.test("sizes are per type: 5 MB for images, 10 MB for PDFs", async () => {
  const big = new Uint8Array(6 * 1024 * 1024);
  big.set(pdf, 0);
  assert.equal((await checkAttachment(big, "big.pdf")).ok, true);
  big.set(png, 0);
  const image = await checkAttachment(big, "big.png");
  assert.equal(!image.ok && image.reason, "size");
  assert.match(!image.ok ? image.message : "", /a PNG image may be at most 5 MB/);
});

Deno.test("hostile files (truncated, garbage, huge or odd names) are refused in words, never thrown", async () => {
  const name = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.constantFrom(
      "",
      ".jpg",
      "a".repeat(5_000) + ".pdf",
      "\u0000.png",
      "x.jpg\u202egnp.exe",
      "../../etc/passwd",
    ),
  );
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 4_096 }),
    fc.nat({ max: pdf.length }).map((n) => pdf.slice(0, n)),
    fc.nat({ max: png.length }).map((n) => png.slice(0, n)),
  );
  await fc.assert(
    fc.asyncProperty(bytes, name, async (b, n) => {
      const check = await checkAttachment(b, n);
      if (!check.ok) {
        assert.ok(check.message.length < 400, check.message);
        assert.ok(!check.message.includes("\u0000"));
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("CSV cells cannot become formulas", () => {
  assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  for (const lead of ["+", "-", "@", "\t", "\r"]) assert.ok(csvCell(`${lead}1`).startsWith(`"'`));
  assert.equal(csvCell("plain"), '"plain"');
  assert.equal(csvCell(null), '""');
});
