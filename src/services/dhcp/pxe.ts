// What a network-booting client gets (RFC 4578, iPXE, UEFI HTTP boot): the first loader
// over TFTP, chosen by client architecture (option 93), or its URL for a UEFI HTTP boot
// client ("HTTPClient" in option 60); once iPXE is running (user class "iPXE", option
// 77) the URL of the node's iPXE script.
import { ARCH, IPXE_NO_PXEDHCP, PXE_DISCOVERY_CONTROL } from "./codec/constants.js";
import { userClasses, type DhcpOptions } from "./codec/options.js";

export interface BootLoaders {
  /** Legacy BIOS (arch 0). Default `undionly.kpxe`. */
  bios: string;
  /** x86-64 UEFI (arch 7 and 9). Default `snponly.efi`; `ipxe.efi` carries its own NIC drivers. */
  efiX64: string;
  /** 32-bit x86 UEFI (arch 6). Default `ipxe.efi` is wrong for it; default `snponly-ia32.efi`. */
  efiIa32: string;
  /** ARM64 UEFI (arch 11). Default `snponly-arm64.efi`. */
  efiArm64: string;
}

export const defaultLoaders: BootLoaders = {
  bios: "undionly.kpxe",
  efiX64: "snponly.efi",
  efiIa32: "snponly-ia32.efi",
  efiArm64: "snponly-arm64.efi",
};

export interface PxeOptions {
  /** TFTP server (siaddr, option 66). Defaults to the DHCP server's address. */
  tftpServer?: string;
  loaders?: Partial<BootLoaders>;
  /**
   * URL of a node's iPXE script: a function of the MAC, or a template where `${mac}`
   * (lower-case, colon separated) and `${ip}` are replaced. Absent: iPXE gets no
   * script and would chain the loader again, so `serve` always sets it.
   */
  scriptUrl?: string | ((mac: string, ip: string | undefined) => string | undefined);
  /**
   * A client's first loader chosen by the caller (serve: from the node's firmware
   * settings, e.g. shim for Secure Boot nodes): a file name replaces the
   * architecture's loader, null means no boot file at all, undefined keeps the default.
   */
  bootFile?: (mac: string, arch: number) => string | null | undefined;
  /**
   * Base URL the loaders are served under over HTTP (e.g.
   * `http://10.0.0.1:8080/files/loaders`), for UEFI HTTP boot clients. Absent: they
   * get an address but no boot file.
   */
  httpLoaderBase?: string;
}

/** iPXE, PXE firmware (TFTP), UEFI HTTP boot firmware, or a plain DHCP client. */
export type ClientKind = "ipxe" | "pxe" | "http" | "other";

export function isIpxe(o: DhcpOptions): boolean {
  return userClasses(o.userClass).includes("iPXE") || o.ipxe !== undefined;
}

export function isPxeClient(o: DhcpOptions): boolean {
  return (o.vendorClassId ?? "").startsWith("PXEClient") || o.clientArch !== undefined;
}

/** UEFI HTTP boot firmware announces "HTTPClient:Arch:xxxxx:UNDI:yyyzzz" in option 60. */
export function isHttpBootClient(o: DhcpOptions): boolean {
  return (o.vendorClassId ?? "").startsWith("HTTPClient");
}

export function clientKind(o: DhcpOptions): ClientKind {
  if (isIpxe(o)) return "ipxe";
  if (isHttpBootClient(o)) return "http";
  if (isPxeClient(o)) return "pxe";
  return "other";
}

/** The loader for a client architecture; unknown architectures get undefined. */
export function loaderFor(arch: number, loaders: BootLoaders): string | undefined {
  switch (arch) {
    case ARCH.BIOS:
      return loaders.bios;
    case ARCH.EFI_BC:
    case ARCH.EFI_X86_64:
    case ARCH.EFI_HTTP_X86_64:
      return loaders.efiX64;
    case ARCH.EFI_IA32:
    case ARCH.EFI_HTTP_IA32:
      return loaders.efiIa32;
    case ARCH.EFI_ARM64:
    case ARCH.EFI_HTTP_ARM64:
      return loaders.efiArm64;
    default:
      return undefined;
  }
}

export function scriptUrlFor(p: PxeOptions, mac: string, ip: string | undefined): string | undefined {
  if (p.scriptUrl === undefined) return undefined;
  if (typeof p.scriptUrl === "function") return p.scriptUrl(mac, ip);
  return p.scriptUrl.replaceAll("${mac}", mac).replaceAll("${ip}", ip ?? "");
}

/**
 * What marks a reply as a PXE server's: the "PXEClient" echo (option 60) and option 43
 * with discovery control 8 (PXE 2.1 table 2-1: bit 3 = boot the file named in this
 * reply, no boot server discovery, no menu). The echo alone makes EDK2 (OVMF, most
 * UEFI servers) class the offer as "BINL": it then asks again on UDP 4011 of siaddr
 * for the boot file, which an authoritative server does not answer (PXE-E16).
 */
export function pxeServerOptions(): Pick<DhcpOptions, "vendorClassId" | "vendorSpecific"> {
  return { vendorClassId: "PXEClient", vendorSpecific: new Map([[PXE_DISCOVERY_CONTROL, Buffer.from([8])]]) };
}

export interface BootReply {
  /** siaddr. */
  nextServer: string;
  /** The boot file (loader name or script URL). */
  file: string;
  /** Options to merge into the reply. */
  options: DhcpOptions;
}

/**
 * Boot information for a request, or undefined when there is nothing to boot (an
 * architecture without a loader, iPXE without a script URL, an HTTP boot client
 * without `httpLoaderBase`).
 */
export function bootReplyFor(req: DhcpOptions, mac: string, ip: string | undefined, serverAddress: string, pxe: PxeOptions): BootReply | undefined {
  const nextServer = pxe.tftpServer ?? serverAddress;
  if (isIpxe(req)) return ipxeReply(req, nextServer, scriptUrlFor(pxe, mac, ip));
  // Without option 93 (e.g. dhclient) assume a BIOS client, as dnsmasq and Kea do.
  const arch = req.clientArch?.[0] ?? ARCH.BIOS;
  const chosen = pxe.bootFile?.(mac, arch);
  if (chosen === null) return undefined;
  const loader = chosen ?? loaderFor(arch, { ...defaultLoaders, ...pxe.loaders });
  if (loader === undefined) return undefined;
  if (isHttpBootClient(req)) return httpBootReply(req, pxe, nextServer, loader);
  const options: DhcpOptions = { ...echoes(req), tftpServerName: nextServer, bootfileName: loader };
  return { nextServer, file: loader, options };
}

function ipxeReply(req: DhcpOptions, nextServer: string, file: string | undefined): BootReply | undefined {
  if (file === undefined) return undefined;
  // Tell iPXE not to wait for ProxyDHCP offers (FACTS: saves 2-3 s per boot).
  const options: DhcpOptions = { ...echoes(req), tftpServerName: nextServer, bootfileName: file };
  options.ipxe = new Map([[IPXE_NO_PXEDHCP, Buffer.from([1])]]);
  return { nextServer, file, options };
}

/**
 * UEFI HTTP boot (UEFI spec 24.7): the loader's URL in option 67 and the "HTTPClient"
 * echo in option 60, without which EDK2's HttpBootDxe takes the offer for a plain
 * DHCP one and waits for a proxy that never comes.
 */
function httpBootReply(req: DhcpOptions, pxe: PxeOptions, nextServer: string, loader: string): BootReply | undefined {
  if (pxe.httpLoaderBase === undefined) return undefined;
  const file = `${pxe.httpLoaderBase.replace(/\/+$/, "")}/${encodeURIComponent(loader)}`;
  const options: DhcpOptions = { vendorClassId: "HTTPClient", bootfileName: file };
  if (req.clientUuid) options.clientUuid = req.clientUuid;
  return { nextServer, file, options };
}

/** The PXE server marks for a PXE client, and (RFC 4578 §2.5) its machine identifier. */
function echoes(req: DhcpOptions): DhcpOptions {
  const options: DhcpOptions = {};
  if ((req.vendorClassId ?? "").startsWith("PXEClient")) Object.assign(options, pxeServerOptions());
  if (req.clientUuid) options.clientUuid = req.clientUuid;
  return options;
}
