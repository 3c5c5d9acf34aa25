// Firmware the installer's drivers may ask for (their modinfo `firmware=` names), taken
// from the image's own /lib/firmware: a NIC or HBA whose driver needs a blob (bnx2,
// qla2xxx, some ice / i40e packages) must find it in the initramfs, where the kernel's
// loader looks (/lib/firmware/<name>). Compressed copies (name.xz, name.zst) are
// shipped as they are: kernels built with FW_LOADER_COMPRESS read them.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";

export interface FirmwareFiles {
  /** Bytes by path under lib/firmware (the name, or the name plus .xz / .zst). */
  files: Map<string, Buffer>;
  /** Names found nowhere in the image (most images carry no firmware packages). */
  missing: string[];
}

const FIRMWARE_DIRS = ["lib/firmware", "usr/lib/firmware"];

/** Looks each name up in the image; a symlink is followed but must stay inside the image. */
export function collectFirmware(imageRoot: string, names: readonly string[]): FirmwareFiles {
  const files = new Map<string, Buffer>();
  const missing: string[] = [];
  const inside = realpathSync(imageRoot);
  for (const name of names) {
    const hit = FIRMWARE_DIRS.flatMap((d) => ["", ".xz", ".zst"].map((ext) => ({ rel: name + ext, abs: join(imageRoot, d, name + ext) }))).find((c) => {
      if (!existsSync(c.abs)) return false;
      const real = realpathSync(c.abs);
      return (real === inside || real.startsWith(inside + "/")) && statSync(real).isFile();
    });
    if (hit) files.set(hit.rel, readFileSync(hit.abs));
    else missing.push(name);
  }
  return { files, missing };
}
