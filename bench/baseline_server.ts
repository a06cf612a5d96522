/**
 * The HTTP bench's baselines: the least a Deno server can do for the requests the bench sends
 * Hurukuro: a plain `Deno.serve` handler, no framework, no middleware.
 *
 * - `GET /static/app.css`: the file's bytes from memory (read once at start), its content type;
 * - `GET /api/v1/wallet`: with BASELINE_DATABASE_URL (or BASELINE_EMBEDDED_DIR) and
 *   BASELINE_USER_ID set, the very `select` Hurukuro's wallet route runs, through postgres.js
 *   opened as Hurukuro opens it (lib/db/mod.ts), answered as JSON;
 * - anything else: a small JSON body.
 *
 * Started by bench/http.ts as a child process; listens on a free loopback port (or `PORT`) and
 * announces itself the way main.ts does, so the bench finds both servers the same way.
 */
import { openDatabase } from "../lib/db/mod.ts";
import { createLogger } from "../lib/observability/log.ts";

const css = await Deno.readFile(new URL("../static/app.css", import.meta.url));
const body = { service: "baseline", version: "0.0.0", environment: "test", sandbox: [] };

const databaseUrl = Deno.env.get("BASELINE_DATABASE_URL");
const embeddedDir = Deno.env.get("BASELINE_EMBEDDED_DIR");
const userId = Deno.env.get("BASELINE_USER_ID") ?? "";
const db = databaseUrl || embeddedDir
  ? await openDatabase({ databaseUrl, embeddedDir, log: createLogger({ level: "warn" }) })
  : null;

async function wallet(): Promise<Response> {
  const [row] = await db!.sql`
    select balance, reserved from ledger_accounts where user_id = ${userId}`;
  const balance = Number(row.balance), reserved = Number(row.reserved);
  return Response.json({ balance, reserved, available: balance - reserved });
}

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ hostname, port }) =>
    console.log(`Baseline is running at http://${hostname}:${port}`),
}, (request) => {
  const path = request.url.slice(request.url.indexOf("/", 8));
  if (path === "/static/app.css") {
    return new Response(css, { headers: { "content-type": "text/css; charset=utf-8" } });
  }
  if (path === "/api/v1/wallet" && db) return wallet();
  return Response.json(body);
});

const stop = () =>
  server.shutdown().then(() => db?.close()).then(() => Deno.exit(0), () => Deno.exit(1));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
