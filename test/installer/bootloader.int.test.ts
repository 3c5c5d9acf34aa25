// The installer's boot loader step against loop devices (src/boot/bootloader.ts): with
// the lab's real Debian 12 root (its own grub-install, GRUB's i386-pc files and
// grub-mkconfig, run chrooted by the installer), a GPT disk with a BIOS boot partition
// gets GRUB in its boot sector and core image, and a grub.cfg that boots the image's own
// kernel from the root file system by UUID with the network boot's kernel arguments. An
// image without GRUB is a warning in the progress, never a failure. (UEFI needs vfat,
// which this host's kernel lacks: it is proven in QEMU, test/e2e/diskboot.e2e.test.ts.)
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import type { DiskLayout } from "../../src/config/types.js";
import { image as baseImage, network, node } from "../boot/fixtures.js";
import { debianRoot, type DebianRoot } from "../helpers/debian-root.js";
import { blkid, cleanupStaleLoops, LoopDisk, makeImage, requireTools, runInstaller, startApi, startRsyncDaemon, withMounted, type ApiServer, type RsyncDaemon } from "./harness.js";

const MiB = 1024 * 1024;
let dir: string;
let debian: DebianRoot;
let api: ApiServer;
let rsyncd: RsyncDaemon;
const disks: LoopDisk[] = [];

const layout: DiskLayout = {
  name: "bios-gpt",
  pos: { file: "t.yaml", line: 1, col: 1 },
  raid: [],
  disks: [
    {
      name: "sda",
      match: { minSize: 64 * MiB },
      table: "gpt",
      partitions: [
        { name: "grub", size: { kind: "bytes", bytes: 1 * MiB }, fs: "none", type: "bios", mountOptions: [] },
        { name: "root", size: { kind: "rest" }, fs: "ext4", type: "linux", mount: "/", mountOptions: [], label: "root" },
      ],
    },
  ],
};

/** The disk's first sector (the MBR). */
function mbrOf(disk: LoopDisk): Buffer {
  const buf = Buffer.alloc(512);
  const fd = openSync(disk.file, "r");
  readSync(fd, buf, 0, 512, 0);
  closeSync(fd);
  return buf;
}

async function install(module: string, disk: LoopDisk) {
  api.plans.set(
    "node001",
    renderInstallPlan({
      node: node({ kernelArgs: ["quiet"] }),
      layout,
      image: { ...baseImage, kernelArgs: [], excludeSync: [], excludeFull: [] },
      network,
      imageDigest: "sha256:" + "cd".repeat(32),
      rsyncUrl: rsyncd.url(module),
      apiUrl: api.nodeUrl("node001"),
      nodeCredential: "test-node-credential",
    }),
  );
  const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, `w${Date.now()}`) });
  expect(run.code, run.output).toBe(0);
  return run.reports.filter((r) => r.step === "bootloader").map((r) => `${r.status}: ${r.message ?? ""}`);
}

beforeAll(async () => {
  requireTools("sfdisk", "mkfs.ext4", "e2fsck", "blkid", "partx", "losetup", "unshare", "rsync", "wget");
  cleanupStaleLoops();
  debian = await debianRoot();
  dir = mkdtempSync(join(tmpdir(), "mfin-boot-"));
  makeImage(join(dir, "plain"), 2, 1024);
  api = await startApi();
  rsyncd = await startRsyncDaemon(dir, { debian: debian.root, plain: join(dir, "plain") });
}, 1_500_000);

afterAll(async () => {
  for (const d of disks) d.detach();
  await rsyncd?.stop();
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("boot loader step, installer against loop devices", () => {
  it("BIOS on GPT: the Debian image's GRUB goes into the boot sector and the BIOS boot partition; grub.cfg boots its kernel by UUID", async () => {
    const disk = LoopDisk.create(dir, "debian.img", 2048 * MiB);
    disks.push(disk);
    const reports = await install("debian", disk);
    expect(reports).toEqual(["started: ", `finished: GRUB i386-pc on ${disk.dev}`]);
    disk.partitions();
    // GRUB's boot.img in the MBR (it says "GRUB"), core.img embedded in the BIOS boot partition.
    const mbr = mbrOf(disk);
    expect(mbr.includes(Buffer.from("GRUB"))).toBe(true);
    expect(mbr.readUInt16LE(510)).toBe(0xaa55);
    const core = execFileSync("dd", [`if=${disk.part(1)}`, "bs=64k", "count=1", "status=none"]);
    expect(core.some((b) => b !== 0)).toBe(true);
    const uuid = blkid(disk.part(2), "UUID");
    const cfg = withMounted(disk.part(2), "cat boot/grub/grub.cfg; ls boot/grub/i386-pc | grep -c '\\.mod$'; cat etc/default/grub.d/metalform.cfg", dir);
    expect(cfg).toMatch(new RegExp(`linux\\s+/boot/vmlinuz-${debian.kernelVersion.replace(/\./g, "\\.")} root=UUID=${uuid} ro console=tty0 console=ttyS0,115200n8 quiet`));
    expect(cfg).toMatch(/initrd\s+\/boot\/initrd\.img-/);
    expect(cfg).toMatch(/set timeout=1/);
    expect(cfg).toMatch(/terminal_output\s.*serial/);
  }, 900_000);

  it("an image without GRUB: the step is a warning and the install goes on", async () => {
    const disk = LoopDisk.create(dir, "plain.img", 128 * MiB);
    disks.push(disk);
    const reports = await install("plain", disk);
    expect(reports).toEqual([expect.stringMatching(/^started: $/), expect.stringMatching(/^finished: warning: the image has no GRUB for i386-pc .*boots from the network only$/)]);
    const mbr = mbrOf(disk);
    expect(mbr.includes(Buffer.from("GRUB"))).toBe(false);
  }, 300_000);
});
