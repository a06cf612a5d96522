/**
 * The WhatsApp provider layer: pick a provider by name (`WHATSAPP_PROVIDER`), talk to it through
 * {@link WhatsAppProvider}. Imports nothing of ours outside this folder but lib/retry_after.ts (a
 * leaf), so it can be tested and reused (the sandbox, the bench) without the app.
 *
 * @example
 * const whatsapp = createWhatsAppProvider({ provider: "meta", accessToken, appSecret, phoneNumberId });
 * if (!(await whatsapp.verifySignature(raw))) return new Response(null, { status: 401 });
 * const { messages, statuses, problems } = whatsapp.parseInbound(raw);
 */
import { MetaCloudProvider, type MetaOptions } from "./meta.ts";
import { type TwilioOptions, TwilioProvider } from "./twilio.ts";
import type { WhatsAppProvider } from "./types.ts";

export type ProviderOptions =
  | ({ provider: "meta" } & MetaOptions)
  | ({ provider: "twilio" } & TwilioOptions);

export function createWhatsAppProvider(options: ProviderOptions): WhatsAppProvider {
  return options.provider === "meta" ? new MetaCloudProvider(options) : new TwilioProvider(options);
}

export * from "./types.ts";
export * from "./meta.ts";
export * from "./twilio.ts";
export * from "./format.ts";
export * from "./menu.ts";
