// `metalform render` as a user runs it (the built CLI): a node's file list, one file's
// content, --json, and a template error that names the file, line and node and
// writes nothing.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(root, "bin/metalform");
const dir = mkdtempSync(join(tmpdir(), "mfO-render-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

write(
  "cluster.yaml",
  `
network: {interface: eth1, address: 10.0.0.1/16, domain: lab.test}
images: {a: {root: /, kernel: /}}
diskLayouts: {one: {disks: [{name: sda, match: {device: /dev/sda}, partitions: [{size: rest, fs: ext4, mount: /}]}]}}
categories:
  compute:
    image: a
    diskLayout: one
    files: files
    vars: {rack: 4}
    finalize: |
      touch /etc/finalized
    bmc: {driver: ipmi, address: 10.1.0.1, user: admin, password: {env: SECRET_BMC_PW}}
nodes:
  - {name: "n[1-2]", category: compute, ip: 10.0.0.11, macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"]}
`,
);
write("files/etc/motd.liquid", "{{ node.hostname }} {{ node.ip }} rack {{ vars.rack }}\n");
write("files/etc/static.conf", "a = 1\n");

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, "-c", dir, "--no-color", ...args], { encoding: "utf8", env: { ...process.env, SECRET_BMC_PW: "hunter2" }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("metalform render", () => {
  it("lists a node's files and scripts", () => {
    const r = run("render", "n2");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^0644 {2}[0-9a-f]{12} {2}\/etc\/motd\n0644 {2}[0-9a-f]{12} {2}\/etc\/static.conf\nfinalize script: .*cluster.yaml:11\n$/);
  });

  it("prints one file as the node gets it, and as JSON", () => {
    expect(run("render", "n2", "/etc/motd").out).toBe("n2.lab.test 10.0.0.12 rack 4\n");
    const j = JSON.parse(run("render", "n1", "--json").out) as { files: Array<{ path: string; content: string; digest: string }> };
    expect(j.files[0]).toMatchObject({ path: "/etc/motd", content: "n1.lab.test 10.0.0.11 rack 4\n" });
    expect(j.files[0]!.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("a file the node does not get, and an unknown node, are errors", () => {
    const r = run("render", "n1", "/etc/nope");
    expect(r.code).toBe(1);
    expect(r.err).toContain("node n1 gets no file /etc/nope from its files: folder (it gets /etc/motd, /etc/static.conf)");
    expect(run("render", "n9").err).toContain('no node "n9"');
  });

  it("a template error names the file, line and node, exits 1 and writes nothing", () => {
    write("files/etc/bad.liquid", "line one\n{{ node.bmc.password }}\n");
    const before = readdirSync(dir, { recursive: true }).sort();
    const r = run("render", "n1");
    expect(r.code).toBe(1);
    expect(r.err).toBe(`metalform: ${join(dir, "files/etc/bad.liquid")}:2:4: template error for node n1: undefined variable: node.bmc\n`);
    expect(r.out).toBe("");
    expect(r.err + r.out).not.toContain("hunter2");
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(before);
    rmSync(join(dir, "files/etc/bad.liquid"));
  });
});
