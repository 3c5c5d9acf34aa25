// The answer to one DHCP request as data: the reply packet and where it goes, the
// events to report, or why nothing is sent. Deciding needs no socket: the server
// (server.ts) parses, calls answerAuthoritative/answerProxy and carries the answer out.
// The dynamic pool is the one piece of state a decision changes (an OFFER holds an
// address, an ACK binds it); the pool journals that itself.
import { BOOTREPLY, FILE_LENGTH, MessageType } from "./codec/constants.js";
import { ZERO_IP } from "./codec/ip4.js";
import type { DhcpOptions } from "./codec/options.js";
import { clientMac, type DhcpPacket } from "./codec/packet.js";
import type { DhcpClientInfo, DhcpEventName, Emitted, Via } from "./events.js";
import type { LeaseStore } from "./lease-store.js";
import { bootReplyFor, clientKind, type BootReply, type PxeOptions } from "./pxe.js";
import type { ReplyTarget } from "./reply-address.js";
import type { ReservationTable } from "./reservations.js";

/** What a decision needs to know about the network and this server. */
export interface AnswerConfig {
  serverAddress: string;
  subnetMask: string;
  routers?: string[] | undefined;
  dnsServers?: string[] | undefined;
  domain?: string | undefined;
  broadcastAddress?: string | undefined;
  /** Seconds. */
  leaseTime: number;
  pxe?: PxeOptions | undefined;
  ports: { server: number; client: number };
}

/** The lease operations a decision uses (LeaseStore; in memory in tests). */
export type LeasePool = Pick<LeaseStore, "offer" | "bind" | "cancelOffer" | "release" | "decline" | "get" | "inRange">;

export interface AnswerContext {
  config: AnswerConfig;
  reservations: ReservationTable;
  /** The dynamic range (authoritative mode with one). */
  pool?: LeasePool | undefined;
  /**
   * Discovery: MACs without a reservation are answered with boot information (from
   * the pool, or as a proxy) so they boot the inventory installer; their DISCOVERs
   * are logged at info. Off: the pool still leases, a proxy ignores them.
   */
  discovery?: boolean | undefined;
  /** Whether anyone listens for an event: payloads cost time in a boot storm. */
  wants(event: DhcpEventName): boolean;
}

/** One request as it arrived. */
export interface Request {
  packet: DhcpPacket;
  /** Sender, as the socket saw it. */
  source: { address: string; port: number };
  via: Via;
}

export interface Answer {
  reply?: { packet: DhcpPacket; to: ReplyTarget; counts?: "offers" | "acks" | "naks" };
  /** Events to report, in order. */
  events: Emitted[];
  /** Why nothing was sent (debug log, stats), when that is so. */
  ignored?: { reason: string; fields: Record<string, unknown> };
  /** Further log lines worth an operator's attention. */
  notes: { level: "info" | "warn"; message: string; fields: Record<string, unknown> }[];
}

/** An address as a decision hands it out. */
export interface Binding {
  ip: string;
  hostname?: string;
  dynamic: boolean;
}

export function ignored(reason: string, fields: Record<string, unknown>, events: Emitted[] = []): Answer {
  return { events, ignored: { reason, fields }, notes: [] };
}

export function fromOf(r: Request): string {
  return `${r.source.address}:${r.source.port}`;
}

/** The payload every lease event starts from. */
export function clientInfo(r: Request, b?: Binding, boot?: BootReply): DhcpClientInfo {
  const req = r.packet;
  const i: DhcpClientInfo = { mac: clientMac(req), kind: clientKind(req.options), from: fromOf(r), via: r.via };
  if (b) {
    i.ip = b.ip;
    i.dynamic = b.dynamic;
    if (b.hostname !== undefined) i.hostname = b.hostname;
  }
  const arch = req.options.clientArch?.[0];
  if (arch !== undefined) i.arch = arch;
  if (boot) i.bootFile = boot.file;
  return i;
}

/** The `seen` event for a MAC without a reservation, when someone listens. */
export function seenEvents(r: Request, ctx: AnswerContext): Emitted[] {
  if (!ctx.wants("seen")) return [];
  const o = r.packet.options;
  const payload = { ...clientInfo(r), messageType: o.messageType! };
  return [{ event: "seen", payload: o.vendorClassId !== undefined ? { ...payload, vendorClass: o.vendorClassId } : payload }];
}

export function bootFor(r: Request, ip: string | undefined, config: AnswerConfig): BootReply | undefined {
  if (!config.pxe) return undefined;
  return bootReplyFor(r.packet.options, clientMac(r.packet), ip, config.serverAddress, config.pxe);
}

/** Subnet, routers, DNS, domain and broadcast address, as configured. */
export function networkOptions(c: AnswerConfig): DhcpOptions {
  const o: DhcpOptions = { subnetMask: c.subnetMask };
  if (c.routers?.length) o.routers = c.routers;
  if (c.dnsServers?.length) o.dnsServers = c.dnsServers;
  if (c.domain) o.domainName = c.domain;
  if (c.broadcastAddress) o.broadcastAddress = c.broadcastAddress;
  return o;
}

/** A BOOTREPLY to `req` with the given addresses, boot information and options. */
export function replyPacket(req: DhcpPacket, type: MessageType, p: { yiaddr: string; ciaddr: string; boot?: BootReply | undefined; options: DhcpOptions }): DhcpPacket {
  // A script URL may not fit the 128-byte file field; option 67 carries it then.
  const file = p.boot && p.boot.file.length < FILE_LENGTH ? p.boot.file : "";
  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: p.ciaddr,
    yiaddr: p.yiaddr,
    siaddr: type === MessageType.NAK || !p.boot ? ZERO_IP : p.boot.nextServer,
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: "",
    file,
    options: p.options,
  };
}

/** The info line a discovered host's DISCOVER is worth (discovery on, MAC unknown). */
export function discoveryNotes(r: Request, ctx: AnswerContext): Answer["notes"] {
  if (!ctx.discovery || r.packet.options.messageType !== MessageType.DISCOVER) return [];
  const o = r.packet.options;
  return [{ level: "info", message: "discovered", fields: { mac: clientMac(r.packet), kind: clientKind(o), ...(o.clientArch ? { arch: o.clientArch[0] } : {}) } }];
}
