// proxyDHCP beside a real DHCP server: dnsmasq (no PXE configuration, in its own
// namespace at 10.86.0.254 on the same segment) hands out the address, metalform in
// proxy mode (10.86.0.1) the boot information. QEMU's iPXE ROM must take its address
// from dnsmasq and its script URL from metalform, and then fetch that URL. (Debian's
// iPXE uses the ProxyDHCP offer directly, without a request to port 4011; that path is
// covered by proxy.int.test.ts.) iPXE first waits ~13 s for IPv6 router advertisements.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DhcpServer, type DhcpClientInfo } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, inNs, removeStaleNamespaces, requireTool, sh, spawnInNs, waitFor, type Lab, type Proc } from "./helpers/netns.js";
import { addVmTap, bootVm, requireQemu, stopVm } from "./helpers/qemu.js";

const MAC = "52:54:00:ab:cd:02";
let lab: Lab;
let siteNs: string | undefined;
let dir: string;
let vmNs: string;
let dnsmasq: Proc | undefined;
let proxy: DhcpServer;
let qemu: Proc | undefined;
let http: Proc | undefined;
const events: { type: string; info: DhcpClientInfo }[] = [];

beforeAll(async () => {
  requireQemu();
  requireTool("/usr/sbin/dnsmasq", "dnsmasq-base");
  ensureAddon();
  removeStaleNamespaces();
  dir = mkdtempSync(join(tmpdir(), "mfdh-proxy-"));
  lab = createLab({ vm: "10.86.0.1/24" }, (l) => {
    vmNs = addVmTap(l, "vm");
    // The site's DHCP server gets its own namespace, bridged onto the same segment.
    siteNs = `mfdh-site-${process.pid}-${l.tag}`;
    sh("ip", ["netns", "add", siteNs]);
    const veth = `mfdh${l.tag}st`;
    sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", `${veth}p`]);
    sh("ip", ["link", "set", veth, "netns", siteNs]);
    sh("ip", ["link", "set", `${veth}p`, "netns", vmNs]);
    inNs(vmNs, "ip", ["link", "set", `${veth}p`, "master", "br0"]);
    inNs(vmNs, "ip", ["link", "set", `${veth}p`, "up"]);
    inNs(siteNs, "ip", ["link", "set", veth, "name", "site0"]);
    inNs(siteNs, "ip", ["addr", "add", "10.86.0.254/24", "dev", "site0"]);
    inNs(siteNs, "ip", ["link", "set", "site0", "up"]);
    inNs(siteNs, "ip", ["link", "set", "lo", "up"]);
  });
  const dev = lab.links.get("vm")!.serverIf;
  // The site's DHCP server: addresses only, nothing about booting.
  dnsmasq = spawnInNs(siteNs!, "dnsmasq", [
    "-d",
    "-k",
    "--conf-file=/dev/null",
    "--port=0",
    "--no-resolv",
    "--no-hosts",
    "--no-ping",
    "--interface=site0",
    "--bind-interfaces",
    "--dhcp-range=10.86.0.100,10.86.0.150,255.255.255.0,1h",
    `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`,
    `--pid-file=${join(dir, "dnsmasq.pid")}`,
    "--log-facility=-",
  ]);
  await waitFor("dnsmasq", () => /DHCP, IP range/.test(dnsmasq!.stderr() + dnsmasq!.stdout()) || dnsmasq!.child.exitCode !== null, 10_000);
  if (dnsmasq.child.exitCode !== null) throw new Error(`dnsmasq failed: ${dnsmasq.stderr()}`);
  proxy = new DhcpServer({
    mode: "proxy",
    serverAddress: "10.86.0.1",
    netns: lab.serverNs,
    interface: dev,
    subnetMask: "255.255.255.0",
    reservations: [{ mac: MAC, ip: "10.86.0.20" }],
    pxe: { scriptUrl: "http://10.86.0.1:8080/boot/${mac}.ipxe" },
  });
  for (const type of ["offer", "ack"] as const) proxy.on(type, (info: DhcpClientInfo) => events.push({ type, info }));
  await proxy.start();
  // Stands in for metalform's HTTP service: logs who asks for which path. iPXE sends the
  // MAC's colons percent-encoded (%3A), so the path is decoded as a server must.
  http = spawnInNs(lab.serverNs, process.execPath, [
    "-e",
    `require("node:http").createServer((q, r) => { console.log(q.socket.remoteAddress + " " + decodeURIComponent(q.url)); r.statusCode = 404; r.end(); }).listen(8080, "10.86.0.1", () => console.log("listening"));`,
  ]);
  await waitFor("the HTTP stand-in", () => http!.stdout().includes("listening") || http!.child.exitCode !== null, 10_000);
});

afterAll(async () => {
  await stopVm(qemu);
  if (http) {
    http.kill();
    await http.exited;
  }
  await proxy?.stop();
  if (dnsmasq) {
    dnsmasq.kill();
    await dnsmasq.exited;
  }
  lab?.destroy();
  if (siteNs) sh("ip", ["netns", "del", siteNs]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("proxyDHCP next to dnsmasq, with QEMU's iPXE ROM", () => {
  it("iPXE leases from dnsmasq and fetches the script URL metalform's proxy handed it", async () => {
    qemu = bootVm(vmNs, MAC);
    const fetched = await waitFor(
      "iPXE's HTTP request for its script",
      () =>
        http!
          .stdout()
          .split("\n")
          .find((l) => l.endsWith("/boot/52:54:00:ab:cd:02.ipxe")) ??
        (qemu!.child.exitCode !== null && "qemu exited"),
      90_000,
    );
    const offer = events.find((e) => e.type === "offer");
    expect(offer?.info).toMatchObject({ mac: MAC, kind: "ipxe", via: "server", bootFile: "http://10.86.0.1:8080/boot/52:54:00:ab:cd:02.ipxe" });
    // The address it fetched from is the one dnsmasq leased, not one from metalform.
    const leases = join(dir, "dnsmasq.leases");
    await waitFor("dnsmasq's lease", () => existsSync(leases) && readFileSync(leases, "utf8").includes(MAC), 5_000);
    const leased = readFileSync(leases, "utf8")
      .split("\n")
      .find((l) => l.includes(MAC))!
      .split(" ")[2]!;
    expect(leased).toMatch(/^10\.86\.0\.(1[0-4]\d|150)$/);
    expect(fetched).toBe(`${leased} /boot/52:54:00:ab:cd:02.ipxe`);
  }, 120_000);
});
