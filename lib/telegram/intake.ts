/**
 * The webhook's work (https://core.telegram.org/bots/api#setwebhook): check the secret, record
 * the update once, queue the reply, and say so at once. The conversation runs in
 * `telegram.reply`.
 *
 * - The secret (`X-Telegram-Bot-Api-Secret-Token`) is compared in constant time, before the
 *   body is read: without it, nothing is read, written or said.
 * - "KV delivers, Postgres records": the update is written (keyed by `update_id`) before the
 *   answer, and a job is queued for its chat; a lost job is found again by the reconciler. A
 *   redelivery finds its row and does nothing more.
 * - Anything authentic that cannot be understood (not JSON, wrong types, an update kind the
 *   channel does not handle) is acknowledged and dropped: answering an error would only make
 *   Telegram send it again and again.
 */
import { AppError } from "../errors.ts";
import { hasWebhookSecret } from "./client.ts";
import { telegramReplyJob } from "./jobs.ts";
import { maskChatId } from "./model.ts";
import type { TelegramChannel } from "./mod.ts";
import { readUpdate } from "./update.ts";

/** Telegram's updates are small (a message is at most 4,096 characters); this is generous. */
export const TELEGRAM_WEBHOOK_BODY_LIMIT = 256 * 1024;

/**
 * What became of a delivery: `accepted` (recorded, reply queued), `duplicate` (recorded
 * before), `ignored` (a kind we do not handle) or `invalid` (unreadable); each is acknowledged.
 */
export type IntakeOutcome = "accepted" | "duplicate" | "ignored" | "invalid";

/** Whether a delivery carries the webhook's secret; a refusal is logged without any detail. */
export function authentic(t: TelegramChannel, headers: Headers): boolean {
  if (hasWebhookSecret(headers, t.webhookSecret)) return true;
  t.log.warn("Telegram webhook refused: missing or wrong secret token");
  return false;
}

const decoder = new TextDecoder();

/**
 * Records an authentic delivery and queues its chat's reply. Throws AppError `unavailable` when
 * the database cannot take it (Telegram delivers it again later).
 */
export async function receiveUpdate(t: TelegramChannel, body: Uint8Array): Promise<IntakeOutcome> {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body));
  } catch {
    t.log.warn("Telegram delivery is not JSON; acknowledged and dropped", { bytes: body.length });
    return "invalid";
  }
  const update = readUpdate(json);
  if (update.kind === "invalid") {
    t.log.warn("Telegram update not understood; acknowledged and dropped", { why: update.why });
    return "invalid";
  }
  if (update.kind === "ignored") {
    t.log.debug("Telegram update ignored", { updateId: update.updateId, why: update.why });
    return "ignored";
  }
  let rows;
  try {
    rows = await t.db.sql`
      insert into telegram_updates (update_id, chat_id, username, input)
      values (${update.updateId}, ${update.chatId}, ${update.username},
              ${t.db.sql.json(update.input as never)})
      on conflict (update_id) do nothing returning update_id`;
  } catch (error) {
    t.log.error("Telegram update not recorded; Telegram will deliver it again", {
      updateId: update.updateId,
      error,
    });
    throw new AppError("unavailable", "The update could not be recorded. Try again shortly.");
  }
  if (rows.length === 0) {
    t.log.info("Telegram update delivered again; already recorded", { updateId: update.updateId });
    return "duplicate";
  }
  await t.jobs.enqueue(telegramReplyJob, { chatId: update.chatId }).catch((error) =>
    t.log.warn("Telegram reply job not queued; the reconciler will", {
      chatId: maskChatId(update.chatId),
      error,
    })
  );
  return "accepted";
}
