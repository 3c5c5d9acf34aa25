// A QEMU VM that network-boots with its iPXE option ROM from a tap bridged onto a
// lab link's client side. TCG only (FACTS: KVM hangs on this machine).
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inNs, requireTool, spawnInNs, type Lab, type Proc } from "./netns.js";

const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

export function requireQemu(): void {
  requireTool("/usr/bin/qemu-system-x86_64", "qemu-system-x86");
  requireTool("/usr/lib/ipxe/qemu/efi-virtio.rom", "ipxe-qemu");
}

/** Bridges a tap (tap0) with the link's eth0 in its client namespace. */
export function addVmTap(lab: Lab, link: string): string {
  const ns = lab.links.get(link)!.clientNs;
  inNs(ns, "ip", ["link", "add", "br0", "type", "bridge"]);
  inNs(ns, "ip", ["link", "set", "eth0", "master", "br0"]);
  inNs(ns, "ip", ["tuntap", "add", "tap0", "mode", "tap"]);
  inNs(ns, "ip", ["link", "set", "tap0", "master", "br0"]);
  inNs(ns, "ip", ["link", "set", "tap0", "up"]);
  inNs(ns, "ip", ["link", "set", "br0", "up"]);
  return ns;
}

export function bootVm(ns: string, mac: string): Proc {
  return spawnInNs(ns, "qemu-system-x86_64", [
    "-accel",
    "tcg",
    "-m",
    "128",
    "-nodefaults",
    "-display",
    "none",
    "-serial",
    "none",
    "-no-reboot",
    "-boot",
    "n",
    "-netdev",
    "tap,id=n0,ifname=tap0,script=no,downscript=no",
    // QEMU finds the iPXE ROM itself (efi-virtio.rom from ipxe-qemu); an explicit
    // romfile= path was not run by SeaBIOS here.
    "-device",
    `virtio-net-pci,netdev=n0,mac=${mac}`,
  ]);
}

export function requireOvmf(): void {
  requireTool("/usr/bin/qemu-system-x86_64", "qemu-system-x86");
  requireTool(OVMF_CODE, "ovmf");
}

/**
 * A UEFI VM (OVMF, q35) whose NIC has no option ROM (`romfile=`): the firmware's own
 * PXE (EDK2 UefiPxeBcDxe) boots, as on a real UEFI server; with `pxe: false` its UEFI
 * HTTP boot (HttpBootDxe) does. Its serial console (where
 * OVMF prints "Station IP address", PXE-E errors and iPXE's output) is the Proc's stdout.
 */
export function bootUefiVm(ns: string, mac: string, opts: { pxe?: boolean } = {}): Proc & { cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "mfS-ovmf-"));
  copyFileSync(OVMF_VARS, join(dir, "vars.fd"));
  const vm = spawnInNs(ns, "qemu-system-x86_64", [
    "-accel",
    "tcg",
    "-machine",
    "q35",
    "-m",
    "256",
    "-nodefaults",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-drive",
    `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
    "-drive",
    `if=pflash,format=raw,file=${join(dir, "vars.fd")}`,
    "-netdev",
    "tap,id=n0,ifname=tap0,script=no,downscript=no",
    "-device",
    `virtio-net-pci,netdev=n0,mac=${mac},romfile=`,
    // OVMF's fw_cfg switches: without PXE its boot order goes straight to HTTPv4.
    ...(opts.pxe === false ? ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n", "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"] : []),
  ]);
  return { ...vm, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function stopVm(vm: Proc | undefined): Promise<void> {
  if (!vm) return;
  vm.kill();
  await vm.exited;
}
