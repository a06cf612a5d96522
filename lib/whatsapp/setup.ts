/** The configured WhatsApp provider (WHATSAPP_PROVIDER and its variables), or null if unset. */
import type { Config } from "../config.ts";
import { createWhatsAppProvider } from "./mod.ts";
import { DEFAULT_TWILIO_API_URL } from "./twilio.ts";
import type { WhatsAppProvider } from "./types.ts";

export interface WhatsAppSetup {
  provider: WhatsAppProvider;
  /** Meta's webhook verification token (GET handshake). */
  verifyToken?: string;
}

export function whatsappFromConfig(config: Config): WhatsAppSetup | null {
  const { whatsapp } = config;
  if (whatsapp.provider === "meta") {
    const m = whatsapp.meta;
    if (!m.token || !m.appSecret || !m.phoneNumberId) return null;
    return {
      provider: createWhatsAppProvider({
        provider: "meta",
        accessToken: m.token,
        appSecret: m.appSecret,
        phoneNumberId: m.phoneNumberId,
        verifyToken: m.verifyToken,
        graphUrl: m.graphUrl,
        apiVersion: m.apiVersion,
      }),
      verifyToken: m.verifyToken,
    };
  }
  const t = whatsapp.twilio;
  if (!t.accountSid || !t.authToken || !t.from) return null;
  const custom = t.apiUrl.replace(/\/+$/, "") !== DEFAULT_TWILIO_API_URL;
  return {
    provider: createWhatsAppProvider({
      provider: "twilio",
      accountSid: t.accountSid,
      authToken: t.authToken,
      from: t.from,
      apiUrl: t.apiUrl,
      // A self-hosted or fake Twilio serves the typing indicator on the same host.
      ...(custom ? { messagingUrl: t.apiUrl } : {}),
      statusCallback: `${config.publicUrl}/api/whatsapp/twilio`,
    }),
  };
}
