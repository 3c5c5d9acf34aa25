// Where a transfer's bytes come from. A file is read in chunks of a few windows
// (positional reads into a fresh buffer), never whole: 200 transfers of a 64 MiB file
// hold 200 chunks, not 12.8 GiB. The page cache already shares the file between
// transfers, so no cache of our own is kept. Virtual files are Buffers already.

import type { promises as fsp } from "node:fs";

export interface ByteSource {
  readonly size: number;
  /** Bytes [offset, offset+length) — shorter only if the file shrank underneath us. */
  read(offset: number, length: number): Promise<Buffer>;
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
