// The lab's kernel: Debian's kernel image package, downloaded with apt (never
// installed on the host), unpacked into the lab cache and given a modules.dep. The
// lab image boots it and the installer builder takes matching modules from it.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nullLogger, type Logger } from "../util/log.js";
import { resolveKernelPackage } from "./prerequisites.js";
import { mustRun } from "./run.js";

export interface LabKernel {
  /** The kernel image (bzImage). */
  path: string;
  /** Its release, e.g. 6.1.0-56-amd64 (`uname -r` in the VMs). */
  version: string;
  /** lib/modules/<version>, with modules.dep. */
  modulesDir: string;
  /** The Debian package it came from. */
  package: string;
}

/** Modules a virtio + ext4 system needs, in load order (measured; see FACTS). */
export const VIRTIO_EXT4_MODULES = [
  "virtio_ring",
  "virtio",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "failover",
  "net_failover",
  "virtio_net",
  "virtio_blk",
  "crc32c_generic",
  "crc16",
  "mbcache",
  "jbd2",
  "ext4",
] as const;

/**
 * Modules that give a lab VM's guest its BMC (/dev/ipmi0 over the KCS interface QEMU
 * emulates and ipmi_sim answers), in load order: what an installer needs to write the
 * BMC's LAN settings with ipmitool.
 */
export const IPMI_MODULES = ["ipmi_msghandler", "ipmi_devintf", "ipmi_si"] as const;

const CURRENT = "current.json";

function kernelAt(dir: string, version: string, pkg: string): LabKernel {
  return { path: join(dir, "boot", `vmlinuz-${version}`), version, modulesDir: join(dir, "lib", "modules", version), package: pkg };
}

function complete(k: LabKernel): boolean {
  return existsSync(k.path) && existsSync(join(k.modulesDir, "modules.dep"));
}

/** The kernel the cache holds already, if any. */
export function cachedKernel(cacheDir: string): LabKernel | undefined {
  try {
    const cur = JSON.parse(readFileSync(join(cacheDir, "kernel", CURRENT), "utf8")) as { version?: unknown; package?: unknown };
    if (typeof cur.version !== "string" || typeof cur.package !== "string" || !/^[A-Za-z0-9._+-]+$/.test(cur.version)) return undefined;
    const k = kernelAt(join(cacheDir, "kernel", cur.version), cur.version, cur.package);
    return complete(k) ? k : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the cached kernel, downloading and unpacking Debian's current one when the cache is empty. */
export async function ensureLabKernel(cacheDir: string, logger: Logger = nullLogger): Promise<LabKernel> {
  const have = cachedKernel(cacheDir);
  if (have) return have;
  const pkg = await resolveKernelPackage();
  if (!pkg) throw new Error("apt does not know linux-image-amd64; run apt-get update (the lab downloads its kernel with apt-get download)");
  const version = pkg.replace(/^linux-image-/, "");
  const base = join(cacheDir, "kernel");
  const final = join(base, version);
  let k = kernelAt(final, version, pkg);
  if (!complete(k)) {
    mkdirSync(base, { recursive: true });
    // Unpack beside the final place and rename: a concurrent or interrupted run never
    // leaves a half-written kernel where cachedKernel would find it.
    const tmp = join(base, `.tmp-${process.pid}-${Date.now()}`);
    mkdirSync(tmp, { recursive: true });
    try {
      logger.info("kernel.download", { package: pkg });
      await mustRun(["apt-get", "download", "-o", "APT::Sandbox::User=root", pkg], { cwd: tmp, timeoutMs: 600_000 });
      const deb = readdirSync(tmp).find((f) => f.endsWith(".deb"));
      if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
      const root = join(tmp, "root");
      await mustRun(["dpkg-deb", "-x", join(tmp, deb), root], { timeoutMs: 600_000 });
      // The .deb ships no modules.dep; busybox depmod writes one.
      await mustRun(["busybox", "depmod", "-b", root, version], { timeoutMs: 300_000 });
      if (!complete(kernelAt(root, version, pkg))) throw new Error(`${pkg} holds no boot/vmlinuz-${version} or no modules`);
      if (!existsSync(final)) {
        try {
          renameSync(root, final);
        } catch (e) {
          if (!existsSync(final)) throw e; // someone else won the race: theirs is as good
        }
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    k = kernelAt(final, version, pkg);
  }
  const tmpCur = join(base, `.${CURRENT}.${process.pid}`);
  writeFileSync(tmpCur, JSON.stringify({ version, package: pkg }) + "\n");
  renameSync(tmpCur, join(base, CURRENT));
  logger.info("kernel.ready", { version, path: k.path });
  return k;
}

/** Relative paths (under modulesDir) of the named modules, from modules.dep. */
export function modulePaths(modulesDir: string, names: readonly string[]): string[] {
  const dep = readFileSync(join(modulesDir, "modules.dep"), "utf8");
  const byName = new Map<string, string>();
  for (const line of dep.split("\n")) {
    const path = line.split(":")[0];
    if (!path) continue;
    const name = path.slice(path.lastIndexOf("/") + 1).replace(/\.ko(\.(xz|gz|zst))?$/, "");
    byName.set(name, path);
    byName.set(name.replace(/-/g, "_"), path);
  }
  return names.map((n) => {
    const p = byName.get(n);
    if (!p) throw new Error(`kernel module ${n} is not in ${modulesDir}/modules.dep`);
    return p;
  });
}
