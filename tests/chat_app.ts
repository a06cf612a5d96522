/**
 * The real app with its chat at a fake OpenAI server of its own (lib/sandbox/openai.ts), as the
 * chat and messaging end-to-end tests run it; the messaging setups add their channel's fake.
 */
import { startTestApp, type TestApp, type TestAppOptions, withFakes } from "./harness.ts";
import { FAKE_OPENAI_KEY, type FakeOpenAI, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import type { FakeModelOptions } from "../lib/sandbox/ai_common.ts";
import { answerOnce, type ChatServices } from "../lib/chat/mod.ts";

export interface ChatApp extends AsyncDisposable {
  app: TestApp;
  openai: FakeOpenAI;
  /** Closes the app, then the fake. */
  close(): Promise<void>;
}

/** Starts the fake (answering as `model` says) and the app pointed at it, with `env` added. */
export async function startChatApp(
  options: TestAppOptions & { model?: FakeModelOptions } = {},
): Promise<ChatApp> {
  const { model, ...appOptions } = options;
  const openai = await startFakeOpenAI(model);
  const app = await startTestApp({
    ...appOptions,
    env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: openai.baseUrl, ...appOptions.env },
  });
  return withFakes(app, { openai });
}

/** One chat message from WhatsApp, answered whole (the bot's path). */
export const chatOnWhatsApp = (chat: ChatServices, userId: string, text: string) =>
  answerOnce(chat, { userId, mode: "chat", channel: "whatsapp", text });
