// Host ranges: `node[001-128]`, `rack[1-4]-n[01-32]`, `gpu[1,3,5-8]`.
// Expansion is the cartesian product of the bracket groups, left to right; zero
// padding follows the width of the range's bounds. The size is computed before
// anything is expanded so that `node[1-100000000]` is refused cheaply.

export interface RangeError {
  /** The diagnostic code: the pattern is malformed, or names too many nodes. */
  code: "invalid-host-range" | "range-too-large";
  message: string;
}

type Part = { literal: string } | { items: Array<{ lo: string; hi: string }> };

const NAME_CHARS = /^[A-Za-z0-9._-]*$/;

/** Parses a pattern into literal and alternative parts without expanding it. */
function parsePattern(pattern: string, maxCount: number): { parts: Part[]; count: number } | RangeError {
  const parts: Part[] = [];
  let count = 1;
  let i = 0;
  while (i < pattern.length) {
    const open = pattern.indexOf("[", i);
    const literal = open < 0 ? pattern.slice(i) : pattern.slice(i, open);
    if (literal.includes("]")) return { code: "invalid-host-range", message: `unbalanced "]" in host range "${pattern}"` };
    if (!NAME_CHARS.test(literal)) return { code: "invalid-host-range", message: `invalid character in host name "${pattern}" (letters, digits, ".", "_" and "-" only)` };
    if (literal) parts.push({ literal });
    if (open < 0) break;
    const close = pattern.indexOf("]", open);
    if (close < 0) return { code: "invalid-host-range", message: `unclosed "[" in host range "${pattern}"` };
    const body = pattern.slice(open + 1, close);
    if (body.includes("[")) return { code: "invalid-host-range", message: `nested "[" in host range "${pattern}"` };
    const items: Array<{ lo: string; hi: string }> = [];
    let groupCount = 0;
    for (const item of body.split(",")) {
      const m = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(item.trim());
      if (!m) return { code: "invalid-host-range", message: `malformed range "[${body}]" in "${pattern}" (expected e.g. [001-128] or [1,3,5-8])` };
      const lo = m[1]!;
      const hi = m[2] ?? lo;
      if (Number(hi) < Number(lo)) return { code: "invalid-host-range", message: `range "[${item}]" in "${pattern}" runs backwards` };
      groupCount += Number(hi) - Number(lo) + 1;
      items.push({ lo, hi });
    }
    count *= groupCount;
    if (count > maxCount) {
      return { code: "range-too-large", message: `host range "${pattern}" expands to more than ${maxCount.toLocaleString("en")} names` };
    }
    parts.push({ items });
    i = close + 1;
  }
  return { parts, count };
}

function expandGroup(items: Array<{ lo: string; hi: string }>): string[] {
  const out: string[] = [];
  for (const { lo, hi } of items) {
    const width = lo.length > 1 && lo.startsWith("0") ? lo.length : 0;
    for (let n = Number(lo); n <= Number(hi); n++) out.push(width ? String(n).padStart(width, "0") : String(n));
  }
  return out;
}

export function isHostRange(pattern: string): boolean {
  return pattern.includes("[");
}

/** Number of names a pattern expands to, or an error. */
export function countHostRange(pattern: string, maxCount = 1_000_000): number | RangeError {
  const p = parsePattern(pattern, maxCount);
  return "message" in p ? p : p.count;
}

/** Expands a pattern into names in order. A plain name expands to itself. */
export function expandHostRange(pattern: string, maxCount = 1_000_000): string[] | RangeError {
  const p = parsePattern(pattern, maxCount);
  if ("message" in p) return p;
  let names = [""];
  for (const part of p.parts) {
    const alts = "literal" in part ? [part.literal] : expandGroup(part.items);
    const next: string[] = [];
    for (const prefix of names) for (const a of alts) next.push(prefix + a);
    names = next;
  }
  return names;
}

/**
 * Folds names back into ranges on their last number: [node001, node002, node003,
 * login01] → ["login01", "node[001-003]"]. Used to keep long listings readable.
 */
export function compressHostnames(names: readonly string[]): string[] {
  const groups = new Map<string, { pre: string; post: string; width: number; nums: number[] }>();
  const singles: string[] = [];
  const parsed: Array<{ pre: string; post: string; digits: string }> = [];
  for (const name of names) {
    const m = /^(.*?)(\d+)(\D*)$/.exec(name);
    if (!m) singles.push(name);
    else parsed.push({ pre: m[1]!, post: m[3]!, digits: m[2]! });
  }
  // Zero-padded numbers fix their group's width; a number without a leading zero
  // but of that width (node100 beside node099) belongs to the padded group too.
  const padded = new Set<string>();
  for (const p of parsed) if (p.digits.length > 1 && p.digits.startsWith("0")) padded.add(`${p.pre}\u0000${p.post}\u0000${p.digits.length}`);
  for (const { pre, post, digits } of parsed) {
    const leadingZero = digits.length > 1 && digits.startsWith("0");
    const width = leadingZero || padded.has(`${pre}\u0000${post}\u0000${digits.length}`) ? digits.length : 0;
    const key = `${pre}\u0000${post}\u0000${width}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { pre, post, width, nums: [] }));
    g.nums.push(Number(digits));
  }
  const out = [...new Set(singles)];
  for (const g of groups.values()) {
    const nums = [...new Set(g.nums)].sort((a, b) => a - b);
    const fmt = (n: number) => (g.width ? String(n).padStart(g.width, "0") : String(n));
    if (nums.length === 1) {
      out.push(`${g.pre}${fmt(nums[0]!)}${g.post}`);
      continue;
    }
    const runs: string[] = [];
    let start = nums[0]!;
    let prev = start;
    for (const n of [...nums.slice(1), Number.NaN]) {
      if (n === prev + 1) {
        prev = n;
        continue;
      }
      runs.push(start === prev ? fmt(start) : `${fmt(start)}-${fmt(prev)}`);
      start = prev = n;
    }
    out.push(`${g.pre}[${runs.join(",")}]${g.post}`);
  }
  return out.sort();
}
