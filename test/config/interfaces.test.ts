// `networks:` and `interfaces:`: networks declared once, interfaces referring to them
// from node, category or defaults (nearest list wins whole), addresses counted per node
// of a host range, and every mistake refused at the place it is written with nothing written.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bigIntToIp6, ip6ToBigInt } from "../../src/config/ip6.js";
import { loadClusterSync } from "../../src/config/load.js";
import { HEAD, removeConfigs, snapshot, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

function load(yaml: string) {
  const dir = writeConfig({ "c.yaml": yaml });
  const before = snapshot(dir);
  const r = loadClusterSync(join(dir, "c.yaml"));
  expect(snapshot(dir)).toEqual(before);
  const errors = r.diagnostics
    .filter((d) => d.severity === "error")
    .map((d) => ({ code: d.code, at: `${(d.file ?? "").slice(dir.length + 1)}:${d.line}:${d.col}`, message: d.message }));
  return { cluster: r.cluster, errors };
}

// Two networks (lines 1-3) before the usual head, so the head's nodes start on line 15.
const NETS = `networks:
  data: {subnet: 10.79.0.0/24, ipv6: "fd00:79::/64", gateway: 10.79.0.1, mtu: 9000, dns: [10.79.0.2], domain: data.test, routes: [{to: 10.80.0.0/16, via: 10.79.0.254}]}
  ib: {subnet: 10.90.0.0/16}
`;

describe("IPv6 text", () => {
  it("parses RFC 4291 forms and prints RFC 5952's", () => {
    const canon = (s: string) => {
      const v = ip6ToBigInt(s);
      return v === undefined ? undefined : bigIntToIp6(v);
    };
    expect(canon("FD00:0079:0:0:0:0:0:0011")).toBe("fd00:79::11");
    expect(canon("::")).toBe("::");
    expect(canon("::1")).toBe("::1");
    expect(canon("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canon("::ffff:192.0.2.1")).toBe("::ffff:c000:201");
    for (const bad of ["1::2::3", "1:2:3:4:5:6:7:8:9", "g::1", "1:2:3:4:5:6:7", "12345::1", "::1.2.3"]) expect(canon(bad), bad).toBeUndefined();
  });
});

describe("node interfaces", () => {
  it("a host range's interfaces: MACs from macs, IPv4 and IPv6 counted per node, the network's settings folded in", () => {
    const yaml =
      NETS +
      HEAD +
      `  - name: n[1-2]
    category: compute
    macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"]
    ip: 10.0.0.10
    interfaces:
      - {name: data0, macs: ["52:54:00:00:01:01", "52:54:00:00:01:02"], network: data, ip: 10.79.0.11, ip6: "fd00:79::11"}
      - {name: ib0, network: ib, dhcp: true, mtu: 2044}
      - {name: bond0, bond: {members: [ens5, ens6]}}
      - {name: bond0.100, vlan: {id: 100, link: bond0}, network: ib, ip: 10.90.1.1, routes: [{to: default, via: 10.90.0.1, metric: 50}]}
`;
    const { cluster, errors } = load(yaml);
    expect(errors).toEqual([]);
    const [n1, n2] = cluster!.nodes;
    expect(n1!.interfaces![0]).toEqual({
      name: "data0",
      kind: "ethernet",
      mac: "52:54:00:00:01:01",
      network: "data",
      ipv4: { address: "10.79.0.11", prefix: 24 },
      ipv6: { address: "fd00:79::11", prefix: 64 },
      dhcp4: false,
      dhcp6: false,
      mtu: 9000,
      gateway4: "10.79.0.1",
      dns: ["10.79.0.2"],
      domains: ["data.test"],
      routes: [{ to: "10.80.0.0/16", via: "10.79.0.254" }],
    });
    expect(n2!.interfaces![0]).toMatchObject({ mac: "52:54:00:00:01:02", ipv4: { address: "10.79.0.12" }, ipv6: { address: "fd00:79::12" } });
    expect(n2!.interfaces![1]).toMatchObject({ name: "ib0", dhcp4: true, mtu: 2044, network: "ib" });
    expect(n2!.interfaces![2]).toMatchObject({ kind: "bond", bond: { mode: "active-backup", members: [{ name: "ens5" }, { name: "ens6" }], miimon: 100 } });
    expect(n2!.interfaces![3]).toMatchObject({
      kind: "vlan",
      vlan: { id: 100, link: "bond0" },
      ipv4: { address: "10.90.1.2", prefix: 16 },
      routes: [{ to: "default", via: "10.90.0.1", metric: 50 }],
    });
  });

  it("a category's list is inherited whole; a node's own list replaces it", () => {
    const yaml =
      NETS +
      HEAD.replace(
        "categories: {compute: {image: img, diskLayout: one}}",
        "categories: {compute: {image: img, diskLayout: one, interfaces: [{name: ib0, network: ib, dhcp: true}]}}",
      ) +
      `  - {name: a1, category: compute, mac: "52:54:00:00:00:01", ip: 10.0.0.10}\n` +
      `  - {name: a2, category: compute, mac: "52:54:00:00:00:02", ip: 10.0.0.11, interfaces: [{name: data0, mac: "52:54:00:00:01:02", network: data, ip: 10.79.0.12}]}\n`;
    const { cluster, errors } = load(yaml);
    expect(errors).toEqual([]);
    expect(cluster!.nodes.map((n) => n.interfaces!.map((i) => i.name))).toEqual([["ib0"], ["data0"]]);
    expect(cluster!.networks!.get("data")).toMatchObject({ subnet: { address: "10.79.0.0", prefix: 24 }, ipv6: { address: "fd00:79::", prefix: 64 }, mtu: 9000 });
  });

  it("refuses each mistake at its field: unknown network, address outside it, bond member that is an interface, unknown VLAN link", () => {
    const yaml =
      NETS +
      HEAD +
      `  - name: b1
    category: compute
    mac: "52:54:00:00:00:01"
    ip: 10.0.0.10
    interfaces:
      - {name: data0, mac: "52:54:00:00:01:01", network: dta, ip: 10.79.0.11}
      - {name: data1, mac: "52:54:00:00:01:02", network: ib, ip: 10.79.0.12}
      - {name: bond0, bond: {members: ["52:54:00:00:01:01", ens7]}}
      - {name: v5, vlan: {id: 5, link: eth9}}
      - {name: ip6, network: ib, ip6: "fd00::1"}
`;
    const { cluster, errors } = load(yaml);
    expect(cluster).toBeUndefined();
    expect(errors).toEqual([
      { code: "unknown-network", at: "c.yaml:20:58", message: 'interface "data0": unknown network "dta"; did you mean "data"?' },
      { code: "bond-member-is-interface", at: "c.yaml:22:40", message: expect.stringMatching(/^interface "bond0": bond member "52:54:00:00:01:01" is also an interface/) },
      { code: "unknown-interface", at: "c.yaml:23:40", message: 'interface "v5": VLAN link "eth9" is not an interface in this list' },
      { code: "missing-subnet", at: "c.yaml:24:39", message: 'interface "ip6": network "ib" has no "ipv6" prefix for ip6 fd00::1' },
    ]);
    // With the list's own mistakes fixed, the address outside its network is next.
    const fixed = yaml.replace("network: dta", "network: data").replace(/ {6}- \{name: bond0.*\n {6}- \{name: v5.*\n {6}- \{name: ip6.*\n/, "");
    expect(load(fixed).errors).toEqual([
      { code: "ip-outside-subnet", at: "c.yaml:21:66", message: 'address 10.79.0.12 of interface "data1" of node "b1" is outside network "ib" 10.90.0.0/16' },
    ]);
  });

  it("refuses the same address on two nodes, naming both places, and a VLAN id out of range at the schema", () => {
    const yaml =
      NETS +
      HEAD +
      `  - {name: d1, category: compute, mac: "52:54:00:00:00:01", ip: 10.0.0.10, interfaces: [{name: data0, network: data, ip: 10.79.0.11}]}\n` +
      `  - {name: d2, category: compute, mac: "52:54:00:00:00:02", ip: 10.0.0.11, interfaces: [{name: data0, network: data, ip: 10.79.0.11}]}\n` +
      `  - {name: d3, category: compute, mac: "52:54:00:00:00:03", ip: 10.0.0.12, interfaces: [{name: data0}, {name: v, vlan: {id: 4095, link: data0}}]}\n`;
    const dir = writeConfig({ "c.yaml": yaml });
    const d = loadClusterSync(join(dir, "c.yaml")).diagnostics.filter((x) => x.severity === "error");
    expect(d.map((x) => [x.code, x.line, x.message])).toEqual([
      ["duplicate-ip", 16, 'address 10.79.0.11 of interface "data0" of node "d2" is already used'],
      ["invalid-value", 17, '"interfaces[1].vlan.id" of node "d3" must be <= 4094'],
    ]);
    expect(d[0]!.related).toMatchObject({ message: 'also used by node "d1"', line: 15 });
  });

  it("refuses a network whose subnet has host bits, and a gateway outside it", () => {
    const yaml =
      `networks:\n  bad: {subnet: 10.79.0.5/24}\n  gw: {subnet: 10.79.1.0/24, gateway: 10.79.2.1}\n` +
      HEAD +
      `  - {name: g1, category: compute, mac: "52:54:00:00:00:01", ip: 10.0.0.10}\n`;
    expect(load(yaml).errors).toEqual([
      { code: "invalid-address", at: "c.yaml:2:17", message: 'network "bad": subnet "10.79.0.5/24" has host bits set: the network is 10.79.0.0/24' },
      { code: "gateway-outside-subnet", at: "c.yaml:3:39", message: 'network "gw": gateway 10.79.2.1 is outside 10.79.1.0/24' },
    ]);
  });

  it("refuses bond members by MAC in a host range (one MAC cannot be every node's) and a bond name too long to name its members", () => {
    const yaml =
      NETS +
      HEAD +
      `  - {name: "r[1-2]", category: compute, macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"], ip: 10.0.0.10, interfaces: [{name: bond0, bond: {members: ["52:54:00:00:01:01"]}}]}\n` +
      `  - {name: s1, category: compute, mac: "52:54:00:00:00:03", ip: 10.0.0.12, interfaces: [{name: bondwithlongnm, bond: {members: ["52:54:00:00:01:03"]}}]}\n`;
    expect(load(yaml).errors.map((e) => [e.code, e.at.split(":")[1]])).toEqual([
      ["mac-on-range", "15"],
      ["name-too-long", "16"],
    ]);
  });
});
