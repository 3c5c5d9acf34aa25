// The HTTP boot server on loopback, talked to by the real curl (and a raw socket
// for the slow client).

import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerToken, tokensEqual } from "../../../src/services/http/auth.js";
import { HttpError } from "../../../src/services/http/routes.js";
import { bootScriptPath, filePath, HttpBootServer, type HttpBootServerEvents } from "../../../src/services/http/server.js";
import { memorySink, createLogger, type LogRecord } from "../../../src/util/log.js";
import { waitFor } from "../../helpers/wait.js";
import { curl } from "./curl.js";

const MAC = "52:54:00:12:34:56";
const SCRIPT = "#!ipxe\nkernel http://10.0.0.1/files/kernels/vmlinuz\nboot\n";
const SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT";
const TOKEN = "node01-token-abc";

let dir: string;
let server: HttpBootServer;
let base: string;
let kernel: Buffer;
const logs: LogRecord[] = [];
const scriptsServed: HttpBootServerEvents["script-served"][0][] = [];
const filesServed: HttpBootServerEvents["file-served"][0][] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "mfhr-http-"));
  const kernels = path.join(dir, "kernels");
  await mkdir(path.join(kernels, "sub"), { recursive: true });
  kernel = randomBytes(3 * 1024 * 1024 + 17);
  await writeFile(path.join(kernels, "vmlinuz"), kernel);
  await writeFile(path.join(kernels, "empty"), "");
  await writeFile(path.join(kernels, "sub", "initrd.img"), "initrd-bytes");
  await writeFile(path.join(dir, "secret"), SECRET);
  await symlink(path.join(dir, "secret"), path.join(kernels, "escape-link"));
  await symlink("..", path.join(kernels, "sub", "up")); // stays inside: kernels/sub/up -> kernels
  await symlink("../..", path.join(kernels, "sub", "way-up")); // leaves the root
  server = new HttpBootServer({
    address: "127.0.0.1",
    port: 0,
    scripts: (mac) => (mac === MAC ? SCRIPT : undefined),
    roots: { kernels },
    headersTimeoutMs: 1000,
    requestTimeoutMs: 2000,
    maxBodyBytes: 1024,
    logger: createLogger({ component: "http", level: "debug", sink: memorySink(logs) }),
  });
  server.on("script-served", (e) => scriptsServed.push(e));
  server.on("file-served", (e) => filesServed.push(e));
  server.addRoute("POST", "/api/v1/report", async (ctx) => {
    if (!tokensEqual(bearerToken(ctx.headers), TOKEN)) throw new HttpError(403, "bad token");
    const body = (await ctx.json()) as { phase?: string };
    return { status: 200, json: { node: ctx.subpath.slice(1), phase: body.phase } };
  });
  await server.start();
  base = server.baseUrl;
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("iPXE scripts", () => {
  it("serves a known node's script and reports it", async () => {
    const before = scriptsServed.length;
    const r = await curl([base + bootScriptPath(MAC)]);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(SCRIPT);
    expect(r.headers["content-length"]).toBe(String(Buffer.byteLength(SCRIPT)));
    expect(scriptsServed.slice(before)).toEqual([{ mac: MAC, remote: "127.0.0.1" }]);
  });
  it("accepts upper case and hyphens in the MAC", async () => {
    const r = await curl([`${base}/boot/52-54-00-12-34-56.ipxe`]);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(SCRIPT);
  });
  it("answers 404 for unknown MACs and non-MACs", async () => {
    expect((await curl([base + bootScriptPath("52:54:00:00:00:01")])).status).toBe(404);
    expect((await curl([`${base}/boot/../../etc/passwd.ipxe`])).status).toBe(404);
    expect((await curl([`${base}/boot/${MAC}`])).status).toBe(404);
  });
});

describe("files", () => {
  it("serves a whole file with Content-Length and reports the bytes", async () => {
    const before = filesServed.length;
    const r = await curl([base + filePath("kernels", "vmlinuz")]);
    expect(r.status).toBe(200);
    expect(r.headers["content-length"]).toBe(String(kernel.length));
    expect(r.headers["accept-ranges"]).toBe("bytes");
    expect(Buffer.compare(r.body, kernel)).toBe(0);
    await waitFor("the file-served event", () => filesServed.length > before, 3000, 10);
    expect(filesServed[before]).toMatchObject({ path: "kernels/vmlinuz", root: "kernels", bytes: kernel.length, status: 200, complete: true, remote: "127.0.0.1" });
  });
  it("serves files in subdirectories and through symlinks that stay inside", async () => {
    expect((await curl([`${base}/files/kernels/sub/initrd.img`])).body.toString()).toBe("initrd-bytes");
    const r = await curl([`${base}/files/kernels/sub/up/sub/initrd.img`]);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("initrd-bytes");
  });
  it("answers HEAD with the length and no body", async () => {
    const r = await curl(["-I", `${base}/files/kernels/vmlinuz`]);
    expect(r.status).toBe(200);
    expect(r.headers["content-length"]).toBe(String(kernel.length));
    expect(r.body.length).toBe(0);
  });
  it("serves a single Range with 206", async () => {
    const r = await curl(["-r", "1000-1999", `${base}/files/kernels/vmlinuz`]);
    expect(r.status).toBe(206);
    expect(r.headers["content-range"]).toBe(`bytes 1000-1999/${kernel.length}`);
    expect(r.headers["content-length"]).toBe("1000");
    expect(Buffer.compare(r.body, kernel.subarray(1000, 2000))).toBe(0);
    const tail = await curl(["-r", "-100", `${base}/files/kernels/vmlinuz`]);
    expect(tail.status).toBe(206);
    expect(Buffer.compare(tail.body, kernel.subarray(kernel.length - 100))).toBe(0);
  });
  it("answers 416 for a range past the end", async () => {
    const r = await curl(["-r", `${kernel.length}-`, `${base}/files/kernels/vmlinuz`]);
    expect(r.status).toBe(416);
    expect(r.headers["content-range"]).toBe(`bytes */${kernel.length}`);
  });
  it("serves an empty file", async () => {
    const r = await curl([`${base}/files/kernels/empty`]);
    expect(r.status).toBe(200);
    expect(r.headers["content-length"]).toBe("0");
  });
  it("answers 404 for missing files, directories and unknown roots", async () => {
    for (const p of ["/files/kernels/nope", "/files/kernels/sub", "/files/kernels/sub/", "/files/initrds/vmlinuz", "/files/", "/nothing-here"]) {
      const r = await curl([base + p]);
      expect(r.status, p).toBe(404);
    }
  });
  it("refuses every path escape and never leaks the file outside the root", async () => {
    const escapes = [
      "/files/kernels/../secret",
      "/files/kernels/%2e%2e/secret",
      "/files/kernels/%2E%2e/secret",
      "/files/kernels/..%2fsecret",
      "/files/kernels/..%2Fsecret",
      "/files/kernels/..%5csecret",
      "/files/kernels/%00",
      "/files/kernels/vmlinuz%00.txt",
      "/files/kernels//" + path.join(dir, "secret").slice(1),
      "/files/kernels/escape-link",
      "/files/kernels/sub/way-up/secret",
      "/files/kernels/sub/way-up/" + path.basename(dir) + "/secret",
    ];
    for (const p of escapes) {
      const r = await curl([base + p]);
      expect([400, 403, 404], p).toContain(r.status);
      expect(r.body.toString()).not.toContain(SECRET);
    }
    // The symlink escape is recognized as such, not mistaken for a missing file.
    expect((await curl([`${base}/files/kernels/escape-link`])).status).toBe(403);
    expect(logs.some((l) => l.event === "path-refused")).toBe(true);
  });
});

describe("API mount", () => {
  it("routes to a mounted handler with token auth", async () => {
    const url = `${base}/api/v1/report/node01`;
    const ok = await curl(["-X", "POST", "-H", `Authorization: Bearer ${TOKEN}`, "-H", "Content-Type: application/json", "--data", '{"phase":"disks"}', url]);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString())).toEqual({ node: "node01", phase: "disks" });
    const bad = await curl(["-X", "POST", "-H", "Authorization: Bearer wrong", "--data", "{}", url]);
    expect(bad.status).toBe(403);
    const none = await curl(["-X", "POST", "--data", "{}", url]);
    expect(none.status).toBe(403);
    const wrongMethod = await curl([url]);
    expect(wrongMethod.status).toBe(405);
  });
  it("bounds request bodies", async () => {
    const r = await curl(["-X", "POST", "-H", `Authorization: Bearer ${TOKEN}`, "--data", "x".repeat(5000), `${base}/api/v1/report/n`]);
    expect(r.status).toBe(413);
    const notJson = await curl(["-X", "POST", "-H", `Authorization: Bearer ${TOKEN}`, "--data", "{nope", `${base}/api/v1/report/n`]);
    expect(notJson.status).toBe(400);
  });
});

describe("bounded clients", () => {
  it("refuses an oversized request head", async () => {
    const r = await curl(["-H", "X-Big: " + "a".repeat(20_000), `${base}/files/kernels/empty`]);
    expect(r.status).toBe(431);
  });
  it("refuses an overlong URL", async () => {
    const r = await curl([`${base}/files/kernels/${"a".repeat(3000)}`]);
    expect(r.status).toBe(414);
  });
  it("closes a client that sends its request too slowly, and keeps serving others", async () => {
    const started = Date.now();
    const sock = net.connect(server.port, "127.0.0.1");
    await new Promise<void>((res, rej) => sock.once("connect", res).once("error", rej));
    const head = "GET /files/kernels/vmlinuz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let i = 0;
    const timer = setInterval(() => {
      if (!sock.destroyed) sock.write(head[i++ % head.length] ?? "a");
    }, 100);
    // Meanwhile another client is served at once.
    const other = await curl([`${base}/files/kernels/sub/initrd.img`]);
    expect(other.status).toBe(200);
    const closedAfter = await new Promise<number>((resolve) => {
      sock.on("error", () => undefined);
      sock.on("close", () => resolve(Date.now() - started));
    });
    clearInterval(timer);
    // headersTimeout 1 s plus Node's check interval: well under 5 s, and not instantly.
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(5000);
  });
});

describe("slow readers and aborted downloads", () => {
  it("drops a client that stops reading, and reports the download as incomplete", async () => {
    const big = path.join(dir, "big");
    await mkdir(big, { recursive: true });
    const size = 64 * 1024 * 1024;
    await writeFile(path.join(big, "sparse.img"), "");
    await import("node:fs/promises").then((fs) => fs.truncate(path.join(big, "sparse.img"), size));
    const s = new HttpBootServer({ address: "127.0.0.1", port: 0, scripts: () => undefined, roots: { big }, idleTimeoutMs: 1000 });
    const events: HttpBootServerEvents["file-served"][0][] = [];
    s.on("file-served", (e) => events.push(e));
    await s.start();
    try {
      const started = Date.now();
      const sock = net.connect(s.port, "127.0.0.1");
      sock.on("error", () => undefined);
      await new Promise<void>((res) => sock.once("connect", res));
      sock.write("GET /files/big/sparse.img HTTP/1.1\r\nHost: x\r\n\r\n");
      sock.pause(); // never read: the server's writes stall once the buffers are full
      // A paused client socket never notices the close; the server's report does.
      await waitFor("an event", () => events.length > 0, 8000, 10);
      const closedAfter = Date.now() - started;
      sock.destroy();
      expect(closedAfter).toBeGreaterThanOrEqual(900);
      expect(closedAfter).toBeLessThan(6000);
      expect(events[0]).toMatchObject({ path: "big/sparse.img", status: 200, complete: false });
      expect(events[0]!.bytes).toBeLessThan(size);
      // The server is still healthy.
      const r = await curl(["-r", "0-9", `${s.baseUrl}/files/big/sparse.img`]);
      expect(r.status).toBe(206);
      expect(r.body).toEqual(Buffer.alloc(10));
    } finally {
      await s.stop();
    }
  });
});

describe("lifecycle", () => {
  it("fails to start with a clear message when the port is taken", async () => {
    const other = new HttpBootServer({ address: "127.0.0.1", port: server.port, scripts: () => undefined });
    await expect(other.start()).rejects.toThrow(`HTTP server cannot listen on 127.0.0.1:${server.port}: the port is already in use`);
  });
  it("stops and frees the port", async () => {
    const s = new HttpBootServer({ address: "127.0.0.1", port: 0, scripts: () => "x" });
    await s.start();
    const port = s.port;
    expect((await curl([`http://127.0.0.1:${port}${bootScriptPath(MAC)}`])).status).toBe(200);
    await s.stop();
    const again = new HttpBootServer({ address: "127.0.0.1", port, scripts: () => "y" });
    await again.start();
    expect((await curl([`http://127.0.0.1:${port}${bootScriptPath(MAC)}`])).body.toString()).toBe("y");
    await again.stop();
  });
});
