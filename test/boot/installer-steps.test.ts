// The installer's steps: the script (src/boot/installer-init.sh) and the TypeScript
// table (src/boot/installer-steps.ts) name the same steps. Pure: reads the script.
import { describe, expect, it } from "vitest";
import { installerInitScript } from "../../src/boot/installer-init.js";
import { INSTALLER_STEPS, isInstallerStep, stepPhase, stepsReportedBy } from "../../src/boot/installer-steps.js";
import { PHASES } from "../../src/progress/phases.js";

describe("installer steps", () => {
  const reported = stepsReportedBy(installerInitScript());

  it("every step the script reports is in the table", () => {
    const unknown = reported.filter((r) => !isInstallerStep(r.step)).map((r) => `installer-init.sh:${r.line} reports step "${r.step}"`);
    expect(unknown, "add each to INSTALLER_STEPS in src/boot/installer-steps.ts with its phase").toEqual([]);
  });

  it("every step in the table is one the script reports", () => {
    const names = new Set(reported.map((r) => r.step));
    expect(Object.keys(INSTALLER_STEPS).filter((s) => !names.has(s))).toEqual([]);
  });

  it("finds steps reported by name, and a made-up one is not in the table", () => {
    const found = stepsReportedBy(`step disks\n\treport switch-root started "$MF_INIT"\n  report_progress rsync 1 2\nreport "$MF_STEP" failed\nstep wipe-everything\n`);
    expect(found).toEqual([
      { step: "disks", line: 1 },
      { step: "switch-root", line: 2 },
      { step: "rsync", line: 3 },
      { step: "wipe-everything", line: 5 },
    ]);
    expect(isInstallerStep("wipe-everything")).toBe(false);
  });

  it("each step belongs to an apply phase; unknown names to none", () => {
    for (const s of Object.keys(INSTALLER_STEPS)) expect(PHASES).toContain(stepPhase(s));
    expect(stepPhase("rsync")).toBe("sync");
    expect(stepPhase("toString")).toBeUndefined();
  });
});
