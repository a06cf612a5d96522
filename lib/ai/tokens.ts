/**
 * Local token counting with gpt-tokenizer (o200k_base, the encoding of OpenAI's current models):
 * the estimate behind history trimming, wallet reservations, and the usage of a stream whose
 * server did not report it. For other model families it is an approximation, which is all those
 * uses need.
 */
import { countTokens } from "gpt-tokenizer";
import type { ChatMessage } from "./types.ts";

// User text may contain "<|endoftext|>" and friends: count them as the plain text they are
// instead of letting the tokenizer throw.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

// BPE merging is quadratic in the length of a run without whitespace, and linear once the run
// is cut into short pieces. Pasted base64 or minified code must not
// stall the event loop, so long runs are counted piecewise (the count moves by a token or so).
const LONG_RUN = /(\S{200})/;

/** Tokens of a plain text. */
export function countTextTokens(text: string): number {
  if (text.length < 200) return countTokens(text, AS_PLAIN_TEXT);
  let total = 0;
  for (const piece of text.split(LONG_RUN)) {
    if (piece) total += countTokens(piece, AS_PLAIN_TEXT);
  }
  return total;
}

// OpenAI's published formula for chat models: each message costs its role and content plus 3
// tokens of framing, and every reply is primed with 3 more.
const PER_MESSAGE = 3;
const REPLY_PRIMING = 3;

/** Tokens a prompt will cost: a text alone, or chat messages with their framing. */
export function estimateTokens(input: readonly ChatMessage[] | string): number {
  if (typeof input === "string") return countTextTokens(input);
  let total = REPLY_PRIMING;
  for (const message of input) {
    total += PER_MESSAGE + countTextTokens(message.role) + countTextTokens(message.content);
  }
  return total;
}
