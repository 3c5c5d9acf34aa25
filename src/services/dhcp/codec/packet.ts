// A whole BOOTP/DHCP message (RFC 2131 §2): the fixed header, `sname`/`file`, the
// magic cookie and the options. Parsing never throws: malformed input is a result
// with an error. Serializing our own replies throws only on programmer error.
import { FILE_LENGTH, FILE_OFFSET, HEADER_LENGTH, MAGIC_COOKIE, MIN_PACKET_LENGTH, SNAME_LENGTH, SNAME_OFFSET } from "./constants.js";
import { formatMac, readIp, writeIp } from "./ip4.js";
import { decodeOptions, encodeTypedOptions, type DhcpOptions } from "./options.js";
import { encodedLength, parseOptionAreas, writeOptions } from "./raw-options.js";

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** All 16 bytes of chaddr; the hardware address is the first `hlen` of them. */
  chaddr: Buffer;
  /** Server host name; empty when the field carried options (overload). */
  sname: string;
  /** Boot file name; empty when the field carried options (overload). */
  file: string;
  options: DhcpOptions;
}

export type ParseResult = { ok: true; packet: DhcpPacket; warnings: string[] } | { ok: false; error: string };

/** A NUL-terminated field as text. */
function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.subarray(0, nul === -1 ? buf.length : nul).toString("latin1");
}

export function parsePacket(buf: Buffer): ParseResult {
  if (buf.length < HEADER_LENGTH + 4) return { ok: false, error: `packet too short (${buf.length} bytes)` };
  if (buf.readUInt32BE(HEADER_LENGTH) !== MAGIC_COOKIE) return { ok: false, error: "no DHCP magic cookie" };
  const hlen = buf[2]!;
  if (hlen > 16) return { ok: false, error: `hardware address length ${hlen} exceeds 16` };
  const fileField = buf.subarray(FILE_OFFSET, FILE_OFFSET + FILE_LENGTH);
  const snameField = buf.subarray(SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH);
  const areas = parseOptionAreas(buf.subarray(HEADER_LENGTH + 4), fileField, snameField);
  if (!areas.ok) return { ok: false, error: areas.error };
  const { options, warnings } = decodeOptions(areas.value.options);
  const packet: DhcpPacket = {
    op: buf[0]!,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: readIp(buf, 12),
    yiaddr: readIp(buf, 16),
    siaddr: readIp(buf, 20),
    giaddr: readIp(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: areas.value.snameUsed ? "" : cString(snameField),
    file: areas.value.fileUsed ? "" : cString(fileField),
    options,
  };
  return { ok: true, packet, warnings };
}

function writeText(buf: Buffer, off: number, max: number, s: string, field: string): void {
  if (s.length === 0) return;
  // Leave room for the terminating NUL (latin1: one byte per character).
  if (s.length >= max) throw new RangeError(`${field} longer than ${max - 1} bytes`);
  buf.write(s, off, "latin1");
}

export function serializePacket(p: DhcpPacket): Buffer {
  if (p.chaddr.length > 16) throw new RangeError("chaddr longer than 16 bytes");
  const raw = encodeTypedOptions(p.options);
  const total = HEADER_LENGTH + 4 + encodedLength(raw);
  // Zero-filled: unused header bytes and the padding to the BOOTP minimum (PAD options).
  const buf = Buffer.alloc(Math.max(total, MIN_PACKET_LENGTH));
  buf[0] = p.op;
  buf[1] = p.htype;
  buf[2] = p.hlen;
  buf[3] = p.hops;
  buf.writeUInt32BE(p.xid >>> 0, 4);
  buf.writeUInt16BE(p.secs, 8);
  buf.writeUInt16BE(p.flags, 10);
  writeIp(buf, 12, p.ciaddr);
  writeIp(buf, 16, p.yiaddr);
  writeIp(buf, 20, p.siaddr);
  writeIp(buf, 24, p.giaddr);
  p.chaddr.copy(buf, 28);
  writeText(buf, SNAME_OFFSET, SNAME_LENGTH, p.sname, "sname");
  writeText(buf, FILE_OFFSET, FILE_LENGTH, p.file, "file");
  buf.writeUInt32BE(MAGIC_COOKIE, HEADER_LENGTH);
  writeOptions(raw, buf, HEADER_LENGTH + 4);
  return buf;
}

/** The client's hardware address as "aa:bb:..", from the first hlen bytes of chaddr. */
export function clientMac(p: DhcpPacket): string {
  return formatMac(p.chaddr.subarray(0, Math.min(p.hlen, 16)));
}
