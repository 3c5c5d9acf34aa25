// The batched send path: sendBatch in the native helper (sendmmsg, UDP GSO runs), a
// transfer whose batch sender stops short (the rest must go out through dgram), the
// server on each send path with real atftp/curl clients (windowsize 16/64, block-number
// rollover), the pure-JS fallback when the helper is missing, the request socket's
// forced receive buffer, and the sendmmsg and dgram paths over a lossy link (the GSO
// path's lossy run is loss.int.test.ts, whose child server uses the default path).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { BatchSender, ipv4ToUint32 } from "../../../src/services/tftp/native.js";
import { loadUdpAddon, wrapFd, type UdpAddon } from "../../../src/services/udp-addon.js";
import { ReadTransfer, type WindowSender } from "../../../src/services/tftp/transfer.js";
import { BufferSource } from "../../../src/services/tftp/source.js";
import type { TftpServer, TftpTransferStartEvent } from "../../../src/services/tftp/server.js";
import { nullLogger } from "../../../src/util/log.js";
import { rawPeer, type RawPeer } from "./client.js";
import { makeRoot, requireTool, run, sha256, sha256File, startServer, type Root } from "./fixtures.js";
import {
  addLoss,
  buildServerBundle,
  createPair,
  droppedPackets,
  requireNativeAddon,
  startChildServer,
  tempDir,
  type ChildServer,
  type LossMethod,
  type NetnsPair,
} from "./netns.js";

let addon: UdpAddon;
let root: Root;
let out: string;
let atftp: string;
let curl: string;
const LO = ipv4ToUint32("127.0.0.1")!;

beforeAll(() => {
  const p = requireNativeAddon();
  const a = loadUdpAddon(p);
  if (!a) throw new Error(`${p} has no sendBatch: rebuild it with bash native/udp-bind-device/build.sh`);
  addon = a;
  atftp = requireTool("atftp", "atftp");
  curl = requireTool("curl", "curl");
  requireTool("ss", "iproute2");
  root = makeRoot({ "boot.bin": 2_500_000, "roll.bin": 33 * 1024 * 1024 + 777 });
  out = fs.mkdtempSync(path.join(os.tmpdir(), "mftf-batch-"));
});

afterAll(() => {
  root?.cleanup();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

/** A receiver with a large buffer (made by the helper) collecting datagrams in arrival order. */
async function receiver(): Promise<{ sock: dgram.Socket; port: number; got: Buffer[]; waitCount(n: number): Promise<Buffer[]> }> {
  const sock = await wrapFd(addon, addon.open("127.0.0.1", 0, "", "", 8 << 20, false), { type: "udp4" });
  const got: Buffer[] = [];
  sock.on("message", (m) => got.push(m));
  return {
    sock,
    port: sock.address().port,
    got,
    async waitCount(n) {
      for (let i = 0; i < 200 && got.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      // A little longer: anything beyond n would be a bug too.
      await new Promise((r) => setTimeout(r, 30));
      return got;
    },
  };
}

/** `count` packets back to back in one buffer, `size` bytes each (the last `last`), each filled with its index. */
function contiguous(count: number, size: number, last = size): Buffer[] {
  const mem = Buffer.alloc(size * (count - 1) + last);
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const p = mem.subarray(i * size, i * size + (i === count - 1 ? last : size));
    p.fill(i & 0xff);
    p.writeUInt16BE(i, 0);
    packets.push(p);
  }
  return packets;
}

describe("sendBatch (native helper)", () => {
  let sender: dgram.Socket;
  let fd: number;
  beforeAll(async () => {
    fd = addon.open("127.0.0.1", 0, "", "", 0, false);
    sender = await wrapFd(addon, fd, { type: "udp4" });
  });
  afterAll(() => sender?.close());

  it.each([true, false])("sends each packet as its own datagram, in order, with gso=%s", async (gso) => {
    const r = await receiver();
    try {
      const packets = contiguous(21, 1472, 37);
      expect(addon.sendBatch(fd, packets, 0, 21, LO, r.port, gso)).toBe(21);
      const got = await r.waitCount(21);
      expect(got.length).toBe(21);
      got.forEach((m, i) => expect(m.equals(packets[i]!), `datagram ${i}`).toBe(true));
    } finally {
      r.sock.close();
    }
  });

  it("splits long runs into several GSO datagrams (64 segments, 64 KB) and sends a sub-range only", async () => {
    const r = await receiver();
    try {
      const packets = contiguous(300, 1472);
      // start/count pick packets 10..259: 250 of them, more than one GSO datagram holds.
      expect(addon.sendBatch(fd, packets, 10, 250, LO, r.port, true)).toBe(250);
      const got = await r.waitCount(250);
      expect(got.length).toBe(250);
      got.forEach((m, i) => expect(m.equals(packets[10 + i]!), `datagram ${i}`).toBe(true));
    } finally {
      r.sock.close();
    }
  });

  it("keeps packet boundaries when buffers are apart in memory or grow in size", async () => {
    const r = await receiver();
    try {
      const apart = [Buffer.from("first"), Buffer.from("second!"), Buffer.from("3")];
      const growing = contiguous(3, 100);
      // A bigger packet straight after smaller ones must not join their GSO run.
      const mem = Buffer.alloc(100 + 100 + 300, 7);
      const mixed = [mem.subarray(0, 100), mem.subarray(100, 200), mem.subarray(200, 500)];
      const all = [...apart, ...growing, ...mixed];
      expect(addon.sendBatch(fd, all, 0, all.length, LO, r.port, true)).toBe(all.length);
      const got = await r.waitCount(all.length);
      expect(got.map((m) => m.length)).toEqual(all.map((m) => m.length));
      got.forEach((m, i) => expect(m.equals(all[i]!)).toBe(true));
    } finally {
      r.sock.close();
    }
  });

  it("rejects bad arguments with exceptions, reports a bad fd as -EBADF, never crashes", () => {
    const p = contiguous(2, 10);
    const call = (...args: unknown[]) => (addon.sendBatch as (...a: unknown[]) => number)(...args);
    expect(() => call(fd, p, 0, 2, LO, 9)).toThrow(TypeError); // too few arguments
    expect(() => call(fd, "not an array", 0, 2, LO, 9, true)).toThrow(TypeError);
    expect(() => call(fd, [p[0], "x"], 0, 2, LO, 9, true)).toThrow(TypeError);
    expect(() => call(fd, p, 0, 2, LO, 0, true)).toThrow(TypeError); // port 0
    expect(() => call(fd, p, 0, 2, LO, 70000, true)).toThrow(TypeError);
    expect(() => call(-1, p, 0, 2, LO, 9, true)).toThrow(TypeError);
    expect(() => call(fd, p, 1, 2, LO, 9, true)).toThrow(RangeError);
    expect(call(fd, p, 2, 0, LO, 9, true)).toBe(0);
    const spare = fs.openSync("/dev/null", "r");
    fs.closeSync(spare); // a descriptor number that is now closed
    expect(call(spare, p, 0, 2, LO, 9, true)).toBe(-9);
    // A file, not a socket: ENOTSOCK (88), reported, not thrown.
    const file = fs.openSync("/dev/null", "r");
    try {
      expect(call(file, p, 0, 2, LO, 9, false)).toBe(-88);
    } finally {
      fs.closeSync(file);
    }
  });

  it("BatchSender falls back from GSO to plain sendmmsg when GSO is refused, and reports other errors", () => {
    const calls: boolean[] = [];
    const errors: number[] = [];
    const fake: UdpAddon = {
      open: () => -1,
      setReuseAddress: () => {},
      // GSO refused with EIO (a device without checksum offload), plain sends work.
      sendBatch: (_fd, _p, _s, count, _a, _port, gso) => (calls.push(gso), gso ? -5 : count),
    };
    const b = new BatchSender(fake, 3, LO, 9, "gso", (e) => errors.push(e));
    expect(b.send([], 0, 4)).toBe(4);
    expect(b.path).toBe("sendmmsg");
    expect(calls).toEqual([true, false]);
    const failing = new BatchSender({ open: () => -1, setReuseAddress: () => {}, sendBatch: () => -1 /* EPERM */ }, 3, LO, 9, "sendmmsg", (e) => errors.push(e));
    expect(failing.send([], 0, 4)).toBe(0);
    expect(errors).toEqual([1]);
  });

  it("ipv4ToUint32 parses dotted quads only", () => {
    expect(ipv4ToUint32("10.1.2.3")).toBe(0x0a010203);
    expect(ipv4ToUint32("255.255.255.255")).toBe(0xffffffff);
    for (const bad of ["::1", "1.2.3", "1.2.3.256", "a.b.c.d", "1.2.3.4.5", ""]) expect(ipv4ToUint32(bad)).toBeUndefined();
  });
});

describe("a transfer whose batch sender stops short", () => {
  /** Drives a ReadTransfer from a raw peer, ACKing each full window; returns the bytes and packets received. */
  async function transferWith(batch: (real: BatchSender) => WindowSender, windowsize: number) {
    const data = Buffer.alloc(512 * 300 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 9)) & 0xff;
    const peer: RawPeer = await rawPeer();
    const fd = addon.open("127.0.0.1", 0, "", "", 0, false);
    const socket = await wrapFd(addon, fd, { type: "udp4" });
    const port = socket.address().port;
    const real = new BatchSender(addon, fd, LO, peer.port, "gso", () => {});
    const t = new ReadTransfer({
      socket,
      remote: { address: "127.0.0.1", port: peer.port },
      source: new BufferSource(data),
      blksize: 512,
      windowsize,
      oack: [],
      timeoutMs: 2000,
      maxTimeoutMs: 2000,
      maxRetries: 2,
      chunkBytes: 512 * 100, // chunk boundaries fall inside windows
      batch: batch(real),
      logger: nullLogger,
    });
    const blocks = new Map<number, Buffer>();
    let expected = 1;
    let inWindow = 0;
    const lastBlock = Math.floor(data.length / 512) + 1;
    t.start();
    try {
      while (expected <= lastBlock) {
        const { msg } = await peer.waitFor((m) => m.readUInt16BE(0) === 3 && m.readUInt16BE(2) === expected, 2000);
        blocks.set(expected, msg.subarray(4));
        expected++;
        if (++inWindow === windowsize || expected > lastBlock) {
          inWindow = 0;
          peer.send(Buffer.from([0, 4, ((expected - 1) >> 8) & 0xff, (expected - 1) & 0xff]), port);
        }
      }
      const outcome = await t.outcome;
      expect(outcome.ok).toBe(true);
      expect(outcome.retransmits).toBe(0);
      const got = Buffer.concat([...blocks.keys()].sort((a, b) => a - b).map((k) => blocks.get(k)!));
      expect(sha256(got)).toBe(sha256(data));
      // Every DATA packet exactly once: nothing sent twice, nothing lost between the two paths.
      expect(peer.received.filter((r) => r.msg.readUInt16BE(0) === 3).length).toBe(lastBlock);
    } finally {
      peer.close();
    }
  }

  it.each([16, 64])("sends the rest through dgram, each packet exactly once (windowsize %i)", async (w) => {
    let calls = 0;
    await transferWith(
      (real) => ({
        // Alternately: half the run, nothing (a full send buffer), everything.
        send: (p, s, c) => {
          const k = calls++ % 3;
          return k === 0 ? real.send(p, s, Math.ceil(c / 2)) : k === 1 ? 0 : real.send(p, s, c);
        },
      }),
      w,
    );
    // At least one call per window (301 blocks), so all three behaviours were used.
    expect(calls).toBeGreaterThanOrEqual(Math.max(3, Math.ceil(301 / w)));
  });
});

describe("the server on each send path, real clients on loopback", () => {
  const servers = new Map<string, TftpServer>();
  const starts: TftpTransferStartEvent[] = [];
  beforeAll(async () => {
    for (const [name, opts] of [
      ["gso", { sendPath: "gso" as const }],
      ["sendmmsg", { sendPath: "sendmmsg" as const }],
      ["dgram", { sendPath: "dgram" as const }],
      ["no-helper", { nativeAddonPath: path.join(out, "missing.node") }],
    ] as const) {
      const s = await startServer({ root: root.dir, ...opts });
      s.on("transfer-start", (e) => starts.push(e));
      servers.set(name, s);
    }
  });
  afterAll(async () => {
    for (const s of servers.values()) await s.stop();
  });

  it("reports the path it uses: the helper's when built, dgram when it is missing", () => {
    expect(servers.get("gso")!.sendPath).toBe("gso");
    expect(servers.get("sendmmsg")!.sendPath).toBe("sendmmsg");
    expect(servers.get("dgram")!.sendPath).toBe("dgram");
    expect(servers.get("no-helper")!.sendPath).toBe("dgram");
    expect(servers.get("gso")!.nativeRequestSocket).toBe(true);
    expect(servers.get("dgram")!.nativeRequestSocket).toBe(true);
    expect(servers.get("no-helper")!.nativeRequestSocket).toBe(false);
  });

  const cases = ["gso", "sendmmsg", "dgram", "no-helper"].flatMap((name) => [16, 64].map((w) => [name, w] as const));
  it.each(cases)("%s: atftp windowsize %i, blksize 1468, intact", async (name, w) => {
    const s = servers.get(name)!;
    const dest = path.join(out, `atftp-${name}-${w}`);
    const r = await run(atftp, ["--option", `windowsize ${w}`, "--option", "blksize 1468", "-g", "-r", "boot.bin", "-l", dest, "127.0.0.1", String(s.port)]);
    expect(r.status, r.out).toBe(0);
    expect(sha256File(dest)).toBe(root.files.get("boot.bin")!.sha256);
    expect(starts.filter((e) => e.path === "boot.bin").at(-1)).toMatchObject({ windowsize: w, blksize: 1468 });
  });

  it.each(["gso", "sendmmsg"])("%s: curl (lock-step, blksize 1468), intact", async (name) => {
    const dest = path.join(out, `curl-${name}`);
    const r = await run(curl, ["-sS", "--fail", "--tftp-blksize", "1468", "-o", dest, `tftp://127.0.0.1:${servers.get(name)!.port}/boot.bin`]);
    expect(r.status, r.out).toBe(0);
    expect(sha256File(dest)).toBe(root.files.get("boot.bin")!.sha256);
  });

  it.each(["gso", "sendmmsg"])(
    "%s: over 32 MiB at blksize 512, windowsize 64 (block numbers roll over)",
    async (name) => {
      const dest = path.join(out, `roll-${name}`);
      const r = await run(
        atftp,
        ["--option", "windowsize 64", "--option", "blksize 512", "-g", "-r", "roll.bin", "-l", dest, "127.0.0.1", String(servers.get(name)!.port)],
        120_000,
      );
      expect(r.status, r.out).toBe(0);
      expect(fs.statSync(dest).size).toBe(33 * 1024 * 1024 + 777);
      expect(sha256File(dest)).toBe(root.files.get("roll.bin")!.sha256);
    },
    120_000,
  );

  /** Receive buffer of the UDP socket bound to `port`, as ss reports it (the kernel doubles what was asked). */
  function receiveBuffer(port: number): number {
    const s = execFileSync("ss", ["-uamnH", "sport", "=", `:${port}`], { encoding: "utf8" });
    const m = /rb(\d+)/.exec(s);
    if (!m) throw new Error(`ss shows no socket on port ${port}: ${s}`);
    return Number(m[1]);
  }

  it("no other socket can share the request port, even with SO_REUSEADDR (libuv's is turned off again)", async () => {
    for (const name of ["gso", "no-helper"]) {
      const other = dgram.createSocket({ type: "udp4", reuseAddr: true });
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        other.once("error", (e) => resolve(e));
        other.bind(servers.get(name)!.port, "127.0.0.1", () => resolve(undefined));
      });
      other.close();
      expect(err?.code, name).toBe("EADDRINUSE");
    }
  });

  it("the request socket gets the forced 4 MiB receive buffer; without the helper the kernel default", () => {
    expect(receiveBuffer(servers.get("gso")!.port)).toBeGreaterThanOrEqual(4 << 20);
    const dflt = Number(fs.readFileSync("/proc/sys/net/core/rmem_default", "utf8"));
    expect(receiveBuffer(servers.get("no-helper")!.port)).toBe(dflt);
  });
});

describe("sendmmsg and dgram paths over a link with 5% loss each way", () => {
  let pair: NetnsPair | undefined;
  let method: LossMethod;
  let bundle: string;
  const children: ChildServer[] = [];
  const PORTS = { sendmmsg: 6971, dgram: 6972 } as const;
  const PORT_JUMBO = 6973;

  beforeAll(async () => {
    fs.chmodSync(root.base, 0o755);
    fs.chmodSync(root.dir, 0o755);
    bundle = tempDir("batch-bundle");
    const runner = buildServerBundle(bundle);
    pair = createPair();
    for (const [ns, dev] of [
      [pair.server, pair.serverDev],
      [pair.client, pair.clientDev],
    ] as const)
      method = addLoss(ns, dev, 5);
    for (const [sendPath, port] of Object.entries(PORTS)) {
      children.push(
        await startChildServer(pair.server, runner, {
          address: pair.serverIp,
          port,
          root: root.dir,
          sendPath: sendPath as "sendmmsg" | "dgram",
          timeoutMs: 200,
          maxTimeoutMs: 1000,
          maxRetries: 10,
        }),
      );
    }
    // GSO with segments larger than the veth's 1500-byte MTU is refused by the kernel
    // (EINVAL): this server must fall back to plain sendmmsg (IP fragments) by itself.
    children.push(
      await startChildServer(pair.server, runner, {
        address: pair.serverIp,
        port: PORT_JUMBO,
        root: root.dir,
        maxBlockSize: 4000,
        timeoutMs: 200,
        maxTimeoutMs: 1000,
        maxRetries: 10,
      }),
    );
  });

  afterAll(async () => {
    for (const c of children) await c.stop();
    pair?.destroy();
    if (bundle) fs.rmSync(bundle, { recursive: true, force: true });
  });

  it("each child server reports the path it was given", () => {
    expect(children.map((c) => c.sendPath)).toEqual(["sendmmsg", "dgram", "gso"]);
  });

  const cases = (["sendmmsg", "dgram"] as const).flatMap((p) => [16, 64].map((w) => [p, w] as const));
  it.each(cases)(
    "%s: atftp windowsize %i survives the loss intact",
    async (p, w) => {
      const dest = path.join(out, `lossy-${p}-${w}`);
      let r: { status: number | null; out: string };
      // atftp aborts with "unexpected OACK" when its ACK of the OACK is lost (its bug, see loss.int.test.ts).
      for (let attempt = 1; ; attempt++) {
        r = await run(
          "ip",
          [
            "netns",
            "exec",
            pair!.client,
            "atftp",
            "--tftp-timeout",
            "1",
            "--option",
            `windowsize ${w}`,
            "--option",
            "blksize 1468",
            "-g",
            "-r",
            "boot.bin",
            "-l",
            dest,
            pair!.serverIp,
            String(PORTS[p]),
          ],
          60_000,
        );
        if (r.status === 0 || attempt === 3 || !/unexpected OACK/.test(r.out)) break;
      }
      expect(r.status, r.out).toBe(0);
      expect(sha256File(dest)).toBe(root.files.get("boot.bin")!.sha256);
    },
    60_000,
  );

  it("gso: blksize 4000 (above the MTU, GSO refused) still arrives intact", async () => {
    const dest = path.join(out, "lossy-jumbo");
    let r: { status: number | null; out: string };
    for (let attempt = 1; ; attempt++) {
      r = await run(
        "ip",
        [
          "netns",
          "exec",
          pair!.client,
          "atftp",
          "--tftp-timeout",
          "1",
          "--option",
          "windowsize 16",
          "--option",
          "blksize 4000",
          "-g",
          "-r",
          "boot.bin",
          "-l",
          dest,
          pair!.serverIp,
          String(PORT_JUMBO),
        ],
        60_000,
      );
      if (r.status === 0 || attempt === 3 || !/unexpected OACK/.test(r.out)) break;
    }
    expect(r.status, r.out).toBe(0);
    expect(sha256File(dest)).toBe(root.files.get("boot.bin")!.sha256);
  }, 60_000);

  it("packets were really dropped, and the servers resent", () => {
    expect(droppedPackets(pair!.server, pair!.serverDev, method)).toBeGreaterThan(0);
    expect(droppedPackets(pair!.client, pair!.clientDev, method)).toBeGreaterThan(20);
    const resent = children
      .flatMap((c) => c.events)
      .filter((e) => e.event === "complete")
      .reduce((n, e) => n + (e.retransmits as number), 0);
    expect(resent).toBeGreaterThan(0);
  });
});
