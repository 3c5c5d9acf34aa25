// The DHCP decision for discovery (issue 19), on captured requests: with discovery on,
// a MAC without a reservation gets boot information — a pool address and, from iPXE,
// the script URL (authoritative), or the boot file and script as a proxy — and its
// DISCOVER is an info line; with discovery off a proxy ignores it as before.
import { describe, expect, it } from "vitest";
import type { AnswerContext, Request } from "../../../src/services/dhcp/answer.js";
import { answerAuthoritative } from "../../../src/services/dhcp/authoritative.js";
import { MessageType } from "../../../src/services/dhcp/codec/constants.js";
import { LeaseStore } from "../../../src/services/dhcp/lease-store.js";
import { answerProxy } from "../../../src/services/dhcp/proxy.js";
import { indexReservations } from "../../../src/services/dhcp/reservations.js";
import { capturedPacket } from "./helpers/fixtures.js";

const CAPTURE_MAC = "52:54:00:12:34:56";
const OVMF_MAC = "52:54:00:ab:cd:07";

function context(opts: { discovery: boolean; pool?: boolean }): AnswerContext {
  return {
    config: {
      serverAddress: "10.77.0.1",
      subnetMask: "255.255.255.0",
      leaseTime: 600,
      pxe: { scriptUrl: "http://10.77.0.1:8080/boot/${mac}.ipxe" },
      ports: { server: 67, client: 68 },
    },
    // Nobody is reserved: every captured client is unknown here.
    reservations: indexReservations([]),
    pool: opts.pool ? new LeaseStore({ start: "10.77.0.200", end: "10.77.0.201", excluded: () => new Set() }) : undefined,
    discovery: opts.discovery,
    wants: () => true,
  };
}

const request = (name: string, via: "server" | "proxy" = "server"): Request => ({ packet: capturedPacket(name), source: { address: "0.0.0.0", port: 68 }, via });

describe("DHCP discovery of unknown MACs", () => {
  it("authoritative: iPXE from an unknown MAC gets a pool address and its script URL; the DISCOVER is logged at info", () => {
    const a = answerAuthoritative(request("ipxe-discover.hex"), context({ discovery: true, pool: true }));
    expect(a.reply?.packet).toMatchObject({ yiaddr: "10.77.0.200", file: `http://10.77.0.1:8080/boot/${CAPTURE_MAC}.ipxe` });
    expect(a.notes).toEqual([{ level: "info", message: "discovered", fields: expect.objectContaining({ mac: CAPTURE_MAC, kind: "ipxe" }) }]);
    expect(a.events.map((e) => e.event)).toEqual(["seen", "offer"]);
  });

  it("authoritative without discovery: still leased from the pool, but no info line", () => {
    const a = answerAuthoritative(request("ipxe-discover.hex"), context({ discovery: false, pool: true }));
    expect(a.reply?.packet.yiaddr).toBe("10.77.0.200");
    expect(a.notes).toEqual([]);
  });

  it("a REQUEST is answered but not logged again: one info line per DISCOVER", () => {
    const ctx = context({ discovery: true, pool: true });
    const offered = answerAuthoritative(request("ovmf-discover.hex"), ctx).reply!.packet.yiaddr;
    const req = request("ovmf-request.hex");
    req.packet.options = { ...req.packet.options, requestedAddress: offered, serverId: "10.77.0.1" };
    const ack = answerAuthoritative(req, ctx);
    expect(ack.reply?.packet.options.messageType).toBe(MessageType.ACK);
    expect(ack.notes).toEqual([]);
  });

  it("proxy: OVMF's PXE from an unknown MAC gets the boot file, iPXE its script; off, both are ignored", () => {
    const offer = answerProxy(request("ovmf-discover.hex"), context({ discovery: true }));
    expect(offer.reply?.packet).toMatchObject({ yiaddr: "0.0.0.0", file: "snponly.efi" });
    expect(offer.notes[0]).toMatchObject({ message: "discovered", fields: { mac: OVMF_MAC } });
    const ipxe = answerProxy(request("ipxe-discover.hex"), context({ discovery: true }));
    expect(ipxe.reply?.packet.file).toBe(`http://10.77.0.1:8080/boot/${CAPTURE_MAC}.ipxe`);
    for (const name of ["ovmf-discover.hex", "ipxe-discover.hex"]) {
      const off = answerProxy(request(name), context({ discovery: false }));
      expect(off.reply).toBeUndefined();
      expect(off.ignored?.reason).toBe("unknown-mac");
    }
  });

  it("proxy with discovery still ignores what is not a PXE client (dhclient)", () => {
    expect(answerProxy(request("dhclient-discover.hex"), context({ discovery: true })).ignored?.reason).toBe("not-pxe");
  });
});
