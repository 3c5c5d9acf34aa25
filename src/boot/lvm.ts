// LVM in the install plan: the `lvcreate` argv of a logical volume (fixed sizes in MiB
// or bytes, rounded up by LVM to its extents; a percentage of the volume group;
// `rest` as the group's free space) and the order they are made in (`rest` last in
// its group, since it takes whatever the others leave).
import type { LogicalVolume } from "../config/types.js";

const MiB = 1024 * 1024;

/** lvm argv without the program: `lvcreate -y -W y -Z y -n NAME (-L SIZE | -l EXTENTS) VG`. */
export function lvcreateArgv(lv: LogicalVolume): string[] {
  const size =
    lv.size.kind === "bytes"
      ? ["-L", lv.size.bytes % MiB === 0 ? `${lv.size.bytes / MiB}m` : `${lv.size.bytes}b`]
      : lv.size.kind === "percent"
        ? ["-l", `${Math.floor(lv.size.percent)}%VG`]
        : ["-l", "100%FREE"];
  // -W y / -Z y: wipe old signatures and zero the start, so a new LV never shows a previous file system.
  return ["lvcreate", "-y", "-W", "y", "-Z", "y", "-n", lv.name, ...size, lv.vg];
}

/** Layout order, except that each group's `rest` volume comes after the others. */
export function lvmCreationOrder(lvs: readonly LogicalVolume[]): LogicalVolume[] {
  return [...lvs.filter((l) => l.size.kind !== "rest"), ...lvs.filter((l) => l.size.kind === "rest")];
}
