import { describe, expect, it } from "vitest";
import { ARCH, IPXE_NO_PXEDHCP, MessageType } from "../../../src/services/dhcp/codec/constants.js";
import type { DhcpPacket } from "../../../src/services/dhcp/codec/packet.js";
import { bootReplyFor, clientKind, loaderFor, defaultLoaders } from "../../../src/services/dhcp/pxe.js";
import { replyTarget } from "../../../src/services/dhcp/reply-address.js";

const ports = { server: 67, client: 68 };
function req(p: Partial<DhcpPacket>): DhcpPacket {
  return {
    op: 1,
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
    options: {},
    ...p,
  };
}

describe("reply addressing (RFC 2131 §4.1)", () => {
  it("sends to the relay agent on the server port when giaddr is set, whatever else is set", () => {
    expect(replyTarget(req({ giaddr: "10.1.0.1", ciaddr: "10.2.0.5", flags: 0x8000 }), MessageType.ACK, ports)).toEqual({ address: "10.1.0.1", port: 67 });
    expect(replyTarget(req({ giaddr: "10.1.0.1" }), MessageType.NAK, ports)).toEqual({ address: "10.1.0.1", port: 67 });
  });
  it("broadcasts a NAK without relay, even to a client with ciaddr", () => {
    expect(replyTarget(req({ ciaddr: "10.2.0.5" }), MessageType.NAK, ports)).toEqual({ address: "255.255.255.255", port: 68 });
  });
  it("unicasts to ciaddr, broadcasts otherwise (with or without the broadcast flag)", () => {
    expect(replyTarget(req({ ciaddr: "10.2.0.5" }), MessageType.ACK, ports)).toEqual({ address: "10.2.0.5", port: 68 });
    expect(replyTarget(req({ flags: 0x8000 }), MessageType.OFFER, ports)).toEqual({ address: "255.255.255.255", port: 68 });
    expect(replyTarget(req({}), MessageType.OFFER, { server: 1067, client: 1068 })).toEqual({ address: "255.255.255.255", port: 1068 });
  });
});

describe("boot loader choice (RFC 4578)", () => {
  it("maps architectures to loaders", () => {
    expect(loaderFor(ARCH.BIOS, defaultLoaders)).toBe("undionly.kpxe");
    expect(loaderFor(ARCH.EFI_BC, defaultLoaders)).toBe("snponly.efi");
    expect(loaderFor(ARCH.EFI_X86_64, { ...defaultLoaders, efiX64: "ipxe.efi" })).toBe("ipxe.efi");
    expect(loaderFor(ARCH.EFI_ARM64, defaultLoaders)).toBe("snponly-arm64.efi");
    expect(loaderFor(ARCH.EFI_IA32, defaultLoaders)).toBe("snponly-ia32.efi");
    expect(loaderFor(2, defaultLoaders)).toBeUndefined();
  });

  it("gives iPXE the script URL and 175/176, and PXE firmware the loader, echoing 60 and 97", () => {
    const uuid = { type: 0, guid: Buffer.alloc(16, 7) };
    const ipxe = bootReplyFor({ userClass: Buffer.from("iPXE"), clientArch: [0] }, "aa:bb:cc:dd:ee:ff", "10.0.0.5", "10.0.0.1", {
      scriptUrl: "http://h/${mac}/${ip}",
    });
    expect(ipxe?.file).toBe("http://h/aa:bb:cc:dd:ee:ff/10.0.0.5");
    expect(ipxe?.options.ipxe?.get(IPXE_NO_PXEDHCP)).toEqual(Buffer.from([1]));
    const pxe = bootReplyFor({ vendorClassId: "PXEClient:Arch:00007:UNDI:003016", clientArch: [7], clientUuid: uuid }, "m", undefined, "10.0.0.1", {
      tftpServer: "10.0.0.2",
    });
    expect(pxe).toMatchObject({ nextServer: "10.0.0.2", file: "snponly.efi" });
    expect(pxe?.options.vendorClassId).toBe("PXEClient");
    expect(pxe?.options.clientUuid).toEqual(uuid);
    expect(pxe?.options.tftpServerName).toBe("10.0.0.2");
    expect(pxe?.options.ipxe).toBeUndefined();
  });

  it("has nothing to boot for an unknown architecture or an iPXE client without a script URL", () => {
    expect(bootReplyFor({ clientArch: [2] }, "m", undefined, "10.0.0.1", {})).toBeUndefined();
    expect(bootReplyFor({ userClass: Buffer.from("iPXE") }, "m", undefined, "10.0.0.1", {})).toBeUndefined();
    expect(bootReplyFor({ userClass: Buffer.from("iPXE") }, "m", undefined, "10.0.0.1", { scriptUrl: () => undefined })).toBeUndefined();
  });

  it("tells iPXE, PXE firmware and other clients apart", () => {
    expect(clientKind({ userClass: Buffer.from("iPXE") })).toBe("ipxe");
    expect(clientKind({ vendorClassId: "PXEClient:Arch:00000:UNDI:002001" })).toBe("pxe");
    expect(clientKind({ clientArch: [9] })).toBe("pxe");
    expect(clientKind({ vendorClassId: "udhcp 1.35.0" })).toBe("other");
  });
});
