// Disk layouts with LVM and the newer match rules: a valid one loads into the typed
// model (and a layout without LVM keeps its shape), and each mistake gets one
// diagnostic at its FILE:LINE:COL naming the field: unknown volume group, a device
// that is no partition or array, a device with a file system, a RAID member used as
// a physical volume, over-allocation, percentages past 100, an empty size range.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatDiagnostics } from "../../src/config/diagnostics.js";
import { loadClusterSync } from "../../src/config/load.js";
import { HEAD, node, removeConfigs, snapshot, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

const N1 = node("n1", "52:54:00:00:00:01", "10.0.0.10");
/** HEAD with the layout (lines 3-9) replaced by `layout` (starting on line 3). */
const withLayout = (layout: string) => HEAD.replace(/^diskLayouts:\n(?: .*\n)+/m, layout) + N1;

const DISKS = `diskLayouts:
  one:
    disks:
      - name: a
        match: {device: /dev/disk/by-path/pci-0000:00:05.0, rotational: false}
        partitions:
          - {name: a-boot, size: 512MiB, fs: ext4, mount: /boot}
          - {name: a-r, size: 20GiB, type: raid}
          - {name: a-pv, size: 10GiB, type: lvm}
      - name: b
        match: {wwn: "0x5000C500A1B2C3D4", model: SSD, minSize: 20GiB, maxSize: 4TiB}
        partitions:
          - {name: b-r, size: 20GiB, type: raid}
    raid:
      - {name: md0, level: 1, members: [a-r, b-r]}
`;

function load(yaml: string) {
  const dir = writeConfig({ "c.yaml": yaml });
  const before = snapshot(dir);
  const r = loadClusterSync(join(dir, "c.yaml"));
  expect(snapshot(dir)).toEqual(before);
  return { r, shown: r.diagnostics.map((d) => formatDiagnostics([d], { cwd: dir })) };
}

describe("LVM and match rules in disk layouts", () => {
  it("loads volume groups over a partition and a RAID array, and logical volumes by size, percentage and rest", () => {
    const { r, shown } = load(
      withLayout(
        DISKS +
          `    volumeGroups:
      - {name: sys, devices: [md0]}
      - {name: data, devices: [a-pv]}
    logicalVolumes:
      - {name: root, vg: sys, size: 60%, fs: ext4, mount: /}
      - {name: var, vg: sys, size: 2GiB, fs: xfs, mount: /var, label: var}
      - {name: scratch, vg: data, size: rest, fs: ext4, mount: /scratch, mountOptions: [noatime]}
`,
      ),
    );
    expect(shown).toEqual([]);
    const layout = r.cluster!.diskLayouts.get("one")!;
    expect(layout.disks[0]!.match).toEqual({ device: "/dev/disk/by-path/pci-0000:00:05.0", rotational: false });
    expect(layout.disks[1]!.match).toEqual({ wwn: "0x5000C500A1B2C3D4", model: "SSD", minSize: 20 * 1024 ** 3, maxSize: 4 * 1024 ** 4 });
    expect(layout.disks[0]!.partitions[2]!.type).toBe("lvm");
    expect(layout.volumeGroups).toEqual([
      { name: "sys", devices: ["md0"] },
      { name: "data", devices: ["a-pv"] },
    ]);
    expect(layout.logicalVolumes).toEqual([
      { name: "root", vg: "sys", size: { kind: "percent", percent: 60 }, fs: "ext4", mount: "/", mountOptions: [] },
      { name: "var", vg: "sys", size: { kind: "bytes", bytes: 2 * 1024 ** 3 }, fs: "xfs", mount: "/var", mountOptions: [], label: "var" },
      { name: "scratch", vg: "data", size: { kind: "rest" }, fs: "ext4", mount: "/scratch", mountOptions: ["noatime"] },
    ]);
  });

  it("leaves the LVM lists out of a layout without LVM (its digest stays what it was)", () => {
    const { r } = load(HEAD + N1);
    const layout = r.cluster!.diskLayouts.get("one")!;
    expect("volumeGroups" in layout).toBe(false);
    expect("logicalVolumes" in layout).toBe(false);
  });

  const cases: Array<{ name: string; lvm: string; expect: string[] }> = [
    {
      name: "a logical volume in an unknown volume group",
      lvm: `    volumeGroups: [{name: sys, devices: [md0]}]
    logicalVolumes:
      - {name: root, vg: sys, size: 50%, fs: ext4, mount: /}
      - {name: home, vg: sytem, size: 1GiB, fs: ext4, mount: /home}
`,
      expect: ['c.yaml:21:26: error[unknown-volume-group]: disk layout "one": logical volume "home" names volume group "sytem", which is not in volumeGroups'],
    },
    {
      name: "devices that are no partition or array, carry a file system, or are RAID members",
      lvm: `    volumeGroups: [{name: sys, devices: [md0, a-boot, a-r, nvme9]}]
    logicalVolumes: [{name: root, vg: sys, size: rest, fs: ext4, mount: /}]
`,
      expect: [
        'c.yaml:18:47: error[lvm-device-has-fs]: disk layout "one": volume group "sys": device "a-boot" must have fs: none (its logical volumes carry the file systems)',
        'c.yaml:18:55: error[lvm-device-in-raid]: disk layout "one": volume group "sys": partition "a-r" is a RAID member; name the array instead',
        'c.yaml:18:60: error[lvm-unknown-device]: disk layout "one": volume group "sys" names device "nvme9", which is no partition or RAID array of this layout',
      ],
    },
    {
      name: "percentages of a group past 100%",
      lvm: `    volumeGroups: [{name: sys, devices: [md0]}]
    logicalVolumes:
      - {name: root, vg: sys, size: 60%, fs: ext4, mount: /}
      - {name: var, vg: sys, size: 50%, fs: ext4, mount: /var}
`,
      expect: ['c.yaml:18:27: error[lvm-over-allocated]: disk layout "one": volume group "sys": logical volume percentages add up to 110%'],
    },
    {
      name: "fixed sizes beyond a group of fixed-size partitions, two rest volumes, a device in two groups",
      lvm: `    volumeGroups:
      - {name: data, devices: [a-pv]}
      - {name: more, devices: [a-pv]}
    logicalVolumes:
      - {name: root, vg: data, size: 8GiB, fs: ext4, mount: /}
      - {name: big, vg: data, size: 4GiB, fs: xfs, mount: /big}
      - {name: r1, vg: more, size: rest, fs: ext4, mount: /r1}
      - {name: r2, vg: more, size: rest, fs: ext4, mount: /r2}
`,
      expect: [
        'c.yaml:20:32: error[lvm-device-reused]: disk layout "one": device "a-pv" is a physical volume of both "data" and "more"',
        'c.yaml:25:36: error[lvm-two-rest]: disk layout "one": volume group "more" has more than one logical volume of size "rest"',
        'c.yaml:19:16: error[lvm-over-allocated]: disk layout "one": volume group "data": fixed logical volume sizes 12GiB exceed its 10239MiB',
      ],
    },
    {
      name: "a percentage past 100 for one volume",
      lvm: `    volumeGroups: [{name: sys, devices: [md0]}]
    logicalVolumes:
      - {name: root, vg: sys, size: 150%, fs: ext4, mount: /}
`,
      expect: ['c.yaml:20:37: error[invalid-size]: disk layout "one": size "150%" of logical volume "root" must be more than zero'],
    },
    {
      name: "a logical volume mounted where a partition already is",
      lvm: `    volumeGroups: [{name: sys, devices: [md0]}]
    logicalVolumes:
      - {name: root, vg: sys, size: 40%, fs: ext4, mount: /}
      - {name: boot, vg: sys, size: 1GiB, fs: ext4, mount: /boot}
`,
      expect: ['c.yaml:21:60: error[duplicate-mount]: disk layout "one": mount point /boot is used twice (also by partition 1 of disk "a")'],
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const { r, shown } = load(withLayout(DISKS + c.lvm));
    for (const e of c.expect)
      expect(
        shown.some((s) => s.startsWith(e)),
        `${e}\nnot in:\n${shown.join("\n")}`,
      ).toBe(true);
    expect(shown).toHaveLength(c.expect.length);
    expect(r.cluster).toBeUndefined();
  });

  it("refuses an empty size range and a device path of another kind", () => {
    const { shown } = load(
      withLayout(`diskLayouts:
  one:
    disks:
      - name: a
        match: {device: /dev/disk/by-uuid/1234, minSize: 2TiB, maxSize: 1TiB}
        partitions:
          - {size: rest, fs: ext4, mount: /}
`),
    );
    expect(shown).toEqual([
      expect.stringMatching(/^c\.yaml:7:25: error\[invalid-value\]: "diskLayouts\.one\.disks\[0\]\.match\.device" is not valid \("\/dev\/disk\/by-uuid\/1234"\)/),
    ]);
    const range = load(
      withLayout(
        DISKS.replace("minSize: 20GiB, maxSize: 4TiB", "minSize: 2TiB, maxSize: 1TiB") +
          "    volumeGroups: [{name: sys, devices: [md0]}]\n    logicalVolumes: [{name: root, vg: sys, size: rest, fs: ext4, mount: /}]\n",
      ),
    );
    expect(range.shown).toEqual(['c.yaml:13:80: error[size-range-empty]: disk layout "one": disk "b": minSize 2TiB is more than maxSize 1TiB']);
  });
});
