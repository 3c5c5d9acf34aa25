// metalform's TFTP server: read-only, files from a root directory and virtual files
// from a provider callback (per-node boot files), RFC 1350/2347/2348/2349/7440.
//
// The request socket only parses requests; each accepted read request gets its own
// ephemeral socket bound to the server's address (its TID), so transfers never share
// state and a packet from a stranger reaches only the transfer it was aimed at.
//
// Note (node:dgram has no IP_PKTINFO): when bound to 0.0.0.0 the reply's source
// address is whatever the route to the client picks; bind to the provisioning
// address on multi-homed hosts.

import type dgram from "node:dgram";
import { EventEmitter } from "node:events";
import { promises as fsp } from "node:fs";
import net from "node:net";
import type { Logger } from "../../util/log.js";
import { nullLogger } from "../../util/log.js";
import type { Service } from "../service.js";
import { loadUdpAddon, nativeAddonPath, type UdpAddon } from "../udp-addon.js";
import type { TftpServerEvents } from "./events.js";
import type { BatchSender, SendPath } from "./native.js";
import { MAX_BLKSIZE, negotiate, type Negotiated } from "./options.js";
import { decodePacket, errorPacket, ErrorCode, type TftpOption } from "./packet.js";
import { readRequest, type Refusal } from "./request.js";
import { openRequestSource, type TftpFileProvider } from "./request-source.js";
import { openRequestSocket, openTransferSocket } from "./sockets.js";
import type { ByteSource } from "./source.js";
import { ReadTransfer, type TransferRemote } from "./transfer.js";

export type TftpRemote = TransferRemote;
export type { TftpFileProvider } from "./request-source.js";
export type { TftpServerEvents, TftpTransferStartEvent, TftpTransferCompleteEvent, TftpTransferErrorEvent } from "./events.js";

export interface TftpServerOptions {
  /** Address to bind, also used by every transfer socket. Default "0.0.0.0". */
  address?: string;
  /** Request port. Default 69. */
  port?: number;
  /** Directory served read-only. Optional when a provider serves everything. */
  root?: string;
  /**
   * Produces a virtual file for a request, e.g. a per-node boot file. `path` is the
   * normalized request path (no leading "/", no ".."). Return undefined to fall back
   * to the root directory.
   */
  provider?: TftpFileProvider;
  /** Largest blksize granted. Default 1468 (fits a 1500-byte MTU); at most 65464. */
  maxBlockSize?: number;
  /** Largest windowsize granted. Default 64. */
  maxWindowSize?: number;
  /** First retransmission timeout in ms, doubled on each retry. Default 1000. */
  timeoutMs?: number;
  /** Cap for the doubled timeout. Default 8000. */
  maxTimeoutMs?: number;
  /** Retransmissions of one window before the transfer is abandoned. Default 5. */
  maxRetries?: number;
  /** Concurrent transfers; requests beyond get ERROR 0 "server busy". Default 1000. */
  maxTransfers?: number;
  /** netascii transfers are converted in memory; larger files are refused. Default 16 MiB. */
  maxNetasciiBytes?: number;
  /**
   * How DATA windows leave (IPv4 with the native helper built): "gso" = one sendmmsg
   * per window with UDP GSO runs, "sendmmsg" = one sendmmsg of plain packets,
   * "dgram" = node:dgram per packet. Default "gso"; falls back to "dgram" without the
   * helper (see `sendPath`).
   */
  sendPath?: SendPath;
  /**
   * Receive (and send) buffer of the request socket in bytes, forced past
   * net.core.rmem_max with CAP_NET_ADMIN, so a boot storm's RRQs are queued rather
   * than dropped. Needs the native helper; 0 = kernel default. Default 4 MiB.
   */
  requestBufferBytes?: number;
  /** Path of the native helper (udp_bind_device.node). Default: native/udp-bind-device/build/Release. */
  nativeAddonPath?: string;
  logger?: Logger;
}

const DEFAULTS = {
  address: "0.0.0.0",
  port: 69,
  maxBlockSize: 1468,
  maxWindowSize: 64,
  timeoutMs: 1000,
  maxTimeoutMs: 8000,
  maxRetries: 5,
  maxTransfers: 1000,
  maxNetasciiBytes: 16 * 1024 * 1024,
  sendPath: "gso" as SendPath,
  requestBufferBytes: 4 * 1024 * 1024,
  nativeAddonPath,
};

/** Smallest read from disk; a transfer holds at most two chunks (one read ahead). */
const MIN_CHUNK_BYTES = 64 * 1024;

export class TftpServer extends EventEmitter<TftpServerEvents> implements Service {
  readonly name = "tftp";
  private readonly opts: typeof DEFAULTS & Pick<TftpServerOptions, "root" | "provider">;
  private readonly log: Logger;
  private socket: dgram.Socket | undefined;
  private rootReal: string | undefined;
  /** Keyed by "address:port" of the client, so a retransmitted RRQ does not start a second transfer. */
  private readonly active = new Map<string, ReadTransfer | "opening">();
  private nextId = 1;
  private boundPort = 0;
  /** The native helper when it is built and the server is IPv4; undefined = plain node:dgram. */
  private addon: UdpAddon | undefined;

  constructor(options: TftpServerOptions) {
    super();
    const o = { ...DEFAULTS, ...stripUndefined(options) };
    if (!options.root && !options.provider) throw new Error("tftp: needs a root directory or a provider");
    if (!Number.isInteger(o.maxBlockSize) || o.maxBlockSize < 8 || o.maxBlockSize > MAX_BLKSIZE) throw new Error(`tftp: maxBlockSize must be 8..${MAX_BLKSIZE}`);
    if (!Number.isInteger(o.maxWindowSize) || o.maxWindowSize < 1 || o.maxWindowSize > 64) throw new Error("tftp: maxWindowSize must be 1..64");
    if (!["gso", "sendmmsg", "dgram"].includes(o.sendPath)) throw new Error(`tftp: sendPath must be gso, sendmmsg or dgram`);
    if (!Number.isInteger(o.requestBufferBytes) || o.requestBufferBytes < 0 || o.requestBufferBytes > 2 ** 30) throw new Error("tftp: requestBufferBytes must be 0..1 GiB");
    if (!net.isIP(o.address)) throw new Error(`tftp: address must be an IP address: ${o.address}`);
    this.opts = o;
    this.log = (options.logger ?? nullLogger).child("tftp");
  }

  /** The bound request port (useful with port 0). */
  get port(): number {
    return this.boundPort;
  }

  get activeTransfers(): number {
    return this.active.size;
  }

  /** How transfers send their windows (known after start): "dgram" when the native helper is missing or the address is IPv6. */
  get sendPath(): SendPath {
    return this.addon ? this.opts.sendPath : "dgram";
  }

  /** Whether the request socket was made by the native helper (with requestBufferBytes); false without it or for IPv6. */
  get nativeRequestSocket(): boolean {
    return this.addon !== undefined;
  }

  async start(): Promise<void> {
    if (this.socket) throw new Error("tftp: already started");
    if (this.opts.root) this.rootReal = await checkedRoot(this.opts.root);
    if (this.socketType() === "udp4") this.addon = this.loadAddon();
    const socket = await openRequestSocket({
      addon: this.addon,
      address: this.opts.address,
      port: this.opts.port,
      type: this.socketType(),
      bufferBytes: this.opts.requestBufferBytes,
    });
    socket.on("error", (err) => this.log.warn("socket-error", { error: err.message }));
    socket.on("message", (msg, rinfo) => this.onRequest(msg, rinfo));
    this.socket = socket;
    this.boundPort = socket.address().port;
    this.log.info("listening", { address: this.opts.address, port: this.boundPort, root: this.rootReal ?? null, sendPath: this.sendPath });
  }

  private loadAddon(): UdpAddon | undefined {
    let addon: UdpAddon | undefined;
    try {
      addon = loadUdpAddon(this.opts.nativeAddonPath);
    } catch (e) {
      this.log.warn("native-helper-unusable", { path: this.opts.nativeAddonPath, error: (e as Error).message });
    }
    if (!addon)
      this.log.info("native-helper-missing", {
        path: this.opts.nativeAddonPath,
        effect: "one send per DATA packet, default request socket buffer (build native/udp-bind-device)",
      });
    return addon;
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    await new Promise<void>((r) => socket.close(() => r()));
    const pending = [...this.active.values()].filter((t): t is ReadTransfer => t !== "opening");
    for (const t of pending) t.abort("server shutting down");
    await Promise.all(pending.map((t) => t.outcome));
    this.log.info("stopped", {});
  }

  /** A throwing listener is the caller's bug; it must not take the server down. */
  private safeEmit<K extends keyof TftpServerEvents>(event: K, ...args: TftpServerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: TftpServerEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      this.log.error("listener-failed", { event, error: (e as Error).message });
    }
  }

  private socketType(): "udp4" | "udp6" {
    return net.isIPv6(this.opts.address) ? "udp6" : "udp4";
  }

  private reply(rinfo: dgram.RemoteInfo, code: number, message: string): void {
    try {
      this.socket?.send(errorPacket(code, message), rinfo.port, rinfo.address);
    } catch (e) {
      this.log.debug("reply-failed", { error: (e as Error).message });
    }
  }

  private onRequest(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // Source port 0 cannot be answered (dgram throws on it): only crafted packets use it.
    if (rinfo.port === 0) return;
    const d = decodePacket(msg);
    if (!d.ok) {
      // Garbage gets no answer: answering would make us a reflector.
      this.log.debug("malformed", { remote: `${rinfo.address}:${rinfo.port}`, reason: d.reason });
      return;
    }
    const pkt = d.packet;
    if (pkt.op === "wrq") {
      this.reply(rinfo, ErrorCode.AccessViolation, "read-only server");
      return;
    }
    if (pkt.op !== "rrq") return; // stray DATA/ACK/ERROR/OACK on the request port
    const key = `${rinfo.address}:${rinfo.port}`;
    if (this.active.has(key)) return; // retransmitted RRQ: the running transfer answers it
    const remote = { address: rinfo.address, port: rinfo.port };
    if (this.active.size >= this.opts.maxTransfers) {
      this.reply(rinfo, ErrorCode.NotDefined, "server busy, try again");
      this.emitRefused(pkt.filename, remote, ErrorCode.NotDefined, "too many transfers");
      return;
    }
    this.active.set(key, "opening");
    this.startTransfer(key, remote, pkt.filename, pkt.mode, pkt.options).catch((err: Error) => {
      // Only bugs land here; the client must still hear something.
      this.log.error("transfer-crash", { remote: key, error: err.message });
      if (this.active.get(key) === "opening") this.active.delete(key);
      this.reply(rinfo, ErrorCode.NotDefined, "internal error");
    });
  }

  private emitRefused(path: string, remote: TftpRemote, code: number | undefined, reason: string): void {
    this.log.info("refused", { path, remote: `${remote.address}:${remote.port}`, code, reason });
    this.safeEmit("transfer-error", { id: undefined, path, remote, code, reason, bytes: 0 });
  }

  private async startTransfer(key: string, remote: TftpRemote, filename: string, rawMode: string, requested: TftpOption[]): Promise<void> {
    const refuse = (r: Refusal) => {
      this.active.delete(key);
      this.reply({ address: remote.address, port: remote.port } as dgram.RemoteInfo, r.code, r.message);
      this.emitRefused(r.path, remote, r.code, r.message);
    };
    const req = readRequest(filename, rawMode);
    if (!req.ok) return refuse(req);
    const opened = await openRequestSource(
      { path: req.path, mode: req.mode, remote },
      { provider: this.opts.provider, rootReal: this.rootReal, maxNetasciiBytes: this.opts.maxNetasciiBytes, log: this.log },
    );
    if (!opened.ok) return refuse(opened);
    const { source } = opened;
    let sockets: { socket: dgram.Socket; batch: BatchSender | undefined } | undefined;
    if (this.socket) {
      try {
        sockets = await openTransferSocket({ addon: this.addon, address: this.opts.address, type: this.socketType(), sendPath: this.opts.sendPath, remote, log: this.log });
      } catch (e) {
        await source.close();
        this.log.error("transfer-socket-failed", { error: (e as Error).message });
        return refuse({ ok: false, code: ErrorCode.NotDefined, message: "server cannot open a socket", path: req.path });
      }
    }
    if (!this.socket || !sockets) {
      // Stopped while the file or the socket was being opened.
      await source.close();
      sockets?.socket.close();
      this.active.delete(key);
      return;
    }
    const neg = negotiate(requested, this.opts, source.size);
    await this.runTransfer({ key, remote, path: req.path, source, virtual: opened.virtual, neg, ...sockets });
  }

  private async runTransfer(t: {
    key: string;
    remote: TftpRemote;
    path: string;
    source: ByteSource;
    virtual: boolean;
    neg: Negotiated;
    socket: dgram.Socket;
    batch: BatchSender | undefined;
  }): Promise<void> {
    const { key, remote, path, source, neg } = t;
    const id = this.nextId++;
    const windowBytes = neg.blksize * neg.windowsize;
    const transfer = new ReadTransfer({
      socket: t.socket,
      remote,
      source,
      blksize: neg.blksize,
      windowsize: neg.windowsize,
      oack: neg.reply,
      // A client's timeout option (curl always asks for 6 s) is acknowledged, but the
      // server retransmits no later than its own timeout: on a LAN a lost packet should
      // cost a fraction of a second, and an early resend is harmless (dups are handled).
      timeoutMs: Math.min(neg.timeoutMs ?? Infinity, this.opts.timeoutMs),
      maxTimeoutMs: this.opts.maxTimeoutMs,
      maxRetries: this.opts.maxRetries,
      chunkBytes: Math.max(windowBytes, Math.ceil(MIN_CHUNK_BYTES / windowBytes) * windowBytes),
      batch: t.batch,
      logger: this.log,
    });
    this.active.set(key, transfer);
    const start = { id, path, remote, size: source.size, blksize: neg.blksize, windowsize: neg.windowsize, virtual: t.virtual };
    this.log.info("transfer-start", { ...start, remote: key });
    this.safeEmit("transfer-start", start);
    transfer.start();
    const outcome = await transfer.outcome;
    this.active.delete(key);
    if (outcome.ok) {
      const done = { id, path, remote, bytes: outcome.bytes, ms: outcome.ms, retransmits: outcome.retransmits };
      this.log.info("transfer-complete", { ...done, remote: key });
      this.safeEmit("transfer-complete", done);
    } else {
      this.log.warn("transfer-error", { id, path, remote: key, reason: outcome.reason, bytes: outcome.bytes });
      this.safeEmit("transfer-error", { id, path, remote, code: undefined, reason: outcome.reason, bytes: outcome.bytes });
    }
  }
}

/** The root's realpath; throws when it is missing or not a directory. */
async function checkedRoot(root: string): Promise<string> {
  let real: string;
  let st;
  try {
    real = await fsp.realpath(root);
    st = await fsp.stat(real);
  } catch {
    throw new Error(`tftp: root directory ${root} does not exist`);
  }
  if (!st.isDirectory()) throw new Error(`tftp: root ${root} is not a directory`);
  return real;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
