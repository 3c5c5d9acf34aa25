// The installed system's UP reporter, run for real against a loopback server: with
// curl, and with only busybox (nc). Every command it runs is wrapped to record its
// arguments: the node credential must never be on a command line, since every user
// of the installed system can read /proc/*/cmdline.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_DIGEST_FILE, NODE_CREDENTIAL_FILE, renderUpScript, upReporterFiles } from "../../src/boot/up-reporter.js";

const CRED = "Node-Cred-" + "q".repeat(33);
let server: Server;
let port = 0;
const seen: Array<{ auth: string | undefined; body: string; url: string }> = [];
const dir = mkdtempSync(join(tmpdir(), "mf-up-reporter-"));

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ auth: req.headers.authorization, body, url: req.url ?? "" });
      res.writeHead(req.headers.authorization === `Bearer ${CRED}` ? 204 : 403);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

/** A bin directory where each tool records its argv into ARGV_LOG, then runs the real one. */
function wrappedBin(name: string, tools: Record<string, string>): { bin: string; argvLog: string } {
  const bin = join(dir, name);
  mkdirSync(bin, { recursive: true });
  const argvLog = join(dir, `${name}.argv`);
  for (const [tool, real] of Object.entries(tools)) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> ${argvLog}\nexec ${real} "$@"\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  for (const t of ["cat", "sleep", "sh"]) if (!existsSync(join(bin, t))) symlinkSync("/bin/busybox", join(bin, t));
  return { bin, argvLog };
}

/** Runs the script (asynchronously: the server answering it lives in this process). */
function run(bin: string): Promise<number | null> {
  const credFile = join(dir, "node-credential");
  const digestFile = join(dir, "image");
  writeFileSync(credFile, CRED + "\n", { mode: 0o600 });
  writeFileSync(digestFile, "sha256:" + "ab".repeat(32) + "\n");
  const script = renderUpScript(`http://127.0.0.1:${port}/api/v1/installer/nodes/n01`).replaceAll(NODE_CREDENTIAL_FILE, credFile).replaceAll(IMAGE_DIGEST_FILE, digestFile);
  const file = join(dir, "report-up");
  writeFileSync(file, script, { mode: 0o700 });
  const p = spawn("/bin/busybox", ["sh", file], { env: { PATH: bin }, stdio: "ignore", timeout: 60_000 });
  return new Promise((resolve) => p.on("close", (code) => resolve(code)));
}

describe("UP reporter", () => {
  it("keeps the node credential in its own root-only file, apart from the script", () => {
    const { files } = upReporterFiles("http://h/api", CRED, "sha256:x");
    expect(files.find((f) => f.path === NODE_CREDENTIAL_FILE)).toMatchObject({ mode: "0600", content: CRED + "\n" });
    for (const f of files.filter((f) => f.path !== NODE_CREDENTIAL_FILE)) expect(f.content).not.toContain(CRED);
  });

  it("posts UP with curl, the credential read from stdin, never on a command line", async () => {
    const curl = execFileSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).trim();
    const { bin, argvLog } = wrappedBin("with-curl", { curl });
    const n = seen.length;
    expect(await run(bin)).toBe(0);
    expect(seen.slice(n).at(-1)).toMatchObject({ auth: `Bearer ${CRED}`, url: "/api/v1/installer/nodes/n01/up" });
    expect(JSON.parse(seen.at(-1)!.body)).toEqual({ image: "sha256:" + "ab".repeat(32) });
    const argv = readFileSync(argvLog, "utf8");
    expect(argv).toContain("curl ");
    expect(argv).not.toContain(CRED);
  });

  it("posts UP with busybox nc when there is no curl, the request on stdin", async () => {
    const tools = Object.fromEntries(["nc", "timeout", "head", "grep"].map((t) => [t, `/bin/busybox ${t}`]));
    const { bin, argvLog } = wrappedBin("busybox-only", tools);
    const n = seen.length;
    expect(await run(bin)).toBe(0);
    expect(seen.slice(n).at(-1)).toMatchObject({ auth: `Bearer ${CRED}`, url: "/api/v1/installer/nodes/n01/up" });
    // busybox sh runs its applets in-process (the wrappers are bypassed): check the
    // script instead — the credential is only ever an argument of printf, a builtin.
    const lines = renderUpScript("http://h/api")
      .replace(/\\\n\s*/g, " ")
      .split("\n");
    const uses = lines.map((l) => l.trim()).filter((l) => l.includes('"$token"'));
    expect(uses.length).toBe(2);
    for (const u of uses) expect(u).toMatch(/^printf /);
    expect(existsSync(argvLog) ? readFileSync(argvLog, "utf8") : "").not.toContain(CRED);
  });
});
