// File-system labels: fstab mounts by LABEL, so every file system the installer
// makes gets one, unique on the node and within its type's length limit.
import type { FsType } from "../config/types.js";

/** Longest label each mkfs accepts. */
const MAX_LABEL: Record<Exclude<FsType, "none">, number> = { ext4: 16, xfs: 12, vfat: 11, swap: 15 };

/** Label characters we allow: safe in fstab, in a shell word and in every mkfs. */
function clean(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
}

/** What a file system is called when the config gives no label. */
function baseLabel(fs: FsType, mount: string | undefined, name: string): string {
  if (fs === "swap") return "swap";
  if (mount === "/") return "root";
  if (mount === "/boot/efi") return "ESP";
  if (mount) return clean(mount.slice(1)) || name;
  return clean(name) || "fs";
}

/** Makes the labels of one node: explicit ones kept (truncated, sanitized), defaults made unique. */
export class LabelAllocator {
  private used = new Set<string>();

  label(fs: Exclude<FsType, "none">, explicit: string | undefined, mount: string | undefined, name: string): string {
    const max = MAX_LABEL[fs];
    let base = clean(explicit ?? baseLabel(fs, mount, name)).slice(0, max) || "fs";
    if (fs === "vfat") base = base.toUpperCase();
    let label = base;
    for (let n = 2; this.used.has(label.toLowerCase()); n++) {
      const suffix = String(n);
      label = base.slice(0, max - suffix.length) + suffix;
    }
    this.used.add(label.toLowerCase());
    return label;
  }
}
