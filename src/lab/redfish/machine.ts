// The lab VM behind a Redfish BMC. Power that needs the QEMU process to start or
// stop (On, ForceOff, PowerCycle) goes through the node's chassis control script —
// the same one ipmi_sim runs (bmc.ts), so both BMC kinds agree on what "on" means:
// the QEMU process exists. What happens inside a running VM goes through QMP:
// ForceRestart is `boot_set` (the boot order SeaBIOS reads at reset) and
// `system_reset` (a UEFI VM, whose OVMF boot order is fixed at start, is restarted
// as a new process instead); GracefulShutdown is `system_powerdown` (an ACPI button press the
// guest may ignore, as on real hardware); Nmi is `inject-nmi`.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { qmp, QmpError } from "./qmp.js";
import type { LabResetType } from "./resources.js";
import { MachineRefusal, type Machine } from "./service.js";

export interface LabVm {
  /** nodes/<n>/bmc-control.sh: `get power`, `set power 0|1`. */
  controlScript: string;
  /** The file start-vm.sh reads: "default" boots the disk first, anything else the network. */
  bootFile: string;
  qmpSocket: string;
  /** "uefi": OVMF takes its boot order (bootindex) from the command line, so a restart that must change it is a new QEMU process. Default "bios". */
  firmware?: "bios" | "uefi";
}

export class LabMachine implements Machine {
  constructor(private readonly vm: LabVm) {}

  async power(): Promise<"On" | "Off"> {
    const out = await this.control(["get", "power"]);
    return /power:1/.test(out) ? "On" : "Off";
  }

  async reset(type: LabResetType, boot: "network" | "disk"): Promise<void> {
    const on = (await this.power()) === "On";
    switch (type) {
      case "On":
        if (!on) await this.start(boot);
        return;
      case "ForceOff":
        await this.control(["set", "power", "0"]);
        return;
      case "PowerCycle":
        if (on) await this.control(["set", "power", "0"]);
        await this.start(boot);
        return;
      case "ForceRestart":
        if (!on) throw new MachineRefusal("The system is powered off: ForceRestart needs it on (use ResetType On).");
        if (this.vm.firmware === "uefi") {
          await this.control(["set", "power", "0"]);
          await this.start(boot);
          return;
        }
        await this.monitor([{ execute: "human-monitor-command", arguments: { "command-line": `boot_set ${order(boot)}` } }, { execute: "system_reset" }]);
        return;
      case "GracefulShutdown":
        if (on) await this.monitor([{ execute: "system_powerdown" }]);
        return;
      case "Nmi":
        if (!on) throw new MachineRefusal("The system is powered off: there is no CPU to send an NMI to.");
        await this.monitor([{ execute: "inject-nmi" }]);
    }
  }

  /** Starts QEMU with `boot` first (start-vm.sh reads the boot file) and checks that it runs. */
  private async start(boot: "network" | "disk"): Promise<void> {
    writeFileSync(this.vm.bootFile, boot === "disk" ? "default\n" : "pxe\n");
    await this.control(["set", "power", "1"]);
    if ((await this.power()) !== "On") throw new Error(`the VM did not start (see qemu.log next to ${this.vm.controlScript})`);
  }

  /** QMP commands; right after a start QEMU may not listen yet, so a missing socket is retried for a few seconds. */
  private async monitor(commands: Array<{ execute: string; arguments?: Record<string, unknown> }>): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await qmp(this.vm.qmpSocket, commands);
        return;
      } catch (e) {
        const early = e instanceof QmpError && /ENOENT|ECONNREFUSED/.test(e.message);
        if (!early || i >= 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private control(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.vm.controlScript, args, { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${this.vm.controlScript} ${args.join(" ")}: ${(stderr || err.message).trim()}`));
        else resolve(stdout);
      });
    });
  }
}

/** QEMU's boot order letters: n network, c first hard disk. */
function order(boot: "network" | "disk"): string {
  return boot === "disk" ? "cn" : "nc";
}
