import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, loadConfig } from "./config.ts";
import { PRODUCTION_ENV } from "../tests/fixtures/production_env.ts";

async function withDataDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("defaults follow the contract", async () => {
  await withDataDir(async (dir) => {
    const config = await loadConfig({ DATA_DIR: dir });
    assert.equal(config.env, "development");
    assert.equal(config.port, 8000);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.publicUrl, "http://127.0.0.1:8000");
    assert.equal(config.kvPath, join(dir, "kv.sqlite3"));
    assert.equal(config.tzMetrics, "Africa/Harare");
    assert.equal(config.ai.openai.baseUrl, "https://api.openai.com/v1");
    assert.equal(config.paynow.baseUrl, "https://www.paynow.co.zw");
    assert.equal(config.encryptionKey.length, 32);
    assert.deepEqual(config.corsOrigins, []);
    assert.ok(config.sandboxed.includes("paynow"));
  });
});

Deno.test("development generates secrets once and keeps them in DATA_DIR", async () => {
  await withDataDir(async (dir) => {
    const first = await loadConfig({ DATA_DIR: dir });
    const second = await loadConfig({ DATA_DIR: dir });
    assert.equal(first.appSecret, second.appSecret);
    assert.deepEqual(first.encryptionKey, second.encryptionKey);
    assert.ok(first.appSecret.length >= 32);
    const stat = await Deno.stat(join(dir, "secrets.json"));
    assert.equal(stat.mode! & 0o777, 0o600);
  });
});

Deno.test("production names every missing or malformed variable in one error", async () => {
  await withDataDir(async (dir) => {
    const error = await loadConfig({ DATA_DIR: dir, HURUKURO_ENV: "production", SANDBOX: "1" })
      .then(() => null, (e) => e);
    assert.ok(error instanceof ConfigError);
    const text = error.message;
    for (
      const name of [
        "SANDBOX",
        "APP_SECRET",
        "ENCRYPTION_KEY",
        "PUBLIC_URL",
        "METRICS_TOKEN",
        "OPENAI_API_KEY",
        "WHATSAPP_TOKEN",
        "WHATSAPP_APP_SECRET",
        "PAYNOW_INTEGRATION_ID",
        "PAYNOW_INTEGRATION_KEY",
        "PAYNOW_AUTH_EMAIL",
        "SMTP_URL",
        "MAIL_FROM",
      ]
    ) assert.ok(text.includes(name), `${name} not named in:\n${text}`);
    // Nothing was written: production never generates secrets.
    await assert.rejects(Deno.stat(join(dir, "secrets.json")), Deno.errors.NotFound);
  });
});

Deno.test("malformed values are refused with the variable's name", async () => {
  const error = await loadConfig({
    PORT: "eighty",
    ENCRYPTION_KEY: "c2hvcnQ=",
    CORS_ORIGINS: "https://app.example,not a url",
    TZ_METRICS: "Mars/Olympus",
    DATABASE_URL: "mysql://x",
    DATABASE_POOL_SIZE: "1",
    METRICS_TOKEN: "short",
  }, { persistSecrets: false }).then(() => null, (e) => e);
  assert.ok(error instanceof ConfigError);
  for (
    const name of [
      "PORT",
      "ENCRYPTION_KEY",
      "CORS_ORIGINS",
      "TZ_METRICS",
      "DATABASE_URL",
      "DATABASE_POOL_SIZE",
      "METRICS_TOKEN",
    ]
  ) {
    assert.ok(error.problems.some((p: string) => p.startsWith(name)), `${name}: ${error.message}`);
  }
});

Deno.test("a fully configured production environment loads with no sandbox", async () => {
  const config = await loadConfig({
    ...PRODUCTION_ENV,
    CORS_ORIGINS: "https://app.hurukuro.example/, https://web.hurukuro.example",
  });
  assert.deepEqual(config.sandboxed, []);
  assert.equal(config.publicUrl, "https://hurukuro.example");
  assert.deepEqual(config.corsOrigins, [
    "https://app.hurukuro.example",
    "https://web.hurukuro.example",
  ]);
  assert.equal(config.paynow.usd?.integrationId, "1201");
  assert.equal(config.paynow.zig, undefined);
  assert.equal(config.metricsToken, "a-long-random-metrics-token");
});

Deno.test("TELEGRAM_WEBHOOK_SECRET: Telegram's alphabet, never echoed; in production only with a bot token", async () => {
  const secret = "tg_secret-0123456789abcdef";
  const config = await loadConfig({
    TELEGRAM_WEBHOOK_SECRET: secret,
    TELEGRAM_BOT_USERNAME: "@HurukuroBot",
  }, { persistSecrets: false });
  assert.equal(config.telegram.webhookSecret, secret);
  assert.equal(config.telegram.botUsername, "HurukuroBot");
  assert.equal((await loadConfig({}, { persistSecrets: false })).telegram.webhookSecret, undefined);

  for (const bad of ["short", "has spaces in it, and more", "ünïcödé-secret-0123456789"]) {
    const error = await loadConfig({ TELEGRAM_WEBHOOK_SECRET: bad }, { persistSecrets: false })
      .then(() => null, (e) => e);
    assert.ok(error instanceof ConfigError);
    assert.ok(error.problems.some((p: string) => p.startsWith("TELEGRAM_WEBHOOK_SECRET")));
    assert.ok(!error.message.includes(bad), "the value is never in the message");
  }

  const production = await loadConfig({
    HURUKURO_ENV: "production",
    TELEGRAM_WEBHOOK_SECRET: secret,
  }, { persistSecrets: false }).then(() => null, (e) => e);
  assert.ok(production instanceof ConfigError);
  assert.ok(production.problems.some((p: string) => p.startsWith("TELEGRAM_BOT_TOKEN")));
  assert.ok(!production.message.includes(secret));
});
