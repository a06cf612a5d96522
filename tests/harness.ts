/**
 * The test harness: starts the real app (main.ts `start`, the wiring of lib/app.ts) in-process on a random port against a
 * fresh database, and tears it down.
 *
 * - `DATABASE_URL` set → a fresh database is created on that server for each app and dropped
 *   afterwards.
 * - unset → a fresh embedded database: a migrated template data directory is made once per
 *   migration set (creating a PGlite directory costs 3–7 s) and copied for each app (~0.7 s).
 */
import type { HealthReport } from "../lib/health.ts";
import assert from "node:assert/strict";
import postgres from "postgres";
import { join } from "node:path";
import { cp } from "node:fs/promises";
import { type RunningServer, start, type StartOptions } from "../main.ts";
import { type Database, openDatabase } from "../lib/db/mod.ts";
import { migrate, MIGRATIONS_DIR, readMigrations } from "../lib/db/migrate.ts";
import { memoryLogger } from "../lib/observability/log.ts";
import { createUser } from "../lib/accounts/users.ts";
import { signAccessToken } from "../lib/accounts/jwt.ts";
import { startFakeSmtp } from "../lib/sandbox/smtp.ts";
import { post } from "../lib/wallet/ledger.ts";

export const ROOT = new URL("../", import.meta.url).pathname;
const CACHE = join(ROOT, "data", "test-cache");

/**
 * `resource` made disposable by its own `close()`, so that a test can write
 * `await using t = await setup()` and have it closed however the test ends.
 */
export function closing<T extends { close(): Promise<void> }>(resource: T): T & AsyncDisposable {
  return Object.assign(resource, { [Symbol.asyncDispose]: () => resource.close() });
}

export interface TestApp extends AsyncDisposable {
  url: string;
  server: RunningServer;
  /** Every log line the app wrote (JSON strings). */
  logs: string[];
  dataDir: string;
  storage: TestStorage;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Keep KV in a file under the app's data dir instead of memory. */
  kvFile?: boolean;
  extraHandlers?: StartOptions["extraHandlers"];
  extraCrons?: StartOptions["extraCrons"];
  concurrency?: StartOptions["concurrency"];
  /** Run on this storage (and leave it in place at close) instead of a fresh one. */
  storage?: TestStorage;
  /**
   * Run as a second instance beside this app, on its storage, as another process behind a load
   * balancer would: its own HTTP server, KV, job queue and chat runtime. With `DATABASE_URL` it
   * opens its own connections; the embedded database is one process's, so there it shares the
   * app's connection (and nothing else). Close it before the app.
   */
  alongside?: TestApp;
}

/** A PGlite data directory, migrated (or left empty), made once and copied for each test. */
async function templateDir(migrated = true): Promise<string> {
  const migrations = migrated ? await readMigrations() : [];
  const key = migrations.map((m) => m.checksum.slice(0, 8)).join("") || "empty";
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  const dir = join(
    CACHE,
    "pg-template-" + Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16)).join(""),
  );
  try {
    await Deno.stat(join(dir, "READY"));
    return dir;
  } catch { /* build it below */ }
  // Test files may run in parallel processes: one builds the template, the others wait.
  await Deno.mkdir(CACHE, { recursive: true });
  const lock = await Deno.open(join(CACHE, "template.lock"), { create: true, write: true });
  await lock.lock(true);
  try {
    try {
      await Deno.stat(join(dir, "READY"));
      return dir; // another process built it while this one waited
    } catch { /* still missing: this process builds it */ }
    return await buildTemplate(dir, migrated);
  } finally {
    await lock.unlock();
    lock.close();
  }
}

async function buildTemplate(dir: string, migrated: boolean): Promise<string> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const db = await openDatabase({ embeddedDir: join(dir, "pg"), log: memoryLogger("warn") });
  if (migrated) await migrate(db.sql, MIGRATIONS_DIR);
  await db.close();
  await Deno.writeTextFile(join(dir, "READY"), new Date().toISOString());
  return dir;
}

/** A fresh, empty database on the server named by `DATABASE_URL`. */
async function freshServerDatabase(
  adminUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `hk_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * Polls `probe` until it returns a value (anything but undefined, null, false or another falsy
 * value) and returns it, or fails naming `what` after `ms`: background work settles in its own
 * time, and a test waits for what it can see instead of sleeping a guessed while.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  ms = 20_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * An empty database (no migrations applied) for tests of lib/db itself; drop it with `close`.
 */
export async function freshDatabase(): Promise<
  { db: Database; close(): Promise<void> } & AsyncDisposable
> {
  const serverUrl = Deno.env.get("DATABASE_URL");
  const log = memoryLogger("warn");
  if (serverUrl) {
    const fresh = await freshServerDatabase(serverUrl);
    const db = await openDatabase({ databaseUrl: fresh.url, log, max: 4 });
    return closing({ db, close: async () => (await db.close(), await fresh.drop()) });
  }
  const dir = await Deno.makeTempDir({ prefix: "hurukuro-db-" });
  await cp(join(await templateDir(false), "pg"), join(dir, "pg"), { recursive: true });
  const db = await openDatabase({ embeddedDir: join(dir, "pg"), log });
  return closing({
    db,
    close: async () => (await db.close(), await Deno.remove(dir, { recursive: true })),
  });
}

/**
 * Where an app keeps its data: a fresh temp `DATA_DIR` (holding a copy of the migrated template
 * database when embedded) and, with `DATABASE_URL`, a fresh database on that server. Several
 * apps can use one storage in turn (restart tests); `cleanup` removes it.
 */
export interface TestStorage {
  dataDir: string;
  /** Variables that point an app (in-process or a child process) at this storage. */
  env: Record<string, string>;
  /** Opens this storage's database directly (no app running on it when embedded). */
  openDatabase(): Promise<Database>;
  cleanup(): Promise<void>;
}

/** Fresh storage for apps and child processes to share; `await using` removes it at the end. */
export async function prepareStorage(): Promise<TestStorage & AsyncDisposable> {
  const storage = await freshStorage();
  return Object.assign(storage, { [Symbol.asyncDispose]: () => storage.cleanup() });
}

async function freshStorage(): Promise<TestStorage> {
  const dataDir = await Deno.makeTempDir({ prefix: "hurukuro-test-" });
  const serverUrl = Deno.env.get("DATABASE_URL");
  const log = memoryLogger("warn");
  if (serverUrl) {
    const fresh = await freshServerDatabase(serverUrl);
    // Migrated like the embedded template, so both back ends start from the same schema.
    const migrator = postgres(fresh.url, { max: 1, onnotice: () => {} });
    await migrate(migrator as never, MIGRATIONS_DIR);
    await migrator.end();
    return {
      dataDir,
      env: { DATA_DIR: dataDir, DATABASE_URL: fresh.url },
      openDatabase: () => openDatabase({ databaseUrl: fresh.url, log, max: 4 }),
      async cleanup() {
        await fresh.drop();
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      },
    };
  }
  await cp(join(await templateDir(), "pg"), join(dataDir, "pg"), { recursive: true });
  return {
    dataDir,
    env: { DATA_DIR: dataDir },
    openDatabase: () => openDatabase({ embeddedDir: join(dataDir, "pg"), log }),
    cleanup: () => Deno.remove(dataDir, { recursive: true }).catch(() => {}),
  };
}

/** Runs `fn` on a fresh, migrated database of its own (no app), removed afterwards. */
export async function withDatabase(fn: (db: Database) => Promise<void>): Promise<void> {
  const storage = await prepareStorage();
  const db = await storage.openDatabase();
  try {
    await fn(db);
  } finally {
    await db.close();
    await storage.cleanup();
  }
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const ownStorage = !options.storage && !options.alongside;
  const storage = options.alongside?.storage ?? options.storage ?? await prepareStorage();
  // The embedded database is one process's: a second instance shares its connection (and only
  // that: its chat, leases and queue are its own, as lib/app.ts builds them per instance).
  const database = options.alongside && !Deno.env.get("DATABASE_URL")
    ? options.alongside.server.db
    : undefined;
  const env: Record<string, string> = {
    HURUKURO_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "debug",
    ...storage.env,
    ...options.env,
  };
  const log = memoryLogger("debug");
  let server: RunningServer;
  try {
    server = await start({
      env,
      log,
      kvPath: options.kvFile ? undefined : null,
      cron: false,
      extraHandlers: options.extraHandlers,
      extraCrons: options.extraCrons,
      concurrency: options.concurrency,
      database,
    });
  } catch (error) {
    if (ownStorage) await storage.cleanup();
    throw error;
  }
  return closing({
    url: server.url,
    server,
    logs: log.lines,
    dataDir: storage.dataDir,
    storage,
    fetch: (path: string, init?: RequestInit) => fetch(server.url + path, init),
    async close() {
      await server.shutdown();
      if (ownStorage) await storage.cleanup();
    },
  });
}

/** Runs the project's own Deno on `args` as a child process (for start-up and crash tests). */
export function denoCommand(
  args: string[],
  env: Record<string, string>,
  options: { stderr?: "piped" | "null" } = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    // A clean environment (the caller's variables only) plus what Deno itself needs to run.
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      NO_COLOR: "1",
      ...env,
    },
    clearEnv: true,
    stdout: "piped",
    stderr: options.stderr ?? "piped",
  });
}

/** `app` and the fakes of the upstreams it talks to, closed together (the app first). */
export function withFakes<Fakes extends Record<string, { close(): Promise<void> }>>(
  app: TestApp,
  fakes: Fakes,
): { app: TestApp; close(): Promise<void> } & Fakes & AsyncDisposable {
  return closing({
    app,
    ...fakes,
    async close() {
      await app.close();
      for (const fake of Object.values(fakes)) await fake.close();
    },
  });
}

/** An app sending its e-mail from `mailFrom` to a fake SMTP server of its own. */
export async function appWithSmtp(mailFrom: string) {
  const smtp = await startFakeSmtp();
  const app = await startTestApp({ env: { SMTP_URL: smtp.url, MAIL_FROM: mailFrom } });
  return withFakes(app, { smtp });
}

/** The password of the accounts the helpers below create. */
export const PASSWORD = "long enough password";

/**
 * A staff account (`admin` or `officer`) created directly in `app`'s database, with the bearer
 * header of an access token for it.
 */
export async function staffUser(
  app: TestApp,
  email: string,
  role: "admin" | "officer",
): Promise<{ id: string; email: string; headers: { authorization: string } }> {
  const user = await createUser(app.server.db.sql, {
    email,
    password: PASSWORD,
    role,
  });
  const token = await signAccessToken(app.server.config.appSecret, { sub: user.id, role });
  return { id: user.id, email, headers: { authorization: `Bearer ${token}` } };
}

/**
 * A new user signed up through the API of the server at `url` (an app's, or a spawned
 * server's), failing unless it was created: the API's answer and the user's bearer header.
 */
export async function signUp(
  url: string,
  email = `user-${crypto.randomUUID()}@example.com`,
  password = PASSWORD,
): Promise<{
  email: string;
  accessToken: string;
  refreshToken: string;
  user: { id: string };
  auth: { authorization: string };
}> {
  const res = await fetch(`${url}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  const body = JSON.parse(text);
  return { email, ...body, auth: { authorization: `Bearer ${body.accessToken}` } };
}

/** Buys `tokens` into `userId`'s wallet in `app`'s ledger, as a paid top-up would. */
export async function credit(app: TestApp, userId: string, tokens: number): Promise<void> {
  await post(app.server.db.sql, {
    userId,
    kind: "purchase_credit",
    delta: tokens,
    idempotencyKey: `test-credit:${crypto.randomUUID()}`,
    description: "test credit",
  });
}

/** A new user signed up through `app`'s API with `tokens` in their wallet (none unless given). */
export async function fundedUser(
  app: TestApp,
  tokens = 0,
): Promise<{ userId: string; email: string; auth: { authorization: string } }> {
  const { user, email, auth } = await signUp(app.url);
  if (tokens > 0) await credit(app, user.id, tokens);
  return { userId: user.id, email, auth };
}

/** A body as JSON, or `{}` when it is empty or not JSON (the text has it). */
export function jsonOrEmpty(text: string): Record<string, unknown> {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}

/** What {@link jsonApi} returns: `(method, path, body?, headers?)` → status, body, headers, text. */
export type JsonApi = ReturnType<typeof jsonApi>;

/**
 * A JSON API caller for `app`: sends `body` as JSON (when given) with `headers`, or with
 * `defaultHeaders` when none are given, and reads the answer as JSON and as text.
 */
export function jsonApi(app: TestApp, defaultHeaders: Record<string, string>) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; text: string }> => {
    const res = await app.fetch(path, {
      method,
      headers: {
        ...(headers ?? defaultHeaders),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: jsonOrEmpty(text), headers: res.headers, text };
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The rows of `query` (a table and its `where`) in `app`'s database. */
export async function count(app: TestApp, query: string): Promise<number> {
  const [row] = await app.server.db.sql.unsafe(`select count(*)::int as n from ${query}`);
  return row.n;
}

/**
 * `/health`'s answer once `accept` holds: it is served from a snapshot up to two seconds old
 * (lib/health.ts), so a change shows after at most that long.
 */
export async function healthOnce(
  app: TestApp,
  accept: (status: number, body: HealthReport) => boolean,
): Promise<{ status: number; body: HealthReport }> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const res = await app.fetch("/health");
    const answer = { status: res.status, body: await res.json() };
    if (accept(answer.status, answer.body) || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A server process (`deno run -A main.ts`) started by a test. */
export interface ServerProcess {
  url: string;
  child: Deno.ChildProcess;
  /** The last lines it wrote to standard output, then standard error's (for a failure's message). */
  tail(): string;
  /** Settles once its standard output has ended (it exited): `tail()` then has its last words. */
  drained: Promise<void>;
  /** Asks it to stop (SIGTERM, unless it is gone already) and waits until it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `main.ts` as a child process (for crash, restart and multi-instance tests) in the test
 * environment on a free port, logging warnings unless `env` says otherwise; resolves with its URL
 * once it listens, and keeps draining its output (a full pipe would block the server).
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = denoCommand(
    ["run", "-A", "main.ts"],
    { HURUKURO_ENV: "test", PORT: "0", LOG_LEVEL: "warn", ...env },
  ).spawn();
  // Standard error is kept (its tail) so that a process that exits early says why.
  let errors = "";
  const stderrDrained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (errors = (errors + chunk).slice(-8_000)) }),
  ).catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const deadline = Date.now() + 60_000;
  while (!/running at (http:\S+)/.test(out) && Date.now() < deadline) {
    const { value, done } = await lines.read();
    if (done) break;
    out += value;
  }
  const url = out.match(/running at (http:\S+)/)?.[1];
  if (!url) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    const status = await child.status;
    await stderrDrained;
    throw new Error(
      `the server did not start (exit code ${status.code}):\n${out.slice(-2_000)}\n` +
        `standard error:\n${errors.slice(-4_000)}`,
    );
  }
  const drained = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      out = (out + value).slice(-20_000);
    }
    await stderrDrained;
  })().catch(() => {});
  const tail = () =>
    out.slice(-4_000) + (errors ? `\nstandard error:\n${errors.slice(-4_000)}` : "");
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  };
  return { url, child, tail, drained, stop };
}
