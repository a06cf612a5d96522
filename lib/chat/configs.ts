/**
 * AI configurations (`ai_configs`): which provider and model answer, at what price. The
 * environment variables of the contract seed the row named `default` at every start (so
 * changing `OPENAI_MODEL` and restarting takes effect); prices, prompts and budgets are the
 * operator's and survive restarts. The API key is stored encrypted (lib/security/crypto.ts)
 * and only ever decrypted here, to build the provider: no query elsewhere selects it.
 */
import { type AiProvider, createProvider, type ProviderName } from "../ai/mod.ts";
import type { Config } from "../config.ts";
import { type RefreshAhead, refreshAhead } from "../cache.ts";
import type { Sql } from "../db/mod.ts";
import { fieldsOf } from "../db/rows.ts";
import { decryptSecret, encryptSecret } from "../security/crypto.ts";
import { CHAT_SYSTEM_PROMPT, ESSAY_SYSTEM_PROMPT } from "./prompts.ts";

export const DEFAULT_CONFIG_NAME = "default";
const KEY_CONTEXT = "ai_configs.api_key";

/** An upstream the sandbox serves (lib/sandbox/mod.ts), used when the AI is not configured. */
export interface SandboxAi {
  baseUrl: string;
  apiKey: string;
  model: string;
}

/** A configuration as the chat uses it: never carries the key itself. */
export interface AiConfig {
  id: string;
  name: string;
  provider: ProviderName;
  model: string;
  baseUrl: string | null;
  hasKey: boolean;
  temperature: number;
  maxOutputTokens: number;
  essayMaxOutputTokens: number;
  contextTokens: number;
  priceInputPer1k: number;
  priceOutputPer1k: number;
  chatPrompt: string;
  essayPrompt: string;
  /** Folds turns dropped by the budget into a conversation summary; null → summaries off. */
  summaryModel: string | null;
  updatedAt: Date;
}

/** An `ai_configs` row; numeric columns arrive as strings (postgres.js keeps their precision). */
interface AiConfigRow {
  id: string;
  name: string;
  provider: ProviderName;
  model: string;
  base_url: string | null;
  api_key_encrypted: string | null;
  temperature: string;
  max_output_tokens: number;
  essay_max_output_tokens: number;
  context_tokens: number;
  price_input_per_1k: string;
  price_output_per_1k: string;
  system_prompt: string | null;
  essay_system_prompt: string | null;
  summary_model: string | null;
  updated_at: Date;
}

function toConfig(r: AiConfigRow): AiConfig {
  return {
    ...fieldsOf(r, ["id", "name", "provider", "model", "base_url"]),
    hasKey: r.api_key_encrypted !== null,
    temperature: Number(r.temperature),
    maxOutputTokens: Number(r.max_output_tokens),
    essayMaxOutputTokens: Number(r.essay_max_output_tokens),
    contextTokens: Number(r.context_tokens),
    priceInputPer1k: Number(r.price_input_per_1k),
    priceOutputPer1k: Number(r.price_output_per_1k),
    chatPrompt: r.system_prompt ?? CHAT_SYSTEM_PROMPT,
    essayPrompt: r.essay_system_prompt ?? ESSAY_SYSTEM_PROMPT,
    summaryModel: r.summary_model || null,
    updatedAt: r.updated_at,
  };
}

/**
 * Writes the environment's AI settings into the `default` configuration (created the first
 * time, default only when no other configuration is). `sandbox` replaces an unconfigured
 * upstream with the built-in fake. A key an admin stored on the settings page survives a restart
 * whose environment has none, as long as provider and base URL are unchanged (a key is never
 * sent to another upstream than the one it was stored for).
 */
export async function seedDefaultConfig(
  sql: Sql,
  config: Config,
  sandbox?: SandboxAi,
): Promise<void> {
  let provider: ProviderName = config.ai.provider;
  let model: string, baseUrl: string | null, apiKey: string | undefined;
  if (sandbox) {
    provider = "openai";
    ({ model, baseUrl, apiKey } = sandbox);
  } else if (provider === "openai") {
    ({ model, baseUrl, apiKey } = config.ai.openai);
  } else {
    ({ model, baseUrl, apiKey } = config.ai.anthropic);
  }
  const encrypted = apiKey ? await encryptSecret(config.encryptionKey, apiKey, KEY_CONTEXT) : null;
  await sql`
    insert into ai_configs (name, provider, model, base_url, api_key_encrypted, is_default)
    values (${DEFAULT_CONFIG_NAME}, ${provider}, ${model}, ${baseUrl}, ${encrypted},
            not exists (select 1 from ai_configs where is_default))
    on conflict (name) do update set
      provider = excluded.provider, model = excluded.model, base_url = excluded.base_url,
      -- A stored key stays only while it goes to the same upstream: never sent elsewhere.
      api_key_encrypted = case
        when excluded.api_key_encrypted is not null then excluded.api_key_encrypted
        when ai_configs.provider = excluded.provider
          and ai_configs.base_url is not distinct from excluded.base_url
          then ai_configs.api_key_encrypted
      end,
      updated_at = now()`;
}

/** An API key as `ai_configs.api_key_encrypted` stores it. */
export async function encryptAiKey(encryptionKey: Uint8Array, apiKey: string): Promise<string> {
  return await encryptSecret(encryptionKey, apiKey, KEY_CONTEXT);
}

/** Stores another API key for a configuration (admin screens, tests). */
export async function setApiKey(
  sql: Sql,
  encryptionKey: Uint8Array,
  configId: string,
  apiKey: string | null,
): Promise<void> {
  const encrypted = apiKey ? await encryptSecret(encryptionKey, apiKey, KEY_CONTEXT) : null;
  await sql`update ai_configs set api_key_encrypted = ${encrypted}, updated_at = now()
            where id = ${configId}`;
}

/** The active default configuration, or null when none is set up. */
export async function defaultConfig(sql: Sql): Promise<AiConfig | null> {
  const [row] = await sql<AiConfigRow[]>`
    select * from ai_configs where is_default and active limit 1`;
  return row ? toConfig(row) : null;
}

export async function getConfig(sql: Sql, id: string): Promise<AiConfig | null> {
  const [row] = await sql<AiConfigRow[]>`select * from ai_configs where id = ${id}`;
  return row ? toConfig(row) : null;
}

export interface ActiveAi {
  config: AiConfig;
  provider: AiProvider;
}

/**
 * The default configuration with its provider, cached until the row changes (`updated_at`):
 * building a provider decrypts the key and creates an SDK client, which is not per-request
 * work. The row is re-read at most once a second.
 */
export class AiConfigCache {
  #row: RefreshAhead<AiConfig | null>;
  #providers = new Map<string, AiProvider>();
  /** Providers of the other configurations bots answer with ({@link forModel}). */
  #others = new Map<string, AiProvider>();

  constructor(
    private readonly sql: Sql,
    private readonly encryptionKey: Uint8Array,
    ttlMs = 1_000,
    private readonly timeoutMs?: number,
  ) {
    // Refreshed ahead (lib/cache.ts): a request never waits on the re-read.
    this.#row = refreshAhead(() => defaultConfig(sql), ttlMs);
  }

  /** Throws `AiNotConfiguredError` (lib/ai) when no provider can be built. */
  async active(): Promise<ActiveAi | null> {
    const config = await this.#row.get();
    if (!config) return null;
    const cacheKey = `${config.id}:${config.updatedAt.getTime()}`;
    let provider = this.#providers.get(cacheKey);
    if (!provider) {
      provider = await buildProvider(this.sql, this.encryptionKey, config, {
        timeoutMs: this.timeoutMs,
      });
      this.#providers.clear();
      this.#providers.set(cacheKey, provider);
    }
    return { config, provider };
  }

  /**
   * The active configuration whose model is `model` (a bot's choice, lib/bots), with its own
   * provider and prices; the default configuration when no active one has that model (it was
   * withdrawn since the bot chose it).
   */
  async forModel(model: string): Promise<ActiveAi | null> {
    const fallback = await this.active();
    if (!fallback || fallback.config.model === model) return fallback;
    const [row] = await this.sql<AiConfigRow[]>`select * from ai_configs
                                 where active and model = ${model}
                                 order by is_default desc, name limit 1`;
    if (!row) return fallback;
    const config = toConfig(row);
    const cacheKey = `${config.id}:${config.updatedAt.getTime()}`;
    let provider = this.#others.get(cacheKey);
    if (!provider) {
      provider = await buildProvider(this.sql, this.encryptionKey, config, {
        timeoutMs: this.timeoutMs,
      });
      if (this.#others.size >= 8) this.#others.delete(this.#others.keys().next().value!);
      this.#others.set(cacheKey, provider);
    }
    return { config, provider };
  }

  /** Forgets the cached row (after an admin edit in this process). */
  invalidate(): void {
    this.#row.invalidate();
  }
}

/**
 * A provider for `config`'s upstream, with its stored key (decrypted here and nowhere else),
 * answering with `model` (default: the configuration's chat model).
 */
async function buildProvider(
  sql: Sql,
  encryptionKey: Uint8Array,
  config: AiConfig,
  options: { model?: string; timeoutMs?: number } = {},
): Promise<AiProvider> {
  const apiKey = await storedKey(sql, encryptionKey, config.id);
  return createProvider({
    provider: config.provider,
    apiKey,
    baseUrl: config.baseUrl ?? undefined,
    model: options.model ?? config.model,
    temperature: config.temperature,
    maxOutputTokens: config.maxOutputTokens,
    timeoutMs: options.timeoutMs,
  });
}

/**
 * The default configuration's upstream as other domains call it (grievance classification,
 * transcription): its settings and its key, decrypted here as everywhere else in this module.
 */
export async function defaultUpstream(
  sql: Sql,
  encryptionKey: Uint8Array,
): Promise<{ config: AiConfig; apiKey?: string } | null> {
  const config = await defaultConfig(sql);
  if (!config) return null;
  return { config, apiKey: await storedKey(sql, encryptionKey, config.id) };
}

/** Configuration `id`'s API key, decrypted; undefined when none is stored. */
async function storedKey(
  sql: Sql,
  encryptionKey: Uint8Array,
  id: string,
): Promise<string | undefined> {
  const [row] = await sql<Pick<AiConfigRow, "api_key_encrypted">[]>`
    select api_key_encrypted from ai_configs where id = ${id}`;
  return row?.api_key_encrypted
    ? await decryptSecret(encryptionKey, row.api_key_encrypted, KEY_CONTEXT)
    : undefined;
}

/**
 * The summary model of configuration `configId` on that configuration's own provider, base URL
 * and key; null when the configuration is gone or has summaries off. Built per summary job:
 * summaries are rare next to answers, so no cache.
 */
export async function summaryProvider(
  sql: Sql,
  encryptionKey: Uint8Array,
  configId: string,
): Promise<{ config: AiConfig; model: string; provider: AiProvider } | null> {
  const config = await getConfig(sql, configId);
  if (!config?.summaryModel) return null;
  const provider = await buildProvider(sql, encryptionKey, config, { model: config.summaryModel });
  return { config, model: config.summaryModel, provider };
}
