/**
 * Webhook deliveries refused for a missing or wrong signature (inbound.ts answers them 401 and
 * writes only their log row): how many since a moment. A burst of them means someone is probing
 * the webhook, or WHATSAPP_APP_SECRET no longer matches the provider's; the notifications'
 * "signature failure spike" check asks this every minute.
 */
import type { Sql } from "../db/mod.ts";

export async function signatureFailuresSince(sql: Sql, since: Date): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from whatsapp_webhook_log
    where received_at > ${since} and status = 401`;
  return row.n;
}
