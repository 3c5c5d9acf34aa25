// `metalform installer build`: the installer initramfs (gzip'd newc cpio) from the
// head node's own packages: static busybox (shell and applets), the disk and sync
// tools with their shared libraries, the installer /init, and the kernel modules of
// the image's kernel with a generated modules.dep. Deterministic: same inputs, same
// bytes, same digest; the file is cached by digest in `outDir`.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { installerInitScript } from "../boot/installer-init.js";
import { nullLogger, type Logger } from "../util/log.js";
import { cpioPath, writeCpio, type CpioEntry } from "./cpio.js";
import { collectModules, DEFAULT_MODULES, kernelVersions } from "./modules.js";
import { BUSYBOX, INSTALLER_TOOLS, isStatic, locateTools, MissingToolError, sharedLibraries, type ToolSpec } from "./tools.js";

export interface BuildInstallerOptions {
  /** Cache directory for built images (created when missing). */
  outDir: string;
  /** Unpacked kernel package (holds lib/modules/<version>/); without it, no modules are shipped. */
  kernelTree?: string;
  /** Kernel version under lib/modules; default: the only one there. */
  kernelVersion?: string;
  /** Module names to ship (with their dependencies); default DEFAULT_MODULES. */
  modules?: string[];
  tools?: ToolSpec[];
  logger?: Logger;
}

export interface BuildInstallerResult {
  /** The initramfs file: `<outDir>/installer-<digest prefix>.img`. */
  path: string;
  /** sha256 (hex) of the file. */
  digest: string;
  bytes: number;
  /** True when an identical image was already there. */
  cached: boolean;
  kernelVersion?: string;
  /** Shipped modules in load order (paths under lib/modules/<version>/). */
  modules: string[];
  /** Requested modules this kernel builds in (nothing to ship). */
  builtinModules: string[];
  /** Requested modules this kernel neither ships nor builds in. */
  missingModules: string[];
}

const UDHCPC_SCRIPT = `#!/bin/sh
# udhcpc hook of metalform's installer: apply the lease to the interface.
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/\${mask:-24}" dev "$interface"
	if [ -n "\${router:-}" ]; then
		for r in $router; do ip route add default via "$r" dev "$interface" && break; done
	fi
	;;
esac
exit 0
`;

class Tree {
  readonly entries = new Map<string, CpioEntry>();

  dir(path: string): void {
    const p = cpioPath(path);
    const parts = p.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      const e = this.entries.get(d);
      if (!e) this.entries.set(d, { path: d, type: "dir", mode: 0o755 });
      else if (e.type === "symlink") return; // e.g. lib64 -> lib: the link serves as the parent
    }
  }

  private parent(p: string): void {
    const i = p.lastIndexOf("/");
    if (i > 0) this.dir(p.slice(0, i));
  }

  file(path: string, data: Buffer, mode: number): void {
    const p = cpioPath(path);
    this.parent(p);
    this.entries.set(p, { path: p, type: "file", data, mode });
  }

  symlink(path: string, target: string): void {
    const p = cpioPath(path);
    if (this.entries.has(p)) return;
    this.parent(p);
    this.entries.set(p, { path: p, type: "symlink", target });
  }

  char(path: string, major: number, minor: number, mode: number): void {
    const p = cpioPath(path);
    this.parent(p);
    this.entries.set(p, { path: p, type: "char", mode, major, minor });
  }
}

const gzipAsync = promisify(gzip);

export async function buildInstaller(opts: BuildInstallerOptions): Promise<BuildInstallerResult> {
  const log = opts.logger ?? nullLogger;
  const tools = opts.tools ?? INSTALLER_TOOLS;
  const found = locateTools([BUSYBOX, ...tools]);
  const busybox = found.get("busybox")!;
  if (!isStatic(busybox)) throw new MissingToolError([BUSYBOX]);

  const t = new Tree();
  for (const d of ["dev", "proc", "sys", "run", "tmp", "newroot", "etc", "usr/bin", "usr/sbin", "bin", "sbin", "root"]) t.dir(d);
  t.char("dev/console", 5, 1, 0o600);
  t.char("dev/null", 1, 3, 0o666);
  t.file("init", Buffer.from(installerInitScript()), 0o755);
  t.file("etc/udhcpc.script", Buffer.from(UDHCPC_SCRIPT), 0o755);

  // Real tools first, so busybox applets of the same name (blkid, mkswap...) do not shadow them.
  const realNames = new Set(tools.map((x) => x.name));
  const libs = new Set<string>();
  for (const tool of tools) {
    const host = found.get(tool.name)!;
    t.file(`usr/sbin/${tool.name}`, readFileSync(host), 0o755);
    for (const l of sharedLibraries(host)) libs.add(l);
  }
  for (const l of [...libs].sort()) t.file(l, readFileSync(l), 0o755);

  t.file("bin/busybox", readFileSync(busybox), 0o755);
  const applets = execFileSync(busybox, ["--list-full"], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
  for (const a of applets) {
    const name = a.slice(a.lastIndexOf("/") + 1);
    if (realNames.has(name) || a === "bin/busybox") continue;
    t.symlink(a, "/bin/busybox");
  }

  let kernelVersion: string | undefined;
  let modules: string[] = [];
  let missingModules: string[] = [];
  let builtinModules: string[] = [];
  if (opts.kernelTree) {
    const versions = kernelVersions(opts.kernelTree);
    kernelVersion = opts.kernelVersion ?? (versions.length === 1 ? versions[0] : undefined);
    if (!kernelVersion) throw new Error(`${opts.kernelTree}: name the kernel version (found: ${versions.join(", ") || "none"})`);
    const km = collectModules(opts.kernelTree, kernelVersion, opts.modules ?? DEFAULT_MODULES);
    const base = `lib/modules/${kernelVersion}`;
    for (const [rel, data] of km.files) t.file(`${base}/${rel}`, data, 0o644);
    t.file(`${base}/modules.dep`, Buffer.from(km.modulesDep), 0o644);
    t.file(`${base}/load.order`, Buffer.from(km.loadOrder.join("\n") + (km.loadOrder.length ? "\n" : "")), 0o644);
    for (const extra of ["modules.builtin", "modules.order"]) {
      const p = join(km.base, extra);
      if (existsSync(p)) t.file(`${base}/${extra}`, readFileSync(p), 0o644);
    }
    modules = km.loadOrder;
    missingModules = km.missing;
    builtinModules = km.builtin;
    if (km.missing.length) log.info("installer.modules-missing", { kernel: kernelVersion, modules: km.missing });
  }

  const cpio = writeCpio([...t.entries.values()]);
  // In the thread pool: a provisioner building an installer must keep heart-beating.
  const gz = await gzipAsync(cpio, { level: 6 });
  const digest = createHash("sha256").update(gz).digest("hex");
  mkdirSync(opts.outDir, { recursive: true });
  const path = join(opts.outDir, `installer-${digest.slice(0, 16)}.img`);
  let cached = false;
  if (existsSync(path) && statSync(path).size === gz.length && createHash("sha256").update(readFileSync(path)).digest("hex") === digest) {
    cached = true;
  } else {
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, gz);
    renameSync(tmp, path);
  }
  log.info("installer.built", { path, digest, bytes: gz.length, cached, kernel: kernelVersion, modules: modules.length });
  const result: BuildInstallerResult = { path, digest, bytes: gz.length, cached, modules, builtinModules, missingModules };
  if (kernelVersion) result.kernelVersion = kernelVersion;
  return result;
}
