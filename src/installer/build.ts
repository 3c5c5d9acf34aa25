// `metalform installer build`: the installer initramfs (gzip'd newc cpio) from the
// head node's own packages: static busybox (shell and applets), the disk and sync
// tools with their shared libraries, the installer /init, and the kernel modules of
// the image's kernel (the always-loaded ones and whole driver classes, decompressed,
// with generated modules.dep / modules.alias) plus the firmware those drivers name.
// Deterministic: same inputs, same bytes, same digest; cached by digest in `outDir`.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { installerInitScript } from "../boot/installer-init.js";
import { nullLogger, type Logger } from "../util/log.js";
import { writeCpio } from "./cpio.js";
import { collectFirmware } from "./firmware.js";
import { chooseKernelVersion } from "./kernel-version.js";
import type { DriverClass } from "./module-classes.js";
import { collectModules } from "./modules.js";
import { Tree } from "./tree.js";
import { BUSYBOX, INSTALLER_TOOLS, isStatic, locateTools, MissingToolError, sharedLibraries, type ToolSpec } from "./tools.js";

export interface BuildInstallerOptions {
  /** Cache directory for built images (created when missing). */
  outDir: string;
  /** Unpacked kernel package (holds lib/modules/<version>/); without it, no modules are shipped. */
  kernelTree?: string;
  /** Kernel version under lib/modules; default: the one `kernelFile` is, else the only one there. */
  kernelVersion?: string;
  /** The kernel the installer boots (its version picks the module tree when there are several). */
  kernelFile?: string;
  /** Module names loaded on every boot (with their dependencies); default ALWAYS_LOAD. */
  modules?: string[];
  /** Driver classes shipped for the coldplug; default DRIVER_CLASSES. */
  driverClasses?: DriverClass[];
  /** Where /lib/firmware is looked up; default kernelTree (an image root). */
  firmwareRoot?: string;
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
  /** Modules loaded on every boot, in load order (paths under lib/modules/<version>/). */
  modules: string[];
  /** Every shipped module (loaded ones first, then the driver classes'). */
  shippedModules: string[];
  /** Firmware files shipped (under lib/firmware) and names the image does not have. */
  firmware: string[];
  missingFirmware: string[];
  /** Bytes of the cpio before gzip, and milliseconds the build took. */
  uncompressedBytes: number;
  buildMs: number;
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

const gzipAsync = promisify(gzip);

interface ModulesPart {
  kernelVersion?: string;
  modules: string[];
  shippedModules: string[];
  builtinModules: string[];
  missingModules: string[];
  firmware: string[];
  missingFirmware: string[];
}

/** busybox, the installer's /init and its udhcpc hook, device nodes. */
function addBase(t: Tree, busybox: string, realNames: Set<string>): void {
  for (const d of ["dev", "proc", "sys", "run", "tmp", "newroot", "etc", "usr/bin", "usr/sbin", "bin", "sbin", "root"]) t.dir(d);
  t.char("dev/console", 5, 1, 0o600);
  t.char("dev/null", 1, 3, 0o666);
  t.file("init", Buffer.from(installerInitScript()), 0o755);
  t.file("etc/udhcpc.script", Buffer.from(UDHCPC_SCRIPT), 0o755);
  t.file("bin/busybox", readFileSync(busybox), 0o755);
  const applets = execFileSync(busybox, ["--list-full"], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
  for (const a of applets) {
    const name = a.slice(a.lastIndexOf("/") + 1);
    if (realNames.has(name) || a === "bin/busybox") continue;
    t.symlink(a, "/bin/busybox");
  }
}

/** The real tools and their shared libraries (they win over busybox applets of the same name). */
function addTools(t: Tree, tools: readonly ToolSpec[], found: Map<string, string>): void {
  const libs = new Set<string>();
  for (const tool of tools) {
    const host = found.get(tool.name)!;
    t.file(`usr/sbin/${tool.name}`, readFileSync(host), 0o755);
    for (const l of sharedLibraries(host)) libs.add(l);
  }
  for (const l of [...libs].sort()) t.file(l, readFileSync(l), 0o755);
}

function addModules(t: Tree, opts: BuildInstallerOptions, log: Logger): ModulesPart {
  const none: ModulesPart = { modules: [], shippedModules: [], builtinModules: [], missingModules: [], firmware: [], missingFirmware: [] };
  if (!opts.kernelTree) return none;
  const choice = opts.kernelVersion ? { version: opts.kernelVersion } : chooseKernelVersion(opts.kernelTree, opts.kernelFile);
  if ("error" in choice) throw new Error(choice.error);
  const kernelVersion = choice.version;
  const km = collectModules(opts.kernelTree, kernelVersion, { ...(opts.modules ? { always: opts.modules } : {}), ...(opts.driverClasses ? { classes: opts.driverClasses } : {}) });
  const base = `lib/modules/${kernelVersion}`;
  for (const [rel, data] of km.files) t.file(`${base}/${rel}`, data, 0o644);
  t.file(`${base}/modules.dep`, Buffer.from(km.modulesDep), 0o644);
  t.file(`${base}/modules.alias`, Buffer.from(km.modulesAlias), 0o644);
  t.file(`${base}/load.order`, Buffer.from(km.loadOrder.join("\n") + (km.loadOrder.length ? "\n" : "")), 0o644);
  for (const extra of ["modules.builtin", "modules.order"]) {
    const p = join(km.base, extra);
    if (existsSync(p)) t.file(`${base}/${extra}`, readFileSync(p), 0o644);
  }
  const fw = collectFirmware(opts.firmwareRoot ?? opts.kernelTree, km.firmware);
  for (const [rel, data] of fw.files) t.file(`lib/firmware/${rel}`, data, 0o644);
  if (km.missing.length) log.info("installer.modules-missing", { kernel: kernelVersion, modules: km.missing });
  const firmware = [...fw.files.keys()].sort();
  return { kernelVersion, modules: km.loadOrder, shippedModules: km.shipped, builtinModules: km.builtin, missingModules: km.missing, firmware, missingFirmware: fw.missing };
}

/** Writes the image under its digest unless an identical one is there. */
function store(outDir: string, gz: Buffer, digest: string): { path: string; cached: boolean } {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `installer-${digest.slice(0, 16)}.img`);
  if (existsSync(path) && statSync(path).size === gz.length && createHash("sha256").update(readFileSync(path)).digest("hex") === digest) {
    return { path, cached: true };
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, gz);
  renameSync(tmp, path);
  return { path, cached: false };
}

export async function buildInstaller(opts: BuildInstallerOptions): Promise<BuildInstallerResult> {
  const t0 = Date.now();
  const log = opts.logger ?? nullLogger;
  const tools = opts.tools ?? INSTALLER_TOOLS;
  const found = locateTools([BUSYBOX, ...tools]);
  const busybox = found.get("busybox")!;
  if (!isStatic(busybox)) throw new MissingToolError([BUSYBOX]);
  const t = new Tree();
  addTools(t, tools, found);
  addBase(t, busybox, new Set(tools.map((x) => x.name)));
  const mods = addModules(t, opts, log);
  const cpio = writeCpio([...t.entries.values()]);
  // In the thread pool: a provisioner building an installer must keep heart-beating.
  const gz = await gzipAsync(cpio, { level: 6 });
  const digest = createHash("sha256").update(gz).digest("hex");
  const { path, cached } = store(opts.outDir, gz, digest);
  const buildMs = Date.now() - t0;
  log.info("installer.built", {
    path,
    digest,
    bytes: gz.length,
    cached,
    kernel: mods.kernelVersion,
    modules: mods.shippedModules.length,
    firmware: mods.firmware.length,
    ms: buildMs,
  });
  const { kernelVersion, ...rest } = mods;
  return { path, digest, bytes: gz.length, cached, ...rest, ...(kernelVersion ? { kernelVersion } : {}), uncompressedBytes: cpio.length, buildMs };
}
