// One read transfer on its own socket (its TID), RFC 1350 with RFC 7440 windows.
//
// Blocks are numbered absolutely (1, 2, ... past 65535) and put on the wire modulo
// 65536, so block numbers roll over to 0 as tftpd-hpa and atftpd do. Sending is
// go-back-N: an ACK of block n means the client holds 1..n, and the next window starts
// at n+1 (resending anything lost in the previous window).
//
// Sorcerer's Apprentice: a duplicate ACK (no progress) must not trigger a resend every
// time it arrives, or every dup doubles the traffic. A dup ACK may trigger one resend
// of the window per timeout period; after that only the timer resends.

import type dgram from "node:dgram";
import type { Logger } from "../../util/log.js";
import { dataHeader, encodePacket, decodePacket, errorPacket, ErrorCode, Opcode, type TftpOption } from "./packet.js";
import type { ByteSource } from "./source.js";

export interface TransferRemote {
  address: string;
  port: number;
}

export interface TransferParams {
  socket: dgram.Socket;
  remote: TransferRemote;
  source: ByteSource;
  blksize: number;
  windowsize: number;
  /** Sent as block 0 when non-empty; data starts after the client ACKs it. */
  oack: TftpOption[];
  timeoutMs: number;
  maxTimeoutMs: number;
  maxRetries: number;
  /** Bytes read from the source at a time (at least one window). */
  chunkBytes: number;
  logger: Logger;
}

export type TransferOutcome =
  | { ok: true; bytes: number; ms: number; retransmits: number }
  | { ok: false; bytes: number; ms: number; retransmits: number; reason: string };

interface Chunk {
  start: number;
  buf: Buffer;
}

export class ReadTransfer {
  private readonly p: TransferParams;
  private readonly lastBlock: number;
  private readonly started = Date.now();
  /** Lowest block the client has not acknowledged; 0 while the OACK is unacknowledged. */
  private base: number;
  private sentUpTo = 0;
  /**
   * File bytes in memory, in order, each chunk starting on a block boundary: the one
   * the window is in and the one read ahead, so the window never waits for the disk
   * while the file is read sequentially.
   */
  private chunks: Chunk[] = [];
  private loading = false;
  /** Blocks [from, to] that could not be sent until a read completes. */
  private resume: { from: number; to: number } | undefined;
  private retries = 0;
  private retransmits = 0;
  private currentTimeout: number;
  private dupResendUsed = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the last window went out plus the timeout: the timer is re-armed lazily, not per packet. */
  private deadline = 0;
  private timerAt = 0;
  private done = false;
  private resolve!: (o: TransferOutcome) => void;
  readonly outcome: Promise<TransferOutcome>;

  constructor(params: TransferParams) {
    this.p = params;
    this.lastBlock = Math.floor(params.source.size / params.blksize) + 1;
    this.base = params.oack.length > 0 ? 0 : 1;
    this.currentTimeout = params.timeoutMs;
    this.outcome = new Promise((r) => (this.resolve = r));
    params.socket.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
    params.socket.on("error", (err) => this.p.logger.debug("socket-error", { error: err.message }));
  }

  start(): void {
    this.sendWindow();
  }

  /** Ends the transfer from outside (server stopping). */
  abort(reason: string): void {
    this.send(errorPacket(ErrorCode.NotDefined, reason));
    this.finish(reason);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.done) return;
    if (rinfo.address !== this.p.remote.address || rinfo.port !== this.p.remote.port) {
      // Someone else's packet: tell them, leave this transfer alone (RFC 1350 §4).
      // Source port 0 cannot be answered (dgram throws on it): only crafted packets use it.
      if (rinfo.port === 0) return;
      try {
        this.p.socket.send(errorPacket(ErrorCode.UnknownTid, "unknown transfer ID"), rinfo.port, rinfo.address);
      } catch (e) {
        this.p.logger.debug("send-failed", { error: (e as Error).message });
      }
      return;
    }
    // Fast path for the packet that arrives once per window.
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === Opcode.ACK) {
      this.onAck(msg.readUInt16BE(2));
      return;
    }
    const d = decodePacket(msg);
    if (d.ok && d.packet.op === "error") this.finish(`client error ${d.packet.code}: ${d.packet.message}`);
    // Anything else from the client (malformed, DATA, a request) is ignored.
  }

  private onAck(wire: number): void {
    const acked = this.base - 1;
    let abs: number;
    if (this.base === 0) {
      if (wire !== 0) return;
      abs = 0;
    } else {
      // The one absolute block in [acked, acked+65535] with this wire number.
      abs = acked + ((wire - (acked & 0xffff)) & 0xffff);
    }
    if (abs > this.sentUpTo) return; // stale (older than the window) or never sent
    if (abs === acked) {
      if (this.dupResendUsed) return;
      this.dupResendUsed = true;
      this.retransmits++;
      this.p.logger.debug("dup-ack-resend", { remote: `${this.p.remote.address}:${this.p.remote.port}`, block: this.base });
      this.sendWindow();
      return;
    }
    this.base = abs + 1;
    this.retries = 0;
    this.currentTimeout = this.p.timeoutMs;
    this.dupResendUsed = false;
    if (abs === this.lastBlock) {
      this.finish(undefined);
      return;
    }
    this.dropChunksBelow((abs) * this.p.blksize);
    this.sendWindow();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.done) return;
    const left = this.deadline - Date.now();
    if (left > 0) {
      this.timerAt = this.deadline;
      this.timer = setTimeout(() => this.onTimer(), left);
      return;
    }
    this.retries++;
    if (this.retries > this.p.maxRetries) {
      this.send(errorPacket(ErrorCode.NotDefined, "timed out"));
      // Only the final ACK missing: the client may well hold the whole file (its ACK was lost).
      this.finish(this.sentUpTo === this.lastBlock && this.base === this.lastBlock ? "timed out waiting for the final ACK" : "timed out");
      return;
    }
    this.retransmits++;
    this.p.logger.debug("timeout-resend", { remote: `${this.p.remote.address}:${this.p.remote.port}`, block: this.base, after: this.currentTimeout });
    this.currentTimeout = Math.min(this.currentTimeout * 2, this.p.maxTimeoutMs);
    this.dupResendUsed = false;
    this.sendWindow();
  }

  /** (Re)sends the window starting at the lowest unacknowledged block. */
  private sendWindow(): void {
    if (this.done) return;
    this.armTimer();
    if (this.base === 0) {
      this.send(encodePacket({ op: "oack", options: this.p.oack }));
      return;
    }
    this.sendBlocks(this.base, Math.min(this.base + this.p.windowsize - 1, this.lastBlock));
  }

  private sendBlocks(from: number, to: number): void {
    this.resume = undefined;
    const { blksize, source } = this.p;
    for (let b = from; b <= to; b++) {
      const s = (b - 1) * blksize;
      const e = Math.min(s + blksize, source.size);
      let payload: Buffer | undefined;
      if (s >= e) payload = EMPTY;
      else {
        for (const c of this.chunks) {
          if (c.start <= s && e <= c.start + c.buf.length) {
            payload = c.buf.subarray(s - c.start, e - c.start);
            break;
          }
        }
      }
      if (!payload) {
        // Not in memory: read from this block on, then carry on where we stopped.
        this.resume = { from: b, to };
        this.load(s);
        return;
      }
      this.send([dataHeader(b & 0xffff), payload]);
      if (b > this.sentUpTo) this.sentUpTo = b;
    }
    this.readAhead(to * blksize);
  }

  /** Starts reading the next chunk once the window has entered the last one held. */
  private readAhead(sentEnd: number): void {
    const last = this.chunks[this.chunks.length - 1];
    if (!last || this.loading) return;
    const end = last.start + last.buf.length;
    if (end >= this.p.source.size || end - sentEnd > this.p.chunkBytes) return;
    this.load(end);
  }

  private load(startByte: number): void {
    if (this.loading) return; // the completion re-checks what is missing
    const length = Math.min(this.p.chunkBytes, this.p.source.size - startByte);
    this.loading = true;
    this.p.source.read(startByte, length).then(
      (buf) => {
        this.loading = false;
        if (this.done) return;
        if (buf.length < length) return this.failLoud("file shrank during transfer");
        this.chunks = this.chunks.filter((c) => c.start + c.buf.length <= startByte || c.start >= startByte + length);
        this.chunks.push({ start: startByte, buf });
        this.chunks.sort((a, b) => a.start - b.start);
        this.dropChunksBelow(Math.max(this.base - 1, 0) * this.p.blksize);
        const r = this.resume;
        if (r) {
          // The window may have moved on (an ACK arrived meanwhile): never send below base.
          if (r.from < this.base) this.sendWindow();
          else this.sendBlocks(r.from, r.to);
        }
      },
      (err: Error) => {
        this.loading = false;
        this.failLoud(`read error: ${err.message}`);
      },
    );
  }

  private dropChunksBelow(byte: number): void {
    if (this.chunks.length > 0 && this.chunks[0]!.start + this.chunks[0]!.buf.length <= byte)
      this.chunks = this.chunks.filter((c) => c.start + c.buf.length > byte);
  }

  private failLoud(reason: string): void {
    if (this.done) return;
    this.send(errorPacket(ErrorCode.NotDefined, reason));
    this.finish(reason);
  }

  private send(msg: Buffer | Buffer[]): void {
    try {
      this.p.socket.send(msg, this.p.remote.port, this.p.remote.address);
    } catch (e) {
      // Socket already closed (stop racing a timer): nothing left to tell the client.
      this.p.logger.debug("send-failed", { error: (e as Error).message });
    }
  }

  private armTimer(): void {
    const now = Date.now();
    this.deadline = now + this.currentTimeout;
    // A timer already due before the deadline will re-arm itself; one due after it
    // (left from a backed-off timeout) must be replaced or the next loss waits too long.
    if (this.timer && this.timerAt <= this.deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = this.deadline;
    this.timer = setTimeout(() => this.onTimer(), this.currentTimeout);
  }

  private finish(failure: string | undefined): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.chunks = [];
    const ms = Date.now() - this.started;
    const bytes = failure === undefined ? this.p.source.size : Math.min(Math.max(this.base - 1, 0) * this.p.blksize, this.p.source.size);
    // Close after pending sends (the final ERROR) have left.
    setImmediate(() => {
      try {
        this.p.socket.close();
      } catch {
        /* already closed */
      }
    });
    void this.p.source.close();
    this.resolve(
      failure === undefined
        ? { ok: true, bytes, ms, retransmits: this.retransmits }
        : { ok: false, bytes, ms, retransmits: this.retransmits, reason: failure },
    );
  }
}

const EMPTY = Buffer.alloc(0);
