/**
 * Where a user reaches the product: the web app, WhatsApp, Telegram, or the REST API (with an
 * API key). Conversations, messages and payments record it; their SQL CHECKs list the same
 * values (channels_test.ts compares them).
 */
export const CHANNELS = ["web", "whatsapp", "api", "telegram"] as const;
export type Channel = typeof CHANNELS[number];

/** How people name each channel (the admin's feed, notifications). */
export const CHANNEL_LABELS: Record<Channel, string> = {
  web: "the web",
  whatsapp: "WhatsApp",
  api: "the API",
  telegram: "Telegram",
};
