/**
 * Short-lived access tokens (npm `jose`, HS256 under APP_SECRET). They carry the user id and
 * role; everything else is read fresh from the database per request.
 */
import { jwtVerify, SignJWT } from "jose";
import { type Role, ROLES } from "./users.ts";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const ISSUER = "hurukuro";

export interface AccessClaims {
  sub: string;
  /** Informative only: the role that authorises is read from the database per request. */
  role: Role;
}

const signingKeyOf = (secret: string) => new TextEncoder().encode(secret);

/**
 * The verifying key, imported once per secret: given raw bytes, jose imports them on every
 * call, which is most of the cost of checking a token.
 */
const verifyKeys = new Map<string, Promise<CryptoKey>>();
function verifyKeyOf(secret: string): Promise<CryptoKey> {
  let key = verifyKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      signingKeyOf(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    if (verifyKeys.size >= 8) verifyKeys.clear();
    verifyKeys.set(secret, key);
  }
  return key;
}

export async function signAccessToken(secret: string, claims: AccessClaims): Promise<string> {
  return await new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(`${ACCESS_TOKEN_TTL_SECONDS}s`)
    .sign(signingKeyOf(secret));
}

/** The claims of a valid token, or `null` (bad signature, expired, malformed). */
export async function verifyAccessToken(
  secret: string,
  token: string,
  now = Date.now(),
): Promise<AccessClaims | null> {
  const known = verified.get(token);
  if (known && known.secret === secret && now < known.expiresAt) return known.claims;
  try {
    const { payload } = await jwtVerify(token, await verifyKeyOf(secret), {
      issuer: ISSUER,
      algorithms: ["HS256"],
      currentDate: new Date(now),
    });
    if (typeof payload.sub !== "string") return null;
    const claims: AccessClaims = {
      sub: payload.sub,
      role: (ROLES as readonly unknown[]).includes(payload.role) ? payload.role as Role : "user",
    };
    if (typeof payload.exp === "number") {
      if (verified.size >= MAX_VERIFIED) verified.clear();
      verified.set(token, { secret, claims, expiresAt: payload.exp * 1000 });
    }
    return claims;
  } catch {
    return null;
  }
}

/**
 * Tokens already verified, until they expire: a client sends the same token with every request
 * for its 15 minutes, and a signature that checked once checks again (the claims are all it
 * gives; the user is still read per request). Saves an asynchronous crypto call per request.
 */
const verified = new Map<string, { secret: string; claims: AccessClaims; expiresAt: number }>();
const MAX_VERIFIED = 10_000;
