// The lab software image: a small busybox root tree with the lab kernel in /boot,
// the virtio and ext4 modules (loaded at boot) and the IPMI ones (not loaded: the
// installer, which takes its modules from the image, sets the BMC with them), an init that brings the network up from the file the
// installer writes, and the reporter that tells the head node the node is UP.
// Built the same every time (fixed modes and mtimes), so its digest is stable.
import {
  copyFileSync,
  existsSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  chmodSync,
  lstatSync,
  renameSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { treeEntries, writeCpio, S_IFDIR, S_IFREG, type CpioEntry } from "./cpio.js";
import { INITTAB, LOCAL_BOOT_INIT, RCS, REPORT_UP, S99_REPORT_UP } from "./image-scripts.js";
import { IPMI_MODULES, modulePaths, VIRTIO_EXT4_MODULES, type LabKernel } from "./kernel.js";
import { mustRun } from "./run.js";

export interface LabImage {
  /** The root tree (a directory). */
  root: string;
  /** root/boot/vmlinuz: the lab kernel. */
  kernel: string;
  /** root/boot/initrd.img: mounts root= and switches to it (for booting an installed disk through iPXE). */
  initrd: string;
  kernelVersion: string;
}

/** 2026-01-01T00:00:00Z: every file of the image carries this mtime. */
export const IMAGE_MTIME = 1767225600;

export interface BuildImageOptions {
  /** Where to build; replaced when `rebuild` is set, else kept when it is complete. */
  root: string;
  kernel: LabKernel;
  /** A statically linked busybox. Default /bin/busybox (Debian's busybox-static). */
  busybox?: string;
  hostname?: string;
  rebuild?: boolean;
}

const DIRS: [string, number][] = [
  ["bin", 0o755],
  ["sbin", 0o755],
  ["usr", 0o755],
  ["usr/bin", 0o755],
  ["usr/sbin", 0o755],
  ["etc", 0o755],
  ["etc/init.d", 0o755],
  ["etc/metalform", 0o755],
  ["etc/network", 0o755],
  ["etc/network/if-pre-up.d", 0o755],
  ["etc/network/if-up.d", 0o755],
  ["etc/network/if-down.d", 0o755],
  ["etc/network/if-post-down.d", 0o755],
  ["dev", 0o755],
  ["proc", 0o555],
  ["sys", 0o555],
  ["run", 0o755],
  ["tmp", 0o1777],
  ["root", 0o700],
  ["var", 0o755],
  ["var/log", 0o755],
  ["var/tmp", 0o1777],
  ["mnt", 0o755],
  ["home", 0o755],
  ["boot", 0o755],
  ["lib", 0o755],
  ["lib/modules", 0o755],
];

const FILES: [string, number, string][] = [
  ["etc/inittab", 0o644, INITTAB],
  ["etc/init.d/rcS", 0o755, RCS],
  ["etc/init.d/S99metalform-up", 0o755, S99_REPORT_UP],
  ["etc/metalform/report-up", 0o700, REPORT_UP],
  ["etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"],
  ["etc/shadow", 0o600, "root:*:20454:0:99999:7:::\n"],
  ["etc/group", 0o644, "root:x:0:\n"],
  ["etc/fstab", 0o644, "proc /proc proc defaults 0 0\n"],
  ["etc/modules", 0o644, VIRTIO_EXT4_MODULES.join("\n") + "\n"],
  ["etc/profile", 0o644, "export PATH=/sbin:/bin:/usr/sbin:/usr/bin\n"],
];

function complete(img: LabImage): boolean {
  return (
    existsSync(img.kernel) &&
    existsSync(img.initrd) &&
    existsSync(join(img.root, "bin", "busybox")) &&
    existsSync(join(img.root, "lib", "modules", img.kernelVersion, "modules.dep")) &&
    // An image built before it carried the IPMI modules is rebuilt.
    readFileSync(join(img.root, "lib", "modules", img.kernelVersion, "modules.dep"), "utf8").includes("/ipmi_si.ko")
  );
}

export async function buildLabImage(o: BuildImageOptions): Promise<LabImage> {
  const img: LabImage = { root: o.root, kernel: join(o.root, "boot", "vmlinuz"), initrd: join(o.root, "boot", "initrd.img"), kernelVersion: o.kernel.version };
  if (!o.rebuild && complete(img)) return img;
  const tmp = `${o.root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [d, mode] of DIRS) {
    mkdirSync(join(tmp, d), { recursive: true });
    chmodSync(join(tmp, d), mode);
  }
  symlinkSync("../run", join(tmp, "var", "run"));
  const busybox = o.busybox ?? "/bin/busybox";
  copyFileSync(busybox, join(tmp, "bin", "busybox"));
  chmodSync(join(tmp, "bin", "busybox"), 0o755);
  const applets = (await mustRun([busybox, "--list-full"]))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && l !== "linuxrc" && l !== "bin/busybox");
  for (const a of applets) {
    if (a.includes("..")) continue;
    const p = join(tmp, a);
    mkdirSync(dirname(p), { recursive: true });
    if (!existsSync(p)) symlinkSync("/bin/busybox", p);
  }
  for (const [f, mode, content] of FILES) {
    writeFileSync(join(tmp, f), content);
    chmodSync(join(tmp, f), mode);
  }
  writeFileSync(join(tmp, "etc", "hostname"), (o.hostname ?? "lab") + "\n");
  copyFileSync(o.kernel.path, join(tmp, "boot", "vmlinuz"));
  chmodSync(join(tmp, "boot", "vmlinuz"), 0o644);
  // Only the modules the lab needs, with a modules.dep of their own.
  const modDir = join(tmp, "lib", "modules", o.kernel.version);
  for (const rel of modulePaths(o.kernel.modulesDir, [...VIRTIO_EXT4_MODULES, ...IPMI_MODULES])) {
    mkdirSync(dirname(join(modDir, rel)), { recursive: true });
    copyFileSync(join(o.kernel.modulesDir, rel), join(modDir, rel));
    chmodSync(join(modDir, rel), 0o644);
  }
  await mustRun(["busybox", "depmod", "-b", tmp, o.kernel.version]);
  writeFileSync(join(tmp, "boot", "initrd.img"), localBootInitrd(tmp));
  chmodSync(join(tmp, "boot", "initrd.img"), 0o644);
  stampTree(tmp, IMAGE_MTIME);
  rmSync(o.root, { recursive: true, force: true });
  mkdirSync(dirname(o.root), { recursive: true });
  renameSync(tmp, o.root);
  return img;
}

/** Sets every mtime under root (symlinks themselves included) to `mtime`. */
function stampTree(root: string, mtime: number): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    if (st.isSymbolicLink()) lutimesSync(p, mtime, mtime);
    else utimesSync(p, mtime, mtime);
  };
  walk(root);
}

/** The image's initrd: busybox, the image's modules and an /init that mounts root= (gzip'd cpio). */
function localBootInitrd(imageRoot: string): Buffer {
  const keep = (e: CpioEntry) =>
    e.path === "bin" ||
    e.path.startsWith("bin/") ||
    e.path.startsWith("sbin") ||
    e.path.startsWith("usr") ||
    e.path.startsWith("lib") ||
    e.path === "etc" ||
    e.path === "etc/modules";
  const entries = treeEntries(imageRoot).filter(keep);
  entries.push(
    { path: "init", mode: S_IFREG | 0o755, data: Buffer.from(LOCAL_BOOT_INIT) },
    ...["dev", "proc", "sys", "newroot", "tmp"].map((d) => ({ path: d, mode: S_IFDIR | 0o755 })),
  );
  return gzipSync(writeCpio(entries, IMAGE_MTIME), { level: 6 });
}

export interface OverlayFile {
  content: string | Buffer;
  mode?: number;
}

/**
 * The whole image as an initramfs (gzip'd cpio, /boot left out), with extra files laid
 * over it (e.g. /etc/metalform/api): boots the image straight from its kernel with
 * `rdinit=/sbin/init`, no disk and no installer involved.
 */
export function imageInitramfs(imageRoot: string, overlay: Record<string, OverlayFile> = {}): Buffer {
  const over = new Map(Object.entries(overlay).map(([p, f]) => [p.replace(/^\/+/, ""), f]));
  const entries = treeEntries(imageRoot, ["boot"]).filter((e) => !over.has(e.path));
  const dirs = new Set(entries.filter((e) => (e.mode & 0o170000) === S_IFDIR).map((e) => e.path));
  for (const [path, f] of over) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, mode: S_IFDIR | 0o755 });
      }
    }
    entries.push({ path, mode: S_IFREG | (f.mode ?? 0o644), data: Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content) });
  }
  return gzipSync(writeCpio(entries, IMAGE_MTIME), { level: 6 });
}
