// Real firmware: QEMU's iPXE option ROM (Debian ipxe-qemu) network-boots a VM on a tap
// in the client namespace and must complete DHCP with the server, getting the node's
// script URL (it sends user class "iPXE"). QEMU runs under TCG (FACTS: KVM hangs here).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DhcpServer, type DhcpClientInfo } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, inNs, removeStaleNamespaces, requireTool, spawnInNs, waitFor, type Lab, type Proc } from "./helpers/netns.js";

const MAC = "52:54:00:ab:cd:01";
const MAC2 = "52:54:00:ab:cd:02";
const ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom";
let lab: Lab;
let server: DhcpServer;
let qemu: Proc | undefined;
const events: { type: string; at: number; info: DhcpClientInfo }[] = [];

beforeAll(async () => {
  requireTool("/usr/bin/qemu-system-x86_64", "qemu-system-x86");
  requireTool(ROM, "ipxe-qemu");
  ensureAddon();
  removeStaleNamespaces();
  lab = createLab({ vm: "10.84.0.1/24" }, (l) => {
    // The VM's tap and the link to the server share a bridge in the client namespace.
    const ns = l.links.get("vm")!.clientNs;
    inNs(ns, "ip", ["link", "add", "br0", "type", "bridge"]);
    inNs(ns, "ip", ["link", "set", "eth0", "master", "br0"]);
    inNs(ns, "ip", ["tuntap", "add", "tap0", "mode", "tap"]);
    inNs(ns, "ip", ["link", "set", "tap0", "master", "br0"]);
    inNs(ns, "ip", ["link", "set", "tap0", "up"]);
    inNs(ns, "ip", ["link", "set", "br0", "up"]);
  });
  server = new DhcpServer({
    serverAddress: "10.84.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("vm")!.serverIf,
    subnetMask: "255.255.255.0",
    reservations: [{ mac: MAC, ip: "10.84.0.20", hostname: "vm020" }],
    pxe: { scriptUrl: "http://10.84.0.1:8080/boot/${mac}.ipxe" },
  });
  for (const type of ["offer", "ack", "nak"] as const) server.on(type, (info) => events.push({ type, at: Date.now(), info }));
  await server.start();
});

function bootVm(mac: string): Proc {
  return spawnInNs(lab.links.get("vm")!.clientNs, "qemu-system-x86_64", [
    "-accel", "tcg", "-m", "128", "-nodefaults", "-display", "none", "-serial", "none", "-no-reboot", "-boot", "n",
    "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
    // QEMU finds the iPXE ROM itself (efi-virtio.rom from ipxe-qemu); an explicit romfile= path was not run by SeaBIOS here.
    "-device", `virtio-net-pci,netdev=n0,mac=${mac}`,
  ]);
}

async function stopVm(): Promise<void> {
  if (!qemu) return;
  qemu.kill();
  await qemu.exited;
  qemu = undefined;
}

afterAll(async () => {
  if (qemu) {
    qemu.kill();
    await qemu.exited;
  }
  await server?.stop();
  lab?.destroy();
});

describe("QEMU's iPXE ROM", () => {
  it("completes DHCP with the server and is handed the node's script URL", async () => {
    qemu = bootVm(MAC);
    const ack = await waitFor("an ACK to the VM", () => events.find((e) => e.type === "ack") ?? (qemu!.child.exitCode !== null && qemu), 90_000);
    if (!("info" in ack)) throw new Error(`qemu exited: ${qemu.stderr()}`);
    expect(ack.info).toMatchObject({ mac: MAC, ip: "10.84.0.20", kind: "ipxe", arch: 0, bootFile: "http://10.84.0.1:8080/boot/52:54:00:ab:cd:01.ipxe" });
    const offer = events.find((e) => e.type === "offer")!;
    expect(offer.info.kind).toBe("ipxe");
    expect(events.some((e) => e.type === "nak")).toBe(false);
    // With option 175/176 iPXE requests at once instead of waiting for ProxyDHCP offers.
    expect(ack.at - offer.at).toBeLessThan(1000);
    await stopVm();
  }, 120_000);

  it("control: without option 176, the same iPXE waits for ProxyDHCP offers before its REQUEST", async () => {
    events.length = 0;
    await server.stop();
    server = new DhcpServer({
      serverAddress: "10.84.0.1",
      netns: lab.serverNs,
      interface: lab.links.get("vm")!.serverIf,
      subnetMask: "255.255.255.0",
      reservations: [{ mac: MAC2, ip: "10.84.0.21" }],
      pxe: { scriptUrl: "http://10.84.0.1:8080/boot/${mac}.ipxe", ipxeNoProxyDhcp: false },
    });
    for (const type of ["offer", "ack"] as const) server.on(type, (info) => events.push({ type, at: Date.now(), info }));
    await server.start();
    qemu = bootVm(MAC2);
    const ack = await waitFor("an ACK to the VM", () => events.find((e) => e.type === "ack"), 90_000);
    // iPXE resends DISCOVER while it waits; the wait is measured from the first OFFER.
    const firstOffer = events.find((e) => e.type === "offer")!;
    expect(ack.info.bootFile).toBe("http://10.84.0.1:8080/boot/52:54:00:ab:cd:02.ipxe");
    expect(ack.at - firstOffer.at).toBeGreaterThan(1000);
    await stopVm();
  }, 120_000);
});
