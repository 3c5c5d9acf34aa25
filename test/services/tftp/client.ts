// A small TFTP read client for tests: options, windowsize, block-number rollover and
// a sha256 of what arrived. Used where the Debian clients cannot go (rollover at
// blksize 512 with curl, TID checks, counting packets).

import dgram from "node:dgram";
import { createHash } from "node:crypto";
import { decodePacket, encodePacket, type TftpOption } from "../../../src/services/tftp/packet.js";

export interface GetOptions {
  host: string;
  port: number;
  file: string;
  mode?: string;
  options?: Record<string, string | number>;
  /** Client-side retransmission timeout. */
  timeoutMs?: number;
  /** Give up after this long. */
  deadlineMs?: number;
  /** Keep the bytes (otherwise only hash and length). */
  keep?: boolean;
}

export interface GetResult {
  ok: boolean;
  bytes: number;
  sha256: string;
  data?: Buffer;
  error?: { code: number; message: string };
  oack?: TftpOption[];
  /** DATA packets received, duplicates included. */
  packets: number;
  serverPort?: number;
}

export function tftpGet(o: GetOptions): Promise<GetResult> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket("udp4");
    const hash = createHash("sha256");
    const parts: Buffer[] = [];
    const opts = Object.entries(o.options ?? {}).map(([name, value]) => ({ name, value: String(value) }));
    const rrq = encodePacket({ op: "rrq", filename: o.file, mode: o.mode ?? "octet", options: opts });
    let blksize = 512;
    let windowsize = 1;
    let expected = 1; // absolute block number
    let inWindow = 0;
    let bytes = 0;
    let packets = 0;
    let serverPort: number | undefined;
    let oack: TftpOption[] | undefined;
    let lastAck = -1;
    let finished = false;

    const finish = (r: Omit<GetResult, "bytes" | "sha256" | "packets">) => {
      if (finished) return;
      finished = true;
      clearInterval(retry);
      clearTimeout(deadline);
      // Let the final ACK leave before closing (send resolves the address asynchronously).
      setTimeout(() => sock.close(), 20);
      const res: GetResult = { ...r, bytes, sha256: hash.digest("hex"), packets };
      if (serverPort !== undefined) res.serverPort = serverPort;
      if (oack) res.oack = oack;
      if (o.keep) res.data = Buffer.concat(parts);
      resolve(res);
    };
    const ack = (block: number) => {
      lastAck = block;
      sock.send(encodePacket({ op: "ack", block: block & 0xffff }), serverPort, o.host);
    };
    let idle = 0;
    const retry = setInterval(
      () => {
        if (++idle < 2) return;
        idle = 0;
        if (serverPort === undefined) sock.send(rrq, o.port, o.host);
        else ack(lastAck);
      },
      (o.timeoutMs ?? 1000) / 2,
    );
    const deadline = setTimeout(() => finish({ ok: false, error: { code: -1, message: "client deadline" } }), o.deadlineMs ?? 20000);

    sock.on("message", (msg, rinfo) => {
      if (finished) return;
      if (serverPort === undefined) serverPort = rinfo.port;
      else if (rinfo.port !== serverPort) return;
      const d = decodePacket(msg);
      if (!d.ok) return;
      const p = d.packet;
      if (p.op === "error") return finish({ ok: false, error: { code: p.code, message: p.message } });
      if (p.op === "oack") {
        if (expected !== 1) return;
        oack = p.options;
        for (const { name, value } of p.options) {
          if (name.toLowerCase() === "blksize") blksize = Number(value);
          if (name.toLowerCase() === "windowsize") windowsize = Number(value);
        }
        idle = 0;
        ack(0);
        return;
      }
      if (p.op !== "data") return;
      packets++;
      if (p.block !== (expected & 0xffff)) {
        // Gap or duplicate: say where we are so the server resends from there.
        ack(expected - 1);
        inWindow = 0;
        return;
      }
      idle = 0;
      hash.update(p.data);
      if (o.keep) parts.push(Buffer.from(p.data));
      bytes += p.data.length;
      expected++;
      inWindow++;
      const last = p.data.length < blksize;
      if (last || inWindow >= windowsize) {
        inWindow = 0;
        ack(expected - 1);
      }
      if (last) finish({ ok: true });
    });
    sock.bind(0, "0.0.0.0", () => sock.send(rrq, o.port, o.host));
  });
}

/** A bare UDP socket that records every datagram it receives, for packet-level tests. */
export interface RawPeer {
  port: number;
  received: { msg: Buffer; port: number; at: number }[];
  send(msg: Buffer, port: number, host?: string): void;
  /** Resolves once a datagram matching `pred` has arrived (or rejects after ms). */
  waitFor(pred: (msg: Buffer, port: number) => boolean, ms?: number): Promise<{ msg: Buffer; port: number }>;
  close(): void;
}

export async function rawPeer(host = "127.0.0.1"): Promise<RawPeer> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  const received: RawPeer["received"] = [];
  const waiters: { pred: (m: Buffer, p: number) => boolean; resolve: (v: { msg: Buffer; port: number }) => void }[] = [];
  sock.on("message", (msg, rinfo) => {
    received.push({ msg, port: rinfo.port, at: Date.now() });
    for (const w of [...waiters]) {
      if (w.pred(msg, rinfo.port)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve({ msg, port: rinfo.port });
      }
    }
  });
  return {
    port: sock.address().port,
    received,
    send: (msg, port, h = host) => sock.send(msg, port, h),
    waitFor(pred, ms = 3000) {
      const hit = received.find((r) => pred(r.msg, r.port));
      if (hit) return Promise.resolve({ msg: hit.msg, port: hit.port });
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (v: { msg: Buffer; port: number }) => (clearTimeout(t), resolve(v)) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching datagram within ${ms} ms`));
        }, ms);
        waiters.push(w);
      });
    },
    close: () => sock.close(),
  };
}

export const isData = (block: number) => (m: Buffer) => m.length >= 4 && m.readUInt16BE(0) === 3 && m.readUInt16BE(2) === block;
export const isError = (code?: number) => (m: Buffer) => m.length >= 4 && m.readUInt16BE(0) === 5 && (code === undefined || m.readUInt16BE(2) === code);
export const isOack = (m: Buffer) => m.length >= 2 && m.readUInt16BE(0) === 6;
