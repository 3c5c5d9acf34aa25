// A node's firmware settings (`firmware:` at defaults, category or node, merged key by
// key): BIOS or UEFI, Secure Boot, CPU architecture, a persistent BMC boot device.
// What cannot boot is refused here, with the place it is written: Secure Boot without
// UEFI, and arm64 (option 93 = 11), for which Debian ships no EFI network loader an
// amd64 head node can serve (its ipxe has no arm64 build; shim and GRUB for arm64 are
// arm64 packages). No support is claimed that has not booted.
import type { Diagnostic } from "./diagnostics.js";
import { posOf, type RawFirmware, type Where } from "./merge.js";
import type { Firmware } from "./types.js";

export const DEFAULT_FIRMWARE: Firmware = { mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false };

/** One level's `firmware:` mapping and where it is written. */
export interface FirmwareLevel {
  firmware: RawFirmware | undefined;
  where: Where;
}

/**
 * Merges the levels (defaults, category, node: nearest wins key by key) and checks the
 * result. Errors are reported once per place they are written (`reported` remembers).
 */
export function resolveFirmware(nodeName: string, levels: readonly FirmwareLevel[], reported: Set<string>, diags: Diagnostic[]): Firmware | undefined {
  const fw: Firmware = { ...DEFAULT_FIRMWARE };
  const from = new Map<keyof Firmware, Where>();
  for (const l of levels) {
    for (const [k, v] of Object.entries(l.firmware ?? {}) as Array<[keyof Firmware, never]>) {
      if (v === undefined) continue;
      fw[k] = v;
      from.set(k, l.where);
    }
  }
  const refuse = (key: keyof Firmware, code: string, message: string): undefined => {
    const w = from.get(key)!;
    const pos = posOf(w, "firmware", key);
    const once = `${code}\u0000${pos.file}:${pos.line}:${pos.col}`;
    if (!reported.has(once)) {
      reported.add(once);
      diags.push({ severity: "error", code, message, ...pos });
    }
    return undefined;
  };
  if (fw.arch === "arm64") {
    return refuse(
      "arch",
      "firmware-arch-unsupported",
      `node "${nodeName}": firmware.arch arm64 cannot be network-booted: Debian ships no arm64 EFI network loader for this head node (its ipxe package has no arm64 build, shim and GRUB for arm64 are arm64 packages); only x86_64 is supported`,
    );
  }
  if (fw.secureBoot && fw.mode !== "uefi") {
    return refuse("secureBoot", "secure-boot-without-uefi", `node "${nodeName}": firmware.secureBoot needs firmware.mode uefi (Secure Boot is a UEFI feature; the mode is ${fw.mode})`);
  }
  return fw;
}
