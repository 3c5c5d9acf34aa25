// Small value formatters shared by the planner's messages and the renderers.
import type { SecretRef } from "../config/types.js";
import { interfaceText, isInterface } from "./interfaces.js";

/** First 6 hex digits of a "sha256:<hex>" digest. */
export function shortDigest(d: string): string {
  const hex = d.startsWith("sha256:") ? d.slice(7) : d;
  return hex.slice(0, 6);
}

export function secretRefText(r: SecretRef): string {
  switch (r.kind) {
    case "env":
      return `env:${r.name}`;
    case "file":
      return `file:${r.path}`;
    case "inline":
      return `inline:${r.id}`;
  }
}

const isRef = (v: unknown): v is { name: string; digest: string } =>
  typeof v === "object" && v !== null && typeof (v as { digest?: unknown }).digest === "string" && typeof (v as { name?: unknown }).name === "string";

const isSecretRef = (v: unknown): v is SecretRef => typeof v === "object" && v !== null && ["env", "file", "inline"].includes((v as { kind?: string }).kind ?? "");

const isFirmware = (v: unknown): v is { mode: string; secureBoot: boolean } =>
  typeof v === "object" &&
  v !== null &&
  Object.keys(v).length === 2 &&
  typeof (v as { mode?: unknown }).mode === "string" &&
  typeof (v as { secureBoot?: unknown }).secureBoot === "boolean";

/** One-line text of a field value, as people read it. */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return "(none)";
  if (isRef(v)) return `${v.name} ${shortDigest(v.digest)}`;
  if (isSecretRef(v)) return secretRefText(v);
  if (isFirmware(v)) return v.secureBoot ? `${v.mode} (Secure Boot)` : v.mode;
  if (isInterface(v)) return interfaceText(v);
  if (typeof v === "string" && /^sha256:[0-9a-f]{64}$/.test(v)) return shortDigest(v);
  if (Array.isArray(v)) return v.length ? v.map((x) => valueText(x)).join(" ") : "(none)";
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}=${valueText(x)}`)
      .join(" ");
  }
  // Objects and arrays were handled above; what is left prints as itself.
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" ? String(v) : typeof v;
}

/** `compute a1b2c3 → d4e5f6`: a name that did not change is said once. */
export function changeText(before: unknown, after: unknown): string {
  if (isRef(before) && isRef(after) && before.name === after.name) {
    return `${before.name} ${shortDigest(before.digest)} → ${shortDigest(after.digest)}`;
  }
  return `${valueText(before)} → ${valueText(after)}`;
}

/** Field paths as people read them: "disk_layout" → "disk layout". */
export function fieldLabel(field: string): string {
  return field.replace(/_/g, " ");
}

/** `+/etc/motd ~/etc/hosts -/etc/old`: the node's files added, changed, removed (before and after as path/digest lists). */
export function filesChangeText(before: unknown, after: unknown): string {
  const asMap = (v: unknown) => new Map((Array.isArray(v) ? (v as Array<{ path: string; digest: string }>) : []).map((f) => [f.path, f.digest]));
  const b = asMap(before);
  const a = asMap(after);
  const out: string[] = [];
  for (const [path, digest] of a)
    if (!b.has(path)) out.push(`+${path}`);
    else if (b.get(path) !== digest) out.push(`~${path}`);
  for (const path of b.keys()) if (!a.has(path)) out.push(`-${path}`);
  return out.join(" ") || "(none)";
}
