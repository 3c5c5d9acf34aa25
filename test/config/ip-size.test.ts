// IPv4 arithmetic and sizes: the hand-rolled parser agrees with the grammar, and
// the size grammar in code is the schema's.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { inSubnet, intToIp, ipToInt, isIPv4, parseCidr, subnetOf } from "../../src/config/ip.js";
import { clusterSchema } from "../../src/config/schema.js";
import { formatBytes, PART_SIZE_PATTERN, parseBytes, parseSizeSpec, SIZE_PATTERN } from "../../src/config/size.js";

describe("ipToInt / intToIp", () => {
  it.each([
    ["0.0.0.0", 0],
    ["10.0.0.1", 0x0a000001],
    ["255.255.255.255", 0xffffffff],
    ["192.168.100.7", 0xc0a86407],
  ])("%s", (s, n) => {
    expect(ipToInt(s)).toBe(n);
    expect(intToIp(n)).toBe(s);
  });

  it.each(["", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1.2.3.-1", "1..3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/24", "a.b.c.d", "1.2.3.00", "1.2.3.4."])("refuses %j", (s) => {
    expect(ipToInt(s)).toBeUndefined();
    expect(isIPv4(s)).toBe(false);
  });

  it("round trips every 32-bit integer and agrees with the dotted-quad grammar on any string", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        expect(ipToInt(intToIp(n))).toBe(n);
      }),
    );
    const quadish = fc
      .array(fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom("00", "01", "007", "", "x", "-1")), { minLength: 1, maxLength: 5 })
      .map((p) => p.join("."));
    fc.assert(
      fc.property(fc.oneof(quadish, fc.string({ maxLength: 16 })), (s) => {
        expect(ipToInt(s) !== undefined).toBe(isIPv4(s));
      }),
      { numRuns: 2000 },
    );
  });

  it("subnets", () => {
    const s = subnetOf("10.141.255.254", 16)!;
    expect([intToIp(s.network), intToIp(s.broadcast)]).toEqual(["10.141.0.0", "10.141.255.255"]);
    expect(inSubnet(ipToInt("10.141.3.4")!, s)).toBe(true);
    expect(inSubnet(ipToInt("10.142.0.0")!, s)).toBe(false);
    expect(parseCidr("10.0.0.1/33")).toBeUndefined();
    expect(parseCidr("10.0.0.1/0")).toEqual({ address: "10.0.0.1", prefix: 0 });
    expect(intToIp(subnetOf("1.2.3.4", 0)!.broadcast)).toBe("255.255.255.255");
  });
});

describe("sizes", () => {
  it("the size grammars in code are the schema's", () => {
    const defs = clusterSchema().$defs as Record<string, { pattern?: string; properties?: Record<string, { pattern?: string }> }>;
    expect(defs.size!.pattern).toBe(SIZE_PATTERN);
    expect(defs.partition!.properties!.size!.pattern).toBe(PART_SIZE_PATTERN);
  });

  it.each([
    ["512MiB", 512 * 1024 ** 2],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["2 TiB", 2 * 1024 ** 4],
    ["100GB", 100e9],
    ["7B", 7],
  ])("parseBytes(%s)", (s, n) => {
    expect(parseBytes(s)).toBe(n);
    expect(new RegExp(SIZE_PATTERN).test(s)).toBe(true);
  });

  it("every size the schema's pattern admits parses, unless it is too large to count in bytes exactly", () => {
    const re = new RegExp(PART_SIZE_PATTERN);
    const units: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
    const size = fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.option(fc.integer({ min: 0, max: 99 })), fc.constantFrom("", " "), fc.constantFrom(...Object.keys(units)));
    fc.assert(
      fc.property(size, ([i, f, sp, u]) => {
        const num = `${i}${f === null ? "" : `.${f}`}`;
        const s = `${num}${sp}${u}`;
        expect(re.test(s)).toBe(true);
        const bytes = Math.round(Number(num) * units[u]!);
        // Too large sizes are refused here and reported as invalid-size by the loader.
        expect(parseSizeSpec(s)).toEqual(Number.isSafeInteger(bytes) ? { kind: "bytes", bytes } : undefined);
      }),
      { numRuns: 1000 },
    );
    expect(parseSizeSpec("rest")).toEqual({ kind: "rest" });
    expect(parseSizeSpec("25%")).toEqual({ kind: "percent", percent: 25 });
  });

  it("formatBytes prefers exact units", () => {
    expect(formatBytes(1024 ** 3)).toBe("1GiB");
    expect(formatBytes(512 * 1024 ** 2)).toBe("512MiB");
    expect(formatBytes(1536)).toBe("1.5KiB");
    expect(formatBytes(12)).toBe("12B");
  });
});
