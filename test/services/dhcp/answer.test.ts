// The DHCP decision without sockets: captured requests of dhclient, udhcpc, iPXE
// (QEMU's ROM under SeaBIOS, snponly.efi under OVMF) and OVMF's own PXE and HTTP boot
// (fixtures/README.md), answered by answerAuthoritative/answerProxy.
import { describe, expect, it } from "vitest";
import type { AnswerContext, Request } from "../../../src/services/dhcp/answer.js";
import { answerAuthoritative } from "../../../src/services/dhcp/authoritative.js";
import { MessageType, PXE_DISCOVERY_CONTROL } from "../../../src/services/dhcp/codec/constants.js";
import type { DhcpPacket } from "../../../src/services/dhcp/codec/packet.js";
import type { DhcpEventName } from "../../../src/services/dhcp/events.js";
import { LeaseStore } from "../../../src/services/dhcp/lease-store.js";
import { answerProxy } from "../../../src/services/dhcp/proxy.js";
import { indexReservations } from "../../../src/services/dhcp/reservations.js";
import { edk2OfferType } from "./helpers/edk2.js";
import { capturedPacket } from "./helpers/fixtures.js";

const CAPTURE_MAC = "52:54:00:12:34:56";
const OVMF_MAC = "52:54:00:ab:cd:07";
const SCRIPT = (mac: string) => `http://10.77.0.1:8080/boot/${mac}.ipxe`;

function context(opts: { reserved?: string[]; pool?: boolean; listening?: DhcpEventName[] } = {}): AnswerContext {
  const reserved = opts.reserved ?? [CAPTURE_MAC, OVMF_MAC];
  return {
    config: {
      serverAddress: "10.77.0.1",
      subnetMask: "255.255.255.0",
      routers: ["10.77.0.254"],
      leaseTime: 600,
      pxe: { scriptUrl: "http://10.77.0.1:8080/boot/${mac}.ipxe", httpLoaderBase: "http://10.77.0.1:8080/files/loaders" },
      ports: { server: 67, client: 68 },
    },
    reservations: indexReservations(reserved.map((mac, i) => ({ mac, ip: `10.77.0.${11 + i}`, hostname: `node${11 + i}` }))),
    pool: opts.pool ? new LeaseStore({ start: "10.77.0.100", end: "10.77.0.101", excluded: () => new Set() }) : undefined,
    wants: (e) => (opts.listening ?? ["offer", "ack", "seen"]).includes(e),
  };
}

function request(name: string, via: "server" | "proxy" = "server"): Request {
  return { packet: capturedPacket(name), source: { address: "0.0.0.0", port: 68 }, via };
}

function replyOf(a: ReturnType<typeof answerAuthoritative>): DhcpPacket {
  if (!a.reply) throw new Error(`no reply: ${JSON.stringify(a.ignored)}`);
  return a.reply.packet;
}

describe("authoritative answers to captured clients", () => {
  it("dhclient (no option 93) gets its reserved address and the BIOS loader, broadcast", () => {
    const a = answerAuthoritative(request("dhclient-discover.hex"), context());
    const offer = replyOf(a);
    expect(offer).toMatchObject({ yiaddr: "10.77.0.11", siaddr: "10.77.0.1", file: "undionly.kpxe" });
    expect(offer.options).toMatchObject({ messageType: MessageType.OFFER, serverId: "10.77.0.1", hostname: "node11", routers: ["10.77.0.254"] });
    expect(a.reply?.to).toEqual({ address: "255.255.255.255", port: 68 });
    expect(a.reply?.counts).toBe("offers");
    expect(a.events).toEqual([{ event: "offer", payload: expect.objectContaining({ mac: CAPTURE_MAC, kind: "other", ip: "10.77.0.11" }) }]);
  });

  it("udhcpc from an unknown MAC is leased from the pool and reported as seen", () => {
    const a = answerAuthoritative(request("udhcpc-discover.hex"), context({ reserved: [], pool: true }));
    expect(replyOf(a).yiaddr).toBe("10.77.0.100");
    expect(a.events.map((e) => e.event)).toEqual(["seen", "offer"]);
    expect(a.events[0]!.payload).toMatchObject({ vendorClass: "metalform-test", messageType: MessageType.DISCOVER });
  });

  it("an unknown MAC without a pool gets nothing, with the reason, and is seen", () => {
    const a = answerAuthoritative(request("udhcpc-discover.hex"), context({ reserved: [] }));
    expect(a.reply).toBeUndefined();
    expect(a.ignored?.reason).toBe("unknown-mac");
    expect(a.events.map((e) => e.event)).toEqual(["seen"]);
  });

  it("QEMU's iPXE ROM gets the script URL and 175/176", () => {
    const offer = replyOf(answerAuthoritative(request("ipxe-discover.hex"), context()));
    expect(offer.file).toBe(SCRIPT(CAPTURE_MAC));
    expect(offer.options.ipxe?.get(176)).toEqual(Buffer.from([1]));
  });

  it("OVMF's PXE gets an offer EDK2 classes DhcpPxe10 and an ACK to its REQUEST; snponly's iPXE the script", () => {
    const offer = replyOf(answerAuthoritative(request("ovmf-discover.hex"), context()));
    expect(edk2OfferType(offer)).toBe("DhcpPxe10");
    expect(offer).toMatchObject({ yiaddr: "10.77.0.12", file: "snponly.efi" });
    // The captured REQUEST names server 10.77.0.1 and address 10.77.0.11 (the capture's reservation).
    const ctx = context({ reserved: [OVMF_MAC] });
    const ack = replyOf(answerAuthoritative(request("ovmf-request.hex"), ctx));
    expect(ack.options.messageType).toBe(MessageType.ACK);
    expect(ack.options.vendorSpecific?.get(PXE_DISCOVERY_CONTROL)).toEqual(Buffer.from([8]));
    expect(replyOf(answerAuthoritative(request("snponly-ipxe-request.hex"), ctx)).file).toBe(SCRIPT(OVMF_MAC));
  });

  it("OVMF's HTTP boot gets the loader URL and the HTTPClient echo", () => {
    const offer = replyOf(answerAuthoritative(request("ovmf-http-discover.hex"), context()));
    expect(offer.options).toMatchObject({ vendorClassId: "HTTPClient", bootfileName: "http://10.77.0.1:8080/files/loaders/snponly.efi" });
  });

  it("a REQUEST for another address than the reserved one is NAKed, with the reason in the event", () => {
    const ctx = context();
    ctx.reservations = indexReservations([{ mac: OVMF_MAC, ip: "10.77.0.50" }]);
    const a = answerAuthoritative(request("ovmf-request.hex"), ctx);
    expect(a.reply?.packet.options).toMatchObject({ messageType: MessageType.NAK, message: "requested 10.77.0.11, reserved 10.77.0.50" });
    expect(a.reply?.counts).toBe("naks");
    expect(a.events[0]).toMatchObject({ event: "nak", payload: { reason: "requested 10.77.0.11, reserved 10.77.0.50" } });
  });

  it("builds no event payload nobody listens for", () => {
    expect(answerAuthoritative(request("dhclient-discover.hex"), context({ listening: [] })).events).toEqual([]);
  });
});

describe("proxyDHCP answers to captured clients", () => {
  it("offers OVMF's PXE boot information without an address", () => {
    const a = answerProxy(request("ovmf-discover.hex"), context());
    expect(replyOf(a)).toMatchObject({ yiaddr: "0.0.0.0", file: "snponly.efi" });
    expect(edk2OfferType(replyOf(a))).toBe("DhcpPxe10");
  });

  it("leaves dhclient and REQUESTs on port 67 alone, with reasons", () => {
    expect(answerProxy(request("dhclient-discover.hex"), context()).ignored?.reason).toBe("not-pxe");
    expect(answerProxy(request("ovmf-request.hex"), context()).ignored?.reason).toBe("proxy-not-for-us");
  });

  it("answers the REQUEST on port 4011 where it came from; an HTTP boot client keeps HTTPClient", () => {
    const r = { ...request("ovmf-request.hex", "proxy"), source: { address: "10.77.0.11", port: 4011 } };
    const a = answerProxy(r, context({ reserved: [OVMF_MAC] }));
    expect(a.reply?.to).toEqual({ address: "10.77.0.11", port: 4011 });
    expect(a.reply?.packet.options.messageType).toBe(MessageType.ACK);
    expect(replyOf(answerProxy(request("ovmf-http-discover.hex"), context())).options.vendorClassId).toBe("HTTPClient");
  });
});
