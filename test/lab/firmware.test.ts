// The lab's firmware choice (unit): OVMF's images per kind, the per-VM variable store,
// QEMU's q35/pflash/Secure Boot arguments, the NIC without ROM, and the boot order as
// bootindex — checked by running the real start script against a stand-in QEMU.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderLabConfig } from "../../src/lab/cluster-config.js";
import { ovmfFiles, parseLabFirmware, prepareVmFirmware } from "../../src/lab/firmware.js";
import { resolveLabOptions } from "../../src/lab/options.js";
import { qemuArgv, vmStartScript, type VmSpec } from "../../src/lab/qemu.js";

const t = mkdtempSync(join(tmpdir(), "mf-lab-fw-"));
afterAll(() => rmSync(t, { recursive: true, force: true }));

const v: VmSpec = {
  name: "lab1",
  memoryMiB: 256,
  tap: "mftap1",
  mac: "52:54:00:4d:46:01",
  disk: "/l/disk.raw",
  serialLog: "/l/serial.log",
  pidFile: "/l/qemu.pid",
  qmpSocket: "/l/qmp.sock",
  bmcSerialPort: 9100,
};
const uefi = { kind: "uefi" as const, code: "/ovmf/CODE.fd", vars: "/l/VARS.fd", secureBoot: false };

describe("lab firmware", () => {
  it("picks OVMF's plain images for uefi and the secboot code with Microsoft's keys for secureboot", () => {
    expect(ovmfFiles("bios")).toBeUndefined();
    expect(ovmfFiles("uefi", "/o")).toEqual({ code: "/o/OVMF_CODE_4M.fd", varsTemplate: "/o/OVMF_VARS_4M.fd" });
    expect(ovmfFiles("secureboot", "/o")).toEqual({ code: "/o/OVMF_CODE_4M.secboot.fd", varsTemplate: "/o/OVMF_VARS_4M.ms.fd" });
  });

  it("copies the variable store per VM and says which package is missing", () => {
    writeFileSync(join(t, "OVMF_CODE_4M.secboot.fd"), "code");
    writeFileSync(join(t, "OVMF_VARS_4M.ms.fd"), "ms-vars");
    const fw = prepareVmFirmware("secureboot", t, t);
    expect(fw).toEqual({ kind: "uefi", code: join(t, "OVMF_CODE_4M.secboot.fd"), vars: join(t, "OVMF_VARS.fd"), secureBoot: true });
    expect(readFileSync(join(t, "OVMF_VARS.fd"), "utf8")).toBe("ms-vars");
    expect(prepareVmFirmware("bios", t, t)).toEqual({ kind: "bios" });
    expect(() => prepareVmFirmware("uefi", t, join(t, "none"))).toThrow(/apt-get install ovmf/);
  });

  it("parses --firmware and gives each node its own (the last repeats)", () => {
    expect(parseLabFirmware("bios,UEFI, secureboot")).toEqual(["bios", "uefi", "secureboot"]);
    expect(() => parseLabFirmware("efi")).toThrow(/unknown lab firmware "efi": use bios, uefi, secureboot/);
    expect(resolveLabOptions({ nodes: 4, firmware: ["bios", "secureboot"] }).firmware).toEqual(["bios", "secureboot", "secureboot", "secureboot"]);
    expect(resolveLabOptions({ nodes: 2 }).firmware).toEqual(["bios", "bios"]);
  });

  it("UEFI VMs: q35, OVMF on pflash, the firmware's own PXE (no ROM), bootindex instead of -boot, KCS BMC kept", () => {
    const a = qemuArgv({ ...v, firmware: uefi }).join(" ");
    expect(a).toContain("-machine q35 ");
    expect(a).toContain("-drive if=pflash,format=raw,unit=0,readonly=on,file=/ovmf/CODE.fd");
    expect(a).toContain("-drive if=pflash,format=raw,unit=1,file=/l/VARS.fd");
    expect(a).toContain("virtio-net-pci,netdev=n0,mac=52:54:00:4d:46:01,romfile=,bootindex=1");
    expect(a).toContain("virtio-blk-pci,drive=disk0,serial=lab1,bootindex=2");
    expect(a).not.toContain("-boot ");
    expect(a).not.toContain("smm=on");
    expect(a).toContain("isa-ipmi-kcs,bmc=bmc0");
    const sb = qemuArgv({ ...v, firmware: { ...uefi, secureBoot: true } }).join(" ");
    expect(sb).toContain("-machine q35,smm=on ");
    expect(sb).toContain("-global driver=cfi.pflash01,property=secure,value=on");
  });

  it("the start script puts the disk first when the BMC says disk, the network first otherwise", () => {
    const bin = join(t, "bin");
    execFileSync("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "qemu-system-x86_64"), '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n');
    chmodSync(join(bin, "qemu-system-x86_64"), 0o755);
    const script = join(t, "start.sh");
    const bootFile = join(t, "boot-device");
    writeFileSync(script, vmStartScript({ ...v, firmware: uefi }, bootFile), { mode: 0o755 });
    const run = () => execFileSync("sh", [script], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: "utf8" }).split("\n");
    writeFileSync(bootFile, "pxe\n");
    expect(run()).toEqual(expect.arrayContaining(["virtio-net-pci,netdev=n0,mac=52:54:00:4d:46:01,romfile=,bootindex=1", "virtio-blk-pci,drive=disk0,serial=lab1,bootindex=2"]));
    writeFileSync(bootFile, "default\n");
    expect(run()).toEqual(expect.arrayContaining(["virtio-net-pci,netdev=n0,mac=52:54:00:4d:46:01,romfile=,bootindex=2", "virtio-blk-pci,drive=disk0,serial=lab1,bootindex=1"]));
    // BIOS VMs keep SeaBIOS's -boot order.
    writeFileSync(script, vmStartScript(v, bootFile), { mode: 0o755 });
    expect(run()).toContain("order=cn,reboot-timeout=5000");
  });

  it("the lab's cluster configuration gives UEFI and Secure Boot nodes their firmware setting", () => {
    const yaml = renderLabConfig({
      clusterName: "lab",
      bridge: "mfbr0",
      headAddress: "10.77.0.1",
      prefixLength: 24,
      imageRoot: "/i",
      kernel: "/i/boot/vmlinuz",
      initrd: "/i/boot/initrd.img",
      bmcPasswordFile: "/p",
      bmcUser: "admin",
      bmcPort: 623,
      bmcNetmask: "255.255.255.0",
      ports: {},
      nodes: [
        { name: "lab1", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmcAddress: "10.78.0.11", firmware: "bios" },
        { name: "lab2", mac: "52:54:00:4d:46:02", ip: "10.77.0.12", bmcAddress: "10.78.0.12", firmware: "uefi" },
        { name: "lab3", mac: "52:54:00:4d:46:03", ip: "10.77.0.13", bmcAddress: "10.78.0.13", firmware: "secureboot" },
      ],
    });
    const nodes = yaml.split("\n  - name: lab").slice(1);
    expect(nodes[0]).not.toContain("firmware");
    expect(nodes[1]).toContain("firmware:\n      mode: uefi\n");
    expect(nodes[2]).toContain("firmware:\n      mode: uefi\n      secureBoot: true\n");
  });
});
