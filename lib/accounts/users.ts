/**
 * Accounts: sign-up, authentication, profile, the first admin. A user's wallet account is
 * created in the same transaction as the user, with the signup grant (a setting, default 0).
 */
import { randomToken } from "../security/tokens.ts";
import type { Sql } from "../db/mod.ts";
import { type ColumnsOf, fieldsOf } from "../db/rows.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { AppError } from "../errors.ts";
import { ensureUserAccount, postInTransaction, type Tx } from "../wallet/ledger.ts";
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./passwords.ts";
import { getSetting } from "./settings.ts";

/** A new user's wallet, with the signup grant (once: keyed by the user) when there is one. */
async function openWallet(tx: Tx, userId: string, grant: number): Promise<void> {
  await ensureUserAccount(tx, userId);
  if (grant > 0) {
    await postInTransaction(tx, {
      userId,
      kind: "signup_grant",
      delta: grant,
      idempotencyKey: `signup:${userId}`,
      description: "Welcome tokens",
    });
  }
}

/** The roles, written once (the CHECK of `users.role`, migrations/0013, is tested equal). */
export const ROLES = ["user", "admin", "officer"] as const;
export type Role = typeof ROLES[number];

/** Staff work through grievances (lib/grievances): officers see only that; admins see all. */
export const isStaff = (role: Role) => role === "admin" || role === "officer";

export interface User {
  id: string;
  email: string | null;
  displayName: string | null;
  phone: string | null;
  role: Role;
  tier: string;
  disabled: boolean;
  createdAt: Date;
}

/** The columns of `users` a {@link User} is read from ({@link COLUMNS}). */
export type UserRow = ColumnsOf<Omit<User, "disabled">> & { disabled_at: Date | null };

const COLUMNS = "id, email, display_name, phone, role, tier, disabled_at, created_at";

/** {@link COLUMNS} of `users` under the alias `as`, for a query that joins it. */
export const userColumns = (as: string): string =>
  COLUMNS.split(", ").map((column) => `${as}.${column}`).join(", ");

export function toUser(row: UserRow): User {
  return {
    ...fieldsOf(row, ["id", "email", "display_name", "phone", "role", "tier"]),
    disabled: row.disabled_at !== null,
    createdAt: row.created_at,
  };
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError(
      "validation_failed",
      `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`,
      { field: "password" },
    );
  }
}

export async function createUser(
  sql: Sql,
  input: { email: string; password: string; displayName?: string | null; role?: Role },
): Promise<User> {
  checkPassword(input.password);
  const email = normaliseEmail(input.email);
  const passwordHash = await hashPassword(input.password);
  const grant = await getSetting(sql, "signup_grant_tokens");
  try {
    return await sql.begin(async (tx) => {
      const [row] = await tx.unsafe<UserRow[]>(
        `insert into users (email, password_hash, display_name, role)
         values ($1, $2, $3, $4) returning ${COLUMNS}`,
        [email, passwordHash, input.displayName?.trim() || null, input.role ?? "user"],
      );
      await openWallet(tx, row.id, grant);
      return toUser(row);
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError(
        "conflict",
        "An account with this e-mail already exists. Log in instead.",
        {
          field: "email",
        },
      );
    }
    throw error;
  }
}

const WRONG = "Wrong e-mail or password.";

/** The user with this e-mail and password; one generic error otherwise, in constant time. */
export async function authenticate(sql: Sql, email: string, password: string): Promise<User> {
  const [row] = await sql.unsafe<(UserRow & { password_hash: string | null })[]>(
    `select ${COLUMNS}, password_hash from users where lower(email) = $1`,
    [normaliseEmail(email)],
  );
  const ok = await verifyPassword(password, row?.password_hash ?? null);
  if (!row || !ok) throw new AppError("unauthorized", WRONG);
  if (row.disabled_at) {
    throw new AppError("forbidden", "This account is disabled. Contact support to restore it.");
  }
  return toUser(row);
}

export async function getUser(sql: Sql, id: string): Promise<User | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  // Prepared: every authenticated request runs it, and a plan kept saves a parse each time.
  const [row] = await sql.unsafe<UserRow[]>(`select ${COLUMNS} from users where id = $1`, [id], {
    prepare: true,
  });
  return row ? toUser(row) : null;
}

export async function updateProfile(
  sql: Sql,
  id: string,
  changes: { displayName?: string | null },
): Promise<User> {
  const [row] = await sql.unsafe<UserRow[]>(
    `update users set display_name = $2, updated_at = now() where id = $1 returning ${COLUMNS}`,
    [id, changes.displayName?.trim() || null],
  );
  if (!row) throw new AppError("not_found", "This account does not exist.");
  return toUser(row);
}

export async function setPassword(sql: Sql, id: string, password: string): Promise<void> {
  checkPassword(password);
  const hash = await hashPassword(password);
  await sql`update users set password_hash = ${hash}, updated_at = now() where id = ${id}`;
}

/** Changes a password after checking the current one (the account page's form). */
export async function changePassword(
  sql: Sql,
  id: string,
  current: string,
  next: string,
): Promise<void> {
  const [row] = await sql`select password_hash from users where id = ${id}`;
  if (!(await verifyPassword(current, row?.password_hash ?? null))) {
    throw new AppError("validation_failed", "Your current password is not right.", {
      field: "current",
    });
  }
  await setPassword(sql, id, next);
}

/** Creates the first admin from ADMIN_EMAIL/ADMIN_PASSWORD when no account has that e-mail. */
export async function ensureAdmin(
  sql: Sql,
  admin: { email: string; password: string },
): Promise<"created" | "exists"> {
  const [row] = await sql`select id from users where lower(email) = ${normaliseEmail(admin.email)}`;
  if (row) return "exists";
  await createUser(sql, { email: admin.email, password: admin.password, role: "admin" });
  return "created";
}

/** The e-mail of the admin a development start creates when none is configured. */
export const DEVELOPMENT_ADMIN_EMAIL = "admin@hurukuro.invalid";

/**
 * In development with no ADMIN_EMAIL: when no admin exists yet, creates one with a random password
 * and returns its sign-in (to be shown once, at start); null when an admin already exists.
 */
export async function ensureDevelopmentAdmin(
  sql: Sql,
): Promise<{ email: string; password: string } | null> {
  const [row] = await sql`select 1 from users where role = 'admin' limit 1`;
  if (row) return null;
  const password = randomToken(18);
  await createUser(sql, { email: DEVELOPMENT_ADMIN_EMAIL, password, role: "admin" });
  return { email: DEVELOPMENT_ADMIN_EMAIL, password };
}

/** The account of this phone number (E.164, as stored), if there is one. */
export async function findUserByPhone(sql: Sql, phone: string): Promise<User | null> {
  const [row] = await sql.unsafe<UserRow[]>(`select ${COLUMNS} from users where phone = $1`, [
    phone,
  ]);
  return row ? toUser(row) : null;
}

/**
 * The account of a WhatsApp number, created on first contact (no e-mail, no password; the
 * number can be linked to a web login later) with its wallet and the signup grant, like a
 * web sign-up. Two first messages racing create one account.
 */
export async function findOrCreatePhoneUser(
  sql: Sql,
  phone: string,
  displayName?: string | null,
): Promise<{ user: User; created: boolean }> {
  const find = () => findUserByPhone(sql, phone);
  const existing = await find();
  if (existing) return { user: existing, created: false };
  const grant = await getSetting(sql, "signup_grant_tokens");
  try {
    const user = await sql.begin(async (tx) => {
      const [row] = await tx.unsafe<UserRow[]>(
        `insert into users (phone, display_name) values ($1, $2) returning ${COLUMNS}`,
        [phone, displayName?.trim().slice(0, 100) || null],
      );
      await openWallet(tx, row.id, grant);
      return toUser(row);
    });
    return { user, created: true };
  } catch (error) {
    if (isUniqueViolation(error)) {
      const raced = await find();
      if (raced) return { user: raced, created: false };
    }
    throw error;
  }
}
