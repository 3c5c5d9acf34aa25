// LVM and the newer match rules in the plan: a layout's digest covers its volume groups
// and logical volumes (changing one reimages, with the diff naming the volume), while a
// layout without LVM keeps the digest it had before LVM existed, so nodes already in
// the state are not reimaged by an upgrade.
import { describe, expect, it } from "vitest";
import type { DiskLayout } from "../../src/config/types.js";
import { canonicalJson, layoutDigest, layoutText, sha256 } from "../../src/plan/layout.js";
import { planChanges } from "../../src/plan/planner.js";
import { cluster, digests, layout, node } from "./fixtures.js";
import { applyAll } from "./scenario.js";

const V1 = digests({ compute: "compute-v1" });

function lvmLayout(varSize = 4 * 2 ** 30): DiskLayout {
  const l = layout("std");
  const disk = l.disks[0]!;
  disk.match = { serial: "S3Z1", model: "SSD", maxSize: 2 ** 40, rotational: false };
  disk.partitions[2] = { name: "sda3", size: { kind: "rest" }, fs: "none", type: "lvm", mountOptions: [] };
  return {
    ...l,
    volumeGroups: [{ name: "vg0", devices: ["sda3"] }],
    logicalVolumes: [
      { name: "root", vg: "vg0", size: { kind: "percent", percent: 50 }, fs: "ext4", mount: "/", mountOptions: [] },
      { name: "var", vg: "vg0", size: { kind: "bytes", bytes: varSize }, fs: "xfs", mount: "/var", mountOptions: ["noatime"], label: "var" },
    ],
  };
}

describe("layout digest and text with LVM", () => {
  it("keeps the digest of a layout without LVM", () => {
    const l = layout("std");
    expect(layoutDigest(l)).toBe(sha256(canonicalJson({ disks: l.disks, raid: l.raid })));
  });

  it("prints match rules, groups and volumes, one line each", () => {
    expect(layoutText(lvmLayout())).toBe(
      [
        "disk sda table=gpt match: max_size=1 TiB serial=S3Z1 model=SSD rotational=false",
        "  part sda1 size=512 MiB type=esp fs=vfat mount=/boot/efi",
        "  part sda2 size=4 GiB type=swap fs=swap",
        "  part sda3 size=rest type=lvm fs=none",
        "vg vg0 devices=sda3",
        "  lv vg0/root size=50% fs=ext4 mount=/",
        "  lv vg0/var size=4 GiB fs=xfs mount=/var options=noatime label=var",
        "",
      ].join("\n"),
    );
  });

  it("reimages a node whose logical volume changed, showing the volume's line before and after", () => {
    const before = cluster([node(1)], { layouts: [lvmLayout()] });
    const state = applyAll(before, V1);
    const now = cluster([node(1)], { layouts: [lvmLayout(8 * 2 ** 30)] });
    const plan = planChanges(now, state, { imageDigests: V1 });
    const change = plan.nodeChanges.find((c) => c.node === "node001")!;
    expect(change.kind).toBe("reimage");
    const field = change.fields.find((f) => f.field === "disk_layout")!;
    expect(field.forcesReimage).toBe(true);
    expect(field.beforeText).toContain("  lv vg0/var size=4 GiB fs=xfs");
    expect(field.afterText).toContain("  lv vg0/var size=8 GiB fs=xfs");
    expect(planChanges(before, state, { imageDigests: V1 }).nodeChanges.filter((c) => c.node === "node001")).toEqual([]);
  });
});
