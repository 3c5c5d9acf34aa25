import { describe, expect, it } from "vitest";
import { renderInstallPlan, type InstallPlanInput } from "../../src/boot/install-plan.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import { InstallPlanError } from "../../src/boot/errors.js";
import { renderIpxeInstaller, renderIpxeLocal } from "../../src/boot/ipxe.js";
import { renderSfdisk } from "../../src/boot/sfdisk.js";
import { goldenDir } from "../helpers/golden.js";
import { apiUrlFor, GiB, image, layouts, MiB, node, part, planInputBase } from "./fixtures.js";

/** Compares with test/boot/golden/NAME; UPDATE_GOLDEN=1 rewrites it. */
const golden = goldenDir(new URL("./golden/", import.meta.url));

function input(layout: string, over: Partial<InstallPlanInput> = {}, nodeOver: Parameters<typeof node>[0] = {}): InstallPlanInput {
  const n = node({ diskLayout: layout, ...nodeOver });
  return { ...planInputBase, node: n, layout: layouts[layout]!, apiUrl: apiUrlFor(n.name), ...over };
}

const cases: Array<[string, InstallPlanInput]> = [
  ["single-ext4", input("single")],
  ["uefi", input("uefi", {}, { firmware: { mode: "uefi", secureBoot: false, arch: "x86_64", persistentBootDevice: false } })],
  ["secureboot", input("uefi", {}, { firmware: { mode: "uefi", secureBoot: true, arch: "x86_64", persistentBootDevice: false }, boot: "local" })],
  ["raid1", input("raid1", {}, { name: "node002", hostname: "node002.cluster.local", ip: "10.141.0.12" })],
  [
    "protected",
    input(
      "protected",
      {},
      {
        name: "store01",
        hostname: "store01.cluster.local",
        protect: true,
        bmc: { driver: "ipmi", address: "10.148.0.21", netmask: "255.255.0.0", gateway: "10.148.0.1", user: "admin", password: { kind: "env", name: "BMC_PW" }, port: 623 },
      },
    ),
  ],
  ["msdos", input("msdos", {}, { installMode: "full", excludeSync: ["/home/*"] })],
  ["lvm", input("lvm", {}, { name: "node003", hostname: "node003.cluster.local", ip: "10.141.0.13" })],
];

describe("install plans (golden)", () => {
  for (const [name, inp] of cases) {
    it(`${name}: JSON and shell form`, () => {
      const plan = renderInstallPlan(inp);
      golden(`${name}.plan.json`, JSON.stringify(plan, null, 2) + "\n");
      golden(`${name}.plan.sh`, renderPlanShell(plan));
    });
  }

  it("is deterministic and the fingerprint ignores mounts but not sizes", () => {
    const a = renderInstallPlan(input("single"));
    expect(renderInstallPlan(input("single"))).toEqual(a);
    const l = structuredClone(layouts.single!);
    l.disks[0]!.partitions[0]!.mountOptions = ["noatime"];
    expect(renderInstallPlan({ ...input("single"), layout: l }).fingerprint).toBe(a.fingerprint);
    l.disks[0]!.partitions.unshift(part({ name: "swap", size: { kind: "bytes", bytes: 64 * MiB }, fs: "swap", type: "swap" }));
    expect(renderInstallPlan({ ...input("single"), layout: l }).fingerprint).not.toBe(a.fingerprint);
  });

  it("LVM: groups over an array and partitions, volumes made with rest last, fstab by label, GRUB on the disks under /", () => {
    const plan = renderInstallPlan(input("lvm"));
    expect(plan.volumeGroups).toEqual([
      { name: "vgsys", devices: ["md:0"] },
      { name: "vgdata", devices: ["part:0:3", "part:1:3"] },
    ]);
    expect(plan.logicalVolumes.map((l) => [l.device, l.device_ref, l.create.slice(-3).join(" ")])).toEqual([
      ["/dev/vgsys/root", "lv:0", "-l 60%VG vgsys"],
      ["/dev/vgsys/var", "lv:1", "-L 4096m vgsys"],
      ["/dev/vgsys/swap", "lv:2", "-L 1572864b vgsys"],
      ["/dev/vgdata/scratch", "lv:3", "-l 100%FREE vgdata"],
    ]);
    expect(plan.filesystems.map((f) => `${f.device} ${f.mount ?? f.fs} ${f.label}`)).toEqual(["lv:0 / root", "lv:3 /scratch scratch", "lv:1 /var var", "lv:2 swap swap"]);
    expect(plan.bootLoader?.disks).toEqual([0, 1]);
    expect(plan.disks.map((d) => d.select)).toEqual([{ byPath: "pci-0000:00:1f.2-ata-1", rotational: false }, { wwn: "0x5000c500a1b2c3d4" }]);
  });

  it("fingerprints LVM (groups, volume sizes) but keeps the fingerprint of layouts without it", () => {
    const a = renderInstallPlan(input("lvm"));
    const l = structuredClone(layouts.lvm!);
    // The label stays "var" (it would otherwise follow the mount point, and labels are on the disks).
    l.logicalVolumes![2]!.label = "var";
    l.logicalVolumes![2]!.mount = "/srv";
    l.logicalVolumes![2]!.mountOptions = ["noatime"];
    expect(renderInstallPlan({ ...input("lvm"), layout: l }).fingerprint).toBe(a.fingerprint);
    l.logicalVolumes![2]!.size = { kind: "bytes", bytes: 8 * GiB };
    expect(renderInstallPlan({ ...input("lvm"), layout: l }).fingerprint).not.toBe(a.fingerprint);
    const moved = structuredClone(layouts.lvm!);
    moved.volumeGroups![1]!.devices = ["sda-data"];
    expect(renderInstallPlan({ ...input("lvm"), layout: moved }).fingerprint).not.toBe(a.fingerprint);
    // An empty LVM list is no LVM: the fingerprint already on the disks of a non-LVM node stays valid.
    const single = renderInstallPlan(input("single")).fingerprint;
    expect(renderInstallPlan({ ...input("single"), layout: { ...layouts.single!, volumeGroups: [], logicalVolumes: [] } }).fingerprint).toBe(single);
  });

  it("mounts parents first and puts swap last", () => {
    const plan = renderInstallPlan(input("uefi"));
    expect(plan.filesystems.map((f) => f.mount ?? f.fs)).toEqual(["/", "/var", "/boot/efi", "swap"]);
  });

  it("keeps the BMC password out of the plan and honours --allow-wipe", () => {
    const inp = cases.find(([n]) => n === "protected")![1];
    const plan = renderInstallPlan(inp);
    expect(plan.protect).toBe(true);
    expect(plan.bmc?.passwordUserId).toBe(2);
    expect(JSON.stringify(plan)).not.toMatch(/BMC_PW|"password"/);
    expect(renderInstallPlan({ ...inp, allowWipe: true }).protect).toBe(false);
  });

  it("excludes lost+found of every ext4 fs and the files the installer writes", () => {
    const plan = renderInstallPlan(input("protected"));
    expect(plan.exclude.full).toContain("/lost+found");
    expect(plan.exclude.full).toContain("/scratch/lost+found");
    expect(plan.exclude.sync).toContain("/etc/fstab");
    expect(plan.exclude.sync).toContain("/etc/metalform/layout");
  });

  it("refuses layouts it cannot render", () => {
    const bad = structuredClone(layouts.single!);
    bad.disks[0]!.partitions.push(part({ name: "late", size: { kind: "bytes", bytes: GiB }, mount: "/late" }));
    expect(() => renderInstallPlan({ ...input("single"), layout: bad })).toThrow(/rest of the disk/);
    const noRoot = structuredClone(layouts.single!);
    noRoot.disks[0]!.partitions[0]!.mount = "/srv";
    expect(() => renderInstallPlan({ ...input("single"), layout: noRoot })).toThrow(InstallPlanError);
    const five = { ...layouts.msdos!.disks[0]!, partitions: Array.from({ length: 5 }, (_, i) => part({ name: `p${i}`, size: { kind: "bytes", bytes: MiB } })) };
    expect(() => renderSfdisk(five)).toThrow(/at most 4/);
    expect(() => renderInstallPlan(input("single", {}, { hostname: "x" }))).not.toThrow();
    expect(() => renderInstallPlan(input("single", { rsyncUrl: "http://x/" }))).toThrow(/rsync URL/);
  });

  it("quotes hostile values in the shell form", () => {
    const plan = renderInstallPlan(input("single", {}, { hostname: "a'b;$(reboot)" }));
    expect(renderPlanShell(plan)).toContain(`MF_HOSTNAME='a'\\''b;$(reboot)'`);
  });
});

describe("iPXE scripts (golden)", () => {
  const n = node();
  it("runs the installer", () => {
    golden(
      "node001.installer.ipxe",
      renderIpxeInstaller({
        node: n,
        image,
        kernelUrl: "http://10.141.0.1:8080/boot/images/compute/vmlinuz",
        initrdUrl: "http://10.141.0.1:8080/boot/installer/installer-0123abcd.img",
        apiUrl: apiUrlFor(n.name),
      }),
    );
  });
  it("carries no credential: the script is public (fetched by MAC) and its command line stays in /proc/cmdline", () => {
    const s = renderIpxeInstaller({ node: n, image, kernelUrl: "http://x/k", initrdUrl: "http://x/i", apiUrl: apiUrlFor(n.name) });
    expect(s).not.toMatch(/token|password|secret|credential/i);
  });
  it("boots the local disk with exit or sanboot", () => {
    golden("node001.local.ipxe", renderIpxeLocal(n));
    expect(renderIpxeLocal(n, "sanboot")).toContain("sanboot --no-describe --drive 0x80");
  });
  it("refuses kernel arguments that are not plain words", () => {
    expect(() => renderIpxeInstaller({ node: node({ kernelArgs: ["a b"] }), image, kernelUrl: "http://x/k", initrdUrl: "http://x/i", apiUrl: "http://x" })).toThrow(/plain word/);
  });
});
