import assert from "node:assert/strict";
import { parseFlags } from "./job.ts";

Deno.test("parseFlags reads --name value, --name=value and bare switches", () => {
  assert.deepEqual(parseFlags(["--from", "2026-01-01", "--to=2026-01-31", "--dry-run"]), {
    from: "2026-01-01",
    to: "2026-01-31",
    "dry-run": "true",
  });
  assert.throws(() => parseFlags(["2026-01-01"]), /flags look like --name value/);
});
