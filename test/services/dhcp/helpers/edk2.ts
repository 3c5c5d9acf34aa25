// How EDK2's PXE driver (NetworkPkg/UefiPxeBcDxe/PxeBcDhcp4.c, PxeBcParseDhcp4Packet,
// used by OVMF and most UEFI servers) classifies a DHCP offer. The selection prefers
// DhcpPxe10, then DhcpBinl; a DhcpBinl offer makes the firmware ask siaddr:4011 for the
// boot file (PxeBcRetryBinlOffer), DhcpOnly needs a boot file name. Kept to the rules
// that matter for an offer with an address (no proxy offers, no BOOTP).
import { PXE_DISCOVERY_CONTROL } from "../../../../src/services/dhcp/codec/constants.js";
import type { DhcpPacket } from "../../../../src/services/dhcp/codec/packet.js";

export type Edk2OfferType = "DhcpPxe10" | "DhcpWfm11a" | "DhcpBinl" | "DhcpOnly" | "Bootp";

/** PXE vendor sub-options (inside 43) that make a multicast TFTP offer, which EDK2 discards. */
const MTFTP_TAGS = [1, 2, 3, 4, 5];

export function edk2OfferType(p: DhcpPacket): Edk2OfferType | "discarded" {
  const o = p.options;
  const bootFile = o.bootfileName !== undefined || p.file !== "";
  if (o.messageType === undefined) return bootFile ? "Bootp" : "discarded";
  // Only the first 9 bytes are compared: "PXEClient".
  const pxe = (o.vendorClassId ?? "").startsWith("PXEClient");
  const vendor = pxe ? o.vendorSpecific : undefined;
  if (vendor?.has(PXE_DISCOVERY_CONTROL)) return "DhcpPxe10";
  if (vendor && MTFTP_TAGS.every((t) => vendor.has(t))) return "discarded";
  if (pxe) return "DhcpBinl";
  return "DhcpOnly";
}
