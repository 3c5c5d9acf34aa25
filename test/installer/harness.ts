// Real peers for installer integration tests: loop devices on sparse files, the real
// rsync daemon on 127.0.0.1, the installer API on node:http, and the real /init run as
// root in a private mount namespace.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, ftruncateSync, createReadStream } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { freePort } from "../helpers/ports.js";
import type { InstallPlan } from "../../src/boot/plan-types.js";
import { installerInitPath } from "../../src/boot/installer-init.js";
import { createInstallerApi, nodeApiUrl, type InstallerApi } from "../../src/services/installer-api/api.js";
import type { NodeReport } from "../../src/services/installer-api/reports.js";
import { NodeCredentials } from "../../src/services/installer-api/node-credentials.js";
import { InstallSessions } from "../../src/services/installer-api/sessions.js";

/** Tool -> Debian package; a missing tool fails the test with the package to install. */
export const TOOL_PACKAGES: Record<string, string> = {
  sfdisk: "fdisk",
  "mkfs.ext4": "e2fsprogs",
  e2fsck: "e2fsprogs",
  mkswap: "util-linux",
  blkid: "util-linux",
  partx: "util-linux",
  losetup: "mount",
  unshare: "util-linux",
  rsync: "rsync",
  wget: "wget",
  shellcheck: "shellcheck",
  "mkfs.vfat": "dosfstools",
  "mkfs.xfs": "xfsprogs",
  mdadm: "mdadm",
  lvm: "lvm2",
  cpio: "cpio",
  busybox: "busybox-static",
};

export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } }).status !== 0);
  if (missing.length) {
    const pkgs = [...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))];
    throw new Error(`missing tools ${missing.join(", ")}: apt-get install ${pkgs.join(" ")}`);
  }
  if (process.getuid?.() !== 0) throw new Error("installer integration tests need root (loop devices, mounts)");
}

export class LoopDisk {
  private constructor(
    readonly file: string,
    readonly dev: string,
  ) {}

  static create(dir: string, name: string, bytes: number): LoopDisk {
    const file = join(dir, name);
    const fd = openSync(file, "w");
    ftruncateSync(fd, bytes);
    closeSync(fd);
    const dev = execFileSync("losetup", ["-f", "--show", file], { encoding: "utf8" }).trim();
    return new LoopDisk(file, dev);
  }

  /** Partition device nodes (partx: this kernel may not scan loop partitions itself). */
  partitions(): void {
    spawnSync("partx", ["-a", this.dev]);
    spawnSync("partx", ["-u", this.dev]);
  }

  part(n: number): string {
    return `${this.dev}p${n}`;
  }

  detach(): void {
    spawnSync("partx", ["-d", this.dev]);
    spawnSync("losetup", ["-d", this.dev]);
  }

  async sha256(): Promise<string> {
    const h = createHash("sha256");
    for await (const c of createReadStream(this.file)) h.update(c as Buffer);
    return h.digest("hex");
  }
}

/** Best-effort: detaches loop devices left behind by earlier runs of these tests (backing files under /tmp/mfin-*). */
export function cleanupStaleLoops(): void {
  const r = spawnSync("losetup", ["--list", "--noheadings", "--output", "NAME,BACK-FILE"], { encoding: "utf8" });
  for (const line of (r.stdout ?? "").split("\n")) {
    const [dev, file] = line.trim().split(/\s+/, 2);
    if (dev && file && /^\/tmp\/mfin-[^/]+\//.test(file) && (file.endsWith("(deleted)") || !existsSync(file))) {
      spawnSync("partx", ["-d", dev]);
      spawnSync("losetup", ["-d", dev]);
    }
  }
}

export interface RsyncDaemon {
  port: number;
  url(module: string): string;
  stop(): Promise<void>;
}

/** The real rsync daemon, in the foreground, on 127.0.0.1 with a generated config. */
export async function startRsyncDaemon(dir: string, modules: Record<string, string>): Promise<RsyncDaemon> {
  const port = await freePort();
  const conf = join(dir, "rsyncd.conf");
  const lines = ["uid = 0", "gid = 0", "use chroot = no", "reverse lookup = no", `pid file = ${join(dir, "rsyncd.pid")}`, ""];
  for (const [name, path] of Object.entries(modules)) lines.push(`[${name}]`, `path = ${path}`, "read only = yes", "");
  writeFileSync(conf, lines.join("\n"));
  const proc: ChildProcess = spawn("rsync", ["--daemon", "--no-detach", `--config=${conf}`, `--port=${port}`, "--address=127.0.0.1"], { stdio: "ignore" });
  // Ready when the port accepts connections.
  for (let i = 0; i < 100; i++) {
    const ok = spawnSync("rsync", [`rsync://127.0.0.1:${port}/`], { timeout: 2000 }).status === 0;
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: (m) => `rsync://127.0.0.1:${port}/${m}/`,
    stop: () =>
      new Promise<void>((r) => {
        if (proc.exitCode !== null) return r();
        proc.once("exit", () => r());
        proc.kill("SIGTERM");
      }),
  };
}

export interface ApiServer {
  base: string;
  sessions: InstallSessions;
  nodeCredentials: NodeCredentials;
  /** Opens an install attempt for a node calling from this host (the installer claims it). */
  open(node: string): void;
  /** Opens an attempt and claims it: the credential a test-mode installer gets as MF_TOKEN. */
  credential(node: string): string;
  api: InstallerApi;
  reports: NodeReport[];
  plans: Map<string, InstallPlan>;
  nodeUrl(node: string): string;
  stop(): Promise<void>;
}

export async function startApi(): Promise<ApiServer> {
  // Every node calls from this host (loopback, or QEMU's user network, which is loopback here).
  const sessions = new InstallSessions({ windowMs: 3_600_000 });
  const nodeCredentials = new NodeCredentials();
  const plans = new Map<string, InstallPlan>();
  const api = createInstallerApi({ sessions, nodeCredentials, addressOf: () => "127.0.0.1", plan: (n) => plans.get(n) });
  const reports: NodeReport[] = [];
  api.events.on("report", (r) => reports.push(r));
  const server: Server = createServer((req, res) => {
    void api.handle(req, res).then((h) => {
      if (!h) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const open = (n: string) => sessions.open(n, "127.0.0.1");
  return {
    base,
    sessions,
    nodeCredentials,
    open,
    credential: (n) => {
      open(n);
      const c = sessions.claim(n, "127.0.0.1");
      if (!c.ok) throw new Error(`claim refused: ${c.refusal}`);
      return c.value.token;
    },
    api,
    reports,
    plans,
    nodeUrl: (n) => nodeApiUrl(base, n),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface InstallerRun {
  code: number | null;
  output: string;
  reports: NodeReport[];
  ms: number;
}

/** Runs the real installer /init in a private mount namespace against the given disks. */
export async function runInstaller(opts: { api: ApiServer; node: string; disks: string[]; work: string; extraEnv?: Record<string, string> }): Promise<InstallerRun> {
  const root = join(opts.work, "root");
  const work = join(opts.work, "run");
  mkdirSync(root, { recursive: true });
  const first = opts.api.reports.length;
  const t0 = Date.now();
  const env = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    MF_API: opts.api.nodeUrl(opts.node),
    MF_TOKEN: opts.extraEnv?.MF_TOKEN ?? opts.api.credential(opts.node),
    MF_ROOT: root,
    MF_WORK: work,
    MF_CANDIDATES: opts.disks.join(" "),
    MF_SKIP_BOOTSTRAP: "1",
    MF_NO_SWITCH_ROOT: "1",
    ...opts.extraEnv,
  };
  const child = spawn("unshare", ["-m", "--propagation", "private", "sh", installerInitPath()], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  return { code, output, reports: opts.api.reports.slice(first), ms: Date.now() - t0 };
}

/** Runs a shell command with `dev` mounted read-only at $M, in a private mount namespace. */
export function withMounted(dev: string, cmd: string, dir: string): string {
  const m = join(dir, "inspect");
  mkdirSync(m, { recursive: true });
  return execFileSync("unshare", ["-m", "--propagation", "private", "sh", "-c", `mount -o ro "$0" "$1" && M="$1" && cd "$M" && ${cmd}`, dev, m], { encoding: "utf8" });
}

export function blkid(dev: string, tag: string): string {
  return spawnSync("blkid", ["-p", "-o", "value", "-s", tag, dev], { encoding: "utf8" }).stdout.trim();
}

/** A deterministic image tree: `count` incompressible files of `size` bytes plus a few system files. */
export function makeImage(dir: string, count: number, size: number): void {
  for (const d of ["etc", "sbin", "bin", "usr/lib", "var/log", "tmp"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "sbin/init"), "#!/bin/sh\necho image init\n", { mode: 0o755 });
  writeFileSync(join(dir, "etc/fstab"), "# the image's own fstab, replaced by the installer\n");
  writeFileSync(join(dir, "etc/os-release"), 'NAME="metalform test image"\n');
  writeFileSync(join(dir, "var/log/build.log"), "built\n");
  for (let i = 0; i < count; i++) writeFileSync(join(dir, "usr/lib", `blob${String(i).padStart(4, "0")}.bin`), pseudoRandom(size, i));
}

export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash("sha256").update(`seed-${seed}`).digest();
  for (let off = 0; off < size; off += 32) {
    block.copy(out, off, 0, Math.min(32, size - off));
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}
