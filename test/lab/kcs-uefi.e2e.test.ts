// UEFI lab VMs keep their BMC: the lab's own UEFI command line (q35, OVMF on pflash,
// `ipmi-bmc-extern` + `isa-ipmi-kcs`) booted with the lab kernel and image, and the
// guest's ipmi_si finds ipmi_sim's management controller over KCS. (QEMU 7.2
// segfaults when the extern BMC has no interface device; the KCS one works on q35.)
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageInitramfs, IPMI_MODULES, labDown, labUp, modulePaths, prepareVmFirmware, type LabInfo } from "../../src/lab/index.js";
import { qemuArgv } from "../../src/lab/qemu.js";
import { LAB_TOOLS, requireTools, tempLabDir } from "./helpers/lab-env.js";
import { removeStaleNamespaces } from "../helpers/netns.js";

const NS = `mfUkcs${process.pid}`;
const dir = tempLabDir("kcs");
const SERIAL_PORT = 9500;
let lab: LabInfo;

beforeAll(async () => {
  requireTools(LAB_TOOLS);
  removeStaleNamespaces(/^mfUkcs(\d+)$/, { killProcesses: true });
  lab = await labUp({ namespace: NS, dir, nodes: 1, memoryMiB: 256, powerOn: false, bmcSerialPortBase: SERIAL_PORT, firmware: "uefi" });
}, 300_000);

afterAll(async () => {
  await labDown({ namespace: NS, dir }).catch(() => undefined);
  rmSync(dirname(dir), { recursive: true, force: true });
}, 60_000);

/** The lab image as an initramfs, plus the ipmi modules and a script that loads them and looks for /dev/ipmi0. */
function ipmiInitramfs(): string {
  const v = lab.kernel.version;
  const overlay: Record<string, { content: Buffer | string; mode?: number }> = {};
  for (const rel of modulePaths(lab.kernel.modulesDir, IPMI_MODULES)) overlay[`lib/modules/${v}/${rel}`] = { content: readFileSync(join(lab.kernel.modulesDir, rel)) };
  overlay["etc/init.d/S10ipmi"] = {
    mode: 0o755,
    content: `#!/bin/sh\nfor m in ${IPMI_MODULES.join(" ")}; do modprobe $m; done\nsleep 1\n[ -c /dev/ipmi0 ] && echo "ipmi-check: /dev/ipmi0 present"\n`,
  };
  const dep = readFileSync(join(lab.imageRoot, "lib/modules", v, "modules.dep"), "utf8");
  const kdep = readFileSync(join(lab.kernel.modulesDir, "modules.dep"), "utf8")
    .split("\n")
    .filter((l) => /\/ipmi_(msghandler|devintf|si)\.ko:/.test(l));
  overlay[`lib/modules/${v}/modules.dep`] = { content: dep + kdep.join("\n") + "\n" };
  const initrd = join(lab.dir, "kcs-test.cpio.gz");
  writeFileSync(initrd, imageInitramfs(lab.imageRoot, overlay));
  return initrd;
}

describe("a UEFI lab VM's BMC", () => {
  it("is found by the guest over KCS on q35 with OVMF", async () => {
    const n = lab.nodes[0]!;
    const serial = join(lab.dir, "kcs-test.serial.log");
    const argv = qemuArgv({
      name: "kcs",
      memoryMiB: 256,
      tap: n.tap,
      mac: n.mac,
      disk: n.diskPath,
      serialLog: serial,
      pidFile: join(lab.dir, "kcs.pid"),
      qmpSocket: join(lab.dir, "kcs.qmp"),
      bmcSerialPort: SERIAL_PORT,
      firmware: prepareVmFirmware("uefi", join(lab.dir)),
      extra: ["-no-reboot", "-kernel", lab.kernel.path, "-initrd", ipmiInitramfs(), "-append", "console=ttyS0 rdinit=/sbin/init"],
    });
    const vm = spawn("ip", ["netns", "exec", NS, ...argv], { stdio: "ignore" });
    let log = "";
    try {
      const t0 = Date.now();
      while (Date.now() - t0 < 180_000) {
        log = existsSync(serial) ? readFileSync(serial, "utf8") : "";
        if (log.includes("ipmi-check:") || log.includes("metalform lab image:")) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      vm.kill("SIGKILL");
    }
    expect(log, log.slice(-3000)).toMatch(/EFI v2\.\d+ by EDK II/);
    // man_id 0x001291 / prod_id 0x0f02: the MC the lab's bmc.emu defines.
    expect(log, log.slice(-3000)).toMatch(/Found new BMC \(man_id: 0x001291, prod_id: 0x0f02/);
    expect(log).toContain("ipmi-check: /dev/ipmi0 present");
  }, 240_000);
});
