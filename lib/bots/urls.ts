/** How bots refuse an address the SSRF guard will not fetch (webhook endpoints, training pages). */
import { AppError } from "../errors.ts";
import { checkUrl, SsrfError, type UrlPolicy } from "../security/ssrf.ts";

/**
 * `url` parsed, when `policy` lets it be fetched; otherwise `unprocessable` naming the `url`
 * field and saying what the address cannot do (`use`, in words).
 */
export async function allowedUrl(url: string, policy: UrlPolicy, use: string): Promise<URL> {
  try {
    return await checkUrl(url, policy);
  } catch (error) {
    if (!(error instanceof SsrfError)) throw error;
    throw new AppError("unprocessable", `url: this address cannot ${use}: ${error.message}.`, {
      field: "url",
      reason: error.message,
    });
  }
}
