// The installer's steps (installer-init.sh reports each as {step, status}) and the
// apply phase each belongs to: the one table both sides agree on. The script is
// checked against it by test/boot/installer-steps.test.ts — a step the script reports
// must be here, and every step here must be one the script reports.
import type { Phase } from "../progress/phases.js";

export const INSTALLER_STEPS = {
  modules: "installer",
  network: "installer",
  plan: "installer",
  initialize: "installer",
  disks: "disks",
  mode: "disks",
  partition: "disks",
  assemble: "disks",
  raid: "disks",
  lvm: "disks",
  mkfs: "filesystems",
  fsck: "filesystems",
  mount: "filesystems",
  rsync: "sync",
  configure: "config",
  bootloader: "config",
  bmc: "bmc",
  finalize: "config",
  "switch-root": "switch-root",
} as const satisfies Record<string, Phase>;

export type InstallerStep = keyof typeof INSTALLER_STEPS;

export function isInstallerStep(s: string): s is InstallerStep {
  return Object.hasOwn(INSTALLER_STEPS, s);
}

/** The phase a step belongs to; undefined for a name the installer does not report. */
export function stepPhase(step: string): Phase | undefined {
  return isInstallerStep(step) ? INSTALLER_STEPS[step] : undefined;
}

/** Step names the script reports by name: `step NAME`, `report NAME STATUS`, `report_progress NAME`. */
export function stepsReportedBy(script: string): Array<{ step: string; line: number }> {
  const out: Array<{ step: string; line: number }> = [];
  script.split("\n").forEach((text, i) => {
    const m = /^\s*(?:step|report|report_progress)\s+([A-Za-z][\w-]*)(?:\s|$)/.exec(text);
    if (m) out.push({ step: m[1]!, line: i + 1 });
  });
  return out;
}
