// The boot loader the installer puts on a node's disk, so that the node boots its
// installed system without the head node (issue 15.4): GRUB from the image, run
// chrooted in the installed system. BIOS: `grub-install --target=i386-pc` into the boot
// sector of every disk that holds /boot (or /) — each member of a RAID array — which on
// GPT needs a BIOS boot partition (type `bios`) to embed its core image. UEFI: GRUB on
// the ESP (vfat at /boot/efi), once under the distribution's name with an NVRAM entry
// and once at the removable path \EFI\BOOT\BOOTX64.EFI (a firmware without NVRAM entries
// still boots it), then the EFI boot order: network first for `boot: pxe` nodes (the
// head node decides what they boot while it is there), the disk first for `boot: local`.
// Secure Boot: the same runs with `--uefi-secure-boot`, Debian's grub-install then copies
// the signed chain instead of building GRUB: shim (signed by Microsoft's UEFI CA) as
// \EFI\<distribution>\shimx64.efi with Debian's signed GRUB (grubx64.efi), MokManager
// (mmx64.efi), a grub.cfg that finds /boot/grub by UUID and BOOTX64.CSV beside it, the
// NVRAM entry on shimx64.efi, and shim again as \EFI\BOOT\BOOTX64.EFI — an unsigned
// GRUB would not start. The image must carry the signed files (the installer checks).
// What cannot get a boot loader is not a failure: the node still boots from the network;
// the reason is a warning in the plan and in the installer's progress.
import type { DiskLayout, Image, Node } from "../config/types.js";
import { DEFAULT_CONSOLE } from "./ipxe.js";
import type { PlanFile } from "./plan-types.js";

export const GRUB_SETTINGS_FILE = "/etc/default/grub.d/metalform.cfg";
const ESP_MOUNT = "/boot/efi";

/** What `grub-install --uefi-secure-boot` copies from the image: shim-signed's shim and grub-efi-amd64-signed's GRUB. */
export const SIGNED_CHAIN_FILES = ["/usr/lib/shim/shimx64.efi.signed", "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"];
/** The Debian packages that hold them (named in warnings). */
export const SIGNED_CHAIN_PACKAGES = ["shim-signed", "grub-efi-amd64-signed"];

/** What the installer does to make the disk bootable (plan field `bootLoader`). */
export interface PlanBootLoader {
  platform: "bios" | "uefi";
  /** grub-install argv run chrooted in the installed system; BIOS: the disk is appended (one run per disk). */
  install: string[][];
  /** grub.cfg from the installed system's own kernels and the settings file. */
  mkconfig: string[];
  /** BIOS: the plan's disk indices whose boot sector gets GRUB. */
  disks: number[];
  /** UEFI: where the ESP is mounted; the EFI boot order the installer sets with efibootmgr. */
  esp?: string;
  order?: "network-first" | "disk-first";
  /** Secure Boot: files of the signed chain the image must hold; without them the installer warns and installs no loader. */
  signed?: string[];
}

export type BootLoaderDecision = { bootLoader: PlanBootLoader; files: PlanFile[] } | { warning: string };

/** Why a node's disk gets no boot loader from its firmware, kernel arguments and layout; undefined when it gets one. */
export function bootLoaderProblem(node: Node, image: Image, layout: DiskLayout): string | undefined {
  const settings = grubSettings(node, image);
  if ("warning" in settings) return settings.warning;
  if (node.firmware.mode === "uefi") {
    const esp = findEsp(layout);
    if (typeof esp === "string") return esp;
    return node.firmware.secureBoot ? unsignedRecipe(image) : undefined;
  }
  const disks = biosDisks(layout);
  return typeof disks === "string" ? disks : undefined;
}

/** The boot loader for one node and its layout, or why it gets none. */
export function renderBootLoader(node: Node, image: Image, layout: DiskLayout): BootLoaderDecision {
  const problem = bootLoaderProblem(node, image, layout);
  if (problem !== undefined) return { warning: `no boot loader on ${node.name}'s disk: ${problem}; it boots from the network only` };
  const settings = grubSettings(node, image) as PlanFile;
  const mkconfig = ["grub-mkconfig", "-o", "/boot/grub/grub.cfg"];
  if (node.firmware.mode === "uefi") {
    const secure = node.firmware.secureBoot;
    const efi = ["grub-install", "--target=x86_64-efi", `--efi-directory=${ESP_MOUNT}`, ...(secure ? ["--uefi-secure-boot"] : [])];
    return {
      bootLoader: {
        platform: "uefi",
        install: [efi, [...efi, "--removable", "--no-nvram"]],
        mkconfig,
        disks: [],
        esp: ESP_MOUNT,
        order: node.boot === "local" ? "disk-first" : "network-first",
        ...(secure ? { signed: SIGNED_CHAIN_FILES } : {}),
      },
      files: [settings],
    };
  }
  const disks = biosDisks(layout) as number[];
  return { bootLoader: { platform: "bios", install: [["grub-install", "--target=i386-pc"]], mkconfig, disks }, files: [settings] };
}

/**
 * A recipe image says which packages it has: one without the signed chain cannot give a
 * Secure Boot node a loader (other images are checked by the installer on the node).
 */
function unsignedRecipe(image: Image): string | undefined {
  const source = image.source;
  if (source?.kind !== "recipe") return undefined;
  const missing = SIGNED_CHAIN_PACKAGES.filter((p) => !source.recipe.packages.includes(p));
  return missing.length ? `Secure Boot needs the signed chain (shim, signed GRUB) in the image, and image ${image.name}'s recipe does not list ${missing.join(" or ")}` : undefined;
}

/** GRUB's settings for this node: the kernel arguments the network boot uses too, a short menu, the serial console. */
function grubSettings(node: Node, image: Image): PlanFile | { warning: string } {
  const args = [...DEFAULT_CONSOLE, ...image.kernelArgs, ...node.kernelArgs];
  const bad = args.find((a) => !/^[\x21-\x7e]+$/.test(a) || /["$`\\']/.test(a));
  if (bad !== undefined) return { warning: `kernel argument ${JSON.stringify(bad)} cannot be written into GRUB's settings` };
  const content = [
    "# Written by metalform's installer on every install and sync; the image's /etc/default/grub is read first.",
    `GRUB_CMDLINE_LINUX="${args.join(" ")}"`,
    "GRUB_TIMEOUT=1",
    'GRUB_TERMINAL="console serial"',
    'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"',
    "GRUB_DISABLE_OS_PROBER=true",
    // Debian's own /etc/default/grub (absent without the grub-pc or grub-efi-amd64 package) names the distribution:
    // the ESP's \EFI\debian, where Debian's signed GRUB looks for its config first, and the menu's titles.
    `GRUB_DISTRIBUTOR="\${GRUB_DISTRIBUTOR:-$(if [ -r /etc/os-release ]; then . /etc/os-release; fi; echo "\${NAME%% *}")}"`,
    "",
  ].join("\n");
  return { path: GRUB_SETTINGS_FILE, mode: "0644", content };
}

/** The ESP the UEFI loader goes to: a vfat file system at /boot/efi on a partition (not RAID). */
function findEsp(layout: DiskLayout): true | string {
  for (const d of layout.disks) {
    const p = d.partitions.find((x) => x.mount === ESP_MOUNT);
    if (p) return p.fs === "vfat" ? true : `its ESP at ${ESP_MOUNT} is ${p.fs}, not vfat`;
  }
  if (layout.raid.some((r) => r.mount === ESP_MOUNT)) return `an ESP on RAID (${ESP_MOUNT}) is not supported`;
  return `disk layout ${layout.name} has no ESP (a vfat partition mounted at ${ESP_MOUNT}) for a UEFI node`;
}

/** Disks whose boot sector gets GRUB: those holding /boot, else /; a RAID array's every member disk; a volume group's every device's. */
function biosDisks(layout: DiskLayout): number[] | string {
  const lvs = layout.logicalVolumes ?? [];
  const hasBoot = [...layout.disks.flatMap((d) => d.partitions), ...layout.raid, ...lvs].some((x) => x.mount === "/boot");
  const mountOf = (m?: string) => m === "/boot" || (m === "/" && !hasBoot);
  const names = new Set<string>();
  for (const lv of lvs) if (mountOf(lv.mount)) layout.volumeGroups?.find((g) => g.name === lv.vg)?.devices.forEach((d) => names.add(d));
  layout.disks.forEach((d) => d.partitions.forEach((p) => mountOf(p.mount) && names.add(p.name)));
  for (const r of layout.raid) if (mountOf(r.mount) || names.has(r.name)) r.members.forEach((m) => names.add(m));
  const disks = layout.disks.flatMap((d, i) => (d.partitions.some((p) => names.has(p.name)) ? [i] : []));
  for (const i of disks) {
    const d = layout.disks[i]!;
    if (d.table === "gpt" && !d.partitions.some((p) => p.type === "bios")) {
      return `disk ${d.name} has a GPT table but no BIOS boot partition (type: bios, 1MiB) for GRUB`;
    }
  }
  return disks.length ? disks : `disk layout ${layout.name} has nothing mounted at / on its disks`;
}
