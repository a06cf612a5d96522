/** The notifications' part of the configuration (lib/config.ts). */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../config.ts";

const PRODUCTION = {
  HURUKURO_ENV: "production",
  APP_SECRET: "x".repeat(40),
  ENCRYPTION_KEY: btoa(String.fromCharCode(...new Uint8Array(32).fill(7))),
  PUBLIC_URL: "https://hurukuro.example/",
  OPENAI_API_KEY: "sk-test",
  WHATSAPP_TOKEN: "t",
  WHATSAPP_PHONE_NUMBER_ID: "1",
  WHATSAPP_APP_SECRET: "s",
  WHATSAPP_VERIFY_TOKEN: "v",
  PAYNOW_INTEGRATION_ID: "1201",
  PAYNOW_INTEGRATION_KEY: "k",
  PAYNOW_AUTH_EMAIL: "merchant@hurukuro.example",
  SMTP_URL: "smtp://u:p@mail.example:587",
  MAIL_FROM: "Hurukuro <no-reply@hurukuro.example>",
  METRICS_TOKEN: "a-long-random-metrics-token",
};

Deno.test("NOTIFY_* variables are the secrets channels may name; nothing else is", async () => {
  const config = await loadConfig({
    ...PRODUCTION,
    NOTIFY_OPS_HOOK: "s3cret",
    NOTIFY_EMPTY: "",
    NOTIFY_lower: "x",
    NOTIFYX: "x",
  });
  assert.deepEqual(config.notifications.envSecrets, { NOTIFY_OPS_HOOK: "s3cret" });
  assert.deepEqual(config.privateUrlHosts, []);
});

Deno.test("private webhook hosts may be allowed for tests, never in production", async () => {
  const dev = await loadConfig(
    { HURUKURO_ENV: "test", ALLOW_PRIVATE_URL_HOSTS: " 127.0.0.1, LocalHost " },
    { persistSecrets: false },
  );
  assert.deepEqual(dev.privateUrlHosts, ["127.0.0.1", "localhost"]);
  await assert.rejects(
    loadConfig({ ...PRODUCTION, ALLOW_PRIVATE_URL_HOSTS: "127.0.0.1" }),
    (e: Error) => e instanceof ConfigError && /ALLOW_PRIVATE_URL_HOSTS/.test(e.message),
  );
});
