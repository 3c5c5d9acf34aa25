// metalform's DHCP server (RFC 2131/2132, PXE per RFC 4578), authoritative for the
// provisioning network or a proxyDHCP next to another DHCP server. Known MACs come
// from reservations; unknown ones are reported as `seen` or, with a dynamic range,
// leased from it. Nothing a client sends can throw out of the message handler.
import { EventEmitter } from "node:events";
import type dgram from "node:dgram";
import type { Service } from "../service.js";
import { nullLogger, type Logger } from "../../util/log.js";
import { BOOTREPLY, BOOTREQUEST, FILE_LENGTH, FLAG_BROADCAST, MessageType } from "./codec/constants.js";
import { ipToInt, isIPv4, ZERO_IP } from "./codec/ip4.js";
import type { DhcpOptions } from "./codec/options.js";
import { clientMac, parsePacket, serializePacket, type DhcpPacket } from "./codec/packet.js";
import { LeaseStore } from "./lease-store.js";
import { bootReplyFor, clientKind, isPxeClient, pxeServerOptions, type BootReply, type ClientKind, type PxeOptions } from "./pxe.js";
import { replyTarget } from "./reply-address.js";
import { indexReservations, type Reservation, type ReservationTable } from "./reservations.js";
import { openUdpSocket } from "./socket.js";

export type { Reservation } from "./reservations.js";
export type { PxeOptions, BootLoaders } from "./pxe.js";

export interface DhcpServerOptions {
  /** "authoritative" (default) hands out addresses; "proxy" only boot information. */
  mode?: "authoritative" | "proxy";
  /** This server's address on the provisioning network: server identifier and default next-server. */
  serverAddress: string;
  /**
   * Provisioning interface. When set, sockets are bound to it (SO_BINDTODEVICE via
   * native/udp-bind-device): requests on other interfaces are never seen and replies
   * only leave through it. Unset: every interface (single-homed hosts, tests).
   */
  interface?: string;
  /**
   * Share the ports with another DHCP server on other interfaces that also sets
   * SO_REUSEADDR (e.g. ISC dhcpd's 0.0.0.0:67). Default false: a taken port is an error.
   */
  reuseAddress?: boolean;
  /** Network namespace (name under /run/netns or a path) the sockets live in: the virtual lab, tests. */
  netns?: string;
  /** Address the sockets bind to; default 0.0.0.0 (needed to hear broadcasts). */
  listenAddress?: string;
  ports?: {
    /** Server port, default 67 (also the port replies to relay agents go to). */
    server?: number;
    /** Client port replies go to, default 68. */
    client?: number;
    /** proxyDHCP port (PXE boot server discovery), default 4011; proxy mode only. */
    proxy?: number;
  };
  subnetMask: string;
  routers?: string[];
  dnsServers?: string[];
  domain?: string;
  broadcastAddress?: string;
  /** Lease time in seconds, default 3600. */
  leaseTime?: number;
  reservations?: readonly Reservation[];
  /** Pool for MACs without a reservation (authoritative mode). Without it they are only `seen`. */
  dynamicRange?: { start: string; end: string };
  /** Where dynamic leases persist across restarts. */
  leaseFile?: string;
  /** Network boot; absent = no boot information is sent. */
  pxe?: PxeOptions;
  logger?: Logger;
  /**
   * Socket receive/send buffer in bytes, default 32 MiB so a boot storm queues instead
   * of dropping. Beyond net.core.rmem_max only with the native helper (SO_RCVBUFFORCE).
   */
  socketBufferSize?: number;
}

/** What every lease-related event carries. */
export interface DhcpClientInfo {
  mac: string;
  /** Address the client has or is offered. */
  ip?: string;
  hostname?: string;
  /** Client architecture (option 93), when sent. */
  arch?: number;
  kind: ClientKind;
  /** Boot file (loader or script URL) in the reply, if any. */
  bootFile?: string;
  /** True when the address comes from the dynamic range. */
  dynamic?: boolean;
  /** Where the request came from (address:port). */
  from: string;
  /** Which of our sockets it reached: the DHCP port or the proxyDHCP port (4011). */
  via: "server" | "proxy";
}

export interface DhcpServerEvents {
  offer: [DhcpClientInfo];
  ack: [DhcpClientInfo];
  nak: [DhcpClientInfo & { reason: string }];
  /**
   * A message from a MAC without a reservation (node discovery). Without a dynamic
   * range it is otherwise ignored; with one the client is also leased an address.
   */
  seen: [DhcpClientInfo & { messageType: MessageType; vendorClass?: string }];
  release: [DhcpClientInfo];
  decline: [DhcpClientInfo];
  inform: [DhcpClientInfo];
  /** A datagram that is not a well-formed DHCP message; it changed nothing. */
  malformed: [{ from: string; error: string; bytes: number }];
}

export interface DhcpStats {
  received: number;
  malformed: number;
  ignored: number;
  offers: number;
  acks: number;
  naks: number;
}

type Via = "server" | "proxy";

interface Binding {
  ip: string;
  hostname?: string;
  dynamic: boolean;
}

export class DhcpServer extends EventEmitter<DhcpServerEvents> implements Service {
  readonly name = "dhcp";
  readonly stats: DhcpStats = { received: 0, malformed: 0, ignored: 0, offers: 0, acks: 0, naks: 0 };
  private readonly log: Logger;
  private readonly mode: "authoritative" | "proxy";
  private readonly ports: { server: number; client: number; proxy: number };
  private readonly leaseTime: number;
  private table: ReservationTable;
  private excluded = new Set<string>();
  private readonly pool: LeaseStore | undefined;
  private sockets: { via: Via; sock: dgram.Socket }[] = [];

  constructor(private readonly opts: DhcpServerOptions) {
    super();
    if (!isIPv4(opts.serverAddress)) throw new RangeError(`serverAddress is not an IPv4 address: ${opts.serverAddress}`);
    if (!isIPv4(opts.subnetMask)) throw new RangeError(`subnetMask is not an IPv4 address: ${opts.subnetMask}`);
    this.log = (opts.logger ?? nullLogger).child("dhcp");
    this.mode = opts.mode ?? "authoritative";
    this.ports = { server: opts.ports?.server ?? 67, client: opts.ports?.client ?? 68, proxy: opts.ports?.proxy ?? 4011 };
    this.leaseTime = opts.leaseTime ?? 3600;
    this.table = indexReservations(opts.reservations ?? []);
    this.rebuildExcluded();
    if (opts.dynamicRange && this.mode === "authoritative") {
      this.pool = new LeaseStore({
        start: opts.dynamicRange.start,
        end: opts.dynamicRange.end,
        excluded: () => this.excluded,
        ...(opts.leaseFile ? { file: opts.leaseFile } : {}),
        onPersistError: (e) => this.log.error("lease-file-write-failed", { file: opts.leaseFile, error: e.message }),
      });
    }
  }

  /** Replaces the reservations at runtime (e.g. after the configuration changed). */
  setReservations(list: readonly Reservation[]): void {
    this.table = indexReservations(list);
    this.rebuildExcluded();
    this.log.info("reservations", { count: this.table.byMac.size });
  }

  /** The dynamic leases currently held (empty without a dynamic range). */
  leases(): { mac: string; ip: string; expires: number; state: "offered" | "bound" }[] {
    return this.pool?.all() ?? [];
  }

  async start(): Promise<void> {
    if (this.sockets.length) return;
    this.pool?.load();
    const address = this.opts.listenAddress ?? "0.0.0.0";
    const wanted: { via: Via; port: number }[] = [{ via: "server", port: this.ports.server }];
    if (this.mode === "proxy") wanted.push({ via: "proxy", port: this.ports.proxy });
    try {
      for (const w of wanted) {
        const sock = await openUdpSocket({
          address,
          port: w.port,
          ...(this.opts.interface !== undefined ? { device: this.opts.interface } : {}),
          ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}),
          recvBufferSize: this.opts.socketBufferSize ?? 32 << 20,
          reuseAddress: this.opts.reuseAddress ?? false,
        });
        sock.on("message", (msg, rinfo) => this.onMessage(msg, rinfo, w.via, sock));
        sock.on("error", (e) => this.log.error("socket-error", { port: w.port, error: e.message }));
        this.sockets.push({ via: w.via, sock });
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.log.info("listening", {
      mode: this.mode,
      interface: this.opts.interface ?? "*",
      ports: wanted.map((w) => w.port).join(","),
      reservations: this.table.byMac.size,
      dynamic: this.opts.dynamicRange ? `${this.opts.dynamicRange.start}-${this.opts.dynamicRange.end}` : "none",
    });
  }

  async stop(): Promise<void> {
    const socks = this.sockets;
    this.sockets = [];
    await Promise.all(socks.map(({ sock }) => new Promise<void>((res) => sock.close(() => res()))));
    await this.pool?.flush();
  }

  private rebuildExcluded(): void {
    this.excluded = new Set([...this.table.ips, this.opts.serverAddress]);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, via: Via, sock: dgram.Socket): void {
    this.stats.received++;
    const from = `${rinfo.address}:${rinfo.port}`;
    try {
      const parsed = parsePacket(msg);
      if (!parsed.ok) {
        this.stats.malformed++;
        this.log.debug("malformed", { from, error: parsed.error });
        this.emit("malformed", { from, error: parsed.error, bytes: msg.length });
        return;
      }
      const req = parsed.packet;
      if (req.op !== BOOTREQUEST || req.options.messageType === undefined || req.htype !== 1 || req.hlen !== 6) {
        this.stats.ignored++;
        return;
      }
      if (this.mode === "proxy") this.handleProxy(req, rinfo, via, sock, from);
      else this.handleAuthoritative(req, sock, from);
    } catch (e) {
      // A bug, not the client's fault; the server must keep running.
      this.log.error("handler-failed", { from, error: (e as Error).message });
    }
  }

  private info(req: DhcpPacket, mac: string, from: string, b?: Binding, boot?: BootReply, via: Via = "server"): DhcpClientInfo {
    const i: DhcpClientInfo = { mac, kind: clientKind(req.options), from, via };
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

  private emitSeen(req: DhcpPacket, mac: string, from: string): void {
    const ev: DhcpServerEvents["seen"][0] = { ...this.info(req, mac, from), messageType: req.options.messageType! };
    if (req.options.vendorClassId !== undefined) ev.vendorClass = req.options.vendorClassId;
    this.log.debug("seen", { mac, type: MessageType[req.options.messageType!] });
    this.emit("seen", ev);
  }

  private ignore(reason: string, fields: Record<string, unknown>): void {
    this.stats.ignored++;
    this.log.debug("ignored", { reason, ...fields });
  }

  private inSubnet(ip: string): boolean {
    const mask = ipToInt(this.opts.subnetMask);
    return ((ipToInt(ip) ^ ipToInt(this.opts.serverAddress)) & mask) === 0;
  }

  // ---- authoritative mode ----

  private handleAuthoritative(req: DhcpPacket, sock: dgram.Socket, from: string): void {
    const mac = clientMac(req);
    const o = req.options;
    const reserved = this.table.byMac.get(mac);
    const type = o.messageType!;
    if (!reserved && !this.pool) {
      this.stats.ignored++;
      this.emitSeen(req, mac, from);
      return;
    }
    const fixed: Binding | undefined = reserved
      ? { ip: reserved.ip, dynamic: false, ...(reserved.hostname !== undefined ? { hostname: reserved.hostname } : {}) }
      : undefined;
    // Discovery: every message from a MAC without a reservation is reported, leased or not.
    if (!reserved && this.listenerCount("seen") > 0) this.emitSeen(req, mac, from);
    const ours = o.serverId === undefined || o.serverId === this.opts.serverAddress;
    switch (type) {
      case MessageType.DISCOVER: {
        let b = fixed;
        if (!b) {
          const ip = this.pool!.offer(mac, o.requestedAddress);
          if (!ip) {
            this.log.warn("pool-exhausted", { mac });
            this.stats.ignored++;
            return;
          }
          b = { ip, dynamic: true };
        }
        this.sendLease(req, sock, from, MessageType.OFFER, b);
        return;
      }
      case MessageType.REQUEST: {
        if (!ours) {
          // The client chose another server (RFC 2131 §4.3.2): leave it alone, and
          // free the address we offered it.
          if (!fixed) this.pool!.cancelOffer(mac);
          this.ignore("other-server", { mac, serverId: o.serverId });
          return;
        }
        const requested = o.requestedAddress ?? (req.ciaddr !== ZERO_IP ? req.ciaddr : undefined);
        if (!requested) return this.ignore("no-address-requested", { mac });
        if (fixed) {
          if (requested === fixed.ip) this.sendLease(req, sock, from, MessageType.ACK, fixed);
          else this.sendNak(req, sock, from, mac, `requested ${requested}, reserved ${fixed.ip}`);
          return;
        }
        const pool = this.pool!;
        const selecting = o.serverId !== undefined;
        const current = pool.get(mac);
        if (!selecting && !current && !pool.inRange(requested)) {
          // INIT-REBOOT or RENEWING with an address from elsewhere.
          if (!this.inSubnet(requested)) this.sendNak(req, sock, from, mac, `${requested} is not on this network`);
          else this.ignore("no-record", { mac, requested });
          return;
        }
        if (pool.bind(mac, requested, this.leaseTime)) {
          this.sendLease(req, sock, from, MessageType.ACK, { ip: requested, dynamic: true });
        } else {
          this.sendNak(req, sock, from, mac, `${requested} is not available`);
        }
        return;
      }
      case MessageType.DECLINE: {
        if (!ours) return this.ignore("other-server", { mac });
        const ip = o.requestedAddress ?? "";
        if (fixed) this.log.warn("reserved-address-declined", { mac, ip, hint: "another host uses this address" });
        else if (ip) this.pool!.decline(mac, ip);
        this.emit("decline", this.info(req, mac, from, { ip, dynamic: !fixed }));
        return;
      }
      case MessageType.RELEASE: {
        if (!ours) return this.ignore("other-server", { mac });
        if (!fixed) this.pool!.release(mac, req.ciaddr);
        this.emit("release", this.info(req, mac, from, { ip: req.ciaddr, dynamic: !fixed }));
        return;
      }
      case MessageType.INFORM: {
        if (req.ciaddr === ZERO_IP) return this.ignore("inform-without-ciaddr", { mac });
        this.sendLease(req, sock, from, MessageType.ACK, { ip: req.ciaddr, dynamic: !fixed }, true);
        return;
      }
      default:
        this.ignore("server-message-type", { mac, type });
    }
  }

  private networkOptions(o: DhcpOptions): void {
    o.subnetMask = this.opts.subnetMask;
    if (this.opts.routers?.length) o.routers = this.opts.routers;
    if (this.opts.dnsServers?.length) o.dnsServers = this.opts.dnsServers;
    if (this.opts.domain) o.domainName = this.opts.domain;
    if (this.opts.broadcastAddress) o.broadcastAddress = this.opts.broadcastAddress;
  }

  private bootFor(req: DhcpPacket, mac: string, ip: string | undefined): BootReply | undefined {
    if (!this.opts.pxe) return undefined;
    return bootReplyFor(req.options, mac, ip, this.opts.serverAddress, this.opts.pxe);
  }

  private sendLease(req: DhcpPacket, sock: dgram.Socket, from: string, type: MessageType, b: Binding, inform = false): void {
    const mac = clientMac(req);
    const boot = this.bootFor(req, mac, b.ip);
    const options: DhcpOptions = { ...boot?.options, messageType: type, serverId: this.opts.serverAddress };
    // RFC 6842: echo the client identifier.
    if (req.options.clientId) options.clientId = req.options.clientId;
    if (!inform) {
      options.leaseTime = this.leaseTime;
      options.renewalTime = Math.floor(this.leaseTime / 2);
      options.rebindingTime = Math.floor((this.leaseTime * 7) / 8);
    }
    this.networkOptions(options);
    if (b.hostname !== undefined) options.hostname = b.hostname;
    const reply = this.replyPacket(req, type, {
      yiaddr: inform ? ZERO_IP : b.ip,
      ciaddr: type === MessageType.ACK ? req.ciaddr : ZERO_IP,
      boot,
      options,
    });
    this.send(sock, req, type, reply);
    const event = inform ? "inform" : type === MessageType.OFFER ? "offer" : "ack";
    if (event === "offer") this.stats.offers++;
    else if (event === "ack") this.stats.acks++;
    // Building the event costs time in a boot storm; only when someone listens.
    if (this.listenerCount(event) > 0) this.emit(event, this.info(req, mac, from, b, boot));
  }

  private sendNak(req: DhcpPacket, sock: dgram.Socket, from: string, mac: string, reason: string): void {
    const reply = this.replyPacket(req, MessageType.NAK, {
      yiaddr: ZERO_IP,
      ciaddr: ZERO_IP,
      options: {
        messageType: MessageType.NAK,
        serverId: this.opts.serverAddress,
        message: reason,
        ...(req.options.clientId ? { clientId: req.options.clientId } : {}),
      },
    });
    // RFC 2131 §4.1: a NAK through a relay asks it to broadcast.
    if (req.giaddr !== ZERO_IP) reply.flags |= FLAG_BROADCAST;
    this.send(sock, req, MessageType.NAK, reply);
    this.stats.naks++;
    this.log.info("nak", { mac, reason });
    const info = this.info(req, mac, from);
    if (req.options.requestedAddress) info.ip = req.options.requestedAddress;
    this.emit("nak", { ...info, reason });
  }

  private replyPacket(
    req: DhcpPacket,
    type: MessageType,
    p: { yiaddr: string; ciaddr: string; boot?: BootReply | undefined; options: DhcpOptions },
  ): DhcpPacket {
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

  private send(sock: dgram.Socket, req: DhcpPacket, type: MessageType, reply: DhcpPacket, to?: { address: string; port: number }): void {
    const target = to ?? replyTarget(req, type, { server: this.ports.server, client: this.ports.client });
    sock.send(serializePacket(reply), target.port, target.address, this.onSent);
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.log.warn("send-failed", { error: err.message });
  };

  // ---- proxyDHCP mode ----

  private handleProxy(req: DhcpPacket, rinfo: dgram.RemoteInfo, via: Via, sock: dgram.Socket, from: string): void {
    const o = req.options;
    const mac = clientMac(req);
    const type = o.messageType!;
    if (!isPxeClient(o) && clientKind(o) !== "ipxe") return this.ignore("not-pxe", { mac });
    const reserved = this.table.byMac.get(mac);
    if (!reserved) {
      this.stats.ignored++;
      this.emitSeen(req, mac, from);
      return;
    }
    let replyType: MessageType;
    if (via === "server") {
      // On port 67 a proxy only offers; every REQUEST there is a lease request for
      // the DHCP server (which may even share our address when co-located). PXE
      // clients ask a proxy for boot information on port 4011.
      if (type !== MessageType.DISCOVER) return this.ignore("proxy-not-for-us", { mac, type });
      replyType = MessageType.OFFER;
    } else {
      if (type !== MessageType.REQUEST && type !== MessageType.INFORM) return this.ignore("proxy-port-type", { mac, type });
      replyType = MessageType.ACK;
    }
    const boot = this.bootFor(req, mac, reserved.ip);
    if (!boot) return this.ignore("no-boot-file", { mac, arch: o.clientArch?.[0] });
    // No iPXE 175/176 (no-pxedhcp) from a proxy: it would tell iPXE to skip the
    // ProxyDHCP request that fetches this very boot information.
    const { ipxe: _noPxeDhcp, ...bootOptions } = boot.options;
    const options: DhcpOptions = {
      ...bootOptions,
      messageType: replyType,
      serverId: this.opts.serverAddress,
      // PXE firmware and iPXE (also without "PXEClient" in 60) need the PXE server
      // marks; a UEFI HTTP boot client keeps its "HTTPClient" echo.
      ...(clientKind(o) === "http" ? {} : pxeServerOptions()),
    };
    const reply = this.replyPacket(req, replyType, {
      yiaddr: ZERO_IP,
      ciaddr: replyType === MessageType.ACK ? req.ciaddr : ZERO_IP,
      boot,
      options,
    });
    // On the proxy port the client already has an address: answer where it asked from.
    const to =
      via === "proxy" && req.giaddr === ZERO_IP && rinfo.address !== ZERO_IP ? { address: rinfo.address, port: rinfo.port } : undefined;
    this.send(sock, req, replyType, reply, to);
    const info = this.info(req, mac, from, undefined, boot, via);
    if (replyType === MessageType.OFFER) {
      this.stats.offers++;
      this.emit("offer", info);
    } else {
      this.stats.acks++;
      this.emit("ack", info);
    }
  }
}
