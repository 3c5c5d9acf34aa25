// `files:`, `vars:`, `initialize:` and `finalize:` as the loader reads them: inherited,
// folders read once, and unusable ones reported at the line that names them.
import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadClusterSync } from "../../src/config/load.js";
import { removeConfigs, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

const BASE = `
network: {interface: eth1, address: 10.0.0.1/16}
images: {a: {root: /, kernel: /}}
diskLayouts: {one: {disks: [{name: sda, match: {device: /dev/sda}, partitions: [{size: rest, fs: ext4, mount: /}]}]}}
defaults: {image: a, diskLayout: one, vars: {site: north, rack: 1}}
`;

describe("per-node files and scripts in the configuration", () => {
  it("inherits the folder and scripts, merges vars key by key, reads each folder once", () => {
    const dir = writeConfig({
      "cluster.yaml":
        BASE +
        `
categories:
  compute:
    files: overlay
    vars: {rack: 2}
    initialize: |
      echo hi
    finalize: {file: scripts/fin.sh}
nodes:
  - {name: "n[1-2]", category: compute, ip: 10.0.0.11, macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"], vars: {gpu: true}}
`,
      "overlay/etc/motd.liquid": "{{ node.name }}\n",
      "overlay/usr/local/bin/tool": "#!/bin/sh\n",
      "scripts/fin.sh": "touch /done\n",
    });
    chmodSync(join(dir, "overlay/usr/local/bin/tool"), 0o755);
    const r = loadClusterSync(join(dir, "cluster.yaml"));
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const [n1, n2] = r.cluster!.nodes;
    expect(n1!.files!.dir).toBe(join(dir, "overlay"));
    expect(n1!.files!.entries.map((e) => [e.path, e.mode, e.template])).toEqual([
      ["/etc/motd", "0644", true],
      ["/usr/local/bin/tool", "0755", false],
    ]);
    expect(n2!.files).toBe(n1!.files);
    expect(n1!.vars).toEqual({ site: "north", rack: 2, gpu: true });
    expect(n1!.initialize).toEqual({ content: "echo hi\n", source: `${join(dir, "cluster.yaml")}:11` });
    expect(n1!.finalize).toEqual({ content: "touch /done\n", source: join(dir, "scripts/fin.sh") });
  });

  const cases: Array<{ name: string; files: Record<string, string>; setup?: (dir: string) => void; yaml: string; match: RegExp; line: number }> = [
    { name: "a missing folder", files: {}, yaml: "files: nowhere", match: /cannot read .*nowhere: ENOENT/, line: 7 },
    { name: "a binary file", files: { "ov/bin": "a\u0000b" }, yaml: "files: ov", match: /files: bin in .*ov is not UTF-8 text/, line: 7 },
    {
      name: "a symlink",
      files: { "ov/a": "x" },
      setup: (d) => symlinkSync("/etc/passwd", join(d, "ov/link")),
      yaml: "files: ov",
      match: /link in .* is not a regular file/,
      line: 7,
    },
    {
      name: "two sources for one path",
      files: { "ov/motd": "x", "ov/motd.liquid": "y" },
      yaml: "files: ov",
      match: /motd\.liquid .* is installed at \/motd, as another file/,
      line: 7,
    },
    { name: "an unsafe path", files: { "ov/a b": "x" }, yaml: "files: ov", match: /the path has characters other than/, line: 7 },
    { name: "a missing script file", files: {}, yaml: "finalize: {file: nope.sh}", match: /cannot read .*nope\.sh/, line: 7 },
    { name: "a var that is a mapping", files: {}, yaml: "vars: {x: {y: 1}}", match: /"categories\.c\.vars\.x" must be a string or a number or a boolean/, line: 7 },
    { name: "a script that is a number", files: {}, yaml: "initialize: 3", match: /"categories\.c\.initialize" must be a string or a mapping/, line: 7 },
  ];
  it.each(cases)("$name is an error at the line that names it", (c) => {
    const dir = writeConfig({ "cluster.yaml": BASE + `categories:\n  c:\n    ${c.yaml}\nnodes: [{name: n1, category: c, ip: 10.0.0.11, mac: "52:54:00:00:00:01"}]\n`, ...c.files });
    c.setup?.(dir);
    const r = loadClusterSync(join(dir, "cluster.yaml"));
    const errors = r.diagnostics.filter((d) => d.severity === "error");
    expect(errors.length, JSON.stringify(r.diagnostics)).toBeGreaterThan(0);
    expect(errors[0]!.message).toMatch(c.match);
    expect(errors[0]!.line).toBe(c.line + 1);
    expect(r.cluster).toBeUndefined();
  });

  it("reports a bad folder once however many nodes share it", () => {
    const dir = writeConfig({
      "cluster.yaml":
        BASE + `categories: {c: {files: gone}}\nnodes:\n  - {name: "n[1-3]", category: c, ip: 10.0.0.11, macs: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"]}\n`,
    });
    writeFileSync(join(dir, "unrelated"), "");
    const r = loadClusterSync(join(dir, "cluster.yaml"));
    expect(r.diagnostics.filter((d) => d.code === "unusable-node-file")).toHaveLength(1);
  });
});

describe("the configuration's digest", () => {
  it("covers the nodes' files and script files, so a saved plan goes stale when a template changes", () => {
    const dir = writeConfig({
      "cluster.yaml": BASE + `categories: {c: {files: ov, finalize: {file: f.sh}}}\nnodes: [{name: n1, category: c, ip: 10.0.0.11, mac: "52:54:00:00:00:01"}]\n`,
      "ov/etc/motd.liquid": "a",
      "f.sh": "true\n",
    });
    const digest = () => loadClusterSync(join(dir, "cluster.yaml")).cluster!.digest;
    const d0 = digest();
    expect(digest()).toBe(d0);
    writeFileSync(join(dir, "ov/etc/motd.liquid"), "b");
    const d1 = digest();
    expect(d1).not.toBe(d0);
    writeFileSync(join(dir, "f.sh"), "false\n");
    expect(digest()).not.toBe(d1);
  });
});
