/**
 * Webhooks: the message as a JSON POST to an https URL, signed so the receiver knows it is ours.
 *
 * Signed as every webhook we send (lib/security/signing.ts): `X-Hurukuro-Signature:
 * t=<unix seconds>,v1=<hex>`, HMAC-SHA256 over `<t>.<raw body>`; the receiver refuses a `t` more
 * than five minutes away (a replayed delivery). `X-Hurukuro-Delivery`
 * carries the delivery id, the same on every retry: a receiver drops a repeat by it. The
 * receiver's check is in docs/notifications.md.
 *
 * The URL is someone else's choice: it is fetched through the SSRF guard (lib/security/ssrf.ts),
 * on saving and again on every send, each redirect checked.
 */
import { z } from "zod";
import { checkUrl, guardedFetch, SsrfError } from "../../security/ssrf.ts";
import { SIGNATURE_HEADER, signPayload } from "../../security/signing.ts";
import { textField } from "../../text.ts";
import { renderMarkdown } from "../../markdown.ts";
import { retryAfterMs } from "../../retry_after.ts";
import { defineMethod, SendError } from "./types.ts";

export const webhook = defineMethod({
  label: "Webhook",
  settings: z.strictObject({
    url: textField().trim().max(2_000).pipe(z.url({ protocol: /^https?$/ })),
  }),
  secret: "required",
  async validate({ url }, services) {
    try {
      await checkUrl(url, services.urlPolicy);
      return [];
    } catch (error) {
      if (!(error instanceof SsrfError)) throw error;
      return [{ field: "settings.url", message: `refused: ${error.message}` }];
    }
  },
  recipient: ({ url }) => {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : "/…"}`;
  },
  async send(message, settings, secrets, services) {
    if (!secrets.secret) throw new SendError("the webhook has no signing secret", false);
    const body = JSON.stringify({
      id: message.deliveryId,
      topic: message.topic,
      title: message.title,
      text: message.text,
      html: renderMarkdown(message.text),
      publishedAt: message.publishedAt.toISOString(),
    });
    let res: Response;
    try {
      res = await guardedFetch(settings.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "Hurukuro-Webhooks/1",
          [SIGNATURE_HEADER]: await signPayload(secrets.secret, body),
          "X-Hurukuro-Delivery": message.deliveryId,
          "X-Hurukuro-Topic": encodeURIComponent(message.topic),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      }, { ...services.urlPolicy, fetch: services.fetch });
    } catch (error) {
      if (error instanceof SsrfError) throw new SendError(`refused: ${error.message}`, false);
      const why = (error as Error)?.name === "TimeoutError" ? "timed out" : "could not be reached";
      throw new SendError(`the webhook ${why}`, true);
    }
    const answer = (await res.text().catch(() => "")).slice(0, 200).replace(/\s+/g, " ");
    const response = `HTTP ${res.status}${answer ? `: ${answer}` : ""}`;
    if (res.ok) {
      return {
        providerMessageId: res.headers.get("x-request-id")?.slice(0, 200) ?? null,
        response,
      };
    }
    const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
    throw new SendError(
      `the webhook answered ${response}`,
      retryable,
      res.status === 429 || res.status === 503 ? retryAfterMs(res.headers) : undefined,
    );
  },
});
