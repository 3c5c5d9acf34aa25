// Fuzzing the DHCP and TFTP codecs (property-based with fast-check, and mutations of
// real packets); the live servers are fuzzed in fuzz-live.int.test.ts. Codec properties:
// decoding never throws, whatever the bytes; what decodes re-encodes to something that
// decodes the same.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePacket, serializePacket } from "../../src/services/dhcp/codec/packet.js";
import { decodePacket, encodePacket } from "../../src/services/tftp/packet.js";
// @ts-expect-error -- plain ESM helper shared with the benchmark, no types
import { dhcpSeeds, mutate, rng, tftpSeeds } from "../../bench/fuzz/corpus.mjs";

const RUNS = 3000;

type Mutate = (r: unknown, seeds: Buffer[], max?: number) => Buffer;
const mutated = (seeds: Buffer[]) => fc.integer({ min: 1, max: 0x7fffffff }).map((seed) => (mutate as Mutate)((rng as (s: number) => unknown)(seed), seeds, 1500));

describe("DHCP codec under hostile input", () => {
  const seeds = (dhcpSeeds as () => Buffer[])();

  it("parses every seed packet", () => {
    for (const s of seeds) expect(parsePacket(s).ok).toBe(true);
  });

  it("never throws on arbitrary bytes, and rejects what is shorter than a header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (a) => {
        const r = parsePacket(Buffer.from(a));
        if (a.length < 240) expect(r.ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("never throws on mutated real packets; what parses re-serializes to the same message", () => {
    let parsed = 0;
    fc.assert(
      fc.property(mutated(seeds), (buf) => {
        const r = parsePacket(buf);
        if (!r.ok) return;
        parsed++;
        let again: Buffer;
        try {
          again = serializePacket(r.packet);
        } catch (e) {
          // The encoder may refuse what it cannot represent, but only with a RangeError.
          expect(e).toBeInstanceOf(RangeError);
          return;
        }
        const r2 = parsePacket(again);
        expect(r2.ok).toBe(true);
        if (r2.ok) {
          expect(r2.packet.xid).toBe(r.packet.xid);
          expect(r2.packet.chaddr.equals(r.packet.chaddr)).toBe(true);
          expect(r2.packet.options.messageType).toBe(r.packet.options.messageType);
          expect(r2.packet.giaddr).toBe(r.packet.giaddr);
        }
      }),
      { numRuns: RUNS },
    );
    // The mutations must reach past the header checks, or this proves little.
    expect(parsed).toBeGreaterThan(RUNS / 5);
  });
});

describe("TFTP codec under hostile input", () => {
  const seeds = (tftpSeeds as () => Buffer[])();

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (a) => {
        decodePacket(Buffer.from(a));
      }),
      { numRuns: RUNS },
    );
  });

  it("never throws on mutated real packets; what decodes re-encodes and decodes the same", () => {
    let decoded = 0;
    fc.assert(
      fc.property(mutated(seeds), (buf) => {
        const r = decodePacket(buf);
        if (!r.ok) return;
        decoded++;
        let again: Buffer;
        try {
          again = encodePacket(r.packet);
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          return;
        }
        const r2 = decodePacket(again);
        expect(r2).toEqual(r);
      }),
      { numRuns: RUNS },
    );
    expect(decoded).toBeGreaterThan(RUNS / 5);
  });

  it("round-trips every well-formed request (property)", () => {
    const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\0"));
    fc.assert(
      fc.property(text, fc.constantFrom("octet", "netascii"), fc.array(fc.tuple(text, text), { maxLength: 8 }), (filename, mode, opts) => {
        const p = { op: "rrq" as const, filename, mode, options: opts.map(([name, value]) => ({ name, value })) };
        expect(decodePacket(encodePacket(p))).toEqual({ ok: true, packet: p });
      }),
      { numRuns: 500 },
    );
  });
});
