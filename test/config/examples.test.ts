// The shipped examples validate clean (no errors, no warnings, also with
// --strict) and describe what the issue promises.
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compressHostnames } from "../../src/config/hostrange.js";
import { loadClusterSync } from "../../src/config/load.js";
import { listConfigFiles } from "../../src/config/source.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const examplesDir = join(root, "examples");
const examples = readdirSync(examplesDir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

const load = (name: string) => loadClusterSync(join(examplesDir, name), { strict: true });

describe("examples", () => {
  it("are the three the issue asks for", () => {
    expect(examples).toEqual(expect.arrayContaining(["hpc", "lab", "proxy-dhcp"]));
  });

  it.each(examples)("%s validates with no errors and no warnings, even with strict", (name) => {
    const r = load(name);
    expect(r.diagnostics).toEqual([]);
    expect(r.cluster).toBeDefined();
    expect(r.cluster!.nodes.length).toBeGreaterThan(0);
  });

  it.each(examples)("%s: every file names the schema for editors", (name) => {
    for (const f of listConfigFiles(join(examplesDir, name)).files) {
      const first = readFileSync(f, "utf8").split("\n")[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, `${f} starts with the yaml-language-server line`).not.toBeNull();
      expect(resolve(dirname(f), m![1]!)).toBe(join(root, "schemas/cluster.schema.json"));
    }
  });

  it("lab: three nodes, one category, one image, a single-disk layout", () => {
    const c = load("lab").cluster!;
    expect(c.name).toBe("lab");
    expect(c.nodes.map((n) => n.name)).toEqual(["lab1", "lab2", "lab3"]);
    expect([c.images.size, c.diskLayouts.size, c.categories.size]).toEqual([1, 1, 1]);
    expect([...c.diskLayouts.values()][0]!.disks).toHaveLength(1);
  });

  it("hpc: 262 nodes (2 login, 256 compute in ranges over files, 4 protected storage), RAID1 OS, BMC secrets from the environment", () => {
    const c = load("hpc").cluster!;
    expect(c.nodes).toHaveLength(262);
    expect(c.files.filter((f) => f.includes("/nodes/")).length).toBeGreaterThanOrEqual(3);
    const names = c.nodes.map((n) => n.name);
    expect(compressHostnames(names)).toEqual(["login[01-02]", "node[001-256]", "stor[01-04]"]);
    const byCat = (cat: string) => c.nodes.filter((n) => n.category === cat);
    expect([byCat("login").length, byCat("compute").length, byCat("storage").length]).toEqual([2, 256, 4]);
    expect(byCat("storage").every((n) => n.protect)).toBe(true);
    expect(c.nodes.filter((n) => n.protect)).toHaveLength(4);
    const raid = c.diskLayouts.get(byCat("login")[0]!.diskLayout)!.raid;
    expect(raid.some((a) => a.level === 1 && a.mount === "/")).toBe(true);
    for (const n of c.nodes) {
      expect(n.bmc?.address, n.name).toBeDefined();
      expect(n.bmc?.password?.kind, n.name).toBe("env");
    }
    // Addresses increment across the ranges of both racks without gaps or overlaps.
    const ips = byCat("compute").map((n) => n.ip);
    expect(new Set(ips).size).toBe(256);
  });

  it("proxy-dhcp: metalform beside an existing DHCP server", () => {
    const c = load("proxy-dhcp").cluster!;
    expect(c.network.dhcp.mode).toBe("proxy");
    expect(c.network.dhcp.dynamicRange).toBeUndefined();
    expect(c.nodes.length).toBeGreaterThan(0);
  });

  it("with requirePaths (as apply), no example has a missing image path", () => {
    for (const name of examples) {
      const r = loadClusterSync(join(examplesDir, name), { requirePaths: true });
      const missing = r.diagnostics.filter((d) => d.code === "path-not-found").map((d) => d.message);
      for (const img of r.cluster?.images.values() ?? []) expect(existsSync(img.root), img.root).toBe(true);
      expect(missing).toEqual([]);
    }
  });
});
