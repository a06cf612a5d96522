/**
 * One entry point from configuration (environment or a stored AI configuration) to a provider.
 * A missing key or model fails here, as `AiNotConfiguredError`, rather than as a confusing 401
 * at the first user's question.
 *
 * @example
 * const ai = createProvider({ provider: "openai", apiKey, baseUrl, model: "gpt-4o-mini" });
 * for await (const event of ai.stream([{ role: "user", content: "Hi" }])) …
 */
import { AnthropicProvider } from "./anthropic.ts";
import { AiNotConfiguredError } from "./errors.ts";
import { OPENAI_BASE_URL, OpenAiProvider } from "./openai.ts";
import type { ProviderSettings } from "./provider.ts";
import type { AiProvider, ProviderName } from "./types.ts";

export interface ProviderConfig extends Omit<ProviderSettings, "apiKey"> {
  provider: ProviderName;
  /** May be empty only for a self-hosted OpenAI-compatible server (Ollama needs none). */
  apiKey?: string;
  embeddingModel?: string;
}

export function createProvider(config: ProviderConfig): AiProvider {
  const apiKey = config.apiKey?.trim() ?? "";
  const model = config.model?.trim() ?? "";
  if (!model) throw new AiNotConfiguredError(`no model configured for ${config.provider}`);
  const baseUrl = config.baseUrl?.trim() || undefined;
  if (baseUrl !== undefined && !URL.canParse(baseUrl)) {
    throw new AiNotConfiguredError(`the base URL of ${config.provider} is not a URL`);
  }
  const common = {
    baseUrl,
    model,
    temperature: config.temperature,
    maxOutputTokens: config.maxOutputTokens,
    timeoutMs: config.timeoutMs,
    retry: config.retry,
  };
  switch (config.provider) {
    case "openai": {
      const ownServer = baseUrl !== undefined &&
        new URL(baseUrl).origin !== new URL(OPENAI_BASE_URL).origin;
      if (!apiKey && !ownServer) throw new AiNotConfiguredError("no OpenAI API key configured");
      // The SDK refuses an empty key; a self-hosted server ignores whatever we send.
      return new OpenAiProvider({
        ...common,
        apiKey: apiKey || "no-key",
        embeddingModel: config.embeddingModel,
      });
    }
    case "anthropic":
      if (!apiKey) throw new AiNotConfiguredError("no Anthropic API key configured");
      return new AnthropicProvider({ ...common, apiKey });
    default:
      throw new AiNotConfiguredError(`unknown AI provider "${String(config.provider)}"`);
  }
}
