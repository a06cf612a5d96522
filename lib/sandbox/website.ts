/**
 * A fake website on a loopback port, for training bots on pages in tests and the sandbox:
 * pages (HTML or any bytes) set by path, a robots.txt, a sitemap made of the pages, redirects,
 * and a record of what was requested.
 *
 * @example
 * await using site = await startFakeWebsite();
 * site.pages.set("/returns", "<h1>Returns</h1><p>Within 30 days.</p>");
 * site.redirects.set("/old", "http://10.0.0.1/"); // a redirect the crawler must refuse
 */
export interface FakeWebsite {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Path → HTML text (served as text/html) or bytes (served as their `types` entry). */
  pages: Map<string, string | Uint8Array>;
  types: Map<string, string>;
  /** Path → where it redirects (302). */
  redirects: Map<string, string>;
  /** The robots.txt served; null → 404. */
  robots: string | null;
  /** Paths requested, in order. */
  readonly requested: string[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export function startFakeWebsite(): Promise<FakeWebsite> {
  const site = {
    pages: new Map<string, string | Uint8Array>(),
    types: new Map<string, string>(),
    redirects: new Map<string, string>(),
    robots: null as string | null,
    requested: [] as string[],
  };
  let base = "";
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req): Response => {
    const path = new URL(req.url).pathname;
    site.requested.push(path);
    if (path === "/robots.txt") {
      return site.robots === null
        ? new Response("not found", { status: 404 })
        : new Response(site.robots, { headers: { "content-type": "text/plain" } });
    }
    const target = site.redirects.get(path);
    if (target) return new Response(null, { status: 302, headers: { location: target } });
    if (path === "/sitemap.xml" && !site.pages.has(path)) {
      const urls = [...site.pages.keys()].map((p) => `<url><loc>${base}${p}</loc></url>`);
      return new Response(
        `<?xml version="1.0" encoding="UTF-8"?>\n` +
          `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${urls.join("")}</urlset>`,
        { headers: { "content-type": "application/xml" } },
      );
    }
    const page = site.pages.get(path);
    if (page === undefined) return new Response("not found", { status: 404 });
    return new Response(page as BodyInit, {
      headers: {
        "content-type": site.types.get(path) ??
          (typeof page === "string" ? "text/html; charset=utf-8" : "application/octet-stream"),
      },
    });
  });
  base = `http://127.0.0.1:${server.addr.port}`;
  const close = () => server.shutdown();
  return Promise.resolve(Object.assign(site, {
    url: base,
    close,
    [Symbol.asyncDispose]: close,
  }));
}
