import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bearerToken, generateToken, tokensEqual } from "../../../src/services/http/auth.js";
import { normalizeMac } from "../../../src/services/http/mac.js";
import { parseRange } from "../../../src/services/http/range.js";
import { isInside, splitRequestPath } from "../../../src/services/http/safe-path.js";
import { matchRoute, type Route } from "../../../src/services/http/routes.js";

describe("parseRange", () => {
  it("honours one byte range", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ kind: "partial", start: 0, end: 99 });
    expect(parseRange("bytes=900-", 1000)).toEqual({ kind: "partial", start: 900, end: 999 });
    expect(parseRange("bytes=-100", 1000)).toEqual({ kind: "partial", start: 900, end: 999 });
    expect(parseRange("bytes=-5000", 1000)).toEqual({ kind: "partial", start: 0, end: 999 });
    expect(parseRange("bytes=990-5000", 1000)).toEqual({ kind: "partial", start: 990, end: 999 });
    expect(parseRange("BYTES = 1 - 2", 1000)).toEqual({ kind: "partial", start: 1, end: 2 });
  });
  it("reports ranges outside the file as unsatisfiable", () => {
    expect(parseRange("bytes=1000-", 1000)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-0", 1000)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=99999999999999999999-", 1000)).toEqual({ kind: "unsatisfiable" });
  });
  it("ignores what it does not support or cannot parse", () => {
    for (const h of [undefined, "", "items=0-1", "bytes=0-1,5-6", "bytes=5-1", "bytes=-", "bytes=a-b", "bytes=" + "1".repeat(300)]) {
      expect(parseRange(h, 1000)).toEqual({ kind: "full" });
    }
  });
  it("never yields a range outside the file (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.nat(1 << 30), (h, size) => {
        const v = parseRange("bytes=" + h, size);
        if (v.kind === "partial") {
          expect(v.start).toBeGreaterThanOrEqual(0);
          expect(v.end).toBeLessThan(size);
          expect(v.start).toBeLessThanOrEqual(v.end);
        }
      }),
    );
  });
});

describe("splitRequestPath", () => {
  it("decodes ordinary paths", () => {
    expect(splitRequestPath("kernels/vmlinuz-6.1")).toEqual({ ok: true, segments: ["kernels", "vmlinuz-6.1"] });
    expect(splitRequestPath("kernels/a%20b")).toEqual({ ok: true, segments: ["kernels", "a b"] });
  });
  it("refuses escapes in every spelling", () => {
    for (const p of [
      "kernels/../secret",
      "kernels/%2e%2e/secret",
      "kernels/%2E%2E/secret",
      "kernels/.%2e/secret",
      "kernels/..%2fsecret",
      "kernels/..%2Fsecret",
      "kernels/..%5csecret",
      "kernels/..\\secret",
      "kernels//etc/passwd",
      "kernels/%00",
      "kernels/a%00b",
      "kernels/a%0ab",
      "kernels/./x",
      "kernels/%",
      "kernels/%zz",
      "",
    ]) {
      expect(splitRequestPath(p).ok, p).toBe(false);
    }
  });
  it("keeps every accepted path inside the root (property)", () => {
    const root = "/srv/root";
    const piece = fc.constantFrom("a", "..", ".", "%2e", "%2E%2e", "%2f", "/", "%00", "%5c", "\\", "b.txt", "%41", "");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const r = splitRequestPath(pieces.join(""));
        if (r.ok) expect(isInside(root, path.join(root, ...r.segments))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
  it("isInside is not fooled by a shared name prefix", () => {
    expect(isInside("/srv/root", "/srv/root/x")).toBe(true);
    expect(isInside("/srv/root", "/srv/root")).toBe(true);
    expect(isInside("/srv/root", "/srv/rootkit/x")).toBe(false);
  });
});

describe("normalizeMac", () => {
  it("accepts colon or hyphen separated hex in any case", () => {
    expect(normalizeMac("52:54:00:AB:cd:01")).toBe("52:54:00:ab:cd:01");
    expect(normalizeMac("52-54-00-ab-cd-01")).toBe("52:54:00:ab:cd:01");
  });
  it("refuses everything else", () => {
    for (const m of ["52:54:00:ab:cd", "52:54-00:ab:cd:01", "525400abcd01", "52:54:00:ab:cd:0g", "../../etc"]) {
      expect(normalizeMac(m)).toBeUndefined();
    }
  });
});

describe("tokens", () => {
  it("compares tokens exactly", () => {
    const t = generateToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokensEqual(t, t)).toBe(true);
    expect(tokensEqual(t + "x", t)).toBe(false);
    expect(tokensEqual(t.slice(1), t)).toBe(false);
    expect(tokensEqual(undefined, t)).toBe(false);
    expect(tokensEqual("", "")).toBe(false);
  });
  it("reads bearer tokens", () => {
    expect(bearerToken({ authorization: "Bearer abc-DEF_1" })).toBe("abc-DEF_1");
    expect(bearerToken({ authorization: "Basic abc" })).toBeUndefined();
    expect(bearerToken({})).toBeUndefined();
  });
});

describe("matchRoute", () => {
  const h = () => undefined;
  const routes: Route[] = [
    { method: "*", prefix: "/api", handler: h },
    { method: "POST", prefix: "/api/v1/report", handler: h },
  ];
  it("picks the longest prefix for the method", () => {
    expect(matchRoute(routes, "POST", "/api/v1/report/n1")?.prefix).toBe("/api/v1/report");
    expect(matchRoute(routes, "GET", "/api/v1/report/n1")?.prefix).toBe("/api");
    expect(matchRoute(routes, "GET", "/apix")).toBeUndefined();
  });
});
