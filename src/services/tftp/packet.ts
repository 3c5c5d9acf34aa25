// TFTP packet codec (RFC 1350, option extension RFC 2347). Pure functions:
// decoding never throws, it returns an error result for anything malformed, so a
// hostile datagram can at worst be dropped. Encoding validates its (trusted) input
// and throws RangeError on programmer mistakes such as a NUL inside a string.

export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;

/** RFC 1350 and RFC 2347 error codes. */
export const ErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTid: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionRefused: 8,
} as const;

/** An option as it appeared on the wire: order and spelling kept for round trips. */
export interface TftpOption {
  name: string;
  value: string;
}

export type TftpPacket =
  | { op: "rrq" | "wrq"; filename: string; mode: string; options: TftpOption[] }
  | { op: "data"; block: number; data: Buffer }
  | { op: "ack"; block: number }
  | { op: "error"; code: number; message: string }
  | { op: "oack"; options: TftpOption[] };

export type DecodeResult = { ok: true; packet: TftpPacket } | { ok: false; reason: string };

/** More option pairs than any real client sends; the rest of a longer list is ignored. */
export const MAX_OPTIONS = 64;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function fail(reason: string): DecodeResult {
  return { ok: false, reason };
}

/** Splits `buf[from..]` at NUL bytes. Every string must be NUL-terminated. */
function readStrings(buf: Buffer, from: number): { ok: true; strings: string[] } | { ok: false; reason: string } {
  const strings: string[] = [];
  let pos = from;
  while (pos < buf.length) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0) return { ok: false, reason: "string not NUL-terminated" };
    try {
      strings.push(utf8.decode(buf.subarray(pos, nul)));
    } catch {
      return { ok: false, reason: "string is not valid UTF-8" };
    }
    pos = nul + 1;
  }
  return { ok: true, strings };
}

/** Option pairs after the fixed strings; stops at an empty name (some ROMs pad with NULs). */
function toOptions(strings: string[]): TftpOption[] | undefined {
  const options: TftpOption[] = [];
  for (let i = 0; i < strings.length && options.length < MAX_OPTIONS; i += 2) {
    const name = strings[i]!;
    if (name === "") break;
    const value = strings[i + 1];
    if (value === undefined) return undefined;
    options.push({ name, value });
  }
  return options;
}

export function decodePacket(buf: Buffer): DecodeResult {
  if (buf.length < 2) return fail("shorter than an opcode");
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const r = readStrings(buf, 2);
      if (!r.ok) return fail(r.reason);
      const [filename, mode, ...rest] = r.strings;
      if (filename === undefined || mode === undefined) return fail("request without filename and mode");
      const options = toOptions(rest);
      if (!options) return fail("option without a value");
      return { ok: true, packet: { op: opcode === Opcode.RRQ ? "rrq" : "wrq", filename, mode, options } };
    }
    case Opcode.DATA:
      if (buf.length < 4) return fail("DATA shorter than 4 bytes");
      return { ok: true, packet: { op: "data", block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case Opcode.ACK:
      // Trailing bytes after the block number are tolerated: some PXE ROMs pad small frames.
      if (buf.length < 4) return fail("ACK shorter than 4 bytes");
      return { ok: true, packet: { op: "ack", block: buf.readUInt16BE(2) } };
    case Opcode.ERROR: {
      if (buf.length < 5) return fail("ERROR shorter than 5 bytes");
      const r = readStrings(buf, 4);
      if (!r.ok) return fail(r.reason);
      if (r.strings.length !== 1) return fail("ERROR must carry exactly one message");
      return { ok: true, packet: { op: "error", code: buf.readUInt16BE(2), message: r.strings[0]! } };
    }
    case Opcode.OACK: {
      const r = readStrings(buf, 2);
      if (!r.ok) return fail(r.reason);
      const options = toOptions(r.strings);
      if (!options) return fail("option without a value");
      return { ok: true, packet: { op: "oack", options } };
    }
    default:
      return fail(`unknown opcode ${opcode}`);
  }
}

function checkString(s: string, what: string): Buffer {
  if (s.includes("\0")) throw new RangeError(`${what} contains NUL`);
  return Buffer.from(s, "utf8");
}

function checkU16(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`${what} out of range: ${n}`);
}

function encodeStrings(opcode: number, strings: string[], what: string): Buffer {
  const parts = strings.map((s) => checkString(s, what));
  const out = Buffer.allocUnsafe(2 + parts.reduce((n, p) => n + p.length + 1, 0));
  out.writeUInt16BE(opcode, 0);
  let pos = 2;
  for (const p of parts) {
    p.copy(out, pos);
    pos += p.length;
    out[pos++] = 0;
  }
  return out;
}

function optionStrings(options: TftpOption[]): string[] {
  for (const o of options) if (o.name === "") throw new RangeError("empty option name");
  return options.flatMap((o) => [o.name, o.value]);
}

export function encodePacket(p: TftpPacket): Buffer {
  switch (p.op) {
    case "rrq":
    case "wrq":
      if (p.filename === "" || p.mode === "") throw new RangeError("empty filename or mode");
      return encodeStrings(p.op === "rrq" ? Opcode.RRQ : Opcode.WRQ, [p.filename, p.mode, ...optionStrings(p.options)], "request");
    case "data":
      return Buffer.concat([dataHeader(p.block), p.data]);
    case "ack": {
      checkU16(p.block, "block");
      const out = Buffer.allocUnsafe(4);
      out.writeUInt16BE(Opcode.ACK, 0);
      out.writeUInt16BE(p.block, 2);
      return out;
    }
    case "error": {
      checkU16(p.code, "error code");
      const msg = checkString(p.message, "error message");
      const out = Buffer.allocUnsafe(5 + msg.length);
      out.writeUInt16BE(Opcode.ERROR, 0);
      out.writeUInt16BE(p.code, 2);
      msg.copy(out, 4);
      out[4 + msg.length] = 0;
      return out;
    }
    case "oack":
      return encodeStrings(Opcode.OACK, optionStrings(p.options), "option");
  }
}

/** The 4-byte DATA header alone: the server sends it with the payload as a gather list, copying nothing. */
export function dataHeader(block: number): Buffer {
  checkU16(block, "block");
  const out = Buffer.allocUnsafe(4);
  out.writeUInt16BE(Opcode.DATA, 0);
  out.writeUInt16BE(block, 2);
  return out;
}

export function errorPacket(code: number, message: string): Buffer {
  return encodePacket({ op: "error", code, message });
}
