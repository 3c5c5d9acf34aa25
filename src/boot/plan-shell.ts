// The install plan as the installer's /init reads it: one shell assignment per line,
// every value single-quoted (shell-quote.ts), so sourcing it can only set variables.
// Lists are numbered (`MF_DISK_0_NAME`, `MF_DISK_COUNT`); command lines are plain
// words (safeCommandLine) that the script expands unquoted, appending device paths.
import type { InstallPlan } from "./plan-types.js";
import { safeCommandLine, shQuote } from "./shell-quote.js";

type Value = string | number | boolean | undefined;
type Assignment = [name: string, value: Value];

export function renderPlanShell(plan: InstallPlan): string {
  const out: string[] = ["# metalform install plan (shell form); generated, do not edit"];
  for (const [name, value] of [...headerVars(plan), ...storageVars(plan), ...fileVars(plan), ...bootLoaderVars(plan), ...bmcVars(plan), ...scriptVars(plan)]) {
    const v = value === undefined ? "" : typeof value === "boolean" ? (value ? "1" : "0") : String(value);
    out.push(`${name}=${shQuote(v)}`);
  }
  return out.join("\n") + "\n";
}

/** `MF_<LIST>_COUNT`, then `MF_<LIST>_<i>_<FIELD>` for each item's fields in order. */
function numbered<T>(list: string, items: readonly T[], fields: (item: T) => Array<[field: string, value: Value]>): Assignment[] {
  const out: Assignment[] = [[`MF_${list}_COUNT`, items.length]];
  items.forEach((item, i) => {
    for (const [field, value] of fields(item)) out.push([`MF_${list}_${i}_${field}`, value]);
  });
  return out;
}

function headerVars(plan: InstallPlan): Assignment[] {
  return [
    ["MF_PLAN_VERSION", plan.version],
    ["MF_NODE", plan.node],
    ["MF_HOSTNAME", plan.hostname],
    ["MF_PLAN_MAC", plan.mac],
    ["MF_MODE", plan.mode],
    ["MF_PROTECT", plan.protect],
    ["MF_FINGERPRINT", plan.fingerprint],
    ["MF_FINGERPRINT_FILE", plan.fingerprintFile],
    ["MF_IMAGE_NAME", plan.image.name],
    ["MF_IMAGE_DIGEST", plan.image.digest],
    ["MF_RSYNC_URL", plan.image.rsync],
  ];
}

/** Disks (with their normalized match rules), RAID arrays, LVM groups and volumes, file systems, then the sync's excludes and mount points. */
function storageVars(plan: InstallPlan): Assignment[] {
  return [
    ...numbered("DISK", plan.disks, (d) => [
      ["NAME", d.name],
      ["MATCH_DEVICE", d.match.device],
      ["MATCH_KNAME", d.select.kernelName],
      ["MATCH_PATH", d.select.byPath],
      ["MATCH_ID", d.select.byId],
      ["MATCH_SERIAL", d.select.serial],
      ["MATCH_WWN", d.select.wwn],
      ["MATCH_MODEL", d.select.model],
      ["MATCH_VENDOR", d.select.vendor],
      ["MATCH_MINSIZE", d.select.minSize],
      ["MATCH_MAXSIZE", d.select.maxSize],
      ["MATCH_ROTATIONAL", d.select.rotational],
      ["PARTS", d.partitions.length],
      ["SFDISK", d.sfdisk],
    ]),
    ...numbered("RAID", plan.raid, (r) => [
      ["NAME", r.name],
      ["DEV", r.device],
      ["MEMBERS", safeCommandLine(r.members)],
      ["CREATE", safeCommandLine(r.create)],
    ]),
    ...numbered("VG", plan.volumeGroups, (g) => [
      ["NAME", g.name],
      ["DEVICES", safeCommandLine(g.devices)],
    ]),
    ...numbered("LV", plan.logicalVolumes, (l) => [
      ["NAME", l.name],
      ["VG", l.vg],
      ["DEV", l.device],
      ["CREATE", safeCommandLine(l.create)],
    ]),
    ...numbered("FS", plan.filesystems, (f) => [
      ["REF", f.device],
      ["TYPE", f.fs],
      ["LABEL", f.label],
      ["MKFS", safeCommandLine(f.mkfs)],
      ["FSCK", safeCommandLine(f.fsck)],
      ["MOUNT", f.mount],
      ["OPTS", f.options.length ? safeCommandLine([f.options.join(",")]) : ""],
    ]),
    ["MF_EXCLUDE_SYNC", plan.exclude.sync.join("\n")],
    ["MF_EXCLUDE_FULL", plan.exclude.full.join("\n")],
    ["MF_MOUNT_POINTS", plan.mountPoints.join("\n")],
  ];
}

function fileVars(plan: InstallPlan): Assignment[] {
  return [
    ...numbered("FILE", plan.files, (f) => [
      ["PATH", safeCommandLine([f.path])],
      ["MODE", f.mode],
      ["CONTENT", f.content],
      ["STACKS", f.stacks ? safeCommandLine(f.stacks) : ""],
      ["DIRMODE", f.dirMode],
    ]),
    ...numbered("LINK", plan.symlinks, (l) => [
      ["PATH", safeCommandLine([l.path])],
      ["TARGET", l.target],
      ["STACKS", l.stacks ? safeCommandLine(l.stacks) : ""],
    ]),
    ["MF_MACHINE_ID_FILE", safeCommandLine([plan.identity.machineId])],
  ];
}

/** The boot loader: platform, grub-install runs (numbered), grub-mkconfig, BIOS disks by plan index, the ESP and EFI order, Secure Boot's signed files; or why none. */
function bootLoaderVars(plan: InstallPlan): Assignment[] {
  const b = plan.bootLoader;
  const install = b?.install ?? [];
  return [
    ["MF_BOOT_PLATFORM", b?.platform],
    ["MF_BOOT_INSTALL_COUNT", install.length],
    ...install.map((c, i): Assignment => [`MF_BOOT_INSTALL_${i}`, safeCommandLine(c)]),
    ["MF_BOOT_MKCONFIG", b ? safeCommandLine(b.mkconfig) : ""],
    ["MF_BOOT_DISKS", b?.disks.join(" ")],
    ["MF_BOOT_ESP", b?.esp],
    ["MF_BOOT_ORDER", b?.order],
    ["MF_BOOT_SIGNED", b?.signed?.join(" ")],
    ["MF_BOOT_WARNING", plan.bootLoaderWarning],
  ];
}

/** The BMC's commands are numbered without a field name: `MF_BMC_<i>`. */
function bmcVars(plan: InstallPlan): Assignment[] {
  const commands = plan.bmc?.commands ?? [];
  return [
    ["MF_BMC_COUNT", commands.length],
    ...commands.map((c, i): Assignment => [`MF_BMC_${i}`, safeCommandLine(c)]),
    ["MF_BMC_CHANNEL", plan.bmc?.channel],
    ["MF_BMC_PASSWORD_USER", plan.bmc?.passwordUserId],
  ];
}

/** The node's scripts (empty: none) and their environment, numbered: `MF_SCRIPT_ENV_<i>_NAME`/`_VALUE`. */
function scriptVars(plan: InstallPlan): Assignment[] {
  const s = plan.scripts;
  return [
    ["MF_SCRIPT_INITIALIZE", s?.initialize],
    ["MF_SCRIPT_FINALIZE", s?.finalize],
    ...numbered("SCRIPT_ENV", s?.env ?? [], (e) => [
      ["NAME", e.name],
      ["VALUE", e.value],
    ]),
  ];
}
