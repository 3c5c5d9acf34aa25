// Which kernel an image boots, and so which /lib/modules/<version> its installer needs:
// an image may hold several kernels (an upgrade keeps the previous one). The version is
// read from the kernel file itself (the x86 boot header's kernel_version string, what
// file(1) prints), else taken from its name (vmlinuz-<version>).
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { basename, join } from "node:path";

/** Version string of an x86 bzImage (e.g. "6.1.0-57-amd64"), or undefined when the header says nothing. */
export function bzImageVersion(header: Buffer): string | undefined {
  // Boot protocol: "HdrS" at 0x202; kernel_version at 0x20e is the string's offset minus 0x200.
  if (header.length < 0x210 || header.toString("latin1", 0x202, 0x206) !== "HdrS") return undefined;
  const at = header.readUInt16LE(0x20e) + 0x200;
  if (at <= 0x200 || at >= header.length) return undefined;
  const end = header.indexOf(0, at);
  const text = header.toString("latin1", at, end < 0 ? Math.min(header.length, at + 256) : end);
  const version = text.split(" ")[0];
  return version && /^[A-Za-z0-9._+~-]+$/.test(version) ? version : undefined;
}

/** The version of a kernel file: from its boot header, else from a vmlinuz-<version> name. */
export function kernelFileVersion(path: string): string | undefined {
  if (existsSync(path)) {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(0x10000);
      const n = readSync(fd, buf, 0, buf.length, 0);
      const v = bzImageVersion(buf.subarray(0, n));
      if (v) return v;
    } finally {
      closeSync(fd);
    }
  }
  const m = /^(?:vmlinuz|vmlinux|bzImage|kernel)-(.+)$/.exec(basename(path));
  return m?.[1];
}

/** Kernel versions under <tree>/lib/modules, sorted. */
export function kernelVersions(tree: string): string[] {
  const dir = join(tree, "lib/modules");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((v) => statSync(join(dir, v)).isDirectory())
    .sort();
}

export type KernelChoice = { version: string } | { error: string };

/**
 * The module tree to use for a kernel: the only one there, or the one whose version
 * the kernel file names. Several and none matching is an error (a wrong tree would
 * give an installer whose modules the kernel refuses).
 */
export function chooseKernelVersion(tree: string, kernelFile?: string): KernelChoice {
  const versions = kernelVersions(tree);
  const wanted = kernelFile ? kernelFileVersion(kernelFile) : undefined;
  if (wanted && versions.includes(wanted)) return { version: wanted };
  if (versions.length === 1 && !wanted) return { version: versions[0]! };
  const found = versions.join(", ") || "none";
  if (wanted) return { error: `${tree}/lib/modules has no ${wanted} (the kernel ${kernelFile}); found: ${found}` };
  return { error: `${tree}/lib/modules holds several kernels (${found}): name the kernel version` };
}
