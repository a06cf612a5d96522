/**
 * V8's `gc()` for tests that must show something survives a garbage collection. The test runner
 * is not started with `--expose-gc`; the flag set at run time applies to contexts made afterwards,
 * so the function is taken from a fresh `node:vm` context.
 */
import v8 from "node:v8";
import vm from "node:vm";

let gc: (() => void) | undefined;

/** Runs full garbage collections, with a turn of the event loop around each. */
export async function collectGarbage(rounds = 2): Promise<void> {
  if (!gc) {
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as () => void;
  }
  for (let i = 0; i < rounds; i++) {
    // WeakRefs made in the current job stay alive until it ends: let it end first.
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
  }
}
