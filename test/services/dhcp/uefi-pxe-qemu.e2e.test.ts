// Real UEFI firmware: OVMF's own PXE (no iPXE option ROM on the NIC) boots a VM against
// the authoritative server, downloads snponly.efi from metalform's TFTP server and runs
// it; that iPXE asks DHCP again (user class "iPXE") and is handed the node's script URL.
// Before the fix the offer carried "PXEClient" without option 43: EDK2 then treats it
// as a BINL offer, asks again on UDP 4011 and gives up with PXE-E16.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DhcpServer, type DhcpClientInfo } from "../../../src/services/dhcp/server.js";
import { buildServerBundle, startChildServer, type ChildServer } from "../tftp/netns.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, removeStaleNamespaces, waitFor, type Lab, type Proc } from "./helpers/netns.js";
import { addVmTap, bootUefiVm, requireOvmf, stopVm } from "./helpers/qemu.js";

const MAC = "52:54:00:ab:cd:07";
const SCRIPT = "http://10.85.0.1:8080/boot/52:54:00:ab:cd:07.ipxe";
let lab: Lab;
let vmNs: string;
let server: DhcpServer;
let tftp: ChildServer | undefined;
let bundleDir: string;
let vm: (Proc & { cleanup(): void }) | undefined;
const events: { type: string; info: DhcpClientInfo }[] = [];

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
    pxe: { scriptUrl: "http://10.85.0.1:8080/boot/${mac}.ipxe" },
  });
  for (const type of ["offer", "ack", "nak"] as const) server.on(type, (info: DhcpClientInfo) => events.push({ type, info }));
  await server.start();
  bundleDir = mkdtempSync(join(tmpdir(), "mfS-tftp-"));
  tftp = await startChildServer(lab.serverNs, buildServerBundle(bundleDir), { address: "10.85.0.1", port: 69, root: "/usr/lib/ipxe" });
}, 60_000);

afterAll(async () => {
  await stopVm(vm);
  vm?.cleanup();
  await tftp?.stop();
  await server?.stop();
  lab?.destroy();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

describe("OVMF's own PXE against the authoritative server", () => {
  it("downloads snponly.efi over TFTP, and that iPXE gets the node's script URL", async () => {
    vm = bootUefiVm(vmNs, MAC);
    const ipxeAck = await waitFor(
      "iPXE's ACK after the firmware's PXE",
      () => events.find((e) => e.type === "ack" && e.info.kind === "ipxe") ?? (vm!.child.exitCode !== null && vm),
      150_000,
      200,
    );
    if (!("info" in ipxeAck)) throw new Error(`qemu exited: ${vm.stderr()}`);
    const firmwareAck = events.find((e) => e.type === "ack" && e.info.kind === "pxe");
    expect(firmwareAck?.info).toMatchObject({ mac: MAC, ip: "10.85.0.11", arch: 7, bootFile: "snponly.efi" });
    const done = tftp!.events.find((e) => e.event === "complete" && e.path === "snponly.efi");
    expect(done).toMatchObject({ remote: { address: "10.85.0.11" }, bytes: statSync("/usr/lib/ipxe/snponly.efi").size });
    expect(ipxeAck.info).toMatchObject({ mac: MAC, ip: "10.85.0.11", bootFile: SCRIPT });
    expect(vm.stdout()).toContain("Station IP address is 10.85.0.11");
    expect(vm.stdout()).not.toContain("PXE-E16");
    expect(events.some((e) => e.type === "nak")).toBe(false);
  }, 200_000);
});
