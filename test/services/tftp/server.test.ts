// TftpServer on loopback, driven by the test client and raw sockets: protocol
// behaviour that the Debian clients cannot show (TIDs, duplicate ACKs, retries).

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import dgram from "node:dgram";
import fs from "node:fs";
import { encodePacket, decodePacket } from "../../../src/services/tftp/packet.js";
import { TftpServer, type TftpTransferCompleteEvent, type TftpTransferErrorEvent, type TftpTransferStartEvent } from "../../../src/services/tftp/server.js";
import { isData, isError, isOack, rawPeer, tftpGet, type RawPeer } from "./client.js";
import { sleep, waitFor } from "../../helpers/wait.js";
import { makeRoot, sha256, startServer, type Root } from "./fixtures.js";

const rrq = (file: string, options: Record<string, string | number> = {}, mode = "octet") =>
  encodePacket({ op: "rrq", filename: file, mode, options: Object.entries(options).map(([name, value]) => ({ name, value: String(value) })) });
const ack = (block: number) => encodePacket({ op: "ack", block });

let root: Root;
let server: TftpServer;
/** Retransmits only after 2 s, so anything sent sooner was caused by the client's packets. */
let slow: TftpServer;
const peers: RawPeer[] = [];
const starts: TftpTransferStartEvent[] = [];
const completes: TftpTransferCompleteEvent[] = [];
const errors: TftpTransferErrorEvent[] = [];

async function peer(): Promise<RawPeer> {
  const p = await rawPeer();
  peers.push(p);
  return p;
}

beforeAll(async () => {
  root = makeRoot({ "small.bin": 3000, "exact.bin": 1024, "empty.bin": 0, "sub/mid.bin": 200_000, "roll.bin": 65536 * 8 + 100 });
  server = await startServer({
    root: root.dir,
    timeoutMs: 150,
    maxRetries: 3,
    provider: (path, remote) => {
      if (path === "nodes/whoami.ipxe") return `#!ipxe\necho ${remote.address}\n`;
      if (path === "boom") throw new Error("provider bug");
      if (path === "async.bin") return Promise.resolve(Buffer.from("async content"));
      return undefined;
    },
  });
  slow = await startServer({ root: root.dir, timeoutMs: 2000 });
  server.on("transfer-start", (e) => starts.push(e));
  server.on("transfer-complete", (e) => completes.push(e));
  server.on("transfer-error", (e) => errors.push(e));
});

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});

afterAll(async () => {
  await server?.stop();
  await slow?.stop();
  root?.cleanup();
});

const host = "127.0.0.1";

describe("tftp server: serving", () => {
  it("serves a file without options in 512-byte blocks, answering with DATA 1 (no OACK)", async () => {
    const r = await tftpGet({ host, port: server.port, file: "small.bin", keep: true });
    expect(r.ok).toBe(true);
    expect(r.oack).toBeUndefined();
    expect(r.packets).toBe(6); // 5×512 + 440
    expect(sha256(r.data!)).toBe(root.files.get("small.bin")!.sha256);
  });

  it("negotiates blksize, windowsize and tsize, and reports start and completion", async () => {
    const r = await tftpGet({ host, port: server.port, file: "/sub/mid.bin", options: { tsize: 0, blksize: 9000, windowsize: 100 } });
    expect(r.ok).toBe(true);
    expect(r.sha256).toBe(root.files.get("sub/mid.bin")!.sha256);
    expect(r.oack).toEqual([
      { name: "tsize", value: "200000" },
      { name: "blksize", value: "1468" },
      { name: "windowsize", value: "64" },
    ]);
    await waitFor("sub/mid.bin's transfer-complete event", () => completes.some((c) => c.path === "sub/mid.bin"), 3000, 10);
    const start = starts.find((s) => s.path === "sub/mid.bin")!;
    expect(start).toMatchObject({ size: 200000, blksize: 1468, windowsize: 64, virtual: false, remote: { address: host } });
    const done = completes.find((c) => c.path === "sub/mid.bin")!;
    expect(done).toMatchObject({ bytes: 200000, remote: start.remote, id: start.id });
    expect(done.ms).toBeGreaterThanOrEqual(0);
  });

  it("ends a file whose size is a multiple of blksize with an empty block, and serves empty files", async () => {
    const r = await tftpGet({ host, port: server.port, file: "exact.bin" });
    expect(r).toMatchObject({ ok: true, bytes: 1024, packets: 3 });
    const e = await tftpGet({ host, port: server.port, file: "empty.bin", options: { tsize: 0 } });
    expect(e).toMatchObject({ ok: true, bytes: 0, packets: 1, oack: [{ name: "tsize", value: "0" }] });
  });

  it("rolls block numbers over past 65535 (blksize 8, 65549 blocks)", async () => {
    const r = await tftpGet({ host, port: server.port, file: "roll.bin", options: { blksize: 8, windowsize: 64 }, deadlineMs: 25_000 });
    expect(r.ok).toBe(true);
    expect(r.bytes).toBe(65536 * 8 + 100);
    expect(r.sha256).toBe(root.files.get("roll.bin")!.sha256);
  });

  it("serves virtual files from the provider, per requesting address, and falls back to the root", async () => {
    const v = await tftpGet({ host, port: server.port, file: "nodes/whoami.ipxe", keep: true, options: { tsize: 0 } });
    expect(v.data!.toString()).toBe("#!ipxe\necho 127.0.0.1\n");
    expect(v.oack).toEqual([{ name: "tsize", value: String(v.data!.length) }]);
    const a = await tftpGet({ host, port: server.port, file: "async.bin", keep: true });
    expect(a.data!.toString()).toBe("async content");
    const f = await tftpGet({ host, port: server.port, file: "small.bin" });
    expect(f.sha256).toBe(root.files.get("small.bin")!.sha256);
    expect(starts.find((s) => s.path === "nodes/whoami.ipxe")?.virtual).toBe(true);
  });

  it("answers ERROR 0 when the provider throws, ERROR 1 for a missing file", async () => {
    expect(await tftpGet({ host, port: server.port, file: "boom" })).toMatchObject({ ok: false, error: { code: 0 } });
    expect(await tftpGet({ host, port: server.port, file: "missing" })).toMatchObject({ ok: false, error: { code: 1 } });
    expect(errors.find((e) => e.path === "missing")).toMatchObject({ id: undefined, code: 1 });
  });

  it("converts netascii (LF → CR LF, CR → CR NUL)", async () => {
    const s = await startServer({ provider: () => "a\nb\rc" });
    try {
      const r = await tftpGet({ host, port: s.port, file: "x", mode: "NETASCII", keep: true });
      expect(r.data).toEqual(Buffer.from("a\r\nb\r\0c", "latin1"));
    } finally {
      await s.stop();
    }
  });

  it("refuses writes with ERROR 2 and unknown modes with ERROR 4", async () => {
    const p = await peer();
    p.send(encodePacket({ op: "wrq", filename: "new.bin", mode: "octet", options: [] }), server.port);
    await p.waitFor(isError(2));
    p.send(rrq("small.bin", {}, "mail"), server.port);
    await p.waitFor(isError(4));
  });
});

describe("tftp server: protocol robustness", () => {
  it("answers a packet from a foreign TID with ERROR 5 and keeps the transfer going", async () => {
    const client = await peer();
    const stranger = await peer();
    client.send(rrq("small.bin"), server.port);
    const first = await client.waitFor(isData(1));
    stranger.send(ack(1), first.port);
    await stranger.waitFor(isError(5));
    for (let b = 1; b <= 5; b++) {
      await client.waitFor(isData(b));
      client.send(ack(b), first.port);
    }
    const last = await client.waitFor(isData(6));
    expect(last.msg.length).toBe(4 + 440);
    client.send(ack(6), first.port);
    expect(client.received.some((r) => isError()(r.msg))).toBe(false);
  });

  it("ignores a retransmitted RRQ from the same port (one transfer, not two)", async () => {
    const client = await peer();
    client.send(rrq("small.bin"), server.port);
    client.send(rrq("small.bin"), server.port);
    client.send(rrq("small.bin"), server.port);
    await client.waitFor(isData(1));
    await sleep(60);
    const ports = new Set(client.received.filter((r) => isData(1)(r.msg)).map((r) => r.port));
    expect(ports.size).toBe(1);
    client.send(ack(1), [...ports][0]!);
  });

  it("retransmits with exponential backoff, a bounded number of times, then gives up", async () => {
    const client = await peer();
    client.send(rrq("small.bin", { timeout: 5 }), server.port); // a longer client timeout does not slow the server
    const oack = await client.waitFor(isOack);
    client.send(ack(0), oack.port);
    await client.waitFor(isError(0), 4000);
    const data1 = client.received.filter((r) => isData(1)(r.msg));
    expect(data1.length).toBe(4); // first send + maxRetries (3)
    const gaps = data1.slice(1).map((r, i) => r.at - data1[i]!.at);
    // 150, 300, 600 ms. Timers fire late under load, never early, but a late first
    // packet shortens the next gap as seen by the client, so the bounds leave room for
    // that; a fixed (not doubling) 150 ms timeout still fails the last two.
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(220);
    expect(gaps[2]).toBeGreaterThanOrEqual(450);
    await waitFor("a timed-out transfer error", () => errors.some((e) => e.reason === "timed out"), 3000, 10);
  });

  it("does not resend on every duplicate ACK (no Sorcerer's Apprentice)", async () => {
    const client = await peer();
    client.send(rrq("sub/mid.bin", { timeout: 2 }), slow.port); // 2 s server timeout: only dups can trigger resends
    const oack = await client.waitFor(isOack);
    client.send(ack(0), oack.port);
    await client.waitFor(isData(1));
    client.send(ack(1), oack.port);
    await client.waitFor(isData(2));
    for (let i = 0; i < 20; i++) client.send(ack(1), oack.port);
    await sleep(300);
    const block2 = client.received.filter((r) => isData(2)(r.msg)).length;
    expect(block2).toBe(2); // the original and one resend for the whole burst of dups
    client.send(ack(2), oack.port);
    await client.waitFor(isData(3));
    client.send(encodePacket({ op: "error", code: 0, message: "enough" }), oack.port);
  });

  it("resends a window from the block after a partial ACK (RFC 7440 go-back-N)", async () => {
    const client = await peer();
    client.send(rrq("sub/mid.bin", { windowsize: 8, timeout: 2 }), slow.port);
    const oack = await client.waitFor(isOack);
    client.send(ack(0), oack.port);
    await client.waitFor(isData(8));
    client.send(ack(3), oack.port); // "lost" block 4
    await client.waitFor((m) => isData(11)(m));
    const blocks = client.received.filter((r) => r.msg.readUInt16BE(0) === 3).map((r) => r.msg.readUInt16BE(2));
    expect(blocks.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(blocks.slice(8, 16)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    // The same ACK again is a duplicate: one resend of the window for the whole burst.
    for (let i = 0; i < 5; i++) client.send(ack(3), oack.port);
    await sleep(300);
    const after = client.received.filter((r) => r.msg.readUInt16BE(0) === 3).map((r) => r.msg.readUInt16BE(2));
    expect(after.slice(16)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    client.send(encodePacket({ op: "error", code: 0, message: "enough" }), oack.port);
  });

  it("ignores ACKs for blocks never sent and stale ones", async () => {
    const client = await peer();
    client.send(rrq("sub/mid.bin", { timeout: 2 }), slow.port);
    const oack = await client.waitFor(isOack);
    client.send(ack(5), oack.port); // before ACK 0: not sent yet
    await sleep(100);
    expect(client.received.some((r) => isData(1)(r.msg))).toBe(false);
    client.send(ack(0), oack.port);
    await client.waitFor(isData(1));
    client.send(ack(40000), oack.port);
    await sleep(100);
    expect(client.received.some((r) => isData(2)(r.msg))).toBe(false);
    client.send(encodePacket({ op: "error", code: 0, message: "enough" }), oack.port);
  });

  it("aborts with an ERROR when the file shrinks under a running transfer", async () => {
    const file = `${root.dir}/shrink.bin`;
    fs.writeFileSync(file, Buffer.alloc(200_000, 1));
    const client = await peer();
    client.send(rrq("shrink.bin", { blksize: 1468, windowsize: 64 }), slow.port);
    const oack = await client.waitFor(isOack);
    client.send(ack(0), oack.port);
    await client.waitFor(isData(64), 10_000);
    fs.truncateSync(file, 0);
    client.send(ack(64), oack.port);
    // The next window may already have been read ahead before the truncation: then it
    // still arrives, and the ERROR comes with the window after it.
    let got = await client.waitFor((m) => isData(128)(m) || isError(0)(m), 10_000);
    if (isData(128)(got.msg)) {
      client.send(ack(128), oack.port);
      got = await client.waitFor(isError(0), 10_000);
    }
    expect(decodePacket(got.msg)).toMatchObject({ ok: true, packet: { message: expect.stringMatching(/shrank/) } });
  });

  it("caps concurrent transfers with ERROR 0 'server busy'", async () => {
    const s = await startServer({ root: root.dir, maxTransfers: 2, timeoutMs: 2000 });
    try {
      const a = await peer();
      const b = await peer();
      const c = await peer();
      a.send(rrq("small.bin"), s.port);
      b.send(rrq("small.bin"), s.port);
      await a.waitFor(isData(1));
      await b.waitFor(isData(1));
      expect(s.activeTransfers).toBe(2);
      c.send(rrq("small.bin"), s.port);
      const busy = await c.waitFor(isError(0));
      expect(decodePacket(busy.msg)).toMatchObject({ ok: true, packet: { message: expect.stringMatching(/busy/) } });
    } finally {
      await s.stop();
    }
    expect(s.activeTransfers).toBe(0);
  });

  it("uses a fresh ephemeral port per transfer, bound to the server's address", async () => {
    const a = await peer();
    const b = await peer();
    a.send(rrq("small.bin"), server.port);
    b.send(rrq("small.bin"), server.port);
    const pa = await a.waitFor(isData(1));
    const pb = await b.waitFor(isData(1));
    expect(pa.port).not.toBe(pb.port);
    expect(pa.port).not.toBe(server.port);
    a.send(encodePacket({ op: "error", code: 0, message: "x" }), pa.port);
    b.send(encodePacket({ op: "error", code: 0, message: "x" }), pb.port);
  });
});

describe("tftp server: lifecycle", () => {
  it("fails to start with a clear message when the port is taken", async () => {
    const blocker = dgram.createSocket("udp4");
    await new Promise<void>((r) => blocker.bind(0, "127.0.0.1", () => r()));
    try {
      const s = new TftpServer({ address: "127.0.0.1", port: blocker.address().port, root: root.dir });
      await expect(s.start()).rejects.toThrow(/already in use/);
    } finally {
      blocker.close();
    }
  });

  it("refuses a missing root and bad limits", async () => {
    await expect(new TftpServer({ address: "127.0.0.1", port: 0, root: "/nonexistent/mftf" }).start()).rejects.toThrow(/does not exist/);
    expect(() => new TftpServer({ root: root.dir, maxBlockSize: 70000 })).toThrow(/maxBlockSize/);
    expect(() => new TftpServer({ root: root.dir, maxWindowSize: 65 })).toThrow(/maxWindowSize/);
    expect(() => new TftpServer({})).toThrow(/root directory or a provider/);
  });

  it("a throwing event listener does not take the server down", async () => {
    const s = await startServer({ root: root.dir });
    try {
      s.on("transfer-start", () => {
        throw new Error("listener bug");
      });
      s.on("transfer-error", () => {
        throw new Error("listener bug");
      });
      expect(await tftpGet({ host, port: s.port, file: "nope" })).toMatchObject({ ok: false, error: { code: 1 } });
      const r = await tftpGet({ host, port: s.port, file: "small.bin" });
      expect(r.sha256).toBe(root.files.get("small.bin")!.sha256);
    } finally {
      await s.stop();
    }
  });

  it("stop() aborts running transfers, telling the client", async () => {
    const s = await startServer({ root: root.dir, timeoutMs: 5000 });
    const p = await peer();
    p.send(rrq("small.bin"), s.port);
    await p.waitFor(isData(1));
    await s.stop();
    await p.waitFor(isError(0));
    expect(s.activeTransfers).toBe(0);
  });
});
