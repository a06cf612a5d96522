import assert from "node:assert/strict";
import { checkUrl, forbiddenAddress, guardedFetch, SsrfError } from "./ssrf.ts";

Deno.test("forbiddenAddress: every internal range is refused, public addresses pass", () => {
  const refused = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.255",
    "224.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:8.8.8.8",
    "fc00::1",
    "fd00:ec2::254",
    "fe80::1",
    "ff02::1",
    "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
    "2002:7f00:1::", // 6to4 of 127.0.0.1
    "[::1]",
    "fe80::1%eth0",
  ];
  for (const address of refused) {
    assert.notEqual(forbiddenAddress(address), null, `${address} should be refused`);
  }
  for (const address of ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111"]) {
    assert.equal(forbiddenAddress(address), null, `${address} is public`);
  }
  assert.equal(forbiddenAddress("64:ff9b::808:808"), null, "NAT64 of a public address");
  assert.equal(forbiddenAddress("not-an-ip"), "not an IP address");
});

const publicResolver = (map: Record<string, string[]>) => (host: string) =>
  Promise.resolve(map[host] ?? []);

Deno.test("checkUrl: https only, no credentials, literals and resolved names checked", async () => {
  const resolve = publicResolver({
    "hooks.example.com": ["93.184.216.34"],
    "sneaky.example.com": ["93.184.216.34", "10.0.0.5"],
    "metadata.example.com": ["169.254.169.254"],
  });
  assert.equal(
    (await checkUrl("https://hooks.example.com/x", { resolve })).hostname,
    "hooks.example.com",
  );
  const refusals: [string, RegExp][] = [
    ["http://hooks.example.com/x", /https/],
    ["ftp://hooks.example.com/x", /https/],
    ["https://user:pw@hooks.example.com/", /user name or password/],
    ["https://127.0.0.1/", /loopback/],
    ["https://2130706433/", /loopback/], // decimal form of 127.0.0.1
    ["https://0x7f.1/", /loopback/],
    ["https://[::1]/", /loopback/],
    ["https://[::ffff:127.0.0.1]/", /IPv4-mapped/],
    ["https://localhost/", /loopback/],
    ["https://api.localhost/", /loopback/],
    ["https://sneaky.example.com/", /resolves to 10\.0\.0\.5, a private address/],
    ["https://metadata.example.com/", /link-local/],
    ["https://nowhere.example.com/", /could not be resolved/],
    ["not a url", /not a valid URL/],
  ];
  for (const [url, reason] of refusals) {
    await assert.rejects(checkUrl(url, { resolve }), (e: Error) => {
      assert.ok(e instanceof SsrfError, url);
      assert.match(e.message, reason, url);
      return true;
    });
  }
});

Deno.test("checkUrl: an allowed host may be loopback and http, others still may not", async () => {
  const policy = { allowHosts: ["127.0.0.1"] };
  assert.equal((await checkUrl("http://127.0.0.1:9/x", policy)).port, "9");
  await assert.rejects(checkUrl("http://127.0.0.2/", policy), SsrfError);
  await assert.rejects(checkUrl("http://localhost/", policy), SsrfError);
});

Deno.test("guardedFetch: each redirect hop is checked before it is requested", async () => {
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    requested.push(`${req.method} ${url.pathname}`);
    if (url.pathname === "/to-metadata") {
      return new Response(null, {
        status: 302,
        headers: { location: "https://169.254.169.254/latest/meta-data/" },
      });
    }
    if (url.pathname === "/to-self") {
      return new Response(null, { status: 307, headers: { location: "/final" } });
    }
    if (url.pathname === "/loop") {
      return new Response(null, { status: 302, headers: { location: "/loop" } });
    }
    return new Response(`done ${req.method}`);
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const policy = { allowHosts: ["127.0.0.1"] };
    await assert.rejects(
      guardedFetch(`${base}/to-metadata`, { method: "POST", body: "{}" }, policy),
      /redirect was refused: 169\.254\.169\.254 is a link-local address/,
    );
    assert.deepEqual(requested, ["POST /to-metadata"], "the metadata hop was never requested");

    const res = await guardedFetch(`${base}/to-self`, { method: "POST", body: "{}" }, policy);
    assert.equal(await res.text(), "done POST", "307 repeats the POST");
    await assert.rejects(guardedFetch(`${base}/loop`, {}, policy), /more than 3 redirects/);
  } finally {
    await server.shutdown();
  }
});
