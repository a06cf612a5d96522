/**
 * Operator-editable settings, one JSON value per key in `settings`, each with a zod schema and
 * a default (the admin screen edits them).
 */
import { z } from "zod";
import type { Tx } from "../wallet/ledger.ts";

const SETTINGS = {
  /** Tokens every new account receives. */
  signup_grant_tokens: { schema: z.number().int().min(0), default: 0 },
  /** Minutes a payment may stay unsettled before it is marked expired. */
  payment_expiry_minutes: { schema: z.number().int().min(1).max(24 * 60), default: 30 },
} as const;

export type SettingKey = keyof typeof SETTINGS;
type Value<K extends SettingKey> = z.infer<(typeof SETTINGS)[K]["schema"]>;

/** Reads `key`, in a transaction or not. */
export async function getSetting<K extends SettingKey>(sql: Tx, key: K): Promise<Value<K>> {
  const [row] = await sql<{ value: unknown }[]>`select value from settings where key = ${key}`;
  const parsed = SETTINGS[key].schema.safeParse(row?.value);
  return (parsed.success ? parsed.data : SETTINGS[key].default) as Value<K>;
}

export async function setSetting<K extends SettingKey>(
  sql: Tx,
  key: K,
  value: Value<K>,
): Promise<void> {
  const parsed = SETTINGS[key].schema.parse(value);
  await sql`insert into settings (key, value) values (${key}, ${sql.json(parsed as never)})
            on conflict (key) do update set value = excluded.value, updated_at = now()`;
}
