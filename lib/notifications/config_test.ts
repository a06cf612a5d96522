/** The notifications' part of the configuration (lib/config.ts). */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../config.ts";
import { PRODUCTION_ENV } from "../../tests/fixtures/production_env.ts";

const PRODUCTION = PRODUCTION_ENV;

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
