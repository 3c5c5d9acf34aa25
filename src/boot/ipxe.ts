// iPXE scripts for one node (pure). A node either runs the installer (kernel and
// initrd over HTTP, with the installer's kernel arguments) or boots its local disk.
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
  /** The node's install token. */
  token: string;
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
  const args = [
    "initrd=installer.img",
    `mf.api=${input.apiUrl}`,
    `mf.token=${input.token}`,
    `mf.mac=${node.mac}`,
    ...(input.console ?? DEFAULT_CONSOLE),
    ...input.image.kernelArgs,
    ...node.kernelArgs,
  ].map((a) => checkArg(node.name, a));
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

export function renderIpxeLocal(node: Node, method: LocalBootMethod = "exit"): string {
  const body = method === "sanboot" ? "sanboot --no-describe --drive 0x80 || exit 1\n" : "exit 1\n";
  return header(node, `boot the local disk (${method})`) + body;
}
