// The firmware a lab VM boots with, as servers have it: SeaBIOS (QEMU's default, PXE
// through the NIC's iPXE ROM), OVMF UEFI (the firmware's own PXE: the NIC carries no
// ROM) and OVMF with Secure Boot (Microsoft's keys enrolled, so Debian's shim boots).
// UEFI needs q35 and two pflash drives: OVMF's code read-only and a per-VM copy of its
// variables; Secure Boot also SMM and a secure pflash (see FACTS.md, Firmware).
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";

export const LAB_FIRMWARES = ["bios", "uefi", "secureboot"] as const;
export type LabFirmware = (typeof LAB_FIRMWARES)[number];

/** Where Debian's `ovmf` package puts its images. */
export const OVMF_DIR = "/usr/share/OVMF";

export interface OvmfFiles {
  /** Firmware code (read-only pflash 0). */
  code: string;
  /** The variable store template copied per VM (pflash 1). */
  varsTemplate: string;
}

/** The OVMF images for a firmware kind (undefined for BIOS). */
export function ovmfFiles(fw: LabFirmware, dir = OVMF_DIR): OvmfFiles | undefined {
  if (fw === "bios") return undefined;
  if (fw === "uefi") return { code: join(dir, "OVMF_CODE_4M.fd"), varsTemplate: join(dir, "OVMF_VARS_4M.fd") };
  // The ms variables carry Microsoft's UEFI CA in db: shim is signed by it.
  return { code: join(dir, "OVMF_CODE_4M.secboot.fd"), varsTemplate: join(dir, "OVMF_VARS_4M.ms.fd") };
}

/** What a VM's QEMU command line needs to know about its firmware. */
export type VmFirmware = { kind: "bios" } | { kind: "uefi"; code: string; vars: string; secureBoot: boolean };

/**
 * Prepares one VM's firmware: for UEFI, copies the variable store template into the
 * VM's directory (OVMF writes its boot entries and settings there).
 */
export function prepareVmFirmware(fw: LabFirmware, nodeDir: string, ovmfDir = OVMF_DIR): VmFirmware {
  const files = ovmfFiles(fw, ovmfDir);
  if (!files) return { kind: "bios" };
  for (const f of [files.code, files.varsTemplate]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: install the Debian package ovmf (apt-get install ovmf)`);
  }
  const vars = join(nodeDir, "OVMF_VARS.fd");
  copyFileSync(files.varsTemplate, vars);
  return { kind: "uefi", code: files.code, vars, secureBoot: fw === "secureboot" };
}

/** Parses `bios`, `uefi`, `secureboot`, or a comma list of them (one per node, the last repeated). */
export function parseLabFirmware(spec: string): LabFirmware[] {
  const parts = spec.split(",").map((s) => s.trim().toLowerCase());
  for (const p of parts) {
    if (!(LAB_FIRMWARES as readonly string[]).includes(p)) {
      throw new Error(`unknown lab firmware ${JSON.stringify(p)}: use ${LAB_FIRMWARES.join(", ")} (or a comma list, one per node)`);
    }
  }
  return parts as LabFirmware[];
}

/** The firmware of node index i (0-based) from a per-node list whose last entry repeats. */
export function firmwareOf(list: readonly LabFirmware[], i: number): LabFirmware {
  return list[Math.min(i, list.length - 1)] ?? "bios";
}
