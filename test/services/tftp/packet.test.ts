import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodePacket, encodePacket, MAX_OPTIONS, type TftpPacket } from "../../../src/services/tftp/packet.js";

const str = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\0"));
const anyStr = fc.string({ maxLength: 40 }).filter((s) => !s.includes("\0"));
const u16 = fc.integer({ min: 0, max: 0xffff });
const options = fc.array(fc.record({ name: str, value: anyStr }), { maxLength: 8 });

const packet: fc.Arbitrary<TftpPacket> = fc.oneof(
  fc.record({ op: fc.constantFrom("rrq" as const, "wrq" as const), filename: str, mode: str, options }),
  fc.record({ op: fc.constant("data" as const), block: u16, data: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) }),
  fc.record({ op: fc.constant("ack" as const), block: u16 }),
  fc.record({ op: fc.constant("error" as const), code: u16, message: anyStr }),
  fc.record({ op: fc.constant("oack" as const), options }),
);

const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ""), "hex");

describe("tftp packet codec", () => {
  it("round-trips every packet: decode(encode(p)) = p", () => {
    fc.assert(
      fc.property(packet, (p) => {
        const d = decodePacket(encodePacket(p));
        expect(d).toEqual({ ok: true, packet: p });
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips every decodable datagram: encode(decode(b)) = b", () => {
    fc.assert(
      fc.property(packet, (p) => {
        const bytes = encodePacket(p);
        const d = decodePacket(bytes);
        if (!d.ok) throw new Error(d.reason);
        expect(encodePacket(d.packet).equals(bytes)).toBe(true);
      }),
    );
  });

  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (a) => {
        const d = decodePacket(Buffer.from(a));
        expect(typeof d.ok).toBe("boolean");
      }),
      { numRuns: 5000 },
    );
  });

  it("never throws on random bytes behind a valid opcode", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.uint8Array({ maxLength: 300 }), (op, a) => {
        const b = Buffer.concat([Buffer.from([0, op]), Buffer.from(a)]);
        const d = decodePacket(b);
        if (d.ok) expect(["rrq", "wrq", "data", "ack", "error", "oack"]).toContain(d.packet.op);
      }),
      { numRuns: 5000 },
    );
  });

  it("decodes an RRQ with options as curl sends it", () => {
    const b = Buffer.from("\x00\x01pxelinux.0\x00octet\x00tsize\x000\x00blksize\x001468\x00", "latin1");
    expect(decodePacket(b)).toEqual({
      ok: true,
      packet: {
        op: "rrq",
        filename: "pxelinux.0",
        mode: "octet",
        options: [
          { name: "tsize", value: "0" },
          { name: "blksize", value: "1468" },
        ],
      },
    });
  });

  it("tolerates NUL padding after the options", () => {
    const b = Buffer.from("\x00\x01a\x00octet\x00blksize\x001468\x00\x00\x00\x00", "latin1");
    const d = decodePacket(b);
    expect(d.ok && d.packet.op === "rrq" && d.packet.options).toEqual([{ name: "blksize", value: "1468" }]);
  });

  it("refuses malformed packets with a reason", () => {
    const cases: [Buffer, RegExp][] = [
      [hex(""), /shorter/],
      [hex("00"), /shorter/],
      [hex("0001"), /without filename/],
      [hex("0001 61"), /NUL-terminated/],
      [hex("0001 6100"), /without filename/],
      [hex("0001 6100 6f00 6200"), /option without a value/],
      [hex("0003 00"), /DATA shorter/],
      [hex("0004 00"), /ACK shorter/],
      [hex("0005 0001"), /ERROR shorter/],
      [hex("0005 0001 41"), /NUL-terminated/],
      [hex("0005 0001 4100 4200"), /exactly one/],
      [hex("0007 0000"), /unknown opcode 7/],
      [hex("ffff"), /unknown opcode 65535/],
      [hex("0001 ff00 6f00"), /UTF-8/],
    ];
    for (const [b, re] of cases) {
      const d = decodePacket(b);
      expect(d.ok, b.toString("hex")).toBe(false);
      if (!d.ok) expect(d.reason).toMatch(re);
    }
  });

  it("keeps at most MAX_OPTIONS options from a huge list", () => {
    const opts = Array.from({ length: 5000 }, (_, i) => `o${i}\0${i}\0`).join("");
    const d = decodePacket(Buffer.from(`\0\x01f\0octet\0${opts}`, "latin1"));
    expect(d.ok && d.packet.op === "rrq" && d.packet.options.length).toBe(MAX_OPTIONS);
  });

  it("encoder refuses NUL inside strings and out-of-range numbers", () => {
    expect(() => encodePacket({ op: "rrq", filename: "a\0b", mode: "octet", options: [] })).toThrow(RangeError);
    expect(() => encodePacket({ op: "ack", block: 65536 })).toThrow(RangeError);
    expect(() => encodePacket({ op: "data", block: -1, data: Buffer.alloc(0) })).toThrow(RangeError);
  });
});
