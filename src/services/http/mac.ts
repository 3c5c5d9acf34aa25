// MAC addresses as they appear in boot script URLs. iPXE's ${net0/mac} expands to
// lower-case, colon-separated hex; hyphens and upper case are accepted too because
// firmware menus and people write them that way.

/** `52-54-00-AB-cd-01` → `52:54:00:ab:cd:01`; undefined when it is not a MAC. */
export function normalizeMac(text: string): string | undefined {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text);
  if (!m) return undefined;
  return [m[1], m[3], m[4], m[5], m[6], m[7]].join(":").toLowerCase();
}
