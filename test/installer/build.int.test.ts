import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstaller } from "../../src/installer/build.js";
import { writeCpio } from "../../src/installer/cpio.js";
import { readModinfo, ModinfoError } from "../../src/installer/elf-modinfo.js";
import { locateTools, MissingToolError } from "../../src/installer/tools.js";
import { requireTools } from "./harness.js";
import { kernelTree } from "./kernel-tree.js";

let dir: string;
let tree: string;
beforeAll(() => {
  requireTools("cpio", "busybox", "sfdisk", "mkfs.ext4", "mkfs.xfs", "mkfs.vfat", "mdadm", "lvm", "rsync");
  dir = mkdtempSync(join(tmpdir(), "mfin-build-"));
  tree = kernelTree();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function listing(cpioFile: string): string[] {
  return execFileSync("sh", ["-c", `gzip -dc "$0" | cpio -t --quiet`, cpioFile], { encoding: "utf8", maxBuffer: 64 << 20 })
    .split("\n")
    .filter(Boolean);
}

describe("cpio writer", () => {
  it("writes archives GNU cpio reads back", () => {
    const buf = writeCpio([
      { path: "b/file", type: "file", mode: 0o644, data: Buffer.from("hello") },
      { path: "b", type: "dir", mode: 0o755 },
      { path: "a-link", type: "symlink", target: "b/file" },
      { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
      { path: "dev", type: "dir", mode: 0o755 },
    ]);
    const f = join(dir, "t.cpio");
    writeFileSync(f, buf);
    const out = execFileSync("sh", ["-c", `cpio -tv --quiet < "$0"`, f], { encoding: "utf8" });
    expect(out).toMatch(/lrwxrwxrwx .* a-link -> b\/file/);
    expect(out).toMatch(/crw------- .* 5, +1 .* dev\/console/);
    expect(out).toMatch(/-rw-r--r-- .* 5 .* b\/file/);
    expect(() => writeCpio([{ path: "../x", type: "dir", mode: 0o755 }])).toThrow(/bad archive path/);
  });

  it("rejects malformed ELF input without reading out of range", () => {
    expect(() => readModinfo(Buffer.from("not elf"))).toThrow(ModinfoError);
    const elf = Buffer.alloc(64);
    elf.writeUInt32BE(0x7f454c46, 0);
    elf[4] = 2;
    elf[5] = 1;
    elf.writeBigUInt64LE(1n << 40n, 0x28);
    elf.writeUInt16LE(64, 0x3a);
    elf.writeUInt16LE(3, 0x3c);
    elf.writeUInt16LE(1, 0x3e);
    expect(() => readModinfo(elf)).toThrow(ModinfoError);
  });

  it("names the Debian package of a missing tool", () => {
    expect(() => locateTools([{ name: "frobnicate", package: "frob-tools", paths: ["/nonexistent/frob"] }])).toThrow(MissingToolError);
    expect(() => locateTools([{ name: "frobnicate", package: "frob-tools", paths: ["/nonexistent/frob"] }])).toThrow(/apt-get install frob-tools/);
  });
});

describe("installer initramfs", () => {
  it("holds the tools, libraries, modules and modules.dep, and builds reproducibly", async () => {
    const a = await buildInstaller({ outDir: join(dir, "out"), kernelTree: tree });
    const files = listing(a.path);
    for (const f of [
      "init",
      "bin/busybox",
      "bin/sh",
      "usr/sbin/sfdisk",
      "usr/sbin/mkfs.ext4",
      "usr/sbin/e2fsck",
      "usr/sbin/mkfs.xfs",
      "usr/sbin/mkfs.vfat",
      "usr/sbin/mkswap",
      "usr/sbin/mdadm",
      "usr/sbin/lvm",
      "usr/sbin/blkid",
      "usr/sbin/rsync",
      "usr/sbin/ipmitool",
      "dev/console",
      "etc/udhcpc.script",
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => /^lib\/x86_64-linux-gnu\/libc\.so\.6$/.test(f))).toBe(true);
    expect(files).toContain("lib64/ld-linux-x86-64.so.2");
    const v = a.kernelVersion!;
    expect(files).toContain(`lib/modules/${v}/modules.dep`);
    expect(files).toContain(`lib/modules/${v}/load.order`);
    // ext4 is a module in the generic kernel and built into the cloud one: either way it is accounted for.
    expect(a.modules.some((m) => m.endsWith("/ext4.ko")) || a.builtinModules.includes("ext4")).toBe(true);
    expect(a.modules.some((m) => m.endsWith("/xfs.ko"))).toBe(true);
    expect(a.modules.some((m) => m.endsWith("/raid1.ko"))).toBe(true);
    // LVM's device-mapper: shipped with the md/dm class, loaded by the installer when a plan has volume groups.
    expect(a.shippedModules.some((m) => m.endsWith("/dm-mod.ko"))).toBe(true);
    expect(files.some((f) => /^lib\/x86_64-linux-gnu\/libdevmapper\.so/.test(f))).toBe(true);

    // load.order puts dependencies first; modules.dep lists them.
    const x = join(dir, "x");
    execFileSync("sh", ["-c", `mkdir -p "$1" && cd "$1" && gzip -dc "$0" | cpio -id --quiet`, a.path, x]);
    const order = readFileSync(join(x, `lib/modules/${v}/load.order`), "utf8").split("\n");
    const idx = (name: string) => order.findIndex((l) => l.endsWith(`/${name}.ko`));
    expect(idx("libcrc32c")).toBeGreaterThanOrEqual(0);
    expect(idx("libcrc32c")).toBeLessThan(idx("xfs"));
    expect(idx("md-mod")).toBeGreaterThanOrEqual(0);
    expect(idx("md-mod")).toBeLessThan(idx("raid1"));
    const dep = readFileSync(join(x, `lib/modules/${v}/modules.dep`), "utf8");
    expect(dep).toMatch(/kernel\/fs\/xfs\/xfs\.ko:.*kernel\/lib\/libcrc32c\.ko/);
    expect(dep).toMatch(/kernel\/drivers\/md\/raid1\.ko:.*kernel\/drivers\/md\/md-mod\.ko/);
    // The tools run from the unpacked tree with its own libraries (chroot).
    expect(execFileSync("chroot", [x, "/usr/sbin/mkfs.ext4", "-V"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).length).toBeGreaterThanOrEqual(0);
    expect(execFileSync("chroot", [x, "/usr/sbin/rsync", "--version"], { encoding: "utf8" })).toMatch(/rsync\s+version/);
    expect(execFileSync("chroot", [x, "/bin/sh", "-c", "command -v blkid"], { encoding: "utf8" }).trim()).toBe("/usr/sbin/blkid");

    const b = await buildInstaller({ outDir: join(dir, "out2"), kernelTree: tree });
    expect(b.digest).toBe(a.digest);
    expect(b.cached).toBe(false);
    const c = await buildInstaller({ outDir: join(dir, "out"), kernelTree: tree });
    expect(c).toMatchObject({ digest: a.digest, cached: true, path: a.path });
    const d = await buildInstaller({ outDir: join(dir, "out"), kernelTree: tree, modules: ["xfs"] });
    expect(d.digest).not.toBe(a.digest);
    // Four builds of a whole driver-class installer (~30 MB each) on a loaded 2-core machine.
  }, 300_000);
});
