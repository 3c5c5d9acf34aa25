// Sizes as administrators write them: "512MiB", "1.5GiB", "2TiB", "10%", "rest".
import type { SizeSpec } from "./types.js";

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
};

/** The grammar shared with the schema's pattern (kept in sync by a test). */
export const SIZE_PATTERN = "^[0-9]+(\\.[0-9]+)? ?(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)$";
export const PART_SIZE_PATTERN = "^([0-9]+(\\.[0-9]+)? ?(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)|[0-9]+(\\.[0-9]+)?%|rest)$";

/** Bytes from "512MiB"; plain numbers are bytes. Undefined when malformed. */
export function parseBytes(v: string | number): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?) ?([KMGT]i?B|B)$/.exec(v.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2]!];
  if (unit === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

export function parseSizeSpec(v: string | number): SizeSpec | undefined {
  if (v === "rest") return { kind: "rest" };
  if (typeof v === "string" && v.trim().endsWith("%")) {
    const n = Number(v.trim().slice(0, -1));
    return Number.isFinite(n) && n > 0 && n <= 100 ? { kind: "percent", percent: n } : undefined;
  }
  const bytes = parseBytes(v);
  return bytes === undefined ? undefined : { kind: "bytes", bytes };
}

/** Human form used in messages: 1073741824 → "1GiB". */
export function formatBytes(n: number): string {
  for (const u of ["TiB", "GiB", "MiB", "KiB"] as const) {
    const f = UNITS[u]!;
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  for (const u of ["TiB", "GiB", "MiB", "KiB"] as const) {
    const f = UNITS[u]!;
    if (n >= f) return `${(n / f).toFixed(1)}${u}`;
  }
  return `${n}B`;
}
