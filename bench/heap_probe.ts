/**
 * Preloaded into the servers bench/chat.ts measures (`--preload`, with
 * `--v8-flags=--expose-gc`): on SIGUSR2, a full garbage collection, then one line on standard
 * output, `heap-probe <n> <bytes>`: the n-th answer and the JS heap in use.
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
  console.log(`heap-probe ${++answers} ${Deno.memoryUsage().heapUsed}`);
});
