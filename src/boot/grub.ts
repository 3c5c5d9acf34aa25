// GRUB configurations for Secure Boot nodes (pure). Such a node boots Debian's signed
// chain: the firmware's PXE loads shim (shimx64.efi), shim loads Debian's signed
// netboot GRUB (grubx64.efi), GRUB loads the signed kernel — everything over TFTP,
// because that GRUB has no http module.
//
// Debian's signed GRUB is built with the prefix `(tftp,SERVER)/grub` and an embedded
// config that sources `$prefix/grub.cfg` itself, so GRUB's own per-MAC search
// (grub_net_search_config_file in normal mode: grub.cfg-01-<mac with dashes>, then
// the IP in hex, then grub.cfg) does not run. metalform's `grub/grub.cfg` does that
// step: it turns `$net_default_mac` into the same dashed form with `regexp` and loads
// `grub.cfg-01-<mac>`, the node's own file, rendered here.
import type { Image, Node } from "../config/types.js";
import { InstallPlanError } from "./errors.js";
import { DEFAULT_CONSOLE } from "./ipxe.js";

/** The per-node file name GRUB's netboot convention uses: grub.cfg-01-52-54-00-4d-46-01 (01 = Ethernet). */
export function grubConfigName(mac: string): string {
  return `grub.cfg-01-${mac.toLowerCase().replace(/:/g, "-")}`;
}

/** A word GRUB's script reader passes through as is (no quoting, variables, or separators). */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One kernel argument as a GRUB word: plain, or single-quoted (GRUB quotes like sh). */
function grubWord(node: string, arg: string): string {
  if (PLAIN.test(arg)) return arg;
  if (!/^[\x20-\x7e]+$/.test(arg) || arg.includes("'")) {
    throw new InstallPlanError(`kernel argument ${JSON.stringify(arg)} cannot be passed through GRUB`, node);
  }
  return `'${arg}'`;
}

function header(node: Node, what: string): string {
  return `# metalform: ${node.name} (${node.mac}): ${what}\n`;
}

/**
 * `grub/grub.cfg`, the same for every node: load the node's own file by MAC, or go on
 * to the firmware's next boot device when there is none (an unknown node).
 */
export function renderGrubChain(): string {
  return (
    "# metalform: find this node's configuration by its MAC (GRUB's netboot naming)\n" +
    "set timeout=0\n" +
    "if regexp --set=1:m1 --set=2:m2 --set=3:m3 --set=4:m4 --set=5:m5 --set=6:m6 '^(..):(..):(..):(..):(..):(..)$' \"$net_default_mac\"; then\n" +
    '  set mf_cfg="$prefix/grub.cfg-01-$m1-$m2-$m3-$m4-$m5-$m6"\n' +
    // No `[ -f ]` first: GRUB's test finds files by listing their directory, which TFTP cannot.
    '  configfile "$mf_cfg"\n' +
    "fi\n" +
    'echo "metalform: no configuration for $net_default_mac; trying the next boot device"\n' +
    "sleep 5\n" +
    "exit\n"
  );
}

export interface GrubInstallerInput {
  node: Node;
  image: Image;
  /** TFTP paths (from the TFTP root) of the installer kernel (the image's) and initramfs. */
  kernelPath: string;
  initrdPath: string;
  /** The TFTP server GRUB loads them from. */
  tftpServer: string;
  /** This node's base URL in the installer API, no trailing slash (no credential: the installer claims one). */
  apiUrl: string;
  console?: string[];
  /** Why this boot runs the installer (a comment, for people reading it). */
  reason?: string;
}

function tftpFile(server: string, path: string, node: string): string {
  if (!/^[0-9.]+$/.test(server)) throw new InstallPlanError(`TFTP server ${JSON.stringify(server)} is not an IPv4 address`, node);
  return grubWord(node, `(tftp,${server})/${path.replace(/^\/+/, "")}`);
}

function loadAndBoot(node: Node, kernel: string, args: string[], initrd: string, onFail: string): string {
  return (
    "set timeout=0\n" +
    `echo "metalform: loading ${node.name}'s kernel and initrd over TFTP"\n` +
    `if linux ${kernel} ${args.map((a) => grubWord(node.name, a)).join(" ")}; then\n` +
    `  if initrd ${initrd}; then boot; fi\n` +
    "fi\n" +
    onFail
  );
}

export function renderGrubInstaller(input: GrubInstallerInput): string {
  const { node } = input;
  const args = [`mf.api=${input.apiUrl}`, `mf.mac=${node.mac}`, ...(input.console ?? DEFAULT_CONSOLE), ...input.image.kernelArgs, ...node.kernelArgs];
  const kernel = tftpFile(input.tftpServer, input.kernelPath, node.name);
  const initrd = tftpFile(input.tftpServer, input.initrdPath, node.name);
  const fail = 'echo "metalform: could not load the installer; rebooting in 10 s"\nsleep 10\nreboot\n';
  return header(node, `run the installer (${input.reason ?? `mode ${node.installMode}`})`) + loadAndBoot(node, kernel, args, initrd, fail);
}

/** Nothing to install: back to the firmware, which boots the next device (the disk). */
export function renderGrubLocal(node: Node): string {
  return header(node, "boot the local disk (exit to the firmware)") + "exit\n";
}

export interface GrubNetbootInput {
  node: Node;
  image: Image;
  kernelPath: string;
  initrdPath: string;
  tftpServer: string;
  /** Label of the installed root file system (from the node's install plan). */
  rootLabel: string;
  console?: string[];
}

/** `boot: pxe` with nothing to install: the image's kernel and initrd over TFTP, root from the disk. */
export function renderGrubNetboot(input: GrubNetbootInput): string {
  const { node } = input;
  const args = [`root=LABEL=${input.rootLabel}`, "ro", ...(input.console ?? DEFAULT_CONSOLE), ...input.image.kernelArgs, ...node.kernelArgs];
  const kernel = tftpFile(input.tftpServer, input.kernelPath, node.name);
  const initrd = tftpFile(input.tftpServer, input.initrdPath, node.name);
  return header(node, "boot the installed system (kernel from the head node)") + loadAndBoot(node, kernel, args, initrd, "exit\n");
}
