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
import { encodePacket, decodePacket, errorPacket, ErrorCode, Opcode, type TftpOption } from "./packet.js";
import type { ByteSource } from "./source.js";

export interface TransferRemote {
  address: string;
  port: number;
}

/** Sends several packets in one go (native/udp-bind-device's sendBatch); see native.ts BatchSender. */
export interface WindowSender {
  /** Sends packets[start, start+count) to the transfer's peer; returns how many went out (the rest are sent with dgram). */
  send(packets: Buffer[], start: number, count: number): number;
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
  /** Payload bytes read from the source at a time (at least one window's worth is used). */
  chunkBytes: number;
  /** Sends a window's packets in one system call on `socket`'s fd; undefined = one dgram send each. */
  batch?: WindowSender | undefined;
  logger: Logger;
}

export type TransferOutcome = { ok: true; bytes: number; ms: number; retransmits: number } | { ok: false; bytes: number; ms: number; retransmits: number; reason: string };

/** Consecutive blocks read from the source, each already a whole DATA packet. */
interface Chunk {
  first: number;
  /** packets[i] is block first+i: 4-byte header (block number written once) and payload. */
  packets: Buffer[];
}

export class ReadTransfer {
  private readonly p: TransferParams;
  private readonly lastBlock: number;
  private readonly started = Date.now();
  /** Lowest block the client has not acknowledged; 0 while the OACK is unacknowledged. */
  private base: number;
  private sentUpTo = 0;
  /**
   * Blocks in memory, in order: the chunk the window is in and the one read ahead, so
   * the window never waits for the disk while the file is read sequentially. Each block
   * sits in its chunk as a finished DATA packet (the file is read with one preadv into
   * the payload slots), so sending and resending allocate and copy nothing.
   */
  private chunks: Chunk[] = [];
  private readonly chunkBlocks: number;
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
    // At most 1024 blocks: one preadv takes at most IOV_MAX (1024) buffers on Linux.
    this.chunkBlocks = Math.min(1024, Math.max(params.windowsize, Math.floor(params.chunkBytes / params.blksize)));
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
    this.dropChunksBelow(this.base);
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
    let b = from;
    while (b <= to) {
      const c = this.chunkFor(b);
      if (!c) {
        // Not in memory: read from this block on, then carry on where we stopped.
        this.resume = { from: b, to };
        this.load(b);
        return;
      }
      // The run of the window inside this chunk goes out in one batch.
      const count = Math.min(to, c.first + c.packets.length - 1) - b + 1;
      this.sendRun(c.packets, b - c.first, count);
      b += count;
      if (b - 1 > this.sentUpTo) this.sentUpTo = b - 1;
    }
    this.readAhead(to);
  }

  /** packets[start, start+count): through the batch sender when there is one, the rest (or all) through dgram. */
  private sendRun(packets: Buffer[], start: number, count: number): void {
    if (this.done) return;
    const sent = this.p.batch ? this.p.batch.send(packets, start, count) : 0;
    for (let i = sent; i < count; i++) this.send(packets[start + i]!);
  }

  private chunkFor(block: number): Chunk | undefined {
    for (const c of this.chunks) if (block >= c.first && block < c.first + c.packets.length) return c;
    return undefined;
  }

  /** Starts reading the next chunk once the window has entered the last one held. */
  private readAhead(sentTo: number): void {
    const last = this.chunks[this.chunks.length - 1];
    if (!last || this.loading) return;
    const next = last.first + last.packets.length;
    if (next > this.lastBlock || next - 1 - sentTo > this.chunkBlocks) return;
    this.load(next);
  }

  private load(first: number): void {
    if (this.loading) return; // the completion re-checks what is missing
    const { blksize, source } = this.p;
    const count = Math.min(this.chunkBlocks, this.lastBlock - first + 1);
    const startByte = (first - 1) * blksize;
    const dataBytes = Math.max(0, Math.min(count * blksize, source.size - startByte));
    // One allocation per chunk: a fresh buffer, since sends still queued in the
    // socket may point into the previous one.
    const mem = Buffer.allocUnsafe(dataBytes + 4 * count);
    const packets: Buffer[] = [];
    const slots: Buffer[] = [];
    let off = 0;
    for (let i = 0; i < count; i++) {
      const len = Math.max(0, Math.min(blksize, source.size - startByte - i * blksize));
      const pkt = mem.subarray(off, off + 4 + len);
      pkt.writeUInt16BE(Opcode.DATA, 0);
      pkt.writeUInt16BE((first + i) & 0xffff, 2);
      packets.push(pkt);
      if (len > 0) slots.push(pkt.subarray(4));
      off += 4 + len;
    }
    this.loading = true;
    source.readInto(slots, startByte).then(
      (n) => {
        this.loading = false;
        if (this.done) return;
        if (n < dataBytes) return this.failLoud("file shrank during transfer");
        this.chunks = this.chunks.filter((c) => c.first + c.packets.length <= first || c.first >= first + count);
        this.chunks.push({ first, packets });
        this.chunks.sort((a, b) => a.first - b.first);
        this.dropChunksBelow(Math.max(this.base, 1));
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

  /** Forgets chunks whose blocks all lie below `block` (the client holds them). */
  private dropChunksBelow(block: number): void {
    const c = this.chunks[0];
    if (c && c.first + c.packets.length <= block) this.chunks = this.chunks.filter((x) => x.first + x.packets.length > block);
  }

  private failLoud(reason: string): void {
    if (this.done) return;
    this.send(errorPacket(ErrorCode.NotDefined, reason));
    this.finish(reason);
  }

  private send(msg: Buffer): void {
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
    this.resolve(failure === undefined ? { ok: true, bytes, ms, retransmits: this.retransmits } : { ok: false, bytes, ms, retransmits: this.retransmits, reason: failure });
  }
}
