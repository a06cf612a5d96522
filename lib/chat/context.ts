/**
 * Context assembly: what the model is sent for one answer. Pure functions, no I/O.
 *
 * - *chat*: the system prompt, then as many of the most recent earlier turns as fit the token
 *   budget (older ones are dropped; a stored summary of the conversation, when there is one,
 *   stands in for them), then the new message. The new message always goes, whatever its size:
 *   the upstream's context-too-long error is the honest answer to a message that alone is too big.
 * - *essay*: the essay prompt and the question, nothing else.
 */
import type { ChatMessage } from "../ai/mod.ts";

export interface Turn {
  role: "user" | "assistant";
  content: string;
  /** The message's id, when it is stored (what a summary job is told it covers). */
  id?: string;
}

export interface ContextInput {
  mode: "chat" | "essay";
  systemPrompt: string;
  /** Earlier turns of the conversation, oldest first (ignored for essays). */
  history: readonly Turn[];
  /** The new user message. */
  text: string;
  /** Input tokens the whole prompt may use. */
  budget: number;
  /** Token counter for a prompt (the provider's `countTokens`). */
  count: (messages: readonly ChatMessage[]) => number;
  /** A summary of turns older than those kept (conversations.summary). */
  summary?: string | null;
}

export interface AssembledContext {
  messages: ChatMessage[];
  /** Earlier turns included. */
  turnsKept: number;
  /** Earlier turns left out for the budget: the first `turnsDropped` of `history`. */
  turnsDropped: number;
  /** The local estimate of the prompt's input tokens. */
  inputTokens: number;
}

export function assembleContext(input: ContextInput): AssembledContext {
  const system: ChatMessage = { role: "system", content: input.systemPrompt };
  const question: ChatMessage = { role: "user", content: input.text };
  if (input.mode === "essay" || input.history.length === 0) {
    const messages = [system, question];
    return {
      messages,
      turnsKept: 0,
      turnsDropped: input.mode === "essay" ? 0 : 0,
      inputTokens: input.count(messages),
    };
  }
  const summary: ChatMessage | undefined = input.summary
    ? { role: "system", content: `Summary of the earlier conversation: ${input.summary}` }
    : undefined;
  // The fixed part, then turns added newest first while they fit. Counting each turn alone
  // (with its framing) keeps this linear; the sum equals the count of the whole prompt.
  const fixed = [system, ...(summary ? [summary] : []), question];
  let used = input.count(fixed);
  const kept: ChatMessage[] = [];
  const base = input.count([]);
  for (let i = input.history.length - 1; i >= 0; i--) {
    const turn = input.history[i];
    const cost = input.count([turn]) - base;
    if (used + cost > input.budget) break;
    used += cost;
    kept.unshift({ role: turn.role, content: turn.content });
  }
  // A kept history that starts with an assistant turn reads oddly to some models (Anthropic
  // requires user first): drop it.
  while (kept.length > 0 && kept[0].role === "assistant") {
    used -= input.count([kept[0]]) - base;
    kept.shift();
  }
  const messages = [system, ...(summary ? [summary] : []), ...kept, question];
  return {
    messages,
    turnsKept: kept.length,
    turnsDropped: input.history.length - kept.length,
    inputTokens: used,
  };
}

/** Wallet tokens for model tokens at the configuration's prices (per 1,000), rounded up. */
export function priceOf(
  tokens: { inputTokens: number; outputTokens: number },
  price: { inputPer1k: number; outputPer1k: number },
): number {
  const exact = (tokens.inputTokens * price.inputPer1k + tokens.outputTokens * price.outputPer1k) /
    1000;
  // Rounding guards against 0.1 + 0.2 style noise turning an exact 3 into 4.
  return Math.ceil(Math.round(exact * 1e6) / 1e6);
}
