// Hostile input against the live server: path escapes (raw and through real
// clients) and a corpus of malformed datagrams. Nothing outside the root may come
// back, nothing on disk may change, and the server must still serve afterwards.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { encodePacket } from "../../../src/services/tftp/packet.js";
import type { TftpServer } from "../../../src/services/tftp/server.js";
import { isData, isError, rawPeer, tftpGet, type RawPeer } from "./client.js";
import { sleep } from "../../helpers/wait.js";
import { makeRoot, requireTool, run, startServer, type Root } from "./fixtures.js";

let root: Root;
let server: TftpServer;
const peers: RawPeer[] = [];
let before: string;
const SECRET = "TOP SECRET outside the root";

/** Every path under base with size and mtime: proof that nothing was written. */
function snapshot(base: string): string {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      lines.push(`${path.relative(base, p)} ${st.size} ${st.mtimeMs} ${st.mode}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(base);
  return lines.join("\n");
}

beforeAll(async () => {
  root = makeRoot({ "small.bin": 3000, "sub/f.bin": 10 });
  fs.symlinkSync(path.join(root.base, "secret.txt"), path.join(root.dir, "escape"));
  fs.symlinkSync(root.base, path.join(root.dir, "updir"));
  fs.symlinkSync("/etc", path.join(root.dir, "etc-link"));
  execFileSync("mkfifo", [path.join(root.dir, "fifo")]);
  // Retransmission is not under test here: a roomy timeout keeps a transfer alive while a loaded
  // machine drains the garbage corpus before it reads the client's ACK.
  server = await startServer({ root: root.dir, timeoutMs: 1000, maxRetries: 4 });
  before = snapshot(root.base);
});

afterAll(async () => {
  for (const p of peers) p.close();
  await server?.stop();
  root?.cleanup();
});

async function peer(): Promise<RawPeer> {
  const p = await rawPeer();
  peers.push(p);
  return p;
}

const rrqBytes = (filename: string) => Buffer.concat([Buffer.from([0, 1]), Buffer.from(filename, "utf8"), Buffer.from([0]), Buffer.from("octet\0")]);

const noSecret = (p: RawPeer) => {
  for (const r of p.received) expect(r.msg.toString("latin1")).not.toContain(SECRET);
  for (const r of p.received) expect(r.msg.toString("latin1")).not.toContain("root:x:0:0");
};

describe("path escapes", () => {
  it.each([
    ["../secret.txt", [2]],
    ["../../../../../../etc/passwd", [2]],
    ["sub/../../secret.txt", [2]],
    ["/../secret.txt", [2]],
    ["..\\secret.txt", [2]],
    ["//etc/passwd", [2]],
    ["/etc/passwd", [1]], // read as ROOT/etc/passwd, which does not exist
    ["etc-link/passwd", [2]],
    ["%2e%2e/secret.txt", [1]],
    ["%2e%2e%2fsecret.txt", [1]],
    ["escape", [2]],
    ["updir/secret.txt", [2]],
    ["/proc/self/environ", [1]],
    ["sub", [1]],
    ["fifo", [1]],
    ["sub/f.bin\u0001", [2]],
    ["sub\n/f.bin", [2]],
    ["\u007f", [2]],
    ["a".repeat(2000), [2]],
  ])("%j → ERROR %j, no data", async (name, codes) => {
    const p = await peer();
    p.send(rrqBytes(name), server.port);
    const r = await p.waitFor(isError());
    expect(codes).toContain(r.msg.readUInt16BE(2));
    await sleep(30);
    expect(p.received.some((x) => x.msg.readUInt16BE(0) === 3)).toBe(false);
    noSecret(p);
  });

  it("a NUL inside the name ends it: 'small.bin\\0../secret.txt' is refused or dropped, never served", async () => {
    const p = await peer();
    p.send(Buffer.from("\0\x01small.bin\0../secret.txt\0octet\0", "latin1"), server.port);
    p.send(Buffer.from("\0\x01../secret.txt\0small.bin\0octet\0", "latin1"), server.port);
    p.send(Buffer.from("\0\x01small.bin\0octet\0../secret.txt\0", "latin1"), server.port);
    await sleep(300);
    expect(p.received.some((x) => x.msg.readUInt16BE(0) === 3)).toBe(false);
    noSecret(p);
  });

  it("curl --path-as-is and tftp-hpa cannot fetch ../secret.txt or /etc/passwd", async () => {
    const curl = requireTool("curl", "curl");
    const tftp = requireTool("tftp", "tftp-hpa");
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "mftf-esc-"));
    try {
      for (const f of ["../secret.txt", "..%2fsecret.txt", "/etc/passwd"]) {
        const dest = path.join(out, "c");
        const r = await run(curl, ["-sS", "--fail", "--path-as-is", "-o", dest, `tftp://127.0.0.1:${server.port}/${f}`]);
        expect(r.status, f).not.toBe(0);
        if (fs.existsSync(dest)) expect(fs.readFileSync(dest, "latin1")).not.toMatch(/SECRET|root:x:0/);
      }
      for (const f of ["../secret.txt", "/etc/passwd", "escape"]) {
        const dest = path.join(out, "h");
        await run(tftp, ["-m", "binary", "127.0.0.1", String(server.port), "-c", "get", f, dest]);
        if (fs.existsSync(dest)) expect(fs.readFileSync(dest, "latin1")).not.toMatch(/SECRET|root:x:0/);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("malformed datagrams", () => {
  function corpus(): Buffer[] {
    const c: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0]),
      Buffer.from([1]),
      Buffer.from([0, 1]),
      Buffer.from([0, 1, 0x61]),
      Buffer.from([0, 1, 0x61, 0]),
      Buffer.from([0, 0]),
      Buffer.from([0, 7, 1, 2]),
      Buffer.from([0xff, 0xff, 0, 0]),
      Buffer.from([0, 3]),
      Buffer.from([0, 4, 0]),
      Buffer.from([0, 5, 0]),
      Buffer.from("\0\x01\xff\xfe\0octet\0", "latin1"), // invalid UTF-8
      Buffer.from("\0\x01small.bin\0octet\0blksize\0", "latin1"), // option without value
      Buffer.from("\0\x01small.bin\0octet", "latin1"), // no final NUL
      encodePacket({ op: "data", block: 1, data: Buffer.from("x") }),
      encodePacket({ op: "ack", block: 0 }),
      encodePacket({ op: "error", code: 1, message: "x" }),
      encodePacket({ op: "oack", options: [{ name: "blksize", value: "8" }] }),
      Buffer.alloc(65000, 0xff),
      Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(60000, 0x41)]),
    ];
    // Deterministic pseudo-random datagrams.
    let seed = 0x5eed;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 400; i++) {
      const len = rnd() % 64;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd();
      if (i % 2 === 0 && len >= 2) b[0] = 0; // half of them with a plausible opcode byte
      c.push(b);
    }
    return c;
  }

  it("the request port drops them all without answering (nothing to reflect)", async () => {
    const p = await peer();
    for (const b of corpus()) p.send(b, server.port);
    await sleep(300);
    // Only well-formed but refused packets may get an answer; none of these is a valid RRQ.
    for (const r of p.received) expect(r.msg.readUInt16BE(0)).toBe(5);
    noSecret(p);
  });

  it("survives requests with absurd options and a huge option list", async () => {
    const opts = [
      { blksize: "99999999999", windowsize: "-1", tsize: "abc", timeout: "0" },
      { blksize: "7", windowsize: "0", timeout: "256" },
      Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`opt${i}`, String(i)])),
    ];
    for (const o of opts) {
      const r = await tftpGet({ host: "127.0.0.1", port: server.port, file: "small.bin", options: o });
      expect(r.ok).toBe(true);
      expect(r.sha256).toBe(root.files.get("small.bin")!.sha256);
    }
  });

  it("a transfer ignores garbage from its own client and finishes", async () => {
    const p = await peer();
    p.send(encodePacket({ op: "rrq", filename: "small.bin", mode: "octet", options: [] }), server.port);
    const first = await p.waitFor(isData(1));
    // An ERROR from the client legitimately ends the transfer, and a valid ACK moves it: leave those out.
    const opcode = (b: Buffer) => (b.length >= 2 ? b.readUInt16BE(0) : -1);
    for (const b of corpus().filter((b) => opcode(b) !== 4 && opcode(b) !== 5)) p.send(b, first.port);
    // Let the server drain its socket: the 64 KB datagrams can overflow the receive buffer and drop our ACK.
    await sleep(100);
    for (let block = 1; block <= 6; block++) {
      await p.waitFor(isData(block));
      p.send(encodePacket({ op: "ack", block }), first.port);
    }
  });

  it("datagrams from source port 0 (crafted on a raw socket) are dropped, not answered and not fatal", async () => {
    const python = requireTool("python3", "python3");
    const p = await peer();
    p.send(encodePacket({ op: "rrq", filename: "sub/f.bin", mode: "octet", options: [] }), server.port);
    const first = await p.waitFor(isData(1));
    // UDP header with source port 0, checksum 0 (none); the kernel adds the IP header.
    const script = `
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
for port in map(int, sys.argv[1:]):
    for payload in (b"\\x00\\x01sub/f.bin\\x00octet\\x00", b"\\x00\\x02new\\x00octet\\x00", b"\\x00\\x04\\x00\\x01"):
        s.sendto(struct.pack("!HHHH", 0, port, 8 + len(payload), 0) + payload, ("127.0.0.1", 0))
`;
    const r = await run(python, ["-c", script, String(server.port), String(first.port)]);
    expect(r.status, r.out).toBe(0);
    await sleep(100);
    p.send(encodePacket({ op: "ack", block: 1 }), first.port);
    await p.waitFor(isData(2)).catch(() => undefined); // 10-byte file: block 1 was the last
    const again = await tftpGet({ host: "127.0.0.1", port: server.port, file: "sub/f.bin" });
    expect(again.ok).toBe(true);
  });

  it("nothing on disk changed and the server still serves", async () => {
    expect(snapshot(root.base)).toBe(before);
    expect(fs.readFileSync(path.join(root.base, "secret.txt"), "utf8")).toContain(SECRET);
    const r = await tftpGet({ host: "127.0.0.1", port: server.port, file: "small.bin", options: { blksize: 1468 } });
    expect(r.ok).toBe(true);
    expect(r.sha256).toBe(root.files.get("small.bin")!.sha256);
  });
});
