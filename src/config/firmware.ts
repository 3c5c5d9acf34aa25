// A node's firmware settings (`firmware:` at defaults, category or node, merged key by
// key): BIOS or UEFI, Secure Boot, CPU architecture, a persistent BMC boot device.
// What cannot boot is refused here, with the place it is written: Secure Boot without
// UEFI, and arm64 (option 93 = 11), for which Debian ships no EFI network loader an
// amd64 head node can serve (its ipxe has no arm64 build; shim and GRUB for arm64 are
// arm64 packages). No support is claimed that has not booted.
import { errorAt, type Diagnostic } from "./diagnostics.js";
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
  // Where each key was set, and how near the node (the level's index).
  const from = new Map<keyof Firmware, { where: Where; level: number }>();
  levels.forEach((l, level) => {
    for (const [k, v] of Object.entries(l.firmware ?? {}) as Array<[keyof Firmware, never]>) {
      if (v === undefined) continue;
      fw[k] = v;
      from.set(k, { where: l.where, level });
    }
  });
  const at = (key: keyof Firmware) => posOf(from.get(key)!.where, "firmware", key);
  const refuse = (key: keyof Firmware, code: string, message: string, other?: keyof Firmware): undefined => {
    const pos = at(key);
    const related = other && from.has(other) ? { message: `firmware.${other} set`, ...at(other) } : undefined;
    const once = `${code}\u0000${pos.file}:${pos.line}:${pos.col}\u0000${related ? `${related.line}:${related.col}` : ""}`;
    if (!reported.has(once)) {
      reported.add(once);
      diags.push(errorAt(code, message, pos, related));
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
    // Point at whichever of the two is written nearer the node: that is where the conflict arose.
    const modeNearer = from.has("mode") && from.get("mode")!.level > from.get("secureBoot")!.level;
    const [key, other] = modeNearer ? (["mode", "secureBoot"] as const) : (["secureBoot", "mode"] as const);
    return refuse(
      key,
      "secure-boot-without-uefi",
      `node "${nodeName}": firmware.secureBoot needs firmware.mode uefi (Secure Boot is a UEFI feature; the mode is ${fw.mode})`,
      other,
    );
  }
  return fw;
}
