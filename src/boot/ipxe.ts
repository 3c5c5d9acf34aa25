// iPXE scripts for one node (pure). A node either runs the installer (kernel and
// initrd over HTTP, with the installer's kernel arguments) or boots its local disk.
// A script is public (anyone on the provisioning network can fetch it by MAC, and
// Debian's iPXE has no HTTPS), so it carries no secret: the installer claims its
// credential over the API (services/installer-api/sessions.ts). The kernel command
// line stays readable as /proc/cmdline in the installed system after switch_root.
//
// Local boot uses `exit` by default: iPXE returns to the firmware, which tries the
// next boot device (the disk, since PXE must come first for re-provisioning). That
// works on BIOS and UEFI alike. `sanboot --no-describe --drive 0x80` (BIOS INT 13h
// drive 0x80, the first disk) is offered for BIOS machines whose firmware does not
// fall through after PXE; it does not work on UEFI.
import type { Image, Node } from "../config/types.js";
import { InstallPlanError } from "./errors.js";

export type LocalBootMethod = "exit" | "sanboot";

export interface IpxeInstallerInput {
  node: Node;
  image: Image;
  /** URLs of the installer kernel (the image's kernel) and the installer initramfs. */
  kernelUrl: string;
  initrdUrl: string;
  /** This node's base URL in the installer API, no trailing slash. */
  apiUrl: string;
  /** Console arguments; default serial + VGA. */
  console?: string[];
  /** Why this boot runs the installer (a comment in the script, for people reading it). */
  reason?: string;
}

export const DEFAULT_CONSOLE = ["console=tty0", "console=ttyS0,115200n8"];

/** A kernel argument must be one word iPXE passes through unchanged. */
function checkArg(node: string, arg: string): string {
  if (!/^[\x21-\x7e]+$/.test(arg) || arg.includes("${") || arg.includes("#")) {
    throw new InstallPlanError(`kernel argument ${JSON.stringify(arg)} is not a single plain word`, node);
  }
  return arg;
}

function header(node: Node, what: string): string {
  return `#!ipxe\n# metalform: ${node.name} (${node.mac}): ${what}\n`;
}

export function renderIpxeInstaller(input: IpxeInstallerInput): string {
  const { node } = input;
  const args = ["initrd=installer.img", `mf.api=${input.apiUrl}`, `mf.mac=${node.mac}`, ...(input.console ?? DEFAULT_CONSOLE), ...input.image.kernelArgs, ...node.kernelArgs].map(
    (a) => checkArg(node.name, a),
  );
  for (const u of [input.kernelUrl, input.initrdUrl]) checkArg(node.name, u);
  return (
    header(node, `run the installer (${input.reason ?? `mode ${node.installMode}`})`) +
    "imgfree\n" +
    `kernel ${input.kernelUrl} ${args.join(" ")} || goto failed\n` +
    `initrd --name installer.img ${input.initrdUrl} || goto failed\n` +
    "boot || goto failed\n" +
    ":failed\n" +
    "echo metalform: could not load the installer; rebooting in 10 s\n" +
    "sleep 10\n" +
    "reboot\n"
  );
}

export interface IpxeInventoryInput {
  /** The unknown host's MAC (lower-case, colon separated). */
  mac: string;
  /** The discovery image: its kernel and console arguments. */
  image: Image;
  kernelUrl: string;
  initrdUrl: string;
  /** The host's discovery base URL in the installer API (it posts `<url>/inventory`). */
  discoveryUrl: string;
  /** After the inventory: power off or wait. */
  then: "poweroff" | "wait";
  console?: string[];
}

/**
 * A host the configuration does not know (discovery): the installer in inventory mode,
 * which reads the hardware, posts it and touches no disk. Public like every script.
 */
export function renderIpxeInventory(input: IpxeInventoryInput): string {
  const who = `discovered ${input.mac}`;
  const args = [
    "initrd=installer.img",
    `mf.discovery=${input.discoveryUrl}`,
    `mf.mac=${input.mac}`,
    `mf.then=${input.then}`,
    ...(input.console ?? DEFAULT_CONSOLE),
    ...input.image.kernelArgs,
  ].map((a) => checkArg(who, a));
  for (const u of [input.kernelUrl, input.initrdUrl]) checkArg(who, u);
  return (
    `#!ipxe\n# metalform: ${input.mac}: not in the configuration; run the installer in inventory mode (disks untouched)\n` +
    "imgfree\n" +
    `kernel ${input.kernelUrl} ${args.join(" ")} || goto failed\n` +
    `initrd --name installer.img ${input.initrdUrl} || goto failed\n` +
    "boot || goto failed\n" +
    ":failed\n" +
    "echo metalform: could not load the inventory installer\n" +
    "exit 1\n"
  );
}

export function renderIpxeLocal(node: Node, method: LocalBootMethod = "exit"): string {
  const body = method === "sanboot" ? "sanboot --no-describe --drive 0x80 || exit 1\n" : "exit 1\n";
  return header(node, `boot the local disk (${method})`) + body;
}

export interface IpxeNetbootInput {
  node: Node;
  image: Image;
  kernelUrl: string;
  initrdUrl: string;
  /** Label of the installed root file system (from the node's install plan). */
  rootLabel: string;
  console?: string[];
}

/**
 * `boot: pxe` with nothing to install: the node loads its image's kernel and initrd
 * over HTTP and mounts its installed root (Bright's way: kernels come from the head
 * node on every boot, so they are updated with the image). Disks need no boot loader.
 */
export function renderIpxeNetboot(input: IpxeNetbootInput): string {
  const { node } = input;
  const args = [`initrd=initrd.img`, `root=LABEL=${input.rootLabel}`, "ro", ...(input.console ?? DEFAULT_CONSOLE), ...input.image.kernelArgs, ...node.kernelArgs].map((a) =>
    checkArg(node.name, a),
  );
  for (const u of [input.kernelUrl, input.initrdUrl]) checkArg(node.name, u);
  return (
    header(node, "boot the installed system (kernel from the head node)") +
    "imgfree\n" +
    `kernel ${input.kernelUrl} ${args.join(" ")} || goto local\n` +
    `initrd --name initrd.img ${input.initrdUrl} || goto local\n` +
    "boot || goto local\n" +
    ":local\n" +
    "exit 1\n"
  );
}
