// Numbers from RFC 2131 (message layout), RFC 2132 (options), RFC 4578 (PXE) and
// iPXE's encapsulated options (175, https://ipxe.org/howto/dhcpd).

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

/** Fixed BOOTP header length up to and including `file`, before the magic cookie. */
export const HEADER_LENGTH = 236;
export const MAGIC_COOKIE = 0x63825363;
/** RFC 1542: many relays and clients drop BOOTP messages shorter than 300 bytes. */
export const MIN_PACKET_LENGTH = 300;
export const SNAME_OFFSET = 44;
export const SNAME_LENGTH = 64;
export const FILE_OFFSET = 108;
export const FILE_LENGTH = 128;

/** The broadcast bit of `flags` (RFC 2131 §2). */
export const FLAG_BROADCAST = 0x8000;

export enum MessageType {
  DISCOVER = 1,
  OFFER = 2,
  REQUEST = 3,
  DECLINE = 4,
  ACK = 5,
  NAK = 6,
  RELEASE = 7,
  INFORM = 8,
}

export const OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE_ENCAP: 175,
  END: 255,
} as const;

/** iPXE sub-option (inside 175): skip waiting for ProxyDHCP offers. */
export const IPXE_NO_PXEDHCP = 176;
/** PXE sub-option (inside 43): discovery control; bit 3 = boot file name is in `file`. */
export const PXE_DISCOVERY_CONTROL = 6;

/** RFC 4578 §2.1 client system architecture types (the ones that matter here). */
export const ARCH = {
  BIOS: 0,
  EFI_IA32: 6,
  EFI_BC: 7,
  EFI_X86_64: 9,
  EFI_ARM32: 10,
  EFI_ARM64: 11,
  /** UEFI HTTP boot (RFC 4578 registry, UEFI spec 24.7): x86, x64, ARM64. */
  EFI_HTTP_IA32: 15,
  EFI_HTTP_X86_64: 16,
  EFI_HTTP_ARM64: 19,
} as const;
