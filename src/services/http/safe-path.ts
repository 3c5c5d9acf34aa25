// Turning a request path into a file inside a served root, refusing every way out:
// `..` (plain or percent-encoded), encoded slashes and backslashes, NUL and control
// characters, empty segments (which would make an absolute path), and symbolic
// links whose target lies outside the root.

import { realpath } from "node:fs/promises";
import path from "node:path";

export type SegmentsResult = { ok: true; segments: string[] } | { ok: false; reason: string };

const MAX_SEGMENTS = 64;
const MAX_SEGMENT_BYTES = 255;

/**
 * Splits the raw (still percent-encoded) path below a mount point into decoded
 * segments. Pure: the file system is not consulted.
 */
export function splitRequestPath(raw: string): SegmentsResult {
  if (raw.length === 0) return { ok: false, reason: "empty path" };
  // Encoded separators would let one decoded segment span directories.
  if (/%2f|%5c/i.test(raw)) return { ok: false, reason: "encoded path separator" };
  if (raw.includes("\\")) return { ok: false, reason: "backslash in path" };
  const parts = raw.split("/");
  if (parts.length > MAX_SEGMENTS) return { ok: false, reason: "too many path segments" };
  const segments: string[] = [];
  for (const part of parts) {
    if (part === "") return { ok: false, reason: "empty path segment" };
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      return { ok: false, reason: "malformed percent-encoding" };
    }
    if (seg === "." || seg === "..") return { ok: false, reason: "dot segment" };
    // Control characters include NUL; a decoded "/" cannot occur (checked above) but stay strict.
    if (/[\x00-\x1f\x7f/\\]/.test(seg)) return { ok: false, reason: "control character or separator" };
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) return { ok: false, reason: "path segment too long" };
    segments.push(seg);
  }
  return { ok: true, segments };
}

/** True when `candidate` is `root` itself or lies below it (both already real paths). */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const withSep = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(withSep);
}

/**
 * Resolves segments under a root whose real path is `realRoot`, following symbolic
 * links, and returns the real path only when it stays inside the root.
 */
export async function resolveInRoot(realRoot: string, segments: string[]): Promise<{ file: string } | { missing: true } | { escapes: true }> {
  const joined = path.join(realRoot, ...segments);
  let real: string;
  try {
    real = await realpath(joined);
  } catch {
    return { missing: true };
  }
  if (!isInside(realRoot, real)) return { escapes: true };
  return { file: real };
}
