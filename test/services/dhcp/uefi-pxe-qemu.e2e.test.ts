// Real UEFI firmware against the authoritative server, a VM on OVMF whose NIC has no
// iPXE option ROM:
// - its own PXE downloads snponly.efi from metalform's TFTP server and runs it; that
//   iPXE asks DHCP again (user class "iPXE") and is handed the node's script URL.
//   Before the fix the offer carried "PXEClient" without option 43: EDK2 then treats
//   it as a BINL offer, asks again on UDP 4011 and gives up with PXE-E16.
// - with PXE switched off, its UEFI HTTP boot ("HTTPClient") gets the loader's URL,
//   downloads it from metalform's HTTP server, and that iPXE fetches the script.
import { statSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DhcpServer, type DhcpClientInfo } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { startBootServers, type BootServers } from "./helpers/boot-servers.js";
import { createLab, removeStaleNamespaces, waitFor, type Lab, type Proc } from "./helpers/netns.js";
import { addVmTap, bootUefiVm, requireOvmf, stopVm } from "./helpers/qemu.js";

const MAC = "52:54:00:ab:cd:07";
const SCRIPT = "http://10.85.0.1:8080/boot/52:54:00:ab:cd:07.ipxe";
const LOADER = "/usr/lib/ipxe/snponly.efi";
let lab: Lab;
let vmNs: string;
let server: DhcpServer;
let boot: BootServers | undefined;
let vm: (Proc & { cleanup(): void }) | undefined;
let events: { type: string; info: DhcpClientInfo }[] = [];

beforeAll(async () => {
  requireOvmf();
  ensureAddon();
  removeStaleNamespaces();
  lab = createLab({ vm: "10.85.0.1/24" }, (l) => void (vmNs = addVmTap(l, "vm")));
  server = new DhcpServer({
    serverAddress: "10.85.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("vm")!.serverIf,
    subnetMask: "255.255.255.0",
    reservations: [{ mac: MAC, ip: "10.85.0.11", hostname: "uefi011" }],
    pxe: { scriptUrl: "http://10.85.0.1:8080/boot/${mac}.ipxe", httpLoaderBase: "http://10.85.0.1:8080/files/loaders" },
  });
  for (const type of ["offer", "ack", "nak"] as const) server.on(type, (info: DhcpClientInfo) => events.push({ type, info }));
  await server.start();
  boot = await startBootServers(lab.serverNs, { address: "10.85.0.1", loaderDir: "/usr/lib/ipxe", httpPort: 8080, script: "#!ipxe\necho metalform script\nshell\n" });
}, 60_000);

afterEach(async () => {
  await stopVm(vm);
  vm?.cleanup();
  vm = undefined;
  events = [];
  if (boot) boot.events.length = 0;
});

afterAll(async () => {
  await boot?.stop();
  await server?.stop();
  lab?.destroy();
});

/** Waits until the iPXE the firmware loaded has fetched its script. */
async function untilScriptFetched(what: string): Promise<void> {
  await waitFor(what, () => boot!.events.some((e) => e.event === "http-script") || (vm!.child.exitCode !== null && vm), 150_000, 200);
  if (!boot!.events.some((e) => e.event === "http-script")) throw new Error(`qemu exited: ${vm!.stderr()}`);
}

describe("OVMF without an iPXE ROM against the authoritative server", () => {
  it("its PXE downloads snponly.efi over TFTP, and that iPXE gets the node's script URL", async () => {
    vm = bootUefiVm(vmNs, MAC);
    await untilScriptFetched("the script fetched after the firmware's PXE");
    const firmwareAck = events.find((e) => e.type === "ack" && e.info.kind === "pxe");
    expect(firmwareAck?.info).toMatchObject({ mac: MAC, ip: "10.85.0.11", arch: 7, bootFile: "snponly.efi" });
    const done = boot!.events.find((e) => e.event === "tftp-complete" && e.path === "snponly.efi");
    expect(done).toMatchObject({ remote: { address: "10.85.0.11" }, bytes: statSync(LOADER).size });
    expect(events.find((e) => e.type === "ack" && e.info.kind === "ipxe")?.info).toMatchObject({ mac: MAC, ip: "10.85.0.11", bootFile: SCRIPT });
    expect(vm.stdout()).toContain("Station IP address is 10.85.0.11");
    expect(vm.stdout()).not.toContain("PXE-E16");
    expect(events.some((e) => e.type === "nak")).toBe(false);
  }, 200_000);

  it("its UEFI HTTP boot gets the loader's URL, downloads it over HTTP, and that iPXE gets the script URL", async () => {
    vm = bootUefiVm(vmNs, MAC, { pxe: false });
    await untilScriptFetched("the script fetched after the firmware's HTTP boot");
    const firmwareAck = events.find((e) => e.type === "ack" && e.info.kind === "http");
    expect(firmwareAck?.info).toMatchObject({ mac: MAC, ip: "10.85.0.11", arch: 16, bootFile: "http://10.85.0.1:8080/files/loaders/snponly.efi" });
    const file = boot!.events.find((e) => e.event === "http-file" && e.path === "loaders/snponly.efi");
    expect(file).toMatchObject({ status: 200, complete: true, remote: "10.85.0.11", bytes: statSync(LOADER).size });
    expect(boot!.events.some((e) => e.event === "tftp-complete")).toBe(false);
    expect(events.find((e) => e.type === "ack" && e.info.kind === "ipxe")?.info).toMatchObject({ bootFile: SCRIPT });
    expect(vm.stdout()).toContain("metalform script");
  }, 200_000);
});
