// The installer with a distribution kernel: Debian's modules compressed the ways other
// distributions ship them (.ko.xz, .ko.zst, .ko.gz), two kernels side by side (the one
// the kernel file names wins), whole driver classes with modules.alias for the coldplug
// (resolved by the installer's own busybox modprobe), and the firmware those drivers name.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstaller, type BuildInstallerResult } from "../../src/installer/build.js";
import { bzImageVersion, chooseKernelVersion } from "../../src/installer/kernel-version.js";
import { inDriverClass } from "../../src/installer/module-classes.js";
import { requireTools } from "./harness.js";
import { kernelTree } from "./kernel-tree.js";

let dir: string;
let image: string; // an image-like root: lib/modules/<v>, lib/firmware, boot/vmlinuz-<v>
let version: string;
let built: BuildInstallerResult;
let unpacked: string;

const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8", maxBuffer: 64 << 20 });

/** Replaces a module of the copied tree by a compressed one (the hard link to the cache is unlinked, never written). */
function compress(rel: string, how: "xz" | "zst" | "gz"): void {
  const p = join(image, "lib/modules", version, rel);
  const data = readFileSync(p);
  unlinkSync(p);
  writeFileSync(p, data);
  const cmd = how === "xz" ? `xz --check=crc32 "${p}"` : how === "zst" ? `zstd -q --rm "${p}"` : `gzip -n "${p}"`;
  sh(cmd);
}

beforeAll(async () => {
  requireTools("cpio", "busybox", "xz", "zstd", "gzip");
  const tree = kernelTree();
  version = readdirSync(join(tree, "lib/modules"))[0]!;
  dir = mkdtempSync(join(tmpdir(), "mfin-modules-"));
  image = join(dir, "image");
  mkdirSync(join(image, "lib/modules"), { recursive: true });
  // Hard links: a whole kernel tree copied in no time and no space.
  sh(`cp -al "${join(tree, "lib/modules", version)}" "${join(image, "lib/modules", version)}"`);
  sh(`cp -al "${join(tree, "lib/modules", version)}" "${join(image, "lib/modules/6.0.0-0-old-amd64")}"`);
  mkdirSync(join(image, "boot"));
  copyFileSync(join(tree, "boot", `vmlinuz-${version}`), join(image, "boot", `vmlinuz-${version}`));
  compress("kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", "xz");
  compress("kernel/drivers/md/raid1.ko", "xz");
  compress("kernel/drivers/net/virtio_net.ko", "zst");
  compress("kernel/fs/ext4/ext4.ko", "gz");
  mkdirSync(join(image, "lib/firmware/e100"), { recursive: true });
  writeFileSync(join(image, "lib/firmware/e100/d101m_ucode.bin"), "firmware m\n");
  writeFileSync(join(image, "lib/firmware/e100/d101s_ucode.bin.xz"), "firmware s, compressed\n");
  built = await buildInstaller({ outDir: join(dir, "out"), kernelTree: image, kernelFile: join(image, "boot", `vmlinuz-${version}`) });
  unpacked = join(dir, "x");
  mkdirSync(unpacked);
  sh(`cd "${unpacked}" && gzip -dc "${built.path}" | cpio -id --quiet`);
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the installer's kernel modules", () => {
  it("uses the module tree of the image's kernel when there are several, and says why when none fits", () => {
    expect(built.kernelVersion).toBe(version);
    expect(readdirSync(join(unpacked, "lib/modules"))).toEqual([version]);
    expect(bzImageVersion(readFileSync(join(image, "boot", `vmlinuz-${version}`)))).toBe(version);
    expect(chooseKernelVersion(image)).toEqual({ error: expect.stringMatching(/several kernels \(6\.0\.0-0-old-amd64, .*\): name the kernel version/) });
    expect(chooseKernelVersion(image, join(image, "boot/vmlinuz-7.7.7-gone"))).toEqual({ error: expect.stringMatching(/has no 7\.7\.7-gone/) });
  });

  it("ships compressed modules decompressed, under their plain names, in modules.dep and load.order", () => {
    const base = join(unpacked, "lib/modules", version);
    for (const rel of ["kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", "kernel/drivers/md/raid1.ko", "kernel/drivers/net/virtio_net.ko", "kernel/fs/ext4/ext4.ko"]) {
      const data = readFileSync(join(base, rel));
      expect(data.readUInt32BE(0), rel).toBe(0x7f454c46); // ELF, not xz/zstd/gzip
    }
    const dep = readFileSync(join(base, "modules.dep"), "utf8");
    expect(dep).toMatch(/^kernel\/drivers\/md\/raid1\.ko: .*kernel\/drivers\/md\/md-mod\.ko/m);
    expect(dep).not.toMatch(/\.ko\.(xz|zst|gz)/);
    const order = readFileSync(join(base, "load.order"), "utf8").split("\n");
    expect(order).toContain("kernel/fs/ext4/ext4.ko");
    expect(order.indexOf("kernel/drivers/virtio/virtio.ko")).toBeLessThan(order.indexOf("kernel/drivers/net/virtio_net.ko"));
  });

  it("ships whole driver classes (NICs, NVMe, SAS/RAID HBAs, md/dm) with their dependencies and aliases", () => {
    const names = new Set(built.shippedModules.map((m) => m.slice(m.lastIndexOf("/") + 1, -3).replace(/-/g, "_")));
    for (const m of ["mlx5_core", "ice", "bnxt_en", "i40e", "ixgbe", "igb", "e1000e", "megaraid_sas", "mpt3sas", "smartpqi", "nvme", "dm_mod", "ahci", "virtio_blk"]) {
      expect(names.has(m), m).toBe(true);
    }
    // A dependency outside every class comes along (mlx5_core needs mlxfw, pci-hyperv-intf, ...).
    const dep = readFileSync(join(unpacked, "lib/modules", version, "modules.dep"), "utf8");
    const mlx = dep.split("\n").find((l) => l.includes("/mlx5_core.ko:"))!;
    for (const d of mlx.split(" ").slice(1)) expect(dep).toMatch(new RegExp(`^${d.replace(/[.+]/g, "\\$&")}:`, "m"));
    // SAN initiators and test drivers are not disk controllers a node boots with.
    expect(names.has("lpfc") || names.has("scsi_debug")).toBe(false);
    expect(inDriverClass("drivers/net/ethernet/intel/ice/ice")).toBe(true);
    expect(inDriverClass("drivers/gpu/drm/drm")).toBe(false);
    // Only what every install needs is loaded unconditionally; NIC drivers wait for their device.
    expect(built.modules.some((m) => m.endsWith("/mlx5_core.ko"))).toBe(false);
  });

  it("busybox modprobe in the initramfs resolves a device's modalias to its driver (the coldplug)", () => {
    const alias = readFileSync(join(unpacked, "lib/modules", version, "modules.alias"), "utf8");
    expect(alias).toMatch(/^alias pci:v00008086d000010D3sv\*sd\*bc\*sc\*i\* e1000e$/m);
    // The chroot's kernel is the host's: point its version at the shipped tree.
    const host = sh("uname -r").trim();
    if (host !== version) symlinkSync(version, join(unpacked, "lib/modules", host));
    const out = execFileSync("chroot", [unpacked, "/sbin/modprobe", "-D", "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00"], { encoding: "utf8" });
    expect(out).toMatch(/insmod \/lib\/modules\/[^/]+\/kernel\/drivers\/net\/ethernet\/intel\/e1000e\/e1000e\.ko/);
    const virtio = execFileSync("chroot", [unpacked, "/sbin/modprobe", "-D", "virtio:d00000001v00001AF4"], { encoding: "utf8" });
    expect(virtio).toMatch(/failover\.ko[\s\S]*virtio_net\.ko/);
  });

  it("ships the firmware the drivers name when the image has it (plain or compressed), and lists the rest", () => {
    expect(built.firmware).toEqual(expect.arrayContaining(["e100/d101m_ucode.bin", "e100/d101s_ucode.bin.xz"]));
    expect(readFileSync(join(unpacked, "lib/firmware/e100/d101m_ucode.bin"), "utf8")).toBe("firmware m\n");
    expect(readFileSync(join(unpacked, "lib/firmware/e100/d101s_ucode.bin.xz"), "utf8")).toBe("firmware s, compressed\n");
    expect(built.missingFirmware).toContain("e100/d102e_ucode.bin");
    expect(built.bytes).toBeGreaterThan(0);
    expect(built.uncompressedBytes).toBeGreaterThan(built.bytes);
  });
});
