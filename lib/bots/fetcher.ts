/**
 * Reading a web page or sitemap a bot's owner named, as a polite and careful crawler:
 *
 * - every request goes through lib/security/ssrf.ts (no loopback, private, link-local or
 *   metadata address, after each redirect too);
 * - a time limit per request and a size limit on what is read (the body is counted as it
 *   arrives and dropped at the first byte over);
 * - the site's robots.txt is asked first, and a page it disallows to our user agent is not read.
 */
import robotsParserModule from "robots-parser";
import { Parser } from "htmlparser2";
import { guardedFetch, SsrfError, type UrlPolicy } from "../security/ssrf.ts";
import { ExtractionError } from "./extract.ts";

// The package's types declare an ES default export; at run time the default is the function.
const robotsParser = robotsParserModule as unknown as (
  url: string,
  text: string,
) => { isAllowed(url: string, agent?: string): boolean | undefined };

export const USER_AGENT =
  "HurukuroBot/1.0 (+training a chatbot on this page at its owner's request)";
export const ROBOTS_AGENT = "HurukuroBot";

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
}

export interface Fetched {
  url: string;
  bytes: Uint8Array;
  contentType: string;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024 * 10) / 10} MB`;

/** Reads at most `max` bytes of a body; throws when there are more. */
async function readLimited(response: Response, max: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await response.body?.cancel();
    throw new ExtractionError(`the page is larger than the ${mb(max)} allowed`);
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const part of response.body) {
      size += part.byteLength;
      if (size > max) throw new ExtractionError(`the page is larger than the ${mb(max)} allowed`);
      parts.push(part);
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.byteLength);
  return out;
}

async function get(url: string, policy: UrlPolicy, limits: FetchLimits): Promise<Response> {
  try {
    return await guardedFetch(url, {
      headers: { "user-agent": USER_AGENT, accept: "text/html, text/plain, application/pdf, */*" },
      signal: AbortSignal.timeout(limits.timeoutMs),
    }, policy);
  } catch (error) {
    if (error instanceof SsrfError) {
      throw new ExtractionError(`the URL was refused: ${error.message}`);
    }
    if ((error as Error)?.name === "TimeoutError") {
      throw new ExtractionError(
        `the site did not answer within ${Math.round(limits.timeoutMs / 1000)} s`,
      );
    }
    throw new ExtractionError("the site could not be reached");
  }
}

/** Whether the site's robots.txt lets us read `url` (no robots.txt, or an unreadable one: yes). */
export async function robotsAllow(
  url: string,
  policy: UrlPolicy,
  limits: FetchLimits,
): Promise<boolean> {
  const robotsUrl = new URL("/robots.txt", url).href;
  let text = "";
  try {
    const response = await get(robotsUrl, policy, { ...limits, maxBytes: 512 * 1024 });
    if (!response.ok) {
      await response.body?.cancel();
      return true;
    }
    text = new TextDecoder().decode(await readLimited(response, 512 * 1024));
  } catch {
    return true;
  }
  return robotsParser(robotsUrl, text).isAllowed(url, ROBOTS_AGENT) !== false;
}

/** Fetches a page (robots.txt permitting); throws {@link ExtractionError} saying why not. */
export async function fetchPage(
  url: string,
  policy: UrlPolicy,
  limits: FetchLimits,
): Promise<Fetched> {
  if (!(await robotsAllow(url, policy, limits))) {
    throw new ExtractionError(`the site's robots.txt does not allow ${ROBOTS_AGENT} to read it`);
  }
  const response = await get(url, policy, limits);
  if (!response.ok) {
    await response.body?.cancel();
    throw new ExtractionError(
      `the page answered ${response.status}${response.statusText ? " " + response.statusText : ""}`,
    );
  }
  return {
    url: response.url || url,
    bytes: await readLimited(response, limits.maxBytes),
    contentType: response.headers.get("content-type") ?? "",
  };
}

/** The page URLs of a sitemap (`<loc>`), and the nested sitemaps of a sitemap index. */
export function parseSitemap(xml: string): { pages: string[]; sitemaps: string[] } {
  const pages: string[] = [];
  const sitemaps: string[] = [];
  let inLoc = false;
  let parent = "";
  let text = "";
  const stack: string[] = [];
  const parser = new Parser({
    onopentag(name) {
      const local = name.toLowerCase().replace(/^.*:/, "");
      stack.push(local);
      if (local === "loc") {
        inLoc = true;
        text = "";
        parent = stack[stack.length - 2] ?? "";
      }
    },
    ontext(t) {
      if (inLoc) text += t;
    },
    onclosetag() {
      const local = stack.pop();
      if (local === "loc" && inLoc) {
        inLoc = false;
        const loc = text.trim();
        if (URL.canParse(loc)) (parent === "sitemap" ? sitemaps : pages).push(loc);
      }
    },
  }, { xmlMode: true, decodeEntities: true });
  parser.write(xml);
  parser.end();
  return { pages, sitemaps };
}

/**
 * The pages a sitemap lists (following one level of sitemap index), on the sitemap's own host,
 * at most `maxPages`, in the order listed.
 */
export async function sitemapPages(
  url: string,
  policy: UrlPolicy,
  limits: FetchLimits,
  maxPages: number,
): Promise<string[]> {
  const host = new URL(url).host;
  const read = async (at: string) => {
    const fetched = await fetchPage(at, policy, { ...limits, maxBytes: 10 * 1024 * 1024 });
    return parseSitemap(new TextDecoder().decode(fetched.bytes));
  };
  const first = await read(url);
  const pages = [...first.pages];
  for (const nested of first.sitemaps.slice(0, 20)) {
    if (pages.length >= maxPages) break;
    if (new URL(nested).host !== host) continue;
    pages.push(...(await read(nested).catch(() => ({ pages: [] }))).pages);
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const page of pages) {
    const clean = new URL(page);
    clean.hash = "";
    if (clean.host !== host || seen.has(clean.href)) continue;
    seen.add(clean.href);
    out.push(clean.href);
    if (out.length >= maxPages) break;
  }
  if (out.length === 0 && first.sitemaps.length === 0) {
    throw new ExtractionError("the sitemap lists no pages (is it a sitemap.xml?)");
  }
  return out;
}
