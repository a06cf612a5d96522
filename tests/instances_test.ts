/**
 * Instances on one database agree on how days are counted: a server or a `deno task job` with
 * another TZ_METRICS than the live instances' is refused at start, with a message that says why.
 */
import assert from "node:assert/strict";
import { denoCommand, prepareStorage, startTestApp } from "./harness.ts";

Deno.test({
  name: "start-up and deno task job refuse a TZ_METRICS other than the live instances'",
  // The embedded database is one process's: there is no other instance to disagree with.
  ignore: !Deno.env.get("DATABASE_URL"),
  async fn() {
    const storage = await prepareStorage();
    const running = await startTestApp({ storage }); // TZ_METRICS: Africa/Harare (the default)
    const otherDir = await Deno.makeTempDir({ prefix: "hurukuro-tz-" });
    try {
      const env = {
        ...storage.env,
        DATA_DIR: otherDir,
        HURUKURO_ENV: "test",
        PORT: "0",
        TZ_METRICS: "UTC",
      };
      for (const args of [["main.ts"], ["tasks/job.ts", "metrics:daily"]]) {
        const out = await denoCommand(["run", "-A", ...args], env).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 78, `${args[0]}: ${stderr}`);
        assert.match(
          stderr,
          /TZ_METRICS: this instance would count days in UTC, but 1 running instance on this database counts them in Africa\/Harare/,
        );
        assert.match(stderr, /daily jobs would run twice/);
      }
      // Nothing was claimed by the refused run.
      const claims = await running.server.db.sql`select count(*)::int as n from cron_runs`;
      assert.equal(claims[0].n, 0);
    } finally {
      await running.close();
      await storage.cleanup();
      await Deno.remove(otherDir, { recursive: true }).catch(() => {});
    }
  },
});
