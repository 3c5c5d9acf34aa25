// The QEMU command line of one lab VM: TCG with `-cpu max` (KVM hangs here; `max`
// offers RDRAND so sfdisk/mkfs do not stall for entropy), a virtio NIC on the VM's
// tap, a virtio disk, network boot first then disk, the serial console appended to a
// log file, and the link to its ipmi_sim BMC. BIOS VMs (pc, SeaBIOS) boot QEMU's iPXE
// ROM; UEFI VMs (q35, OVMF on pflash) boot the firmware's own PXE, so their NIC
// carries no ROM and the boot order is given by bootindex (OVMF ignores -boot order).
import type { VmFirmware } from "./firmware.js";

export interface VmSpec {
  name: string;
  memoryMiB: number;
  tap: string;
  mac: string;
  disk: string;
  serialLog: string;
  pidFile: string;
  /** QMP socket, for status queries. */
  qmpSocket: string;
  /** ipmi_sim's VM port on the namespace's loopback; absent: no in-band BMC (a Redfish lab). */
  bmcSerialPort?: number;
  /** Default BIOS (SeaBIOS). */
  firmware?: VmFirmware;
  /** Extra arguments (e.g. -kernel/-initrd/-append for a direct boot). */
  extra?: string[];
}

/** Machine and firmware drives of a UEFI VM (the boot order is bootindex on the devices). */
function uefiArgs(fw: Extract<VmFirmware, { kind: "uefi" }>): string[] {
  return [
    "-machine",
    fw.secureBoot ? "q35,smm=on" : "q35",
    // Secure Boot: only SMM code may write the variable store (else the OS could change the keys).
    ...(fw.secureBoot ? ["-global", "driver=cfi.pflash01,property=secure,value=on"] : []),
    "-drive",
    `if=pflash,format=raw,unit=0,readonly=on,file=${fw.code}`,
    "-drive",
    `if=pflash,format=raw,unit=1,file=${fw.vars}`,
  ];
}

/**
 * `bootOrder`: QEMU's -boot order letters ("nc": network, then disk). UEFI VMs get
 * it as bootindex values: `netIndex`/`diskIndex` (default 1 and 2 for "nc", else 2
 * and 1; the start script passes shell variables).
 */
export function qemuArgv(v: VmSpec, bootOrder = "nc", index: { net: string; disk: string } = bootOrder === "nc" ? { net: "1", disk: "2" } : { net: "2", disk: "1" }): string[] {
  const fw = v.firmware ?? { kind: "bios" };
  const uefi = fw.kind === "uefi";
  return [
    "qemu-system-x86_64",
    "-name",
    v.name,
    ...(uefi ? uefiArgs(fw) : ["-machine", "pc"]),
    "-accel",
    "tcg",
    "-cpu",
    "max",
    "-smp",
    "1",
    "-m",
    String(v.memoryMiB),
    "-nographic",
    "-monitor",
    "none",
    "-parallel",
    "none",
    "-chardev",
    `file,id=serial0,path=${v.serialLog},append=on`,
    "-serial",
    "chardev:serial0",
    "-netdev",
    `tap,id=n0,ifname=${v.tap},script=no,downscript=no`,
    // UEFI: an empty romfile leaves the NIC to OVMF's own PXE, as on a real server.
    "-device",
    uefi ? `virtio-net-pci,netdev=n0,mac=${v.mac},romfile=,bootindex=${index.net}` : `virtio-net-pci,netdev=n0,mac=${v.mac}`,
    "-drive",
    `file=${v.disk},if=none,id=disk0,format=raw,cache=unsafe`,
    "-device",
    uefi ? `virtio-blk-pci,drive=disk0,serial=${v.name},bootindex=${index.disk}` : `virtio-blk-pci,drive=disk0,serial=${v.name}`,
    // Network first, then disk; when neither boots, retry after 5 s (SeaBIOS).
    ...(uefi ? [] : ["-boot", `order=${bootOrder},reboot-timeout=5000`]),
    ...(v.bmcSerialPort !== undefined ? ipmiArgs(v.bmcSerialPort) : []),
    "-qmp",
    `unix:${v.qmpSocket},server=on,wait=off`,
    "-pidfile",
    v.pidFile,
    ...(v.extra ?? []),
  ];
}

/** The guest's KCS interface to its ipmi_sim BMC (which listens on `port`). */
function ipmiArgs(port: number): string[] {
  return ["-chardev", `socket,id=ipmi0,host=127.0.0.1,port=${port},reconnect=2`, "-device", "ipmi-bmc-extern,id=bmc0,chardev=ipmi0", "-device", "isa-ipmi-kcs,bmc=bmc0"];
}

function shWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script that starts the VM (run by its chassis control script on power on):
 * exec's QEMU, booting the disk first when the BMC's boot device is "default" (disk).
 */
export function vmStartScript(v: VmSpec, bootFile: string): string {
  const marks: Record<string, string> = { "@ORDER@": "$order", "@NET@": "$net", "@DISK@": "$disk" };
  const words = qemuArgv(v, "@ORDER@", { net: "@NET@", disk: "@DISK@" }).map((a) => {
    if (!/@(ORDER|NET|DISK)@/.test(a)) return shWord(a);
    return `"${a.replace(/@(ORDER|NET|DISK)@/g, (m) => marks[m]!)}"`;
  });
  return `#!/bin/sh
# metalform lab: start VM ${v.name} (run on power on by its BMC's chassis control)
order=nc
[ "$(cat ${shWord(bootFile)} 2>/dev/null)" = default ] && order=cn
# UEFI boot order (bootindex): network first unless the BMC says disk.
net=1 disk=2
[ "$order" = cn ] && net=2 disk=1
exec ${words.join(" ")}
`;
}
