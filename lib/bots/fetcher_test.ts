/**
 * Training URLs through the SSRF guard: private and metadata addresses are refused before any
 * connection, also when a public name resolves to one and when a redirect points at one;
 * robots.txt is honoured; size limits hold.
 */
import assert from "node:assert/strict";
import { fetchPage, parseSitemap, sitemapPages } from "./fetcher.ts";
import { ExtractionError } from "./extract.ts";
import { startFakeWebsite } from "../sandbox/website.ts";

const limits = { maxBytes: 1024 * 1024, timeoutMs: 5_000 };

async function refused(url: string, policy: Parameters<typeof fetchPage>[1], why: RegExp) {
  await assert.rejects(() => fetchPage(url, policy, limits), (error: Error) => {
    assert.ok(error instanceof ExtractionError, String(error));
    assert.match(error.message, why);
    return true;
  });
}

Deno.test("training URLs: loopback, private, link-local and metadata addresses are refused", async () => {
  await refused("https://127.0.0.1/", {}, /refused: 127\.0\.0\.1 is a loopback address/);
  await refused("https://[::1]/", {}, /refused: \[::1\] is a loopback address/);
  await refused("https://10.0.0.1/", {}, /refused: 10\.0\.0\.1 is a private address/);
  await refused("https://169.254.169.254/latest/meta-data/", {}, /link-local/);
});

Deno.test("training URLs: a public name that resolves to a private address is refused", async () => {
  const resolve = (host: string) =>
    Promise.resolve(host === "shop.example" ? ["93.184.216.34", "10.1.2.3"] : []);
  await refused("https://shop.example/faq", { resolve }, /shop\.example resolves to 10\.1\.2\.3/);
});

Deno.test("training URLs: a redirect to a private address is refused before it is followed", async () => {
  await using site = await startFakeWebsite();
  site.redirects.set("/moved", "https://169.254.169.254/latest/meta-data/");
  site.redirects.set("/inside", "http://10.0.0.1/admin");
  const policy = { allowHosts: ["127.0.0.1"] };
  await refused(`${site.url}/moved`, policy, /a redirect was refused: .*link-local/);
  await refused(`${site.url}/inside`, policy, /a redirect was refused: it must be an https/);
  assert.deepEqual(site.requested.filter((p) => p !== "/robots.txt"), ["/moved", "/inside"]);
});

Deno.test("training URLs: robots.txt, status codes and the size limit are honoured", async () => {
  await using site = await startFakeWebsite();
  const policy = { allowHosts: ["127.0.0.1"] };
  site.robots = "User-agent: HurukuroBot\nDisallow: /members\n\nUser-agent: *\nAllow: /\n";
  site.pages.set("/members/list", "<p>names</p>");
  site.pages.set("/big", "x".repeat(limits.maxBytes + 1));
  site.pages.set("/ok", "<p>fine</p>");
  await refused(`${site.url}/members/list`, policy, /robots\.txt does not allow HurukuroBot/);
  await refused(`${site.url}/missing`, policy, /answered 404/);
  await refused(`${site.url}/big`, policy, /larger than the 1 MB allowed/);
  const page = await fetchPage(`${site.url}/ok`, policy, limits);
  assert.equal(new TextDecoder().decode(page.bytes), "<p>fine</p>");
  assert.ok(!site.requested.includes("/members/list"), "a disallowed page is never requested");
});

Deno.test("sitemaps: pages of the sitemap's host, index followed, duplicates dropped", async () => {
  assert.deepEqual(
    parseSitemap(
      `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
       <url><loc>https://a.example/x</loc></url><url><loc> https://a.example/y </loc></url>
       <url><loc>not a url</loc></url></urlset>`,
    ),
    { pages: ["https://a.example/x", "https://a.example/y"], sitemaps: [] },
  );
  await using site = await startFakeWebsite();
  site.pages.set("/a", "<p>a</p>");
  site.pages.set("/b", "<p>b</p>");
  const pages = await sitemapPages(
    `${site.url}/sitemap.xml`,
    { allowHosts: ["127.0.0.1"] },
    limits,
    10,
  );
  assert.deepEqual(pages, [`${site.url}/a`, `${site.url}/b`]);
});
