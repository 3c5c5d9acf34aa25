// The layout fingerprint: sha256 over what a layout puts on the disks. `auto` mode
// compares it with the one the last install wrote to /etc/metalform/layout in the
// root file system; equal means the disks already carry this layout (sync only).
// Only on-disk facts count: partition tables, sizes, types, file systems and labels,
// RAID levels and members, LVM groups and volumes (only when a layout has them, so
// layouts without LVM keep the fingerprints already on disks). Mount points, mount
// options and match rules are left out, since changing them needs a new fstab
// (written on every sync), not a repartition.
import { createHash } from "node:crypto";

export interface FingerprintPart {
  size: string;
  type: string;
  fs: string;
  label: string;
}
export interface FingerprintDisk {
  table: string;
  partitions: FingerprintPart[];
}
export interface FingerprintRaid {
  level: number;
  members: string[];
  fs: string;
  label: string;
}
export interface FingerprintLvm {
  volumeGroups: Array<{ name: string; devices: string[] }>;
  logicalVolumes: Array<{ vg: string; name: string; size: string; fs: string; label: string }>;
}
export interface FingerprintInput {
  disks: FingerprintDisk[];
  raid: FingerprintRaid[];
  lvm?: FingerprintLvm;
}

/** Canonical JSON: object keys sorted, so equal layouts hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return "[" + v.map(canonicalJson).join(",") + "]";
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return (
      "{" +
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => JSON.stringify(k) + ":" + canonicalJson(o[k]))
        .join(",") +
      "}"
    );
  }
  return JSON.stringify(v);
}

export function layoutFingerprint(input: FingerprintInput): string {
  return createHash("sha256")
    .update("metalform-layout-v1\n" + canonicalJson(input))
    .digest("hex");
}
