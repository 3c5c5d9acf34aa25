// PostgreSQL connection URLs as metalform takes them: postgres://user:pass@host:port/db
// with an optional fragment naming the state inside the database (#cluster1). The
// URL is a secret (it may carry a password): only its redacted form is ever shown.

export const DEFAULT_STATE_NAME = "default";

export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}

export interface PgTarget {
  /** What the driver connects with (no fragment). */
  connectionString: string;
  /** Which state in the database. */
  name: string;
  /** For messages: no password, no query secrets. */
  redacted: string;
  /** The password, to scrub from any message that might echo it. */
  password?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Parses a URL; throws an Error without the URL's text in it when it is malformed. */
export function parsePgUrl(url: string, name?: string): PgTarget {
  const hash = url.indexOf("#");
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const fragName = hash >= 0 ? decodeURIComponent(url.slice(hash + 1)) : undefined;
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new Error("the PostgreSQL URL is not a valid URL (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)");
  }
  if (!isPostgresUrl(base)) throw new Error("the state URL must start with postgres:// or postgresql://");
  const stateName = name ?? (fragName || DEFAULT_STATE_NAME);
  if (!NAME_RE.test(stateName)) throw new Error(`state name "${stateName}" is not valid (letters, digits, ".", "_" and "-")`);
  const password = u.password ? decodeURIComponent(u.password) : (u.searchParams.get("password") ?? undefined);
  const shown = new URL(base);
  if (shown.password) shown.password = "***";
  if (shown.searchParams.has("password")) shown.searchParams.set("password", "***");
  return {
    connectionString: base,
    name: stateName,
    redacted: `${shown.toString()}#${stateName}`,
    ...(password ? { password } : {}),
  };
}

/** Removes every occurrence of `secret` (and its URL-encoded form) from `text`. */
export function scrub(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text.split(secret).join("***");
  const enc = encodeURIComponent(secret);
  if (enc !== secret) out = out.split(enc).join("***");
  return out;
}
