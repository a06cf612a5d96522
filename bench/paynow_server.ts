/**
 * The payments bench's Paynow: the fake (lib/sandbox/paynow.ts) in a process of its own, as the
 * real one is remote, so its hashing and HTTP do not share the measured process's event loop.
 * Every payment stays `Sent` (nobody pays), so each poll finds it pending.
 *
 * Started by bench/payments.ts; listens on a free loopback port and announces itself the way
 * main.ts does. `PAYNOW_INTEGRATION_ID` / `PAYNOW_INTEGRATION_KEY` name its one integration.
 */
import { startFakePaynow } from "../lib/sandbox/paynow.ts";

const paynow = await startFakePaynow({
  integrations: {
    [Deno.env.get("PAYNOW_INTEGRATION_ID") ?? "1201"]: Deno.env.get("PAYNOW_INTEGRATION_KEY") ??
      "bench-key",
  },
  // Records only for debugging: a bench run makes tens of thousands of requests.
  maxRecords: 100,
});
console.log(`Fake Paynow is running at ${paynow.url}`);

const stop = () => paynow.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
