// /etc/fstab of the installed system. Entries name file systems by LABEL: labels are
// known when the plan is rendered (UUIDs only after mkfs), so the fstab is part of the
// pure, reviewable plan, and it stays right when a sync finds the same labels.
import type { PlanFilesystem } from "./plan-types.js";

function passFor(fs: PlanFilesystem): number {
  if (fs.fs === "swap" || fs.fs === "xfs") return 0; // xfs has no boot-time fsck
  return fs.mount === "/" ? 1 : 2;
}

export function renderFstab(filesystems: readonly PlanFilesystem[]): string {
  const rows: string[][] = [];
  for (const fs of filesystems) {
    if (fs.fs === "swap") {
      rows.push([`LABEL=${fs.label}`, "none", "swap", fs.options.length ? fs.options.join(",") : "sw", "0", "0"]);
    } else if (fs.mount) {
      rows.push([`LABEL=${fs.label}`, fs.mount, fs.fs, fs.options.length ? fs.options.join(",") : "defaults", "0", String(passFor(fs))]);
    }
  }
  return "# Written by metalform's installer; rewritten on every install and sync.\n" + rows.map((r) => r.join("\t")).join("\n") + "\n";
}

/** Mount order: parents before children (by path depth, then by path). Unmounted file systems last. */
export function mountDepth(mount: string | undefined): number {
  if (mount === undefined) return Number.MAX_SAFE_INTEGER;
  return mount === "/" ? 0 : mount.split("/").filter(Boolean).length;
}
