/**
 * AI upstream clients: one interface ({@link AiProvider}), two adapters (OpenAI and every
 * OpenAI-compatible server; Anthropic), typed errors with user-facing messages. Imports nothing
 * else of ours.
 */
export * from "./types.ts";
export * from "./errors.ts";
export { createProvider, type ProviderConfig } from "./factory.ts";
export { DEFAULT_RETRY, type RetrySettings } from "./retry.ts";
export { countTextTokens, estimateTokens } from "./tokens.ts";
