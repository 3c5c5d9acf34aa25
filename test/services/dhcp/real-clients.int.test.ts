// Real Debian DHCP clients against the server on a multi-homed head node: the server
// namespace has a provisioning link (prov0) and a second link (other0) that holds the
// default route, each with a client namespace behind it. The server is bound to prov0.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DhcpServer } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, inNs, removeStaleNamespaces, requireTool, spawnInNs, waitFor, type Lab, type Proc } from "./helpers/netns.js";
import { openPxeClient } from "./helpers/pxe-client.js";

let lab: Lab;
let server: DhcpServer;
let dir: string;
let provMac: string;
let otherMac: string;
const captures: Proc[] = [];

function macOf(ns: string): string {
  const j = JSON.parse(inNs(ns, "ip", ["-j", "link", "show", "eth0"])) as { address: string }[];
  return j[0]!.address;
}

function envDump(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** A client script that dumps its environment per event, so the test can read what the client got. */
function dumpScript(name: string): string {
  const path = join(dir, `${name}.sh`);
  writeFileSync(path, `#!/bin/sh\nenv | sort > "${dir}/${name}.\${reason:-$1}"\nexit 0\n`);
  chmodSync(path, 0o755);
  return path;
}

function startCapture(ns: string, dev: string, file: string): Promise<Proc> {
  const p = spawnInNs(ns, "tcpdump", ["-i", dev, "-n", "-U", "-w", file, "udp and (port 67 or port 68)"]);
  captures.push(p);
  return waitFor(`tcpdump on ${dev}`, () => /listening on/.test(p.stderr()) && p, 5000);
}

function packetsFrom(file: string, filter: string): string[] {
  return inNs(lab.serverNs, "tcpdump", ["-r", file, "-n", filter])
    .split("\n")
    .filter((l) => l.trim());
}

beforeAll(async () => {
  requireTool("/usr/sbin/dhclient", "isc-dhcp-client");
  requireTool("/usr/sbin/udhcpc", "udhcpc");
  requireTool("/usr/bin/tcpdump", "tcpdump");
  ensureAddon();
  removeStaleNamespaces();
  dir = mkdtempSync(join(tmpdir(), "mfdh-"));
  lab = createLab({ prov: "10.77.0.1/24", other: "10.88.0.1/24" }, (l) => {
    // The second interface holds the default route: a broadcast from an unbound socket would leave here.
    inNs(l.serverNs, "ip", ["route", "add", "default", "via", "10.88.0.254", "dev", l.links.get("other")!.serverIf]);
  });
  provMac = macOf(lab.links.get("prov")!.clientNs);
  otherMac = macOf(lab.links.get("other")!.clientNs);
  server = new DhcpServer({
    serverAddress: "10.77.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("prov")!.serverIf,
    subnetMask: "255.255.255.0",
    routers: ["10.77.0.254"],
    dnsServers: ["10.77.0.53"],
    domain: "cluster.test",
    leaseTime: 900,
    // Both MACs are known: the other side must get nothing because of where it asks, not who it is.
    reservations: [
      { mac: provMac, ip: "10.77.0.21", hostname: "node021" },
      { mac: otherMac, ip: "10.77.0.22", hostname: "node022" },
    ],
    pxe: { scriptUrl: "http://10.77.0.1/boot/${mac}" },
  });
  await server.start();
});

afterAll(async () => {
  for (const c of captures) c.kill();
  await server?.stop();
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runDhclient(ns: string, name: string, timeoutS: number): Promise<{ bound: boolean; lease: string }> {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(conf, `timeout ${timeoutS};\nretry 1;\ninitial-interval 1;\nrequest subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name;\n`);
  const leaseFile = join(dir, `${name}.leases`);
  const p = spawnInNs(ns, "dhclient", ["-d", "-1", "-v", "-cf", conf, "-sf", dumpScript(name), "-lf", leaseFile, "-pf", join(dir, `${name}.pid`), "eth0"]);
  try {
    await waitFor(`dhclient ${name}`, () => existsSync(join(dir, `${name}.BOUND`)) || p.child.exitCode !== null, (timeoutS + 5) * 1000);
  } finally {
    p.kill();
    await p.exited;
  }
  return { bound: existsSync(join(dir, `${name}.BOUND`)), lease: existsSync(leaseFile) ? readFileSync(leaseFile, "utf8") : "" };
}

async function runUdhcpc(ns: string, name: string, extra: string[]): Promise<{ code: number | null }> {
  const p = spawnInNs(ns, "udhcpc", ["-f", "-q", "-n", "-i", "eth0", "-t", "3", "-T", "1", "-A", "1", "-s", dumpScript(name), ...extra]);
  const code = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
  p.kill();
  return { code };
}

describe("real DHCP clients on a multi-homed head node", () => {
  it("dhclient on the provisioning side binds the reserved address, router and boot file; on the other side gets nothing", async () => {
    const provCap = join(dir, "prov.pcap");
    const otherCap = join(dir, "other.pcap");
    await startCapture(lab.serverNs, lab.links.get("prov")!.serverIf, provCap);
    await startCapture(lab.serverNs, lab.links.get("other")!.serverIf, otherCap);
    const [prov, other] = await Promise.all([runDhclient(lab.links.get("prov")!.clientNs, "dh-prov", 10), runDhclient(lab.links.get("other")!.clientNs, "dh-other", 5)]);
    expect(prov.bound).toBe(true);
    const env = envDump(join(dir, "dh-prov.BOUND"));
    expect(env.new_ip_address).toBe("10.77.0.21");
    expect(env.new_routers).toBe("10.77.0.254");
    expect(env.new_subnet_mask).toBe("255.255.255.0");
    expect(env.new_host_name).toBe("node021");
    expect(env.new_domain_name).toBe("cluster.test");
    expect(env.new_domain_name_servers).toBe("10.77.0.53");
    expect(env.new_dhcp_server_identifier).toBe("10.77.0.1");
    expect(prov.lease).toContain('filename "undionly.kpxe"');
    expect(prov.lease).toContain("fixed-address 10.77.0.21;");
    expect(prov.lease).toContain(`option tftp-server-name "10.77.0.1"`);

    expect(other.bound).toBe(false);
    expect(existsSync(join(dir, "dh-other.FAIL")) || !existsSync(join(dir, "dh-other.BOUND"))).toBe(true);

    await new Promise((r) => setTimeout(r, 300));
    for (const c of captures.splice(0)) {
      c.kill();
      await c.exited;
    }
    // The other side's client did ask (so the capture works) but no reply left through other0.
    expect(packetsFrom(otherCap, "udp src port 68").length).toBeGreaterThan(0);
    expect(packetsFrom(otherCap, "udp src port 67")).toEqual([]);
    expect(packetsFrom(provCap, "udp src port 67").length).toBeGreaterThanOrEqual(2);
  });

  it("udhcpc on the provisioning side gets the reserved address, router, host name and boot file; the other side fails", async () => {
    const [prov, other] = await Promise.all([runUdhcpc(lab.links.get("prov")!.clientNs, "ud-prov", []), runUdhcpc(lab.links.get("other")!.clientNs, "ud-other", ["-B"])]);
    expect(prov.code).toBe(0);
    const env = envDump(join(dir, "ud-prov.bound"));
    expect(env.ip).toBe("10.77.0.21");
    expect(env.router).toBe("10.77.0.254");
    expect(env.subnet).toBe("255.255.255.0");
    expect(env.hostname).toBe("node021");
    expect(env.boot_file).toBe("undionly.kpxe");
    expect(env.siaddr).toBe("10.77.0.1");
    expect(env.serverid).toBe("10.77.0.1");
    expect(env.lease).toBe("900");
    expect(other.code).not.toBe(0);
    expect(existsSync(join(dir, "ud-other.bound"))).toBe(false);
  });

  it("control: the same client is answered by a server that is not bound to the interface", async () => {
    // Proves the previous tests can fail: only the device binding keeps other0 silent.
    const ns = lab.links.get("other")!.clientNs;
    const bound = await openPxeClient(ns);
    try {
      expect((await bound.exchange("bios", otherMac)).offer).toBeUndefined();
    } finally {
      await bound.close();
    }
    await server.stop();
    const unbound = new DhcpServer({
      serverAddress: "10.77.0.1",
      netns: lab.serverNs,
      subnetMask: "255.255.255.0",
      reservations: [{ mac: otherMac, ip: "10.77.0.22" }],
    });
    await unbound.start();
    const c = await openPxeClient(ns);
    try {
      const { offer } = await c.exchange("bios", otherMac);
      expect(offer?.yiaddr).toBe("10.77.0.22");
    } finally {
      await c.close();
      await unbound.stop();
      await server.start();
    }
  });
});
