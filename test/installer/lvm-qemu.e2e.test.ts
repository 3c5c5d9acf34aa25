// Disk selection by the facts real disks report, and LVM, through the whole installer
// under QEMU (TCG): the host kernel has no device-mapper or md. Four disks, as the
// guest's kernel sees them: two virtio disks (PCI slots 5 and 7, serials), a SCSI disk
// with a WWN and a SCSI SSD with a model string (virtio-scsi). The layout finds them by
// by-path, WWN, model substring + rotational and serial; a RAID1 over the first two
// carries volume group vgsys (root by percentage, /var by size), vgdata spans a
// partition of the first disk and the SSD (/data, the rest). Then: an ambiguous
// layout is refused, naming every candidate, before anything is written; a second run
// keeps the file systems (sync, data kept); a protected node whose layout changed is
// refused and its disks (volume groups included) stay byte for byte the same; with
// --allow-wipe it is installed over the old groups.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, closeSync, copyFileSync, createReadStream, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import type { DiskLayout, DiskMatch } from "../../src/config/types.js";
import { buildInstaller } from "../../src/installer/build.js";
import type { NodeReport } from "../../src/services/installer-api/reports.js";
import { image as baseImage, network, node } from "../boot/fixtures.js";
import { makeImage, requireTools, startApi, startRsyncDaemon, type ApiServer, type RsyncDaemon } from "./harness.js";
import { kernelTree } from "./kernel-tree.js";

const MiB = 1024 * 1024;
const MAC = "52:54:00:6d:66:02";
const NODE = "lvm01";
const WWN = "0x5000c500a1b2c3d4";
let dir: string;
let api: ApiServer;
let rsyncd: RsyncDaemon;
let initrd: string;
let kernel: string;
let rsyncUrl: string;
let apiUrl: string;

/** The node's disks: file, size, and the QEMU devices that give it its identity. */
const DISKS = [
  { file: "a.img", mib: 256, device: (id: string) => `virtio-blk-pci,drive=${id},addr=0x5,serial=MFA-0001` },
  { file: "b.img", mib: 192, device: (id: string) => `scsi-hd,drive=${id},bus=scsi0.0,scsi-id=0,lun=0,wwn=${WWN},serial=MFB-0002,product=Archive HDD` },
  { file: "c.img", mib: 160, device: (id: string) => `scsi-hd,drive=${id},bus=scsi0.0,scsi-id=1,lun=0,serial=MFC-0003,vendor=MFLAB,product=Fast SSD X1,rotation_rate=1` },
  { file: "d.img", mib: 96, device: (id: string) => `virtio-blk-pci,drive=${id},addr=0x7,serial=MFD-0004` },
];

const rest = { kind: "rest" as const };
const raidPart = (name: string) => ({ name, size: { kind: "bytes" as const, bytes: 128 * MiB }, fs: "none" as const, type: "raid" as const, mountOptions: [] });
const pvPart = (name: string) => ({ name, size: rest, fs: "none" as const, type: "lvm" as const, mountOptions: [] });

function layout(varMiB = 24): DiskLayout {
  const disk = (name: string, match: DiskMatch, partitions: DiskLayout["disks"][number]["partitions"]) => ({ name, match, table: "gpt" as const, partitions });
  return {
    name: "lvm",
    pos: { file: "t.yaml", line: 1, col: 1 },
    disks: [
      disk("sys-a", { device: "/dev/disk/by-path/pci-0000:00:05.0" }, [raidPart("ra"), pvPart("pv-a")]),
      disk("sys-b", { wwn: WWN.toUpperCase().replace("0X", "0x") }, [raidPart("rb")]),
      disk("fast", { model: "ssd", rotational: false }, [pvPart("pv-c")]),
      disk("spare", { serial: "MFD-0004" }, [{ name: "spare", size: rest, fs: "ext4", type: "linux", mount: "/spare", mountOptions: [] }]),
    ],
    raid: [{ name: "sys", level: 1, members: ["ra", "rb"], fs: "none", mountOptions: [] }],
    volumeGroups: [
      { name: "vgsys", devices: ["sys"] },
      { name: "vgdata", devices: ["pv-a", "pv-c"] },
    ],
    logicalVolumes: [
      { name: "root", vg: "vgsys", size: { kind: "percent", percent: 70 }, fs: "ext4", mount: "/", mountOptions: [] },
      { name: "var", vg: "vgsys", size: { kind: "bytes", bytes: varMiB * MiB }, fs: "ext4", mount: "/var", mountOptions: [] },
      { name: "data", vg: "vgdata", size: rest, fs: "ext4", mount: "/data", mountOptions: [] },
    ],
  };
}

/** One disk matched by size alone: all four qualify. */
const ambiguous: DiskLayout = {
  name: "ambiguous",
  pos: { file: "t.yaml", line: 1, col: 1 },
  disks: [{ name: "os", match: { minSize: 64 * MiB }, table: "gpt", partitions: [{ name: "root", size: rest, fs: "ext4", type: "linux", mount: "/", mountOptions: [] }] }],
  raid: [],
};

/** The node's plan for layout `l`; `allowWipe`: the operator named the protected node with --allow-wipe. */
function setPlan(l: DiskLayout, opts: { protect?: boolean; allowWipe?: boolean } = {}): void {
  const { protect = false, allowWipe = false } = opts;
  const n = node({ name: NODE, hostname: `${NODE}.cluster.local`, mac: MAC, ip: "10.0.2.15", protect });
  api.plans.set(
    NODE,
    renderInstallPlan({
      node: n,
      layout: l,
      image: { ...baseImage, excludeSync: ["/data/marker"], excludeFull: [] },
      network,
      imageDigest: "sha256:" + "cd".repeat(32),
      rsyncUrl,
      apiUrl,
      nodeCredential: "unused-here",
      allowWipe,
    }),
  );
}

function makeDisks(): void {
  for (const d of DISKS) {
    const fd = openSync(join(dir, d.file), "w");
    ftruncateSync(fd, d.mib * MiB);
    closeSync(fd);
  }
}

async function diskHashes(): Promise<string[]> {
  return Promise.all(
    DISKS.map(
      (d) =>
        new Promise<string>((resolve, reject) => {
          const h = createHash("sha256");
          createReadStream(join(dir, d.file))
            .on("data", (c) => h.update(c))
            .on("end", () => resolve(h.digest("hex")))
            .on("error", reject);
        }),
    ),
  );
}

function imageInit(): string {
  return `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "MF-IMAGE-INIT $(cat /etc/hostname)"
for d in /sys/block/sd*; do echo "/dev/\${d##*/}: wwn $(cat $d/device/wwid 2>/dev/null | sed 's/^naa\\./0x/')"; done
cat /proc/mounts
echo "MF-LVS $(ls /dev/vgsys /dev/vgdata | tr '\\n' ' ')"
echo "MF-MARKER $(cat /data/marker 2>/dev/null || echo none)"
[ -f /data/marker ] || echo first-install >/data/marker
sync
poweroff -f
`;
}

/** Boots the installer on the four disks; the serial console and this attempt's reports. */
async function boot(timeoutMs = 300_000): Promise<{ out: string; reports: NodeReport[] }> {
  api.open(NODE);
  const first = api.reports.length;
  const drives = DISKS.flatMap((d, i) => ["-drive", `file=${join(dir, d.file)},format=raw,if=none,id=d${i},cache=unsafe`, "-device", d.device(`d${i}`)]);
  const args = ["-accel", "tcg", "-cpu", "max", "-m", "512", "-smp", "1", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"];
  args.push("-kernel", kernel, "-initrd", initrd, "-append", `console=ttyS0 loglevel=3 panic=-1 mf.api=${apiUrl} mf.mac=${MAC} mf.onfail=poweroff`);
  args.push("-netdev", "user,id=n0,restrict=off", "-device", `virtio-net-pci,netdev=n0,mac=${MAC},addr=0x3`, "-device", "virtio-scsi-pci,id=scsi0,addr=0x6", ...drives);
  const q = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  q.stdout.on("data", (c: Buffer) => (out += c.toString()));
  q.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => q.kill("SIGKILL"), timeoutMs);
  await new Promise((r) => q.on("close", r));
  clearTimeout(timer);
  if (process.env.MF_VERBOSE) console.log(out);
  return { out, reports: api.reports.slice(first) };
}

const steps = (reports: NodeReport[]) => reports.map((r) => `${r.step}:${r.status}`);
const message = (reports: NodeReport[], step: string, status = "finished") => reports.find((r) => r.step === step && r.status === status)?.message ?? "";

beforeAll(async () => {
  requireTools("rsync", "busybox", "sfdisk", "mdadm", "mkfs.ext4", "lvm");
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) throw new Error("qemu-system-x86_64 missing: apt-get install qemu-system-x86");
  dir = mkdtempSync(join(tmpdir(), "mfL-lvm-"));
  const tree = kernelTree();
  const built = await buildInstaller({ outDir: join(dir, "out"), kernelTree: tree });
  initrd = built.path;
  kernel = join(tree, "boot", `vmlinuz-${built.kernelVersion}`);
  const img = join(dir, "image");
  makeImage(img, 10, 64 * 1024);
  for (const d of ["bin", "proc", "sys", "dev", "run", "data"]) mkdirSync(join(img, d), { recursive: true });
  copyFileSync("/bin/busybox", join(img, "bin/busybox"));
  chmodSync(join(img, "bin/busybox"), 0o755);
  for (const a of ["sh", "mount", "cat", "ls", "tr", "echo", "sed", "sync", "poweroff"]) symlinkSync("busybox", join(img, "bin", a));
  writeFileSync(join(img, "sbin/init"), imageInit(), { mode: 0o755 });
  api = await startApi();
  rsyncd = await startRsyncDaemon(dir, { img });
  rsyncUrl = `rsync://10.0.2.2:${rsyncd.port}/img/`;
  apiUrl = `http://10.0.2.2:${new URL(api.base).port}/api/v1/installer/nodes/${NODE}`;
  makeDisks();
}, 300_000);

afterAll(async () => {
  await rsyncd?.stop();
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential("disk selection and LVM through the whole installer under QEMU", () => {
  it("refuses an ambiguous match before writing anything, listing every candidate with its facts", async () => {
    setPlan(ambiguous);
    const before = await diskHashes();
    const { out, reports } = await boot(180_000);
    const refusal = message(reports, "disks", "failed");
    expect(refusal, out).toMatch(/^disk os is ambiguous: 4 disks match \(device=any minSize=67108864 serial=any model=any\): candidates:/);
    // The SCSI disks' kernel names follow their (asynchronous) probe order and change between boots; their facts do not.
    expect(refusal).toMatch(
      new RegExp(`/dev/sd[ab] \\(201326592 bytes, serial MFB-0002, wwn ${WWN}, model Archive HDD, vendor QEMU, rotational 1, path pci-0000:00:06\\.0-scsi-0:0:0:0\\)`),
    );
    expect(refusal).toMatch(/\/dev\/sd[ab] \(167772160 bytes, serial MFC-0003, wwn [^,]*, model Fast SSD X1, vendor MFLAB, rotational 0, path pci-0000:00:06\.0-scsi-0:0:1:0\)/);
    expect(refusal).toContain("/dev/vda (268435456 bytes, serial MFA-0001, wwn , model , vendor , rotational 1, path pci-0000:00:05.0)");
    expect(refusal).toContain("/dev/vdb (100663296 bytes, serial MFD-0004");
    expect(steps(reports)).not.toContain("mode:started");
    expect(await diskHashes()).toEqual(before);
  }, 240_000);

  it("finds each disk by by-path, WWN, model + rotational and serial; RAID1 → LVM; LVs by percentage, size and rest, mounted", async () => {
    setPlan(layout());
    const { out, reports } = await boot();
    expect(steps(reports), out).toEqual(expect.arrayContaining(["partition:finished", "raid:finished", "lvm:finished", "mkfs:finished", "rsync:finished", "switch-root:started"]));
    // Identity rules first (by-path, WWN, serial), then the model rule; sda/sdb swap between boots, the choice follows the disks.
    const chosen = /^sys-a=\/dev\/vda sys-b=(\/dev\/sd[ab]) spare=\/dev\/vdb fast=(\/dev\/sd[ab])$/.exec(message(reports, "disks"));
    expect(chosen, message(reports, "disks")).not.toBeNull();
    expect(chosen![1]).not.toBe(chosen![2]);
    expect(out).toMatch(new RegExp(`^${chosen![1]}: wwn ${WWN}$`, "m"));
    expect(message(reports, "lvm")).toBe("2 volume groups, 3 logical volumes");
    // The image has no lvm2: booting from its own disk could not activate the volumes, and the installer says so.
    expect(reports.some((r) => r.step === "lvm" && /^warning: the image has no lvm2/.test(r.message ?? ""))).toBe(true);
    expect(out).toContain(`MF-IMAGE-INIT ${NODE}.cluster.local`);
    expect(out).toMatch(/^\/dev\/vgsys\/root \/ ext4 /m);
    expect(out).toMatch(/^\/dev\/vgsys\/var \/var ext4 /m);
    expect(out).toMatch(/^\/dev\/vgdata\/data \/data ext4 /m);
    expect(out).toMatch(/^\/dev\/vdb1 \/spare ext4 /m);
    expect(out).toMatch(/MF-LVS \/dev\/vgdata: data +\/dev\/vgsys: root var/);
    expect(out).toContain("MF-MARKER none");
  }, 360_000);

  it("a second run with the same layout syncs: volume groups activated, no mkfs, data on the logical volume kept", async () => {
    const { out, reports } = await boot();
    expect(message(reports, "mode"), out).toMatch(/^sync: layout on disk matches/);
    expect(message(reports, "lvm")).toBe("activated vgsys vgdata");
    expect(steps(reports)).not.toContain("mkfs:started");
    expect(steps(reports)).toEqual(expect.arrayContaining(["assemble:finished", "fsck:finished", "rsync:finished", "switch-root:started"]));
    expect(out).toContain("MF-MARKER first-install");
  }, 360_000);

  it("a protected node whose layout changed is refused; its disks and volume groups stay byte for byte the same", async () => {
    setPlan(layout(32), { protect: true });
    const before = await diskHashes();
    const { out, reports } = await boot();
    expect(message(reports, "mode", "failed"), out).toMatch(/^would wipe protected disks: layout on disk differs/);
    expect(steps(reports)).not.toContain("partition:started");
    expect(steps(reports)).not.toContain("lvm:started");
    expect(await diskHashes()).toEqual(before);
  }, 360_000);

  it("with --allow-wipe the changed layout is installed over the old volume groups (probe deactivates them, full install recreates them)", async () => {
    setPlan(layout(32), { protect: true, allowWipe: true });
    const { out, reports } = await boot();
    expect(message(reports, "mode"), out).toMatch(/^full: layout on disk differs/);
    expect(steps(reports)).toEqual(expect.arrayContaining(["partition:finished", "raid:finished", "lvm:finished", "mkfs:finished", "switch-root:started"]));
    expect(out).toMatch(/^\/dev\/vgsys\/var \/var ext4 /m);
    expect(out).toContain("MF-MARKER none");
  }, 360_000);
});
