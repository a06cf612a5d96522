import assert from "node:assert/strict";
import { liveSource, type SseEvent, sseStream } from "./_sse.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads an event stream to its end: the event names and heartbeats, in order. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  return text.split("\n\n").filter(Boolean).map((block) =>
    block.startsWith(": heartbeat") ? "heartbeat" : /^event: ([\w.]+)/.exec(block)![1]
  );
}

const event = (id: number, name: string): SseEvent => ({ id, event: name, data: {} });

Deno.test("sseStream: a quiet stream gets heartbeats; one that keeps talking gets none", async () => {
  const quiet = await readAll(sseStream(async (push) => {
    push(event(1, "start"));
    await delay(170); // more than three heartbeat periods of silence
    push(event(2, "done"));
  }, { heartbeatMs: 50 }));
  assert.equal(quiet[0], "start");
  assert.equal(quiet.at(-1), "done");
  const beats = quiet.filter((e) => e === "heartbeat").length;
  assert.ok(beats >= 1 && beats <= 3, `heartbeats while quiet: ${quiet.join(", ")}`);

  const talking = await readAll(sseStream(async (push) => {
    push(event(1, "start"));
    for (let i = 2; i < 12; i++) {
      await delay(15); // well within the heartbeat period each time
      push(event(i, "delta"));
    }
    push(event(12, "done"));
  }, { heartbeatMs: 50 }));
  assert.deepEqual(talking.filter((e) => e === "heartbeat"), [], talking.join(", "));
  assert.equal(talking.filter((e) => e === "delta").length, 10);
});

Deno.test("sseStream: a failing source ends the stream with the error's event", async () => {
  const events = await readAll(sseStream(async (push) => {
    push(event(1, "start"));
    await delay(1);
    throw new Error("lost");
  }, { onError: () => event(0, "error") }));
  assert.deepEqual(events, ["start", "error"]);
});

Deno.test("sseStream: a reader that leaves stops the heartbeat and aborts the source", async () => {
  let detached!: () => void;
  const left = new Promise<void>((resolve) => (detached = resolve));
  const stream = sseStream(async (push, signal) => {
    push(event(1, "start"));
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    detached();
  }, { heartbeatMs: 20 });
  const reader = stream.getReader();
  await reader.read();
  await reader.cancel();
  await left;
  // No timer is left behind: the test sanitizer would report one still pending.
});

Deno.test("sseStream served by Deno.serve: events arrive whole and in order; a client that leaves aborts the source", async () => {
  let left!: () => void;
  const sourceAborted = new Promise<void>((resolve) => (left = resolve));
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const leaving = new URL(request.url).pathname === "/leave";
    const body = sseStream(async (push, signal) => {
      for (let i = 1; i <= 50; i++) push({ id: i, event: "delta", data: { text: "é".repeat(i) } });
      if (!leaving) return await finished;
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      left();
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    const res = await fetch(`${url}/whole`);
    finish();
    const text = await res.text();
    const blocks = text.split("\n\n").filter(Boolean);
    assert.equal(blocks.length, 50);
    blocks.forEach((block, i) =>
      assert.equal(
        block,
        `event: delta\ndata: ${JSON.stringify({ text: "é".repeat(i + 1) })}\nid: ${i + 1}`,
      )
    );

    const leaving = await fetch(`${url}/leave`);
    const reader = leaving.body!.getReader();
    await reader.read();
    await reader.cancel();
    const timeout = delay(5_000).then(() => {
      throw new Error("the source was not told the client left");
    });
    await Promise.race([sourceAborted, timeout]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("liveSource: what `start` pushes comes first, then what was published meanwhile, in order", async () => {
  const listeners = new Set<(n: number) => void>();
  const publish = (n: number) => listeners.forEach((listener) => listener(n));
  const controller = new AbortController();
  const pushed: SseEvent[] = [];
  const source = liveSource<number>(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    (n) => event(n, "live"),
    async (push) => {
      push(event(0, "ready"));
      publish(1); // while the history is read
      await delay(5);
      push(event(0, "history"));
    },
  );
  const running = source((e) => pushed.push(e), controller.signal);
  await delay(20);
  publish(2);
  controller.abort();
  await running;
  assert.deepEqual(pushed.map((e) => `${e.event}${e.id}`), [
    "ready0",
    "history0",
    "live1",
    "live2",
  ]);
  assert.equal(listeners.size, 0, "unsubscribed once the reader left");
});
