// proxyDHCP beside a real DHCP server: dnsmasq (no PXE configuration) hands out the
// address, metalform in proxy mode the boot information. QEMU's iPXE ROM must take its
// address from dnsmasq and its script URL from metalform (ProxyDHCP on port 4011).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DhcpServer, type DhcpClientInfo } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, removeStaleNamespaces, requireTool, spawnInNs, waitFor, type Lab, type Proc } from "./helpers/netns.js";
import { addVmTap, bootVm, requireQemu, stopVm } from "./helpers/qemu.js";

const MAC = "52:54:00:ab:cd:02";
let lab: Lab;
let dir: string;
let vmNs: string;
let dnsmasq: Proc | undefined;
let proxy: DhcpServer;
let qemu: Proc | undefined;
const events: { type: string; info: DhcpClientInfo }[] = [];

beforeAll(async () => {
  requireQemu();
  requireTool("/usr/sbin/dnsmasq", "dnsmasq");
  ensureAddon();
  removeStaleNamespaces();
  dir = mkdtempSync(join(tmpdir(), "mfdh-proxy-"));
  lab = createLab({ vm: "10.86.0.1/24" }, (l) => void (vmNs = addVmTap(l, "vm")));
  const dev = lab.links.get("vm")!.serverIf;
  // The site's DHCP server: addresses only, nothing about booting.
  dnsmasq = spawnInNs(lab.serverNs, "dnsmasq", [
    "-d", "-k", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts", "--no-ping",
    `--interface=${dev}`, "--bind-interfaces", "--dhcp-range=10.86.0.100,10.86.0.150,255.255.255.0,1h",
    `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`, `--pid-file=${join(dir, "dnsmasq.pid")}`, "--log-facility=-",
  ]);
  await waitFor("dnsmasq", () => /DHCP, IP range/.test(dnsmasq!.stderr() + dnsmasq!.stdout()) || dnsmasq!.child.exitCode !== null, 10_000);
  if (dnsmasq.child.exitCode !== null) throw new Error(`dnsmasq failed: ${dnsmasq.stderr()}`);
  proxy = new DhcpServer({
    mode: "proxy",
    serverAddress: "10.86.0.1",
    netns: lab.serverNs,
    interface: dev,
    // dnsmasq holds port 67 on the same interface with SO_REUSEADDR; share it.
    reuseAddress: true,
    subnetMask: "255.255.255.0",
    reservations: [{ mac: MAC, ip: "10.86.0.20" }],
    pxe: { scriptUrl: "http://10.86.0.1:8080/boot/${mac}.ipxe" },
  });
  for (const type of ["offer", "ack"] as const) proxy.on(type, (info: DhcpClientInfo) => events.push({ type, info }));
  await proxy.start();
});

afterAll(async () => {
  await stopVm(qemu);
  await proxy?.stop();
  if (dnsmasq) {
    dnsmasq.kill();
    await dnsmasq.exited;
  }
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("proxyDHCP next to dnsmasq, with QEMU's iPXE ROM", () => {
  it("iPXE leases from dnsmasq and asks metalform's proxy for its boot file", async () => {
    qemu = bootVm(vmNs, MAC);
    const ack = await waitFor("a ProxyDHCP ACK", () => events.find((e) => e.type === "ack") ?? (qemu!.child.exitCode !== null && qemu), 90_000);
    if (!("info" in ack)) throw new Error(`qemu exited: ${qemu.stderr()}`);
    expect(events.find((e) => e.type === "offer")?.info.kind).toBe("ipxe");
    expect(ack.info).toMatchObject({ mac: MAC, kind: "ipxe", bootFile: "http://10.86.0.1:8080/boot/52:54:00:ab:cd:02.ipxe" });
    // The address came from dnsmasq, and the ProxyDHCP request came from it.
    const leases = join(dir, "dnsmasq.leases");
    await waitFor("dnsmasq's lease", () => existsSync(leases) && readFileSync(leases, "utf8").includes(MAC), 5_000);
    const leased = readFileSync(leases, "utf8").split("\n").find((l) => l.includes(MAC))!.split(" ")[2]!;
    expect(leased).toMatch(/^10\.86\.0\.(1[0-4]\d|150)$/);
    // The ProxyDHCP request reached port 4011 from the address dnsmasq leased. (dnsmasq
    // shares our address here, so its REQUESTs on port 67 name our server identifier:
    // the proxy must leave those alone.)
    expect(ack.info.via).toBe("proxy");
    expect(ack.info.from).toBe(`${leased}:68`);
    expect(events.filter((e) => e.type === "ack")).toHaveLength(1);
  }, 120_000);
});
