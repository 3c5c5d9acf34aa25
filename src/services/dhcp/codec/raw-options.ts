// The TLV layer of DHCP options: walking option areas with bounds checks, joining
// split options (RFC 3396), option overload into `file`/`sname` (RFC 2132 §9.3),
// and encoding with long values split into 255-byte pieces.
import { OPT } from "./constants.js";

/** Options by code, each value the concatenation of every instance (RFC 3396). */
export type RawOptions = Map<number, Buffer>;

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

interface Walk {
  /** Code → pieces in order of appearance. */
  pieces: Map<number, Buffer[]>;
  order: number[];
}

/** Walks one option area; stops at END or the area's end. Lengths past the area are an error. */
function walkArea(area: Buffer, where: string, into: Walk): string | undefined {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === OPT.PAD) {
      i += 1;
      continue;
    }
    if (code === OPT.END) return undefined;
    if (i + 1 >= area.length) return `option ${code} in ${where} has no length byte`;
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) return `option ${code} in ${where} claims ${len} bytes past the end`;
    const value = area.subarray(i + 2, i + 2 + len);
    let list = into.pieces.get(code);
    if (!list) {
      list = [];
      into.pieces.set(code, list);
      into.order.push(code);
    }
    list.push(value);
    i += 2 + len;
  }
  return undefined;
}

/**
 * Parses the options area and, if option 52 says so, the `file` and `sname` fields too.
 * Returns the joined options and which header fields carried options.
 */
export function parseOptionAreas(options: Buffer, file: Buffer, sname: Buffer): Result<{ options: RawOptions; fileUsed: boolean; snameUsed: boolean }> {
  const walk: Walk = { pieces: new Map(), order: [] };
  const err = walkArea(options, "options", walk);
  if (err) return { ok: false, error: err };
  let fileUsed = false;
  let snameUsed = false;
  const overload = walk.pieces.get(OPT.OVERLOAD);
  if (overload) {
    const v = Buffer.concat(overload);
    if (v.length !== 1 || v[0]! < 1 || v[0]! > 3) return { ok: false, error: "option 52 (overload) must be 1 byte of 1, 2 or 3" };
    fileUsed = (v[0]! & 1) !== 0;
    snameUsed = (v[0]! & 2) !== 0;
    // RFC 3396 order: options, then file, then sname.
    if (fileUsed) {
      const e = walkArea(file, "file", walk);
      if (e) return { ok: false, error: e };
    }
    if (snameUsed) {
      const e = walkArea(sname, "sname", walk);
      if (e) return { ok: false, error: e };
    }
  }
  const out: RawOptions = new Map();
  for (const code of walk.order) {
    if (code === OPT.OVERLOAD) continue;
    const pieces = walk.pieces.get(code)!;
    out.set(code, pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
  }
  return { ok: true, value: { options: out, fileUsed, snameUsed } };
}

/** Bytes `encodeOptions` will produce. */
export function encodedLength(options: RawOptions): number {
  let n = 1; // END
  for (const value of options.values()) n += value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / 255);
  return n;
}

/** Writes options as TLVs (values over 255 bytes split, RFC 3396) and END into `out` at `off`; returns the end. */
export function writeOptions(options: RawOptions, out: Buffer, off: number): number {
  for (const [code, value] of options) {
    if (!Number.isInteger(code) || code <= OPT.PAD || code >= OPT.END) throw new RangeError(`bad option code ${code}`);
    if (value.length === 0) {
      out[off++] = code;
      out[off++] = 0;
      continue;
    }
    for (let start = 0; start < value.length; start += 255) {
      const len = Math.min(255, value.length - start);
      out[off++] = code;
      out[off++] = len;
      off += value.copy(out, off, start, start + len);
    }
  }
  out[off++] = OPT.END;
  return off;
}

/** Encodes options as TLVs followed by END. */
export function encodeOptions(options: RawOptions): Buffer {
  const out = Buffer.alloc(encodedLength(options));
  writeOptions(options, out, 0);
  return out;
}

/** Parses encapsulated sub-options (43, 175): TLVs with PAD/END, bounds-checked. */
export function parseSubOptions(value: Buffer): Result<Map<number, Buffer>> {
  const walk: Walk = { pieces: new Map(), order: [] };
  const err = walkArea(value, "encapsulated options", walk);
  if (err) return { ok: false, error: err };
  const out = new Map<number, Buffer>();
  for (const code of walk.order) out.set(code, Buffer.concat(walk.pieces.get(code)!));
  return { ok: true, value: out };
}

/** Encodes sub-options without a trailing END (PXE clients accept either; END costs a byte). */
export function encodeSubOptions(sub: Map<number, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of sub) {
    if (!Number.isInteger(code) || code <= 0 || code >= 255) throw new RangeError(`bad sub-option code ${code}`);
    if (value.length > 255) throw new RangeError(`sub-option ${code} longer than 255 bytes`);
    parts.push(Buffer.from([code, value.length]), value);
  }
  return Buffer.concat(parts);
}
