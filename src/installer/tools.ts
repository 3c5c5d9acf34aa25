// The programs the installer runs, where they come from on the head node, and the
// Debian package to install when one is missing. Shared libraries come from ldd.
import { execFileSync } from "node:child_process";
import { accessSync, constants, realpathSync } from "node:fs";

export interface ToolSpec {
  /** Name inside the initramfs (under /usr/sbin); argv[0] matters for mke2fs. */
  name: string;
  /** Debian package that ships it. */
  package: string;
  /** Host paths tried in order (merged /usr: /sbin and /usr/sbin are the same). */
  paths: string[];
}

const sbin = (n: string) => [`/usr/sbin/${n}`, `/sbin/${n}`, `/usr/bin/${n}`, `/bin/${n}`];

export const INSTALLER_TOOLS: ToolSpec[] = [
  { name: "sfdisk", package: "fdisk", paths: sbin("sfdisk") },
  { name: "mkfs.ext4", package: "e2fsprogs", paths: sbin("mke2fs") },
  { name: "e2fsck", package: "e2fsprogs", paths: sbin("e2fsck") },
  { name: "mkfs.xfs", package: "xfsprogs", paths: sbin("mkfs.xfs") },
  { name: "mkfs.vfat", package: "dosfstools", paths: sbin("mkfs.fat") },
  { name: "fsck.vfat", package: "dosfstools", paths: sbin("fsck.fat") },
  { name: "mkswap", package: "util-linux", paths: sbin("mkswap") },
  { name: "blkid", package: "util-linux", paths: sbin("blkid") },
  { name: "partx", package: "util-linux", paths: sbin("partx") },
  { name: "mdadm", package: "mdadm", paths: sbin("mdadm") },
  // LVM (pvcreate, vgcreate, lvcreate, vgchange as `lvm <command>`): Debian's lvm is dynamic; its libraries come along.
  { name: "lvm", package: "lvm2", paths: sbin("lvm") },
  { name: "rsync", package: "rsync", paths: sbin("rsync") },
  { name: "ipmitool", package: "ipmitool", paths: sbin("ipmitool") },
];

/** busybox must be the static build: the installer's shell cannot wait for libraries. */
export const BUSYBOX: ToolSpec = { name: "busybox", package: "busybox-static", paths: ["/usr/bin/busybox", "/bin/busybox"] };

export class MissingToolError extends Error {
  constructor(readonly tools: ToolSpec[]) {
    const pkgs = [...new Set(tools.map((t) => t.package))].sort();
    super(`installer tools missing on this host: ${tools.map((t) => t.name).join(", ")}; install them with: apt-get install ${pkgs.join(" ")}`);
    this.name = "MissingToolError";
  }
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves every tool to a real file on the host, or throws naming the packages to install. */
export function locateTools(tools: readonly ToolSpec[]): Map<string, string> {
  const found = new Map<string, string>();
  const missing: ToolSpec[] = [];
  for (const t of tools) {
    const p = t.paths.find(executable);
    if (p) found.set(t.name, realpathSync(p));
    else missing.push(t);
  }
  if (missing.length) throw new MissingToolError(missing);
  return found;
}

/** Shared objects a binary needs (absolute paths as the loader looks them up), from ldd. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    // ldd exits 1 for static binaries ("not a dynamic executable").
    const s = (e as { stdout?: string; stderr?: string }).stdout ?? "";
    if (/not a dynamic executable|statically linked/.test(s + ((e as { stderr?: string }).stderr ?? ""))) return [];
    throw e;
  }
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
    else if (/=>\s+not found/.test(line)) throw new Error(`${binary}: shared library ${line.trim()}`);
  }
  return libs;
}

export function isStatic(binary: string): boolean {
  return sharedLibraries(binary).length === 0;
}
