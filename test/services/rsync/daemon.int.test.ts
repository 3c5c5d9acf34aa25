// The real rsync daemon started by RsyncDaemon, talked to by the real rsync client.

import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderRsyncdConf } from "../../../src/services/rsync/config.js";
import { RsyncDaemon } from "../../../src/services/rsync/daemon.js";
import { createLogger, memorySink, type LogRecord } from "../../../src/util/log.js";
import { freePort } from "../../helpers/ports.js";

let dir: string;
let image: string;
let daemon: RsyncDaemon;
let port: number;
const logs: LogRecord[] = [];

function rsync(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile("rsync", args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(new Error("rsync is not installed: apt-get install -y rsync (Debian package rsync)"));
      }
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Every entry of a tree: type, mode, owner, size, content hash, link target, hard-link group. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  async function walk(rel: string) {
    const abs = path.join(root, rel);
    const st = await lstat(abs);
    let desc = `mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid}`;
    if (st.isSymbolicLink()) desc += ` -> ${await readlink(abs)}`;
    else if (st.isFile()) {
      desc += ` size=${st.size} sha=${createHash("sha256")
        .update(await readFile(abs))
        .digest("hex")
        .slice(0, 16)}`;
      if (st.nlink > 1) {
        const first = inodes.get(st.ino);
        if (first) desc += ` hardlink-of=${first}`;
        else inodes.set(st.ino, rel);
      }
    } else if (st.isDirectory()) {
      for (const name of (await readdir(abs)).sort()) await walk(path.join(rel, name));
    }
    if (rel !== "") out[rel] = desc;
  }
  await walk("");
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "mfhr-rsync-"));
  image = path.join(dir, "images", "compute");
  await mkdir(path.join(image, "etc", "ssh"), { recursive: true });
  await mkdir(path.join(image, "usr", "bin"), { recursive: true });
  await mkdir(path.join(image, "var", "empty"), { recursive: true });
  await writeFile(path.join(image, "etc", "hostname"), "image\n");
  await writeFile(path.join(image, "etc", "ssh", "ssh_host_key"), "private\n", { mode: 0o600 });
  await chown(path.join(image, "etc", "ssh", "ssh_host_key"), 4321, 8765); // readable by root only
  await writeFile(path.join(image, "usr", "bin", "tool"), randomBytes(2 * 1024 * 1024));
  await chmod(path.join(image, "usr", "bin", "tool"), 0o4755);
  await link(path.join(image, "usr", "bin", "tool"), path.join(image, "usr", "bin", "tool-alias"));
  await symlink("../usr/bin/tool", path.join(image, "etc", "tool-link"));
  await symlink("/etc/passwd", path.join(image, "etc", "absolute-link")); // must arrive as is, not followed
  await writeFile(path.join(image, "etc", "with space"), "x");
  await chown(path.join(image, "var", "empty"), 1234, 1234);
  await chmod(path.join(image, "var", "empty"), 0o1777);

  port = await freePort();
  daemon = new RsyncDaemon({
    address: "127.0.0.1",
    port,
    modules: [{ name: "compute", path: image, comment: "compute image" }],
    logger: createLogger({ component: "rsync", level: "debug", sink: memorySink(logs) }),
  });
  await daemon.start();
});

afterAll(async () => {
  await daemon?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("rsync daemon", () => {
  it("lists its modules", async () => {
    const r = await rsync([`rsync://127.0.0.1:${port}/`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^compute\s+compute image$/m);
  });

  it("copies an image intact: modes, owners, symlinks, hard links, contents", async () => {
    const dest = path.join(dir, "dest");
    const r = await rsync(["-aHAX", "--numeric-ids", `rsync://127.0.0.1:${port}/compute/`, dest + "/"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const want = await snapshot(image);
    const got = await snapshot(dest);
    expect(Object.keys(want).length).toBeGreaterThan(8);
    expect(got).toEqual(want);
    expect(got["etc/ssh/ssh_host_key"]).toContain("uid=4321 gid=8765");
    expect(got["usr/bin/tool-alias"]).toContain("hardlink-of=usr/bin/tool");
    expect(got["etc/absolute-link"]).toContain("-> /etc/passwd");
  });

  it("refuses uploads", async () => {
    const local = path.join(dir, "upload.txt");
    await writeFile(local, "should never arrive");
    const r = await rsync([local, `rsync://127.0.0.1:${port}/compute/`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/module is read only/);
    await expect(lstat(path.join(image, "upload.txt"))).rejects.toThrow(/ENOENT/);
  });

  it("serves a changed module set after reload without a restart", async () => {
    const pid = daemon.pid;
    const other = path.join(dir, "images", "login");
    await mkdir(other, { recursive: true });
    await writeFile(path.join(other, "motd"), "login node\n");
    await daemon.reload([{ name: "login", path: other }]);
    const list = await rsync([`rsync://127.0.0.1:${port}/`]);
    expect(list.stdout).toMatch(/^login\b/m);
    expect(list.stdout).not.toMatch(/^compute\b/m);
    const gone = await rsync([`rsync://127.0.0.1:${port}/compute/`]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/Unknown module 'compute'/);
    expect(daemon.pid).toBe(pid);
    await daemon.reload([{ name: "compute", path: image, comment: "compute image" }]);
    expect((await rsync([`rsync://127.0.0.1:${port}/`])).stdout).toMatch(/^compute\b/m);
  });

  it("captures the daemon's log into the logger", () => {
    expect(logs.some((l) => l.event === "rsyncd" && /module-list request/.test(String(l.fields.message)))).toBe(true);
    expect(logs.some((l) => l.event === "listening" && l.fields.port === port)).toBe(true);
  });

  it("fails to start with a clear error when the port is taken", async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const taken = (holder.address() as net.AddressInfo).port;
    const d = new RsyncDaemon({ address: "127.0.0.1", port: taken, modules: [{ name: "compute", path: image }] });
    try {
      await expect(d.start()).rejects.toThrow(`rsync daemon cannot listen on 127.0.0.1:${taken}: the port is already in use by another program`);
      expect(d.pid).toBeUndefined();
    } finally {
      await d.stop();
      holder.close();
    }
  });

  it("names the Debian package when rsync is missing", async () => {
    const d = new RsyncDaemon({ address: "127.0.0.1", port: await freePort(), modules: [], rsyncPath: "/nonexistent/rsync" });
    await expect(d.start()).rejects.toThrow(/Debian package rsync/);
    await d.stop();
  });

  it("stops the daemon and frees the port", async () => {
    const p = await freePort();
    const d = new RsyncDaemon({ address: "127.0.0.1", port: p, modules: [{ name: "compute", path: image }] });
    await d.start();
    const pid = d.pid!;
    const conf = d.configPath!;
    expect(await readFile(conf, "utf8")).toContain("[compute]");
    await d.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(lstat(conf)).rejects.toThrow(/ENOENT/); // private run dir removed
    const r = await rsync([`rsync://127.0.0.1:${p}/`]);
    expect(r.code).not.toBe(0);
  });
});

describe("rsync daemon that dies", () => {
  it("reports an unexpected exit", async () => {
    const d = new RsyncDaemon({ address: "127.0.0.1", port: await freePort(), modules: [{ name: "compute", path: image }] });
    await d.start();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => d.on("exit", r));
    process.kill(d.pid!, "SIGKILL");
    expect((await exited).signal).toBe("SIGKILL");
    expect(d.pid).toBeUndefined();
    await d.stop();
  });
});

describe("renderRsyncdConf", () => {
  const base = {
    address: "10.0.0.1",
    port: 873,
    pidFile: "/run/mf/rsyncd.pid",
    logFile: "/dev/stderr",
    lockFile: "/run/mf/rsyncd.lock",
    maxConnections: 0,
    timeoutSec: 600,
    secretsFile: "/run/mf/rsyncd.secrets",
  };
  it("writes the settings an image server needs", () => {
    const text = renderRsyncdConf({ ...base, modules: [{ name: "compute", path: "/srv/images/compute" }] });
    for (const line of [
      "uid = 0",
      "gid = 0",
      "numeric ids = yes",
      "use chroot = yes",
      "read only = yes",
      "reverse lookup = no",
      "address = 10.0.0.1",
      "port = 873",
      "[compute]",
      "path = /srv/images/compute",
    ]) {
      expect(text.split("\n")).toContain(line);
    }
  });
  it("refuses names and paths that would inject config lines", () => {
    for (const m of [
      { name: "a]\n[b", path: "/x" },
      { name: "global", path: "/x" },
      { name: "ok", path: "relative" },
      { name: "ok", path: "/x\npath = /" },
      { name: "", path: "/x" },
    ]) {
      expect(() => renderRsyncdConf({ ...base, modules: [m] })).toThrow();
    }
    expect(() =>
      renderRsyncdConf({
        ...base,
        modules: [
          { name: "a", path: "/x" },
          { name: "a", path: "/y" },
        ],
      }),
    ).toThrow(/twice/);
    for (const c of [
      { user: "n1\nx", password: "p".repeat(20) },
      { user: "n1", password: "short" },
      { user: "n1", password: "p".repeat(20), host: "10.0.0.1\nhosts allow = *" },
    ]) {
      expect(() => renderRsyncdConf({ ...base, modules: [{ name: "a", path: "/x", access: [c] }] })).toThrow();
    }
  });
  it("a restricted module is unlisted, names its users, and admits only their addresses", () => {
    const access = [
      { user: "n1", password: "p".repeat(20), host: "10.0.0.11" },
      { user: "n2", password: "q".repeat(20), host: "10.0.0.12" },
    ];
    const text = renderRsyncdConf({
      ...base,
      modules: [
        { name: "img", path: "/x", access },
        { name: "open", path: "/y" },
      ],
    });
    const img = text.slice(text.indexOf("[img]"), text.indexOf("[open]")).split("\n");
    for (const line of ["list = no", "auth users = n1, n2", "secrets file = /run/mf/rsyncd.secrets", "hosts allow = 10.0.0.11 10.0.0.12", "hosts deny = *"])
      expect(img).toContain(line);
    expect(text).not.toContain("p".repeat(20)); // passwords live in the secrets file only
    expect(text.slice(text.indexOf("[open]"))).not.toContain("list = no");
    const none = renderRsyncdConf({ ...base, modules: [{ name: "img", path: "/x", access: [] }] });
    expect(none.split("\n")).toContain("hosts deny = *");
    expect(none).not.toContain("auth users");
  });
});
