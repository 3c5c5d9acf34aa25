// Picks kernel modules for the installer from an unpacked kernel package
// (`dpkg-deb -x linux-image-*.deb DIR`: DIR/lib/modules/<version>/kernel/...),
// follows their dependencies, and writes the two index files the initramfs needs:
// modules.dep (for modprobe) and load.order (the installer's /init insmods in it).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { moduleDepends } from "./elf-modinfo.js";

/**
 * What nodes commonly need, in load order: virtio (FACTS.md), common NICs and storage
 * controllers, ext4 / xfs / vfat, md RAID, and IPMI for the in-band BMC settings.
 * Names missing from a kernel are reported, not fatal: kernels differ in what they build in.
 */
export const DEFAULT_MODULES = [
  "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
  "failover", "net_failover", "virtio_net", "virtio_blk", "virtio_scsi",
  "scsi_mod", "sd_mod", "libata", "libahci", "ahci", "nvme_core", "nvme",
  "e1000", "e1000e", "igb", "ixgbe", "i40e", "tg3", "bnx2", "r8169", "vmxnet3",
  "crc32c_generic", "crc16", "mbcache", "jbd2", "ext4",
  "libcrc32c", "xfs",
  "fat", "vfat", "nls_cp437", "nls_ascii", "nls_utf8",
  "md_mod", "raid0", "raid1", "raid10", "raid456",
  "ipmi_msghandler", "ipmi_devintf", "ipmi_si",
];

const norm = (name: string) => name.replace(/-/g, "_");

export interface KernelModules {
  version: string;
  /** Base directory `<tree>/lib/modules/<version>`. */
  base: string;
  /** Modules to ship, paths relative to base, in load order (dependencies first). */
  loadOrder: string[];
  /** Requested names neither found as modules nor built into the kernel. */
  missing: string[];
  /** Requested names built into the kernel (nothing to load). */
  builtin: string[];
  /** modules.dep content for the shipped modules. */
  modulesDep: string;
  /** Module bytes by relative path (decompressed .ko). */
  files: Map<string, Buffer>;
}

export function kernelVersions(tree: string): string[] {
  const dir = join(tree, "lib/modules");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((v) => statSync(join(dir, v)).isDirectory()).sort();
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (/\.ko(\.gz|\.xz|\.zst)?$/.test(name)) out.push(p);
  }
}

function readModule(path: string): Buffer {
  if (path.endsWith(".ko")) return readFileSync(path);
  if (path.endsWith(".ko.gz")) return gunzipSync(readFileSync(path));
  throw new Error(`${path}: xz/zstd-compressed modules are not supported; decompress the tree first (xz -d / zstd -d)`);
}

export function collectModules(tree: string, version: string, wanted: readonly string[]): KernelModules {
  const base = join(tree, "lib/modules", version);
  if (!existsSync(join(base, "kernel"))) throw new Error(`${base}/kernel not found: unpack a linux-image package with dpkg-deb -x`);
  const index = new Map<string, string>(); // name -> absolute path
  const all: string[] = [];
  walk(join(base, "kernel"), all);
  for (const p of all) index.set(norm(p.slice(p.lastIndexOf("/") + 1).replace(/\.ko(\.gz|\.xz|\.zst)?$/, "")), p);
  const builtinSet = new Set<string>();
  const bpath = join(base, "modules.builtin");
  if (existsSync(bpath)) {
    for (const line of readFileSync(bpath, "utf8").split("\n")) {
      const m = /([^/]+)\.ko$/.exec(line.trim());
      if (m) builtinSet.add(norm(m[1]!));
    }
  }

  const files = new Map<string, Buffer>();
  const deps = new Map<string, string[]>(); // name -> direct deps (module names)
  const order: string[] = [];
  const missing: string[] = [];
  const builtin: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const rel = (name: string) => relative(base, index.get(name)!).replace(/\.ko\.gz$/, ".ko");

  const visit = (name: string, requested: boolean) => {
    const n = norm(name);
    if (state.get(n) === "done") return;
    if (state.get(n) === "visiting") throw new Error(`module dependency cycle at ${n}`);
    if (!index.has(n)) {
      if (builtinSet.has(n)) {
        if (requested) builtin.push(n);
      } else if (requested) missing.push(n);
      else throw new Error(`module dependency ${n} not found in ${base}`);
      state.set(n, "done");
      return;
    }
    state.set(n, "visiting");
    const data = readModule(index.get(n)!);
    const d = moduleDepends(data).map(norm);
    deps.set(n, d);
    for (const x of d) visit(x, false);
    state.set(n, "done");
    files.set(rel(n), data);
    order.push(n);
  };
  for (const w of wanted) visit(w, true);

  // modules.dep: every shipped module with its transitive dependencies, nearest first.
  const trans = (n: string, acc: string[]) => {
    for (const d of deps.get(n) ?? []) {
      if (!index.has(d)) continue;
      if (!acc.includes(d)) {
        acc.push(d);
        trans(d, acc);
      }
    }
    return acc;
  };
  const depLines = order.map((n) => `${rel(n)}:${trans(n, []).map((d) => " " + rel(d)).join("")}`).sort();
  return {
    version,
    base,
    loadOrder: order.map(rel),
    missing,
    builtin,
    modulesDep: depLines.join("\n") + "\n",
    files,
  };
}
