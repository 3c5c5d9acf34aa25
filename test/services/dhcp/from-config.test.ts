import { describe, expect, it } from "vitest";
import type { Network, Node } from "../../../src/config/types.js";
import { dhcpOptionsFromNetwork } from "../../../src/services/dhcp/from-config.js";
import { DhcpServer } from "../../../src/services/dhcp/server.js";

const network: Network = {
  interface: "eth1",
  address: "10.141.255.254",
  prefix: 16,
  networkAddress: "10.141.0.0",
  netmask: "255.255.0.0",
  broadcast: "10.141.255.255",
  gateway: "10.141.255.1",
  dns: ["10.141.255.254"],
  domain: "cluster.local",
  dhcp: { mode: "authoritative", leaseTime: 7200, dynamicRange: { start: "10.141.200.1", end: "10.141.200.200" } },
  ports: { dhcp: 67, proxyDhcp: 4011, tftp: 69, http: 8080, rsync: 873 },
};

const node = (name: string, mac: string, ip: string): Node => ({
  name,
  category: "default",
  mac,
  ip,
  hostname: `${name}.cluster.local`,
  image: "i",
  diskLayout: "d",
  installMode: "auto",
  boot: "pxe",
  kernelArgs: [],
  sshAuthorizedKeys: [],
  excludeSync: [],
  excludeFull: [],
  protect: false,
  firmware: { mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false },
  pos: { file: "c.yaml", line: 1, col: 1 },
});

describe("dhcpOptionsFromNetwork", () => {
  it("maps the cluster network and nodes onto server options a DhcpServer accepts", () => {
    const o = dhcpOptionsFromNetwork(network, [node("node001", "52:54:00:00:00:01", "10.141.0.1")], {
      scriptUrl: "http://10.141.255.254:8080/boot/${mac}.ipxe",
      leaseFile: "/var/lib/metalform/dhcp-leases.jsonl",
    });
    expect(o).toMatchObject({
      mode: "authoritative",
      serverAddress: "10.141.255.254",
      interface: "eth1",
      ports: { server: 67, proxy: 4011 },
      subnetMask: "255.255.0.0",
      broadcastAddress: "10.141.255.255",
      routers: ["10.141.255.1"],
      dnsServers: ["10.141.255.254"],
      domain: "cluster.local",
      leaseTime: 7200,
      dynamicRange: { start: "10.141.200.1", end: "10.141.200.200" },
      leaseFile: "/var/lib/metalform/dhcp-leases.jsonl",
      reservations: [{ mac: "52:54:00:00:00:01", ip: "10.141.0.1", hostname: "node001" }],
    });
    expect(() => new DhcpServer(o)).not.toThrow();
  });

  it("sends no router without a gateway, and lets overrides win", () => {
    const o = dhcpOptionsFromNetwork({ ...network, gateway: undefined }, [], { scriptUrl: "u", overrides: { interface: "lab0" } });
    expect(o.routers).toEqual([]);
    expect(o.interface).toBe("lab0");
  });
});
