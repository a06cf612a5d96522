/**
 * Peer bench: BuilderBot (npm `@builderbot/bot` 1.3.13 with its Meta provider, the newest stable
 * `@builderbot/provider-meta`, 1.2.2) under the same webhook load as `bench whatsapp`, read
 * against the bare `Deno.serve` in the same run; and, when `whatsapp` ran in the same
 * `deno task bench`, Hurukuro's ratio beside the peer's.
 *
 * - The packages are installed by this bench, on demand, with npm into a temporary directory
 *   (never by the tests, never into the repository), and run by Node in a process of its own.
 * - The peer keeps everything in memory: it checks no signature, stores nothing, and answers
 *   200 before the message is processed. Hurukuro checks the signature and stores the message
 *   before its 200. The same signed deliveries go to both.
 * - Nothing leaves the machine: the peer's calls to graph.facebook.com are answered in process
 *   (its HTTP client's adapter is replaced), so its replies cost it no network.
 */
import {
  busyWarning,
  closedLoop,
  type ClosedLoopFigures,
  closedLoopTable,
} from "./_closed_loop.ts";
import {
  assertLoopback,
  envNumber,
  integer,
  makeTempDir,
  onCleanup,
  startServer,
  withTimeout,
} from "./_support.ts";
import { deliveryPool, lastWebhookRun } from "./_webhook_load.ts";

export const description =
  "BuilderBot 1.3.13 + Meta provider (npm, installed on demand) under the whatsapp bench's load";

const PACKAGES = ["@builderbot/bot@1.3.13", "@builderbot/provider-meta@1.2.2"];

/** The peer: a bot whose flow answers "help", served by the Meta provider's own HTTP server. */
const PEER_SCRIPT = `
const axios = require("axios");
// Replies and profile look-ups to graph.facebook.com are answered here: nothing leaves the box.
axios.defaults.adapter = async (config) => ({
  data: { messages: [{ id: "wamid.peer" }], id: "peer", display_phone_number: "263700000000" },
  status: 200, statusText: "OK", headers: {}, config, request: {},
});
const { createBot, createProvider, createFlow, addKeyword, MemoryDB } = require("@builderbot/bot");
const { MetaProvider } = require("@builderbot/provider-meta");
const flow = createFlow([addKeyword(["help"]).addAnswer("How can I help?")]);
const provider = createProvider(MetaProvider, {
  jwtToken: "peer-token", numberId: "123456789", verifyToken: "peer", version: "v21.0",
});
const port = Number(process.env.PORT);
createBot({ flow, provider, database: new MemoryDB() }).then(({ httpServer }) => {
  httpServer(port);
  setTimeout(() => console.log("BuilderBot is running at http://127.0.0.1:" + port), 500);
});
`;

async function npmInstall(dir: string): Promise<string> {
  await Deno.writeTextFile(`${dir}/package.json`, JSON.stringify({ name: "peer", private: true }));
  const out = await new Deno.Command("npm", {
    args: ["install", "--no-audit", "--no-fund", "--ignore-scripts", ...PACKAGES],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`npm install failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  const lock = JSON.parse(await Deno.readTextFile(`${dir}/package-lock.json`));
  return PACKAGES.map((p) => {
    const name = p.slice(0, p.lastIndexOf("@"));
    return `${name} ${lock.packages[`node_modules/${name}`]?.version}`;
  }).join(", ");
}

/** A free loopback port (the peer's server takes a fixed one). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Runs the peer with Node; resolves with its URL and pid once it listens. */
async function startPeer(dir: string) {
  await Deno.writeTextFile(`${dir}/peer.cjs`, PEER_SCRIPT);
  const port = freePort();
  const child = new Deno.Command("node", {
    args: ["peer.cjs"],
    cwd: dir,
    env: { PORT: String(port), NODE_ENV: "production" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stop = onCleanup(async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
  });
  const url = `http://127.0.0.1:${port}`;
  assertLoopback(url);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await withTimeout(
    (async () => {
      let text = "";
      while (!text.includes("is running at")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the peer exited: ${text.slice(-1000)}`);
        text += value;
      }
      // Keep reading, so a full pipe never blocks the peer.
      (async () => {
        while (!(await reader.read()).done) { /* drained */ }
      })().catch(() => {});
    })(),
    60_000,
    "BuilderBot did not start",
  );
  return { url, pid: child.pid, stop };
}

export async function run(): Promise<void> {
  const seconds = envNumber("BENCH_SECONDS", 5, 0.5, 120);
  const dir = await makeTempDir("hurukuro-bench-peer-");
  const started = performance.now();
  const versions = await npmInstall(dir.path);
  console.log(
    `Installed ${versions} with npm (${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  const load = deliveryPool({
    count: Math.max(20_000, seconds * 12_000),
    phones: 1_000,
    phoneBase: 0,
    tag: "peer",
  });

  const rows: ClosedLoopFigures[] = [];
  const baseline = await startServer({ name: "baseline", script: "bench/webhook_baseline.ts" });
  try {
    rows.push(
      await closedLoop({
        label: "bare Deno.serve",
        url: `${baseline.url}/`,
        seconds,
        next: load.next,
        pid: baseline.pid,
      }),
    );
  } finally {
    await baseline.stop();
  }
  const peer = await startPeer(dir.path);
  try {
    rows.push(
      await closedLoop({
        label: "BuilderBot + Meta provider",
        url: `${peer.url}/webhook`,
        seconds,
        next: load.next,
        pid: peer.pid,
      }),
    );
  } finally {
    await peer.stop();
    await dir.remove();
  }
  const [bare, theirs] = rows;
  console.log(closedLoopTable(rows));
  const warning = busyWarning(rows);
  if (warning) console.log(`\n${warning}`);
  const peerRatio = theirs.okPerSec / bare.okPerSec;
  console.log(
    `\n  BuilderBot: ${integer(theirs.okPerSec)}/s = ${peerRatio.toFixed(3)}× the bare server's ${
      integer(bare.okPerSec)
    }/s (in memory, unsigned)`,
  );
  const { bare: ourBare, ours } = lastWebhookRun;
  if (ours && ourBare) {
    const ourRatio = ours.okPerSec / ourBare.okPerSec;
    console.log(
      `  Hurukuro (the whatsapp bench of this run, signed and stored): ${
        ourRatio.toFixed(3)
      }× its bare ` +
        `server = ${(ourRatio / peerRatio).toFixed(2)}× the peer's ratio: ${
          ourRatio >= peerRatio ? "ahead of" : "BEHIND"
        } the peer`,
    );
  } else {
    console.log(
      "  (run `deno task bench whatsapp peer` to print Hurukuro's ratio beside the peer's)",
    );
  }
}
