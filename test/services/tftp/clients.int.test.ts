// Real Debian TFTP clients against metalform's server on loopback: curl, atftp
// (RFC 7440 windowsize) and tftp-hpa. Each download is compared by sha256, and the
// server's transfer-start event shows what was actually negotiated.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TftpServer, TftpTransferStartEvent } from "../../../src/services/tftp/server.js";
import { makeRoot, requireTool, run, sha256File, startServer, type Root } from "./fixtures.js";

let root: Root;
let server: TftpServer;
let out: string;
const starts: TftpTransferStartEvent[] = [];
let curl: string, atftp: string, tftp: string;

beforeAll(async () => {
  curl = requireTool("curl", "curl");
  atftp = requireTool("atftp", "atftp");
  tftp = requireTool("tftp", "tftp-hpa");
  root = makeRoot({ "boot/kernel.bin": 3_000_000, "tiny.txt": 700, "rollover.bin": 33 * 1024 * 1024 + 4321 });
  out = fs.mkdtempSync(path.join(os.tmpdir(), "mftf-out-"));
  server = await startServer({ root: root.dir });
  server.on("transfer-start", (e) => starts.push(e));
});

afterAll(async () => {
  await server?.stop();
  root?.cleanup();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

const url = (file: string) => `tftp://127.0.0.1:${server.port}/${file}`;

function lastStart(file: string): TftpTransferStartEvent {
  const s = starts.filter((e) => e.path === file).at(-1);
  if (!s) throw new Error(`no transfer-start for ${file}`);
  return s;
}

describe("curl", () => {
  it.each([512, 1468])("downloads with --tftp-blksize %i", async (blksize) => {
    const dest = path.join(out, `curl-${blksize}`);
    const r = await run(curl, ["-sS", "--fail", "--tftp-blksize", String(blksize), "-o", dest, url("boot/kernel.bin")]);
    expect(r.status, r.out).toBe(0);
    expect(sha256File(dest)).toBe(root.files.get("boot/kernel.bin")!.sha256);
    expect(lastStart("boot/kernel.bin").blksize).toBe(blksize);
  });

  it("gets a TFTP error for a missing file", async () => {
    const r = await run(curl, ["-sS", "--fail", "-o", path.join(out, "nope"), url("nope.bin")]);
    expect(r.status, r.out).toBe(68); // CURLE_TFTP_NOTFOUND: curl decoded our ERROR 1
  });
});

describe("atftp", () => {
  it.each([
    [1, 1468],
    [16, 1468],
    [64, 1468],
    [16, 512],
    [4, 8192],
  ])("downloads with windowsize %i, blksize %i", async (windowsize, blksize) => {
    const dest = path.join(out, `atftp-${windowsize}-${blksize}`);
    const r = await run(atftp, [
      "--option",
      `windowsize ${windowsize}`,
      "--option",
      `blksize ${blksize}`,
      "--option",
      "tsize 0",
      "-g",
      "-r",
      "boot/kernel.bin",
      "-l",
      dest,
      "127.0.0.1",
      String(server.port),
    ]);
    expect(r.status, r.out).toBe(0);
    expect(sha256File(dest)).toBe(root.files.get("boot/kernel.bin")!.sha256);
    const s = lastStart("boot/kernel.bin");
    // blksize 8192 is above the default cap of 1468: the server grants 1468.
    expect(s).toMatchObject({ windowsize, blksize: Math.min(blksize, 1468) });
  });

  it("fetches a file over 32 MiB at blksize 512 intact (block numbers roll over)", async () => {
    const dest = path.join(out, "atftp-rollover");
    const r = await run(atftp, ["--option", "blksize 512", "--option", "windowsize 16", "-g", "-r", "rollover.bin", "-l", dest, "127.0.0.1", String(server.port)], 120_000);
    expect(r.status, r.out).toBe(0);
    expect(fs.statSync(dest).size).toBe(33 * 1024 * 1024 + 4321);
    expect(sha256File(dest)).toBe(root.files.get("rollover.bin")!.sha256);
    expect(lastStart("rollover.bin").blksize).toBe(512);
  }, 120_000);
});

describe("tftp-hpa", () => {
  it("downloads in binary mode", async () => {
    const dest = path.join(out, "hpa-kernel");
    const r = await run(tftp, ["-m", "binary", "127.0.0.1", String(server.port), "-c", "get", "boot/kernel.bin", dest]);
    expect(r.status, r.out).toBe(0);
    expect(sha256File(dest)).toBe(root.files.get("boot/kernel.bin")!.sha256);
  });

  it("downloads in ascii (netascii) mode, converting line ends back", async () => {
    fs.writeFileSync(path.join(root.dir, "lines.txt"), "one\ntwo\r\nthree\n");
    const dest = path.join(out, "hpa-lines");
    const r = await run(tftp, ["-m", "ascii", "127.0.0.1", String(server.port), "-c", "get", "lines.txt", dest]);
    expect(r.status, r.out).toBe(0);
    expect(fs.readFileSync(dest, "latin1")).toBe("one\ntwo\r\nthree\n");
  });
});
