// Picks kernel modules for the installer from a kernel tree (an unpacked kernel package
// or an image root: <tree>/lib/modules/<version>/kernel/...), follows their
// dependencies, and writes the index files the initramfs needs: modules.dep (modprobe),
// modules.alias (the installer's coldplug: device modalias -> driver) and load.order
// (what /init loads on every boot, dependencies first). Modules may be compressed
// (module-file.ts); the firmware names they declare are returned for firmware.ts.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { moduleInfo, type ModuleInfo } from "./elf-modinfo.js";
import { ALWAYS_LOAD, DRIVER_CLASSES, inDriverClass, type DriverClass } from "./module-classes.js";
import { MODULE_FILE, moduleNameOf, plainModulePath, readModuleFile } from "./module-file.js";

export { kernelVersions } from "./kernel-version.js";
/** The modules every installer loads (kept under its old name for callers). */
export const DEFAULT_MODULES = ALWAYS_LOAD;

export interface KernelModules {
  version: string;
  /** Base directory `<tree>/lib/modules/<version>`. */
  base: string;
  /** Modules /init loads on every boot, paths relative to base, dependencies first. */
  loadOrder: string[];
  /** Every shipped module (load order first, then the driver classes), relative to base. */
  shipped: string[];
  /** Requested names neither found as modules nor built into the kernel. */
  missing: string[];
  /** Requested names built into the kernel (nothing to load). */
  builtin: string[];
  modulesDep: string;
  modulesAlias: string;
  /** Firmware files the shipped modules may ask for (names under /lib/firmware), sorted. */
  firmware: string[];
  /** Module bytes (decompressed) by path relative to base (always `.ko`). */
  files: Map<string, Buffer>;
}

export interface CollectOptions {
  /** Module names loaded on every boot; default ALWAYS_LOAD. */
  always?: readonly string[];
  /** Driver classes shipped whole for the coldplug; default DRIVER_CLASSES ([] for none). */
  classes?: readonly DriverClass[];
}

interface Indexed {
  /** Absolute path of the module file (possibly compressed). */
  path: string;
  /** Shipped path relative to base (`kernel/.../x.ko`). */
  rel: string;
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (MODULE_FILE.test(e.name)) out.push(p);
  }
}

function indexTree(base: string): Map<string, Indexed> {
  const all: string[] = [];
  walk(join(base, "kernel"), all);
  const index = new Map<string, Indexed>();
  for (const p of all) index.set(moduleNameOf(p), { path: p, rel: plainModulePath(relative(base, p)) });
  return index;
}

function builtinNames(base: string): Set<string> {
  const p = join(base, "modules.builtin");
  const out = new Set<string>();
  if (!existsSync(p)) return out;
  for (const line of readFileSync(p, "utf8").split("\n")) if (/\.ko$/.test(line.trim())) out.add(moduleNameOf(line.trim()));
  return out;
}

/** The modules chosen and their closure under `depends`, in dependency order. */
class Selection {
  readonly order: string[] = [];
  readonly info = new Map<string, ModuleInfo>();
  readonly files = new Map<string, Buffer>();
  readonly missing: string[] = [];
  readonly builtin: string[] = [];
  private readonly state = new Map<string, "visiting" | "done">();

  constructor(
    private readonly base: string,
    readonly index: Map<string, Indexed>,
    private readonly builtins: Set<string>,
  ) {}

  add(name: string, requested: boolean): void {
    const n = name.replace(/-/g, "_");
    const st = this.state.get(n);
    if (st === "done") return;
    if (st === "visiting") throw new Error(`module dependency cycle at ${n}`);
    const entry = this.index.get(n);
    if (!entry) {
      if (this.builtins.has(n)) {
        if (requested) this.builtin.push(n);
      } else if (requested) this.missing.push(n);
      else throw new Error(`module dependency ${n} not found in ${this.base}`);
      this.state.set(n, "done");
      return;
    }
    this.state.set(n, "visiting");
    const data = readModuleFile(entry.path);
    const info = moduleInfo(data);
    info.depends = info.depends.map((d) => d.replace(/-/g, "_"));
    for (const d of info.depends) this.add(d, false);
    this.state.set(n, "done");
    this.info.set(n, info);
    this.files.set(entry.rel, data);
    this.order.push(n);
  }

  rel(n: string): string {
    return this.index.get(n)!.rel;
  }

  /** Transitive dependencies, nearest first (modules.dep's order). */
  deps(n: string, acc: string[] = []): string[] {
    for (const d of this.info.get(n)?.depends ?? []) {
      if (!this.index.has(d) || acc.includes(d)) continue;
      acc.push(d);
      this.deps(d, acc);
    }
    return acc;
  }
}

function renderIndexes(sel: Selection): { modulesDep: string; modulesAlias: string; firmware: string[] } {
  const dep = sel.order
    .map(
      (n) =>
        `${sel.rel(n)}:${sel
          .deps(n)
          .map((d) => " " + sel.rel(d))
          .join("")}`,
    )
    .sort();
  const alias: string[] = [];
  const firmware = new Set<string>();
  for (const n of [...sel.order].sort()) {
    const info = sel.info.get(n)!;
    for (const a of info.aliases) alias.push(`alias ${a} ${n}`);
    for (const f of info.firmware) firmware.add(f);
  }
  return { modulesDep: dep.join("\n") + "\n", modulesAlias: alias.length ? alias.join("\n") + "\n" : "", firmware: [...firmware].sort() };
}

export function collectModules(tree: string, version: string, opts: CollectOptions = {}): KernelModules {
  const base = join(tree, "lib/modules", version);
  if (!existsSync(join(base, "kernel"))) throw new Error(`${base}/kernel not found: unpack a linux-image package with dpkg-deb -x`);
  const sel = new Selection(base, indexTree(base), builtinNames(base));
  for (const w of opts.always ?? ALWAYS_LOAD) sel.add(w, true);
  const loadOrder = sel.order.map((n) => sel.rel(n));
  const classes = opts.classes ?? DRIVER_CLASSES;
  for (const [name, e] of sel.index) {
    if (inDriverClass(e.rel.replace(/^kernel\//, "").replace(/\.ko$/, ""), classes)) sel.add(name, false);
  }
  const always = new Set(loadOrder);
  const shipped = [
    ...loadOrder,
    ...sel.order
      .map((n) => sel.rel(n))
      .filter((r) => !always.has(r))
      .sort(),
  ];
  return { version, base, loadOrder, shipped, missing: sel.missing, builtin: sel.builtin, ...renderIndexes(sel), files: sel.files };
}
