// Consistency of a layout's LVM part: volume groups over partitions or RAID arrays of
// the same layout, logical volumes in known groups, sizes that fit. Called from
// checkLayout (semantic.ts), which owns the partition table and the mount points.
import { formatBytes } from "./size.js";
import type { DiskLayout, LogicalVolume } from "./types.js";

type Report = (code: string, message: string, ...sub: (string | number)[]) => void;

/** What checkLayout knows about the layout's other block devices. */
export interface LvmContext {
  /** Partitions by name: their file system and fixed size in bytes (undefined for a percentage or the rest). */
  partitions: ReadonlyMap<string, { fs: string; bytes?: number }>;
  /** Partitions that are RAID members. */
  raidMembers: ReadonlySet<string>;
  /** Records a mount point (duplicates and fs-less mounts are reported there). */
  addMount(mount: string | undefined, fs: string, path: (string | number)[], what: string): void;
}

/** LVM's metadata area and alignment per physical volume (1 MiB by default). */
const PV_OVERHEAD = 1024 * 1024;

export function checkLvm(layout: DiskLayout, ctx: LvmContext, report: Report): void {
  const capacity = checkVolumeGroups(layout, ctx, report);
  const byVg = new Map<string, LogicalVolume[]>();
  (layout.logicalVolumes ?? []).forEach((lv, i) => {
    const path = ["logicalVolumes", i];
    const siblings = byVg.get(lv.vg);
    if (!capacity.has(lv.vg)) report("unknown-volume-group", `logical volume "${lv.name}" names volume group "${lv.vg}", which is not in volumeGroups`, ...path, "vg");
    else if (siblings?.some((o) => o.name === lv.name)) report("duplicate-logical-volume", `logical volume "${lv.vg}/${lv.name}" is defined twice`, ...path, "name");
    if (lv.size.kind === "rest" && siblings?.some((o) => o.size.kind === "rest")) {
      report("lvm-two-rest", `volume group "${lv.vg}" has more than one logical volume of size "rest"`, ...path, "size");
    }
    byVg.set(lv.vg, [...(siblings ?? []), lv]);
    ctx.addMount(lv.mount, lv.fs, path, `logical volume "${lv.vg}/${lv.name}"`);
  });
  for (const [vg, lvs] of byVg) {
    const group = capacity.get(vg);
    if (group) checkAllocation(vg, lvs, group, report);
  }
}

/** A volume group: where it is defined, and its capacity in bytes when every device has a fixed size (else null). */
interface GroupFacts {
  index: number;
  bytes: number | null;
}

/** Checks each group's devices; returns the groups by name. */
function checkVolumeGroups(layout: DiskLayout, ctx: LvmContext, report: Report): Map<string, GroupFacts> {
  const raid = new Map(layout.raid.map((r) => [r.name, r]));
  const owner = new Map<string, string>(); // device → the group that has it
  const capacity = new Map<string, GroupFacts>();
  (layout.volumeGroups ?? []).forEach((vg, i) => {
    const path = ["volumeGroups", i];
    if (capacity.has(vg.name)) report("duplicate-volume-group", `volume group "${vg.name}" is defined twice`, ...path, "name");
    let bytes: number | null = 0;
    vg.devices.forEach((dev, k) => {
      const at = [...path, "devices", k];
      const part = ctx.partitions.get(dev);
      const array = raid.get(dev);
      const fs = part?.fs ?? array?.fs;
      if (fs === undefined) report("lvm-unknown-device", `volume group "${vg.name}" names device "${dev}", which is no partition or RAID array of this layout`, ...at);
      else if (fs !== "none") report("lvm-device-has-fs", `volume group "${vg.name}": device "${dev}" must have fs: none (its logical volumes carry the file systems)`, ...at);
      if (ctx.raidMembers.has(dev)) report("lvm-device-in-raid", `volume group "${vg.name}": partition "${dev}" is a RAID member; name the array instead`, ...at);
      const prev = owner.get(dev);
      if (prev) report("lvm-device-reused", `device "${dev}" is a physical volume of both "${prev}" and "${vg.name}"`, ...at);
      owner.set(dev, vg.name);
      bytes = part?.bytes !== undefined && bytes !== null ? bytes + Math.max(0, part.bytes - PV_OVERHEAD) : null;
    });
    if (!capacity.has(vg.name)) capacity.set(vg.name, { index: i, bytes });
  });
  return capacity;
}

/** Percentages of one group add up to at most 100; fixed sizes fit when the group's size is known. */
function checkAllocation(vg: string, lvs: LogicalVolume[], group: GroupFacts, report: Report): void {
  let percent = 0;
  let fixed = 0;
  for (const lv of lvs) {
    if (lv.size.kind === "percent") percent += lv.size.percent;
    else if (lv.size.kind === "bytes") fixed += lv.size.bytes;
  }
  const { index, bytes } = group;
  if (percent > 100) report("lvm-over-allocated", `volume group "${vg}": logical volume percentages add up to ${percent}%`, "volumeGroups", index, "name");
  else if (bytes !== null && fixed + (bytes * percent) / 100 > bytes) {
    const pct = percent ? ` plus ${percent}% of it` : "";
    report("lvm-over-allocated", `volume group "${vg}": fixed logical volume sizes ${formatBytes(fixed)}${pct} exceed its ${formatBytes(bytes)}`, "volumeGroups", index, "name");
  }
}
