/**
 * Linking a WhatsApp number to a web account: a 6-digit code is sent to the number over
 * WhatsApp and typed back on the web. Codes expire after 10 minutes and allow 5 attempts;
 * a new code replaces the previous one.
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import { randomDigits, sha256Hex } from "../security/tokens.ts";

export const PHONE_CODE_TTL_MINUTES = 10;
export const PHONE_CODE_MAX_ATTEMPTS = 5;

/** Creates a code for `phone` (E.164); the caller sends it over WhatsApp. */
export async function startPhoneLink(
  sql: Sql,
  userId: string,
  phone: string,
): Promise<{ code: string }> {
  const [owner] = await sql<{ id: string }[]>`select id from users where phone = ${phone}`;
  if (owner && owner.id !== userId) {
    throw new AppError("conflict", "This number is already linked to another account.", {
      field: "phone",
    });
  }
  const [recent] = await sql<{ n: number }[]>`
    select count(*)::int as n from phone_links
    where user_id = ${userId} and created_at > now() - interval '1 hour'`;
  if (recent.n >= 5) {
    throw new AppError(
      "rate_limited",
      "Too many codes asked for in the last hour. Try again later.",
      { retryAfterSeconds: 3600 },
    );
  }
  const code = randomDigits(6);
  await sql`insert into phone_links (user_id, phone, code_hash, expires_at)
            values (${userId}, ${phone}, ${await sha256Hex(`${userId}:${code}`)},
                    now() + ${PHONE_CODE_TTL_MINUTES} * interval '1 minute')`;
  return { code };
}

interface PhoneLinkRow {
  id: string;
  phone: string;
  code_hash: string;
  attempts: number;
  expires_at: Date;
}

/** Checks the code against the latest pending link and, if right, links the phone. */
export async function confirmPhoneLink(sql: Sql, userId: string, code: string): Promise<string> {
  return await sql.begin(async (tx) => {
    const [link] = await tx<PhoneLinkRow[]>`
      select id, phone, code_hash, attempts, expires_at from phone_links
      where user_id = ${userId} and verified_at is null
      order by created_at desc limit 1 for update`;
    if (!link || link.expires_at <= new Date()) {
      throw new AppError("bad_request", "This code has expired. Ask for a new one.", {
        field: "code",
      });
    }
    if (link.attempts >= PHONE_CODE_MAX_ATTEMPTS) {
      throw new AppError("rate_limited", "Too many wrong codes. Ask for a new one.", {
        field: "code",
      });
    }
    if (link.code_hash !== await sha256Hex(`${userId}:${code}`)) {
      await tx`update phone_links set attempts = attempts + 1 where id = ${link.id}`;
      const left = PHONE_CODE_MAX_ATTEMPTS - link.attempts - 1;
      return { wrong: true as const, left };
    }
    await tx`update phone_links set verified_at = now() where id = ${link.id}`;
    await tx`update users set phone = ${link.phone}, updated_at = now() where id = ${userId}`;
    return { wrong: false as const, phone: link.phone };
  }).then((r) => {
    // Thrown after the transaction so the attempt counter is committed.
    if (r.wrong) {
      throw new AppError(
        "bad_request",
        r.left > 0
          ? `That code is not right. ${r.left} attempt${r.left === 1 ? "" : "s"} left.`
          : "That code is not right. Ask for a new one.",
        { field: "code" },
      );
    }
    return r.phone;
  });
}

/** The number a code was last sent to and not yet confirmed, while the code is still good. */
export async function pendingPhoneLink(
  sql: Sql,
  userId: string,
): Promise<{ phone: string; expiresAt: Date } | null> {
  const [link] = await sql`select phone, expires_at from phone_links
                           where user_id = ${userId} and verified_at is null
                             and expires_at > now() and attempts < ${PHONE_CODE_MAX_ATTEMPTS}
                           order by created_at desc limit 1`;
  return link ? { phone: link.phone, expiresAt: link.expires_at } : null;
}
