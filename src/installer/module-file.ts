// Reading one kernel module file as the kernel loads it: plain `.ko`, or compressed as
// distributions ship them (`.ko.gz`, `.ko.xz` — Debian 13, Fedora —, `.ko.zst` — Arch,
// Ubuntu 24.04). The installer ships them decompressed: busybox insmod/modprobe cannot
// read compressed modules, and the initramfs is gzip'd as a whole anyway.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

export const MODULE_FILE = /\.ko(\.gz|\.xz|\.zst)?$/;

/** A module's path without its compression suffix (`x.ko.xz` -> `x.ko`). */
export function plainModulePath(path: string): string {
  return path.replace(/\.ko\.(gz|xz|zst)$/, ".ko");
}

/** The module's name as modprobe knows it: file stem, `-` read as `_`. */
export function moduleNameOf(path: string): string {
  const file = path.slice(path.lastIndexOf("/") + 1);
  return file.replace(MODULE_FILE, "").replace(/-/g, "_");
}

function decompress(tool: string, args: string[], path: string, pkg: string): Buffer {
  try {
    return execFileSync(tool, [...args, path], { maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === "ENOENT") throw new Error(`${path}: ${tool} is needed to read it (apt-get install -y ${pkg})`, { cause: e });
    throw new Error(`${path}: ${tool} failed: ${String(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

/** The module's ELF bytes, decompressed. */
export function readModuleFile(path: string): Buffer {
  if (path.endsWith(".ko")) return readFileSync(path);
  if (path.endsWith(".ko.gz")) return gunzipSync(readFileSync(path));
  if (path.endsWith(".ko.xz")) return decompress("xz", ["-dc"], path, "xz-utils");
  if (path.endsWith(".ko.zst")) return decompress("zstd", ["-dcq"], path, "zstd");
  throw new Error(`${path}: not a kernel module file`);
}
