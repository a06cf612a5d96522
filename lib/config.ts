/**
 * The one configuration module: every environment variable (docs/configuration.md) is
 * read here, validated with zod, and turned into one typed object. Production refuses to start
 * on any missing or malformed variable, naming every problem at once ({@link ConfigError});
 * development and test generate `APP_SECRET` and `ENCRYPTION_KEY` once into
 * `DATA_DIR/secrets.json` (mode 0600), and serve an upstream not configured from the sandbox.
 */
import { z } from "zod";
import { parse as parseDotenv } from "dotenv";
import { join, resolve } from "node:path";

export type Environment = "development" | "test" | "production";
export type Upstream = "ai" | "whatsapp" | "paynow" | "smtp" | "slack" | "telegram";

export interface Config {
  env: Environment;
  host: string;
  port: number;
  publicUrl: string;
  dataDir: string;
  databaseUrl?: string;
  /** Connections this instance's pool keeps to `databaseUrl` at most (docs/scaling.md). */
  databasePoolSize: number;
  kvPath: string;
  appSecret: string;
  /** 32 raw bytes for AES-256-GCM. */
  encryptionKey: Uint8Array;
  admin?: { email: string; password: string };
  logLevel: "debug" | "info" | "warn" | "error";
  ai: {
    provider: "openai" | "anthropic";
    openai: { apiKey?: string; baseUrl: string; model: string; embeddingModel: string };
    anthropic: { apiKey?: string; baseUrl: string; model: string };
  };
  whatsapp: {
    provider: "meta" | "twilio";
    meta: {
      token?: string;
      phoneNumberId?: string;
      appSecret?: string;
      verifyToken?: string;
      graphUrl: string;
      apiVersion: string;
    };
    twilio: { accountSid?: string; authToken?: string; from?: string; apiUrl: string };
    /**
     * The business number people message (E.164), for the home page's "Chat on WhatsApp":
     * WHATSAPP_DISPLAY_NUMBER, else Twilio's sender; unset, the page offers no WhatsApp link.
     */
    displayNumber?: string;
    /** Approved templates: the only messages allowed outside the 24-hour window. */
    templates: { payment?: string; code?: string; language: string };
    /** Messages a second to all users (the business number's throughput). */
    sendPerSecond: number;
    /** Messages a minute one phone may send before getting a "slow down" reply. */
    userRatePerMinute: number;
    /** Days the webhook log is kept. */
    webhookLogDays: number;
    /** Phones answered at once (the `replies` lane: mostly waiting on the AI, so hundreds). */
    replyConcurrency: number;
    webhookBacklog: number; // webhooks waiting to be stored at most; beyond, 503 + Retry-After
    unansweredLimit: number; // messages with no reply sent yet (all instances); beyond, 503
  };
  paynow: {
    usd?: { integrationId: string; integrationKey: string };
    zig?: { integrationId: string; integrationKey: string };
    authEmail?: string;
    baseUrl: string;
  };
  smtp: { url?: string; from?: string };
  slack: { token?: string; apiUrl: string };
  telegram: {
    botToken?: string;
    apiUrl: string;
    /**
     * The `secret_token` given to `setWebhook`, which Telegram sends with every update: set, the
     * Telegram chat channel is on (`POST /api/telegram/webhook`). A secret: never logged.
     */
    webhookSecret?: string;
    /** The bot's @username, for `t.me` links on /account. */
    botUsername?: string;
  };
  notifications: NotificationsConfig;
  corsOrigins: string[];
  /** Bearer token `GET /metrics` requires; unset (outside production only) leaves it open. */
  metricsToken?: string;
  tzMetrics: string;
  /** Uploaded files (bots' training files, grievance attachments): UPLOADS_DIR or DATA_DIR/uploads. */
  uploadsDir: string;
  /**
   * Hosts that URLs someone else chose (webhooks, bots' training pages) may reach although they
   * are private or loopback: the local fakes of tests and the sandbox. Never in production.
   */
  privateUrlHosts: string[];
  /** Grievances (lib/grievances): speech-to-text model; the previous key during a rotation. */
  grievances: { transcriptionModel?: string; previousEncryptionKey?: Uint8Array };
  /** Upstreams served by the built-in sandbox (local fakes), never non-empty in production. */
  sandboxed: Upstream[];
}

/** Notification channels (lib/notifications). */
export interface NotificationsConfig {
  /** `NOTIFY_*` variables: secrets a channel names instead of storing one. */
  envSecrets: Record<string, string>;
}

/** The variables a notification channel may name as its secret. */
export const NOTIFY_SECRET_NAME = /^NOTIFY_[A-Z0-9_]{1,60}$/;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Configuration refused (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

const optionalText = z.string().trim().transform((s) => s === "" ? undefined : s).optional();
const url = z.url({ protocol: /^https?$/ });
const optionalUrl = optionalText.pipe(url.optional());

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The raw variables, exactly as named in docs/configuration.md. */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().min(1).default("127.0.0.1"),
  HURUKURO_ENV: z.enum(["development", "test", "production"]).default("development"),
  PUBLIC_URL: optionalUrl,
  DATA_DIR: z.string().min(1).default("./data"),
  DATABASE_URL: optionalText.pipe(
    z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  ),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(500).default(10),
  DENO_KV_PATH: optionalText,
  APP_SECRET: optionalText.pipe(
    z.string().refine((s) => new TextEncoder().encode(s).length >= 32, "must be at least 32 bytes")
      .optional(),
  ),
  ENCRYPTION_KEY: optionalText.pipe(
    z.string().refine((s) => decodeBase64Length(s) === 32, "must be base64 of exactly 32 bytes")
      .optional(),
  ),
  ADMIN_EMAIL: optionalText.pipe(z.email().optional()),
  ADMIN_PASSWORD: optionalText.pipe(
    z.string().min(12, "must be at least 12 characters").optional(),
  ),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  AI_PROVIDER: z.enum(["openai", "anthropic"]).default("openai"),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_MODEL: optionalText,
  OPENAI_EMBEDDING_MODEL: optionalText,
  ANTHROPIC_API_KEY: optionalText,
  ANTHROPIC_BASE_URL: optionalUrl,
  ANTHROPIC_MODEL: optionalText,
  WHATSAPP_PROVIDER: z.enum(["meta", "twilio"]).default("meta"),
  WHATSAPP_TOKEN: optionalText,
  WHATSAPP_PHONE_NUMBER_ID: optionalText,
  WHATSAPP_APP_SECRET: optionalText,
  WHATSAPP_VERIFY_TOKEN: optionalText,
  WHATSAPP_GRAPH_URL: optionalUrl,
  WHATSAPP_API_VERSION: optionalText.pipe(
    z.string().regex(/^v\d+\.\d+$/, "must look like v21.0").optional(),
  ),
  TWILIO_ACCOUNT_SID: optionalText,
  TWILIO_AUTH_TOKEN: optionalText,
  TWILIO_WHATSAPP_FROM: optionalText,
  WHATSAPP_DISPLAY_NUMBER: optionalText.pipe(
    z.string().regex(/^\+?[1-9][\d\s().-]{7,19}$/, "an international number, e.g. +263771234567")
      .optional(),
  ),
  TWILIO_API_URL: optionalUrl,
  WHATSAPP_PAYMENT_TEMPLATE: optionalText,
  WHATSAPP_CODE_TEMPLATE: optionalText,
  WHATSAPP_TEMPLATE_LANGUAGE: z.string().trim().min(2).default("en"),
  WHATSAPP_SEND_RATE: z.coerce.number().int().min(1).max(10_000).default(80),
  WHATSAPP_USER_RATE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(20),
  WHATSAPP_WEBHOOK_LOG_DAYS: z.coerce.number().int().min(1).max(3650).default(14),
  WHATSAPP_REPLY_CONCURRENCY: z.coerce.number().int().min(1).max(5_000).default(256),
  WHATSAPP_WEBHOOK_BACKLOG: z.coerce.number().int().min(1).max(100_000).default(2_000),
  WHATSAPP_UNANSWERED_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  PAYNOW_INTEGRATION_ID: optionalText,
  PAYNOW_INTEGRATION_KEY: optionalText,
  PAYNOW_ZIG_INTEGRATION_ID: optionalText,
  PAYNOW_ZIG_INTEGRATION_KEY: optionalText,
  PAYNOW_AUTH_EMAIL: optionalText.pipe(z.email().optional()),
  PAYNOW_BASE_URL: optionalUrl,
  SMTP_URL: optionalText.pipe(
    z.string().regex(/^smtps?:\/\/.+/, "must look like smtp://user:pass@host:port").optional(),
  ),
  MAIL_FROM: optionalText,
  SLACK_TOKEN: optionalText,
  SLACK_API_URL: optionalUrl,
  TELEGRAM_BOT_TOKEN: optionalText,
  TELEGRAM_API_URL: optionalUrl,
  // Telegram's alphabet for a secret_token (1–256 characters); at least 16 here.
  TELEGRAM_WEBHOOK_SECRET: optionalText.pipe(
    z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, "must be 16 to 256 of A-Z a-z 0-9 _ -")
      .optional(),
  ),
  TELEGRAM_BOT_USERNAME: optionalText.pipe(
    z.string().regex(/^@?[A-Za-z][A-Za-z0-9_]{3,31}$/, "must be the bot's @username")
      .transform((s) => s.replace(/^@/, "")).optional(),
  ),
  ALLOW_PRIVATE_URL_HOSTS: z.string().default("").transform((s) =>
    s.split(",").map((h) => h.trim().toLowerCase()).filter(Boolean)
  ),
  CORS_ORIGINS: z.string().default("").transform((s) =>
    s.split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean)
  ).pipe(z.array(z.url({ protocol: /^https?$/ }))),
  METRICS_TOKEN: optionalText.pipe(
    z.string().min(16, "must be at least 16 characters").optional(),
  ),
  TZ_METRICS: z.string().default("Africa/Harare").refine(validTimeZone, "unknown time zone"),
  SANDBOX: z.enum(["", "0", "1"]).default(""),
  UPLOADS_DIR: optionalText,
  OPENAI_TRANSCRIPTION_MODEL: optionalText,
  ENCRYPTION_KEY_PREVIOUS: optionalText.pipe(
    z.string().refine((s) => decodeBase64Length(s) === 32, "must be base64 of exactly 32 bytes")
      .optional(),
  ),
});

type RawEnv = z.infer<typeof EnvSchema>;
/** Every variable read (config_docs_test.ts checks the README and .env.example name each). */
export const ENV_VARIABLES = Object.keys(EnvSchema.shape);

function decodeBase64Length(s: string): number {
  try {
    return atob(s).length;
  } catch {
    return -1;
  }
}

const decodeBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const randomBase64 = (bytes: number) =>
  btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes))));

/** Which upstreams have what they need to talk to the real service. */
function configuredUpstreams(raw: RawEnv): Record<Upstream, string[]> {
  const missing = (pairs: [string, unknown][]) => pairs.filter(([, v]) => !v).map(([k]) => k);
  return {
    ai: raw.AI_PROVIDER === "openai"
      ? missing([["OPENAI_API_KEY", raw.OPENAI_API_KEY]])
      : missing([["ANTHROPIC_API_KEY", raw.ANTHROPIC_API_KEY], [
        "ANTHROPIC_MODEL",
        raw.ANTHROPIC_MODEL,
      ]]),
    whatsapp: raw.WHATSAPP_PROVIDER === "meta"
      ? missing([
        ["WHATSAPP_TOKEN", raw.WHATSAPP_TOKEN],
        ["WHATSAPP_PHONE_NUMBER_ID", raw.WHATSAPP_PHONE_NUMBER_ID],
        ["WHATSAPP_APP_SECRET", raw.WHATSAPP_APP_SECRET],
        ["WHATSAPP_VERIFY_TOKEN", raw.WHATSAPP_VERIFY_TOKEN],
      ])
      : missing([
        ["TWILIO_ACCOUNT_SID", raw.TWILIO_ACCOUNT_SID],
        ["TWILIO_AUTH_TOKEN", raw.TWILIO_AUTH_TOKEN],
        ["TWILIO_WHATSAPP_FROM", raw.TWILIO_WHATSAPP_FROM],
      ]),
    paynow: missing([
      ["PAYNOW_INTEGRATION_ID", raw.PAYNOW_INTEGRATION_ID],
      ["PAYNOW_INTEGRATION_KEY", raw.PAYNOW_INTEGRATION_KEY],
      ["PAYNOW_AUTH_EMAIL", raw.PAYNOW_AUTH_EMAIL],
    ]),
    smtp: missing([["SMTP_URL", raw.SMTP_URL], ["MAIL_FROM", raw.MAIL_FROM]]),
    // Slack and Telegram are optional notification channels: unconfigured means switched off in
    // production, sandboxed elsewhere.
    slack: missing([["SLACK_TOKEN", raw.SLACK_TOKEN]]),
    telegram: missing([["TELEGRAM_BOT_TOKEN", raw.TELEGRAM_BOT_TOKEN]]),
  };
}

const REQUIRED_IN_PRODUCTION: Upstream[] = ["ai", "whatsapp", "paynow", "smtp"];

export interface LoadOptions {
  /** Where generated development secrets are kept; `false` keeps them in memory only. */
  persistSecrets?: boolean;
}

/** The process environment over the optional `.env` file (the environment wins). */
export async function processEnv(envFile = ".env"): Promise<Record<string, string>> {
  try {
    return { ...parseDotenv(await Deno.readTextFile(envFile)), ...Deno.env.toObject() };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return Deno.env.toObject();
    throw error;
  }
}

/**
 * Reads and validates the configuration. Throws {@link ConfigError} naming every problem.
 * @example const config = await loadConfig(Deno.env.toObject());
 */
export async function loadConfig(
  env: Record<string, string | undefined>,
  options: LoadOptions = {},
): Promise<Config> {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "environment"}: ${i.message}`),
    );
  }
  const raw = parsed.data;
  const problems: string[] = [];
  const production = raw.HURUKURO_ENV === "production";
  const gaps = configuredUpstreams(raw);

  if (
    (raw.PAYNOW_ZIG_INTEGRATION_ID === undefined) !== (raw.PAYNOW_ZIG_INTEGRATION_KEY === undefined)
  ) {
    problems.push("PAYNOW_ZIG_INTEGRATION_ID and PAYNOW_ZIG_INTEGRATION_KEY go together");
  }
  if ((raw.ADMIN_EMAIL === undefined) !== (raw.ADMIN_PASSWORD === undefined)) {
    problems.push("ADMIN_EMAIL and ADMIN_PASSWORD go together");
  }
  if (production) {
    if (raw.SANDBOX === "1") problems.push("SANDBOX: the sandbox is never allowed in production");
    if (!raw.APP_SECRET) problems.push("APP_SECRET: required in production");
    if (!raw.ENCRYPTION_KEY) problems.push("ENCRYPTION_KEY: required in production");
    if (!raw.PUBLIC_URL) problems.push("PUBLIC_URL: required in production");
    if (raw.ALLOW_PRIVATE_URL_HOSTS.length > 0) {
      problems.push("ALLOW_PRIVATE_URL_HOSTS: never allowed in production");
    }
    if (raw.TELEGRAM_WEBHOOK_SECRET && !raw.TELEGRAM_BOT_TOKEN) {
      problems.push("TELEGRAM_BOT_TOKEN: required with TELEGRAM_WEBHOOK_SECRET (replies use it)");
    }
    if (!raw.METRICS_TOKEN) {
      problems.push("METRICS_TOKEN: required in production (GET /metrics would be open)");
    }
    for (const upstream of REQUIRED_IN_PRODUCTION) {
      for (const name of gaps[upstream]) {
        problems.push(`${name}: required in production (${upstream} would otherwise be sandboxed)`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = resolve(raw.DATA_DIR);
  const secrets = production
    ? { appSecret: raw.APP_SECRET!, encryptionKey: raw.ENCRYPTION_KEY! }
    : await developmentSecrets(dataDir, raw, options.persistSecrets ?? true);

  const sandboxed = production || raw.SANDBOX === "0"
    ? []
    : (Object.keys(gaps) as Upstream[]).filter((u) => gaps[u].length > 0);

  return {
    env: raw.HURUKURO_ENV,
    host: raw.HOST,
    port: raw.PORT,
    publicUrl: (raw.PUBLIC_URL ?? `http://${raw.HOST}:${raw.PORT}`).replace(/\/$/, ""),
    dataDir,
    databaseUrl: raw.DATABASE_URL,
    databasePoolSize: raw.DATABASE_POOL_SIZE,
    kvPath: resolve(raw.DENO_KV_PATH ?? join(dataDir, "kv.sqlite3")),
    appSecret: secrets.appSecret,
    encryptionKey: decodeBase64(secrets.encryptionKey),
    admin: raw.ADMIN_EMAIL ? { email: raw.ADMIN_EMAIL, password: raw.ADMIN_PASSWORD! } : undefined,
    logLevel: raw.LOG_LEVEL,
    ai: {
      provider: raw.AI_PROVIDER,
      openai: {
        apiKey: raw.OPENAI_API_KEY,
        baseUrl: raw.OPENAI_BASE_URL ?? "https://api.openai.com/v1",
        model: raw.OPENAI_MODEL ?? "gpt-4o-mini",
        embeddingModel: raw.OPENAI_EMBEDDING_MODEL ?? "text-embedding-3-small",
      },
      anthropic: {
        apiKey: raw.ANTHROPIC_API_KEY,
        baseUrl: raw.ANTHROPIC_BASE_URL ?? "https://api.anthropic.com",
        model: raw.ANTHROPIC_MODEL ?? "claude-sonnet-4-6",
      },
    },
    whatsapp: {
      provider: raw.WHATSAPP_PROVIDER,
      meta: {
        token: raw.WHATSAPP_TOKEN,
        phoneNumberId: raw.WHATSAPP_PHONE_NUMBER_ID,
        appSecret: raw.WHATSAPP_APP_SECRET,
        verifyToken: raw.WHATSAPP_VERIFY_TOKEN,
        graphUrl: raw.WHATSAPP_GRAPH_URL ?? "https://graph.facebook.com",
        apiVersion: raw.WHATSAPP_API_VERSION ?? "v21.0",
      },
      twilio: {
        accountSid: raw.TWILIO_ACCOUNT_SID,
        authToken: raw.TWILIO_AUTH_TOKEN,
        from: raw.TWILIO_WHATSAPP_FROM,
        apiUrl: raw.TWILIO_API_URL ?? "https://api.twilio.com",
      },
      displayNumber: displayNumberOf(
        raw.WHATSAPP_DISPLAY_NUMBER ??
          (raw.WHATSAPP_PROVIDER === "twilio" ? raw.TWILIO_WHATSAPP_FROM : undefined),
      ),
      templates: {
        payment: raw.WHATSAPP_PAYMENT_TEMPLATE,
        code: raw.WHATSAPP_CODE_TEMPLATE,
        language: raw.WHATSAPP_TEMPLATE_LANGUAGE,
      },
      sendPerSecond: raw.WHATSAPP_SEND_RATE,
      userRatePerMinute: raw.WHATSAPP_USER_RATE_LIMIT,
      webhookLogDays: raw.WHATSAPP_WEBHOOK_LOG_DAYS,
      replyConcurrency: raw.WHATSAPP_REPLY_CONCURRENCY,
      webhookBacklog: raw.WHATSAPP_WEBHOOK_BACKLOG,
      unansweredLimit: raw.WHATSAPP_UNANSWERED_LIMIT,
    },
    paynow: {
      usd: raw.PAYNOW_INTEGRATION_ID && raw.PAYNOW_INTEGRATION_KEY
        ? { integrationId: raw.PAYNOW_INTEGRATION_ID, integrationKey: raw.PAYNOW_INTEGRATION_KEY }
        : undefined,
      zig: raw.PAYNOW_ZIG_INTEGRATION_ID && raw.PAYNOW_ZIG_INTEGRATION_KEY
        ? {
          integrationId: raw.PAYNOW_ZIG_INTEGRATION_ID,
          integrationKey: raw.PAYNOW_ZIG_INTEGRATION_KEY,
        }
        : undefined,
      authEmail: raw.PAYNOW_AUTH_EMAIL,
      baseUrl: raw.PAYNOW_BASE_URL ?? "https://www.paynow.co.zw",
    },
    smtp: { url: raw.SMTP_URL, from: raw.MAIL_FROM },
    slack: { token: raw.SLACK_TOKEN, apiUrl: raw.SLACK_API_URL ?? "https://slack.com/api" },
    telegram: {
      botToken: raw.TELEGRAM_BOT_TOKEN,
      apiUrl: raw.TELEGRAM_API_URL ?? "https://api.telegram.org",
      webhookSecret: raw.TELEGRAM_WEBHOOK_SECRET,
      botUsername: raw.TELEGRAM_BOT_USERNAME,
    },
    notifications: {
      envSecrets: Object.fromEntries(
        Object.entries(env).filter((e): e is [string, string] =>
          NOTIFY_SECRET_NAME.test(e[0]) && typeof e[1] === "string" && e[1] !== ""
        ),
      ),
    },
    corsOrigins: raw.CORS_ORIGINS,
    metricsToken: raw.METRICS_TOKEN,
    tzMetrics: raw.TZ_METRICS,
    uploadsDir: resolve(raw.UPLOADS_DIR ?? join(dataDir, "uploads")),
    privateUrlHosts: raw.ALLOW_PRIVATE_URL_HOSTS,
    grievances: {
      transcriptionModel: raw.OPENAI_TRANSCRIPTION_MODEL,
      previousEncryptionKey: raw.ENCRYPTION_KEY_PREVIOUS
        ? decodeBase64(raw.ENCRYPTION_KEY_PREVIOUS)
        : undefined,
    },
    sandboxed,
  };
}

const Secrets = z.object({ APP_SECRET: z.string().min(32), ENCRYPTION_KEY: z.string() });

/**
 * Development/test: the variables win; otherwise secrets are generated once and kept in
 * `DATA_DIR/secrets.json` so that sessions and encrypted data survive a restart.
 */
async function developmentSecrets(
  dataDir: string,
  raw: RawEnv,
  persist: boolean,
): Promise<{ appSecret: string; encryptionKey: string }> {
  let stored: z.infer<typeof Secrets> | undefined;
  const file = join(dataDir, "secrets.json");
  if (persist) {
    try {
      stored = Secrets.parse(JSON.parse(await Deno.readTextFile(file)));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new ConfigError([`${file}: unreadable (${(error as Error).message}); delete it`]);
      }
    }
  }
  const generated = stored ?? { APP_SECRET: randomBase64(48), ENCRYPTION_KEY: randomBase64(32) };
  if (persist && !stored) {
    await Deno.mkdir(dataDir, { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(generated, null, 2) + "\n", { mode: 0o600 });
  }
  return {
    appSecret: raw.APP_SECRET ?? generated.APP_SECRET,
    encryptionKey: raw.ENCRYPTION_KEY ?? generated.ENCRYPTION_KEY,
  };
}

/** `+263771234567` from `263771234567`, `+263 77…` or Twilio's `whatsapp:+263…`. */
function displayNumberOf(raw: string | undefined): string | undefined {
  const digits = raw?.replace(/^whatsapp:/, "").replace(/[^\d]/g, "");
  return digits && digits.length >= 8 ? `+${digits}` : undefined;
}
