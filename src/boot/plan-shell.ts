// The install plan as the installer's /init reads it: one shell assignment per line,
// every value single-quoted (shell-quote.ts), so sourcing it can only set variables.
// Lists are numbered (`MF_DISK_0_NAME`, `MF_DISK_COUNT`); command lines are plain
// words (safeCommandLine) that the script expands unquoted, appending device paths.
import type { InstallPlan } from "./plan-types.js";
import { safeCommandLine, shQuote } from "./shell-quote.js";

export function renderPlanShell(plan: InstallPlan): string {
  const out: string[] = ["# metalform install plan (shell form); generated, do not edit"];
  const set = (name: string, value: string | number | boolean | undefined) => {
    const v = value === undefined ? "" : typeof value === "boolean" ? (value ? "1" : "0") : String(value);
    out.push(`${name}=${shQuote(v)}`);
  };
  set("MF_PLAN_VERSION", plan.version);
  set("MF_NODE", plan.node);
  set("MF_HOSTNAME", plan.hostname);
  set("MF_PLAN_MAC", plan.mac);
  set("MF_MODE", plan.mode);
  set("MF_PROTECT", plan.protect);
  set("MF_FINGERPRINT", plan.fingerprint);
  set("MF_FINGERPRINT_FILE", plan.fingerprintFile);
  set("MF_IMAGE_NAME", plan.image.name);
  set("MF_IMAGE_DIGEST", plan.image.digest);
  set("MF_RSYNC_URL", plan.image.rsync);

  set("MF_DISK_COUNT", plan.disks.length);
  plan.disks.forEach((d, i) => {
    const p = `MF_DISK_${i}_`;
    set(p + "NAME", d.name);
    set(p + "MATCH_DEVICE", d.match.device);
    set(p + "MATCH_MINSIZE", d.match.minSize);
    set(p + "MATCH_SERIAL", d.match.serial);
    set(p + "MATCH_MODEL", d.match.model);
    set(p + "PARTS", d.partitions.length);
    set(p + "SFDISK", d.sfdisk);
  });

  set("MF_RAID_COUNT", plan.raid.length);
  plan.raid.forEach((r, i) => {
    const p = `MF_RAID_${i}_`;
    set(p + "NAME", r.name);
    set(p + "DEV", r.device);
    set(p + "MEMBERS", safeCommandLine(r.members));
    set(p + "CREATE", safeCommandLine(r.create));
  });

  set("MF_FS_COUNT", plan.filesystems.length);
  plan.filesystems.forEach((f, i) => {
    const p = `MF_FS_${i}_`;
    set(p + "REF", f.device);
    set(p + "TYPE", f.fs);
    set(p + "LABEL", f.label);
    set(p + "MKFS", safeCommandLine(f.mkfs));
    set(p + "FSCK", safeCommandLine(f.fsck));
    set(p + "MOUNT", f.mount);
    set(p + "OPTS", f.options.length ? safeCommandLine([f.options.join(",")]) : "");
  });

  set("MF_EXCLUDE_SYNC", plan.exclude.sync.join("\n"));
  set("MF_EXCLUDE_FULL", plan.exclude.full.join("\n"));
  set("MF_MOUNT_POINTS", plan.mountPoints.join("\n"));

  set("MF_FILE_COUNT", plan.files.length);
  plan.files.forEach((f, i) => {
    const p = `MF_FILE_${i}_`;
    set(p + "PATH", safeCommandLine([f.path]));
    set(p + "MODE", f.mode);
    set(p + "CONTENT", f.content);
    set(p + "STACKS", f.stacks ? safeCommandLine(f.stacks) : "");
    set(p + "DIRMODE", f.dirMode);
  });
  set("MF_LINK_COUNT", plan.symlinks.length);
  plan.symlinks.forEach((l, i) => {
    set(`MF_LINK_${i}_PATH`, safeCommandLine([l.path]));
    set(`MF_LINK_${i}_TARGET`, l.target);
    set(`MF_LINK_${i}_STACKS`, l.stacks ? safeCommandLine(l.stacks) : "");
  });
  set("MF_MACHINE_ID_FILE", safeCommandLine([plan.identity.machineId]));

  set("MF_BMC_COUNT", plan.bmc ? plan.bmc.commands.length : 0);
  plan.bmc?.commands.forEach((c, i) => set(`MF_BMC_${i}`, safeCommandLine(c)));
  set("MF_BMC_PASSWORD_USER", plan.bmc?.passwordUserId);
  return out.join("\n") + "\n";
}
