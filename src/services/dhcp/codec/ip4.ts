// Dotted-quad IPv4 helpers shared by the codec and the server.

/** Dotted quad → unsigned 32-bit integer; RangeError when malformed. Hand-rolled: it is on the hot path. */
export function ipToInt(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) throw new RangeError(`not an IPv4 address: ${ip}`);
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) throw new RangeError(`not an IPv4 address: ${ip}`);
    } else {
      throw new RangeError(`not an IPv4 address: ${ip}`);
    }
  }
  if (dots !== 3 || digits === 0) throw new RangeError(`not an IPv4 address: ${ip}`);
  return (n * 256 + part) >>> 0;
}

export function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function isIPv4(ip: string): boolean {
  try {
    ipToInt(ip);
    return true;
  } catch {
    return false;
  }
}

export function readIp(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

export function writeIp(buf: Buffer, off: number, ip: string): void {
  buf.writeUInt32BE(ipToInt(ip), off);
}

export const ZERO_IP = "0.0.0.0";

/** Lower-case colon-separated MAC from a hardware address buffer. */
export function formatMac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with dashes) into 6 bytes; undefined when malformed. */
export function parseMac(mac: string): Buffer | undefined {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function normalizeMac(mac: string): string | undefined {
  const b = parseMac(mac);
  return b ? formatMac(b) : undefined;
}
