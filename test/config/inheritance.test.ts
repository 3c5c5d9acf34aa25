// Inheritance (node > category > defaults), range increments, hostnames, and
// secrets kept out of the model.
import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadClusterSync } from "../../src/config/load.js";
import { describeSecret, resolveSecret, SecretError } from "../../src/config/secrets.js";
import type { DesiredCluster, Node } from "../../src/config/types.js";
import { removeConfigs, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

function load(yaml: string, file = "cluster.yaml"): { cluster: DesiredCluster; inline: Map<string, string>; dir: string } {
  const dir = writeConfig({ [file]: yaml });
  const r = loadClusterSync(join(dir, file));
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  expect(errors, JSON.stringify(errors, null, 1)).toEqual([]);
  expect(r.cluster).toBeDefined();
  return { cluster: r.cluster!, inline: r.inlineSecrets, dir };
}

const byName = (c: DesiredCluster, name: string): Node => {
  const n = c.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}; have ${c.nodes.map((x) => x.name).join(", ")}`);
  return n;
};

const BASE = `
network: {interface: eth1, address: 10.0.255.254/16, domain: cm.cluster}
images:
  a: {root: /, kernel: /, exclude: {sync: [/img-sync/*], full: [/img-full/*]}}
  b: {root: /, kernel: /}
diskLayouts:
  one: {disks: [{name: sda, match: {device: /dev/sda}, partitions: [{size: rest, fs: ext4, mount: /}]}]}
  two: {disks: [{name: vda, match: {device: /dev/vda}, partitions: [{size: rest, fs: xfs, mount: /}]}]}
`;

describe("inheritance: node over category over defaults", () => {
  const { cluster } = load(
    BASE +
      `
defaults:
  image: a
  diskLayout: one
  installMode: nosync
  kernelArgs: [console=tty0, quiet]
  exclude: {sync: [/def-sync/*]}
  bmc: {user: ADMIN, password: {env: BMC_PW}, netmask: 255.255.0.0, port: 6230}
categories:
  plain: {}
  compute:
    image: b
    boot: local
    kernelArgs: [console=ttyS0]
    exclude: {full: [/cat-full/*]}
    bmc: {user: operator}
  storage:
    installMode: skip
    protect: true
    kernelArgs: []
nodes:
  - {name: d1, mac: "52:54:00:00:00:01", ip: 10.0.0.1}
  - {name: p1, category: plain, mac: "52:54:00:00:00:02", ip: 10.0.0.2}
  - {name: c1, category: compute, mac: "52:54:00:00:00:03", ip: 10.0.0.3, bmc: {address: 10.1.0.3}}
  - name: c2
    category: compute
    mac: "52:54:00:00:00:04"
    ip: 10.0.0.4
    image: a
    diskLayout: two
    installMode: full
    boot: pxe
    kernelArgs: [nomodeset]
    exclude: {sync: [/node-sync/*]}
    bmc: {address: 10.1.0.4, user: root, port: 623}
  - {name: s1, category: storage, mac: "52:54:00:00:00:05", ip: 10.0.0.5, protect: false}
  - {name: s2, category: storage, mac: "52:54:00:00:00:06", ip: 10.0.0.6, bmc: {driver: manual}}
`,
  );

  it("defaults apply to nodes with no category and to empty categories", () => {
    for (const name of ["d1", "p1"]) {
      const n = byName(cluster, name);
      expect(n).toMatchObject({ image: "a", diskLayout: "one", installMode: "nosync", boot: "pxe", protect: false, kernelArgs: ["console=tty0", "quiet"] });
    }
    expect(byName(cluster, "d1").category).toBe("");
    expect(byName(cluster, "p1").category).toBe("plain");
  });

  it("a category's value replaces the default's, a node's replaces the category's", () => {
    const c1 = byName(cluster, "c1");
    expect(c1).toMatchObject({ image: "b", diskLayout: "one", installMode: "nosync", boot: "local", kernelArgs: ["console=ttyS0"] });
    const c2 = byName(cluster, "c2");
    expect(c2).toMatchObject({ image: "a", diskLayout: "two", installMode: "full", boot: "pxe", kernelArgs: ["nomodeset"] });
    expect(byName(cluster, "s1")).toMatchObject({ installMode: "skip", protect: false });
    expect(byName(cluster, "s2")).toMatchObject({ installMode: "skip", protect: true });
  });

  it("lists are replaced whole, never merged (an empty list clears)", () => {
    expect(byName(cluster, "c1").kernelArgs).toEqual(["console=ttyS0"]);
    expect(byName(cluster, "s1").kernelArgs).toEqual([]);
  });

  it("exclude merges key by key; each list inside is replaced whole; the image's lists are the fallback", () => {
    // defaults give sync, compute gives full.
    expect(byName(cluster, "c1")).toMatchObject({ excludeSync: ["/def-sync/*"], excludeFull: ["/cat-full/*"] });
    // the node's sync replaces the default's; full still from the category.
    expect(byName(cluster, "c2")).toMatchObject({ excludeSync: ["/node-sync/*"], excludeFull: ["/cat-full/*"] });
    // image a's full list applies where no level sets full.
    expect(byName(cluster, "d1")).toMatchObject({ excludeSync: ["/def-sync/*"], excludeFull: ["/img-full/*"] });
  });

  it("bmc merges key by key, nearest level winning", () => {
    expect(byName(cluster, "c1").bmc).toEqual({
      driver: "ipmi",
      address: "10.1.0.3",
      netmask: "255.255.0.0",
      user: "operator",
      password: { kind: "env", name: "BMC_PW" },
      port: 6230,
    });
    expect(byName(cluster, "c2").bmc).toMatchObject({ address: "10.1.0.4", user: "root", port: 623, netmask: "255.255.0.0" });
    // The manual driver needs no address.
    expect(byName(cluster, "s2").bmc).toMatchObject({ driver: "manual", user: "ADMIN" });
    expect(byName(cluster, "s2").bmc!.address).toBeUndefined();
    // An ipmi BMC without an address is left out (a warning says so).
    expect(byName(cluster, "d1").bmc).toBeUndefined();
  });

  it("hostnames carry the network's domain; nodes come sorted by name", () => {
    expect(byName(cluster, "c1").hostname).toBe("c1.cm.cluster");
    expect(cluster.nodes.map((n) => n.name)).toEqual(["c1", "c2", "d1", "p1", "s1", "s2"]);
  });
});

describe("host ranges: MACs, IPs and BMC addresses in range order", () => {
  const { cluster } = load(
    BASE +
      `
categories: {c: {image: a, diskLayout: one}}
nodes:
  - name: n[098-101]
    category: c
    ip: 10.0.0.254
    bmc: {address: 10.1.0.255}
    macs: ["52:54:00:00:00:0A", "52-54-00-00-00-0B", "52:54:00:00:00:0c", "52:54:00:00:00:0d"]
  - name: rack[1-2]-n[1-2]
    category: c
    ip: 10.0.9.1
    macs: ["52:54:00:00:01:01", "52:54:00:00:01:02", "52:54:00:00:02:01", "52:54:00:00:02:02"]
`,
  );

  it("increments addresses across octet boundaries, normalizes MACs", () => {
    const got = ["n098", "n099", "n100", "n101"].map((n) => {
      const x = byName(cluster, n);
      return [x.mac, x.ip, x.bmc?.address];
    });
    expect(got).toEqual([
      ["52:54:00:00:00:0a", "10.0.0.254", "10.1.0.255"],
      ["52:54:00:00:00:0b", "10.0.0.255", "10.1.1.0"],
      ["52:54:00:00:00:0c", "10.0.1.0", "10.1.1.1"],
      ["52:54:00:00:00:0d", "10.0.1.1", "10.1.1.2"],
    ]);
  });

  it("multi-group ranges expand left to right, with MACs and IPs in that order", () => {
    expect(["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"].map((n) => [byName(cluster, n).mac, byName(cluster, n).ip])).toEqual([
      ["52:54:00:00:01:01", "10.0.9.1"],
      ["52:54:00:00:01:02", "10.0.9.2"],
      ["52:54:00:00:02:01", "10.0.9.3"],
      ["52:54:00:00:02:02", "10.0.9.4"],
    ]);
    expect(byName(cluster, "rack2-n2").hostname).toBe("rack2-n2.cm.cluster");
  });

  it("every node of a range points at the range's definition", () => {
    const a = byName(cluster, "n098").pos;
    expect(byName(cluster, "n101").pos).toEqual(a);
    expect(a.line).toBe(12);
    expect(a.col).toBe(11);
  });
});

describe("defaults of the model", () => {
  it("fills network, node and path defaults", () => {
    const { cluster, dir } = load(`
network: {interface: eth1, address: 10.5.0.1/24}
images: {img: {root: rootfs, kernel: boot/vmlinuz}}
diskLayouts:
  one: {disks: [{name: sda, match: {device: /dev/sda, minSize: 1GiB}, partitions: [{size: 1GiB, fs: swap}, {size: rest, fs: ext4, mount: /}]}]}
nodes:
  - {name: solo, image: img, diskLayout: one, mac: "AA:BB:CC:DD:EE:FF", ip: 10.5.0.2, bmc: {address: 10.6.0.2}}
`);
    expect(cluster.network).toMatchObject({
      address: "10.5.0.1",
      prefix: 24,
      networkAddress: "10.5.0.0",
      netmask: "255.255.255.0",
      broadcast: "10.5.0.255",
      dns: [],
      dhcp: { mode: "authoritative", leaseTime: 3600 },
      ports: { dhcp: 67, proxyDhcp: 4011, tftp: 69, http: 80, rsync: 873 },
    });
    const n = cluster.nodes[0]!;
    expect(n).toMatchObject({ name: "solo", hostname: "solo", mac: "aa:bb:cc:dd:ee:ff", installMode: "auto", boot: "pxe", protect: false, kernelArgs: [] });
    expect(n.bmc).toEqual({ driver: "ipmi", address: "10.6.0.2", port: 623 });
    // Relative image paths are resolved against the configuration file's directory.
    expect(cluster.images.get("img")).toMatchObject({ root: join(dir, "rootfs"), kernel: join(dir, "boot/vmlinuz"), rootType: "directory" });
    const layout = cluster.diskLayouts.get("one")!;
    expect(layout.disks[0]!.match.minSize).toBe(1024 ** 3);
    expect(layout.disks[0]!.partitions.map((p) => [p.name, p.type, p.fs, p.size])).toEqual([
      ["sda-p1", "swap", "swap", { kind: "bytes", bytes: 1024 ** 3 }],
      ["sda-p2", "linux", "ext4", { kind: "rest" }],
    ]);
    // The cluster is named after its directory when cluster.name is not set.
    expect(cluster.name).toBe(dir.split("/").pop());
  });

  it("the digest covers the files' bytes, not where they are", () => {
    const yaml = `network: {interface: eth1, address: 10.5.0.1/24}\nimages: {img: {root: /, kernel: /}}\ndiskLayouts:\n  one: {disks: [{name: sda, match: {device: /dev/sda}, partitions: [{size: rest, fs: ext4, mount: /}]}]}\nnodes:\n  - {name: n, image: img, diskLayout: one, mac: "aa:bb:cc:dd:ee:ff", ip: 10.5.0.2}\n`;
    const a = load(yaml).cluster.digest;
    const b = load(yaml).cluster.digest;
    const c = load(yaml + "# a comment\n").cluster.digest;
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});

describe("secrets", () => {
  const yaml =
    BASE +
    `
categories:
  c: {image: a, diskLayout: one, bmc: {user: ADMIN, password: "s3cr3t-inline-pw"}}
  e: {image: a, diskLayout: one, bmc: {password: {env: MF_TEST_BMC_PW}}}
  f: {image: a, diskLayout: one, bmc: {password: {file: secrets/bmc.txt}}}
nodes:
  - {name: "i[1-2]", category: c, ip: 10.0.0.1, bmc: {address: 10.1.0.1}, macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"]}
  - {name: e1, category: e, ip: 10.0.0.5, bmc: {address: 10.1.0.5}, mac: "52:54:00:00:00:05"}
  - {name: f1, category: f, ip: 10.0.0.6, bmc: {address: 10.1.0.6}, mac: "52:54:00:00:00:06"}
`;

  it("an inline password is never part of the model, only of the loader's secret table", () => {
    const dir = writeConfig({ "cluster.yaml": yaml });
    const r = loadClusterSync(join(dir, "cluster.yaml"));
    expect(r.diagnostics.map((d) => d.code).sort()).toEqual(["inline-secret", "unused-disk-layout", "unused-image"]);
    const c = r.cluster!;
    const json = JSON.stringify(c, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v));
    expect(json).toContain("i1");
    expect(json).not.toContain("s3cr3t-inline-pw");
    const ref = byName(c, "i2").bmc!.password!;
    expect(ref.kind).toBe("inline");
    expect(describeSecret(ref)).toBe("inline");
    expect(resolveSecret(ref, r.inlineSecrets)).toBe("s3cr3t-inline-pw");
    expect(() => resolveSecret(ref)).toThrow(SecretError);
  });

  it("env and file references resolve when needed, with errors that name the reference only", () => {
    const dir = writeConfig({ "cluster.yaml": yaml, "secrets/bmc.txt": "from-file-pw\nsecond line ignored\n" });
    const r = loadClusterSync(join(dir, "cluster.yaml"));
    const e = byName(r.cluster!, "e1").bmc!.password!;
    const f = byName(r.cluster!, "f1").bmc!.password!;
    expect(e).toEqual({ kind: "env", name: "MF_TEST_BMC_PW" });
    expect(f).toEqual({ kind: "file", path: join(dir, "secrets/bmc.txt") });
    expect(describeSecret(e)).toBe("env:MF_TEST_BMC_PW");
    expect(describeSecret(f)).toBe(`file:${join(dir, "secrets/bmc.txt")}`);
    expect(resolveSecret(e, new Map(), { MF_TEST_BMC_PW: "from-env-pw" })).toBe("from-env-pw");
    expect(() => resolveSecret(e, new Map(), {})).toThrow("environment variable MF_TEST_BMC_PW is not set");
    expect(() => resolveSecret(e, new Map(), { MF_TEST_BMC_PW: "" })).toThrow(SecretError);
    expect(resolveSecret(f)).toBe("from-file-pw");

    writeFileSync(join(dir, "secrets/bmc.txt"), "");
    expect(() => resolveSecret(f)).toThrow(`secret file ${join(dir, "secrets/bmc.txt")} is empty`);
    expect(() => resolveSecret({ kind: "file", path: join(dir, "secrets/none") })).toThrow(/cannot read secret file .*none: ENOENT/);
    if (process.getuid?.() !== 0) {
      writeFileSync(join(dir, "secrets/bmc.txt"), "x\n");
      chmodSync(join(dir, "secrets/bmc.txt"), 0o000);
      expect(() => resolveSecret(f)).toThrow(/EACCES/);
    }
    // Nothing about the values leaks into the model.
    const json = JSON.stringify(r.cluster, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v));
    expect(json).not.toContain("from-file-pw");
    expect(json).not.toContain("s3cr3t-inline-pw");
  });
});
