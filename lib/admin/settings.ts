/**
 * What the admin settings page reads and changes: token packages and their prices, tiers
 * (per-minute limit, daily cap), the operator settings (signup grant, payment expiry), and the
 * AI configurations (API keys are write-only: stored encrypted, never read back, the page and
 * the audit log say only whether one is set). Every change is audited in its transaction; a save
 * that changes nothing is not.
 */
import { getSetting, setSetting } from "../accounts/settings.ts";
import type { Sql } from "../db/mod.ts";
import { notFound } from "../errors.ts";
import { encryptAiKey } from "../chat/configs.ts";
import type { Tx } from "../wallet/ledger.ts";
import { type AdminActor, type AuditEntry, recordAudit } from "./audit.ts";
import type { PackageRow } from "../payments/packages.ts";

export type { PackageRow };

export interface PackageInput {
  name: string;
  tokens: number;
  price_usd: string | null;
  price_zig: string | null;
  position: number;
  active: boolean;
}

const PACKAGE_COLUMNS = "id, name, tokens, price_usd, price_zig, active, position";

/** A package as the audit log records it (numbers and prices in one form, before and after). */
const packageState = (r: PackageRow) => ({
  name: r.name,
  tokens: Number(r.tokens),
  price_usd: r.price_usd === null ? null : String(r.price_usd),
  price_zig: r.price_zig === null ? null : String(r.price_zig),
  active: r.active,
  position: r.position,
});

/** What an admin's save did: "unchanged" when it changed nothing (and nothing was audited). */
type Saved = "saved" | "unchanged";

/** Row `id` of `table` (its `columns`), locked until the transaction ends; undefined if none. */
async function lockById<Row>(tx: Tx, table: string, columns: string, id: string) {
  const query = `select ${columns} from ${table} where id = $1 for update`;
  const [row]: (Row | undefined)[] = await tx.unsafe<Row[]>(query, [id]);
  return row;
}

/**
 * Audits an admin's change of one thing (its state before and after, as the audit log records
 * it), unless the two are the same: a save that changes nothing is not audited.
 */
async function auditChange(
  tx: Tx,
  actor: AdminActor,
  change: AuditEntry & { before: unknown; after: unknown },
): Promise<Saved> {
  if (JSON.stringify(change.after) === JSON.stringify(change.before)) return "unchanged";
  await recordAudit(tx, actor, change);
  return "saved";
}

/** Every package, on sale or not, in display order. */
export async function listAllPackages(sql: Sql): Promise<PackageRow[]> {
  return await sql.unsafe<PackageRow[]>(
    `select ${PACKAGE_COLUMNS} from token_packages order by position, tokens`,
  );
}

export async function updatePackage(
  sql: Sql,
  actor: AdminActor,
  id: string,
  p: PackageInput,
): Promise<Saved> {
  return await sql.begin(async (tx) => {
    const before = await lockById<PackageRow>(tx, "token_packages", PACKAGE_COLUMNS, id);
    if (!before) throw notFound("This package");
    const [after] = await tx.unsafe<PackageRow[]>(
      `update token_packages set name = $2, tokens = $3, price_usd = $4, price_zig = $5,
         position = $6, active = $7, updated_at = now()
       where id = $1 returning ${PACKAGE_COLUMNS}`,
      [id, p.name, p.tokens, p.price_usd, p.price_zig, p.position, p.active],
    );
    return await auditChange(tx, actor, {
      action: "package.update",
      targetType: "token_package",
      targetId: id,
      before: packageState(before),
      after: packageState(after),
    });
  });
}

export async function createPackage(sql: Sql, actor: AdminActor, p: PackageInput): Promise<void> {
  await sql.begin(async (tx) => {
    const [row] = await tx.unsafe<PackageRow[]>(
      `insert into token_packages (name, tokens, price_usd, price_zig, position, active)
       values ($1, $2, $3, $4, $5, $6) returning ${PACKAGE_COLUMNS}`,
      [p.name, p.tokens, p.price_usd, p.price_zig, p.position, p.active],
    );
    await recordAudit(tx, actor, {
      action: "package.create",
      targetType: "token_package",
      targetId: row.id,
      after: packageState(row),
    });
  });
}

export interface TierLimits {
  requests_per_minute: number;
  daily_token_cap: number;
}

export async function updateTier(
  sql: Sql,
  actor: AdminActor,
  name: string,
  t: TierLimits,
): Promise<Saved> {
  return await sql.begin(async (tx) => {
    const [before] = await tx`select requests_per_minute, daily_token_cap from tiers
                              where name = ${name} for update`;
    if (!before) throw notFound("This tier");
    const saved = await auditChange(tx, actor, {
      action: "tier.update",
      targetType: "tier",
      targetId: name,
      before: {
        requests_per_minute: before.requests_per_minute,
        daily_token_cap: Number(before.daily_token_cap),
      },
      after: { requests_per_minute: t.requests_per_minute, daily_token_cap: t.daily_token_cap },
    });
    if (saved === "saved") {
      await tx`update tiers set requests_per_minute = ${t.requests_per_minute},
                 daily_token_cap = ${t.daily_token_cap} where name = ${name}`;
    }
    return saved;
  });
}

export interface OperatorSettings {
  signup_grant_tokens: number;
  payment_expiry_minutes: number;
}

export async function operatorSettings(sql: Sql): Promise<OperatorSettings> {
  const [grant, expiry] = await Promise.all([
    getSetting(sql, "signup_grant_tokens"),
    getSetting(sql, "payment_expiry_minutes"),
  ]);
  return { signup_grant_tokens: grant, payment_expiry_minutes: expiry };
}

/** Saves the settings that differ; returns how many did. */
export async function updateOperatorSettings(
  sql: Sql,
  actor: AdminActor,
  values: OperatorSettings,
): Promise<number> {
  return await sql.begin(async (tx) => {
    let n = 0;
    for (const key of ["signup_grant_tokens", "payment_expiry_minutes"] as const) {
      const saved = await auditChange(tx, actor, {
        action: "setting.update",
        targetType: "setting",
        targetId: key,
        before: { value: await getSetting(tx, key) },
        after: { value: values[key] },
      });
      if (saved === "saved") {
        await setSetting(tx, key, values[key]);
        n++;
      }
    }
    return n;
  });
}

/**
 * The columns of an AI configuration an admin edits ({@link AI_COLUMNS}), as the form gives
 * them and as they are read back (numerics as text), and whether a key is set.
 */
type AiConfigState = Omit<AiConfigInput, "api_key"> & { has_key: boolean };

/** A configuration as the settings page lists it. */
export interface AiConfigListRow extends AiConfigState {
  id: string;
  name: string;
  provider: string;
  is_default: boolean;
}

/** The stored AI configurations, the default first; whether a key is set, never the key. */
export async function listAiConfigs(sql: Sql): Promise<AiConfigListRow[]> {
  return await sql<AiConfigListRow[]>`
    select id, name, provider, model, base_url, api_key_encrypted is not null as has_key,
           temperature, max_output_tokens, price_input_per_1k, price_output_per_1k,
           summary_model, active, is_default
    from ai_configs order by is_default desc, name`;
}

export interface AiConfigInput {
  model: string;
  base_url: string | null;
  temperature: string;
  max_output_tokens: number;
  price_input_per_1k: string;
  price_output_per_1k: string;
  /** Folds turns the context budget drops into a summary; null → off (turns are dropped). */
  summary_model: string | null;
  active: boolean;
  /** `undefined` keeps the stored key, `null` removes it, a string replaces it. */
  api_key?: string | null;
}

const AI_COLUMNS = `model, base_url, temperature, max_output_tokens, price_input_per_1k,
  price_output_per_1k, summary_model, active, api_key_encrypted is not null as has_key`;

/** A configuration as the audit log records it: whether a key is set, never the key. */
const aiState = (r: AiConfigState) => ({
  model: r.model,
  base_url: r.base_url,
  temperature: Number(r.temperature),
  max_output_tokens: r.max_output_tokens,
  price_input_per_1k: Number(r.price_input_per_1k),
  price_output_per_1k: Number(r.price_output_per_1k),
  summary_model: r.summary_model,
  active: r.active,
  has_key: r.has_key,
});

/**
 * Saves an AI configuration. A new key is encrypted before it reaches the database; the audit
 * entry notes `key_replaced` (the old and new keys are both unreadable there). The chat picks
 * the change up within a second (its cache follows `updated_at`).
 */
export async function updateAiConfig(
  sql: Sql,
  encryptionKey: Uint8Array,
  actor: AdminActor,
  id: string,
  input: AiConfigInput,
): Promise<Saved> {
  const encrypted = typeof input.api_key === "string"
    ? await encryptAiKey(encryptionKey, input.api_key)
    : input.api_key;
  return await sql.begin(async (tx) => {
    const before = await lockById<AiConfigState>(tx, "ai_configs", AI_COLUMNS, id);
    if (!before) throw notFound("This AI configuration");
    const [after] = await tx.unsafe<AiConfigState[]>(
      `update ai_configs set model = $2, base_url = $3, temperature = $4,
         max_output_tokens = $5, price_input_per_1k = $6, price_output_per_1k = $7, active = $8,
         api_key_encrypted = case when $9::boolean then $10 else api_key_encrypted end,
         summary_model = $11
       where id = $1 returning ${AI_COLUMNS}`,
      [
        id,
        input.model,
        input.base_url,
        input.temperature,
        input.max_output_tokens,
        input.price_input_per_1k,
        input.price_output_per_1k,
        input.active,
        encrypted !== undefined,
        encrypted ?? null,
        input.summary_model,
      ],
    );
    // A new key always counts as a change: the audit entry says it was replaced.
    const keyReplaced = typeof encrypted === "string";
    const saved = await auditChange(tx, actor, {
      action: "ai_config.update",
      targetType: "ai_config",
      targetId: id,
      before: aiState(before),
      after: keyReplaced ? { ...aiState(after), key_replaced: true } : aiState(after),
    });
    if (saved === "saved") await tx`update ai_configs set updated_at = now() where id = ${id}`;
    return saved;
  });
}
