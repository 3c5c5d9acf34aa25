// Parsing of the HTTP Range header (RFC 9110 §14). Only a single byte range is
// honoured: iPXE and curl never ask for more, and multipart/byteranges would add
// a body format nothing here needs. Pure and total: any input yields a verdict.

export type RangeVerdict =
  /** No usable Range header: send the whole representation with 200. */
  | { kind: "full" }
  /** Send bytes start..end (inclusive) with 206. */
  | { kind: "partial"; start: number; end: number }
  /** Syntactically valid but outside the file: 416 with `Content-Range: bytes *\/size`. */
  | { kind: "unsatisfiable" };

const MAX_HEADER = 256;

export function parseRange(header: string | undefined, size: number): RangeVerdict {
  if (header === undefined) return { kind: "full" };
  if (header.length > MAX_HEADER) return { kind: "full" };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: "full" }; // unknown unit: ignore, as the RFC allows
  const spec = m[1]!.trim();
  if (spec.includes(",")) return { kind: "full" }; // several ranges: serve it all
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
  if (!r) return { kind: "full" };
  const [, a, b] = r as unknown as [string, string, string];
  if (a === "" && b === "") return { kind: "full" };
  // Digits beyond 2^53 lose precision; such numbers are past any file anyway.
  const num = (s: string) => (s.length > 15 ? Number.MAX_SAFE_INTEGER : Number(s));
  if (a === "") {
    // Suffix range: the last N bytes.
    const n = num(b);
    if (n === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = num(a);
  if (b !== "" && num(b) < start) return { kind: "full" }; // invalid: ignore it
  if (start >= size) return { kind: "unsatisfiable" };
  const end = b === "" ? size - 1 : Math.min(num(b), size - 1);
  return { kind: "partial", start, end };
}
