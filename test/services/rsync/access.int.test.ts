// Restricted image modules on the real rsync daemon, talked to by the real rsync
// client from two loopback addresses: 127.0.0.1 is the installing node, 127.0.0.2 a
// stranger. Only the node's user, with its password, from its address, gets the
// image; nobody sees the module in a listing; a reload that ends the install ends
// the access (an old password is refused). Every refusal is in the daemon's log with
// the remote address, and no log line holds a password.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RsyncModule } from "../../../src/services/rsync/config.js";
import { RsyncDaemon } from "../../../src/services/rsync/daemon.js";
import { createLogger, memorySink, type LogRecord } from "../../../src/util/log.js";

const PW = "Rsync-Pw-" + "k".repeat(30);
let dir = "";
let image = "";
let daemon: RsyncDaemon;
let port = 0;
const logs: LogRecord[] = [];

function rsync(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // stdin closed: a client asked for a password it was not given fails instead of waiting.
    const p = execFile("rsync", args, { timeout: 60_000, env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    p.stdin?.end();
  });
}

const modules = (access: RsyncModule["access"]): RsyncModule[] => [{ name: "img-sim", path: image, access }];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "mf-rsync-access-"));
  image = path.join(dir, "image");
  await mkdir(path.join(image, "etc"), { recursive: true });
  await writeFile(path.join(image, "etc/secret-config"), "image content\n");
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  daemon = new RsyncDaemon({
    address: "0.0.0.0",
    port,
    runDir: path.join(dir, "run"),
    modules: modules([{ user: "n01", password: PW, host: "127.0.0.1" }]),
    logger: createLogger({ component: "rsync", level: "debug", sink: memorySink(logs) }),
  });
  await daemon.start();
}, 30_000);

afterAll(async () => {
  await daemon?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const url = (user?: string) => `rsync://${user ? `${user}@` : ""}127.0.0.1:${port}/img-sim/`;

describe("restricted image modules", () => {
  it("the installing node's user, password and address get the image", async () => {
    const dest = path.join(dir, "ok");
    const r = await rsync(["-a", "--address=127.0.0.1", url("n01"), dest + "/"], { RSYNC_PASSWORD: PW });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(dest, "etc/secret-config"), "utf8")).toBe("image content\n");
  });

  it("refuses a stranger's address even with the password, a wrong password, no user, and lists nothing", async () => {
    const stranger = await rsync(["-a", "--address=127.0.0.2", url("n01"), path.join(dir, "s1") + "/"], { RSYNC_PASSWORD: PW });
    expect(stranger.code).not.toBe(0);
    const wrong = await rsync(["-a", "--address=127.0.0.1", url("n01"), path.join(dir, "s2") + "/"], { RSYNC_PASSWORD: "x".repeat(40) });
    expect(wrong.code).not.toBe(0);
    // Without a user rsync logs in as the local user name (root here); it is not in the module's list.
    const anonymous = await rsync(["-a", "--address=127.0.0.1", url(), path.join(dir, "s3") + "/"], { RSYNC_PASSWORD: PW });
    expect(anonymous.code).not.toBe(0);
    const list = await rsync(["--address=127.0.0.2", `rsync://127.0.0.1:${port}/`], { RSYNC_PASSWORD: PW });
    expect(list.stdout).not.toContain("img-sim");
    const listNode = await rsync(["--address=127.0.0.1", `rsync://127.0.0.1:${port}/`], { RSYNC_PASSWORD: PW });
    expect(listNode.stdout).not.toContain("img-sim");
  });

  it("ends with the install: the old password is refused after the reload", async () => {
    await daemon.reload(modules([]));
    const replay = await rsync(["-a", "--address=127.0.0.1", url("n01"), path.join(dir, "s4") + "/"], { RSYNC_PASSWORD: PW });
    expect(replay.code).not.toBe(0);
    // rsync hides an unlisted module from those it refuses: "Unknown module".
    expect(replay.stderr).toMatch(/denied|auth|unknown module/i);
  });

  it("each refusal is logged with the remote address, never a password", async () => {
    await new Promise((r) => setTimeout(r, 500)); // the log is tailed every 100 ms
    const lines = logs.filter((l) => l.event === "rsyncd").map((l) => String(l.fields.message));
    expect(lines.some((l) => /denied/.test(l) && l.includes("127.0.0.2"))).toBe(true);
    expect(lines.some((l) => /auth failed|password mismatch/.test(l) && l.includes("127.0.0.1"))).toBe(true);
    expect(JSON.stringify(logs)).not.toContain(PW);
    expect(await readFile(path.join(dir, "run", "rsyncd.conf"), "utf8")).not.toContain(PW);
  });
});
