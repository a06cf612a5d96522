import assert from "node:assert/strict";
import type { StreamEntry } from "../../../lib/chat/mod.ts";
import { entryStream } from "./chat.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads an entry stream to its end: the event names and heartbeats, in order. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  return text.split("\n\n").filter(Boolean).map((block) =>
    block.startsWith(": heartbeat") ? "heartbeat" : /^event: (\w+)/.exec(block)![1]
  );
}

const entry = (id: number, event: StreamEntry["event"]): StreamEntry => ({ id, event, data: {} });

Deno.test("entryStream: a quiet answer gets heartbeats; one that keeps talking gets none", async () => {
  const quiet = await readAll(entryStream(async (onEntry) => {
    onEntry(entry(1, "start"));
    await delay(170); // more than three heartbeat periods of silence
    onEntry(entry(2, "done"));
  }, 50));
  assert.equal(quiet[0], "start");
  assert.equal(quiet.at(-1), "done");
  const beats = quiet.filter((e) => e === "heartbeat").length;
  assert.ok(beats >= 1 && beats <= 3, `heartbeats while quiet: ${quiet.join(", ")}`);

  const talking = await readAll(entryStream(async (onEntry) => {
    onEntry(entry(1, "start"));
    for (let i = 2; i < 12; i++) {
      await delay(15); // well within the heartbeat period each time
      onEntry(entry(i, "delta"));
    }
    onEntry(entry(12, "done"));
  }, 50));
  assert.deepEqual(talking.filter((e) => e === "heartbeat"), [], talking.join(", "));
  assert.equal(talking.filter((e) => e === "delta").length, 10);
});

Deno.test("entryStream: a reader that leaves stops the heartbeat and detaches the follower", async () => {
  let detached!: () => void;
  const left = new Promise<void>((resolve) => (detached = resolve));
  const stream = entryStream(async (onEntry, signal) => {
    onEntry(entry(1, "start"));
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    detached();
  }, 20);
  const reader = stream.getReader();
  await reader.read();
  await reader.cancel();
  await left;
  // No timer is left behind: the test sanitizer would report one still pending.
});
