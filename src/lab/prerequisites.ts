// What the lab needs from the host, as Debian packages, and the one command that
// installs whatever is missing. Packages are checked with dpkg (the lab targets
// Debian); the kernel is not installed on the host but downloaded into the lab's
// cache (see kernel.ts), so it only needs apt to know the kernel package.
import { existsSync } from "node:fs";
import { runCommand } from "./run.js";

export interface LabRequirement {
  /** Debian package. */
  package: string;
  /** What the lab uses it for. */
  why: string;
}

export const LAB_PACKAGES: readonly LabRequirement[] = [
  { package: "qemu-system-x86", why: "the virtual machines (qemu-system-x86_64)" },
  { package: "ipxe-qemu", why: "the iPXE boot ROMs of the VMs' network cards" },
  { package: "ipxe", why: "iPXE boot loaders served over TFTP (undionly.kpxe, ipxe.efi)" },
  { package: "openipmi", why: "ipmi_sim, the BMC of each VM" },
  { package: "ipmitool", why: "talking to the BMCs" },
  { package: "rsync", why: "copying the software image to the nodes" },
  { package: "busybox-static", why: "the lab image and the installer" },
  { package: "e2fsprogs", why: "mkfs.ext4 in the installer" },
  { package: "fdisk", why: "sfdisk in the installer" },
  { package: "radvd", why: "IPv6 router advertisements on the lab network (iPXE waits ~13 s without one)" },
  { package: "ovmf", why: "UEFI firmware for `lab up --firmware uefi|secureboot` (OVMF, Secure Boot with Microsoft keys)" },
  { package: "iproute2", why: "the lab's network namespace, bridge and taps (ip)" },
];

/** The meta package whose dependency names the current kernel image package. */
export const KERNEL_META_PACKAGE = "linux-image-amd64";

export interface PrerequisiteReport {
  ok: boolean;
  /** Packages not installed, in the order of LAB_PACKAGES. */
  missing: LabRequirement[];
  /** `apt-get install -y ...` for the missing packages; undefined when none is missing. */
  aptInstall?: string;
  /** The kernel image package the lab downloads (e.g. linux-image-6.1.0-56-amd64), if apt knows one. */
  kernelPackage?: string;
  /** Why no kernel can be had, when neither the cache holds one nor apt knows the package. */
  kernelProblem?: string;
}

/** Installed state of each package, from one dpkg-query call. */
async function installedPackages(names: string[]): Promise<Set<string>> {
  const r = await runCommand(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\\n", ...names]);
  const installed = new Set<string>();
  for (const line of r.stdout.split("\n")) {
    const [name, status] = line.trim().split(/\s+/);
    // "ii" = installed; anything else (un, rc, iU...) counts as missing.
    if (name && status === "ii") installed.add(name.replace(/:.*$/, ""));
  }
  return installed;
}

/** The kernel image package linux-image-amd64 depends on, from apt's cache. */
export async function resolveKernelPackage(): Promise<string | undefined> {
  const r = await runCommand(["apt-cache", "depends", KERNEL_META_PACKAGE]);
  if (r.code !== 0) return undefined;
  const m = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(r.stdout);
  return m?.[1];
}

export function aptInstallLine(packages: string[]): string {
  return `apt-get install -y ${packages.join(" ")}`;
}

/**
 * Checks the host. `kernelCached` says whether the lab cache already holds a kernel
 * (then apt does not need to know one); `packages` replaces the list (tests).
 */
export async function checkPrerequisites(opts: { kernelCached?: boolean; packages?: readonly LabRequirement[] } = {}): Promise<PrerequisiteReport> {
  const wanted = opts.packages ?? LAB_PACKAGES;
  const installed = await installedPackages(wanted.map((p) => p.package));
  const missing = wanted.filter((p) => !installed.has(p.package));
  const report: PrerequisiteReport = { ok: missing.length === 0, missing };
  if (missing.length > 0) report.aptInstall = aptInstallLine(missing.map((p) => p.package));
  if (!opts.kernelCached) {
    const pkg = await resolveKernelPackage();
    if (pkg) report.kernelPackage = pkg;
    else {
      report.ok = false;
      report.kernelProblem = `apt does not know ${KERNEL_META_PACKAGE}; run apt-get update (the lab downloads its kernel with apt-get download)`;
    }
  }
  return report;
}

/** One paragraph for people: what is missing and how to install it. */
export function describePrerequisites(r: PrerequisiteReport): string {
  if (r.ok) return "All lab prerequisites are installed.";
  const lines: string[] = [];
  if (r.missing.length > 0) {
    lines.push("The lab needs these Debian packages:");
    for (const m of r.missing) lines.push(`  ${m.package}: ${m.why}`);
    lines.push(`Install them with: ${r.aptInstall}`);
  }
  if (r.kernelProblem) lines.push(r.kernelProblem);
  return lines.join("\n");
}

/** The iPXE ROM QEMU loads for a virtio-net-pci card (from ipxe-qemu), if present. */
export function virtioRomPath(): string | undefined {
  for (const p of ["/usr/lib/ipxe/qemu/efi-virtio.rom", "/usr/lib/ipxe/qemu/pxe-virtio.rom"]) if (existsSync(p)) return p;
  return undefined;
}
