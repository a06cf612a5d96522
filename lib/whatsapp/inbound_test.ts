import assert from "node:assert/strict";
import { GroupCommit } from "./group_commit.ts";

/** A flush whose batches finish when the test says so. */
function heldFlush() {
  const batches: { items: number[]; finish: (error?: Error) => void }[] = [];
  const flush = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      batches.push({
        items,
        finish: (error) => error ? reject(error) : resolve(items.map((i) => i * 10)),
      });
    });
  return { batches, flush };
}

const turn = () => new Promise((r) => setTimeout(r, 0));

Deno.test("group commit: one tick's items go together, and at most `concurrency` batches are written at once", async () => {
  const { batches, flush } = heldFlush();
  const commits = new GroupCommit(flush, { concurrency: 2 });
  const first = [1, 2, 3].map((i) => commits.submit(i));
  await turn();
  const second = commits.submit(4);
  await turn();
  const third = [5, 6].map((i) => commits.submit(i));
  await turn();
  assert.deepEqual(batches.map((b) => b.items), [[1, 2, 3], [4]], "two batches in flight");
  batches[0].finish();
  assert.deepEqual(await Promise.all(first), [10, 20, 30]);
  await turn();
  assert.deepEqual(batches.map((b) => b.items), [[1, 2, 3], [4], [5, 6]], "the third went next");
  batches[1].finish(new Error("disk full"));
  await assert.rejects(second, /disk full/);
  let idle = false;
  commits.idle().then(() => idle = true);
  await turn();
  assert.equal(idle, false, "a batch is still being written");
  batches[2].finish();
  assert.deepEqual(await Promise.all(third), [50, 60]);
  await turn();
  assert.equal(idle, true);
});

Deno.test("group commit: with concurrency 1, requests arriving during a write wait for the next batch", async () => {
  const { batches, flush } = heldFlush();
  const commits = new GroupCommit(flush);
  const a = commits.submit(1);
  await turn();
  const rest = [2, 3, 4].map((i) => commits.submit(i));
  await turn();
  assert.deepEqual(batches.map((b) => b.items), [[1]]);
  batches[0].finish();
  await a;
  await turn();
  assert.deepEqual(batches.map((b) => b.items), [[1], [2, 3, 4]]);
  batches[1].finish();
  assert.deepEqual(await Promise.all(rest), [20, 30, 40]);
});

Deno.test("group commit: a batch that fails is written again one item at a time, so only the failing item fails", async () => {
  const written: number[][] = [];
  const commits = new GroupCommit(async (items: number[]) => {
    written.push(items);
    await turn();
    if (items.includes(13)) throw new Error("item 13 is refused");
    return items.map((i) => i * 10);
  });
  const results = await Promise.allSettled([11, 12, 13, 14].map((i) => commits.submit(i)));
  assert.deepEqual(results.map((r) => r.status === "fulfilled" ? r.value : "refused"), [
    110,
    120,
    "refused",
    140,
  ]);
  assert.deepEqual(written, [[11, 12, 13, 14], [11], [12], [13], [14]]);
  // An item alone that fails is not tried again.
  await assert.rejects(commits.submit(13), /item 13 is refused/);
  assert.deepEqual(written.at(-1), [13]);
  assert.equal(written.length, 6);
});
