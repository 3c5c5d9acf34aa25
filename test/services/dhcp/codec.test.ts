import fc from "fast-check";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MAGIC_COOKIE, MessageType, OPT } from "../../../src/services/dhcp/codec/constants.js";
import { userClasses, type DhcpOptions } from "../../../src/services/dhcp/codec/options.js";
import { clientMac, parsePacket, serializePacket, type DhcpPacket } from "../../../src/services/dhcp/codec/packet.js";

/** A BOOTREQUEST header (236 bytes) + cookie, then the given option bytes. */
function handBuilt(optionBytes: number[], patch?: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1; // BOOTREQUEST
  b[1] = 1; // ethernet
  b[2] = 6;
  b.writeUInt32BE(0xdeadbeef, 4);
  b.writeUInt16BE(0x8000, 10);
  Buffer.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]).copy(b, 28);
  b.writeUInt32BE(MAGIC_COOKIE, 236);
  patch?.(b);
  return Buffer.concat([b, Buffer.from(optionBytes)]);
}

function ok(buf: Buffer): DhcpPacket {
  const r = parsePacket(buf);
  if (!r.ok) throw new Error(`expected a packet, got: ${r.error}`);
  return r.packet;
}

describe("DHCP codec: hand-built packets", () => {
  it("reads the header, MAC and typed options, skipping PAD and stopping at END", () => {
    const p = ok(
      handBuilt([
        0,
        0, // PAD PAD
        53,
        1,
        1, // DISCOVER
        0, // PAD between options
        55,
        4,
        1,
        3,
        6,
        67,
        60,
        9,
        ...Buffer.from("PXEClient"),
        93,
        2,
        0,
        7,
        94,
        3,
        1,
        3,
        16,
        97,
        17,
        0,
        ...Array.from({ length: 16 }, (_, i) => i),
        77,
        4,
        ...Buffer.from("iPXE"),
        50,
        4,
        10,
        0,
        0,
        7,
        255,
        12,
        3,
        65,
        66,
        67, // after END: ignored
      ]),
    );
    expect(p.op).toBe(1);
    expect(p.xid).toBe(0xdeadbeef);
    expect(p.flags).toBe(0x8000);
    expect(clientMac(p)).toBe("52:54:00:12:34:56");
    expect(p.options.messageType).toBe(MessageType.DISCOVER);
    expect(p.options.parameterRequestList).toEqual([1, 3, 6, 67]);
    expect(p.options.vendorClassId).toBe("PXEClient");
    expect(p.options.clientArch).toEqual([7]);
    expect(p.options.clientNdi).toEqual({ type: 1, major: 3, minor: 16 });
    expect(p.options.clientUuid?.type).toBe(0);
    expect([...p.options.clientUuid!.guid]).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(userClasses(p.options.userClass)).toContain("iPXE");
    expect(p.options.requestedAddress).toBe("10.0.0.7");
    expect(p.options.hostname).toBeUndefined();
  });

  it("rejects an option whose length runs past the packet", () => {
    const r = parsePacket(handBuilt([53, 1, 1, 12, 200, 65, 66]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/past the end/);
  });

  it("rejects an option code with no length byte at the very end", () => {
    expect(parsePacket(handBuilt([53, 1, 1, 12])).ok).toBe(false);
  });

  it("rejects short packets and a missing magic cookie", () => {
    expect(parsePacket(Buffer.alloc(0)).ok).toBe(false);
    expect(parsePacket(Buffer.alloc(239)).ok).toBe(false);
    expect(parsePacket(handBuilt([255], (b) => b.writeUInt32BE(0x01020304, 236))).ok).toBe(false);
    expect(parsePacket(handBuilt([53, 1, 1, 255], (b) => (b[2] = 17))).ok).toBe(false);
  });

  it("accepts options without END (area ends at the packet's end)", () => {
    expect(ok(handBuilt([53, 1, 3])).options.messageType).toBe(MessageType.REQUEST);
  });

  it("joins split instances of one option (RFC 3396)", () => {
    const p = ok(handBuilt([12, 3, ...Buffer.from("nod"), 53, 1, 1, 12, 2, ...Buffer.from("e1"), 255]));
    expect(p.options.hostname).toBe("node1");
  });

  it("reads options from file and sname when option 52 says so, in RFC order", () => {
    const buf = handBuilt([53, 1, 1, 52, 1, 3, 255], (b) => {
      // file (offset 108) carries hostname part 1, sname (offset 44) part 2
      Buffer.from([12, 2, 0x61, 0x62, 255]).copy(b, 108);
      Buffer.from([12, 2, 0x63, 0x64, 67, 3, 0x78, 0x2e, 0x65, 255]).copy(b, 44);
    });
    const p = ok(buf);
    expect(p.options.hostname).toBe("abcd");
    expect(p.options.bootfileName).toBe("x.e");
    expect(p.file).toBe("");
    expect(p.sname).toBe("");
  });

  it("reads file and sname as strings without overload", () => {
    const p = ok(
      handBuilt([53, 1, 2, 255], (b) => {
        Buffer.from("undionly.kpxe").copy(b, 108);
        Buffer.from("head").copy(b, 44);
      }),
    );
    expect(p.file).toBe("undionly.kpxe");
    expect(p.sname).toBe("head");
  });

  it("rejects a bad overload value and a bad option inside the overloaded file", () => {
    expect(parsePacket(handBuilt([53, 1, 1, 52, 1, 4, 255])).ok).toBe(false);
    expect(parsePacket(handBuilt([53, 1, 1, 52, 1, 1, 255], (b) => Buffer.from([12, 200]).copy(b, 108))).ok).toBe(false);
  });

  it("keeps a known option with a malformed value raw and warns, without failing the packet", () => {
    const r = parsePacket(handBuilt([53, 1, 1, 1, 3, 255, 255, 0, 93, 3, 0, 0, 7, 255]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packet.options.subnetMask).toBeUndefined();
    expect(r.packet.options.clientArch).toBeUndefined();
    expect(r.packet.options.other?.get(1)).toEqual(Buffer.from([255, 255, 0]));
    expect(r.warnings.length).toBe(2);
  });

  it("decodes encapsulated options 43 and 175, and rejects a 43 sub-option past its end", () => {
    const p = ok(handBuilt([53, 1, 2, 43, 3, 6, 1, 8, 175, 6, 176, 1, 1, 0, 255, 7, 255]));
    expect(p.options.vendorSpecific?.get(6)).toEqual(Buffer.from([8]));
    expect(p.options.ipxe?.get(176)).toEqual(Buffer.from([1]));
    const bad = parsePacket(handBuilt([53, 1, 2, 43, 3, 6, 5, 8, 255]));
    expect(bad.ok).toBe(true);
    if (bad.ok) {
      expect(bad.packet.options.vendorSpecific).toBeUndefined();
      expect(bad.warnings[0]).toMatch(/option 43/);
    }
  });

  it("serializes a reply with options in wire format and pads to 300 bytes", () => {
    const reply: DhcpPacket = {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: 7,
      secs: 0,
      flags: 0x8000,
      ciaddr: "0.0.0.0",
      yiaddr: "10.0.0.7",
      siaddr: "10.0.0.1",
      giaddr: "0.0.0.0",
      chaddr: Buffer.from([0x52, 0x54, 0, 0x12, 0x34, 0x56, ...Array(10).fill(0)]),
      sname: "",
      file: "undionly.kpxe",
      options: {
        messageType: MessageType.OFFER,
        serverId: "10.0.0.1",
        leaseTime: 3600,
        subnetMask: "255.255.255.0",
        routers: ["10.0.0.254"],
        hostname: "n1",
        ipxe: new Map([[176, Buffer.from([1])]]),
      },
    };
    const buf = serializePacket(reply);
    expect(buf.length).toBe(300);
    expect(buf.readUInt32BE(236)).toBe(MAGIC_COOKIE);
    // The first option is the message type.
    expect([...buf.subarray(240, 243)]).toEqual([53, 1, 2]);
    expect(buf.indexOf(Buffer.from([175, 3, 176, 1, 1]))).toBeGreaterThan(240);
    expect(buf.indexOf(Buffer.from([51, 4, 0, 0, 0x0e, 0x10]))).toBeGreaterThan(240);
    expect(buf.subarray(108, 108 + 13).toString()).toBe("undionly.kpxe");
    expect(ok(buf)).toEqual(reply);
  });

  it("splits an option longer than 255 bytes into pieces that parse back whole", () => {
    const long = "x".repeat(600);
    const p: DhcpPacket = {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: 1,
      secs: 0,
      flags: 0,
      ciaddr: "0.0.0.0",
      yiaddr: "0.0.0.0",
      siaddr: "0.0.0.0",
      giaddr: "0.0.0.0",
      chaddr: Buffer.alloc(16),
      sname: "",
      file: "",
      options: { messageType: MessageType.ACK, bootfileName: long },
    };
    const buf = serializePacket(p);
    expect(buf[243]).toBe(OPT.BOOTFILE);
    expect(buf[244]).toBe(255);
    expect(ok(buf).options.bootfileName).toBe(long);
  });

  it("refuses to serialize a file name that does not fit the field", () => {
    const p = ok(handBuilt([53, 1, 1, 255]));
    expect(() => serializePacket({ ...p, file: "f".repeat(128) })).toThrow(RangeError);
  });

  it("reads RFC 3004 user classes as well as iPXE's bare string", () => {
    expect(userClasses(Buffer.from("iPXE"))).toContain("iPXE");
    expect(userClasses(Buffer.from([4, ...Buffer.from("iPXE"), 3, ...Buffer.from("foo")]))).toEqual(expect.arrayContaining(["iPXE", "foo"]));
    expect(userClasses(undefined)).toEqual([]);
  });
});

// ---- property tests ----

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join("."));
const text = (max: number) => fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: max });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const subOptions = fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }), bytes(0, 20)), { maxLength: 4 }).map((l) => new Map(l));

const optionsArb: fc.Arbitrary<DhcpOptions> = fc
  .record(
    {
      subnetMask: ip,
      routers: fc.array(ip, { minLength: 1, maxLength: 3 }),
      dnsServers: fc.array(ip, { minLength: 1, maxLength: 3 }),
      // Text options lose trailing NULs by design; generate none.
      hostname: text(300).map((s) => s.replace(/\0+$/, "")),
      domainName: text(40),
      broadcastAddress: ip,
      vendorSpecific: subOptions,
      requestedAddress: ip,
      leaseTime: fc.nat(),
      messageType: fc.integer({ min: 1, max: 8 }),
      serverId: ip,
      parameterRequestList: fc.array(fc.nat(255), { maxLength: 60 }),
      message: text(50),
      maxMessageSize: fc.nat(65535),
      renewalTime: fc.nat(),
      rebindingTime: fc.nat(),
      vendorClassId: text(40),
      clientId: bytes(1, 20),
      tftpServerName: text(40),
      bootfileName: text(200),
      userClass: bytes(0, 20),
      clientArch: fc.array(fc.nat(65535), { minLength: 1, maxLength: 3 }),
      clientNdi: fc.record({ type: fc.nat(255), major: fc.nat(255), minor: fc.nat(255) }),
      clientUuid: fc.record({ type: fc.nat(255), guid: bytes(16, 16) }),
      ipxe: subOptions,
      other: fc.array(fc.tuple(fc.constantFrom(2, 4, 19, 42, 81, 82, 119, 150, 209, 250), bytes(0, 30)), { maxLength: 3 }).map((l) => new Map(l)),
    },
    { requiredKeys: [] },
  )
  .map((o) => {
    // Empty maps/strings are fine; empty text options parse back as empty strings.
    if (o.other && o.other.size === 0) delete o.other;
    return o;
  });

const packetArb: fc.Arbitrary<DhcpPacket> = fc.record({
  op: fc.constantFrom(1, 2),
  htype: fc.nat(255),
  hlen: fc.nat(16),
  hops: fc.nat(255),
  xid: fc.nat(0xffffffff),
  secs: fc.nat(65535),
  flags: fc.nat(65535),
  ciaddr: ip,
  yiaddr: ip,
  siaddr: ip,
  giaddr: ip,
  chaddr: bytes(16, 16),
  sname: text(63).map((s) => s.replaceAll("\0", "")),
  file: text(127).map((s) => s.replaceAll("\0", "")),
  options: optionsArb,
});

describe("DHCP codec: properties", () => {
  it("parse(serialize(x)) equals x", () => {
    fc.assert(
      fc.property(packetArb, (p) => {
        const r = parsePacket(serializePacket(p));
        expect(r.ok).toBe(true);
        if (r.ok) {
          expect(r.warnings).toEqual([]);
          expect(r.packet).toEqual(p);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("random bytes never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (a) => {
        const r = parsePacket(Buffer.from(a));
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("random option areas after a valid header never throw, and parsed packets re-serialize", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ minLength: 128, maxLength: 128 }), (opts, file) => {
        const buf = handBuilt([...opts], (b) => Buffer.from(file).copy(b, 108));
        const r = parsePacket(buf);
        if (r.ok) {
          const p = r.packet;
          // Whatever parsed must serialize (file may need trimming to fit).
          const again = parsePacket(serializePacket({ ...p, file: p.file.slice(0, 127), sname: p.sname.slice(0, 63) }));
          expect(again.ok).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- real packets (fixtures/README.md) ----

function fixture(name: string): Buffer {
  return Buffer.from(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures", name), "utf8").replace(/\s+/g, ""), "hex");
}

describe("DHCP codec: packets captured from real clients", () => {
  it("parses dhclient's DISCOVER", () => {
    const p = ok(fixture("dhclient-discover.hex"));
    expect(p.op).toBe(1);
    expect(clientMac(p)).toBe("52:54:00:12:34:56");
    expect(p.options.messageType).toBe(MessageType.DISCOVER);
    expect(p.options.hostname).toBe("capnode");
    expect(p.options.parameterRequestList).toEqual(expect.arrayContaining([1, 3, 6, 12, 15, 28]));
  });

  it("parses udhcpc's DISCOVER", () => {
    const p = ok(fixture("udhcpc-discover.hex"));
    expect(clientMac(p)).toBe("52:54:00:12:34:56");
    expect(p.options.messageType).toBe(MessageType.DISCOVER);
    expect(p.options.hostname).toBe("capnode");
    expect(p.options.vendorClassId).toBe("metalform-test");
    expect(p.options.clientId?.toString("hex")).toBe("01525400123456");
  });

  it("parses a real iPXE DISCOVER: user class, PXE options and iPXE's encapsulated 175", () => {
    const p = ok(fixture("ipxe-discover.hex"));
    expect(p.options.messageType).toBe(MessageType.DISCOVER);
    expect(userClasses(p.options.userClass)).toContain("iPXE");
    expect(p.options.vendorClassId).toBe("PXEClient:Arch:00000:UNDI:002001");
    expect(p.options.clientArch).toEqual([0]);
    expect(p.options.clientNdi).toEqual({ type: 1, major: 2, minor: 1 });
    expect(p.options.clientUuid?.type).toBe(0);
    expect(p.options.parameterRequestList).toContain(175);
    // iPXE announces its features inside 175 (e.g. 16 = PXE extensions, 19 = HTTP).
    expect(p.options.ipxe?.get(19)).toEqual(Buffer.from([1]));
    expect(p.options.ipxe?.size).toBeGreaterThan(5);
  });

  it("round-trips all three through serialize without losing an option", () => {
    for (const f of ["dhclient-discover.hex", "udhcpc-discover.hex", "ipxe-discover.hex"]) {
      const p = ok(fixture(f));
      expect(ok(serializePacket(p))).toEqual(p);
    }
  });
});
