// Option negotiation for a read request (RFC 2347 framework; blksize RFC 2348;
// timeout and tsize RFC 2349; windowsize RFC 7440). Pure: requested options and the
// server's limits in, the values to use and the OACK to send out. Options the server
// does not know, or whose value is invalid, are left out of the OACK, which per
// RFC 2347 means "not accepted" and the transfer runs with the default for them.

import type { TftpOption } from "./packet.js";

export const DEFAULT_BLKSIZE = 512;
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
export const MAX_WINDOWSIZE = 65535;

export interface NegotiationLimits {
  /** Largest block size granted (a client asking for more gets this). */
  maxBlockSize: number;
  /** Largest window granted. */
  maxWindowSize: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Retransmission timeout the client asked for (RFC 2349), in ms; undefined when not negotiated. */
  timeoutMs: number | undefined;
  /** Options for the OACK, empty when no option was accepted (then DATA 1 answers the request). */
  reply: TftpOption[];
}

/** A decimal integer without sign, exponent or whitespace ("0x10", "1e3", " 5" are refused). */
function parseDecimal(value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  return Number(value);
}

export function negotiate(requested: TftpOption[], limits: NegotiationLimits, size: number): Negotiated {
  const out: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeoutMs: undefined, reply: [] };
  const seen = new Set<string>();
  for (const { name, value } of requested) {
    const key = name.toLowerCase();
    // A repeated option is ambiguous; the first one counts.
    if (seen.has(key)) continue;
    seen.add(key);
    const n = parseDecimal(value);
    if (n === undefined) continue;
    switch (key) {
      case "blksize":
        if (n < MIN_BLKSIZE || n > MAX_BLKSIZE) break;
        out.blksize = Math.min(n, limits.maxBlockSize);
        out.reply.push({ name, value: String(out.blksize) });
        break;
      case "windowsize":
        if (n < 1 || n > MAX_WINDOWSIZE) break;
        out.windowsize = Math.min(n, limits.maxWindowSize);
        out.reply.push({ name, value: String(out.windowsize) });
        break;
      case "timeout":
        if (n < 1 || n > 255) break;
        out.timeoutMs = n * 1000;
        out.reply.push({ name, value: String(n) });
        break;
      case "tsize":
        // In a read request the client sends 0 and the server answers with the real size.
        out.reply.push({ name, value: String(size) });
        break;
    }
  }
  return out;
}
