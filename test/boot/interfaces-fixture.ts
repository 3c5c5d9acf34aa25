// A node's interfaces of every kind and setting, as the config layer resolves them:
// shared by the golden tests of each stack and the test against netplan itself.
import type { NodeInterface } from "../../src/config/types.js";

const base = { dhcp4: false, dhcp6: false, dns: [] as string[], domains: [] as string[], routes: [] as NodeInterface["routes"] };

/** Every kind of interface and setting, as the config layer resolves them. */
export const IFACES: NodeInterface[] = [
  {
    ...base,
    name: "data0",
    kind: "ethernet",
    mac: "52:54:00:12:35:01",
    network: "data",
    ipv4: { address: "10.79.0.11", prefix: 24 },
    ipv6: { address: "fd00:79::11", prefix: 64 },
    mtu: 9000,
    gateway6: "fd00:79::1",
    dns: ["10.79.0.2", "fd00:79::2"],
    domains: ["data.test"],
    routes: [{ to: "10.80.0.0/16", via: "10.79.0.254" }],
  },
  { ...base, name: "data0.20", kind: "vlan", vlan: { id: 20, link: "data0" }, dhcp4: true },
  {
    ...base,
    name: "bond0",
    kind: "bond",
    bond: { mode: "active-backup", members: [{ mac: "52:54:00:12:35:02" }, { name: "ens6" }], miimon: 100 },
    network: "storage",
    ipv4: { address: "10.81.0.11", prefix: 16 },
    mtu: 9000,
  },
  {
    ...base,
    name: "vl100",
    kind: "vlan",
    vlan: { id: 100, link: "bond0" },
    ipv4: { address: "10.82.0.11", prefix: 24 },
    dhcp6: true,
    routes: [{ to: "default", via: "10.82.0.1", metric: 200 }],
  },
  { ...base, name: "eth2", kind: "ethernet" },
  { ...base, name: "br0", kind: "bridge", bridge: { members: ["eth2"], stp: false }, ipv4: { address: "10.83.0.11", prefix: 24 }, gateway4: "10.83.0.1" },
];
