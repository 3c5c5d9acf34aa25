// The QEMU command line of one lab VM: TCG with `-cpu max` (KVM hangs here; `max`
// offers RDRAND so sfdisk/mkfs do not stall for entropy), a virtio NIC on the VM's
// tap booting QEMU's iPXE ROM, a virtio disk, network boot first then disk, the serial
// console appended to a log file, and the link to its ipmi_sim BMC.
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
  /** Extra arguments (e.g. -kernel/-initrd/-append for a direct boot). */
  extra?: string[];
}

/** `bootOrder`: QEMU's -boot order letters ("nc": network, then disk). */
export function qemuArgv(v: VmSpec, bootOrder = "nc"): string[] {
  return [
    "qemu-system-x86_64",
    "-name", v.name,
    "-machine", "pc",
    "-accel", "tcg",
    "-cpu", "max",
    "-smp", "1",
    "-m", String(v.memoryMiB),
    "-nographic",
    "-monitor", "none",
    "-parallel", "none",
    "-chardev", `file,id=serial0,path=${v.serialLog},append=on`,
    "-serial", "chardev:serial0",
    "-netdev", `tap,id=n0,ifname=${v.tap},script=no,downscript=no`,
    "-device", `virtio-net-pci,netdev=n0,mac=${v.mac}`,
    "-drive", `file=${v.disk},if=none,id=disk0,format=raw,cache=unsafe`,
    "-device", `virtio-blk-pci,drive=disk0,serial=${v.name}`,
    // Network first, then disk; when neither boots, retry after 5 s (SeaBIOS).
    "-boot", `order=${bootOrder},reboot-timeout=5000`,
    ...(v.bmcSerialPort !== undefined ? ipmiArgs(v.bmcSerialPort) : []),
    "-qmp", `unix:${v.qmpSocket},server=on,wait=off`,
    "-pidfile", v.pidFile,
    ...(v.extra ?? []),
  ];
}

/** The guest's KCS interface to its ipmi_sim BMC (which listens on `port`). */
function ipmiArgs(port: number): string[] {
  return [
    "-chardev", `socket,id=ipmi0,host=127.0.0.1,port=${port},reconnect=2`,
    "-device", "ipmi-bmc-extern,id=bmc0,chardev=ipmi0",
    "-device", "isa-ipmi-kcs,bmc=bmc0",
  ];
}

function shWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script that starts the VM (run by its chassis control script on power on):
 * exec's QEMU, booting the disk first when the BMC's boot device is "default" (disk).
 */
export function vmStartScript(v: VmSpec, bootFile: string): string {
  const mark = "@ORDER@";
  const words = qemuArgv(v, mark).map((a) => (a.includes(mark) ? `"${a.replace(mark, "$order")}"` : shWord(a)));
  return `#!/bin/sh
# metalform lab: start VM ${v.name} (run on power on by its BMC's chassis control)
order=nc
[ "$(cat ${shWord(bootFile)} 2>/dev/null)" = default ] && order=cn
exec ${words.join(" ")}
`;
}
