// `discover adopt` (issue 19): the node goes into the file where its category's nodes
// are, with the next free address; the YAML edit keeps every comment and the order;
// a bad adopt changes nothing.
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addNodeToYaml, AdoptError } from "../../src/config/adopt.js";
import { adoptIntoConfig } from "../../src/config/adopt-file.js";
import { loadCluster } from "../../src/config/load.js";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;

describe("addNodeToYaml", () => {
  const text = `# the lab's nodes
# (two lines of header)
nodes:
  # first rack
  - name: n1 # the first one
    mac: "52:54:00:00:00:01"
    ip: 10.0.0.11
other: { keep: flow } # trailing
`;

  it("appends the node with its MAC quoted and BMC in flow style; every comment and key order stays", () => {
    const out = addNodeToYaml(text, { name: "n2", mac: "52:54:00:00:00:02", ip: "10.0.0.12", category: "compute", bmcAddress: "10.1.0.12" }, "f.yaml");
    expect(out).toBe(`# the lab's nodes
# (two lines of header)
nodes:
  # first rack
  - name: n1 # the first one
    mac: "52:54:00:00:00:01"
    ip: 10.0.0.11
  # adopted by \`metalform discover adopt\` (discovered as 52:54:00:00:00:02)
  - name: n2
    category: compute
    mac: "52:54:00:00:00:02"
    ip: 10.0.0.12
    bmc: { address: 10.1.0.12 }
other: { keep: flow } # trailing
`);
  });

  it("makes a nodes list in a file without one, and in an empty file", () => {
    expect(addNodeToYaml("# only a comment\ncategories: {}\n", { name: "n", mac: "52:54:00:00:00:09", ip: "10.0.0.9" }, "f")).toMatch(
      /^# only a comment\ncategories: {}\nnodes:\n {2}# adopted by .*\n {2}- name: n\n/,
    );
    expect(addNodeToYaml("", { name: "n", mac: "52:54:00:00:00:09", ip: "10.0.0.9" }, "f")).toContain("- name: n");
  });

  it("refuses a file whose nodes is not a list, or that is not YAML", () => {
    expect(() => addNodeToYaml("nodes: 3\n", { name: "n", mac: "52:54:00:00:00:09", ip: "10.0.0.9" }, "f.yaml")).toThrow(/f.yaml: nodes is not a list/);
    expect(() => addNodeToYaml("nodes: [\n", { name: "n", mac: "52:54:00:00:00:09", ip: "10.0.0.9" }, "f.yaml")).toThrow(AdoptError);
  });
});

describe("adoptIntoConfig on a configuration directory (examples/hpc)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "mf-adopt-"));
    cpSync(join(EXAMPLES, "hpc"), dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a compute host goes into a compute rack file after the last compute address, its comments kept", async () => {
    const before = readFileSync(join(dir, "nodes/rack2.yaml"), "utf8");
    const done = await adoptIntoConfig({ configPath: dir, mac: "52:54:00:77:00:01", name: "node257", category: "compute" });
    expect(done.node).toMatchObject({ name: "node257", category: "compute", mac: "52:54:00:77:00:01" });
    const loaded = await loadCluster(dir);
    const compute = loaded.cluster!.nodes.filter((n) => n.category === "compute" && n.name !== "node257");
    const last = Math.max(...compute.map((n) => Number(n.ip.split(".")[2]) * 256 + Number(n.ip.split(".")[3])));
    const got = done.node.ip.split(".").map(Number);
    expect(got[2]! * 256 + got[3]!).toBe(last + 1);
    expect(done.file).toMatch(/nodes\/rack[12]\.yaml$/);
    const after = readFileSync(done.file, "utf8");
    expect(after).toMatch(/^# yaml-language-server: \$schema=.*\n# Rack \d: 128 compute nodes\./);
    expect(after).toContain('mac: "52:54:00:77:00:01"');
    if (done.file.endsWith("rack1.yaml")) expect(readFileSync(join(dir, "nodes/rack2.yaml"), "utf8")).toBe(before);
  });

  it("--write names the file; a taken name or MAC, an unknown category, or an address that does not validate changes nothing", async () => {
    const done = await adoptIntoConfig({ configPath: dir, mac: "52:54:00:77:00:02", name: "login03", category: "login", write: join(dir, "nodes/login.yaml") });
    expect(done.file).toBe(join(dir, "nodes/login.yaml"));
    const snapshot = () => ["nodes/login.yaml", "nodes/rack1.yaml", "nodes/rack2.yaml", "nodes/storage.yaml"].map((f) => readFileSync(join(dir, f), "utf8"));
    const was = snapshot();
    await expect(adoptIntoConfig({ configPath: dir, mac: "52:54:00:77:00:03", name: "login03" })).rejects.toThrow(
      /node login03 is already in the configuration \(.*login\.yaml:\d+\)/,
    );
    await expect(adoptIntoConfig({ configPath: dir, mac: "52:54:00:aa:00:01", name: "x1" })).rejects.toThrow(/MAC 52:54:00:aa:00:01 already belongs to node login01/);
    await expect(adoptIntoConfig({ configPath: dir, mac: "52:54:00:77:00:03", name: "x1", category: "gpu" })).rejects.toThrow(/--category gpu: no such category/);
    await expect(adoptIntoConfig({ configPath: dir, mac: "52:54:00:77:00:03", name: "x1", category: "login", ip: "192.168.9.9" })).rejects.toThrow(
      /would not validate[\s\S]*nothing was changed/,
    );
    expect(snapshot()).toEqual(was);
  });
});
