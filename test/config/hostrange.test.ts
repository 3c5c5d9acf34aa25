// Host ranges: expansion, refusal of malformed or absurd ranges, and properties
// (round trip through compressHostnames, counts, uniqueness).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compressHostnames, countHostRange, expandHostRange, isHostRange } from "../../src/config/hostrange.js";

const expandOk = (p: string, max?: number): string[] => {
  const r = expandHostRange(p, max);
  if (!Array.isArray(r)) throw new Error(`expected ${p} to expand, got: ${r.message}`);
  return r;
};
const errorOf = (p: string, max?: number): string => {
  const r = expandHostRange(p, max);
  if (Array.isArray(r)) throw new Error(`expected ${p} to be refused, got ${r.length} names`);
  return r.message;
};

describe("expandHostRange", () => {
  it.each([
    ["login01", ["login01"]],
    ["node[1-3]", ["node1", "node2", "node3"]],
    ["node[8-11]", ["node8", "node9", "node10", "node11"]],
    ["node[08-11]", ["node08", "node09", "node10", "node11"]],
    ["node[001-003]", ["node001", "node002", "node003"]],
    ["node[098-101]", ["node098", "node099", "node100", "node101"]],
    ["gpu[1,3,5-7]", ["gpu1", "gpu3", "gpu5", "gpu6", "gpu7"]],
    ["gpu[01,3,10-11]", ["gpu01", "gpu3", "gpu10", "gpu11"]],
    ["rack[1-2]-n[01-03]", ["rack1-n01", "rack1-n02", "rack1-n03", "rack2-n01", "rack2-n02", "rack2-n03"]],
    ["[1-2]x", ["1x", "2x"]],
    ["a[1-2][7,9]", ["a17", "a19", "a27", "a29"]],
    ["n[5]", ["n5"]],
    ["n.[0-1].b_c", ["n.0.b_c", "n.1.b_c"]],
  ])("%s", (pattern, names) => {
    expect(expandOk(pattern)).toEqual(names);
    expect(countHostRange(pattern)).toBe(names.length);
    expect(isHostRange(pattern)).toBe(pattern.includes("["));
  });

  it.each([
    ["n[1-]", 'malformed range "[1-]" in "n[1-]"'],
    ["n[-3]", 'malformed range "[-3]"'],
    ["n[]", 'malformed range "[]"'],
    ["n[a-c]", 'malformed range "[a-c]"'],
    ["n[1-2,]", 'malformed range "[1-2,]"'],
    ["n[ 1 - 2 ]", "malformed range"],
    ["n[1-1234567890]", "malformed range"],
    ["n[5-1]", 'range "[5-1]" in "n[5-1]" runs backwards'],
    ["n[1-3", 'unclosed "[" in host range "n[1-3"'],
    ["n1-3]", 'unbalanced "]" in host range "n1-3]"'],
    ["n[1-[2]]", 'nested "[" in host range'],
    ["node 1", 'invalid character in host name "node 1"'],
    ["nöde[1-2]", "invalid character in host name"],
  ])("refuses %s", (pattern, message) => {
    expect(errorOf(pattern)).toContain(message);
    expect(countHostRange(pattern)).toHaveProperty("message");
  });

  it("refuses absurd ranges before expanding them, in bounded time", () => {
    const t0 = performance.now();
    expect(errorOf("node[1-100000000]", 100_000)).toContain('host range "node[1-100000000]" expands to more than 100,000 names');
    expect(errorOf("a[1-999999999]b[1-999999999]c[1-999999999]d[1-999999999]", Number.MAX_SAFE_INTEGER)).toContain("expands to more than");
    expect(countHostRange("node[1-100000000]", Number.MAX_SAFE_INTEGER)).toBe(100_000_000);
    const ms = performance.now() - t0;
    console.log(`absurd ranges refused in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(15_000); // bounded: expanding 10^8 names would not finish
  });

  it("accepts a range of exactly the limit", () => {
    expect(expandOk("n[1-1000]", 1000)).toHaveLength(1000);
    expect(errorOf("n[1-1001]", 1000)).toContain("more than 1,000 names");
  });
});

describe("compressHostnames", () => {
  it.each([
    [
      ["node001", "node002", "node003", "login01"],
      ["login01", "node[001-003]"],
    ],
    [["node099", "node100", "node101"], ["node[099-101]"]],
    [["n1", "n2", "n3", "n5", "n7", "n8"], ["n[1-3,5,7-8]"]],
    [["n3", "n1", "n2", "n2"], ["n[1-3]"]],
    [
      ["r1-n01", "r1-n02", "r2-n01"],
      ["r1-n[01-02]", "r2-n01"],
    ],
    [
      ["gpu1a", "gpu2a", "head"],
      ["gpu[1-2]a", "head"],
    ],
    // 8 and 08 are different names: both survive.
    [
      ["n8", "n9", "n10", "n08", "n09"],
      ["n[08-10]", "n[8-9]"],
    ],
  ])("%j", (names, ranges) => {
    expect(compressHostnames(names)).toEqual(ranges);
  });
});

// --- properties ------------------------------------------------------------------------

/** A prefix that does not end in a digit, and a suffix without digits (so the range is the last number). */
const prefix = fc.stringMatching(/^[a-z][a-z0-9.-]{0,6}[a-z-]$|^[a-z]$/);
const suffix = fc.stringMatching(/^([.-][a-z]{1,4})?$/);

/** One bracket group: lo < hi, optionally zero-padded to a width at which lo has a leading zero. */
const singleGroup = fc
  .record({
    pre: prefix,
    post: suffix,
    lo: fc.integer({ min: 0, max: 5000 }),
    span: fc.integer({ min: 1, max: 300 }),
    extraWidth: fc.integer({ min: 0, max: 3 }),
    padded: fc.boolean(),
  })
  .filter((r) => !r.padded || String(r.lo).length < String(r.lo + r.span).length + r.extraWidth)
  .map(({ pre, post, lo, span, extraWidth, padded }) => {
    const hi = lo + span;
    const width = padded ? String(hi).length + extraWidth : 0;
    const fmt = (n: number) => (width ? String(n).padStart(width, "0") : String(n));
    return `${pre}[${fmt(lo)}-${fmt(hi)}]${post}`;
  });

/** Several groups of disjoint, increasing items (lists and ranges). */
const group = fc.array(fc.record({ gap: fc.integer({ min: 0, max: 20 }), len: fc.integer({ min: 0, max: 6 }) }), { minLength: 1, maxLength: 4 }).map((items) => {
  let at = 0;
  return items
    .map(({ gap, len }, i) => {
      const lo = at + (i === 0 ? gap : gap + 1);
      at = lo + len;
      return len ? `${lo}-${lo + len}` : `${lo}`;
    })
    .join(",");
});
const multiGroup = fc
  .tuple(prefix, fc.array(fc.tuple(group, fc.stringMatching(/^[a-z-]{1,3}$/)), { minLength: 1, maxLength: 3 }))
  .map(([pre, groups]) => pre + groups.map(([g, sep]) => `[${g}]${sep}`).join(""));

describe("host range properties", () => {
  it("compressHostnames(expand(p)) gives back p for single-group ranges", () => {
    fc.assert(
      fc.property(singleGroup, (p) => {
        expect(compressHostnames(expandOk(p))).toEqual([p]);
      }),
      { numRuns: 300 },
    );
  });

  it("expansion count equals countHostRange, and names are unique", () => {
    fc.assert(
      fc.property(fc.oneof(singleGroup, multiGroup), (p) => {
        const names = expandOk(p);
        expect(countHostRange(p)).toBe(names.length);
        expect(new Set(names).size).toBe(names.length);
      }),
      { numRuns: 300 },
    );
  });

  it("expanding the compressed form gives back the same set of names", () => {
    const name = fc.oneof(
      fc.stringMatching(/^[a-z]{1,3}$/),
      fc
        .tuple(fc.constantFrom("n", "node", "r1-n", "gpu"), fc.integer({ min: 0, max: 200 }), fc.constantFrom(0, 2, 3), fc.constantFrom("", "a", "-x"))
        .map(([pre, n, w, post]) => `${pre}${String(n).padStart(w, "0")}${post}`),
    );
    fc.assert(
      fc.property(fc.array(name, { maxLength: 40 }), (names) => {
        const back = compressHostnames(names).flatMap((p) => expandOk(p));
        expect(new Set(back)).toEqual(new Set(names));
        expect(back.length).toBe(new Set(names).size);
      }),
      { numRuns: 300 },
    );
  });

  it("any string either expands within the limit or is refused, never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (p) => {
        const r = expandHostRange(p, 10_000);
        if (Array.isArray(r)) expect(r.length).toBeLessThanOrEqual(10_000);
        else expect(r.message.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});
