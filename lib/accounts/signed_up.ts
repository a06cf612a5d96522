/**
 * Tells the product a new account exists (the `account.signed_up` product event, heard by the
 * notifications): after a sign-up on the web, the API or a first WhatsApp message. Never fails
 * the sign-up: a lost announcement is logged.
 */
import type { Database } from "../db/mod.ts";
import { publishProductEvent } from "../events.ts";
import type { Logger } from "../observability/log.ts";

export async function announceSignUp(
  db: Database,
  log: Logger,
  userId: string,
  via: "web" | "api" | "whatsapp",
): Promise<void> {
  await publishProductEvent(db, { type: "account.signed_up", data: { userId, via } })
    .catch((error) => log.warn("sign-up not announced", { userId, error }));
}
