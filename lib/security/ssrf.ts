/**
 * Fetching a URL someone else chose (a webhook channel's URL; later the bots' training URLs)
 * without letting it reach into our own network: the request must not land on loopback, a
 * private or link-local range (cloud metadata lives at 169.254.169.254), carrier-grade NAT,
 * unique-local IPv6, or an IPv6 form that wraps one of those IPv4 addresses.
 *
 * How:
 * - the host is resolved with `Deno.resolveDns` (A and AAAA) and every address must be public;
 *   an IP literal is checked as it is (the URL parser has already normalised `0x7f.1`,
 *   `2130706433` and friends to dotted quads);
 * - redirects are never followed by `fetch` (`redirect: "manual"`): each hop's `Location` is
 *   checked like the first URL before it is requested, up to a few hops;
 * - https only, no credentials in the URL.
 *
 * Tests and the sandbox run their fakes on loopback: they name those hosts in `allowHosts`
 * (config `ALLOW_PRIVATE_URL_HOSTS`, refused in production) or inject `resolve`; the
 * guard itself is never switched off. An allowed host may use http.
 *
 * What remains: `fetch` resolves the name again, so a DNS server that answers a public address
 * to us and a private one a moment later (rebinding) could slip through; Deno's fetch offers no
 * way to connect to the address we checked. The window is milliseconds and the short DNS TTLs
 * it needs are visible to whoever runs the resolver.
 */

export class SsrfError extends Error {
  override name = "SsrfError";
}

/** Addresses (IPv4 dotted quads or IPv6 text) a host name resolves to. */
export type Resolver = (hostname: string) => Promise<string[]>;

export interface UrlPolicy {
  /**
   * Host names (as `URL.hostname` spells them, e.g. `127.0.0.1`, `localhost`, `[::1]`) allowed
   * to resolve to any address and to use http: the loopback fakes of tests and the sandbox.
   */
  allowHosts?: readonly string[];
  /** Resolves a host name; default `Deno.resolveDns` (A and AAAA). */
  resolve?: Resolver;
  /** Redirects followed at most (each one checked); default 3. */
  maxRedirects?: number;
  /** Time allowed to resolve a host name; default 3 s. */
  dnsTimeoutMs?: number;
}

// ---- addresses ------------------------------------------------------------------------------

type Range = [base: number[], prefixBits: number, reason: string];

/** IPv4 ranges that are not the public Internet (RFC 6890 and friends). */
const V4_FORBIDDEN: Range[] = [
  [[0, 0, 0, 0], 8, "a 'this network' address"],
  [[10, 0, 0, 0], 8, "a private address"],
  [[100, 64, 0, 0], 10, "a carrier-grade NAT address"],
  [[127, 0, 0, 0], 8, "a loopback address"],
  [[169, 254, 0, 0], 16, "a link-local address (cloud metadata lives there)"],
  [[172, 16, 0, 0], 12, "a private address"],
  [[192, 0, 0, 0], 24, "an IETF protocol address"],
  [[192, 0, 2, 0], 24, "a documentation address"],
  [[192, 88, 99, 0], 24, "a 6to4 relay address"],
  [[192, 168, 0, 0], 16, "a private address"],
  [[198, 18, 0, 0], 15, "a benchmarking address"],
  [[198, 51, 100, 0], 24, "a documentation address"],
  [[203, 0, 113, 0], 24, "a documentation address"],
  [[224, 0, 0, 0], 4, "a multicast address"],
  [[240, 0, 0, 0], 4, "a reserved address"],
];

/** IPv6 ranges, as 16 bytes, that are not the public Internet. */
const V6_FORBIDDEN: Range[] = [
  [bytes6("::"), 128, "the unspecified address"],
  [bytes6("::1"), 128, "a loopback address"],
  [bytes6("::ffff:0:0"), 96, "an IPv4-mapped address"],
  [bytes6("::"), 96, "an IPv4-compatible address"],
  [bytes6("64:ff9b:1::"), 48, "a local-use NAT64 address"],
  [bytes6("100::"), 64, "a discard-only address"],
  [bytes6("2001::"), 32, "a Teredo address"],
  [bytes6("2001:db8::"), 32, "a documentation address"],
  [bytes6("fc00::"), 7, "a unique-local address"],
  [bytes6("fe80::"), 10, "a link-local address"],
  [bytes6("fec0::"), 10, "a site-local address"],
  [bytes6("ff00::"), 8, "a multicast address"],
];

function inRange(address: number[], [base, bits]: Range): boolean {
  for (let i = 0; i < address.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i] & mask) !== (base[i] & mask)) return false;
  }
  return true;
}

function parseV4(text: string): number[] | null {
  const m = text.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** 16 bytes of an IPv6 address in text form (with `::` and an optional dotted IPv4 tail). */
function parseV6(text: string): number[] | null {
  let s = text.replace(/^\[|\]$/g, "").toLowerCase();
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(":");
  if (lastColon < 0) return null;
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseV4(last);
    if (!v4) return null;
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hex(v4[0], v4[1])}:${hex(v4[2], v4[3])}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const words = [...head, ...new Array(halves.length === 2 ? missing : 0).fill("0"), ...rest]
    .map((g) => parseInt(g, 16));
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function bytes6(text: string): number[] {
  const parsed = parseV6(text);
  if (!parsed) throw new Error(`bad IPv6 constant ${text}`);
  return parsed;
}

/**
 * Why `address` must not be contacted, or null when it is a public address. An IPv6 form that
 * carries an IPv4 address (NAT64, 6to4) is judged by that IPv4 address.
 * @example forbiddenAddress("169.254.169.254") // → "a link-local address (cloud metadata …)"
 */
export function forbiddenAddress(address: string): string | null {
  const v4 = parseV4(address);
  if (v4) return V4_FORBIDDEN.find((r) => inRange(v4, r))?.[2] ?? null;
  const v6 = parseV6(address);
  if (!v6) return "not an IP address";
  const hit = V6_FORBIDDEN.find((r) => inRange(v6, r));
  if (hit) return hit[2];
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
  if (inRange(v6, [bytes6("64:ff9b::"), 96, ""])) {
    return forbiddenAddress(v6.slice(12).join("."));
  }
  if (inRange(v6, [bytes6("2002::"), 16, ""])) return forbiddenAddress(v6.slice(2, 6).join("."));
  return null;
}

// ---- URLs -----------------------------------------------------------------------------------

async function resolveWithDns(hostname: string, timeoutMs: number): Promise<string[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  const lookups = await Promise.allSettled([
    Deno.resolveDns(hostname, "A", { signal }),
    Deno.resolveDns(hostname, "AAAA", { signal }),
  ]);
  return lookups.flatMap((l) => l.status === "fulfilled" ? l.value : []);
}

const isAllowed = (hostname: string, policy: UrlPolicy) =>
  (policy.allowHosts ?? []).some((h) => h.toLowerCase() === hostname.toLowerCase());

/**
 * The URL, once it is safe to request: https (or an allowed host), no credentials, and every
 * address its host resolves to public. Throws {@link SsrfError} saying why not.
 */
export async function checkUrl(input: string | URL, policy: UrlPolicy = {}): Promise<URL> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new SsrfError("it is not a valid URL");
  }
  const allowed = isAllowed(url.hostname, policy);
  if (url.protocol !== "https:" && !(allowed && url.protocol === "http:")) {
    throw new SsrfError("it must be an https:// URL");
  }
  if (url.username || url.password) {
    throw new SsrfError("it must not carry a user name or password");
  }
  if (allowed) return url;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) {
    throw new SsrfError(`${url.hostname} is a loopback address`);
  }
  const literal = parseV4(host) !== null || host.includes(":");
  const addresses = literal
    ? [host]
    : await (policy.resolve ?? ((h) => resolveWithDns(h, policy.dnsTimeoutMs ?? 3_000)))(host)
      .catch(() => [] as string[]);
  if (addresses.length === 0) throw new SsrfError(`${url.hostname} could not be resolved`);
  for (const address of addresses) {
    const reason = forbiddenAddress(address);
    if (reason) {
      throw new SsrfError(
        literal
          ? `${url.hostname} is ${reason}`
          : `${url.hostname} resolves to ${address}, ${reason}`,
      );
    }
  }
  return url;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * `fetch` for a URL someone else chose: each hop checked by {@link checkUrl} before it is
 * requested. 307/308 repeat the request; 301/302/303 continue with a GET without a body, as
 * browsers do. Throws {@link SsrfError} for a refused hop or too many redirects.
 */
export async function guardedFetch(
  input: string | URL,
  init: RequestInit = {},
  policy: UrlPolicy & { fetch?: typeof fetch } = {},
): Promise<Response> {
  const doFetch = policy.fetch ?? fetch;
  let url = await checkUrl(input, policy);
  let request: RequestInit = { ...init, redirect: "manual" };
  const maxRedirects = policy.maxRedirects ?? 3;
  for (let hop = 0;; hop++) {
    const response = await doFetch(url, request);
    const location = response.headers.get("location");
    if (!REDIRECTS.has(response.status) || location === null) return response;
    await response.body?.cancel();
    if (hop >= maxRedirects) throw new SsrfError(`more than ${maxRedirects} redirects`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new SsrfError("a redirect pointed to an invalid URL");
    }
    try {
      url = await checkUrl(next, policy);
    } catch (error) {
      throw new SsrfError(`a redirect was refused: ${(error as Error).message}`);
    }
    const method = (request.method ?? "GET").toUpperCase();
    if (
      response.status === 303 || ((response.status === 301 || response.status === 302) &&
        method === "POST")
    ) {
      request = { ...request, method: "GET", body: undefined };
    }
  }
}
