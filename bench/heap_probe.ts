/**
 * Preloaded into the servers bench/chat.ts measures (`--preload`, with
 * `--v8-flags=--expose-gc`): on SIGUSR2, a full garbage collection, then one line on standard
 * output, `heap-probe <n> <used> <total>`: the n-th answer, the JS heap in use and the V8 heap's
 * size (what it holds from the system, objects or not).
 *
 * Instead of the V8 inspector: a process started with `--inspect` is not the process we run. With
 * the inspector on, Deno's `fetch` tees every response body and drains one branch itself (for
 * DevTools' Network panel), which holds a 64 KiB read per open upstream response whatever the
 * server's own reader does.
 */
let answers = 0;
Deno.addSignalListener("SIGUSR2", () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("heap_probe.ts needs --v8-flags=--expose-gc");
  gc();
  gc();
  const { heapUsed, heapTotal } = Deno.memoryUsage();
  console.log(`heap-probe ${++answers} ${heapUsed} ${heapTotal}`);
});
