// UEFI PXE decided from packets captured from OVMF (EDK2) and from the iPXE it loads
// (fixtures/README.md): the offer must be one EDK2 boots from directly.
import { describe, expect, it } from "vitest";
import { MessageType, PXE_DISCOVERY_CONTROL } from "../../../src/services/dhcp/codec/constants.js";
import type { DhcpPacket } from "../../../src/services/dhcp/codec/packet.js";
import { bootReplyFor, clientKind } from "../../../src/services/dhcp/pxe.js";
import { edk2OfferType } from "./helpers/edk2.js";
import { capturedPacket as fixture } from "./helpers/fixtures.js";

const PXE = { scriptUrl: "http://10.77.0.1:8080/boot/${mac}.ipxe" };

describe("OVMF's own PXE (EDK2 UefiPxeBcDxe)", () => {
  it("sends PXEClient, arch 7 (x64 UEFI BC) and a UUID in DISCOVER and REQUEST", () => {
    for (const name of ["ovmf-discover.hex", "ovmf-request.hex"]) {
      const p = fixture(name);
      expect(p.options.vendorClassId).toBe("PXEClient:Arch:00007:UNDI:003000");
      expect(p.options.clientArch).toEqual([7]);
      expect(clientKind(p.options)).toBe("pxe");
    }
    expect(fixture("ovmf-request.hex").options).toMatchObject({ messageType: MessageType.REQUEST, serverId: "10.77.0.1", requestedAddress: "10.77.0.11" });
  });

  it("took the old offer (PXEClient echo, no option 43) for BINL and asked again on port 4011", () => {
    const old = fixture("ovmf-binl-offer-before-fix.hex");
    expect(old.options.vendorSpecific).toBeUndefined();
    expect(edk2OfferType(old)).toBe("DhcpBinl");
    const retry = fixture("ovmf-binl-request.hex");
    expect(retry.options.messageType).toBe(MessageType.REQUEST);
    expect(retry.ciaddr).toBe("10.77.0.11");
  });

  it("gets an offer EDK2 boots from directly: PXEClient, discovery control 8, snponly.efi", () => {
    const req = fixture("ovmf-discover.hex");
    const boot = bootReplyFor(req.options, "52:54:00:ab:cd:07", "10.77.0.11", "10.77.0.1", PXE);
    expect(boot).toMatchObject({ nextServer: "10.77.0.1", file: "snponly.efi" });
    expect(boot?.options.vendorSpecific?.get(PXE_DISCOVERY_CONTROL)).toEqual(Buffer.from([8]));
    const old = fixture("ovmf-binl-offer-before-fix.hex");
    const offer: DhcpPacket = { ...old, options: { ...old.options, ...boot!.options } };
    expect(edk2OfferType(offer)).toBe("DhcpPxe10");
  });

  it("hands the iPXE that snponly.efi runs the node's script URL", () => {
    for (const name of ["snponly-ipxe-discover.hex", "snponly-ipxe-request.hex"]) {
      const req = fixture(name);
      expect(clientKind(req.options)).toBe("ipxe");
      expect(req.options.clientArch).toEqual([7]);
      const boot = bootReplyFor(req.options, "52:54:00:ab:cd:07", "10.77.0.11", "10.77.0.1", PXE);
      expect(boot?.file).toBe("http://10.77.0.1:8080/boot/52:54:00:ab:cd:07.ipxe");
    }
  });
});

describe("OVMF's UEFI HTTP boot (EDK2 HttpBootDxe)", () => {
  const http = { ...PXE, httpLoaderBase: "http://10.77.0.1:8080/files/loaders/" };

  it("announces HTTPClient and arch 16 (x64 UEFI HTTP) in DISCOVER and REQUEST", () => {
    for (const name of ["ovmf-http-discover.hex", "ovmf-http-request.hex"]) {
      const p = fixture(name);
      expect(p.options.vendorClassId).toBe("HTTPClient:Arch:00016:UNDI:003000");
      expect(p.options.clientArch).toEqual([16]);
      expect(clientKind(p.options)).toBe("http");
    }
  });

  it("gets the loader's URL in option 67 and the HTTPClient echo, no PXE marks", () => {
    const boot = bootReplyFor(fixture("ovmf-http-discover.hex").options, "52:54:00:ab:cd:07", "10.77.0.11", "10.77.0.1", http);
    expect(boot?.file).toBe("http://10.77.0.1:8080/files/loaders/snponly.efi");
    expect(boot?.options).toMatchObject({ vendorClassId: "HTTPClient", bootfileName: "http://10.77.0.1:8080/files/loaders/snponly.efi" });
    expect(boot?.options.vendorSpecific).toBeUndefined();
    expect(boot?.options.tftpServerName).toBeUndefined();
    // ARM64 HTTP boot (19) gets its own loader.
    const arm = bootReplyFor({ vendorClassId: "HTTPClient:Arch:00019:UNDI:003000", clientArch: [19] }, "m", undefined, "10.77.0.1", http);
    expect(arm?.file).toBe("http://10.77.0.1:8080/files/loaders/snponly-arm64.efi");
  });

  it("without an HTTP loader base gets no boot file (an address only)", () => {
    expect(bootReplyFor(fixture("ovmf-http-discover.hex").options, "m", "10.77.0.11", "10.77.0.1", PXE)).toBeUndefined();
  });
});
