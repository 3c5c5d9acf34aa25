// Finding an image's own kernel and initrd inside its root, for images that bring
// them (tarballs, OCI images, recipes): /boot/vmlinuz-VERSION with
// /boot/initrd.img-VERSION (Debian, Ubuntu), else /boot/vmlinuz and /boot/initrd.img.
// With several kernels the newest version wins, as the distribution's own boot loader does.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export interface BootFiles {
  /** Paths relative to the root, e.g. "boot/vmlinuz-6.1.0-28-amd64". */
  kernel: string;
  initrd?: string;
  /** The kernel's version when the name carries it. */
  version?: string;
}

/** Compares version strings the way people read them: 6.1.0-28 < 6.1.0-100. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/([0-9]+)/);
  const pb = b.split(/([0-9]+)/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? "";
    const y = pb[i] ?? "";
    if (x === y) continue;
    const nx = /^[0-9]+$/.test(x) ? Number(x) : NaN;
    const ny = /^[0-9]+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
    return x < y ? -1 : 1;
  }
  return 0;
}

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** The kernel and initrd under root/boot, or undefined when the root has no kernel. */
export function findBootFiles(root: string): BootFiles | undefined {
  const boot = join(root, "boot");
  if (!existsSync(boot)) return undefined;
  const names = readdirSync(boot);
  const versions = names
    .filter((n) => n.startsWith("vmlinuz-") && isFile(join(boot, n)))
    .map((n) => n.slice("vmlinuz-".length))
    .sort(compareVersions);
  const v = versions.at(-1);
  if (v !== undefined) {
    const initrd = `initrd.img-${v}`;
    return { kernel: `boot/vmlinuz-${v}`, ...(isFile(join(boot, initrd)) ? { initrd: `boot/${initrd}` } : {}), version: v };
  }
  if (isFile(join(boot, "vmlinuz"))) return { kernel: "boot/vmlinuz", ...(isFile(join(boot, "initrd.img")) ? { initrd: "boot/initrd.img" } : {}) };
  return undefined;
}
