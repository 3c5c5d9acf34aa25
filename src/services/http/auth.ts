// Helpers for the per-node tokens that guard the installer API: a node proves who it
// is with the token that was rendered into its boot script.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** A fresh random token (256 bits, URL-safe) for one node and one boot. */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * Compares a presented token with the expected one in constant time. Both are
 * hashed first so that neither their contents nor their lengths leak through timing.
 */
export function tokensEqual(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || expected.length === 0) return false;
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token from `Authorization: Bearer TOKEN`, if present and well formed. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (typeof h !== "string") return undefined;
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]{1,512})\s*$/i.exec(h);
  return m ? m[1] : undefined;
}
