// IPv6 arithmetic on 128-bit bigints: parsing the text forms of RFC 4291 (with `::`
// and an embedded IPv4 tail), RFC 5952's canonical text, prefixes and the per-node
// increments of host ranges (`ip6:` counts up like `ip:`).
import { ipToInt } from "./ip.js";

const MAX = (1n << 128n) - 1n;

/** Parses one group list ("2001:db8", "" for none) into 16-bit values; undefined when malformed. */
function groups(s: string): number[] | undefined {
  if (s === "") return [];
  const out: number[] = [];
  for (const g of s.split(":")) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** The address as a bigint; undefined when it is not an IPv6 address. */
export function ip6ToBigInt(text: string): bigint | undefined {
  let s = text;
  const lastColon = s.lastIndexOf(":");
  if (lastColon >= 0 && s.includes(".", lastColon)) {
    // An IPv4 tail (::ffff:192.0.2.1) is two groups written another way.
    const v4 = ipToInt(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const parts = s.split("::");
  if (parts.length > 2) return undefined;
  const head = groups(parts[0]!);
  const rest = parts.length === 2 ? groups(parts[1]!) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length;
  if (parts.length === 1 ? given !== 8 : given > 7) return undefined;
  const all = [...head, ...Array<number>(8 - given).fill(0), ...rest];
  return all.reduce((n, g) => (n << 16n) | BigInt(g), 0n);
}

export function isIPv6(text: string): boolean {
  return ip6ToBigInt(text) !== undefined;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
export function bigIntToIp6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.len).join(":")}`;
}

/** "fd00:79::/64" as its address and prefix length; undefined when malformed. */
export function parseCidr6(text: string): { address: bigint; prefix: number } | undefined {
  const m = /^([0-9A-Fa-f:.]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const address = ip6ToBigInt(m[1]!);
  const prefix = Number(m[2]);
  return address === undefined || prefix > 128 ? undefined : { address, prefix };
}

/** The prefix's network address (host bits cleared). */
export function networkOf6(address: bigint, prefix: number): bigint {
  const shift = BigInt(128 - prefix);
  return (address >> shift) << shift;
}

/** True when `address` lies inside `network`/`prefix`. */
export function inPrefix6(address: bigint, network: bigint, prefix: number): boolean {
  const shift = BigInt(128 - prefix);
  return address >> shift === network >> shift;
}

/** The address `n` places after `text` (a host range's i-th node); undefined past the end of the space. */
export function addIp6(text: string, n: number): string | undefined {
  const v = ip6ToBigInt(text);
  if (v === undefined) return undefined;
  const sum = v + BigInt(n);
  return sum > MAX ? undefined : bigIntToIp6(sum);
}
