/** Key rotation: a grievance sealed under the old key is re-sealed under the new one. */
import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { memoryLogger } from "../observability/log.ts";
import { localFileStore } from "../storage/files.ts";
import type { Config } from "../config.ts";
import type { GrievancesDeps } from "./deps.ts";
import { submitGrievance } from "./intake.ts";
import { findGrievance, listGrievances } from "./repository.ts";
import { rekeyGrievance, staleGrievances } from "./rekey.ts";
import { createSealer } from "./sealing.ts";

const noJobs = { enqueue: () => Promise.resolve({ id: "x", deduplicated: false }) };

Deno.test("rekey: old rows open and are found during a rotation, and end sealed under the new key", async () => {
  await withDatabase(async (db) => {
    const dir = await Deno.makeTempDir();
    const oldKey = new Uint8Array(32).fill(7);
    const newKey = new Uint8Array(32).fill(9);
    const deps = (sealer: GrievancesDeps["sealer"]): GrievancesDeps => ({
      db,
      log: memoryLogger(),
      config: { tzMetrics: "Africa/Harare", publicUrl: "http://x" } as Config,
      sealer,
      files: localFileStore(dir),
      ai: () => Promise.resolve(null),
      whatsapp: null,
    });
    try {
      const before = await createSealer(oldKey);
      const { id } = await submitGrievance(deps(before), noJobs, {
        channel: "web",
        name: "Farai",
        phone: "0771231231",
        description: "Broken bridge",
      });
      const during = await createSealer(newKey, oldKey);
      assert.equal((await findGrievance(db.sql, during, id))?.complainant.name, "Farai");
      const found = await listGrievances(db.sql, during, {
        phoneIndexes: await during.indexes("phone", "+263771231231"),
      });
      assert.equal(found.length, 1, "found by the old key's index");
      assert.deepEqual(await staleGrievances(db.sql, during.keyId), [id]);
      assert.equal(await rekeyGrievance(db.sql, during, id), true);
      assert.equal(await rekeyGrievance(db.sql, during, id), false, "once");
      const after = await createSealer(newKey);
      const g = await findGrievance(db.sql, after, id);
      assert.equal(g?.complainant.name, "Farai");
      assert.equal(g?.description, "Broken bridge");
      assert.equal(g?.readable, true);
      const byNew = await listGrievances(db.sql, after, {
        phoneIndexes: [await after.index("phone", "+263771231231")],
      });
      assert.equal(byNew.length, 1);
      assert.equal(
        (await findGrievance(db.sql, before, id))?.readable,
        false,
        "old key alone: sealed",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
