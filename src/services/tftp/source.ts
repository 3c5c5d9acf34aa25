// Where a transfer's bytes come from. A file is read in chunks of a few windows
// (positional reads into a fresh buffer), never whole: 200 transfers of a 64 MiB file
// hold 200 chunks, not 12.8 GiB. The page cache already shares the file between
// transfers, so no cache of our own is kept. Virtual files are Buffers already.

import type { promises as fsp } from "node:fs";

export interface ByteSource {
  readonly size: number;
  /** Bytes [offset, offset+length) — shorter only if the file shrank underneath us. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Fills `slots` in order with the bytes from `offset` on; resolves to the bytes filled. */
  readInto(slots: Buffer[], offset: number): Promise<number>;
  close(): Promise<void>;
}

export class BufferSource implements ByteSource {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    return this.buf.subarray(offset, offset + length);
  }
  async readInto(slots: Buffer[], offset: number): Promise<number> {
    let pos = offset;
    for (const slot of slots) pos += this.buf.copy(slot, 0, pos, pos + slot.length);
    return pos - offset;
  }
  async close(): Promise<void> {}
}

export class FileSource implements ByteSource {
  constructor(
    private readonly handle: fsp.FileHandle,
    readonly size: number,
  ) {}
  async read(offset: number, length: number): Promise<Buffer> {
    // A new buffer each time: sends still queued in the socket may reference the old one.
    const buf = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buf, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === length ? buf : buf.subarray(0, filled);
  }
  async readInto(slots: Buffer[], offset: number): Promise<number> {
    // One preadv for the whole chunk; a short read (rare on regular files) is finished slot by slot.
    const total = slots.reduce((n, s) => n + s.length, 0);
    let filled = slots.length > 0 ? (await this.handle.readv(slots, offset)).bytesRead : 0;
    if (filled >= total) return filled;
    let skip = filled;
    for (const slot of slots) {
      if (skip >= slot.length) {
        skip -= slot.length;
        continue;
      }
      let at = skip;
      skip = 0;
      while (at < slot.length) {
        const { bytesRead } = await this.handle.read(slot, at, slot.length - at, offset + filled);
        if (bytesRead === 0) return filled;
        at += bytesRead;
        filled += bytesRead;
      }
    }
    return filled;
  }
  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}

/** Netascii (RFC 764 as used by RFC 1350): LF → CR LF, CR → CR NUL. */
export function toNetascii(input: Buffer): Buffer {
  let extra = 0;
  for (const b of input) if (b === 0x0a || b === 0x0d) extra++;
  const out = Buffer.allocUnsafe(input.length + extra);
  let o = 0;
  for (const b of input) {
    if (b === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (b === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else out[o++] = b;
  }
  return out;
}
