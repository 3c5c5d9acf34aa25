// sfdisk input scripts for one disk. Sizes: fixed sizes are rendered exactly (MiB,
// KiB or 512-byte sectors); `rest` leaves the size out so sfdisk uses the remaining
// space (so it must come last); a percentage is a placeholder `@PCT:<n>@` that the
// installer replaces at install time with n % of the whole disk, rounded down to a
// MiB, because only the node knows its disk's size. sfdisk aligns to 1 MiB itself.
import type { Disk, Partition, SizeSpec } from "../config/types.js";
import { InstallPlanError } from "./errors.js";

/** GPT partition type GUIDs (UEFI spec and the Discoverable Partitions Specification). */
const GPT_TYPES: Record<Partition["type"], string> = {
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  swap: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  raid: "A19D880F-05FC-4D3B-A006-743F0F84911E",
  lvm: "E6D6D379-F507-44C2-A23C-238F2A3DF928",
  bios: "21686148-6449-6E6F-744E-656564454649",
};

/** MBR partition type bytes. A BIOS boot partition only exists on GPT. */
const MSDOS_TYPES: Record<Exclude<Partition["type"], "bios">, string> = {
  linux: "83",
  swap: "82",
  esp: "ef",
  raid: "fd",
  lvm: "8e",
};

const MiB = 1024 * 1024;

/** The `size=` value of one partition, or undefined for "the rest". */
export function sfdiskSize(size: SizeSpec): string | undefined {
  switch (size.kind) {
    case "rest":
      return undefined;
    case "percent":
      return `@PCT:${Math.floor(size.percent)}@`;
    case "bytes":
      if (size.bytes % MiB === 0) return `${size.bytes / MiB}MiB`;
      if (size.bytes % 1024 === 0) return `${size.bytes / 1024}KiB`;
      return String(Math.ceil(size.bytes / 512));
  }
}

/** A short, stable description of a size for fingerprints and messages. */
export function sizeText(size: SizeSpec): string {
  switch (size.kind) {
    case "rest":
      return "rest";
    case "percent":
      return `${size.percent}%`;
    case "bytes":
      return `${size.bytes}B`;
  }
}

export function renderSfdisk(disk: Disk, node?: string): string {
  const lines: string[] = [`label: ${disk.table === "gpt" ? "gpt" : "dos"}`];
  if (disk.table === "msdos" && disk.partitions.length > 4) {
    throw new InstallPlanError(`disk ${disk.name}: msdos tables hold at most 4 partitions (no extended partitions)`, node);
  }
  if (disk.partitions.length === 0) throw new InstallPlanError(`disk ${disk.name} has no partitions`, node);
  // On msdos the partition holding /boot (or / when there is none) gets the boot flag for BIOS loaders.
  const bootIdx = disk.partitions.findIndex((p) => p.mount === "/boot");
  const bootable = bootIdx >= 0 ? bootIdx : disk.partitions.findIndex((p) => p.mount === "/");
  disk.partitions.forEach((p, i) => {
    const fields: string[] = [];
    const size = sfdiskSize(p.size);
    if (size === undefined && i !== disk.partitions.length - 1) {
      throw new InstallPlanError(`disk ${disk.name}: partition ${p.name} takes the rest of the disk but is not the last one`, node);
    }
    if (size !== undefined) fields.push(`size=${size}`);
    if (disk.table === "gpt") {
      fields.push(`type=${GPT_TYPES[p.type]}`);
      if (!/^[A-Za-z0-9_.-]{1,36}$/.test(p.name)) throw new InstallPlanError(`partition name ${JSON.stringify(p.name)} is not usable as a GPT name`, node);
      fields.push(`name=${p.name}`);
    } else {
      if (p.type === "bios") throw new InstallPlanError(`disk ${disk.name}: a BIOS boot partition needs a gpt table`, node);
      fields.push(`type=${MSDOS_TYPES[p.type]}`);
      if (i === bootable) fields.push("bootable");
    }
    lines.push(fields.join(", "));
  });
  return lines.join("\n") + "\n";
}
