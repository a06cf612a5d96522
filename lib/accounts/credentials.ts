/**
 * Credentials beyond the password: rotating refresh tokens (one family per log-in; reuse of a
 * rotated token revokes the family), browser sessions, and API keys. Only SHA-256 hashes of the
 * secrets are stored (lib/security/tokens.ts).
 */
import type { Sql } from "../db/mod.ts";
import { type ColumnsOf, fieldsOf } from "../db/rows.ts";
import { AppError } from "../errors.ts";
import { randomToken, sha256Hex } from "../security/tokens.ts";
import type { ApiKeyScope } from "./scopes.ts";
import { toUser, type User, userColumns, type UserRow } from "./users.ts";

export const REFRESH_TOKEN_TTL_DAYS = 30;
export const SESSION_TTL_DAYS = 14;
export const ADMIN_SESSION_TTL_HOURS = 8;

// ---- refresh tokens -------------------------------------------------------------------------

export async function issueRefreshToken(
  sql: Sql,
  userId: string,
  familyId?: string,
): Promise<string> {
  const token = `rt_${randomToken()}`;
  await sql`insert into refresh_tokens (user_id, family_id, token_hash, expires_at)
            values (${userId}, ${familyId ?? crypto.randomUUID()}, ${await sha256Hex(token)},
                    now() + ${REFRESH_TOKEN_TTL_DAYS} * interval '1 day')`;
  return token;
}

const REFRESH_REFUSED = "Your sign-in has expired. Please log in again.";

interface RefreshTokenRow {
  id: string;
  user_id: string;
  family_id: string;
  expires_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

/**
 * Exchanges a refresh token for a new one in the same family. A token that was already
 * rotated means it was stolen or replayed: the whole family is revoked and both holders must
 * log in again.
 */
export async function rotateRefreshToken(
  sql: Sql,
  token: string,
): Promise<{ userId: string; refreshToken: string }> {
  const hash = await sha256Hex(token);
  const outcome = await sql.begin(async (tx) => {
    const [row] = await tx<RefreshTokenRow[]>`
      select id, user_id, family_id, expires_at, rotated_at, revoked_at from refresh_tokens
      where token_hash = ${hash} for update`;
    if (!row || row.revoked_at || row.expires_at < new Date()) return { kind: "refused" as const };
    if (row.rotated_at) {
      await tx`update refresh_tokens set revoked_at = now()
               where family_id = ${row.family_id} and revoked_at is null`;
      return { kind: "reused" as const };
    }
    await tx`update refresh_tokens set rotated_at = now() where id = ${row.id}`;
    const next = `rt_${randomToken()}`;
    await tx`insert into refresh_tokens (user_id, family_id, token_hash, expires_at)
             values (${row.user_id}, ${row.family_id}, ${await sha256Hex(next)},
                     now() + ${REFRESH_TOKEN_TTL_DAYS} * interval '1 day')`;
    return { kind: "ok" as const, userId: row.user_id, refreshToken: next };
  });
  if (outcome.kind !== "ok") throw new AppError("unauthorized", REFRESH_REFUSED);
  return { userId: outcome.userId, refreshToken: outcome.refreshToken };
}

/** Log-out: revokes the token's whole family (every token descended from that log-in). */
export async function revokeRefreshFamily(sql: Sql, token: string): Promise<void> {
  const hash = await sha256Hex(token);
  await sql`update refresh_tokens set revoked_at = now()
            where family_id = (select family_id from refresh_tokens where token_hash = ${hash})
              and revoked_at is null`;
}

// ---- browser sessions -----------------------------------------------------------------------

export async function createSession(
  sql: Sql,
  userId: string,
  options: { admin?: boolean } = {},
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomToken();
  const ttlSeconds = options.admin ? ADMIN_SESSION_TTL_HOURS * 3600 : SESSION_TTL_DAYS * 86400;
  const [row] = await sql<{ expires_at: Date }[]>`
    insert into sessions (user_id, token_hash, expires_at)
    values (${userId}, ${await sha256Hex(token)}, now() + ${ttlSeconds} * interval '1 second')
    returning expires_at`;
  return { token, expiresAt: row.expires_at };
}

/**
 * The user id of a live session, touching its last-seen time, and whether it was issued as an
 * admin session (the short lifetime). The role itself is not stored with the session: callers
 * read it from the user's row on every request.
 */
export async function resolveSession(
  sql: Sql,
  token: string,
): Promise<{ userId: string; adminSession: boolean } | null> {
  const [row] = await sql<{ user_id: string; admin_session: boolean }[]>`
    update sessions set last_seen_at = now()
    where token_hash = ${await sha256Hex(token)} and revoked_at is null and expires_at > now()
    returning user_id,
      expires_at - created_at <= ${ADMIN_SESSION_TTL_HOURS} * interval '1 hour' as admin_session`;
  return row ? { userId: row.user_id, adminSession: row.admin_session } : null;
}

export async function revokeSession(sql: Sql, token: string): Promise<void> {
  await sql`update sessions set revoked_at = now() where token_hash = ${await sha256Hex(token)}`;
}

// ---- API keys --------------------------------------------------------------------------------

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  scopes: ApiKeyScope[];
}

export const API_KEY_PREFIX = "hk_";

/** Creates a key; the secret is returned this once and never again. */
export async function createApiKey(
  sql: Sql,
  userId: string,
  name: string,
  scopes: ApiKeyScope[] = [],
): Promise<ApiKey & { key: string }> {
  const key = API_KEY_PREFIX + randomToken(40);
  const [row] = await sql<ApiKeyRow[]>`
    insert into api_keys (user_id, name, prefix, key_hash, scopes)
    values (${userId}, ${name}, ${key.slice(0, 11)}, ${await sha256Hex(key)},
            ${[...new Set(scopes)]}::text[])
    returning id, name, prefix, created_at, last_used_at, scopes`;
  return { ...toApiKey(row), key };
}

/** An `api_keys` row (the columns an {@link ApiKey} is read from). */
type ApiKeyRow = ColumnsOf<Omit<ApiKey, "scopes">> & { scopes: ApiKeyScope[] | null };

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    ...fieldsOf(row, ["id", "name", "prefix", "created_at", "last_used_at"]),
    scopes: row.scopes ?? [],
  };
}

export async function listApiKeys(sql: Sql, userId: string): Promise<ApiKey[]> {
  const rows = await sql<ApiKeyRow[]>`
    select id, name, prefix, created_at, last_used_at, scopes from api_keys
                         where user_id = ${userId} and revoked_at is null order by created_at desc`;
  return rows.map(toApiKey);
}

/** `false` when the key does not exist, is revoked, or belongs to someone else. */
export async function revokeApiKey(sql: Sql, userId: string, keyId: string): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(keyId)) return false;
  const rows = await sql`update api_keys set revoked_at = now()
                         where id = ${keyId} and user_id = ${userId} and revoked_at is null
                         returning id`;
  return rows.length === 1;
}

/** How often a key's `last_used_at` is written: a busy key's reads then stay reads. */
export const KEY_USE_RECORDED_EVERY = "1 minute";

/**
 * A live key's id and scopes, and its owner read in the same query (a key authenticates every
 * request it makes: one round trip, not two). Its use is recorded at most once a minute (so
 * "last used" is accurate to a minute), decided by the database's clock in the same read.
 */
const RESOLVE_API_KEY = `
  select k.id as key_id, k.scopes as key_scopes,
         (k.last_used_at is null or k.last_used_at < now() - '${KEY_USE_RECORDED_EVERY}'::interval)
           as use_unrecorded,
         ${userColumns("u")}
  from api_keys k join users u on u.id = k.user_id
  where k.key_hash = $1 and k.revoked_at is null`;

export async function resolveApiKey(
  sql: Sql,
  key: string,
): Promise<{ userId: string; keyId: string; scopes: ApiKeyScope[]; user: User } | null> {
  // Prepared: a plan kept saves a parse on every request.
  const [row] = await sql.unsafe<
    (UserRow & { key_id: string; key_scopes: ApiKeyScope[] | null; use_unrecorded: boolean })[]
  >(RESOLVE_API_KEY, [await sha256Hex(key)], { prepare: true });
  if (!row) return null;
  if (row.use_unrecorded) {
    // The condition again: of simultaneous first requests, one writes.
    await sql`update api_keys set last_used_at = now()
              where id = ${row.key_id}
                and (last_used_at is null
                     or last_used_at < now() - ${KEY_USE_RECORDED_EVERY}::interval)`;
  }
  return { userId: row.id, keyId: row.key_id, scopes: row.key_scopes ?? [], user: toUser(row) };
}
