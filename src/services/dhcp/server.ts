// metalform's DHCP server (RFC 2131/2132, PXE per RFC 4578), authoritative for the
// provisioning network or a proxyDHCP next to another DHCP server. Known MACs come
// from reservations; unknown ones are reported as `seen` or, with a dynamic range,
// leased from it. Nothing a client sends can throw out of the message handler.
import { EventEmitter } from "node:events";
import type dgram from "node:dgram";
import type { Service } from "../service.js";
import { nullLogger, type Logger } from "../../util/log.js";
import { BOOTREQUEST } from "./codec/constants.js";
import { isIPv4 } from "./codec/ip4.js";
import { parsePacket, serializePacket } from "./codec/packet.js";
import type { Answer, AnswerConfig, AnswerContext, Request } from "./answer.js";
import { answerAuthoritative } from "./authoritative.js";
import type { DhcpServerEvents, Via } from "./events.js";
import { LeaseStore } from "./lease-store.js";
import { answerProxy } from "./proxy.js";
import type { PxeOptions } from "./pxe.js";
import { indexReservations, type Reservation, type ReservationTable } from "./reservations.js";
import { openUdpSocket } from "./socket.js";

export type { Reservation } from "./reservations.js";
export type { PxeOptions, BootLoaders } from "./pxe.js";
export type { DhcpClientInfo, DhcpServerEvents, DhcpEventName, DhcpEventPayload } from "./events.js";

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
  /** Answer MACs without a reservation so they boot the inventory installer (answer.ts). */
  discovery?: boolean;
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

export interface DhcpStats {
  received: number;
  malformed: number;
  ignored: number;
  offers: number;
  acks: number;
  naks: number;
}

/** The network facts every answer carries, from the server's options. */
function answerConfig(opts: DhcpServerOptions, ports: { server: number; client: number }): AnswerConfig {
  return {
    serverAddress: opts.serverAddress,
    subnetMask: opts.subnetMask,
    routers: opts.routers,
    dnsServers: opts.dnsServers,
    domain: opts.domain,
    broadcastAddress: opts.broadcastAddress,
    leaseTime: opts.leaseTime ?? 3600,
    pxe: opts.pxe,
    ports: { server: ports.server, client: ports.client },
  };
}

export class DhcpServer extends EventEmitter<DhcpServerEvents> implements Service {
  readonly name = "dhcp";
  readonly stats: DhcpStats = { received: 0, malformed: 0, ignored: 0, offers: 0, acks: 0, naks: 0 };
  private readonly log: Logger;
  private readonly mode: "authoritative" | "proxy";
  private readonly ports: { server: number; client: number; proxy: number };
  private readonly config: AnswerConfig;
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
    this.config = answerConfig(opts, this.ports);
    this.table = indexReservations(opts.reservations ?? []);
    this.rebuildExcluded();
    this.pool = opts.dynamicRange && this.mode === "authoritative" ? this.makePool(opts.dynamicRange) : undefined;
    this.context = { config: this.config, reservations: this.table, pool: this.pool, discovery: opts.discovery ?? false, wants: (event) => this.listenerCount(event) > 0 };
  }

  private makePool(range: { start: string; end: string }): LeaseStore {
    return new LeaseStore({
      start: range.start,
      end: range.end,
      excluded: () => this.excluded,
      ...(this.opts.leaseFile ? { file: this.opts.leaseFile } : {}),
      onPersistError: (e) => this.log.error("lease-file-write-failed", { file: this.opts.leaseFile, error: e.message }),
    });
  }

  /** Replaces the reservations at runtime (e.g. after the configuration changed). */
  setReservations(list: readonly Reservation[]): void {
    this.table = indexReservations(list);
    this.context.reservations = this.table;
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

  /** What decisions see; one object, its reservations replaced by setReservations. */
  private readonly context: AnswerContext;

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
      const request: Request = { packet: req, source: { address: rinfo.address, port: rinfo.port }, via };
      this.carryOut(this.mode === "proxy" ? answerProxy(request, this.context) : answerAuthoritative(request, this.context), sock);
    } catch (e) {
      // A bug, not the client's fault; the server must keep running.
      this.log.error("handler-failed", { from, error: (e as Error).message });
    }
  }

  /** Sends the reply an answer holds, counts it, logs and emits what it says. */
  private carryOut(answer: Answer, sock: dgram.Socket): void {
    const { reply, ignored } = answer;
    if (reply) {
      sock.send(serializePacket(reply.packet), reply.to.port, reply.to.address, this.onSent);
      if (reply.counts) this.stats[reply.counts]++;
    }
    if (ignored) {
      this.stats.ignored++;
      this.log.debug("ignored", { reason: ignored.reason, ...ignored.fields });
    }
    for (const n of answer.notes) this.log[n.level](n.message, n.fields);
    // Emitted pairs each event with its payload type; the cast only spreads the union.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it (the union of tuples)
    for (const e of answer.events) this.emit(e.event, e.payload as never);
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.log.warn("send-failed", { error: err.message });
  };
}
