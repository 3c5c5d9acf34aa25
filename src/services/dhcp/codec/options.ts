// Typed DHCP options: the ones metalform reads or writes get a field of their own,
// everything else is kept as raw bytes in `other` so nothing is lost on a round trip.
import { MessageType, OPT } from "./constants.js";
import { ipToInt } from "./ip4.js";
import { encodeSubOptions, parseSubOptions, type RawOptions } from "./raw-options.js";

export interface ClientNdi {
  type: number;
  major: number;
  minor: number;
}

export interface ClientUuid {
  /** 0 = GUID (the only type RFC 4578 defines). */
  type: number;
  /** 16 bytes. */
  guid: Buffer;
}

export interface DhcpOptions {
  subnetMask?: string; // 1
  routers?: string[]; // 3
  dnsServers?: string[]; // 6
  hostname?: string; // 12
  domainName?: string; // 15
  broadcastAddress?: string; // 28
  /** 43, decoded as sub-options (PXE encapsulation). */
  vendorSpecific?: Map<number, Buffer>;
  requestedAddress?: string; // 50
  leaseTime?: number; // 51
  messageType?: MessageType; // 53
  serverId?: string; // 54
  parameterRequestList?: number[]; // 55
  message?: string; // 56
  maxMessageSize?: number; // 57
  renewalTime?: number; // 58
  rebindingTime?: number; // 59
  vendorClassId?: string; // 60
  clientId?: Buffer; // 61
  tftpServerName?: string; // 66
  bootfileName?: string; // 67
  /** 77 as sent. iPXE sends the bare string "iPXE"; RFC 3004 clients send length-prefixed items. */
  userClass?: Buffer;
  clientArch?: number[]; // 93
  clientNdi?: ClientNdi; // 94
  clientUuid?: ClientUuid; // 97
  /** 175, iPXE's encapsulated options. */
  ipxe?: Map<number, Buffer>;
  /** Any other option, raw. */
  other?: Map<number, Buffer>;
}

type Decoder = (v: Buffer, o: DhcpOptions) => string | undefined;

function ipList(v: Buffer, min: number): string[] | undefined {
  if (v.length < min * 4 || v.length % 4 !== 0) return undefined;
  const out: string[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(`${v[i]}.${v[i + 1]}.${v[i + 2]}.${v[i + 3]}`);
  return out;
}

function oneIp(name: string, set: (o: DhcpOptions, ip: string) => void): Decoder {
  return (v, o) => {
    const l = v.length === 4 ? ipList(v, 1) : undefined;
    if (!l) return `${name} must be 4 bytes`;
    set(o, l[0]!);
    return undefined;
  };
}

function u32(name: string, set: (o: DhcpOptions, n: number) => void): Decoder {
  return (v, o) => {
    if (v.length !== 4) return `${name} must be 4 bytes`;
    set(o, v.readUInt32BE(0));
    return undefined;
  };
}

/** Text options: NUL bytes are trimmed off the end (some clients send a C string). */
function text(set: (o: DhcpOptions, s: string) => void): Decoder {
  return (v, o) => {
    let end = v.length;
    while (end > 0 && v[end - 1] === 0) end--;
    set(o, v.subarray(0, end).toString("latin1"));
    return undefined;
  };
}

const decoders = new Map<number, Decoder>([
  [OPT.SUBNET_MASK, oneIp("subnet mask", (o, ip) => (o.subnetMask = ip))],
  [
    OPT.ROUTER,
    (v, o) => {
      const l = ipList(v, 1);
      if (!l) return "routers must be a multiple of 4 bytes";
      o.routers = l;
      return undefined;
    },
  ],
  [
    OPT.DNS,
    (v, o) => {
      const l = ipList(v, 1);
      if (!l) return "DNS servers must be a multiple of 4 bytes";
      o.dnsServers = l;
      return undefined;
    },
  ],
  [OPT.HOSTNAME, text((o, s) => (o.hostname = s))],
  [OPT.DOMAIN_NAME, text((o, s) => (o.domainName = s))],
  [OPT.BROADCAST, oneIp("broadcast address", (o, ip) => (o.broadcastAddress = ip))],
  [
    OPT.VENDOR_SPECIFIC,
    (v, o) => {
      const r = parseSubOptions(v);
      if (!r.ok) return `option 43: ${r.error}`;
      o.vendorSpecific = r.value;
      return undefined;
    },
  ],
  [OPT.REQUESTED_ADDRESS, oneIp("requested address", (o, ip) => (o.requestedAddress = ip))],
  [OPT.LEASE_TIME, u32("lease time", (o, n) => (o.leaseTime = n))],
  [
    OPT.MESSAGE_TYPE,
    (v, o) => {
      if (v.length !== 1 || v[0]! < 1 || v[0]! > 8) return "message type must be 1 byte of 1..8";
      o.messageType = v[0];
      return undefined;
    },
  ],
  [OPT.SERVER_ID, oneIp("server identifier", (o, ip) => (o.serverId = ip))],
  [
    OPT.PARAMETER_LIST,
    (v, o) => {
      o.parameterRequestList = [...v];
      return undefined;
    },
  ],
  [OPT.MESSAGE, text((o, s) => (o.message = s))],
  [
    OPT.MAX_MESSAGE_SIZE,
    (v, o) => {
      if (v.length !== 2) return "maximum message size must be 2 bytes";
      o.maxMessageSize = v.readUInt16BE(0);
      return undefined;
    },
  ],
  [OPT.RENEWAL_TIME, u32("renewal time", (o, n) => (o.renewalTime = n))],
  [OPT.REBINDING_TIME, u32("rebinding time", (o, n) => (o.rebindingTime = n))],
  [OPT.VENDOR_CLASS, text((o, s) => (o.vendorClassId = s))],
  [
    OPT.CLIENT_ID,
    (v, o) => {
      if (v.length < 1) return "client identifier must not be empty";
      o.clientId = Buffer.from(v);
      return undefined;
    },
  ],
  [OPT.TFTP_SERVER, text((o, s) => (o.tftpServerName = s))],
  [OPT.BOOTFILE, text((o, s) => (o.bootfileName = s))],
  [
    OPT.USER_CLASS,
    (v, o) => {
      o.userClass = Buffer.from(v);
      return undefined;
    },
  ],
  [
    OPT.CLIENT_ARCH,
    (v, o) => {
      if (v.length < 2 || v.length % 2 !== 0) return "client architecture must be a non-empty list of 2-byte types";
      const l: number[] = [];
      for (let i = 0; i < v.length; i += 2) l.push(v.readUInt16BE(i));
      o.clientArch = l;
      return undefined;
    },
  ],
  [
    OPT.CLIENT_NDI,
    (v, o) => {
      if (v.length !== 3) return "client network interface identifier must be 3 bytes";
      o.clientNdi = { type: v[0]!, major: v[1]!, minor: v[2]! };
      return undefined;
    },
  ],
  [
    OPT.CLIENT_UUID,
    (v, o) => {
      if (v.length !== 17) return "client machine identifier must be 17 bytes";
      o.clientUuid = { type: v[0]!, guid: Buffer.from(v.subarray(1)) };
      return undefined;
    },
  ],
  [
    OPT.IPXE_ENCAP,
    (v, o) => {
      const r = parseSubOptions(v);
      if (!r.ok) return `option 175: ${r.error}`;
      o.ipxe = r.value;
      return undefined;
    },
  ],
]);

/**
 * Turns raw options into typed ones. A known option whose value is malformed is kept
 * raw in `other` and reported in `warnings`; it never fails the whole packet.
 */
export function decodeOptions(raw: RawOptions): { options: DhcpOptions; warnings: string[] } {
  const options: DhcpOptions = {};
  const warnings: string[] = [];
  for (const [code, value] of raw) {
    const dec = decoders.get(code);
    const warn = dec ? dec(value, options) : "unknown";
    if (warn) {
      if (warn !== "unknown") warnings.push(warn);
      (options.other ??= new Map()).set(code, Buffer.from(value));
    }
  }
  return { options, warnings };
}

function ipBytes(ips: string[]): Buffer {
  const b = Buffer.allocUnsafe(ips.length * 4);
  ips.forEach((ip, i) => b.writeUInt32BE(ipToInt(ip), i * 4));
  return b;
}

function u32Bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/**
 * Typed → raw. The order follows option codes (message type first, as some clients
 * expect), then `other` in its own order.
 */
export function encodeTypedOptions(o: DhcpOptions): RawOptions {
  const raw: RawOptions = new Map();
  if (o.messageType !== undefined) raw.set(OPT.MESSAGE_TYPE, Buffer.from([o.messageType]));
  if (o.serverId !== undefined) raw.set(OPT.SERVER_ID, ipBytes([o.serverId]));
  if (o.leaseTime !== undefined) raw.set(OPT.LEASE_TIME, u32Bytes(o.leaseTime));
  if (o.renewalTime !== undefined) raw.set(OPT.RENEWAL_TIME, u32Bytes(o.renewalTime));
  if (o.rebindingTime !== undefined) raw.set(OPT.REBINDING_TIME, u32Bytes(o.rebindingTime));
  if (o.subnetMask !== undefined) raw.set(OPT.SUBNET_MASK, ipBytes([o.subnetMask]));
  if (o.routers?.length) raw.set(OPT.ROUTER, ipBytes(o.routers));
  if (o.dnsServers?.length) raw.set(OPT.DNS, ipBytes(o.dnsServers));
  if (o.hostname !== undefined) raw.set(OPT.HOSTNAME, Buffer.from(o.hostname, "latin1"));
  if (o.domainName !== undefined) raw.set(OPT.DOMAIN_NAME, Buffer.from(o.domainName, "latin1"));
  if (o.broadcastAddress !== undefined) raw.set(OPT.BROADCAST, ipBytes([o.broadcastAddress]));
  if (o.vendorSpecific !== undefined) raw.set(OPT.VENDOR_SPECIFIC, encodeSubOptions(o.vendorSpecific));
  if (o.requestedAddress !== undefined) raw.set(OPT.REQUESTED_ADDRESS, ipBytes([o.requestedAddress]));
  if (o.parameterRequestList !== undefined) raw.set(OPT.PARAMETER_LIST, Buffer.from(o.parameterRequestList));
  if (o.message !== undefined) raw.set(OPT.MESSAGE, Buffer.from(o.message, "latin1"));
  if (o.maxMessageSize !== undefined) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(o.maxMessageSize);
    raw.set(OPT.MAX_MESSAGE_SIZE, b);
  }
  if (o.vendorClassId !== undefined) raw.set(OPT.VENDOR_CLASS, Buffer.from(o.vendorClassId, "latin1"));
  if (o.clientId !== undefined) raw.set(OPT.CLIENT_ID, o.clientId);
  if (o.tftpServerName !== undefined) raw.set(OPT.TFTP_SERVER, Buffer.from(o.tftpServerName, "latin1"));
  if (o.bootfileName !== undefined) raw.set(OPT.BOOTFILE, Buffer.from(o.bootfileName, "latin1"));
  if (o.userClass !== undefined) raw.set(OPT.USER_CLASS, o.userClass);
  if (o.clientArch !== undefined) {
    const b = Buffer.alloc(o.clientArch.length * 2);
    o.clientArch.forEach((a, i) => b.writeUInt16BE(a, i * 2));
    raw.set(OPT.CLIENT_ARCH, b);
  }
  if (o.clientNdi !== undefined) raw.set(OPT.CLIENT_NDI, Buffer.from([o.clientNdi.type, o.clientNdi.major, o.clientNdi.minor]));
  if (o.clientUuid !== undefined) {
    if (o.clientUuid.guid.length !== 16) throw new RangeError("client UUID must be 16 bytes");
    raw.set(OPT.CLIENT_UUID, Buffer.concat([Buffer.from([o.clientUuid.type]), o.clientUuid.guid]));
  }
  if (o.ipxe !== undefined) raw.set(OPT.IPXE_ENCAP, encodeSubOptions(o.ipxe));
  for (const [code, value] of o.other ?? []) if (!raw.has(code)) raw.set(code, value);
  return raw;
}

/**
 * The user classes a client sent in option 77. iPXE sends the bare bytes "iPXE";
 * RFC 3004 clients send length-prefixed items. Both readings are offered.
 */
export function userClasses(raw: Buffer | undefined): string[] {
  if (!raw || raw.length === 0) return [];
  const out = [raw.toString("latin1")];
  // Try the RFC 3004 reading: every byte run must be exactly consumed.
  const items: string[] = [];
  let i = 0;
  while (i < raw.length) {
    const len = raw[i]!;
    if (len === 0 || i + 1 + len > raw.length) return out;
    items.push(raw.subarray(i + 1, i + 1 + len).toString("latin1"));
    i += 1 + len;
  }
  return [...out, ...items];
}
