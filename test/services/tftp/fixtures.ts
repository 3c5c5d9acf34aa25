// Shared setup for TFTP integration tests: a served root with files of known
// content, a running server on loopback, and checks that Debian tools exist.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { TftpServer, type TftpServerOptions } from "../../../src/services/tftp/server.js";

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export function sha256File(file: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
  }
  fs.closeSync(fd);
  return h.digest("hex");
}

/** Fails (never skips) when a tool is missing, naming the Debian package. */
export function requireTool(bin: string, pkg: string): string {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").concat(["/usr/sbin", "/sbin"])) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${bin} not found: install the Debian package '${pkg}' (apt-get install -y ${pkg})`);
}

export interface Root {
  dir: string;
  /** Directory holding the root plus a secret file outside it. */
  base: string;
  files: Map<string, { size: number; sha256: string }>;
  cleanup(): void;
}

/** Writes files of pseudo-random content, deterministic sizes, into a fresh root. */
export function makeRoot(sizes: Record<string, number>): Root {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mftf-root-")));
  const dir = path.join(base, "root");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(base, "secret.txt"), "TOP SECRET outside the root\n");
  const files = new Map<string, { size: number; sha256: string }>();
  for (const [name, size] of Object.entries(sizes)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    const h = createHash("sha256");
    const fd = fs.openSync(p, "w");
    let left = size;
    while (left > 0) {
      const chunk = randomBytes(Math.min(left, 1 << 20));
      fs.writeSync(fd, chunk);
      h.update(chunk);
      left -= chunk.length;
    }
    fs.closeSync(fd);
    files.set(name, { size, sha256: h.digest("hex") });
  }
  return { dir, base, files, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

export async function startServer(opts: Partial<TftpServerOptions> & { root?: string }): Promise<TftpServer> {
  const server = new TftpServer({ address: "127.0.0.1", port: 0, ...opts });
  await server.start();
  return server;
}

/** Runs a command without blocking the event loop (the server under test may live in this process). */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const status = err ? (((err as { code?: unknown }).code as number | null) ?? null) : 0;
      resolve({ status: typeof status === "number" ? status : null, out: `${stdout}${stderr}` });
    });
  });
}
