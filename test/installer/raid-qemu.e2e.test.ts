// RAID1 needs the md driver, which the test host's kernel may lack, so this runs the
// whole installer as a node would: the built initramfs as PID 1 under QEMU (TCG) with
// the image's kernel and two virtio disks, DHCP from QEMU's user network, the real
// rsync daemon and API on the host's loopback (the guest reaches it as 10.0.2.2), then
// switch_root into the image, whose init prints /proc/mdstat and reports UP.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DiskLayout } from "../../src/config/types.js";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { buildInstaller } from "../../src/installer/build.js";
import type { NodeUp } from "../../src/services/installer-api/reports.js";
import { image as baseImage, network, node } from "../boot/fixtures.js";
import { makeImage, requireTools, startApi, startRsyncDaemon, type ApiServer, type RsyncDaemon } from "./harness.js";
import { kernelTree } from "./kernel-tree.js";

const MiB = 1024 * 1024;
const MAC = "52:54:00:6d:66:01";
const NODE = "raid01";
let dir: string;
let api: ApiServer;
let rsyncd: RsyncDaemon;
let initrd: string;
let kernel: string;
const ups: NodeUp[] = [];

const layout: DiskLayout = {
  name: "raid1",
  pos: { file: "t.yaml", line: 1, col: 1 },
  disks: ["a", "b"].map((d) => ({
    name: `disk-${d}`,
    match: { minSize: 64 * MiB },
    table: "gpt" as const,
    partitions: [
      // An ESP on the first disk: vfat made, checked and mounted by the installer's kernel.
      ...(d === "a"
        ? [{ name: "esp", size: { kind: "bytes" as const, bytes: 32 * MiB }, fs: "vfat" as const, type: "esp" as const, mount: "/boot/efi", mountOptions: ["umask=0077"] }]
        : []),
      { name: `root-${d}`, size: { kind: "rest" as const }, fs: "none" as const, type: "raid" as const, mountOptions: [] },
    ],
  })),
  raid: [{ name: "root", level: 1, members: ["root-a", "root-b"], fs: "ext4", mount: "/", mountOptions: [], label: "root" }],
};

function disk(name: string): string {
  const f = join(dir, name);
  const fd = openSync(f, "w");
  ftruncateSync(fd, 96 * MiB);
  closeSync(fd);
  return f;
}

function imageInit(): string {
  return `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "MF-IMAGE-INIT $(cat /etc/hostname)"
cat /proc/mdstat
cat /proc/mounts
/etc/metalform/report-up && echo MF-UP-SENT
poweroff -f
`;
}

async function boot(disks: string[], timeoutMs = 240_000): Promise<string> {
  api.open(NODE); // a new install attempt: the installer claims its credential
  const args = [
    "-accel",
    "tcg",
    "-cpu",
    "max",
    "-m",
    "512",
    "-smp",
    "1",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-kernel",
    kernel,
    "-initrd",
    initrd,
    "-append",
    `console=ttyS0 loglevel=3 panic=-1 mf.api=http://10.0.2.2:${new URL(api.base).port}/api/v1/installer/nodes/${NODE} mf.mac=${MAC} mf.onfail=poweroff`,
    "-netdev",
    "user,id=n0,restrict=off",
    "-device",
    `virtio-net-pci,netdev=n0,mac=${MAC}`,
    ...disks.flatMap((d) => ["-drive", `file=${d},format=raw,if=virtio,cache=unsafe`]),
  ];
  const q = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  q.stdout.on("data", (c: Buffer) => (out += c.toString()));
  q.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => q.kill("SIGKILL"), timeoutMs);
  await new Promise((r) => q.on("close", r));
  clearTimeout(timer);
  return out;
}

beforeAll(async () => {
  requireTools("rsync", "busybox", "sfdisk", "mdadm", "mkfs.ext4");
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) throw new Error("qemu-system-x86_64 missing: apt-get install qemu-system-x86");
  dir = mkdtempSync(join(tmpdir(), "mfin-raid-"));
  const tree = kernelTree();
  const built = await buildInstaller({ outDir: join(dir, "out"), kernelTree: tree });
  initrd = built.path;
  kernel = join(tree, "boot", `vmlinuz-${built.kernelVersion}`);

  const img = join(dir, "image");
  makeImage(img, 20, 64 * 1024);
  for (const d of ["bin", "proc", "sys", "dev", "run"]) mkdirSync(join(img, d), { recursive: true });
  copyFileSync("/bin/busybox", join(img, "bin/busybox"));
  chmodSync(join(img, "bin/busybox"), 0o755);
  for (const a of ["sh", "mount", "cat", "wget", "sleep", "poweroff", "nc", "timeout", "head", "grep"]) symlinkSync("busybox", join(img, "bin", a));
  writeFileSync(join(img, "sbin/init"), imageInit(), { mode: 0o755 });

  api = await startApi();
  api.api.events.on("up", (u) => ups.push(u));
  rsyncd = await startRsyncDaemon(dir, { img });
  api.plans.set(
    NODE,
    renderInstallPlan({
      node: node({ name: NODE, hostname: `${NODE}.cluster.local`, mac: MAC, ip: "10.0.2.15" }),
      layout,
      image: { ...baseImage, excludeSync: [], excludeFull: [] },
      network,
      imageDigest: "sha256:" + "ef".repeat(32),
      rsyncUrl: `rsync://10.0.2.2:${rsyncd.port}/img/`,
      apiUrl: `http://10.0.2.2:${new URL(api.base).port}/api/v1/installer/nodes/${NODE}`,
      nodeCredential: await api.nodeCredentials.issue(NODE),
    }),
  );
}, 300_000);

afterAll(async () => {
  await rsyncd?.stop();
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential("RAID1 through the whole installer under QEMU", () => {
  let d0 = "";
  it("full install onto two blank disks, switch root, UP", async () => {
    d0 = disk("d0.img");
    const d1 = disk("d1.img");
    const first = api.reports.length;
    const out = await boot([d0, d1]);
    const steps = api.reports.slice(first).map((r) => `${r.step}:${r.status}`);
    expect(steps, out).toEqual(
      expect.arrayContaining(["modules:finished", "network:finished", "partition:finished", "raid:finished", "mkfs:finished", "rsync:finished", "switch-root:started"]),
    );
    expect(out).toContain(`MF-IMAGE-INIT ${NODE}.cluster.local`);
    expect(out).toMatch(/md0 : active raid1 vd[ab][12]\[[01]\] vd[ab][12]\[[01]\]/);
    expect(out).toContain("MF-UP-SENT");
    expect(out).toMatch(/ \/boot\/efi vfat rw,.*fmask=0077,dmask=0077/);
    expect(ups.at(-1)).toMatchObject({ node: NODE, image: "sha256:" + "ef".repeat(32) });
  }, 300_000);

  it("syncs with one disk replaced by a blank one: assembles degraded and rebuilds onto it", async () => {
    const fresh = disk("d1-new.img");
    const first = api.reports.length;
    const out = await boot([d0, fresh]);
    if (process.env.MF_VERBOSE) console.log(out, JSON.stringify(api.reports.slice(first)));
    const reports = api.reports.slice(first);
    const steps = reports.map((r) => `${r.step}:${r.status}`);
    expect(steps, out).toEqual(expect.arrayContaining(["assemble:finished", "rsync:finished", "switch-root:started"]));
    expect(steps).not.toContain("mkfs:started");
    expect(reports.find((r) => r.step === "mode" && r.status === "finished")?.message).toMatch(/^sync: layout on disk matches/);
    const asm = reports.find((r) => r.step === "assemble" && r.status === "finished")!.message!;
    expect(asm).toMatch(/\/dev\/md0:\S+,degraded=1; rebuilding onto \/dev\/vdb1/);
    expect(out).toMatch(/md0 : active raid1 vdb1\[\d\] vda2\[\d\]|md0 : active raid1 vda2\[\d\] vdb1\[\d\]/);
    expect(out).toMatch(/ \/boot\/efi vfat /);
    expect(out).toContain("MF-IMAGE-INIT");
  }, 300_000);
});
